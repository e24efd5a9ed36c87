#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The lock lives as long as the instance (issue #3): whatever a program
# does with its descriptors (closing all of them, dup2 onto every number,
# from several threads at once), its lock stays held and a second start
# is refused, and the calls return what they would without the library.
#
# The lock's descriptors sit at 1022 and 1023 (or above the soft
# RLIMIT_NOFILE after a dup2 onto those numbers).  To the program they do
# not exist: close() on them fails with EBADF.  /proc/self/fd still lists
# them, and fcntl() on their numbers still works: the library hides them
# from the calls it interposes only (close, close_range, closefrom, dup2,
# dup3), and these tests check no more than that.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

# games MODE: fdgames MODE held, compared with a run without the library.
games() {
	local mode=$1 lock
	lock=$(lock_name "$BIN/fdgames")
	"$BIN/fdgames" "$mode" "$T/plain.out" "$T/plain.ready" 3>&-
	start_holder games -- "$BIN/fdgames" "$mode" "$T/games.out" \
		"$T/games.ready" "$T/release.games"
	is_locked "$lock"
	[ "$(fd_holders "$lock")" = "$HOLDER_PID" ]
	skipped "$BIN/fdgames" "$mode" "$T/second.out" "$T/second.ready"
	[ ! -e "$T/second.ready" ]
	[ ! -e "$T/second.out" ]
	is_locked "$lock"
	diff -u "$T/plain.out" "$T/games.out"
	finish games
	lock_is_free "$lock"
}

@test "a bash script that opens every descriptor from 3 to 255 keeps its lock" {
	cat >"$T/fdbash" <<'EOF'
#!/bin/bash
for ((n = 3; n <= 255; n++)); do
	eval "exec $n>/dev/null" || exit 1
done
# 255 is where bash keeps the script itself: it stays bash's own
for ((n = 3; n <= 254; n++)); do
	echo work >&"$n" || exit 1
done
echo $$ >"$1.tmp" && mv "$1.tmp" "$1"
read -r _ <"$2" || true
EOF
	chmod +x "$T/fdbash"
	local lock
	lock=$(lock_name "$T/fdbash")
	start_holder fdbash -- "$T/fdbash" "$T/fdbash.ready" "$T/release.fdbash"
	is_locked "$lock"
	skipped "$T/fdbash" "$T/second.ready" "$T/nofifo"
	[ ! -e "$T/second.ready" ]
	is_locked "$lock"
	finish fdbash
	lock_is_free "$lock"
}

@test "closing every descriptor up to the open-file limit keeps the lock, each close returns what it would" {
	# a container's limit can be 2^30: keep the loop to a sane length
	if [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -gt 65536 ]; then
		ulimit -n 65536
	fi
	games closeall
	# the limit is far above 1022/1023: both were closed and failed EBADF
	grep -qx '1022 -1 EBADF' "$T/games.out"
	grep -qx '1023 -1 EBADF' "$T/games.out"
}

@test "close_range(3, ~0U, 0) keeps the lock and returns what it would" {
	games close_range
}

@test "closefrom(3) keeps the lock" {
	games closefrom
}

@test "dup2 onto every number from 3 to 1023 keeps the lock, each call returns what it would" {
	games dup2
	[ "$(wc -l <"$T/games.out")" -eq $((2 * 1021 + 1)) ]
}

@test "dup3 onto every number from 3 to 1023 keeps the lock, each call returns what it would" {
	games dup3
}

@test "dup2 onto every number from 3 to 1023 keeps the lock with a soft limit of 1024" {
	ulimit -n 8192 && ulimit -Sn 1024
	games dup2
}

@test "python os.closerange(3, 65536) keeps the lock" {
	cat >"$T/closer.py" <<'EOF'
import os, sys
os.closerange(3, 65536)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
with open(sys.argv[2]) as f:
    f.read()
EOF
	local lock
	lock=$(lock_name "$T/closer.py")
	start_holder py -- "$PYTHON" "$T/closer.py" "$T/py.ready" "$T/release.py"
	is_locked "$lock"
	[ "$(fd_holders "$lock")" = "$HOLDER_PID" ]
	skipped "$PYTHON" "$T/closer.py" "$T/second.ready" "$T/nofifo"
	[ ! -e "$T/second.ready" ]
	finish py
	lock_is_free "$lock"
}

@test "to the program the lock's descriptors do not exist: close(1022) and close(1023) fail with EBADF, dup2 from them too" {
	games hidden
	grep -qx '1022 -1 EBADF' "$T/games.out"
	grep -qx '1023 -1 EBADF' "$T/games.out"
}

@test "dup3 of 1022 or 1023 onto itself fails with EINVAL, as for any number" {
	games hiddendup3
	grep -qx -- '-3022 -1 EINVAL' "$T/games.out"
}

# A program that dup2s onto 1022 must not find the library's copy in the
# number its next open() gets.  Soft and hard limit equal is common
# (containers, CI): there is then no room above the soft limit.
@test "dup2 onto 1022 and 1023 leaves the next open() number unchanged (soft = hard limit)" {
	ulimit -n 4096
	games dup2top
}

@test "dup2 onto 1022 and 1023 leaves the next open() number unchanged (soft limit 1024)" {
	ulimit -n 8192 && ulimit -Sn 1024
	games dup2top
}

# threads [ROUNDS MODE]: fdthreads, run three times, keeps its lock every
# time.  A lost lock is a race: one run may miss it, three rarely do.
# The limits are set, not inherited: where the hard limit leaves no room
# the library moves its descriptor just below the soft limit, and the
# kernel's work per close_range grows with that number.
threads() {
	local lock i
	lock=$(lock_name "$BIN/fdthreads")
	for i in 1 2 3; do
		rm -f "$T/threads.ready"
		start_holder threads -- "$BIN/fdthreads" "$T/threads.ready" \
			"$T/release.threads" "${1:-20000}" "${2:-mixed}"
		is_locked "$lock" || { echo "lock lost in run $i"; return 1; }
		# RLIMIT_NOFILE as the program left it (the library raises
		# the soft limit for a moment when it moves its descriptor)
		[ "$(sed -n 2p "$T/threads.ready")" = "$(sed -n 3p "$T/threads.ready")" ] ||
			{ echo "RLIMIT_NOFILE changed in run $i:"; cat "$T/threads.ready"; return 1; }
		skipped "$BIN/fdthreads" "$T/second.ready" "$T/nofifo" 1
		[ ! -e "$T/second.ready" ]
		finish threads
		lock_is_free "$lock"
	done
}

@test "threads closing and dup2-ing descriptors at once keep the lock (soft = hard limit)" {
	ulimit -n 4096
	threads
}

@test "threads closing and dup2-ing descriptors at once keep the lock (soft limit 1024)" {
	ulimit -n 8192 && ulimit -Sn 1024
	threads
}

# The library moves its descriptor when a program dup2s onto 1022/1023;
# a close_range(3, ~0U, 0) in another thread at that moment must not
# close the copy being made.
@test "close_range(3, ~0U) in one thread while others dup2 onto 1022/1023 keeps the lock (soft limit 1024)" {
	ulimit -n 8192 && ulimit -Sn 1024
	threads 30000 evict
}

@test "close_range(3, ~0U) in one thread while others dup2 onto 1022/1023 keeps the lock (soft = hard limit)" {
	ulimit -n 4096
	threads 30000 evict
}

@test "a child forked while another thread closes around the lock never hangs" {
	# the library's guard is copied held into such a child; it must take
	# it over rather than spin (about 2 s; bounded well above that)
	BOUND=45 run try_start "$BIN/forkguard" 500
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "no hang" ]
}

@test "a dup2 or dup3 onto the lock's numbers that fails changes nothing: they stay hidden" {
	"$BIN/dupfail" >"$T/plain.out"
	try_start "$BIN/dupfail" >"$T/preloaded.out"
	diff -u "$T/plain.out" "$T/preloaded.out"
}
