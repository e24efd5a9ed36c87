#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# What a start costs, guarded from outside.  Every distinct libc function
# the library calls costs a symbol lookup in ld.so at its first call
# (about 700 instructions, tests/bench/README.md): the constructor makes
# its system calls itself (preload/sys.h), compares strings itself and
# has its own memset and memcpy (preload/mem.c) to keep them few.  A start that takes its lock may not bind more of them than it
# does today; make bench measures the cost itself.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

# Today's bindings from the library to libc in a lock-taking start of
# /bin/true (gcc -O2): environ and __cxa_finalize as ld.so loads it,
# getauxval on the way to main.  (Before this round: eight, with
# __errno_location, strlen, syscall, fstatat and memcpy.)
MAX_LIBC_BINDINGS=3

@test "a start that takes its lock binds at most $MAX_LIBC_BINDINGS libc symbols (LD_DEBUG=bindings)" {
	needs_system_programs /bin/true
	if [ -n "${SINGLE_TEST_PRELOAD_PREFIX:-}" ] || grep -qaE '__(asan|ubsan|tsan|msan)_' "$LIB"; then
		skip "a sanitizer build of the library: its runtime binds symbols of its own"
	fi
	# lazy binding, as the Makefile links it: LD_BIND_NOW would bind
	# every import at load
	run bounded env -u LD_BIND_NOW LD_DEBUG=bindings LD_DEBUG_OUTPUT="$T/ld" \
		LD_PRELOAD="$PRELOAD" /bin/true
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# the start took the lock
	[ -f "$(lock_name "$(realpath /bin/true)")" ]
	local bound
	bound=$(cat "$T"/ld.* | grep -F "binding file $LIB [0] to " |
		grep -E " to [^ ]*/libc\.so\.[0-9]+ \[0\]: " | sed -E "s/.* symbol \`([^']*)'.*/\1/")
	echo "libc symbols bound: $(tr '\n' ' ' <<<"$bound")" >&2
	# the count sees the bindings at all
	[ -n "$bound" ]
	[ "$(wc -l <<<"$bound")" -le "$MAX_LIBC_BINDINGS" ]
}
