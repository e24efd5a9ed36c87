#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Launchers that fork or clear the environment (issue #9.1): the lock
# belongs to the program the launcher runs, in the program's own process,
# whether the launcher execs it (env), forks it and waits (timeout), or
# forks it and goes away (setsid -f, setsid in a process-group leader).
# And a launcher's command is only looked at, never opened as a file
# (issue #10.13).

load helpers

setup_file() {
	# A statically linked holder: the library cannot reach it, so the
	# launcher holds the lock for it and carries it through the exec.
	export STATIC_HOLDER=$BATS_FILE_TMPDIR/static-holder
	${CC:-cc} -static -O2 -o "$STATIC_HOLDER" "$BATS_TEST_DIRNAME/progs/holder.c"
}

setup() { common_setup; }
# what setsid started is nobody's child here, and in no group spawn made:
# teardown finds it by the $T in its arguments and environment
teardown() { common_teardown; }

# reaped FILE N: tests/bin/reap wrote that N processes ended, each with
# status 0
reaped() {
	local want='' i
	for ((i = 0; i < $2; i++)); do want+="exited 0"$'\n'; done
	[ "$(cat "$1")" = "${want%$'\n'}" ]
}

# setsid_f_twice PROGRAM REAPED: two `setsid -f PROGRAM` starts: the first
# runs and holds PROGRAM's lock after setsid has gone, the second is
# skipped; tests/bin/reap reports REAPED for the second (its setsid, and
# the child it forked if it forked)
setsid_f_twice() {
	local prog=$1 reaped=$2 lock pid
	lock=$(lock_name "$prog")
	mkfifo "$T/release.first"
	# setsid -f forks, and its first process exits at once
	bounded env LD_PRELOAD="$PRELOAD" setsid -f "$prog" "$T/first.ready" "$T/release.first" 3>&-
	wait_for_file "$T/first.ready"
	pid=$(cat "$T/first.ready")
	[ "$(lock_holders "$lock")" = "$pid" ]
	# reap waits for setsid and for any child it leaves behind
	run bounded "$BIN/reap" env LD_PRELOAD="$PRELOAD" \
		setsid -f "$prog" "$T/second.ready" /dev/null
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "$reaped" ]
	[ ! -e "$T/second.ready" ]
	[ "$(lock_holders "$lock")" = "$pid" ]
	fifo_close "$T/release.first"
	reap "$pid"
	lock_is_free "$lock"
}

@test "setsid -f twice: the first copy runs and holds the lock after setsid has gone, the second is skipped" {
	needs_system_programs setsid
	# setsid forks, and its child, which execs the program, is skipped
	setsid_f_twice "$BIN/holder" $'exited 0\nexited 0'
}

@test "setsid in a process-group leader (it forks): the first copy runs and holds the lock, the second is skipped" {
	needs_system_programs setsid
	local lock pid reaper
	lock=$(holder_lock)
	mkfifo "$T/release.first"
	# reap -g: setsid leads its process group, as under a shell with job
	# control, so it cannot call setsid() itself and forks
	spawn "$BIN/reap" -g env LD_PRELOAD="$PRELOAD" \
		setsid "$BIN/holder" "$T/first.ready" "$T/release.first" >"$T/first.reaped"
	reaper=$BG_PID
	wait_for_file_while "$T/first.ready" "$reaper"
	pid=$(cat "$T/first.ready")
	# the holder is setsid's child, a session leader of its own
	[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ]
	[ "$(lock_holders "$lock")" = "$pid" ]
	run bounded "$BIN/reap" -g env LD_PRELOAD="$PRELOAD" \
		setsid "$BIN/holder" "$T/second.ready" /dev/null
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = $'exited 0\nexited 0' ]
	[ ! -e "$T/second.ready" ]
	[ "$(lock_holders "$lock")" = "$pid" ]
	fifo_close "$T/release.first"
	reap "$reaper"
	[ "$REAPED" -eq 0 ]
	reaped "$T/first.reaped" 2
	lock_is_free "$lock"
}

@test "setsid -f twice with a static program: the first copy holds the lock after setsid has gone, the second is skipped" {
	needs_system_programs setsid
	# setsid takes the lock for its static command and its child carries
	# it through the exec; the second setsid is turned away before it forks
	setsid_f_twice "$STATIC_HOLDER" 'exited 0'
}

@test "a wrapper whose last line is exec setsid -f with a static program: that program keeps the wrapper's lock after setsid has gone" {
	needs_system_programs "sh and setsid"
	printf '#!/bin/sh\nexec setsid -f "%s" "$@"\n' "$STATIC_HOLDER" >"$T/wrapper"
	chmod +x "$T/wrapper"
	local lock pid
	lock=$(lock_name "$T/wrapper")
	mkfifo "$T/release.first"
	bounded env LD_PRELOAD="$PRELOAD" "$T/wrapper" "$T/first.ready" "$T/release.first" 3>&-
	wait_for_file "$T/first.ready"
	pid=$(cat "$T/first.ready")
	[ "$(lock_holders "$lock")" = "$pid" ]
	run try_start "$T/wrapper" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/second.ready" ]
	[ "$(lock_holders "$lock")" = "$pid" ]
	fifo_close "$T/release.first"
	reap "$pid"
	lock_is_free "$lock"
}

@test "timeout 30 PROGRAM: PROGRAM's process holds the lock, not timeout's; a second start, with or without timeout, is skipped" {
	needs_system_programs timeout
	local pid
	start_holder first -- timeout 30 "$BIN/holder" "$T/first.ready" "$T/release.first"
	pid=$(cat "$T/first.ready")
	# timeout forked: the holder is its child
	[ "$pid" != "$HOLDER_PID" ]
	[ "$(lock_holders "$HOLDER_LOCK")" = "$pid" ]
	run try_start timeout 30 "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/second.ready" ]
	run try_start "$BIN/holder" "$T/third.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/third.ready" ]
	[ "$(lock_holders "$HOLDER_LOCK")" = "$pid" ]
	finish first
	lock_is_free "$HOLDER_LOCK"
}

@test "env -i PROGRAM, alone or under timeout (env drops LD_PRELOAD): PROGRAM's process holds PROGRAM's lock, a second start is skipped" {
	needs_no_sanitizer "env -i drops the sanitizer runtime and its options, and the library carried into PROGRAM cannot load without them"
	needs_system_programs "env and timeout"
	local lock pid
	lock=$(holder_lock)
	start_holder first -- env -i "$BIN/holder" "$T/first.ready" "$T/release.first"
	# env carried the lock into PROGRAM, the same process
	[ "$(cat "$T/first.ready")" = "$HOLDER_PID" ]
	[ "$(lock_holders "$lock")" = "$HOLDER_PID" ]
	run try_start env -i "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/second.ready" ]
	run try_start timeout 30 env -i "$BIN/holder" "$T/third.ready" /dev/null
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ ! -e "$T/third.ready" ]
	finish first
	lock_is_free "$lock"
	# timeout forks; env, its child, takes PROGRAM's lock into PROGRAM
	start_holder fourth -- timeout 30 env -i "$BIN/holder" "$T/fourth.ready" "$T/release.fourth"
	pid=$(cat "$T/fourth.ready")
	[ "$pid" != "$HOLDER_PID" ]
	[ "$(lock_holders "$lock")" = "$pid" ]
	run try_start env -i "$BIN/holder" "$T/fifth.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/fifth.ready" ]
	finish fourth
	lock_is_free "$lock"
}

@test "env FIFO: the library never opens a launcher's command that is a FIFO (a writer blocked on it stays blocked)" {
	needs_system_programs env
	local writer
	mkfifo -m 0755 "$T/cmd"
	run env "$T/cmd"
	local bare_status=$status bare_output=$output
	[ "$bare_status" -eq 126 ]
	# a writer that blocks in open() until someone opens the FIFO to read
	spawn sh -c 'exec 7>"$0"; : >"$1"' "$T/cmd" "$T/writer.opened"
	writer=$BG_PID
	wait_until "$BOUND" in_fifo_open "$writer"
	run try_start env "$T/cmd"
	echo "status $status: $output" >&2
	[ "$status" -eq "$bare_status" ]
	[ "$output" = "$bare_output" ]
	in_fifo_open "$writer"
	[ ! -e "$T/writer.opened" ]
}
