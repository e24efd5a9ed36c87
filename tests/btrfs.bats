#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# A lock directory on btrfs (issue #9.13).  In a btrfs subvolume, stat(2)
# reports a device number of the subvolume's own, while /proc/locks and
# /proc/PID/fdinfo print the file system's: a holder looked up by the
# numbers stat gives is never found.  The library must find it all the
# same: for the ancestor rule, for SINGLE_EXPLAIN and for SINGLE_REPLACE.
#
# The file system is a loop mount of a file image (root only), made once
# for the file and taken down again at the end.

load helpers

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "mounting a btrfs image needs root"
	if ! command -v mkfs.btrfs >/dev/null || ! command -v btrfs >/dev/null; then
		skip "btrfs-progs is not installed (apt-get install btrfs-progs)"
	fi
	export BTRFS_MNT=$BATS_FILE_TMPDIR/mnt
	truncate -s 128M "$BATS_FILE_TMPDIR/btrfs.img"
	mkfs.btrfs -q "$BATS_FILE_TMPDIR/btrfs.img" >/dev/null 2>&1 ||
		skip "mkfs.btrfs cannot make a file system here"
	mkdir "$BTRFS_MNT"
	mount -o loop "$BATS_FILE_TMPDIR/btrfs.img" "$BTRFS_MNT" 2>/dev/null ||
		skip "this machine cannot mount a btrfs image through a loop device"
	btrfs subvolume create "$BTRFS_MNT/sub" >/dev/null
}

teardown_file() {
	local loop
	[ -n "${BTRFS_MNT:-}" ] && mountpoint -q "$BTRFS_MNT" || return 0
	loop=$(findmnt -no SOURCE "$BTRFS_MNT")
	umount "$BTRFS_MNT"
	# mount -o loop detaches on umount; make sure
	[ -z "$loop" ] || ! losetup "$loop" >/dev/null 2>&1 || losetup -d "$loop" 2>/dev/null || true
}

setup() {
	common_setup
	SINGLE_DIR=$BTRFS_MNT/sub/locks.$BATS_TEST_NUMBER
	# the premise: stat's device is not the one the kernel's lock lines print
	[ "$(findmnt -no MAJ:MIN "$BTRFS_MNT" | tr -d ' ')" != "$(stat -c '%Hd:%Ld' "$BTRFS_MNT/sub")" ]
}
teardown() { common_teardown; }

@test "on btrfs (in a subvolume), a holder's descendant that starts the same program runs" {
	local lock
	lock=$(lock_name "$BIN/daemon")
	start_holder d -- "$BIN/daemon" stay "$T/d.ready" "$T/release.d" \
		env LD_PRELOAD="$PRELOAD" "$BIN/daemon" stay "$T/again.ready" -
	is_locked "$lock"
	wait_for_file_while "$T/d.ready.cmd" "$HOLDER_PID"
	[ "$(sed -n 2p "$T/d.ready.cmd")" = "exited 0" ]
	[ -e "$T/again.ready" ]
	# a start from elsewhere is still skipped
	run try_start "$BIN/daemon" stay "$T/other.ready" -
	[ "$status" -eq 0 ]
	[ ! -e "$T/other.ready" ]
	finish d
}

@test "on btrfs (in a subvolume), SINGLE_EXPLAIN says: state: held by pid N" {
	start_holder first
	[ "$(fd_holders "$HOLDER_LOCK")" = "$HOLDER_PID" ]
	run try_start SINGLE_EXPLAIN=1 "$BIN/holder" "$T/x.ready" /dev/null
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "lock: $HOLDER_LOCK" ]
	[ "${lines[2]}" = "state: held by pid $HOLDER_PID" ]
	finish first
}

@test "on btrfs (in a subvolume), SINGLE_REPLACE stops the holder and starts in its place" {
	start_holder first
	run try_start SINGLE_REPLACE=2 "$BIN/holder" "$T/second.ready" /dev/null
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ -e "$T/second.ready" ]
	reap "$HOLDER_PID"
	# SIGTERM
	[ "$REAPED" -eq 143 ]
}
