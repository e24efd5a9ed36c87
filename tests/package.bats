#!/usr/bin/env bats
# What a packager gets: the build's flags, the version, a release tarball,
# a Debian package that lintian accepts.

load helpers
bats_require_minimum_version 1.5.0

setup() { common_setup; }
teardown() { common_teardown; }

# mk TARGET VAR=VALUE...: make in the source tree, apart from any make
# that runs the suite
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT_DIR" "$@"
}

# src_copy DIR: the sources as make needs them, without build products
src_copy() {
	mkdir -p "$1"
	cp -R "$ROOT_DIR/Makefile" "$ROOT_DIR/preload" "$ROOT_DIR/scripts" "$1/"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$1" clean
}

# ---- flags -------------------------------------------------------------------

@test "the library and single are built with the stack protector and _FORTIFY_SOURCE=2, and the library binds lazily" {
	# the tree's own build: what make makes by default
	local lib=$ROOT_DIR/preload/libsingle.so
	nm -D --undefined-only "$lib" | grep -q '__stack_chk_fail'
	nm -u "$ROOT_DIR/build/single.o" | grep -q '__stack_chk_fail'
	# single's messages go through libc's checked vsnprintf
	nm -u "$ROOT_DIR/build/single.o" | grep -qE '__v?s?n?printf_chk'
	run readelf -dW "$lib"
	[[ $output != *BIND_NOW* ]]
	[[ $output != *"Flags: NOW"* ]]
	# and the default compile command has both, before the packager's flags
	run compile_line CFLAGS="-O2 -g"
	[[ $output == "cc -fstack-protector-strong -D_FORTIFY_SOURCE=2 "*" -O2 -g "* ]]
}

# compile_line VAR=VALUE...: the command make would compile preload/key.o with
compile_line() {
	mk -n -B CC=cc "$@" preload/key.o | grep -e '-c -o preload/key\.o'
}

@test "_FORTIFY_SOURCE is left to the packager's flags when they set it, and to optimised builds" {
	run compile_line CPPFLAGS=-D_FORTIFY_SOURCE=3
	[[ $output == "cc -fstack-protector-strong  -D_FORTIFY_SOURCE=3 "* ]]
	[ "$(grep -o _FORTIFY_SOURCE <<<"$output" | wc -l)" -eq 1 ]
	run compile_line CFLAGS="-O2 -g -Wp,-D_FORTIFY_SOURCE=3"
	[ "$(grep -o _FORTIFY_SOURCE <<<"$output" | wc -l)" -eq 1 ]
	run compile_line CFLAGS="-O0 -g"
	[[ $output == cc\ -fstack-protector-strong* ]]
	[[ $output != *_FORTIFY_SOURCE* ]]
	run compile_line HARDEN=
	[ -n "$output" ]
	[[ $output != *-fstack-protector* ]]
	[[ $output != *_FORTIFY_SOURCE* ]]
}

@test "a packager's LDFLAGS=-Wl,-z,now wins over the Makefile's lazy binding" {
	src_copy "$T/src"
	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$T/src" LDFLAGS=-Wl,-z,now \
		preload/libsingle.so
	[ "$status" -eq 0 ]
	run readelf -dW "$T/src/preload/libsingle.so"
	[[ $output == *BIND_NOW* ]]
}
