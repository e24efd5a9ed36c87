#!/usr/bin/env bats
# What differs between C libraries, loaders and word sizes, checked in
# every build (make test, test-musl, test-m32): the build's own loader run
# as a command, and file systems whose inode numbers need 64 bits.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

SINGLE_CMD=${SINGLE_TESTCMD:-$ROOT_DIR/build/single}

# single_cmd ARGS...: single of the build under test, bounded
single_cmd() {
	bounded env SINGLE_LIB="$LIB" LD_PRELOAD="${SINGLE_TEST_PRELOAD_PREFIX:-}" \
		"$SINGLE_CMD" "$@"
}

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
