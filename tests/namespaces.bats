#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# A /proc the library cannot trust: one that belongs to another PID
# namespace (issue #9.10), or none at all (#10.2).  Pids read there mean
# nothing to the caller, so nothing is signalled and no ancestor is
# believed; a start that needs no pid still works, keyed as always.
#
# `unshare --pid --fork` without --mount-proc leaves the parent's /proc in
# place: a process in the new namespace reads the holder's pid there, but
# the same number names another process (or none) in its own namespace.
# The tests mount the namespace's own proc elsewhere ($T/nsproc) only to
# set ns_last_pid, so that a decoy gets exactly that number.
#
# The last tests (#9.10 too) run in a namespace with its own /proc, where
# the holder can be verified, and race SINGLE_REPLACE against a holder
# whose pid is reused before it is signalled.

load helpers

setup() {
	common_setup
	command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
	[ "$(id -u)" -eq 0 ] || skip "namespaces and mounts need root"
}
teardown() { common_teardown; }

# in_pid_ns TEXT [ARG...]: bash -c TEXT as PID 1 of a new PID namespace
# that still sees this namespace's /proc; $T/nsproc is the new
# namespace's own proc.  TEXT gets T, BIN, PRELOAD and BOUND, for a
# start in it to run under `timeout -k 2 "$BOUND"`.  Bounded to twice
# BOUND: the whole namespace dies with unshare (--kill-child).
in_pid_ns() {
	local inner=$BOUND
	mkdir -p "$T/nsproc"
	BOUND=$((2 * inner)) bounded env T="$T" BIN="$BIN" PRELOAD="$PRELOAD" BOUND="$inner" \
		unshare --pid --fork --kill-child --mount-proc="$T/nsproc" bash -c "$1" bash "${@:2}"
}

# The start of a namespace script: a decoy (tests/bin/holder, released by
# opening $T/release.decoy for writing: release_decoy) whose pid in the
# namespace is $1, the pid of the holder outside.
DECOY='
set -u
echo $(($1 - 1)) >"$T/nsproc/sys/kernel/ns_last_pid"
"$BIN/holder" "$T/decoy.ready" "$T/release.decoy" &
decoy=$!
[ "$decoy" = "$1" ] || { echo "the decoy got pid $decoy, not $1"; exit 1; }
tries=$((BOUND * 100))
until [ -e "$T/decoy.ready" ]; do
	tries=$((tries - 1))
	[ "$tries" -gt 0 ] || { echo "the decoy never got ready"; exit 1; }
	sleep 0.01
done
# (a blocking open: the decoy may not have opened its end yet)
release_decoy() { timeout -k 2 "$BOUND" sh -c ": >\"\$0\"" "$T/release.decoy"; }
'

@test "in a PID namespace that sees its parent's /proc, SINGLE_REPLACE signals nobody: status 69, one line saying why" {
	in_pid_ns true || skip "cannot make a PID namespace here"
	start_holder first
	mkfifo "$T/release.decoy"
	run in_pid_ns "$DECOY"'
		timeout -k 2 "$BOUND" env LD_PRELOAD="$PRELOAD" SINGLE_REPLACE=2 \
			"$BIN/holder" "$T/r.ready" /dev/null 2>"$T/replace.err"
		echo "replace $?"
		release_decoy
		wait "$decoy"
		echo "decoy $?"' "$HOLDER_PID"
	echo "status $status: $output" >&2
	cat "$T/replace.err" >&2
	[ "$status" -eq 0 ]
	# the decoy, which has the holder's number in the namespace, lived on
	[ "$output" = $'replace 69\ndecoy 0' ]
	[ "$(cat "$T/replace.err")" = "libsingle: cannot replace holder: /proc is not mounted for this PID namespace, so its holder cannot be verified" ]
	[ ! -e "$T/r.ready" ]
	# and the holder outside was not touched either
	[ "$(lock_holders "$HOLDER_LOCK")" = "$HOLDER_PID" ]
	finish first
}

@test "in a PID namespace that sees its parent's /proc, a start whose parent has the holder's pid is skipped (no ancestor is believed)" {
	in_pid_ns true || skip "cannot make a PID namespace here"
	start_holder first
	# the start's parent, timeout, gets the holder's number in the namespace
	run in_pid_ns '
		set -u
		echo $(($1 - 1)) >"$T/nsproc/sys/kernel/ns_last_pid"
		timeout -k 2 "$BOUND" env LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/a.ready" /dev/null &
		parent=$!
		[ "$parent" = "$1" ] || { echo "the parent got pid $parent, not $1"; exit 1; }
		wait "$parent"
		echo "start $?"' "$HOLDER_PID"
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "start 0" ]
	[ ! -e "$T/a.ready" ]
	[ "$(lock_holders "$HOLDER_LOCK")" = "$HOLDER_PID" ]
	finish first
}

# "${NOPROC[@]}" CMD...: CMD in a mount namespace of its own with /proc
# unmounted (the same process: unshare and sh exec)
NOPROC=(unshare -m sh -c 'umount -l /proc && exec "$@"' sh)

@test "without /proc, a start with SINGLE_KEY runs and holds the lock, and a second is skipped" {
	needs_no_sanitizer "the sanitizer runtime needs /proc: without it, it warns on stderr and its exit-time checks fail"
	local pid
	"${NOPROC[@]}" true || skip "cannot unmount /proc in a mount namespace here"
	mkfifo "$T/release.first"
	spawn "${NOPROC[@]}" env LD_PRELOAD="$PRELOAD" SINGLE_KEY=job "$BIN/holder" "$T/first.ready" "$T/release.first"
	pid=$BG_PID
	wait_for_file_while "$T/first.ready" "$pid"
	[ "$(cat "$T/first.ready")" = "$pid" ]
	# seen from outside, where /proc is
	[ "$(lock_holders "$SINGLE_DIR/@job.lock")" = "$pid" ]
	run bounded "${NOPROC[@]}" env LD_PRELOAD="$PRELOAD" SINGLE_KEY=job "$BIN/holder" "$T/second.ready" /dev/null
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/second.ready" ]
	release first "$pid"
	lock_is_free "$SINGLE_DIR/@job.lock"
}

@test "without /proc, a program is keyed as with it (from AT_EXECFN): the same lock file, which excludes a start that has /proc" {
	needs_no_sanitizer "the sanitizer runtime needs /proc: without it, it warns on stderr and its exit-time checks fail"
	local pid
	"${NOPROC[@]}" true || skip "cannot unmount /proc in a mount namespace here"
	mkfifo "$T/release.first"
	spawn "${NOPROC[@]}" env LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/first.ready" "$T/release.first"
	pid=$BG_PID
	wait_for_file_while "$T/first.ready" "$pid"
	[ "$(lock_holders "$(holder_lock)")" = "$pid" ]
	run try_start "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/second.ready" ]
	release first "$pid"
	# and the other way round
	start_running outside
	run bounded "${NOPROC[@]}" env LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/third.ready" /dev/null
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/third.ready" ]
	release outside
}

@test "without /proc, SINGLE_REPLACE refuses: status 69, one line saying /proc is not mounted; the holder is untouched" {
	needs_no_sanitizer "the sanitizer runtime needs /proc: without it, it warns on stderr and its exit-time checks fail"
	"${NOPROC[@]}" true || skip "cannot unmount /proc in a mount namespace here"
	start_holder first SINGLE_KEY=job
	run bounded "${NOPROC[@]}" env LD_PRELOAD="$PRELOAD" SINGLE_KEY=job SINGLE_REPLACE=2 \
		"$BIN/holder" "$T/r.ready" /dev/null
	echo "status $status: $output" >&2
	[ "$status" -eq 69 ]
	[ "$output" = "libsingle: cannot replace job: /proc is not mounted for this PID namespace, so its holder cannot be verified" ]
	[ ! -e "$T/r.ready" ]
	[ "$(lock_holders "$SINGLE_DIR/@job.lock")" = "$HOLDER_PID" ]
	finish first
}

@test "without /proc, SINGLE_EXPLAIN exits 0 and gives the state it can: held by an unknown pid, or free" {
	needs_no_sanitizer "the sanitizer runtime needs /proc: without it, it warns on stderr and its exit-time checks fail"
	"${NOPROC[@]}" true || skip "cannot unmount /proc in a mount namespace here"
	start_holder first SINGLE_KEY=job
	run bounded "${NOPROC[@]}" env LD_PRELOAD="$PRELOAD" SINGLE_KEY=job SINGLE_EXPLAIN=1 \
		"$BIN/holder" "$T/r.ready" /dev/null
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "key: job (SINGLE_KEY)" ]
	[ "${lines[1]}" = "lock: $SINGLE_DIR/@job.lock" ]
	[ "${lines[2]}" = "state: held by an unknown pid" ]
	run bounded "${NOPROC[@]}" env LD_PRELOAD="$PRELOAD" SINGLE_EXPLAIN=1 "$BIN/holder" "$T/r.ready" /dev/null
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "key: $BIN/holder" ]
	[ "${lines[1]}" = "lock: $(holder_lock)" ]
	[[ ${lines[2]} == "state: free"* ]]
	[ ! -e "$T/r.ready" ]
	finish first
}

# ---- #9.10: a holder's pid reused between finding it and signalling it ----
#
# SINGLE_REPLACE finds the holder's pid in /proc, and signals it.  A holder
# that exits in between may have its pid taken by an unrelated process,
# which a plain kill(pid, SIGTERM) then ends.  The library opens a pidfd
# before it verifies the holder and signals through it, so a reused pid is
# never signalled.  To make the race happen every time, strace holds the
# replacing start for DELAY microseconds on entry to a system call in the
# window (a kill, a pidfd_open or a pidfd_send_signal, whichever the build
# makes); meanwhile the test ends the holder and, in a PID namespace of its
# own (so ns_last_pid can be set without a race with the rest of the
# machine), starts an innocent process with the holder's pid.  The innocent
# process is tests/bin/holder without the library: SIGTERM ends it with
# status 143, where its release gives 0.

# The microseconds strace holds the replacing start: far more than the
# test needs to end the holder and start the innocent process (tens of
# milliseconds); a test that needs more fails, saying so, instead of
# passing without a race.  The fixed 64-bit build pays it twice: the first
# kill it makes is the SIGKILL to the child it waits through
# (libsingle(7), "Waiting"), once it has the lock.
REUSE_DELAY=1000000

# in_own_pid_ns TEXT [ARG...]: bash -c TEXT as PID 1 of a new PID
# namespace with its own /proc mounted on /proc (a mount namespace of its
# own), so that the library can verify a holder there.  TEXT gets T, BIN,
# PRELOAD and BOUND, and the helpers deadline, passed, ended, reap,
# wait_until and wait_for_file.  Bounded to three times BOUND: the whole
# namespace dies with unshare (--kill-child).
in_own_pid_ns() {
	local inner=$BOUND
	BOUND=$((3 * inner)) bounded env T="$T" BIN="$BIN" PRELOAD="$PRELOAD" BOUND="$inner" \
		unshare --pid --fork --kill-child --mount-proc bash -c \
		"$(declare -f deadline passed ended reap wait_until wait_for_file)
		$1" bash "${@:2}"
}

# The namespace's script: $1 the system calls strace traces and delays
# (the first of each, by $2 microseconds).  Prints "replace STATUS" and
# "innocent STATUS"; exits 1 with one line saying why when the race could
# not be set up.
REUSE='
set -u
fail() { echo "$*"; exit 1; }
release() { timeout -k 2 "$BOUND" sh -c ": >\"\$0\"" "$1"; }
mkfifo "$T/release.holder" "$T/release.innocent"
LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/holder.ready" "$T/release.holder" &
holder=$!
wait_for_file "$T/holder.ready" "$BOUND" || fail "the holder never got ready"
timeout -k 2 "$BOUND" strace -f -qq -o "$T/strace.log" -e trace="$1" \
	-e inject="$1":delay_enter="$2":when=1 \
	env LD_PRELOAD="$PRELOAD" SINGLE_REPLACE=5 "$BIN/holder" "$T/replace.ready" /dev/null \
	2>"$T/replace.err" &
replacer=$!
# strace writes the call when the delay begins, its result when it ends
wait_until "$BOUND" grep -sqE "^[0-9]+ +(kill\($holder, SIGTERM|pidfd_open\($holder,|pidfd_send_signal\()" "$T/strace.log" ||
	fail "the replacing start never came to signal the holder"
release "$T/release.holder" || fail "the holder never opened its FIFO"
reap "$holder" || fail "the holder did not end"
echo $((holder - 1)) >/proc/sys/kernel/ns_last_pid
"$BIN/holder" "$T/innocent.ready" "$T/release.innocent" &
innocent=$!
[ "$innocent" = "$holder" ] || fail "the innocent process got pid $innocent, not $holder"
wait_for_file "$T/innocent.ready" "$BOUND" || fail "the innocent process never got ready"
! grep -q DELAYED "$T/strace.log" ||
	fail "the delay ran out before the pid was reused: no race was made"
reap "$replacer" || fail "the replacing start did not end"
echo "replace $REAPED"
ended "$innocent" || release "$T/release.innocent" || fail "the innocent process never opened its FIFO"
reap "$innocent" || fail "the innocent process did not end"
echo "innocent $REAPED"
'

# reuse_race SYSCALLS: run REUSE with SYSCALLS delayed, and check that the
# replacing start ran and the innocent process was not signalled
reuse_race() {
	run in_own_pid_ns "$REUSE" "$1" "$REUSE_DELAY"
	echo "status $status: $output" >&2
	echo "strace:" >&2
	cat "$T/strace.log" >&2 || true
	echo "replacing start's stderr:" >&2
	cat "$T/replace.err" >&2 || true
	[ "$status" -eq 0 ]
	[ "$output" = $'replace 0\ninnocent 0' ]
	[ -e "$T/replace.ready" ]
}

# reuse_needs: skip, saying why, where the race cannot be set up
reuse_needs() {
	command -v strace >/dev/null || skip "strace is not installed"
	bounded strace -qq -o /dev/null true || skip "strace cannot trace here"
	in_own_pid_ns 'echo 9 >/proc/sys/kernel/ns_last_pid' ||
		skip "cannot make a PID namespace with its own /proc and set its ns_last_pid here"
}

# the window between verifying the holder and signalling it
@test "#9.10: SINGLE_REPLACE never signals a process that took the pid of a holder that ended before it was signalled" {
	reuse_needs
	reuse_race kill,pidfd_send_signal
}

# the window between finding the holder and verifying it
@test "#9.10: SINGLE_REPLACE never signals a process that took the pid of a holder that ended before it was verified" {
	reuse_needs
	reuse_race kill,pidfd_open
}
