#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The first thing a user tries: one start runs, a second one does not.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

@test "a second start exits 0 at once, prints nothing and never runs main" {
	start_holder first
	is_locked "$HOLDER_LOCK"
	run try_start "$BIN/holder" "$T/second.ready"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/second.ready" ]
	release first
	! is_locked "$HOLDER_LOCK"
}
