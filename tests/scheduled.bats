#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Scheduled jobs in practice: a stuck holder is said and exits 75
# (SINGLE_STALE), a burst of triggers during a run gives one more run
# (SINGLE_QUEUE), and every start turned away is counted in the holder's
# record.

load helpers

setup() {
	common_setup
	export SYNC_DIR=$T
	mkfifo "$T/release.work"
	ALL_TRIGGERS=()
}
teardown() { common_teardown; }

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
	for p; do ended "$p" || n=$((n + 1)); done
	echo "$n"
}

# until_alive N PID...: wait (BOUND s at most) until exactly N of them run
until_alive() {
	local want=$1 end
	shift
	deadline end "$BOUND"
	until [ "$(alive "$@")" -eq "$want" ]; do
		! passed "$end" || { echo "$(alive "$@") of $# still run, not $want" >&2; return 1; }
		sleep 0.01
	done
}

# queued PID: PID is blocked waiting for mbsync's lock (BOUND s at most)
queued() {
	local end
	deadline end "$BOUND"
	until waiting_on "$(lock_name "$BIN/mbsync")" "$1"; do
		! passed "$end" && ! ended "$1" ||
			{ echo "$1 did not queue" >&2; return 1; }
		sleep 0.01
	done
}

# triggers N ENV...: N starts of `mbsync work` at once, spawned; their
# pids in TRIGGERS, and with those of the earlier triggers in ALL_TRIGGERS.
# env is not preloaded: a musl or 32-bit library could not load into it.
triggers() {
	local n=$1 i
	shift
	TRIGGERS=()
	for ((i = 0; i < n; i++)); do
		spawn env "$@" LD_PRELOAD="$PRELOAD" "$BIN/mbsync" work
		TRIGGERS+=("$BG_PID")
	done
	ALL_TRIGGERS+=("${TRIGGERS[@]}")
}

# reap_all PID...: reap each (BOUND s at most); their statuses in
# REAPED_ALL, in order
reap_all() {
	local p
	REAPED_ALL=()
	for p; do
		reap "$p" || return 1
		REAPED_ALL+=("$REAPED")
	done
}

# next_run N: wait until mbsync work has run N times (BOUND s at most)
next_run() {
	local end
	deadline end "$BOUND"
	until [ "$(ran work)" -ge "$1" ]; do
		! passed "$end" || { echo "ran $(ran work) times, not $1" >&2; return 1; }
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
	reap "$HOLDER_PID"
	[ "$REAPED" -eq 0 ] || [ "$REAPED" -eq 143 ]   # SIGTERM
	! kill -0 "$HOLDER_PID" 2>/dev/null || false
}

@test "SINGLE_STALE counts from when the holder took the lock, across its exec" {
	needs_system_programs sh
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
	fifo_close "$T/release.work"
	reap "$first"
	[ "$REAPED" -eq 0 ]
	next_run 2
	fifo_close "$T/release.work"
	reap_all "${TRIGGERS[@]}"
	local s
	for s in "${REAPED_ALL[@]}"; do [ "$s" -eq 0 ]; done
	[ "$(ran work)" -eq 2 ]
}

@test "SINGLE_QUEUE=2: 20 triggers during a run give exactly two more runs" {
	triggers 1 SINGLE_QUEUE=2
	next_run 1
	triggers 20 SINGLE_QUEUE=2
	until_alive 2 "${TRIGGERS[@]}"
	fifo_close "$T/release.work"
	next_run 2
	fifo_close "$T/release.work"
	next_run 3
	fifo_close "$T/release.work"
	reap_all "${ALL_TRIGGERS[@]}"
	[ "$(ran work)" -eq 3 ]
}

@test "SINGLE_QUEUE=1: a trigger during the queued run queues again" {
	triggers 1 SINGLE_QUEUE=1
	next_run 1
	triggers 1 SINGLE_QUEUE=1
	queued "${TRIGGERS[0]}"
	fifo_close "$T/release.work"
	next_run 2
	# the queued start holds the lock now, and gave its place back
	triggers 1 SINGLE_QUEUE=1
	queued "${TRIGGERS[0]}"
	fifo_close "$T/release.work"
	next_run 3
	fifo_close "$T/release.work"
	reap_all "${ALL_TRIGGERS[@]}"
	[ "$(ran work)" -eq 3 ]
}

# ---- counting ----------------------------------------------------------------

@test "200 simultaneous skipped starts are counted exactly in the holder's record" {
	start_holder first
	[ "$(skipped_count "$HOLDER_LOCK")" -eq 0 ]
	# one time limit for all 200, no wrapper per start; each exits 0 (a
	# start that wrongly runs ends at once too: RELEASE is /dev/null)
	bounded bash -c '
		pids=()
		for ((i = 0; i < 200; i++)); do
			LD_PRELOAD=$0 "$1" "$2" /dev/null &
			pids+=($!)
		done
		for p in "${pids[@]}"; do wait "$p" || exit 1; done' \
		"$PRELOAD" "$BIN/holder" "$T/never.ready"
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

# ---- single --list, --prune ------------------------------------------------------

@test "single --list shows state, holder, since, for how long, skipped and waiting; stuck past --stale" {
	start_holder first
	run try_start "$BIN/holder" "$T/never.ready" /dev/null
	run try_start "$BIN/holder" "$T/never.ready" /dev/null
	start_waiter w "$HOLDER_LOCK" SINGLE_WAIT=30 -- "$BIN/holder" "$T/w.ready" /dev/null
	run single_cmd --list
	[ "$status" -eq 0 ]
	grep -Eqx "held +$HOLDER_PID +holder +$(date +%Y-%m-%d) [0-9:]{8} +[0-9dhms]+ +2 +1 $BIN/holder" <<<"$output"
	run single_cmd --list --stale 0
	grep -Eq "^stuck +$HOLDER_PID +holder " <<<"$output"
	SINGLE_STALE=3600 run single_cmd --list
	grep -Eq "^held +$HOLDER_PID +holder " <<<"$output"
	release first
	wait_for_file "$T/w.ready"
}

@test "single --list --json parses as JSON and carries the documented fields" {
	needs_system_programs /bin/true
	start_holder first
	run try_start "$BIN/holder" "$T/never.ready" /dev/null
	single_cmd /bin/true
	run single_cmd --list --json
	[ "$status" -eq 0 ]
	printf '%s' "$output" >"$T/list.json"
	run /usr/bin/python3 - "$T/list.json" "$HOLDER_PID" "$BIN/holder" "$(hostname)" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
pid, key, host = int(sys.argv[2]), sys.argv[3], sys.argv[4]
fields = {"key", "file", "state", "remote", "pids", "programs", "host",
          "since", "held_seconds", "skipped", "waiting"}
assert isinstance(rows, list) and len(rows) == 2, rows
for r in rows:
    assert set(r) == fields, sorted(r)
held = [r for r in rows if r["key"] == key][0]
assert held["state"] == "held" and held["pids"] == [pid], held
assert held["programs"] == ["holder"] and held["host"] == host, held
assert held["remote"] is False and held["skipped"] == 1 and held["waiting"] == 0, held
assert held["since"].endswith("Z") and held["held_seconds"] >= 0, held
free = [r for r in rows if r["key"] != key][0]
assert free["state"] == "free" and free["pids"] == [] and free["since"] is None, free
print("ok")
PY
	echo "$output"
	[ "$status" -eq 0 ]
	release first
	# no lock directory: an empty array
	run single_cmd --list --json -d "$T/nonexistent"
	[ "$output" = "[]" ]
}

@test "single --list on host B shows this host's holder as remote, with its since" {
	command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
	start_holder first SINGLE_KEY=job
	run on_host_b env SINGLE_LIB="$LIB" SINGLE_DIR="$SINGLE_DIR" "$SINGLE_CMD" --list
	grep -Eqx "held +$HOLDER_PID@$(hostname) +holder +$(date +%Y-%m-%d) [0-9:]{8} +[0-9dhms]+ +0 +0 job \(SINGLE_KEY\)" <<<"$output"
	run on_host_b env SINGLE_LIB="$LIB" SINGLE_DIR="$SINGLE_DIR" "$SINGLE_CMD" --list --json
	grep -q '"remote": true' <<<"$output"
	release first
}

@test "single --prune removes the lock files nobody holds and no start used for DAYS, and says so" {
	needs_system_programs /bin/true
	start_holder first
	single_cmd /bin/true
	: >"$SINGLE_DIR/@recent.lock"
	local old=$SINGLE_DIR/@old.lock
	: >"$old"
	touch -d '10 days ago' "$old" "$HOLDER_LOCK"
	run single_cmd --prune
	[ "$status" -eq 0 ]
	# the default is 7 days: only the old free one goes
	[ "$output" = "removed $old" ]
	[ ! -e "$old" ]
	[ -e "$SINGLE_DIR/@recent.lock" ]
	[ -e "$HOLDER_LOCK" ]           # held: never removed, however old
	run single_cmd --prune --older 0
	[ "$(sort <<<"$output")" = "$(printf 'removed %s\n' "$SINGLE_DIR/@recent.lock" \
		"$(lock_name "$(readlink -f /bin/true)")" | sort)" ]
	[ -e "$HOLDER_LOCK" ]
	is_locked "$HOLDER_LOCK"
	release first
	run single_cmd --prune --older 0
	[ "$output" = "removed $HOLDER_LOCK" ]
}

@test "single --prune racing starts: no held file removed, never two instances" {
	needs_system_programs bash
	# job.sh runs as one instance: a second one inside at once leaves a mark
	cat >"$T/job.sh" <<'SH'
#!/bin/bash
mkdir "$1/inside" 2>/dev/null || { : >"$1/two"; exit 1; }
lock=$2
ino=$(stat -c %i "$lock")
for _ in 1 2 3; do :; done
[ "$(stat -c %i "$lock" 2>/dev/null)" = "$ino" ] || : >"$1/removed"
rmdir "$1/inside"
SH
	chmod +x "$T/job.sh"
	local lock
	lock=$(lock_name "$(readlink -f "$T/job.sh")")
	# one time limit for all 160, no wrapper per start
	bounded bash -c '
		pids=()
		for ((i = 0; i < 80; i++)); do
			LD_PRELOAD=$0 "$1" "$2" "$3" &
			pids+=($!)
			SINGLE_LIB=$4 "$5" --prune --older 0 >/dev/null &
			pids+=($!)
		done
		wait "${pids[@]}" || :' \
		"$PRELOAD" "$T/job.sh" "$T" "$lock" "$LIB" "$SINGLE_CMD"
	[ ! -e "$T/two" ]
	[ ! -e "$T/removed" ]
	[ ! -e "$T/inside" ]
}
