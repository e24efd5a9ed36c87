# Shared helpers for the bats suite.
#
# SINGLE_TESTLIB runs the suite against another build of the library
# (an installed copy, the sanitizer build): SINGLE_TESTLIB=/usr/local/lib/libsingle.so
# Every test gets its own lock directory, so tests never meet each other.

TESTS_DIR=$(cd "$BATS_TEST_DIRNAME" && pwd)
ROOT_DIR=$(cd "$TESTS_DIR/.." && pwd)
LIB=${SINGLE_TESTLIB:-$ROOT_DIR/preload/libsingle.so}
BIN=$TESTS_DIR/bin
# A real interpreter, not a pyenv shim (a shim is a bash script).
PYTHON=/usr/bin/python3

common_setup() {
	export SINGLE_DIR="$BATS_TEST_TMPDIR/locks"
	export T="$BATS_TEST_TMPDIR"
	unset SINGLE_KEY SINGLE_WAIT SINGLE_CONFLICT_EXIT SINGLE_VERBOSE \
		SINGLE_ON_ERROR SINGLE_PROGRAMS SINGLE_SCOPE SINGLE_MAX \
		SINGLE_REPLACE SINGLE_EXPLAIN SINGLE_HELD LD_PRELOAD
}

# End every background job the test left running and wait for it, so no
# process outlives its test.
common_teardown() {
	local pids
	pids=$(jobs -p)
	[ -z "$pids" ] || kill $pids 2>/dev/null || true
	wait 2>/dev/null || true
}

# preloaded CMD...: run CMD with the library preloaded
preloaded() {
	LD_PRELOAD=$LIB "$@"
}

# wait_for_file FILE [SECONDS]: until FILE exists (written by the program
# under test); fails after SECONDS (default 10).
wait_for_file() {
	local file=$1 tries=$(( ${2:-10} * 100 ))
	while [ ! -e "$file" ]; do
		tries=$((tries - 1))
		if [ "$tries" -le 0 ]; then
			echo "timed out waiting for $file" >&2
			return 1
		fi
		sleep 0.01
	done
}

# start_holder NAME [ENV=VALUE...] [-- CMD...]: start a preloaded holder in
# the background and wait until its main() has run.  Without CMD the holder
# is tests/bin/holder.  $T/NAME.ready gets its pid; writing to
# $T/release.NAME ends it.
start_holder() {
	local name=$1; shift
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	mkfifo "$T/release.$name"
	if [ $# -eq 0 ]; then
		set -- "$BIN/holder" "$T/$name.ready" "$T/release.$name"
	fi
	env "${envs[@]}" LD_PRELOAD="$LIB" "$@" 3>&- &
	HOLDER_PID=$!
	HOLDER_LOCK=$(holder_lock)
	wait_for_file "$T/$name.ready"
}

# release NAME: let holder NAME end, and wait for it.
release() {
	: >"$T/release.$1"
	rm -f "$T/release.$1"
	wait "${2:-$HOLDER_PID}" 2>/dev/null || true
}

# lock_name PATH [ARG...]: the lock file a program at PATH gets, as the
# README's rule states it: the path without its leading '/', '/' written
# as '-', '-' and other bytes outside [A-Za-z0-9._,:] written %xx.
lock_name() {
	local path=${1#/} out='' c i
	for ((i = 0; i < ${#path}; i++)); do
		c=${path:i:1}
		case $c in
		/) out+=- ;;
		[A-Za-z0-9._,:]) out+=$c ;;
		*) out+=$(printf '%%%02x' "'$c") ;;
		esac
	done
	echo "$SINGLE_DIR/$out.lock"
}

# HOLDER_LOCK: the lock file of tests/bin/holder
holder_lock() {
	lock_name "$BIN/holder"
}

# is_locked FILE: someone holds FILE (checked from outside with flock(1))
is_locked() {
	! flock -n "$1" true
}

# as_user USER CMD...: run CMD as an unprivileged user (the suite runs as root)
as_user() {
	local user=$1; shift
	setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups -- "$@"
}
