#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The lock lives as long as the instance (issue #3), and the instance is
# the program, not what it starts: a child started with exec (a shell's
# background job, posix_spawn, system, popen) does not hold the lock, so
# once the program ends the next start runs at once.  A child made by fork
# alone is still the program (the same image, sharing the lock): the next
# start is refused until it ends too.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

# bgjob CHILD: a bash holder that starts CHILD in the background (the
# child's pid goes to READY.child), then holds until RELEASE.
bgjob() {
	cat >"$T/bgjob" <<EOF
#!/bin/bash
# bgjob READY RELEASE
$1 3>&- &
echo \$! >"\$1.childpid"
echo \$\$ >"\$1.tmp" && mv "\$1.tmp" "\$1"
read -r _ <"\$2" || true
EOF
	chmod +x "$T/bgjob"
}

@test "a holder's background job (sleep 30 &) does not hold the lock: the next start runs once the holder ends" {
	needs_system_programs bash
	local lock child
	bgjob 'sleep 30'
	lock=$(lock_name "$T/bgjob")
	start_holder bg -- "$T/bgjob" "$T/bg.ready" "$T/release.bg"
	child=$(cat "$T/bg.ready.childpid")
	is_locked "$lock"
	[ "$(fd_holders "$lock")" = "$HOLDER_PID" ]
	skipped "$T/bgjob" "$T/second.ready" "$T/nofifo"
	[ ! -e "$T/second.ready" ]
	finish bg
	kill -0 "$child"
	[ "$(readlink "/proc/$child/exe")" = "$(readlink -f "$(command -v sleep)")" ]
	lock_is_free "$lock"
	start_holder next -- "$T/bgjob" "$T/next.ready" "$T/release.next"
	is_locked "$lock"
	finish next
}

@test "a holder's background holder-style child does not hold the lock: the next start runs once the holder ends" {
	needs_system_programs bash
	local lock child
	bgjob "\"$BIN/holder\" \"\$1.child\" \"\$2.child\""
	lock=$(lock_name "$T/bgjob")
	mkfifo "$T/release.bg.child"
	start_holder bg -- "$T/bgjob" "$T/bg.ready" "$T/release.bg"
	wait_for_file "$T/bg.ready.child"
	child=$(cat "$T/bg.ready.child")
	[ "$child" = "$(cat "$T/bg.ready.childpid")" ]
	is_locked "$lock"
	[ "$(fd_holders "$lock")" = "$HOLDER_PID" ]
	finish bg
	kill -0 "$child"
	lock_is_free "$lock"
	mkfifo "$T/release.next.child"
	start_holder next -- "$T/bgjob" "$T/next.ready" "$T/release.next"
	is_locked "$lock"
	finish next
	fifo_close "$T/release.bg.child"
	fifo_close "$T/release.next.child"
}

@test "a child made by fork alone shares the lock: the next start is refused until the child ends too" {
	local lock child
	lock=$(lock_name "$BIN/forker")
	mkfifo "$T/release.fk.child"
	start_holder fk -- "$BIN/forker" fork "$T/fk.ready" "$T/release.fk"
	child=$(cat "$T/fk.ready.child")
	is_locked "$lock"
	[ "$(fd_holders "$lock")" = "$(printf '%s\n' "$HOLDER_PID" "$child" | sort -n)" ]
	finish fk
	kill -0 "$child"
	is_locked "$lock"
	skipped "$BIN/forker" fork "$T/second.ready" "$T/nofifo"
	[ ! -e "$T/second.ready" ]
	fifo_close "$T/release.fk.child"
	reap "$child"
	lock_is_free "$lock"
}

# spawned HOW: forker starts tests/bin/holder through HOW; the child does
# not hold the lock, and outlives the holder without keeping it.
spawned() {
	local how=$1 lock child
	lock=$(lock_name "$BIN/forker")
	mkfifo "$T/release.sp.child"
	start_holder sp -- "$BIN/forker" "$how" "$T/sp.ready" "$T/release.sp"
	child=$(cat "$T/sp.ready.child")
	[ "$child" != "$HOLDER_PID" ]
	is_locked "$lock"
	# nobody but the holder: not the child, not a shell between them
	[ "$(fd_holders "$lock")" = "$HOLDER_PID" ]
	skipped "$BIN/forker" "$how" "$T/second.ready" "$T/nofifo"
	[ ! -e "$T/second.ready" ]
	finish sp
	kill -0 "$child"
	lock_is_free "$lock"
	# the next start of the same program runs at once
	mkfifo "$T/release.next.child"
	start_holder next -- "$BIN/forker" "$how" "$T/next.ready" "$T/release.next"
	is_locked "$lock"
	finish next
	fifo_close "$T/release.sp.child"
	fifo_close "$T/release.next.child"
}

@test "a posix_spawn child does not hold the lock" { spawned posix_spawn; }
@test "a system() child does not hold the lock" { spawned system; }
@test "a popen() child does not hold the lock" { spawned popen; }
