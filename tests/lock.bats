#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The lock is taken before main() and kept exactly as long as the program
# runs; a start that finds it taken ends before main() without a trace.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

@test "a started program runs and holds its lock until it exits" {
	start_holder first
	[ -s "$T/first.ready" ]
	is_locked "$HOLDER_LOCK"
	release first
	! is_locked "$HOLDER_LOCK" || false
}

@test "the lock is already held when main() starts" {
	needs_system_programs sh
	# the program looks from inside main(): flock(1) on its own lock file
	# must fail while main() runs
	printf '#!/bin/sh\nflock -n "$1" true && echo free || echo held\n' >"$T/look.sh"
	chmod +x "$T/look.sh"
	run try_start "$T/look.sh" "$(lock_name "$(realpath "$T/look.sh")")"
	[ "$status" -eq 0 ]
	[ "$output" = held ]
	! is_locked "$(lock_name "$(realpath "$T/look.sh")")" || false
}

@test "a second start exits at once with status 0, prints nothing, and main never runs" {
	start_holder first
	local t0 took
	t0=$(now_ms)
	run try_start "$BIN/holder" "$T/second.ready" /dev/null
	took=$(($(now_ms) - t0))
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/second.ready" ]
	# "at once": no waiting, no retrying (generous for a loaded machine)
	echo "took $took ms" >&2
	[ "$took" -lt 1000 ]
	is_locked "$HOLDER_LOCK"
	# the holder is still the one running
	kill -0 "$HOLDER_PID"
	release first
}

@test "a second start exits with SINGLE_CONFLICT_EXIT when it is set" {
	start_holder first
	run try_start SINGLE_CONFLICT_EXIT=3 "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	[ ! -e "$T/second.ready" ]
	run try_start SINGLE_CONFLICT_EXIT=255 "$BIN/holder" "$T/third.ready" /dev/null
	[ "$status" -eq 255 ]
	[ -z "$output" ]
	[ ! -e "$T/third.ready" ]
	release first
}

@test "a skipped start runs no atexit handler and flushes no stdio buffer of the program" {
	needs_preinit_array
	# without the library the program shows all three
	run "$BIN/exitflush"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "atexit handler ran" ]
	[ "${lines[1]}" = "stdio buffer flushed main ran" ]
	# the first start runs as usual
	run try_start "$BIN/exitflush"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "stdio buffer flushed main ran" ]
	# a second one while the lock is held shows nothing at all
	start_holder first SINGLE_KEY=exitflush
	run try_start SINGLE_KEY=exitflush "$BIN/exitflush"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	release first
}

@test "a holder killed with SIGKILL frees the lock at once" {
	start_holder first
	is_locked "$HOLDER_LOCK"
	kill -KILL "$HOLDER_PID"
	reap "$HOLDER_PID"
	# no grace period, no stale pid file to clean up
	flock -n "$HOLDER_LOCK" true
	start_holder next
	is_locked "$HOLDER_LOCK"
	release next
}

@test "the holder's pid is written into the lock file" {
	start_holder first
	[ "$(record_pid "$HOLDER_LOCK")" = "$(cat "$T/first.ready")" ]
	release first
	# the next holder replaces it, and nothing of a longer earlier
	# content is left behind: the file is one record long
	head -c 2000 /dev/zero | tr '\0' 9 >"$HOLDER_LOCK"
	start_holder second
	[ "$(record_pid "$HOLDER_LOCK")" = "$(cat "$T/second.ready")" ]
	[ "$(wc -c <"$HOLDER_LOCK")" -eq 512 ]
	# the pid line, the five fields, then blanks to the end: no 9 of the
	# old content survives (a test for "999" failed when the pid, boot id
	# or time happened to contain it)
	[ "$(sed -n 2,6p "$HOLDER_LOCK" | cut -d= -f1 | tr '\n' ' ')" = "host boot since prog fd " ]
	[ "$(wc -l <"$HOLDER_LOCK")" -eq 7 ]
	[ -z "$(sed -n 7p "$HOLDER_LOCK" | tr -d ' ')" ]
	release second
}

@test "a skipped start leaves the holder's pid in the lock file" {
	start_holder first
	run try_start "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ "$(record_pid "$HOLDER_LOCK")" = "$(cat "$T/first.ready")" ]
	release first
}

@test "a holder that is PID 1 of its own PID namespace keeps a start outside it out" {
	command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
	mkfifo "$T/release.ns"
	# the pid in the lock file is 1 in the holder's namespace: everyone's
	# ancestor by number, but not the process that holds the lock here.
	# PID 1 ignores a SIGTERM from teardown: --kill-child ends it with
	# unshare, and teardown's SIGKILL reaches it in any case.
	spawn unshare --pid --fork --kill-child --mount-proc env SINGLE_KEY=job \
		LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/ns.ready" "$T/release.ns"
	HOLDER_PID=$BG_PID
	wait_for_file "$T/ns.ready"
	[ "$(cat "$T/ns.ready")" = 1 ]
	run try_start SINGLE_KEY=job "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/second.ready" ]
	release ns
}
