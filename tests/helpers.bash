# SPDX-License-Identifier: MIT
# Shared helpers for the bats suite.
#
# SINGLE_TESTLIB runs the suite against another build of the library
# (an installed copy, the sanitizer build): SINGLE_TESTLIB=/usr/local/lib/libsingle.so
# Every test gets its own lock directory, so tests never meet each other.

TESTS_DIR=$(cd "$BATS_TEST_DIRNAME" && pwd)
ROOT_DIR=$(cd "$TESTS_DIR/.." && pwd)
LIB=${SINGLE_TESTLIB:-$ROOT_DIR/preload/libsingle.so}
# SINGLE_TEST_PRELOAD_PREFIX: entries put before the library in LD_PRELOAD
# by try_start and start_holder (make asan-test puts the ASan runtime
# there: it must come first).
PRELOAD=${SINGLE_TEST_PRELOAD_PREFIX:+$SINGLE_TEST_PRELOAD_PREFIX:}$LIB
BIN=$TESTS_DIR/bin
# A real interpreter, not a pyenv shim (a shim is a bash script).
# shellcheck disable=SC2034  # used by the bats files
PYTHON=/usr/bin/python3

common_setup() {
	export SINGLE_DIR="$BATS_TEST_TMPDIR/locks"
	export T="$BATS_TEST_TMPDIR"
	unset SINGLE_KEY SINGLE_WAIT SINGLE_CONFLICT_EXIT SINGLE_VERBOSE \
		SINGLE_ON_ERROR SINGLE_PROGRAMS SINGLE_SCOPE SINGLE_MAX \
		SINGLE_REPLACE SINGLE_EXPLAIN SINGLE_HELD LD_PRELOAD
	TEARDOWN_MOUNTS=() TEARDOWN_PATHS=() TEARDOWN_GROUPS=()
}

# End everything the test started, whether it passed or not, and never
# block doing so (tests/progs/cleanup.c): every FIFO under $T and the
# TEARDOWN_PATHS is let go, so a holder waiting on one ends; what still
# runs of the process groups spawn made and of the processes that name $T
# gets SIGTERM, then SIGKILL.  No `wait`: bash collects its children itself.
common_teardown() {
	local args=() p status=0
	for p in "${TEARDOWN_PATHS[@]}"; do args+=(-f "$p"); done
	for p in "${TEARDOWN_GROUPS[@]}"; do args+=(-g "$p"); done
	"$BIN/cleanup" "${args[@]}" "$T" || status=$?
	# what mount_tmpfs, mount_ro_bind and user_dir made
	for p in "${TEARDOWN_MOUNTS[@]}"; do umount -l "$p" 2>/dev/null; done
	[ ${#TEARDOWN_PATHS[@]} -eq 0 ] || rm -rf "${TEARDOWN_PATHS[@]}"
	return "$status"
}

# ---- time limits: nothing a test starts or waits for can hang it ----------

# BOUND: the seconds a start, a wait or an exit that should come may take
# before the test calls it hung and fails (SINGLE_TEST_BOUND overrides).
# Far below the suite's per-test limit (make test: BATS_TEST_TIMEOUT).
BOUND=${SINGLE_TEST_BOUND:-10}

# bounded CMD...: run CMD (a program, not a function), for `run bounded`
# or a plain call; after BOUND seconds CMD and everything it started get
# SIGTERM (SIGKILL 2 s later) and the status is 124.  timeout(1) leads a
# process group of its own: whatever CMD left running when it ended
# (a background child that holds an output pipe `run` reads) is ended too.
bounded() {
	local pid status=0
	timeout -k 2 "$BOUND" "$@" <&0 &
	pid=$!
	wait "$pid" || status=$?
	kill -- "-$pid" 2>/dev/null || true
	return "$status"
}

# try_start [ENV=VALUE...] CMD...: CMD preloaded, bounded: a start that
# wrongly waits or runs on fails (status 124) instead of hanging the
# suite.  A holder that should end at once: `holder READY /dev/null`.
try_start() {
	preloaded_command "$@" || return 125
	bounded env LD_PRELOAD="$PRELOAD" "$@"
}

# spawn CMD...: start CMD (a program, a function or a subshell) in the
# background as the leader of a new process group, with the pipe bats
# reports through (fd 3) closed.  BG_PID is its pid, and the group's id:
# teardown ends the group, so whatever CMD started ends with it (unless
# it made a group of its own).
spawn() {
	set -m
	"$@" 3>&- &
	BG_PID=$!
	set +m
	TEARDOWN_GROUPS+=("$BG_PID")
}

# ended PID: PID has exited (gone, or a zombie not yet collected)
ended() {
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
	stat=${stat##*) }
	[ "${stat%% *}" = Z ]
}

# deadline VAR SECONDS: VAR is the wall clock (microseconds) SECONDS from
# now; passed END: the wall clock is past END.  The waits below end by
# the clock, not after a count of tries: bats runs a DEBUG trap before
# every command, and a try that reads /proc or runs sed can take tens of
# milliseconds on a loaded machine: "10 s" of tries ran into bats' 60 s.
deadline() {
	printf -v "$1" '%s' "$((${EPOCHREALTIME//[!0-9]/} + $2 * 1000000))"
}
passed() {
	[ "${EPOCHREALTIME//[!0-9]/}" -ge "$1" ]
}

# reap PID [SECONDS]: wait until PID has ended, SECONDS at most (default
# BOUND), and collect it if it is a child of this shell; its exit status
# goes to REAPED (127 for a process that is not a child).  Fails if PID
# still runs, which teardown then ends: `wait PID` could block forever.
reap() {
	local end
	deadline end "${2:-$BOUND}"
	until ended "$1"; do
		if passed "$end"; then
			echo "pid $1 still runs after ${2:-$BOUND} s" >&2
			return 1
		fi
		sleep 0.01
	done
	REAPED=0
	wait "$1" 2>/dev/null || REAPED=$?
}

# wait_until SECONDS CMD...: until CMD succeeds, tried every 10 ms; fails
# after SECONDS.
wait_until() {
	local end
	deadline end "$1"
	shift
	until "$@"; do
		if passed "$end"; then
			echo "timed out waiting until: $*" >&2
			return 1
		fi
		sleep 0.01
	done
}

# in_fifo_open PID: PID is blocked in open() on a FIFO, waiting for the
# other end (the kernel's wait_for_partner).  A reader there is let go by
# the next fifo_close; one that has not come to the FIFO yet is not.
in_fifo_open() {
	[ "$(cat "/proc/$1/wchan" 2>/dev/null)" = wait_for_partner ] ||
		grep -q fifo_open "/proc/$1/stack" 2>/dev/null
}

# fifo_close FIFO: open FIFO for writing and close it again, so the holder
# reading it sees end of file; fails if no reader comes within BOUND
# seconds (opening a FIFO nobody reads would block for ever).
fifo_close() {
	bounded sh -c ': >"$0"' "$1"
}

# wait_for_file FILE [SECONDS]: until FILE exists (written by the program
# under test); fails after SECONDS (default 10).
wait_for_file() {
	local file=$1 end
	deadline end "${2:-10}"
	while [ ! -e "$file" ]; do
		if passed "$end"; then
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
	start_bg "$@"
	HOLDER_PID=$BG_PID
	# shellcheck disable=SC2034  # used by the bats files
	HOLDER_LOCK=$(holder_lock)
	wait_for_file "$T/$1.ready"
}

# start_bg NAME [ENV=VALUE...] [-- CMD...]: start_holder's first half:
# spawn it (BG_PID) and return at once.
start_bg() {
	local name=$1; shift
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	mkfifo "$T/release.$name"
	if [ $# -eq 0 ]; then
		set -- "$BIN/holder" "$T/$name.ready" "$T/release.$name"
	fi
	preloaded_command "$@" || return 1
	spawn env "${envs[@]}" LD_PRELOAD="$PRELOAD" "$@"
}

# release NAME [PID]: let holder NAME (PID, default HOLDER_PID) end, and
# wait for it, whatever its status; fails if it does not open its FIFO or
# does not end within BOUND seconds.
release() {
	fifo_close "$T/release.$1"
	rm -f "$T/release.$1"
	reap "${2:-$HOLDER_PID}"
}

# finish NAME: release holder NAME (HOLDER_PID), whose main() must still
# work and exit 0.
finish() {
	fifo_close "$T/release.$1"
	reap "$HOLDER_PID"
	rm -f "$T/release.$1"
	[ "$REAPED" -eq 0 ]
}

# skipped CMD...: a second, preloaded start of CMD exits 0 at once and
# prints nothing (bounded: one that runs on fails); the caller checks
# that the ready file it names never appears.
skipped() {
	run try_start "$@"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

# lock_name PATH [PART...]: the lock file a program at PATH gets, as the
# README's rule states it: the path without its leading '/', '/' written
# as '-', '-' and other bytes outside [A-Za-z0-9._,:] written %xx (a
# leading '.' too); each PART (an inline flag, its text, an argument in
# command scope) follows a '+', with '-' kept and '/' written %2f there.
# Single-byte characters only; names too long to be hashed are not handled.
lock_name() {
	local path=${1#/} out='' c i part
	shift
	for ((i = 0; i < ${#path}; i++)); do
		c=${path:i:1}
		case $c in
		/) out+=- ;;
		.) [ -n "$out" ] && out+=. || out+=%2e ;;
		[A-Za-z0-9_,:]) out+=$c ;;
		*) out+=$(printf '%%%02x' "'$c") ;;
		esac
	done
	for part; do
		out+=+
		for ((i = 0; i < ${#part}; i++)); do
			c=${part:i:1}
			case $c in
			[A-Za-z0-9._,:-]) out+=$c ;;
			*) out+=$(printf '%%%02x' "'$c") ;;
			esac
		done
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

# lock_is_free FILE: nobody holds FILE (a "! is_locked" would not fail a
# bats test anywhere but in its last line)
lock_is_free() {
	flock -n "$1" true
}

# as_user USER CMD...: run CMD as an unprivileged user (the suite runs as root)
as_user() {
	local user=$1; shift
	setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups -- "$@"
}

# fd_holders FILE: the pids (one a line, sorted) of every process with a
# descriptor open on FILE, read from /proc/PID/fd.  Used to show which
# processes share a lock: a child that holds the lock file open holds the
# lock.
fd_holders() {
	local f
	f=$(readlink -f "$1")
	find /proc/[0-9]*/fd -maxdepth 1 -type l -printf '%p\t%l\n' 2>/dev/null |
		awk -F'\t' -v f="$f" '$2 == f { split($1, p, "/"); print p[3] }' |
		sort -nu
}

# lock_holders FILE: the pids that hold FILE's flock, as the kernel lists it
# in /proc/PID/fdinfo: a process that merely has FILE open (a start about
# to be skipped, a waiter) is not one.
lock_holders() {
	local dev ino
	read -r dev ino < <(stat -c '%d %i' "$1")
	grep -lE "^lock:[[:space:]]+[0-9]+: FLOCK +ADVISORY +WRITE +[0-9-]+ $(printf '%02x:%02x' \
		$(( (dev >> 8 & 0xfff) | (dev >> 32 & ~0xfff) )) \
		$(( (dev & 0xff) | (dev >> 12 & ~0xff) ))):$ino " \
		/proc/[0-9]*/fdinfo/* 2>/dev/null | cut -d/ -f3 | sort -nu
}

# ---- waiting starts, other users, mounts, descriptor limits ---------------

# now_ms: a clock in milliseconds, to bound how long a start took
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# waiting_on FILE PID: PID is blocked in flock(2) waiting for FILE, as the
# kernel lists waiters in /proc/locks ("N: -> FLOCK ... PID MAJ:MIN:INODE",
# with more blanks before "->" for later waiters).
# A start with a finite SINGLE_WAIT blocks through a child of its own
# (libsingle(7), "Waiting"): that child's line counts as PID's.
waiting_on() {
	local ino p
	ino=$(stat -c %i "$1" 2>/dev/null) || return 1
	for p in $(sed -nE "s/^[0-9]+:( +->)+ +FLOCK +ADVISORY +WRITE +([0-9]+) +[0-9a-f]+:[0-9a-f]+:$ino .*/\2/p" /proc/locks); do
		[ "$p" = "$2" ] && return 0
		[ "$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null)" = "$2" ] && return 0
	done
	return 1
}

# start_waiter NAME LOCKFILE [ENV=VALUE...] [-- CMD...]: start like
# start_holder (pass a SINGLE_WAIT), but return once the start is blocked
# waiting for LOCKFILE; WAITER_PID is its pid.  Fails if it ends, its main
# runs, or it does not wait within BOUND seconds.
start_waiter() {
	local name=$1 lock=$2
	shift 2
	needs_native_m32 "the clone(CLONE_VM) child through which a finite wait blocks, which the test looks for in /proc/locks"
	start_bg "$name" "$@"
	WAITER_PID=$BG_PID
	waits_for "$name" "$lock"
}

# waits_for NAME LOCKFILE: until WAITER_PID, start NAME, is blocked
# waiting for LOCKFILE; fails if it ends, its main runs ($T/NAME.ready
# appears), or it does not wait within BOUND seconds.
waits_for() {
	local name=$1 lock=$2 end
	deadline end "$BOUND"
	until waiting_on "$lock" "$WAITER_PID"; do
		if passed "$end" || [ -e "$T/$name.ready" ] ||
			ended "$WAITER_PID"; then
			echo "start $name never waited for $lock" >&2
			return 1
		fi
		sleep 0.01
	done
}

# user_dir USER: USER_DIR is a new directory under /tmp owned by USER,
# mode 0755 (the bats temp dir is closed to other users); removed at
# teardown.
user_dir() {
	USER_DIR=$(mktemp -d /tmp/libsingle-test.XXXXXX) || return 1
	TEARDOWN_PATHS+=("$USER_DIR")
	chmod 755 "$USER_DIR" && chown "$1:" "$USER_DIR"
}

# mount_tmpfs DIR OPTIONS: mount a tmpfs on DIR (root only); unmounted at
# teardown.
mount_tmpfs() {
	mkdir -p "$1" && mount -t tmpfs -o "$2" libsingle-test "$1" &&
		TEARDOWN_MOUNTS+=("$1")
}

# mount_ro_bind SRC DIR: a read-only view of SRC on DIR (root only);
# unmounted at teardown.
mount_ro_bind() {
	mkdir -p "$2" && mount --bind "$1" "$2" && TEARDOWN_MOUNTS+=("$2") &&
		mount -o remount,bind,ro "$2"
}

# with_fd_limit N CMD...: run CMD (a program: a shell function would not
# have the descriptors it needs) with only descriptors 0-2 open (bats
# keeps others open) and a soft RLIMIT_NOFILE of N.
with_fd_limit() {
	local n=$1 fd
	shift
	(
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			[ "$fd" -le 2 ] || eval "exec $fd>&-"
		done
		ulimit -S -n "$n" && exec "$@"
	)
}

# record_pid LOCKFILE: the pid in a lock file's holder record (its first
# line; libsingle(7), "The holder record")
record_pid() {
	head -n 1 "$1"
}

# on_host_b CMD...: run CMD as if on a second host that shares this one's
# lock directory: a UTS namespace with the host name "hostb", a PID
# namespace with its own /proc, and a boot id of its own bind-mounted
# over /proc/sys/kernel/random/boot_id.  Bounded like try_start; its
# processes die with it.  (Root only.)
on_host_b() {
	bounded "$TESTS_DIR/hostb.sh" "$(host_b_boot_id)" "$@"
}

# spawn_on_host_b CMD...: on_host_b CMD through spawn, unbounded (a holder
# on host B; BG_PID is its unshare).  CMD is PID 1 of its namespace and,
# like unshare, ignores SIGTERM: teardown's SIGKILL ends them.
spawn_on_host_b() {
	spawn "$TESTS_DIR/hostb.sh" "$(host_b_boot_id)" "$@"
}

# host_b_boot_id: the file with host B's boot id, made on first use
host_b_boot_id() {
	[ -s "$T/boot_id.b" ] || cat /proc/sys/kernel/random/uuid >"$T/boot_id.b"
	echo "$T/boot_id.b"
}

# ---- starts that fork -------------------------------------------------------

# wait_for_file_while FILE PID [SECONDS]: wait_for_file, but fail at once
# when PID (the start that should write FILE) has ended without writing
# it; SECONDS defaults to BOUND.
wait_for_file_while() {
	local file=$1 pid=$2 end
	deadline end "${3:-$BOUND}"
	until [ -e "$file" ]; do
		if passed "$end" || ended "$pid"; then
			[ -e "$file" ] && return 0
			echo "$file never appeared (pid $pid ended, or ${3:-$BOUND} s passed)" >&2
			return 1
		fi
		sleep 0.01
	done
}

# start_running NAME [ENV=VALUE...] [-- CMD...]: start_holder, but fail at
# once when the start ends before its main has run (a refused start), not
# after wait_for_file's 10 s.
start_running() {
	start_bg "$@"
	HOLDER_PID=$BG_PID
	# shellcheck disable=SC2034  # used by the bats files
	HOLDER_LOCK=$(holder_lock)
	wait_for_file_while "$T/$1.ready" "$HOLDER_PID"
}

# ---- other builds: make test-musl, make test-m32 ---------------------------

# The suite against another build of the library, single and the test
# programs (make test-musl and test-m32 set these with SINGLE_TESTLIB):
# SINGLE_TESTBIN holds its test programs, SINGLE_TESTCMD is its single,
# and SINGLE_TEST_VARIANT names it (musl, m32).
BIN=${SINGLE_TESTBIN:-$BIN}

# SINGLE_CMD: single of the build under test
SINGLE_CMD=${SINGLE_TESTCMD:-$ROOT_DIR/build/single}

# single_cmd ARGS...: that single, with the library under test, bounded
single_cmd() {
	bounded env SINGLE_LIB="$LIB" LD_PRELOAD="${SINGLE_TEST_PRELOAD_PREFIX:-}" \
		"$SINGLE_CMD" "$@"
}

# mk TARGET VAR=VALUE...: make in the source tree, apart from any make
# that runs the suite
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT_DIR" "$@"
}

# needs_system_programs WHAT: skip the test in a build whose library the
# system's programs cannot load, when it runs WHAT (bash, coreutils,
# python...) under the library.
needs_system_programs() {
	case ${SINGLE_TEST_VARIANT:-} in
	musl) skip "runs $1 under the library: a glibc program cannot load a musl library" ;;
	m32) skip "runs $1 under the library: a 64-bit program cannot load a 32-bit library" ;;
	esac
}

# needs_no_sanitizer REASON: skip under make asan-test, saying REASON
# (what the sanitizer runtime preloaded before the library cannot do).
needs_no_sanitizer() {
	[ -z "${SINGLE_TEST_PRELOAD_PREFIX:-}" ] || skip "$1"
}

# needs_glibc REASON: skip under musl, saying REASON (what the test
# needs of glibc that musl does not have).
needs_glibc() {
	[ "${SINGLE_TEST_VARIANT:-}" != musl ] || skip "$1"
}

# needs_glibc_function NAME: skip under musl, which has no NAME(): the
# test is of what the library's own NAME() does, which a musl program
# cannot call (it makes the system call through syscall(), which
# tests/progs/musl.h does for the tests that run there).
needs_glibc_function() {
	needs_glibc "musl has no $1(): the test is of the library's $1(), which a musl program cannot call"
}

# needs_preinit_array: skip under musl, whose loader runs no
# .preinit_array: nothing of a program runs before the library's
# constructor there, which is what the test sets up.
needs_preinit_array() {
	needs_glibc "musl runs no .preinit_array: nothing of the program runs before the library's constructor"
}

# needs_native_m32 WHAT: skip in the 32-bit build where this machine runs
# 32-bit programs through qemu-user (binfmt_misc; .ci/run registers it on
# a kernel without IA-32 emulation): qemu does not do WHAT as the kernel
# would, and the test would try qemu, not the library.
needs_native_m32() {
	[ "${SINGLE_TEST_VARIANT:-}" = m32 ] || return 0
	[ "$(head -n 1 /proc/sys/fs/binfmt_misc/qemu-i386 2>/dev/null)" != enabled ] ||
		skip "32-bit programs run through qemu-user here, which does not do $1 as the kernel would"
}

# main_build_only: skip in another build: the test makes and tries the
# main build itself (make, make install), which make test covers.
main_build_only() {
	[ -z "${SINGLE_TEST_VARIANT:-}" ] ||
		skip "makes and tries the main build, which make test covers"
}

# loads_library CMD: can the program CMD (a path, or a name PATH finds)
# load the library under test?  A dynamically linked program of another C
# library or word size cannot, nor can the interpreter of a script; a
# static program never loads it anyway.  try_start and start_bg refuse a
# CMD that cannot, so that a test missing needs_system_programs says so
# instead of failing some other way.
loads_library() {
	local prog magic interp
	[ -n "${SINGLE_TEST_VARIANT:-}" ] || return 0
	prog=$(command -v -- "$1") && [ -f "$prog" ] && [ -r "$prog" ] || return 0
	magic=$(od -An -tx1 -N5 -- "$prog" | tr -d ' \n')
	case $magic in
	2321*) return 1 ;;      # "#!": the interpreter is a system program
	7f454c46*) ;;           # ELF
	*) return 0 ;;
	esac
	interp=$(readelf -lW -- "$prog" 2>/dev/null | sed -n 's/.*program interpreter: \(.*\)\]$/\1/p')
	[ -n "$interp" ] || return 0    # static (or a loader): loads no library
	case $SINGLE_TEST_VARIANT in
	musl) [[ $interp == */ld-musl-* ]] ;;
	m32) [ "${magic:8:2}" = 01 ] ;;
	esac
}

# preloaded_command ARGS...: the command of try_start's or start_bg's
# ARGS (what follows the ENV=VALUE words); fails, saying why, when it
# cannot load the library under test.
preloaded_command() {
	while [ $# -gt 0 ] && [[ $1 == *=* ]]; do shift; done
	[ $# -eq 0 ] || loads_library "$1" || {
		echo "$1 cannot load the $SINGLE_TEST_VARIANT library: the test needs needs_system_programs" >&2
		return 1
	}
}

# libc_message NAME: the C library's message for the error NAME (EMFILE,
# ENOENT...), which the library's messages end in: the C library of the
# build under test words some differently.
libc_message() {
	"$BIN/strerror" "$1"
}
