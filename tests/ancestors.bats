#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# A descendant of the holder that starts the same program runs: the
# ancestor rule asks the kernel which ancestor holds the lock, instead of
# trusting the pid written in the lock file (issues #9.11, #10.16), and
# looks at every slot of SINGLE_MAX (#9.12).  A holder that daemonises
# (forks, and the parent exits) keeps the lock in its child; the pid in
# the record is then the dead parent's.
#
# tests/bin/daemon fork READY RELEASE [CMD...] is such a holder: its child
# writes READY, waits until the parent has exited, then runs CMD (see
# tests/progs/daemon.c).

load helpers

setup() {
	common_setup
	DAEMON_LOCK=$(lock_name "$BIN/daemon")
}
# a daemon's child, nobody's child here, is in the group spawn made
teardown() { common_teardown; }

# start_daemon NAME [CMD...]: start `daemon fork` preloaded, with CMD for
# its child to run, and return once the parent has exited; DAEMON_CHILD is
# the child's pid, the one that holds the lock.
start_daemon() {
	local name=$1 parent
	shift
	mkfifo "$T/release.$name"
	spawn env LD_PRELOAD="$PRELOAD" "$BIN/daemon" fork "$T/$name.ready" "$T/release.$name" "$@"
	parent=$BG_PID
	wait_for_file_while "$T/$name.ready" "$parent"
	reap "$parent"
	[ "$REAPED" -eq 0 ]
	DAEMON_CHILD=$(cat "$T/$name.ready")
	[ "$DAEMON_CHILD" != "$parent" ]
}

# cmd_ended NAME: how the CMD of holder NAME ended ("exited N"), once it has
cmd_ended() {
	wait_for_file "$T/$1.ready.cmd" || return 1
	sed -n 2p "$T/$1.ready.cmd"
}

@test "a holder that daemonises keeps the lock in its child, and the child's descendant starting the same program runs" {
	start_daemon d env LD_PRELOAD="$PRELOAD" "$BIN/daemon" stay "$T/again.ready" -
	[ "$(lock_holders "$DAEMON_LOCK")" = "$DAEMON_CHILD" ]
	[ "$(cmd_ended d)" = "exited 0" ]
	[ -e "$T/again.ready" ]
	# the descendant ran beside its ancestor, without taking the lock
	[ "$(lock_holders "$DAEMON_LOCK")" = "$DAEMON_CHILD" ]
	# a start from elsewhere is still skipped
	run try_start "$BIN/daemon" stay "$T/other.ready" -
	[ "$status" -eq 0 ]
	[ ! -e "$T/other.ready" ]
	fifo_close "$T/release.d"
	reap "$DAEMON_CHILD"
	lock_is_free "$DAEMON_LOCK"
}

@test "a daemonised holder's descendant starting the same program with SINGLE_WAIT=inf runs at once (no deadlock)" {
	start_daemon d timeout -k 2 "$BOUND" env LD_PRELOAD="$PRELOAD" SINGLE_WAIT=inf \
		"$BIN/daemon" stay "$T/again.ready" -
	[ "$(cmd_ended d)" = "exited 0" ]
	[ -e "$T/again.ready" ]
	[ "$(lock_holders "$DAEMON_LOCK")" = "$DAEMON_CHILD" ]
	fifo_close "$T/release.d"
	reap "$DAEMON_CHILD"
}

@test "SINGLE_VERBOSE=1: a start skipped by a holder that daemonised names the live holder (the child), not the parent that exited" {
	start_daemon d
	run try_start SINGLE_VERBOSE=1 "$BIN/daemon" stay "$T/second.ready" -
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "libsingle: daemon is already running (pid $DAEMON_CHILD); not starting" ]
	[ ! -e "$T/second.ready" ]
	fifo_close "$T/release.d"
	reap "$DAEMON_CHILD"
}

@test "SINGLE_MAX=2: a descendant of the holder of slot 2 runs while another instance holds slot 1" {
	local one two
	start_holder one SINGLE_MAX=2 -- "$BIN/daemon" stay "$T/one.ready" "$T/release.one"
	one=$HOLDER_PID
	[ "$(lock_holders "$DAEMON_LOCK")" = "$one" ]
	start_holder two SINGLE_MAX=2 -- "$BIN/daemon" stay "$T/two.ready" "$T/release.two" \
		env LD_PRELOAD="$PRELOAD" SINGLE_MAX=2 "$BIN/daemon" stay "$T/three.ready" -
	two=$HOLDER_PID
	[ "$(lock_holders "$DAEMON_LOCK.2")" = "$two" ]
	[ "$(cmd_ended two)" = "exited 0" ]
	[ -e "$T/three.ready" ]
	# both slots are still held by the two instances
	[ "$(lock_holders "$DAEMON_LOCK")" = "$one" ]
	[ "$(lock_holders "$DAEMON_LOCK.2")" = "$two" ]
	# a start from elsewhere finds both slots taken
	run try_start SINGLE_MAX=2 "$BIN/daemon" stay "$T/four.ready" -
	[ "$status" -eq 0 ]
	[ ! -e "$T/four.ready" ]
	release one "$one"
	release two "$two"
}
