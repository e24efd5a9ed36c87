#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Bad settings and setup errors: one line naming the value or the path
# and the reason, the documented status, and main() never runs (unless
# SINGLE_ON_ERROR=run, for setup errors only).

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

# bad VAR VALUE: a start with VAR=VALUE prints one line
# "libsingle: VAR: invalid value 'VALUE' (...)", exits 64 and never runs
# main, even with nothing else in its way
bad() {
	local var=$1 value=$2
	run try_start "$var=$value" "$BIN/holder" "$T/r" /dev/null
	echo "status $status, output: $output" >&2
	[ "$status" -eq 64 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == "libsingle: $var: invalid value '$value' ("*")" ]]
	[ ! -e "$T/r" ]
	# and SINGLE_ON_ERROR=run does not make a bad setting run
	run try_start SINGLE_ON_ERROR=run "$var=$value" "$BIN/holder" "$T/r" /dev/null
	[ "$status" -eq 64 ]
	[ ! -e "$T/r" ]
}

# good VAR VALUE: accepted; the program runs
good() {
	run try_start "$1=$2" "$BIN/holder" "$T/good.ready" /dev/null
	echo "$1=$2: status $status, output: $output" >&2
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -e "$T/good.ready" ]
	rm "$T/good.ready"
}

@test "a SINGLE_DIR longer than a path may be is refused: one line, status 64, even with SINGLE_ON_ERROR=run" {
	local dir
	dir=$(printf 'd%.0s' {1..5000})
	run try_start "SINGLE_DIR=$dir" "$BIN/holder" "$T/r" /dev/null
	[ "$status" -eq 64 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == "libsingle: SINGLE_DIR: invalid value 'ddd"* ]]
	[ ! -e "$T/r" ]
	run try_start SINGLE_ON_ERROR=run "SINGLE_DIR=$dir" "$BIN/holder" "$T/r" /dev/null
	[ "$status" -eq 64 ]
	[ ! -e "$T/r" ]
}

@test "SINGLE_WAIT=abc is refused: one line, status 64" { bad SINGLE_WAIT abc; }
@test "SINGLE_WAIT=-1 is refused: one line, status 64" { bad SINGLE_WAIT -1; }
@test "SINGLE_WAIT=1.5s and SINGLE_WAIT=. are refused" {
	bad SINGLE_WAIT 1.5s
	bad SINGLE_WAIT .
}
@test "SINGLE_CONFLICT_EXIT=256 is refused: one line, status 64" { bad SINGLE_CONFLICT_EXIT 256; }
@test "SINGLE_CONFLICT_EXIT=x is refused: one line, status 64" { bad SINGLE_CONFLICT_EXIT x; }
@test "SINGLE_KEY with a '/' is refused: one line, status 64" { bad SINGLE_KEY a/b; }
@test "SINGLE_KEY=. is refused: one line, status 64" { bad SINGLE_KEY .; }
@test "SINGLE_KEY=.. is refused: one line, status 64" { bad SINGLE_KEY ..; }
@test "SINGLE_KEY longer than 244 bytes is refused: one line, status 64" {
	bad SINGLE_KEY "$(printf 'k%.0s' {1..245})"
}
@test "SINGLE_VERBOSE=maybe is refused: one line, status 64" { bad SINGLE_VERBOSE maybe; }
@test "SINGLE_ON_ERROR=bogus is refused: one line, status 64" { bad SINGLE_ON_ERROR bogus; }
@test "SINGLE_MAX=0 is refused: one line, status 64" { bad SINGLE_MAX 0; }
@test "SINGLE_SCOPE=x is refused: one line, status 64" { bad SINGLE_SCOPE x; }

@test "the good values next to the bad ones are accepted" {
	good SINGLE_WAIT 0
	good SINGLE_WAIT 2.5
	good SINGLE_WAIT inf
	good SINGLE_CONFLICT_EXIT 0
	good SINGLE_CONFLICT_EXIT 255
	good SINGLE_KEY "$(printf 'k%.0s' {1..244})"
	good SINGLE_KEY .hidden
	good SINGLE_VERBOSE no
	good SINGLE_ON_ERROR exit
	good SINGLE_ON_ERROR run
	good SINGLE_MAX 1
	good SINGLE_MAX 1000
	good SINGLE_SCOPE program
	good SINGLE_SCOPE command
	[ -e "$SINGLE_DIR/@$(printf 'k%.0s' {1..244}).lock" ]
}

@test "an empty setting counts as unset" {
	start_holder first
	run try_start SINGLE_CONFLICT_EXIT= SINGLE_WAIT= SINGLE_KEY= SINGLE_VERBOSE= \
		SINGLE_ON_ERROR= SINGLE_MAX= SINGLE_SCOPE= "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/second.ready" ]
	release first
}

# setup_error STATUS MESSAGE CMD...: CMD ends with STATUS after the one
# line MESSAGE without running main; with SINGLE_ON_ERROR=run it prints
# the same line and then runs (unlocked).
setup_error() {
	local want_status=$1 want=$2
	shift 2
	rm -f "$T/r"
	run try_start "$@" "$BIN/holder" "$T/r" /dev/null
	echo "status $status, output: $output" >&2
	[ "$status" -eq "$want_status" ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$output" = "$want" ]
	[ ! -e "$T/r" ]
	run try_start SINGLE_ON_ERROR=run "$@" "$BIN/holder" "$T/r" /dev/null
	echo "with SINGLE_ON_ERROR=run: status $status, output: $output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
	[ -e "$T/r" ]
}

@test "an unsafe lock directory: one line, status 77; SINGLE_ON_ERROR=run runs after the line" {
	mkdir -m 0777 "$SINGLE_DIR"
	chmod 0777 "$SINGLE_DIR"
	setup_error 77 "libsingle: unsafe lock directory $SINGLE_DIR: writable by others (mode 0777)"
}

@test "a lock directory that cannot be created: one line, status 73; SINGLE_ON_ERROR=run runs after the line" {
	setup_error 73 "libsingle: cannot create lock directory $T/no/locks: No such file or directory" \
		SINGLE_DIR="$T/no/locks"
}

@test "a read-only file system: one line with the path and the reason, status 73; SINGLE_ON_ERROR=run runs" {
	mount_tmpfs "$T/ro" ro,mode=0700,size=64k
	setup_error 73 "libsingle: cannot open lock file $T/ro/$(basename "$(holder_lock)"): Read-only file system" \
		SINGLE_DIR="$T/ro"
	# a lock directory that would have to be made there
	setup_error 73 "libsingle: cannot create lock directory $T/ro/locks: Read-only file system" \
		SINGLE_DIR="$T/ro/locks"
}

@test "a read-only file system with the lock file already there: the start is locked all the same, without a record" {
	mkdir -m 0700 "$SINGLE_DIR"
	run try_start "$BIN/holder" "$T/first" /dev/null
	[ -f "$(holder_lock)" ]
	local before
	before=$(cat "$(holder_lock)")
	mount_ro_bind "$SINGLE_DIR" "$T/robind"
	local lock
	lock=$T/robind/$(basename "$(holder_lock)")
	start_holder ro SINGLE_DIR="$T/robind"
	# held, by the start, through a descriptor open for reading
	[ "$(lock_holders "$lock")" = "$HOLDER_PID" ]
	run try_start SINGLE_DIR="$T/robind" "$BIN/holder" "$T/second" /dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/second" ]
	# the record is an earlier holder's, untouched; --explain says so
	[ "$(cat "$lock")" = "$before" ]
	run try_start SINGLE_DIR="$T/robind" SINGLE_EXPLAIN=1 "$BIN/holder" "$T/third" /dev/null
	[ "${lines[2]}" = "state: held by pid $HOLDER_PID" ]
	[[ ${lines[3]} == "record: unknown"* ]]
	release ro
}

@test "a full file system (ENOSPC): one line with the path and the reason, status 73; SINGLE_ON_ERROR=run runs" {
	mount_tmpfs "$T/full" mode=0700,size=8k,nr_inodes=2
	# fill its last inode and its blocks
	dd if=/dev/zero of="$T/full/filler" bs=4k count=4 2>/dev/null || true
	! touch "$T/full/probe" 2>/dev/null || false
	setup_error 73 "libsingle: cannot open lock file $T/full/$(basename "$(holder_lock)"): No space left on device" \
		SINGLE_DIR="$T/full"
}

@test "too many open files (EMFILE): one line with the path and the reason, status 71; SINGLE_ON_ERROR=run runs" {
	mkdir -m 0700 "$SINGLE_DIR"
	# 0-2 and the directory fit; the lock file does not.  Bounded like
	# try_start, which as a shell function cannot run under with_fd_limit.
	run with_fd_limit 4 timeout -k 2 "$BOUND" env LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/r" /dev/null
	echo "status $status, output: $output" >&2
	[ "$status" -eq 71 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$output" = "libsingle: cannot open lock file $(holder_lock): $(libc_message EMFILE)" ]
	[ ! -e "$T/r" ]
	run with_fd_limit 4 timeout -k 2 "$BOUND" env LD_PRELOAD="$PRELOAD" SINGLE_ON_ERROR=run "$BIN/holder" "$T/r" /dev/null
	[ "$status" -eq 0 ]
	[ "$output" = "libsingle: cannot open lock file $(holder_lock): $(libc_message EMFILE)" ]
	[ -e "$T/r" ]
}

@test "too few descriptors to open the lock (ulimit -n 4): one line saying so, with the path, status 71" {
	mkdir -m 0700 "$SINGLE_DIR"
	# the directory opens at 3; the lock file finds no free number
	run with_fd_limit 4 timeout -k 2 "$BOUND" env LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/r" /dev/null
	echo "status $status, output: $output" >&2
	[ "$status" -eq 71 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == "libsingle: "*"$(holder_lock): $(libc_message EMFILE)" ]]
	[ ! -e "$T/r" ]
}

@test "no room to move the lock out of the way (ulimit -n 6): the program still runs under the lock" {
	mkdir -m 0700 "$SINGLE_DIR"
	mkfifo "$T/release.tiny"
	spawn with_fd_limit 6 env LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/tiny.ready" "$T/release.tiny"
	local pid=$BG_PID
	wait_for_file "$T/tiny.ready"
	is_locked "$(holder_lock)"
	release tiny "$pid"
	! is_locked "$(holder_lock)" || false
}

@test "a small descriptor limit with room for the lock still runs the program under the lock" {
	mkdir -m 0700 "$SINGLE_DIR"
	mkfifo "$T/release.small"
	spawn with_fd_limit 16 env LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/small.ready" "$T/release.small"
	local pid=$BG_PID
	wait_for_file "$T/small.ready"
	is_locked "$(holder_lock)"
	release small "$pid"
}

@test "SINGLE_DIR=locks (a relative path) is refused in every working directory: one line, status 64, no directory made" {
	local d
	for d in a b; do
		mkdir "$T/$d"
		cd "$T/$d"
		run try_start SINGLE_DIR=locks "$BIN/holder" "$T/$d.ready" /dev/null
		echo "in $d: status $status, output: $output" >&2
		[ "$status" -eq 64 ]
		[ "$output" = "libsingle: SINGLE_DIR: invalid value 'locks' (a lock directory must be an absolute path)" ]
		[ ! -e "$T/$d/locks" ]
		[ ! -e "$T/$d.ready" ]
	done
}

@test "an invalid value with a newline in it is printed as one line, the newline written \\n" {
	run try_start SINGLE_WAIT=$'1\nlibsingle: forged line' "$BIN/holder" "$T/r" /dev/null
	echo "status $status, output: $output" >&2
	[ "$status" -eq 64 ]
	[ "$(printf '%s\n' "$output" | wc -l)" -eq 1 ]
	[ "$output" = "libsingle: SINGLE_WAIT: invalid value '1\\nlibsingle: forged line' (expected seconds, a decimal number such as 2.5, or inf)" ]
	[ ! -e "$T/r" ]
}

@test "SINGLE_REPLACE=inf (or INF, abc, -1) is refused with a message that does not offer inf" {
	local v
	for v in inf INF abc -1; do
		run try_start "SINGLE_REPLACE=$v" "$BIN/holder" "$T/r" /dev/null
		echo "SINGLE_REPLACE=$v: status $status, output: $output" >&2
		[ "$status" -eq 64 ]
		[ "$output" = "libsingle: SINGLE_REPLACE: invalid value '$v' (expected seconds, a decimal number such as 2.5)" ]
		[ ! -e "$T/r" ]
	done
}
