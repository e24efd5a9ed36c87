#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The command line where the C library does not pass it to constructors
# (musl, preload/args.c): found on the initial stack through environ, or,
# once a library loaded before ours has moved environ (setenv), read from
# /proc/self/cmdline.  Under glibc, which passes it, the same starts are
# keyed the same way.

load helpers

setup() {
	common_setup
	export SINGLE_SCOPE=command
}
teardown() { common_teardown; }

# with_envfirst: tests/bin/envfirst.so (tests/libs/envfirst.c) into
# PRELOAD, where its constructor runs before the library's: musl runs
# LD_PRELOAD's constructors in order, glibc in reverse.  It reports to
# $T/envfirst.report.
with_envfirst() {
	if [ "${SINGLE_TEST_VARIANT:-}" = musl ]; then
		PRELOAD=$BIN/envfirst.so:$PRELOAD
	else
		PRELOAD=$PRELOAD:$BIN/envfirst.so
	fi
	export ENVFIRST_REPORT=$T/envfirst.report
}

# environ_moved_first: envfirst's constructor ran before the library's
# and moved environ off the initial stack
environ_moved_first() {
	[ "$(cat "$T/envfirst.report")" = $'moved\nfirst' ]
}

# "${NOPROC[@]}" CMD...: CMD in a mount namespace of its own with /proc
# unmounted (as in namespaces.bats)
NOPROC=(unshare -m sh -c 'umount -l /proc && exec "$@"' sh)

@test "a start is locked and keyed by its whole command line, empty and spaced arguments too; the same command line again is skipped" {
	local args=(one "" 'two words' $'new\nline')
	start_running a -- "$BIN/holder" "$T/a.ready" "$T/release.a" "${args[@]}"
	HOLDER_LOCK=$(lock_name "$BIN/holder" "$T/a.ready" "$T/release.a" "${args[@]}")
	[ "$(lock_holders "$HOLDER_LOCK")" = "$HOLDER_PID" ]
	[ "$(ls "$SINGLE_DIR")" = "${HOLDER_LOCK##*/}" ]
	# main would wait on release.a: a start that ran would not end
	skipped "$BIN/holder" "$T/a.ready" "$T/release.a" "${args[@]}"
	[ "$(cat "$T/a.ready")" = "$HOLDER_PID" ]
	finish a
}

@test "without /proc a start is keyed by its whole command line all the same (from the initial stack); the same command line again is skipped" {
	needs_no_sanitizer "the sanitizer runtime needs /proc: without it, it warns on stderr and its exit-time checks fail"
	local args=(one "" 'two words') pid
	"${NOPROC[@]}" true || skip "cannot unmount /proc in a mount namespace here"
	mkfifo "$T/release.a"
	spawn "${NOPROC[@]}" env LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/a.ready" "$T/release.a" "${args[@]}"
	pid=$BG_PID
	wait_for_file_while "$T/a.ready" "$pid"
	HOLDER_LOCK=$(lock_name "$BIN/holder" "$T/a.ready" "$T/release.a" "${args[@]}")
	[ "$(lock_holders "$HOLDER_LOCK")" = "$pid" ]
	run bounded "${NOPROC[@]}" env LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/a.ready" "$T/release.a" "${args[@]}"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(cat "$T/a.ready")" = "$pid" ]
	release a "$pid"
	[ "$REAPED" -eq 0 ]
}

@test "after an earlier library's setenv moved environ, a command line of more than 16 KiB is read whole: the same one is skipped, one with another last argument runs" {
	local args=() i
	for ((i = 0; i < 2000; i++)); do args+=("argument-$i"); done
	start_running a -- "$BIN/holder" "$T/a.ready" "$T/release.a" "${args[@]}"
	with_envfirst
	skipped "$BIN/holder" "$T/a.ready" "$T/release.a" "${args[@]}"
	environ_moved_first
	[ "$(cat "$T/a.ready")" = "$HOLDER_PID" ]
	# only the last argument differs: another key, so it runs (and
	# waits on release.a beside the holder)
	rm "$T/envfirst.report"
	start_bg other -- "$BIN/holder" "$T/a.ready" "$T/release.a" "${args[@]:0:1999}" last
	wait_for_file_while "$T/envfirst.report" "$BG_PID"
	environ_moved_first
	wait_until "$BOUND" grep -qx "$BG_PID" "$T/a.ready"
	[ "$(find "$SINGLE_DIR" -name '*.lock' | wc -l)" -eq 2 ]
	release a
	reap "$BG_PID"
	[ "$REAPED" -eq 0 ]
}

@test "without /proc, after an earlier library moved environ, the command line cannot be read: one line, status 71; SINGLE_ON_ERROR=run runs the program" {
	[ "${SINGLE_TEST_VARIANT:-}" = musl ] ||
		skip "glibc passes the command line to constructors: there is nothing to find"
	"${NOPROC[@]}" true || skip "cannot unmount /proc in a mount namespace here"
	with_envfirst
	run bounded "${NOPROC[@]}" env LD_PRELOAD="$PRELOAD" "$BIN/holder" "$T/a.ready" /dev/null
	[ "$status" -eq 71 ]
	[ "$output" = "libsingle: cannot read the command line (/proc/self/cmdline): $(libc_message ENOENT)" ]
	[ ! -e "$T/a.ready" ]
	environ_moved_first
	run bounded "${NOPROC[@]}" env LD_PRELOAD="$PRELOAD" SINGLE_ON_ERROR=run "$BIN/holder" "$T/b.ready" /dev/null
	[ "$status" -eq 0 ]
	[ "$output" = "libsingle: cannot read the command line (/proc/self/cmdline): $(libc_message ENOENT)" ]
	[ -e "$T/b.ready" ]
}
