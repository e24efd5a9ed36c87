#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The library builds with gcc and clang, with -Wall -Wextra and not one
# warning.  Each build runs in a copy of the sources, so the tree other
# tests use is never rebuilt under them.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

# build_copy [MAKE ARGS...]: copy the sources to $T/src and run make there
# with the Makefile's own defaults (nothing inherited from a calling make
# or the environment); output in $output, status in $status.
build_copy() {
	mkdir -p "$T/src/preload" "$T/src/scripts"
	cp "$ROOT_DIR/Makefile" "$T/src/"
	cp "$ROOT_DIR"/preload/*.c "$ROOT_DIR"/preload/*.h "$ROOT_DIR"/preload/*.map \
		"$ROOT_DIR"/preload/*.7 "$T/src/preload/"
	cp "$ROOT_DIR/scripts/single.c" "$ROOT_DIR/scripts/single.1" "$T/src/scripts/"
	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CC -u CFLAGS -u WARN \
		-u CPPFLAGS -u LDFLAGS make -C "$T/src" -j4 "$@" all 2>&1
	echo "$output" >&2
}

# no_warnings: the build succeeded, compiled every source with -Wall
# -Wextra, and printed no warning
no_warnings() {
	[ "$status" -eq 0 ]
	[ -f "$T/src/preload/libsingle.so" ]
	local compiles src
	compiles=$(grep -- ' -c ' <<<"$output")
	for src in "$T"/src/preload/*.c; do
		grep -q -- "-Wall -Wextra.* -c -o preload/$(basename "$src" .c).o" <<<"$compiles"
	done
	! grep -qi 'warning' <<<"$output" || false
}

# works_as_lib LIBRARY: that build locks like the tested one
works_as_lib() {
	# shellcheck disable=SC2034  # read by the helpers (start_holder, try_start)
	local PRELOAD=$1
	start_holder built
	is_locked "$HOLDER_LOCK"
	run try_start "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/second.ready" ]
	release built
}

@test "make builds preload/libsingle.so with -Wall -Wextra and no warning" {
	main_build_only
	build_copy
	no_warnings
	works_as_lib "$T/src/preload/libsingle.so"
}

@test "make CC=clang builds preload/libsingle.so with -Wall -Wextra and no warning" {
	main_build_only
	command -v clang >/dev/null || skip "clang is not installed"
	build_copy CC=clang
	no_warnings
	grep -q '^clang ' <<<"$output"
	works_as_lib "$T/src/preload/libsingle.so"
}
