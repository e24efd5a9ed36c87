#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Children that share the holder's memory (issue "Two instances must
# never run"): a vfork child, or a clone(CLONE_VM) child as posix_spawn
# makes, has descriptors of its own but the library's memory in common
# with its parent.  Whatever it does to the numbers 1022 and 1023 (dup2
# onto them, close, close_range, closefrom) happens to its own copy: the
# holder still finds them closed (EBADF), keeps its lock and carries it
# through its exec.  A fork child has its own copy of both, and keeps
# protecting the lock (a daemon whose parent exits), even when it makes
# a vfork child of its own before it touches the numbers itself.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

# kept MODE: vforker MODE holds its lock, both numbers closed to it, in
# the process that wrote the ready file; a second start is skipped; the
# lock goes with that process.
kept() {
	local mode=$1 lock pid
	lock=$(lock_name "$BIN/vforker")
	start_holder vf -- "$BIN/vforker" "$mode" "$T/vf.ready" "$T/release.vf"
	pid=$(head -n 1 "$T/vf.ready")
	grep -qx 'close1022=-1 EBADF' "$T/vf.ready"
	grep -qx 'close1023=-1 EBADF' "$T/vf.ready"
	is_locked "$lock"
	[ "$(lock_holders "$lock")" = "$pid" ]
	skipped "$BIN/vforker" "$mode" "$T/second.ready" "$T/nofifo"
	[ ! -e "$T/second.ready" ]
	if [ "$pid" = "$HOLDER_PID" ]; then
		finish vf
	else
		# a daemon: the program's own process is gone already
		wait "$HOLDER_PID"
		: >"$T/release.vf"
		timeout 10 flock "$lock" true
	fi
	lock_is_free "$lock"
}

@test "a vfork child that dup2s onto and closes 1022 and 1023 leaves the holder its lock and both numbers closed" {
	kept vfork
}

@test "a clone(CLONE_VM) child that dup2s onto and closes 1022 and 1023 leaves the holder its lock" {
	needs_native_m32 "clone(CLONE_VM)"
	kept clonevm
}

@test "a daemon's vfork child that plays with 1022 and 1023 before the daemon did leaves the daemon its lock" {
	needs_native_m32 "MADV_WIPEONFORK (qemu accepts it and does nothing)"
	kept forkvfork
}

@test "a daemon (a fork child whose parent exits) keeps the lock, 1022 and 1023 closed to it" {
	needs_native_m32 "MADV_WIPEONFORK (qemu accepts it and does nothing)"
	kept fork
}

@test "after a vfork child played with 1022 and 1023 the holder's exec carries the lock" {
	local lock
	lock=$(lock_name "$BIN/vforker")
	start_holder vf -- "$BIN/vforker" vfork "$T/unused" "$T/unused" \
		"$BIN/envholder" "$T/vf.ready" "$T/release.vf"
	[ "$(head -n 1 "$T/vf.ready")" = "$HOLDER_PID" ]
	grep -qx 'SINGLE_HELD unset' "$T/vf.ready"
	grep -qx 'close1022=-1 EBADF' "$T/vf.ready"
	grep -qx 'close1023=-1 EBADF' "$T/vf.ready"
	is_locked "$lock"
	[ "$(lock_holders "$lock")" = "$HOLDER_PID" ]
	skipped "$BIN/vforker" vfork "$T/second.ready" "$T/nofifo"
	[ ! -e "$T/second.ready" ]
	finish vf
	lock_is_free "$lock"
}
