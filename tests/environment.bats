#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Children are not the program: LD_PRELOAD and the settings are taken out
# of their environment, a descendant starting the same program is never
# stopped by its ancestor, and SINGLE_PROGRAMS locks only what it lists.

load helpers

# two real (empty) libraries to preload beside ours
setup_file() {
	local l
	for l in a b; do
		echo "int lib${l}_marker;" |
			gcc -shared -fPIC -x c -o "$BATS_FILE_TMPDIR/lib$l.so" - || return 1
	done
}

setup() {
	common_setup
	A=$BATS_FILE_TMPDIR/liba.so
	B=$BATS_FILE_TMPDIR/libb.so
}
teardown() { common_teardown; }

# child_env PRELOAD: what a child of a locked program sees in LD_PRELOAD
# ("<unset>" if nothing), the program having been started with
# LD_PRELOAD=PRELOAD.  The shell runs printenv as a child (two commands:
# no exec of the last one).
# Under make asan-test the ASan runtime comes first in every LD_PRELOAD
# ($PFX) and stays there.
CHILD_TEXT='printenv LD_PRELOAD || echo "<unset>"; :'
PFX=${SINGLE_TEST_PRELOAD_PREFIX:+$SINGLE_TEST_PRELOAD_PREFIX:}
child_env() {
	run --separate-stderr bounded env LD_PRELOAD="$PFX$1" sh -c "$CHILD_TEXT"
	echo "LD_PRELOAD='$PFX$1' -> status $status, '$output', stderr '$stderr'" >&2
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	# the program itself was locked
	[ -f "$(lock_name "$(realpath "$(command -v sh)")" -c "$CHILD_TEXT")" ]
}

bats_require_minimum_version 1.5.0

@test "children get LD_PRELOAD without us, other libraries in order, blank-separated" {
	needs_system_programs sh
	child_env "$A $LIB $B"
	[ "$output" = "$PFX$A $B" ]
	child_env "$LIB $A $B"
	[ "$output" = "$PFX$A $B" ]
	child_env "$A $B $LIB"
	[ "$output" = "$PFX$A $B" ]
}

@test "children get LD_PRELOAD without us, other libraries in order, colon-separated" {
	needs_system_programs sh
	child_env "$A:$LIB:$B"
	[ "$output" = "$PFX$A:$B" ]
	child_env "$LIB:$A:$B"
	[ "$output" = "$PFX$A:$B" ]
	child_env "$B:$A:$LIB"
	[ "$output" = "$PFX$B:$A" ]
}

@test "children get no LD_PRELOAD at all when ours was the only entry" {
	needs_system_programs sh
	[ -z "$PFX" ] || skip "another library must stay preloaded ($PFX)"
	child_env "$LIB"
	[ "$output" = "<unset>" ]
	run bounded env LD_PRELOAD="$LIB" sh -c 'env; :'
	[ "$status" -eq 0 ]
	! grep -q '^LD_PRELOAD=' <<<"$output" || false
}

@test "children do not load the library, and get none of the settings of this start" {
	needs_system_programs sh
	run bounded env LD_PRELOAD="$PFX$A:$LIB" SINGLE_WAIT=5 SINGLE_CONFLICT_EXIT=3 \
		SINGLE_KEY=envtest SINGLE_SCOPE=program SINGLE_MAX=1 \
		sh -c 'cat /proc/self/maps; echo "-- env"; env; :'
	[ "$status" -eq 0 ]
	[ -f "$SINGLE_DIR/@envtest.lock" ]
	local maps
	maps=$(sed '/^-- env$/q' <<<"$output")
	! grep -qF "$LIB" <<<"$maps" || false
	grep -qF "$A" <<<"$maps"
	! grep -Eq '^SINGLE_(KEY|WAIT|CONFLICT_EXIT|SCOPE|MAX)=' <<<"$output" || false
}

# a script that records its depth in DIR and starts itself (through
# `sh -c`, so its parent is not the holder) until depth 2, where it waits
# for DIR/release.  With AGAIN="VAR=VALUE..." each level starts the next
# through `env $AGAIN`, as a wrapper script or a Makefile that sets
# LD_PRELOAD again would.
write_recursive() {
	cat >"$1" <<-'EOF'
	#!/bin/sh
	echo $$ >"$1/depth$2.tmp" && mv "$1/depth$2.tmp" "$1/depth$2"
	if [ "$2" -lt 2 ]; then
		sh -c 'env $AGAIN "$0" "$1" "$2"; :' "$0" "$1" $(($2 + 1))
	else
		read -r _ <"$1/release" || :
	fi
	EOF
	chmod +x "$1"
}

# recursion ENV=VALUE...: run $T/rec.sh (preloaded, with ENV) down to depth
# 2; every level must run, the top one holding the lock, and a start from
# outside must be kept out meanwhile.
recursion() {
	write_recursive "$T/rec.sh"
	mkfifo "$T/release"
	spawn env "$@" LD_PRELOAD="$PRELOAD" "$T/rec.sh" "$T" 0
	local top=$BG_PID
	wait_for_file "$T/depth2" 5
	[ -e "$T/depth1" ]
	local lock
	lock=$(lock_name "$(realpath "$T/rec.sh")")
	is_locked "$lock"
	[ "$(record_pid "$lock")" = "$top" ]
	mkdir "$T/outside"
	run try_start "$@" SINGLE_WAIT= "$T/rec.sh" "$T/outside" 0
	[ "$status" -eq 0 ]
	[ ! -e "$T/outside/depth0" ]
	fifo_close "$T/release"
	reap "$top"
	[ "$REAPED" -eq 0 ]
}

@test "a script that starts itself again runs every level (the children are not locked)" {
	needs_system_programs sh
	recursion
}

@test "a descendant that preloads the library again is not stopped by its ancestor's lock" {
	needs_system_programs sh
	recursion AGAIN="LD_PRELOAD=$PRELOAD"
}

@test "a descendant that preloads the library again with SINGLE_WAIT=inf runs at once, without waiting for its ancestor" {
	needs_system_programs sh
	recursion AGAIN="LD_PRELOAD=$PRELOAD SINGLE_WAIT=inf"
}

@test "a recursive make that preloads the library into its sub-make runs the sub-make" {
	needs_system_programs make
	# shellcheck disable=SC2016
	printf 'all:\n\t@echo top >>$(OUT)\n\t@LD_PRELOAD=$(LIB) $(MAKE) -s -f Makefile sub OUT=$(OUT)\nsub:\n\t@echo sub >>$(OUT)\n' >"$T/Makefile"
	run bounded env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL LD_PRELOAD="$PRELOAD" \
		make -s -C "$T" OUT="$T/out" LIB="$PRELOAD"
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ "$(sed -n 2p "$T/out")" = sub ]
	[ -f "$(lock_name "$(realpath "$(command -v make)")")" ]
}

@test "SINGLE_PROGRAMS: a listed program is locked, and the library stays in LD_PRELOAD" {
	needs_system_programs printenv
	start_holder first SINGLE_PROGRAMS=printenv:holder
	is_locked "$HOLDER_LOCK"
	run try_start SINGLE_PROGRAMS=printenv:holder "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/second.ready" ]
	release first
	# a listed program keeps LD_PRELOAD and SINGLE_PROGRAMS for its children
	run try_start SINGLE_PROGRAMS=printenv:holder printenv LD_PRELOAD SINGLE_PROGRAMS
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$PRELOAD" ]
	[ "${lines[1]}" = printenv:holder ]
	[ -f "$(lock_name "$(realpath "$(command -v printenv)")")" ]
}

@test "SINGLE_PROGRAMS: an unlisted program runs untouched, twice at once, with no lock file" {
	needs_system_programs printenv
	cp "$BIN/holder" "$T/other"
	start_holder one SINGLE_PROGRAMS=holder -- "$T/other" "$T/one.ready" "$T/release.one"
	start_holder two SINGLE_PROGRAMS=holder -- "$T/other" "$T/two.ready" "$T/release.two"
	[ ! -e "$(lock_name "$T/other")" ]
	run try_start SINGLE_PROGRAMS=holder printenv LD_PRELOAD
	[ "$status" -eq 0 ]
	[ "$output" = "$PRELOAD" ]
	[ ! -e "$(lock_name "$(realpath "$(command -v printenv)")")" ]
	release one "$(cat "$T/one.ready")"
	release two "$(cat "$T/two.ready")"
}

@test "SINGLE_PROGRAMS: a listed program started by an unlisted shell is locked" {
	needs_system_programs sh
	start_holder first SINGLE_PROGRAMS=holder -- sh -c '"$0" "$1" "$2"; :' \
		"$BIN/holder" "$T/first.ready" "$T/release.first"
	is_locked "$HOLDER_LOCK"
	[ "$(record_pid "$HOLDER_LOCK")" = "$(cat "$T/first.ready")" ]
	run try_start SINGLE_PROGRAMS=holder "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/second.ready" ]
	release first
}

@test "SINGLE_PROGRAMS: a listed program's descendant running the same program is not stopped by its ancestor's lock" {
	needs_system_programs sh
	recursion SINGLE_PROGRAMS=other:rec.sh
}

@test "SINGLE_PROGRAMS=/PATH locks the program at that resolved path only" {
	cp "$BIN/holder" "$T/other"
	start_holder first SINGLE_PROGRAMS="$(realpath "$BIN/holder")"
	is_locked "$HOLDER_LOCK"
	run try_start SINGLE_PROGRAMS="$(realpath "$BIN/holder")" "$BIN/holder" "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/second.ready" ]
	# the same name at another path is not listed
	run try_start SINGLE_PROGRAMS="$(realpath "$BIN/holder")" "$T/other" "$T/third.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -e "$T/third.ready" ]
	release first
}

# profile_shell ENV=VALUE... -- TEXT [ARG...]: bash -c TEXT run as a shell
# whose profile exported LD_PRELOAD and ENV=VALUE...: the shell and
# everything it starts see them (bounded)
profile_shell() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	bounded env LD_PRELOAD="$PRELOAD" "${envs[@]}" bash -c "$@"
}

@test "SINGLE_PROGRAMS=mbsync exported with a SINGLE_WAIT typo: unlisted programs (bash, ls, env) run silently; mbsync gets the one-line error, status 64" {
	needs_system_programs bash
	local text='ls -d /; echo "ls $?"; bash -c true; echo "bash $?"; env >/dev/null; echo "env $?"'
	run profile_shell SINGLE_PROGRAMS=mbsync SINGLE_WAIT=5s -- "$text"
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = $'/\nls 0\nbash 0\nenv 0' ]
	run profile_shell SINGLE_PROGRAMS=mbsync SINGLE_WAIT=5s SYNC_DIR="$T" -- \
		'"$0" work; echo "mbsync $?"' "$BIN/mbsync"
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "libsingle: SINGLE_WAIT: invalid value '5s' (expected seconds, a decimal number such as 2.5, or inf)"$'\nmbsync 64' ]
	[ -z "$(find "$T" -name 'ran.work.*')" ]
	[ ! -e "$SINGLE_DIR" ]
}

@test "an invalid SINGLE_PROGRAMS (':' or the relative 'bin/mbsync') locks nothing and says nothing: every program, mbsync too, runs untouched" {
	needs_system_programs bash
	local list typo first second
	mkfifo "$T/release.work"
	for list in : bin/mbsync; do
		# alone, and beside a SINGLE_WAIT typo
		for typo in SINGLE_VERBOSE=0 SINGLE_WAIT=5s; do
			run profile_shell SINGLE_PROGRAMS="$list" "$typo" -- \
				'ls -d /; echo "ls $?"; bash -c true; echo "bash $?"'
			echo "SINGLE_PROGRAMS=$list $typo: status $status: $output" >&2
			[ "$status" -eq 0 ]
			[ "$output" = $'/\nls 0\nbash 0' ]
			# mbsync runs (and waits for its release): twice at once
			spawn env LD_PRELOAD="$PRELOAD" SINGLE_PROGRAMS="$list" "$typo" SYNC_DIR="$T" \
				"$BIN/mbsync" work
			first=$BG_PID
			wait_for_file_while "$T/ran.work.$first" "$first"
			spawn env LD_PRELOAD="$PRELOAD" SINGLE_PROGRAMS="$list" "$typo" SYNC_DIR="$T" \
				"$BIN/mbsync" work
			second=$BG_PID
			wait_for_file_while "$T/ran.work.$second" "$second"
			# one close lets go only the readers that have come to the FIFO
			wait_until "$BOUND" in_fifo_open "$first"
			wait_until "$BOUND" in_fifo_open "$second"
			fifo_close "$T/release.work"
			reap "$first"
			[ "$REAPED" -eq 0 ]
			reap "$second"
			[ "$REAPED" -eq 0 ]
			rm -f "$T"/ran.work.*
			[ ! -e "$SINGLE_DIR" ]
		done
	done
}
