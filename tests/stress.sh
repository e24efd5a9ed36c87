#!/bin/bash
# SPDX-License-Identifier: MIT
# stress.sh [ROUNDS [N [CYCLES]]]: the lock under load (issue #3).
#
# Race: in each of ROUNDS rounds (default 20), N starts (default 200) of
# tests/bin/holder wait on one FIFO and are let go together when it
# reaches end of file; exactly one of them may run its main() (each main
# records its pid), the others must be skipped (exit status
# SINGLE_CONFLICT_EXIT, set to 3 here).
#
# Cycles: CYCLES starts (default 10000) against one holder, each skipped;
# afterwards the holder still holds the lock with as many descriptors as
# before, and no process started here is left.
#
# With HOSTS=2 every other start of the race runs on a simulated second
# host (tests/hostb.sh: its own host name, PID namespace, /proc and boot
# id, the same lock directory), as starts from two machines sharing an
# NFS directory would.
#
# Exec: EXEC_TRIES times (default 20000, but only when stress.sh runs
# with no arguments, as make stress runs it: tests/exec.bats has the
# short form), the holder execs while its other threads dup2 onto, close
# and close_range the lock's numbers (tests/bin/execrace); the new image
# must hold the lock every time.
#
# The values can also come from the environment (ROUNDS=, N=, CYCLES=,
# HOSTS=, EXEC_TRIES=).
# A broken library makes it fail, never hang: every wait has a time limit,
# and what a phase started and left running is ended (SIGKILL at last: a
# start on host B is PID 1 of its namespace and, like its unshare,
# ignores SIGTERM).
# SINGLE_TESTLIB runs it against another build of the library,
# SINGLE_TEST_PRELOAD_PREFIX puts entries before it in LD_PRELOAD.  Prints
# one line per phase and exits 1 if anything was wrong.
set -euo pipefail

ROUNDS=${1:-${ROUNDS:-20}}
N=${2:-${N:-200}}
CYCLES=${3:-${CYCLES:-10000}}
HOSTS=${HOSTS:-1}
if [ $# -eq 0 ]; then
	EXEC_TRIES=${EXEC_TRIES:-20000}
else
	EXEC_TRIES=${EXEC_TRIES:-0}
fi

root=$(cd "$(dirname "$0")/.." && pwd)
LIB=${SINGLE_TESTLIB:-$root/preload/libsingle.so}
# as in tests/helpers.bash: entries to put before the library (ASan runtime)
PRELOAD=${SINGLE_TEST_PRELOAD_PREFIX:+$SINGLE_TEST_PRELOAD_PREFIX:}$LIB
BIN=${SINGLE_TESTBIN:-$root/tests/bin}
for f in "$LIB" "$BIN/holder" "$BIN/execrace" "$BIN/cleanup"; do
	[ -e "$f" ] || { echo "stress: $f missing (run make first)" >&2; exit 2; }
done

unset SINGLE_KEY SINGLE_WAIT SINGLE_VERBOSE SINGLE_ON_ERROR SINGLE_PROGRAMS \
	SINGLE_SCOPE SINGLE_MAX SINGLE_REPLACE SINGLE_EXPLAIN SINGLE_HELD LD_PRELOAD
work=$(mktemp -d "${TMPDIR:-/tmp}/libsingle-stress.XXXXXX")
export SINGLE_DIR=$work/locks SINGLE_CONFLICT_EXIT=3
failures=0
cat /proc/sys/kernel/random/uuid >"$work/boot_id.b"

# end what is left, without waiting for it: the jobs that have not yet
# exec'd a start, then (tests/bin/cleanup) every process that names $work
# in its arguments, whose FIFOs it lets go first
cleanup() {
	local pids
	pids=$(jobs -p)
	# shellcheck disable=SC2086 # one pid a word
	[ -z "$pids" ] || kill $pids 2>/dev/null || true
	"$BIN/cleanup" "$work" || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# is_free: the holder's lock file (the only one in SINGLE_DIR) is not
# locked, checked with flock(1)
is_free() {
	local locks=("$SINGLE_DIR"/*.lock)
	if [ ${#locks[@]} -ne 1 ] || [ ! -e "${locks[0]}" ]; then
		echo "stress: expected one lock file in $SINGLE_DIR: ${locks[*]}" >&2
		return 2
	fi
	flock -n "${locks[0]}" true
}

fail() {
	echo "stress: FAIL: $*" >&2
	failures=$((failures + 1))
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# running PID: PID has not ended (a zombie has)
running() {
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

count() { # count GLOB...: how many of the files exist
	local n=0 f
	for f; do [ -e "$f" ] && n=$((n + 1)); done
	echo "$n"
}

# now_us: the wall clock in microseconds, without a process
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }

# until_true SECONDS CMD...: run CMD every 10 ms until it succeeds;
# fails after SECONDS (by the clock: a try over 200 pids takes a while)
until_true() {
	local end=$(($(now_us) + $1 * 1000000))
	shift
	until "$@"; do
		[ "$(now_us)" -lt "$end" ] || return 1
		sleep 0.01
	done
}

# ---- race ---------------------------------------------------------------

all_armed() { [ "$(count "$dir"/armed/*)" -ge "$N" ]; }

# every process still running has run its main: the others are gone
settled() {
	local alive=0 p
	for p in "${pids[@]}"; do
		running "$p" && alive=$((alive + 1))
	done
	[ "$alive" -eq "$(count "$dir"/ran/*)" ]
}

# let_go FIFO PID...: let every one go (they wait to open FIFO for
# reading, or read it), 60 s at most; fails if one still runs then
let_go() {
	local fifo=$1 p end=$(($(now_us) + 60000000))
	shift
	for p; do
		while running "$p"; do
			[ "$(now_us)" -lt "$end" ] || return 1
			exec 8<>"$fifo"
			exec 8>&-
			sleep 0.01
		done
	done
}

race_round() {
	local round=$1 i ran st status_ok=0 status_skip=0 status_other=0
	dir=$work/round.$round
	pids=()
	mkdir -p "$dir/armed" "$dir/ran"
	mkfifo "$dir/go" "$dir/release"
	# the FIFO's only writer: its end of file lets every start go at once
	exec 9<>"$dir/go"
	for ((i = 0; i < N; i++)); do
		(
			exec <"$dir/go"
			: >"$dir/armed/$BASHPID"
			read -r _ || true
			host=()
			[ "$HOSTS" -lt 2 ] || [ $((i % 2)) -eq 0 ] ||
				host=("$root/tests/hostb.sh" "$work/boot_id.b")
			exec "${host[@]}" env LD_PRELOAD="$PRELOAD" "$BIN/holder" \
				"$dir/ran/$BASHPID" "$dir/release"
		) 9>&- 2>>"$work/race.err" &
		pids+=($!)
	done
	until_true 60 all_armed || fail "round $round: not all $N starts got ready"
	exec 9>&-
	until_true 60 settled || fail "round $round: starts neither ran nor ended"
	ran=$(count "$dir"/ran/*)
	[ "$ran" -eq 1 ] || fail "round $round: $ran of $N starts ran their main()"
	if ! let_go "$dir/release" "${pids[@]}"; then
		fail "round $round: starts still ran 60 s after their release"
		# (unshare's child, on host B, dies with it: --kill-child)
		kill -KILL "${pids[@]}" 2>/dev/null || true
	fi
	for i in "${pids[@]}"; do
		st=0
		wait "$i" || st=$?
		case $st in
		0) status_ok=$((status_ok + 1)) ;;
		3) status_skip=$((status_skip + 1)) ;;
		*) status_other=$((status_other + 1)) ;;
		esac
	done
	if [ "$status_ok" -ne 1 ] || [ "$status_skip" -ne $((N - 1)) ]; then
		fail "round $round: exit statuses: $status_ok ran, $status_skip skipped, $status_other other (stderr: $(head -c 500 "$work/race.err"))"
	fi
	is_free || fail "round $round: the lock is still held after every start ended"
	rm -rf "$dir"
}

start=$(now)
before=$failures
for ((r = 1; r <= ROUNDS; r++)); do
	race_round "$r"
done
echo "race: $ROUNDS rounds of $N simultaneous starts$([ "$HOSTS" -lt 2 ] || echo " from $HOSTS hosts"), $((failures - before)) failures, $(since "$start")s"

# ---- start/skip cycles against one holder --------------------------------

fdcount() { local fds=(/proc/"$1"/fd/*); echo "${#fds[@]}"; }

start=$(now)
before=$failures
# cycle_starts: the CYCLES starts, one after the other; the number
# skipped, then the "cycle:status" of the first 20 that were not, into
# $work/cycles.out
cycle_starts() {
	local i st skipped=0 others=()
	for ((i = 0; i < CYCLES; i++)); do
		st=0
		# a start that wrongly runs main() writes skip.ready and ends (no FIFO)
		LD_PRELOAD=$PRELOAD "$BIN/holder" "$work/skip.ready" "$work/nofifo" 2>>"$work/cycles.err" || st=$?
		if [ "$st" -eq 3 ]; then
			skipped=$((skipped + 1))
		else
			others+=("$i:$st")
		fi
	done
	echo "$skipped ${others[*]:0:20}" >"$work/cycles.tmp"
	mv "$work/cycles.tmp" "$work/cycles.out"
}

mkfifo "$work/release"
LD_PRELOAD=$PRELOAD "$BIN/holder" "$work/holder.ready" "$work/release" &
holder=$!
until_true 10 test -e "$work/holder.ready" || fail "the holder never got ready"
fds_before=$(fdcount "$holder")
# in the background, with a time limit for them all (none per start): a
# start that blocks fails the phase instead of hanging it
cycle_starts &
cycler=$!
limit=$((60 + CYCLES / 20))
skipped=0 not_skipped=''
if until_true "$limit" test -e "$work/cycles.out"; then
	read -r skipped not_skipped <"$work/cycles.out"
	wait "$cycler"
else
	fail "cycles: the starts were not done after $limit s"
	# the start it waits for names $work: cleanup ends it
	kill "$cycler" 2>/dev/null || true
fi
[ "$skipped" -eq "$CYCLES" ] ||
	fail "cycles: only $skipped of $CYCLES starts were skipped (cycle:status $not_skipped; stderr: $(head -c 500 "$work/cycles.err"))"
[ ! -e "$work/skip.ready" ] || fail "cycles: a start ran its main() while the holder ran"
fds_after=$(fdcount "$holder")
[ "$fds_before" = "$fds_after" ] ||
	fail "cycles: the holder had $fds_before descriptors, now $fds_after"
st=0
is_free || st=$?
[ "$st" -eq 1 ] || fail "cycles: the holder lost its lock"
st=0
if let_go "$work/release" "$holder"; then
	wait "$holder" || st=$?
	[ "$st" -eq 0 ] || fail "cycles: the holder ended with status $st"
else
	fail "cycles: the holder still ran 60 s after its release"
fi
is_free || fail "cycles: the lock is still held after the holder ended"

# no process started here is left: every one had $work in its arguments
strays=()
for f in /proc/[0-9]*/cmdline; do
	args=()
	mapfile -d '' args 2>/dev/null <"$f" || continue
	[[ "${args[*]}" == *"$work"* ]] && strays+=("${f//[!0-9]/}")
done
[ ${#strays[@]} -eq 0 ] || fail "processes left: ${strays[*]}"
[ -z "$(jobs -p)" ] || fail "background jobs left: $(jobs -p | tr '\n' ' ')"
echo "cycles: $CYCLES starts against one holder, $skipped skipped, holder descriptors $fds_before -> $fds_after, $((failures - before)) failures, $(since "$start")s"

# ---- the holder's exec while its threads move the lock about ------------

if [ "$EXEC_TRIES" -gt 0 ]; then
	start=$(now)
	before=$failures
	st=0
	# about 1 ms a try on an idle machine, 25 ms on a loaded one; a try
	# that hangs ends the phase by the clock
	out=$(timeout -s KILL $((120 + EXEC_TRIES / 20)) "$BIN/execrace" "$EXEC_TRIES" "$PRELOAD" "$work/execlocks") || st=$?
	[ "$st" -eq 0 ] || fail "exec: status $st: $out"
	echo "exec: $out, $(since "$start")s"
fi

[ "$failures" -eq 0 ]
