#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The short form of tests/stress.sh (make stress runs the long one):
# simultaneous starts of one program, exactly one runs its main() in every
# round; then start/skip cycles against one holder leave its descriptors
# and the process table as they were.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

@test "50 simultaneous starts x 3 rounds: one runs each time; 500 skipped starts leak nothing" {
	# about 5 s; bounded well above that, below the per-test limit
	BOUND=45 run bounded "$TESTS_DIR/stress.sh" 3 50 500
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"race: 3 rounds of 50 simultaneous starts, 0 failures"* ]]
	[[ "$output" == *"cycles: 500 starts against one holder, 500 skipped"* ]]
}
