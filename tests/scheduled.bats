#!/usr/bin/env bats
# Scheduled jobs in practice: a stuck holder is said and exits 75
# (SINGLE_STALE), a burst of triggers during a run gives one more run
# (SINGLE_QUEUE), and every start turned away is counted in the holder's
# record.

load helpers

setup() {
	common_setup
	export SYNC_DIR=$T
	mkfifo "$T/release.work"
}
teardown() { kill_leftovers; common_teardown; }

# ran ACCOUNT: how many times tests/bin/mbsync's main ran for ACCOUNT
ran() {
	local f n=0
	for f in "$T"/ran."$1".*; do
		[ -e "$f" ] && n=$((n + 1))
	done
	echo "$n"
}

# skipped_count LOCKFILE: the starts the holder turned away, as its
# record counts them (one byte each after the 512-byte record)
skipped_count() {
	echo $(($(stat -c %s "$1") - 512))
}

# alive PID...: how many of them still run
alive() {
	local p n=0
	for p; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done
	echo "$n"
}

# until_alive N PID...: wait (10 s at most) until exactly N of them run
until_alive() {
	local want=$1 tries=1000
	shift
	until [ "$(alive "$@")" -eq "$want" ]; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || { echo "$(alive "$@") of $# still run, not $want" >&2; return 1; }
		sleep 0.01
	done
}

# queued PID: PID is blocked waiting for mbsync's lock (10 s at most)
queued() {
	local tries=1000
	until waiting_on "$(lock_name "$BIN/mbsync")" "$1"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] && kill -0 "$1" 2>/dev/null ||
			{ echo "$1 did not queue" >&2; return 1; }
		sleep 0.01
	done
}

# triggers N ENV...: N starts of `mbsync work` at once, in the background;
# their pids in TRIGGERS
triggers() {
	local n=$1 i
	shift
	TRIGGERS=()
	for ((i = 0; i < n; i++)); do
		env "$@" LD_PRELOAD="$PRELOAD" timeout 30 "$BIN/mbsync" work 3>&- &
		TRIGGERS+=($!)
	done
}

# next_run N: wait until mbsync work has run N times, and let the run
# in progress end
next_run() {
	local tries=1000
	until [ "$(ran work)" -ge "$1" ]; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || { echo "ran $(ran work) times, not $1" >&2; return 1; }
		sleep 0.01
	done
	[ "$(ran work)" -eq "$1" ]
}

# ---- SINGLE_STALE ----------------------------------------------------------

@test "SINGLE_STALE: a start that finds the lock held for longer says so in one line and exits 75" {
	start_holder first
	run try_start SINGLE_STALE=0 "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 75 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == "libsingle: holder has held the lock for "*"s (pid $HOLDER_PID): it seems stuck; not starting" ]]
	[ ! -e "$T/second.ready" ]
	# a holder that has not held it that long is a plain skip
	run try_start SINGLE_STALE=3600 "$BIN/holder" "$T/third.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/third.ready" ]
	release first
}

@test "SINGLE_STALE with SINGLE_REPLACE replaces only a stuck holder" {
	start_holder first
	run try_start SINGLE_STALE=3600 SINGLE_REPLACE=5 "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/second.ready" ]
	kill -0 "$HOLDER_PID"
	run try_start SINGLE_STALE=0 SINGLE_REPLACE=5 "$BIN/holder" "$T/third.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -e "$T/third.ready" ]
	wait "$HOLDER_PID" || [ $? -eq 143 ]   # SIGTERM
	! kill -0 "$HOLDER_PID" 2>/dev/null || false
}

@test "SINGLE_STALE counts from when the holder took the lock, across its exec" {
	# the holder execs into another program: the record (and its time)
	# goes on, so a start is told how long the lock has been held
	start_holder first SINGLE_KEY=job -- sh -c "exec '$BIN/holder' '$T/first.ready' '$T/release.first'"
	local since
	since=$(sed -n 's/^since=//p' "$SINGLE_DIR/@job.lock")
	[ -n "$since" ]
	run try_start SINGLE_KEY=job SINGLE_STALE=0 "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 75 ]
	[ "$(sed -n 's/^since=//p' "$SINGLE_DIR/@job.lock")" = "$since" ]
	release first
}

# ---- SINGLE_QUEUE ------------------------------------------------------------

@test "SINGLE_QUEUE=1: 20 triggers during a run give exactly one more run" {
	triggers 1 SINGLE_QUEUE=1
	local first=${TRIGGERS[0]}
	next_run 1
	triggers 20 SINGLE_QUEUE=1
	# 19 are turned away at once, one waits for its turn
	until_alive 1 "${TRIGGERS[@]}"
	[ "$(ran work)" -eq 1 ]
	: >"$T/release.work"
	wait "$first"
	next_run 2
	: >"$T/release.work"
	wait "${TRIGGERS[@]}"
	[ "$(ran work)" -eq 2 ]
}

@test "SINGLE_QUEUE=2: 20 triggers during a run give exactly two more runs" {
	triggers 1 SINGLE_QUEUE=2
	next_run 1
	triggers 20 SINGLE_QUEUE=2
	until_alive 2 "${TRIGGERS[@]}"
	: >"$T/release.work"
	next_run 2
	: >"$T/release.work"
	next_run 3
	: >"$T/release.work"
	wait
	[ "$(ran work)" -eq 3 ]
}

@test "SINGLE_QUEUE=1: a trigger during the queued run queues again" {
	triggers 1 SINGLE_QUEUE=1
	next_run 1
	triggers 1 SINGLE_QUEUE=1
	queued "${TRIGGERS[0]}"
	: >"$T/release.work"
	next_run 2
	# the queued start holds the lock now, and gave its place back
	triggers 1 SINGLE_QUEUE=1
	queued "${TRIGGERS[0]}"
	: >"$T/release.work"
	next_run 3
	: >"$T/release.work"
	wait
	[ "$(ran work)" -eq 3 ]
}

# ---- counting ----------------------------------------------------------------

@test "200 simultaneous skipped starts are counted exactly in the holder's record" {
	start_holder first
	[ "$(skipped_count "$HOLDER_LOCK")" -eq 0 ]
	local i pids=()
	for ((i = 0; i < 200; i++)); do
		timeout 30 env LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/never.ready" /dev/null 3>&- &
		pids+=($!)
	done
	wait "${pids[@]}"
	[ ! -e "$T/never.ready" ]
	[ "$(skipped_count "$HOLDER_LOCK")" -eq 200 ]
	run try_start SINGLE_EXPLAIN=1 "$BIN/holder" "$T/never.ready" /dev/null
	[[ $output == *"skipped: 200"* ]]
	release first
	# the next holder counts from 0
	start_holder second
	[ "$(skipped_count "$HOLDER_LOCK")" -eq 0 ]
	release second
}
