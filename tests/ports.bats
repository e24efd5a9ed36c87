#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# What differs between C libraries, loaders and word sizes, checked in
# every build (make test, test-musl, test-m32): the build's own loader run
# as a command, and file systems whose inode numbers need 64 bits.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

@test "this build's loader run as a command, ld.so PROGRAM, is keyed by PROGRAM (musl's leaves AT_EXECFN naming itself)" {
	local ld
	ld=$(readelf -lW "$BIN/holder" | sed -n 's/.*program interpreter: \(.*\)\]$/\1/p')
	[ -n "$ld" ] && [ -x "$ld" ] || skip "the test programs name no loader that can be run"
	start_running ld -- "$ld" "$BIN/holder" "$T/ld.ready" "$T/release.ld"
	[ "$(lock_holders "$HOLDER_LOCK")" = "$HOLDER_PID" ]
	skipped "$BIN/holder" "$T/direct.ready" /dev/null
	[ ! -e "$T/direct.ready" ]
	release ld
	# the other way round, the loader given a relative path
	start_running direct
	cd "$BIN"
	skipped "$ld" ./holder "$T/ld2.ready" /dev/null
	[ ! -e "$T/ld2.ready" ]
	release direct
}

@test "single's options end at COMMAND with this build's getopt_long: -w 5 after it goes to COMMAND" {
	run single_cmd -a "$BIN/holder" "$T/a.ready" /dev/null -w 5
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -e "$T/a.ready" ]
	# -a: the lock is keyed by every argument, -w and 5 among them
	[ -e "$(lock_name "$BIN/holder" "$T/a.ready" /dev/null -w 5)" ]
}

# overlay_xino: an overlayfs on $T/ov whose lower layer holds a lock
# directory ($T/ov/m/locks, SINGLE_DIR) with the holder's lock file in
# it: with xino, files of the lower layer get inode numbers above 2^63.
overlay_xino() {
	mkdir -p "$T/ov/m"
	mount_tmpfs "$T/ov/lower" size=1m && mount_tmpfs "$T/ov/upper" size=1m || return 1
	mkdir -m 0700 "$T/ov/lower/locks"
	mkdir "$T/ov/upper/up" "$T/ov/upper/work"
	SINGLE_DIR=$T/ov/lower/locks
	: >"$(holder_lock)"
	chmod 600 "$(holder_lock)"
	mount -t overlay libsingle-test -o "lowerdir=$T/ov/lower,upperdir=$T/ov/upper/up,workdir=$T/ov/upper/work,xino=on" \
		"$T/ov/m" 2>/dev/null || return 1
	TEARDOWN_MOUNTS=("$T/ov/m" "${TEARDOWN_MOUNTS[@]}")
	export SINGLE_DIR=$T/ov/m/locks
}

# wide_inode FILE: FILE's inode number needs more than 32 bits (it has
# more than 10 digits: test's integers stop at 2^63)
wide_inode() {
	local ino
	ino=$(stat -c %i "$1")
	echo "$1: inode $ino" >&2
	[ "${#ino}" -gt 10 ]
}

@test "on a file system with 64-bit inode numbers (overlayfs xino) the lock holds, the holder is named, --list shows it, and it goes through exec" {
	[ "$(id -u)" -eq 0 ] || skip "mounting needs root"
	overlay_xino || skip "no overlayfs with xino here"
	wide_inode "$SINGLE_DIR"
	wide_inode "$(holder_lock)"
	start_running first
	[ "$(lock_holders "$HOLDER_LOCK")" = "$HOLDER_PID" ]
	# the holder is found in /proc by its inode number
	run try_start SINGLE_VERBOSE=1 "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ "$output" = "libsingle: holder is already running (pid $HOLDER_PID); not starting" ]
	run single_cmd --list
	[ "$status" -eq 0 ]
	[[ ${lines[1]} == "held  $HOLDER_PID "*" $BIN/holder" ]]
	release first
	# SINGLE_HELD carries the device and inode numbers through exec
	start_running via -- "$BIN/execvia" execve "$BIN/envholder" "$T/via.ready" "$T/release.via"
	[ "$(head -n 1 "$T/via.ready")" = "$HOLDER_PID" ]
	grep -qx 'SINGLE_HELD unset' "$T/via.ready"
	grep -qx 'close1022=-1 EBADF' "$T/via.ready"
	[ "$(lock_holders "$(lock_name "$BIN/execvia")")" = "$HOLDER_PID" ]
	release via
}

@test "a 32-bit program built with 64-bit time_t (_TIME_BITS=64, fcntl named __fcntl_time64) finds 1022 and 1023 closed to fcntl as well" {
	[ "${SINGLE_TEST_VARIANT:-}" = m32 ] ||
		skip "for the 32-bit build (make test-m32): elsewhere time_t is 64 bits already"
	${CC:-cc} -m32 -O2 -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 -I"$TESTS_DIR/progs" \
		-o "$T/fcntlgames" "$TESTS_DIR/progs/fcntlgames.c"
	# the program really calls fcntl by that name
	nm -D "$T/fcntlgames" | grep -q ' U __fcntl_time64'
	start_holder fg -- "$T/fcntlgames" hidden "$T/fg.out" "$T/fg.ready" "$T/release.fg"
	[ "$(lock_holders "$(lock_name "$T/fcntlgames")")" = "$HOLDER_PID" ]
	finish fg
	grep -qx 'fcntl F_GETFD 1022: -1 EBADF' "$T/fg.out"
	grep -qx 'fcntl F_GETFD 1023: -1 EBADF' "$T/fg.out"
}
