#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The lock lives as long as the instance (issue #3): whatever a program
# does with its descriptors (closing all of them, dup2 onto every number,
# from several threads at once), its lock stays held and a second start
# is refused, and the calls return what they would without the library.
#
# The lock's descriptors sit at 1022 and 1023 (or above the soft
# RLIMIT_NOFILE after a dup2 onto those numbers).  To the program they do
# not exist: close() and every fcntl() command on them fail with EBADF,
# and fcntl(F_DUPFD) gives their numbers as it would if they were free.
# /proc/self/fd still lists them, and read() or fstat() of their numbers
# still works: the library hides them from the calls it interposes only
# (close, close_range, closefrom, dup2, dup3, fcntl, fcntl64, and those
# made through syscall()), and these tests check no more than that.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

# games PROG [MODE]: tests/progs' PROG run (with MODE) while holding the
# lock, compared with a run without the library; the lock, its holder's
# descriptor and the pid in its file stay as they were.
games() {
	local prog=$BIN/$1 mode=("${@:2}") lock
	lock=$(lock_name "$prog")
	"$prog" "${mode[@]}" "$T/plain.out" "$T/plain.ready" 3>&-
	start_holder games -- "$prog" "${mode[@]}" "$T/games.out" \
		"$T/games.ready" "$T/release.games"
	is_locked "$lock"
	[ "$(fd_holders "$lock")" = "$HOLDER_PID" ]
	[ "$(lock_holders "$lock")" = "$HOLDER_PID" ]
	[ "$(record_pid "$lock")" = "$HOLDER_PID" ]
	skipped "$prog" "${mode[@]}" "$T/second.out" "$T/second.ready"
	[ ! -e "$T/second.ready" ]
	[ ! -e "$T/second.out" ]
	is_locked "$lock"
	diff -u "$T/plain.out" "$T/games.out"
	finish games
	lock_is_free "$lock"
}

@test "a bash script that opens every descriptor from 3 to 255 keeps its lock" {
	needs_system_programs bash
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
	games fdgames closeall
	# the limit is far above 1022/1023: both were closed and failed EBADF
	grep -qx '1022 -1 EBADF' "$T/games.out"
	grep -qx '1023 -1 EBADF' "$T/games.out"
}

@test "close_range(3, ~0U, 0) keeps the lock and returns what it would" {
	games fdgames close_range
}

@test "closefrom(3) keeps the lock" {
	games fdgames closefrom
}

@test "dup2 onto every number from 3 to 1023 keeps the lock, each call returns what it would" {
	games fdgames dup2
	[ "$(wc -l <"$T/games.out")" -eq $((2 * 1021 + 1)) ]
}

@test "dup3 onto every number from 3 to 1023 keeps the lock, each call returns what it would" {
	games fdgames dup3
}

@test "dup2 onto every number from 3 to 1023 keeps the lock with a soft limit of 1024" {
	ulimit -n 8192 && ulimit -Sn 1024
	games fdgames dup2
}

@test "python os.closerange(3, 65536) keeps the lock" {
	needs_system_programs python3
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
	games fdgames hidden
	grep -qx '1022 -1 EBADF' "$T/games.out"
	grep -qx '1023 -1 EBADF' "$T/games.out"
}

@test "dup3 of 1022 or 1023 onto itself fails with EINVAL, as for any number" {
	games fdgames hiddendup3
	grep -qx -- '-3022 -1 EINVAL' "$T/games.out"
}

# A program that dup2s onto 1022 must not find the library's copy in the
# number its next open() gets.  Soft and hard limit equal is common
# (containers, CI): there is then no room above the soft limit.
@test "dup2 onto 1022 and 1023 leaves the next open() number unchanged (soft = hard limit)" {
	ulimit -n 4096
	games fdgames dup2top
}

@test "dup2 onto 1022 and 1023 leaves the next open() number unchanged (soft limit 1024)" {
	ulimit -n 8192 && ulimit -Sn 1024
	games fdgames dup2top
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

@test "a dup2 onto 1022 that fails because another thread closed the source leaves 1022 closed, not a copy of the lock (100 runs)" {
	local i out
	# dupclose races one dup2 onto our number against a close; the old
	# code moved ours away, then lost the dup2 and left the copy open
	for ((i = 1; i <= 100; i++)); do
		out=$(try_start "$BIN/dupclose" 1)
		[ "$out" = ok ] || { echo "run $i: $out" >&2; return 1; }
	done
}

@test "a dup2 or dup3 onto the lock's numbers that fails changes nothing: they stay hidden" {
	"$BIN/dupfail" >"$T/plain.out"
	try_start "$BIN/dupfail" >"$T/preloaded.out"
	diff -u "$T/plain.out" "$T/preloaded.out"
}

# ---- closefrom where close_range fails -------------------------------------

# closefromgames runs with close_range refused with ENOSYS by a seccomp
# filter, as glibc's closefrom meets it before Linux 5.9.

@test "closefrom(3) where close_range fails with ENOSYS closes every descriptor from 3, and the lock stays" {
	needs_native_m32 "seccomp filters (the test makes close_range fail with one)"
	needs_glibc_function closefrom
	games closefromgames proc
	grep -qx 'open:' "$T/games.out"
}

@test "closefrom(3) where close_range fails with ENOSYS and every number is taken closes them all, and the lock stays" {
	needs_native_m32 "seccomp filters (the test makes close_range fail with one)"
	needs_glibc_function closefrom
	ulimit -n 2048
	games closefromgames full
	grep -qx 'open:' "$T/games.out"
}

@test "closefrom(3) where close_range fails with ENOSYS and /proc is missing aborts, as glibc's closefrom does" {
	needs_native_m32 "seccomp filters (the test makes close_range fail with one)"
	needs_glibc_function closefrom
	[ "$(id -u)" -eq 0 ] || skip "a mount namespace without /proc needs root"
	local plain_status plain_output
	run "$BIN/closefromgames" noproc "$T/plain.out" "$T/plain.ready"
	[[ "$output" != *"no /proc"* ]] || skip "/proc cannot be unmounted here: $output"
	plain_status=$status plain_output=$output
	[ "$plain_status" -eq 134 ]
	[[ "$plain_output" == *"closefrom failed to close a file descriptor"* ]]
	run try_start "$BIN/closefromgames" noproc "$T/held.out" "$T/held.ready"
	echo "$output"
	[ "$status" -eq "$plain_status" ]
	[ "$output" = "$plain_output" ]
	[ ! -e "$T/held.out" ]
	lock_is_free "$(lock_name "$BIN/closefromgames")"
}

# ---- fcntl: the hidden numbers are closed to every command ---------------

@test "fcntl and fcntl64 on 1022 and 1023 fail with EBADF for every command, as on closed numbers" {
	games fcntlgames hidden
	grep -qx 'fcntl F_GETFD 1022: -1 EBADF' "$T/games.out"
	grep -qx 'fcntl64 F_DUPFD 1023: -1 EBADF' "$T/games.out"
}

@test "fcntl(F_DUPFD) from or below 1022 and 1023 gives them as it would without the library, and the lock stays (soft limit 1024)" {
	ulimit -n 8192 && ulimit -Sn 1024
	games fcntlgames dupfd
	grep -qx 'fcntl F_DUPFD from 3: 1022 - cloexec=0' "$T/games.out"
}

@test "fcntl commands that take a pointer (F_OFD_GETLK, F_GETLK, F_GETOWN_EX) work as without the library" {
	games fcntlgames pointer
}

# F_GETOWN answers a process group as its negative id: for a group id
# below 4096 that reads like -errno, and must not be taken for an error.
@test "fcntl(F_GETOWN) of a process group whose id is below 4096 (in a PID namespace) gives its negative id" {
	[ "$(id -u)" -eq 0 ] || skip "a PID namespace needs root"
	# pid 1 is sh; fcntlgames, pid 2, leads a group of its own: pgrp 2
	run bounded unshare -p -f --mount-proc sh -c \
		'setsid env LD_PRELOAD="$0" "$1" pointer "$2" "$3" 3>&-; cat "$2"' \
		"$PRELOAD" "$BIN/fcntlgames" "$T/ns.out" "$T/ns.ready"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$T/ns.ready")" -lt 4096 ]
	grep -qx 'fcntl F_GETOWN: is -pgrp=1' "$T/ns.out"
	grep -qx 'fcntl64 F_GETOWN: is -pgrp=1' "$T/ns.out"
}

@test "bash: exec 1022>file and exec 1023>file work as without the library, and the lock stays" {
	needs_system_programs bash
	cat >"$T/redirect" <<'SCRIPT'
#!/bin/bash
# redirect OUTDIR READY [RELEASE]: bash's own redirections onto 1022 and
# 1023 (bash asks fcntl whether a number is open before it takes it)
exec 1022>"$1/out22"
echo one >&1022
exec 1023>"$1/out23"
echo two >&1023
echo three >&1022
{ echo four >&1023; } 2>>"$1/errors"
exec 1022>&- 1023>&-
{ echo five >&1022; } 2>>"$1/errors" || echo "closed 1022" >>"$1/errors"
echo $$ >"$2.tmp" && mv "$2.tmp" "$2"
[ -z "${3:-}" ] || read -r _ <"$3" || true
SCRIPT
	chmod +x "$T/redirect"
	local lock
	lock=$(lock_name "$T/redirect")
	mkdir "$T/plain" "$T/held"
	"$T/redirect" "$T/plain" "$T/plain.ready" 3>&-
	start_holder rd -- "$T/redirect" "$T/held" "$T/rd.ready" "$T/release.rd"
	is_locked "$lock"
	[ "$(lock_holders "$lock")" = "$HOLDER_PID" ]
	[ "$(record_pid "$lock")" = "$HOLDER_PID" ]
	skipped "$T/redirect" "$T/second" "$T/second.ready"
	[ ! -e "$T/second.ready" ]
	[ "$(cat "$T/held/out22")" = "$(printf 'one\nthree')" ]
	[ "$(cat "$T/held/out23")" = "$(printf 'two\nfour')" ]
	diff -u "$T/plain/out22" "$T/held/out22"
	diff -u "$T/plain/out23" "$T/held/out23"
	sed -i 's/line [0-9]*: //' "$T/plain/errors" "$T/held/errors"
	diff -u "$T/plain/errors" "$T/held/errors"
	finish rd
	lock_is_free "$lock"
}

# ---- syscall(): the same calls made through libc's syscall() ------------

@test "syscall(SYS_close/SYS_fcntl/SYS_dup2/SYS_dup3/SYS_close_range) on 1022 and 1023 works as without the library, and the lock stays" {
	games syscallgames
	grep -qx 'close 1022: -1 EBADF' "$T/games.out"
	grep -qx 'getpid is getpid(): 1 -' "$T/games.out"
}

@test "node: fs.closeSync(1022) and fs.closeSync(1023) (libuv closes through syscall()) fail with EBADF, and the lock stays" {
	needs_system_programs node
	command -v node >/dev/null || skip "node is not installed"
	cat >"$T/closer.js" <<'JS'
const fs = require("fs");
const [ready, release] = process.argv.slice(2);
const lines = [String(process.pid)];
for (const fd of [1022, 1023]) {
	try {
		fs.closeSync(fd);
		lines.push(`close${fd}=0`);
	} catch (e) {
		lines.push(`close${fd}=${e.code}`);
	}
}
fs.writeFileSync(ready + ".tmp", lines.join("\n") + "\n");
fs.renameSync(ready + ".tmp", ready);
if (release)
	fs.readFileSync(release);
JS
	local lock
	lock=$(lock_name "$T/closer.js")
	node "$T/closer.js" "$T/plain.ready" 3>&-
	grep -qx 'close1022=EBADF' "$T/plain.ready"
	start_holder node -- node "$T/closer.js" "$T/node.ready" "$T/release.node"
	grep -qx 'close1022=EBADF' "$T/node.ready"
	grep -qx 'close1023=EBADF' "$T/node.ready"
	is_locked "$lock"
	[ "$(lock_holders "$lock")" = "$HOLDER_PID" ]
	skipped node "$T/closer.js" "$T/second.ready"
	[ ! -e "$T/second.ready" ]
	finish node
	lock_is_free "$lock"
}
