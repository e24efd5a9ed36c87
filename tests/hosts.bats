#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# One instance across hosts: with SINGLE_DIR on a file system several
# hosts share, a holder on another host is named by its host, never
# signalled, and never taken for an ancestor.  The second host is
# simulated (tests/helpers.bash on_host_b): its own host name, PID
# namespace, /proc and boot id, the same lock directory.

load helpers

setup() {
	common_setup
	command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
}
teardown() { common_teardown; }

@test "a start on host B is skipped while this host holds the lock, and its message names this host" {
	start_holder first SINGLE_KEY=job
	run on_host_b env SINGLE_DIR="$SINGLE_DIR" SINGLE_KEY=job SINGLE_VERBOSE=1 \
		LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/b.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/b.ready" ]
	[ "$output" = "libsingle: job is already running (pid $HOLDER_PID on host $(hostname)); not starting" ]
	release first
}

@test "the holder record names the host, its boot id and when the lock was taken" {
	start_holder first SINGLE_KEY=job
	local lock=$SINGLE_DIR/@job.lock
	[ "$(record_pid "$lock")" = "$HOLDER_PID" ]
	grep -qx "host=$(hostname)" "$lock"
	grep -qx "boot=$(cat /proc/sys/kernel/random/boot_id)" "$lock"
	grep -qE '^since=[0-9]{10}\.[0-9]{9}$' "$lock"
	grep -qx "prog=holder" "$lock"
	release first
}

@test "SINGLE_EXPLAIN on host B shows this host's holder as remote, with its since" {
	needs_system_programs /bin/true
	start_holder first SINGLE_KEY=job
	run on_host_b env SINGLE_DIR="$SINGLE_DIR" SINGLE_KEY=job SINGLE_EXPLAIN=1 \
		LD_PRELOAD="$PRELOAD" /bin/true
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "state: held by pid $HOLDER_PID on host $(hostname) (remote)" ]
	[ "${lines[3]}" = "program: holder" ]
	[[ ${lines[4]} == "since: "[0-9][0-9][0-9][0-9]-*Z" ("*" ago)" ]]
	release first
}

@test "SINGLE_REPLACE on host B refuses to signal this host's holder: one line, status 69" {
	start_holder first SINGLE_KEY=job
	run on_host_b env SINGLE_DIR="$SINGLE_DIR" SINGLE_KEY=job SINGLE_REPLACE=1 \
		LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/b.ready" /dev/null
	[ "$status" -eq 69 ]
	[ "$output" = "libsingle: cannot replace job: it runs as pid $HOLDER_PID on host $(hostname); a holder on another host is never signalled" ]
	[ ! -e "$T/b.ready" ]
	kill -0 "$HOLDER_PID"
	release first
}

@test "the ancestor rule on host B ignores this host's holder, even when its pid is that of B's own ancestor" {
	# the holder is pid 1 of a PID namespace here; on host B, pid 1 is
	# the start's own ancestor.  As PID 1 it ignores teardown's SIGTERM:
	# --kill-child ends it with unshare, and teardown's SIGKILL in any case.
	mkfifo "$T/release.ns"
	spawn unshare -pf --kill-child --mount-proc env SINGLE_KEY=job LD_PRELOAD="$PRELOAD" \
		"$BIN/holder" "$T/ns.ready" "$T/release.ns"
	HOLDER_PID=$BG_PID
	wait_for_file_while "$T/ns.ready" "$HOLDER_PID"
	[ "$(record_pid "$SINGLE_DIR/@job.lock")" = 1 ]
	run on_host_b env SINGLE_DIR="$SINGLE_DIR" SINGLE_KEY=job \
		LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/b.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/b.ready" ]
	release ns
}

@test "a holder on host B keeps this host's starts out, and is named as B's" {
	mkfifo "$T/release.b"
	spawn_on_host_b env SINGLE_DIR="$SINGLE_DIR" SINGLE_KEY=job LD_PRELOAD="$PRELOAD" \
		"$BIN/holder" "$T/b.ready" "$T/release.b"
	HOLDER_PID=$BG_PID
	wait_for_file_while "$T/b.ready" "$HOLDER_PID"
	run try_start SINGLE_KEY=job SINGLE_VERBOSE=1 "$BIN/holder" "$T/a.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/a.ready" ]
	[ "$output" = "libsingle: job is already running (pid $(cat "$T/b.ready") on host hostb); not starting" ]
	release b
}
