#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# SINGLE_VERBOSE: one line on stderr when a start is skipped, waits, or
# times out, naming the program and the holder's pid; silence without it.

load helpers
bats_require_minimum_version 1.5.0

setup() { common_setup; }
teardown() { common_teardown; }

# waiter_says NAME LOCKFILE STDERR [ENV=VALUE...] [-- CMD...]: start a
# waiter whose stderr goes to STDERR, and return once it waits
waiter_says() {
	local name=$1 lock=$2 err=$3
	shift 3
	start_waiter "$name" "$lock" "$@" 2>"$err"
}

@test "SINGLE_VERBOSE=1: a skipped start says, in one line on stderr, what runs and its pid" {
	start_holder first
	run --separate-stderr try_start SINGLE_VERBOSE=1 "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$stderr" = "libsingle: holder is already running (pid $HOLDER_PID); not starting" ]
	[ ! -e "$T/second.ready" ]
	release first
}

@test "SINGLE_VERBOSE=1: a script is named by its script name" {
	needs_system_programs sh
	printf '#!/bin/sh\necho $$ >"$1.tmp" && mv "$1.tmp" "$1"\n[ -z "$2" ] || read -r _ <"$2" || :\n' >"$T/job.sh"
	chmod +x "$T/job.sh"
	start_holder job -- "$T/job.sh" "$T/job.ready" "$T/release.job"
	run --separate-stderr try_start SINGLE_VERBOSE=1 sh "$T/job.sh" "$T/second.ready"
	[ "$status" -eq 0 ]
	[ "$stderr" = "libsingle: job.sh is already running (pid $HOLDER_PID); not starting" ]
	release job
}

@test "SINGLE_VERBOSE=1: under SINGLE_KEY the key is named" {
	start_holder first SINGLE_KEY=mail
	run --separate-stderr try_start SINGLE_KEY=mail SINGLE_VERBOSE=1 "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ "$stderr" = "libsingle: mail is already running (pid $HOLDER_PID); not starting" ]
	release first
}

@test "SINGLE_VERBOSE=1: a waiting start says once that it waits, how long, and for which pid" {
	local wait want
	for wait in 30 2.5 inf; do
		case $wait in
		30) want="waiting up to 30s" ;;
		2.5) want="waiting up to 2.500s" ;;
		inf) want="waiting without limit" ;;
		esac
		start_holder "first$wait"
		waiter_says "w$wait" "$HOLDER_LOCK" "$T/w$wait.err" SINGLE_VERBOSE=1 SINGLE_WAIT=$wait
		release "first$wait"
		wait_for_file "$T/w$wait.ready" 2
		release "w$wait" "$WAITER_PID"
		# one line, said when it began to wait; nothing when it got the lock
		[ "$(cat "$T/w$wait.err")" = "libsingle: holder is already running (pid $HOLDER_PID); $want" ]
	done
}

@test "SINGLE_VERBOSE=1: a wait that times out says so in one more line" {
	start_holder first
	run --separate-stderr try_start SINGLE_VERBOSE=1 SINGLE_WAIT=0.2 "$BIN/holder" "$T/late.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# shellcheck disable=SC2154  # set by bats' run --separate-stderr
	[ "${#stderr_lines[@]}" -eq 2 ]
	[ "${stderr_lines[0]}" = "libsingle: holder is already running (pid $HOLDER_PID); waiting up to 0.200s" ]
	[ "${stderr_lines[1]}" = "libsingle: holder is still running (pid $HOLDER_PID); not starting" ]
	release first
}

@test "SINGLE_VERBOSE accepts 1, yes, true, on in any case" {
	start_holder first
	local v
	for v in 1 yes true on YES True ON; do
		run --separate-stderr try_start SINGLE_VERBOSE=$v "$BIN/holder" "$T/second.ready" /dev/null
		[ "$stderr" = "libsingle: holder is already running (pid $HOLDER_PID); not starting" ]
	done
	release first
}

@test "without SINGLE_VERBOSE, or with 0, no, false, off: skip, wait and timeout say nothing" {
	start_holder first
	local v
	for v in '' 0 no false off; do
		run try_start SINGLE_VERBOSE=$v "$BIN/holder" "$T/second.ready" /dev/null
		[ "$status" -eq 0 ]
		[ -z "$output" ]
		run try_start SINGLE_VERBOSE=$v SINGLE_WAIT=0.05 "$BIN/holder" "$T/second.ready" /dev/null
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	done
	[ ! -e "$T/second.ready" ]
	waiter_says quiet "$HOLDER_LOCK" "$T/quiet.err" SINGLE_VERBOSE=0 SINGLE_WAIT=30
	release first
	wait_for_file "$T/quiet.ready" 5
	release quiet "$WAITER_PID"
	[ ! -s "$T/quiet.err" ]
}

@test "a start that takes the lock says nothing, even with SINGLE_VERBOSE=1" {
	run --separate-stderr try_start SINGLE_VERBOSE=1 "$BIN/holder" "$T/r" /dev/null
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ -e "$T/r" ]
}

# broken_stderr CMD...: CMD with its stderr a pipe that nobody reads (a
# write gets EPIPE, and SIGPIPE at its default action), bounded
broken_stderr() {
	mkfifo "$T/stderr.pipe"
	bounded bash -c 'exec 7<>"$0" 8>"$0" 7<&-; exec env --default-signal=PIPE "$@" 2>&8 8>&-' \
		"$T/stderr.pipe" "$@"
}

@test "SINGLE_VERBOSE=1 with stderr a pipe nobody reads: a skipped start exits with SINGLE_CONFLICT_EXIT=75, not killed by SIGPIPE" {
	start_holder first
	run broken_stderr LD_PRELOAD="$PRELOAD" SINGLE_VERBOSE=1 SINGLE_CONFLICT_EXIT=75 \
		"$BIN/holder" "$T/second.ready" /dev/null
	echo "status $status: $output" >&2
	[ "$status" -eq 75 ]
	[ -z "$output" ]
	[ ! -e "$T/second.ready" ]
	release first
}

@test "an invalid setting with stderr a pipe nobody reads exits 64, not killed by SIGPIPE" {
	run broken_stderr LD_PRELOAD="$PRELOAD" SINGLE_WAIT=5s "$BIN/holder" "$T/r" /dev/null
	echo "status $status: $output" >&2
	[ "$status" -eq 64 ]
	[ -z "$output" ]
	[ ! -e "$T/r" ]
}
