#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# SINGLE_WAIT: waiting for the lock instead of skipping.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

@test "SINGLE_WAIT=30: the waiter's main starts as soon as the holder ends" {
	start_holder first
	start_waiter waiter "$HOLDER_LOCK" SINGLE_WAIT=30
	[ ! -e "$T/waiter.ready" ]
	release first
	# "as soon as": well within the 30 s the waiter was allowed
	wait_for_file "$T/waiter.ready" 2
	is_locked "$HOLDER_LOCK"
	[ "$(record_pid "$HOLDER_LOCK")" = "$WAITER_PID" ]
	release waiter "$WAITER_PID"
	! is_locked "$HOLDER_LOCK" || false
}

@test "SINGLE_WAIT with a free lock runs at once" {
	local t0
	t0=$(now_ms)
	run try_start SINGLE_WAIT=30 "$BIN/holder" "$T/r" /dev/null
	[ "$status" -eq 0 ]
	[ -e "$T/r" ]
	[ $(($(now_ms) - t0)) -lt 2000 ]
}

@test "SINGLE_WAIT=0.5: at the deadline the start exits with status 0, silently, and main never runs" {
	start_holder first
	local t0 took
	t0=$(now_ms)
	run try_start SINGLE_WAIT=0.5 "$BIN/holder" "$T/late.ready" /dev/null
	took=$(($(now_ms) - t0))
	echo "took $took ms" >&2
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/late.ready" ]
	[ "$took" -ge 500 ]
	[ "$took" -lt 3000 ]
	is_locked "$HOLDER_LOCK"
	[ "$(record_pid "$HOLDER_LOCK")" = "$HOLDER_PID" ]
	release first
}

@test "a wait that times out exits with SINGLE_CONFLICT_EXIT" {
	start_holder first
	run try_start SINGLE_WAIT=0.2 SINGLE_CONFLICT_EXIT=7 "$BIN/holder" "$T/late.ready" /dev/null
	[ "$status" -eq 7 ]
	[ -z "$output" ]
	[ ! -e "$T/late.ready" ]
	release first
}

@test "SINGLE_WAIT=inf waits until the holder ends, then runs" {
	start_holder first
	start_waiter waiter "$HOLDER_LOCK" SINGLE_WAIT=inf
	[ ! -e "$T/waiter.ready" ]
	release first
	wait_for_file "$T/waiter.ready" 2
	is_locked "$HOLDER_LOCK"
	release waiter "$WAITER_PID"
}

@test "two waiters: each runs only when the one before it has ended" {
	start_holder first
	start_waiter w1 "$HOLDER_LOCK" SINGLE_WAIT=30
	local w1=$WAITER_PID
	start_waiter w2 "$HOLDER_LOCK" SINGLE_WAIT=30
	local w2=$WAITER_PID
	release first
	# one of them gets it; the other keeps waiting
	local end
	deadline end 5
	until [ -e "$T/w1.ready" ] || [ -e "$T/w2.ready" ]; do
		! passed "$end" || false
		sleep 0.01
	done
	local got=w1 got_pid=$w1 next=w2 next_pid=$w2
	[ -e "$T/w1.ready" ] || { got=w2 got_pid=$w2 next=w1 next_pid=$w1; }
	# (woken with the other, it may take a moment to block again)
	deadline end 5
	until waiting_on "$HOLDER_LOCK" "$next_pid"; do
		! passed "$end" || false
		[ ! -e "$T/$next.ready" ]
		sleep 0.01
	done
	[ ! -e "$T/$next.ready" ]
	release "$got" "$got_pid"
	wait_for_file "$T/$next.ready" 2
	release "$next" "$next_pid"
}

# state_after_wait OUT [ENV=VALUE...]: run sigstate with the library
# while another start holds its key, so that it really waits (checked in
# /proc/locks), let the holder go, and leave sigstate's output in OUT.
state_after_wait() {
	local out=$1
	shift
	needs_native_m32 "real-time signals and the clone(CLONE_VM) child of a finite wait"
	start_holder holder SINGLE_KEY=sigstate
	spawn env "$@" SINGLE_KEY=sigstate SINGLE_WAIT=30 LD_PRELOAD="$PRELOAD" \
		"$BIN/sigstate" >"$out"
	local pid=$BG_PID end
	deadline end 10
	until waiting_on "$SINGLE_DIR/@sigstate.lock" "$pid"; do
		! passed "$end" || false
		sleep 0.01
	done
	release holder
	reap "$pid"
	[ "$REAPED" -eq 0 ]
}

@test "after a wait, main sees the program's own signal handlers, mask, timers and errno" {
	needs_preinit_array
	run "$BIN/sigstate"
	[ "$status" -eq 0 ]
	local without=$output
	# sanity: the program really set something up
	[[ $without == *"errno: 4242"* ]]
	[[ $without == *"SIGRTMAX: handler=on_rt"* ]]
	[[ $without == *"timers: ID:"* ]]
	state_after_wait "$T/with"
	diff -u <(echo "$without") "$T/with"
}

@test "after a wait, a signal that was pending before is still pending at main" {
	needs_native_m32 "real-time signals (qemu keeps some for itself)"
	needs_preinit_array
	SIGSTATE_PENDING=1 run "$BIN/sigstate"
	[ "$status" -eq 0 ]
	local without=$output
	[[ $without == *"pending: $(kill -l RTMAX)"$'\n'* ]]
	state_after_wait "$T/with" SIGSTATE_PENDING=1
	diff -u <(echo "$without") "$T/with"
}

@test "a start that did not have to wait leaves the same state as without the library" {
	run "$BIN/sigstate"
	local without=$output
	run try_start SINGLE_WAIT=30 "$BIN/sigstate"
	[ "$status" -eq 0 ]
	[ "$output" = "$without" ]
}

# bg_waiter NAME LOCKFILE CMD...: CMD (a waiting start) spawned,
# WAITER_PID; returns once it is blocked waiting for LOCKFILE, fails if it
# ends first or never waits within BOUND seconds
bg_waiter() {
	local name=$1 lock=$2
	shift 2
	needs_native_m32 "the clone(CLONE_VM) child through which a finite wait blocks, which the test looks for in /proc/locks"
	spawn "$@"
	WAITER_PID=$BG_PID
	waits_for "$name" "$lock"
}

@test "with no signal allowed to queue (ulimit -i 0), SINGLE_WAIT=30 waits and runs as soon as the holder ends" {
	start_holder first
	# prlimit sets the limit for the start alone (timeout would warn)
	bg_waiter w "$HOLDER_LOCK" prlimit --sigpending=0 \
		env LD_PRELOAD="$PRELOAD" SINGLE_WAIT=30 "$BIN/holder" "$T/w.ready" /dev/null
	[ ! -e "$T/w.ready" ]
	release first
	wait_for_file_while "$T/w.ready" "$WAITER_PID"
	reap "$WAITER_PID"
	[ "$REAPED" -eq 0 ]
}

@test "with no signal allowed to queue (ulimit -i 0), SINGLE_WAIT=0.5 gives up at its deadline with SINGLE_CONFLICT_EXIT" {
	local t0 ms
	start_holder first
	t0=$(now_ms)
	run bounded prlimit --sigpending=0 env LD_PRELOAD="$PRELOAD" SINGLE_WAIT=0.5 \
		SINGLE_CONFLICT_EXIT=75 "$BIN/holder" "$T/w.ready" /dev/null
	ms=$(($(now_ms) - t0))
	echo "status $status after $ms ms: $output" >&2
	[ "$status" -eq 75 ]
	[ -z "$output" ]
	[ ! -e "$T/w.ready" ]
	[ "$ms" -ge 500 ]
	[ "$ms" -lt 5000 ]
	release first
}

@test "every real-time signal blocked and pending at start is still pending at main after a finite wait" {
	needs_preinit_array
	local rt
	rt=$(seq -s ' ' "$(kill -l RTMIN)" "$(kill -l RTMAX)")
	start_holder first SINGLE_KEY=rt
	bg_waiter w "$SINGLE_DIR/@rt.lock" env RTBLOCK_QUEUE=1 SINGLE_KEY=rt SINGLE_WAIT=30 \
		LD_PRELOAD="$PRELOAD" "$BIN/rtblock" "$T/w.ready"
	release first
	wait_for_file_while "$T/w.ready" "$WAITER_PID"
	cat "$T/w.ready" >&2
	[ "$(sed -n 's/^before: //p' "$T/w.ready")" = "$rt" ]
	[ "$(sed -n 's/^main: //p' "$T/w.ready")" = "$rt" ]
	reap "$WAITER_PID"
	[ "$REAPED" -eq 0 ]
}

@test "a blocked real-time signal sent to a waiter during its wait is still pending at main" {
	needs_preinit_array
	start_holder first SINGLE_KEY=rt
	bg_waiter w "$SINGLE_DIR/@rt.lock" env SINGLE_KEY=rt SINGLE_WAIT=30 \
		LD_PRELOAD="$PRELOAD" "$BIN/rtblock" "$T/w.ready"
	kill -s RTMAX "$WAITER_PID"
	kill -s RTMIN "$WAITER_PID"
	release first
	wait_for_file_while "$T/w.ready" "$WAITER_PID"
	cat "$T/w.ready" >&2
	[ "$(sed -n 's/^before: //p' "$T/w.ready")" = "" ]
	[ "$(sed -n 's/^main: //p' "$T/w.ready")" = "$(kill -l RTMIN) $(kill -l RTMAX)" ]
	reap "$WAITER_PID"
	[ "$REAPED" -eq 0 ]
}
