#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# single(1): the command-line front end.  Its options set the SINGLE_*
# variables and it execs COMMAND with the library first in LD_PRELOAD;
# static programs go through env.  The library's own behaviour is tested
# elsewhere: here, what a user of the command sees.

load helpers
bats_require_minimum_version 1.5.0

# the library of single's own build tree: build/single -> preload/libsingle.so
TREE_LIB=$(cd "$(dirname "$SINGLE_CMD")/.." && pwd)/preload/libsingle.so

setup_file() {
	# A statically linked holder: LD_PRELOAD cannot reach it.
	export STATIC_HOLDER=$BATS_FILE_TMPDIR/static-holder
	${CC:-cc} -static -O2 -o "$STATIC_HOLDER" "$BATS_TEST_DIRNAME/progs/holder.c"
}

setup() {
	common_setup
	unset SINGLE_LIB
	export SYNC_DIR=$T
}

teardown() { common_teardown; }

# single_unbounded ARGS...: the command from the source tree, with the
# library under test (SINGLE_TESTLIB, if set) and any LD_PRELOAD prefix
# the suite runs with (the ASan runtime)
single_unbounded() {
	SINGLE_LIB=$LIB LD_PRELOAD=${SINGLE_TEST_PRELOAD_PREFIX:-} "$SINGLE_CMD" "$@"
}

# single ARGS...: single_unbounded, bounded: a start that should end but
# runs on or waits fails (status 124) instead of hanging the suite
single() {
	bounded env SINGLE_LIB="$LIB" LD_PRELOAD="${SINGLE_TEST_PRELOAD_PREFIX:-}" \
		"$SINGLE_CMD" "$@"
}

# single_bg NAME ARGS...: single ARGS spawned; its exit status goes to
# $T/NAME.exit when it ends
single_bg() {
	spawn single_exit "$@"
}

# single_exit NAME ARGS...: single_unbounded ARGS, then its exit status
# into $T/NAME.exit
single_exit() {
	local name=$1 status=0
	shift
	single_unbounded "$@" || status=$?
	echo "$status" >"$T/$name.exit"
}

# ran_once ACCOUNT...: tests/bin/mbsync's main ran once for each ACCOUNT
ran_once() {
	local a
	for a; do
		[ "$(mbsync_ran "$a")" -eq 1 ] || return 1
	done
}

# ran_or_ended NAME: the start single_bg NAME made ran its main (wrote
# $T/NAME.ready) or ended
ran_or_ended() {
	[ -e "$T/$1.ready" ] || [ -e "$T/$1.exit" ]
}

# someone_waits FILE: a process is blocked in flock(2) on FILE (a "->"
# line in /proc/locks)
someone_waits() {
	local ino
	ino=$(stat -c %i "$1" 2>/dev/null) || return 1
	grep -Eq "^[0-9]+: -> FLOCK +ADVISORY +WRITE +[0-9]+ +[0-9a-f]+:[0-9a-f]+:$ino " /proc/locks
}

# mbsync_ran ACCOUNT: how many times tests/bin/mbsync's main ran for ACCOUNT
mbsync_ran() {
	local f n=0
	for f in "$T"/ran."$1".*; do
		[ -e "$f" ] && n=$((n + 1))
	done
	echo "$n"
}

# ---- running a command once -------------------------------------------------

@test "single COMMAND runs it; a second start exits 0, prints nothing and never runs main" {
	mkfifo "$T/release.first"
	single_bg first "$BIN/holder" "$T/first.ready" "$T/release.first"
	wait_for_file "$T/first.ready"
	is_locked "$(holder_lock)"
	run single "$BIN/holder" "$T/second.ready"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/second.ready" ]
	release first "$(cat "$T/first.ready")"
	wait_for_file "$T/first.exit"
	[ "$(cat "$T/first.exit")" -eq 0 ]
	run ! is_locked "$(holder_lock)"
}

@test "single passes COMMAND's arguments and exit status through" {
	needs_system_programs sh
	run single sh -c 'echo "$0:$1"; exit 7' a 'b c'
	[ "$status" -eq 7 ]
	[ "$output" = "a:b c" ]
}

@test "-E N: a start that finds the command running exits with N" {
	start_holder h
	run single -E 9 "$BIN/holder" "$T/x.ready"
	[ "$status" -eq 9 ]
	[ ! -e "$T/x.ready" ]
	run single --conflict-exit=3 "$BIN/holder" "$T/x.ready"
	[ "$status" -eq 3 ]
	release h
}

@test "-v: a start that finds the command running says so in one line" {
	start_holder h
	run single -v "$BIN/holder" "$T/x.ready"
	[ "$status" -eq 0 ]
	[ "$output" = "libsingle: holder is already running (pid $HOLDER_PID); not starting" ]
	release h
}

@test "-w SECS: a start waits for the running instance and runs once it ends" {
	needs_native_m32 "the clone(CLONE_VM) child through which a finite wait blocks, which the test looks for in /proc/locks"
	start_holder h
	mkfifo "$T/release.w"
	single_bg w -w 20 "$BIN/holder" "$T/w.ready" "$T/release.w"
	wait_until "$BOUND" someone_waits "$HOLDER_LOCK"
	[ ! -e "$T/w.ready" ]
	release h
	wait_for_file "$T/w.ready"
	release w "$(cat "$T/w.ready")"
	wait_for_file "$T/w.exit"
	[ "$(cat "$T/w.exit")" -eq 0 ]
}

@test "-w SECS: a start still blocked after SECS exits with the conflict status" {
	start_holder h
	run single -v -w 0.2 -E 4 "$BIN/holder" "$T/x.ready"
	[ "$status" -eq 4 ]
	[ "${lines[0]}" = "libsingle: holder is already running (pid $HOLDER_PID); waiting up to 0.200s" ]
	[ "${lines[1]}" = "libsingle: holder is still running (pid $HOLDER_PID); not starting" ]
	[ ! -e "$T/x.ready" ]
	release h
}

@test "-k NAME: different commands with the same key exclude each other" {
	mkfifo "$T/release.work"
	single_bg work -k mail "$BIN/mbsync" work
	wait_until "$BOUND" ran_once work
	is_locked "$SINGLE_DIR/@mail.lock"
	run single -k mail "$BIN/holder" "$T/x.ready"
	[ "$status" -eq 0 ]
	[ ! -e "$T/x.ready" ]
	fifo_close "$T/release.work"
	wait_for_file "$T/work.exit"
}

@test "-d DIR: the lock file is in DIR" {
	mkfifo "$T/release.d"
	single_bg d -d "$T/elsewhere" "$BIN/holder" "$T/d.ready" "$T/release.d"
	wait_for_file "$T/d.ready"
	is_locked "$T/elsewhere/$(basename "$(holder_lock)")"
	[ ! -e "$(holder_lock)" ]
	[ "$(stat -c %a "$T/elsewhere")" = 700 ]
	release d "$(cat "$T/d.ready")"
}

@test "-a: mbsync work and mbsync home each run once" {
	mkfifo "$T/release.work" "$T/release.home"
	single_bg work -a "$BIN/mbsync" work
	single_bg home -a "$BIN/mbsync" home
	wait_until "$BOUND" ran_once work home
	run single -a "$BIN/mbsync" work
	[ "$status" -eq 0 ]
	run single --args "$BIN/mbsync" home
	[ "$status" -eq 0 ]
	[ "$(mbsync_ran work)" -eq 1 ]
	[ "$(mbsync_ran home)" -eq 1 ]
	is_locked "$(lock_name "$BIN/mbsync" work)"
	is_locked "$(lock_name "$BIN/mbsync" home)"
	fifo_close "$T/release.work"
	fifo_close "$T/release.home"
	wait_for_file "$T/work.exit"
	wait_for_file "$T/home.exit"
}

@test "-m 3: of 5 simultaneous starts exactly 3 run their main; the others exit 0" {
	local i ran=0 skipped=0 s
	for i in 1 2 3 4 5; do mkfifo "$T/release.m$i"; done
	for i in 1 2 3 4 5; do
		single_bg "m$i" -m 3 "$BIN/holder" "$T/m$i.ready" "$T/release.m$i"
	done
	# every start either runs main (ready file) or ends (exit file)
	for i in 1 2 3 4 5; do
		wait_until "$BOUND" ran_or_ended "m$i"
	done
	for i in 1 2 3 4 5; do
		if [ -e "$T/m$i.ready" ]; then
			ran=$((ran + 1))
		else
			s=$(cat "$T/m$i.exit")
			[ "$s" -eq 0 ]
			skipped=$((skipped + 1))
		fi
	done
	[ "$ran" -eq 3 ]
	[ "$skipped" -eq 2 ]
	is_locked "$(holder_lock)"
	is_locked "$(holder_lock).2"
	is_locked "$(holder_lock).3"
	[ ! -e "$(holder_lock).4" ]
	for i in 1 2 3 4 5; do
		[ ! -e "$T/m$i.ready" ] || release "m$i" "$(cat "$T/m$i.ready")"
	done
}

@test "-r: the running instance is terminated and the new one starts; a same-named process survives" {
	start_holder old
	local old=$HOLDER_PID
	spawn "$BIN/holder" "$T/unrelated.ready"
	local unrelated=$BG_PID
	wait_for_file "$T/unrelated.ready"
	mkfifo "$T/release.new"
	single_bg new -r -v "$BIN/holder" "$T/new.ready" "$T/release.new"
	wait_for_file "$T/new.ready"
	local new
	new=$(cat "$T/new.ready")
	reap "$old"
	[ "$REAPED" -eq 143 ]              # SIGTERM
	kill -0 "$unrelated"
	run single --explain "$BIN/holder"
	[ "${lines[2]}" = "state: held by pid $new" ]
	release new "$new"
	kill "$unrelated"
}

@test "-r SECS: the caller's ancestors are never signalled, even when they hold the lock" {
	mkdir -m 700 "$SINGLE_DIR"
	# flock(1) holds the lock file and runs single: an ancestor of the start
	SINGLE_LIB=$LIB run bounded flock -o "$(holder_lock)" "$SINGLE_CMD" --replace=0.3 -E 9 "$BIN/holder" "$T/x.ready"
	[ "$status" -eq 9 ]                # not 143: flock(1) was not killed
	[ ! -e "$T/x.ready" ]
}

# ---- options: how they are read ---------------------------------------------------

# settings ARGS...: the SINGLE_* variables `single ARGS holder` started
# the holder with, read from outside in /proc/PID/environ (unsetenv in
# the library leaves that block as it was).  SINGLE_DIR comes from the
# test's setup.
settings() {
	rm -f "$T/env.ready"
	[ -p "$T/release.env" ] || mkfifo "$T/release.env"
	spawn single_unbounded "$@" "$BIN/holder" "$T/env.ready" "$T/release.env"
	local pid=$BG_PID
	wait_for_file "$T/env.ready"
	tr '\0' '\n' <"/proc/$(cat "$T/env.ready")/environ" |
		grep '^SINGLE_' | grep -Ev '^SINGLE_(LIB|DIR|TEST[A-Z_]*)=' | sort
	fifo_close "$T/release.env"
	reap "$pid"
}

@test "each option sets its variable: -w -E -k -d -v -m" {
	run settings -w 2.5 -E 3 -k mail -v -m 4
	[ "$output" = "$(printf '%s\n' SINGLE_CONFLICT_EXIT=3 SINGLE_KEY=mail \
		SINGLE_MAX=4 SINGLE_VERBOSE=1 SINGLE_WAIT=2.5)" ]
	run settings --wait 2.5 --conflict-exit 3 --key mail --verbose --max 4
	[ "$output" = "$(printf '%s\n' SINGLE_CONFLICT_EXIT=3 SINGLE_KEY=mail \
		SINGLE_MAX=4 SINGLE_VERBOSE=1 SINGLE_WAIT=2.5)" ]
	run settings --wait=inf --conflict-exit=0 --key=a=b --max=1000
	[ "$output" = "$(printf '%s\n' SINGLE_CONFLICT_EXIT=0 SINGLE_KEY=a=b \
		SINGLE_MAX=1000 SINGLE_WAIT=inf)" ]
	run settings -d "$T/x"
	[ -z "$output" ]
	[ -d "$T/x" ]
}

@test "-a sets SINGLE_SCOPE=command; -r sets SINGLE_REPLACE, 10 by default" {
	run settings -a
	[ "$output" = SINGLE_SCOPE=command ]
	run settings --args
	[ "$output" = SINGLE_SCOPE=command ]
	run settings -r
	[ "$output" = SINGLE_REPLACE=10 ]
	run settings --replace
	[ "$output" = SINGLE_REPLACE=10 ]
	run settings -r2.5
	[ "$output" = SINGLE_REPLACE=2.5 ]
	run settings --replace=0
	[ "$output" = SINGLE_REPLACE=0 ]
}

@test "short options combine (-vaw5, -vk NAME), and options end at COMMAND or --" {
	run settings -vaw5
	[ "$output" = "$(printf '%s\n' SINGLE_SCOPE=command SINGLE_VERBOSE=1 SINGLE_WAIT=5)" ]
	run settings -vk name
	[ "$output" = "$(printf '%s\n' SINGLE_KEY=name SINGLE_VERBOSE=1)" ]
	run settings -vE 4
	[ "$output" = "$(printf '%s\n' SINGLE_CONFLICT_EXIT=4 SINGLE_VERBOSE=1)" ]
	needs_system_programs "sh and echo"
	run single -- sh -c 'echo "$@"' -v -w 5
	[ "$output" = "-w 5" ]
	run single -v echo -w 5
	[ "$output" = "-w 5" ]
	run -127 single -- -v
	[ "$status" -eq 127 ]
	[ "$output" = "single: cannot run '-v': command not found" ]
}

@test "variables already in the environment apply where no option overrides them" {
	SINGLE_WAIT=7 SINGLE_KEY=k run settings -w 1
	[ "$output" = "$(printf '%s\n' SINGLE_KEY=k SINGLE_WAIT=1)" ]
}

@test "SINGLE_PROGRAMS in the environment does not stop single from locking COMMAND" {
	SINGLE_PROGRAMS=mbsync run settings
	[ -z "$output" ]
	start_holder h
	SINGLE_PROGRAMS=mbsync run single -E 6 "$BIN/holder" "$T/x.ready"
	[ "$status" -eq 6 ]
	release h
}

@test "a SINGLE_HELD left in the environment never reaches the command, which locks as usual" {
	# SINGLE_HELD is the library's note to the next image of a holder
	# that execs; a stale or forged one reaching the constructor would be
	# taken for that note instead of a start of its own.
	SINGLE_HELD=garbage run settings
	[ -z "$output" ]
	start_holder h
	SINGLE_HELD=garbage run single -E 6 "$BIN/holder" "$T/x.ready" /dev/null
	[ "$status" -eq 6 ]
	[ ! -e "$T/x.ready" ]
	release h
}

@test "single puts the library first in LD_PRELOAD, once, and keeps the other entries" {
	# A library ld.so refuses (an empty file) leaves the command unlocked
	# and its LD_PRELOAD as single wrote it; nonexistent entries: ld.so
	# says so on stderr and goes on.
	mkdir "$T/fake"
	: >"$T/fake/libsingle.so"
	run --separate-stderr env SINGLE_LIB="$T/fake/libsingle.so" \
		LD_PRELOAD="/nonexistent/liba.so /nonexistent/dir/libsingle.so:/nonexistent/libb.so" \
		"$SINGLE_CMD" printenv LD_PRELOAD
	[ "$status" -eq 0 ]
	[ "$output" = "$T/fake/libsingle.so:/nonexistent/liba.so:/nonexistent/libb.so" ]
	run --separate-stderr env SINGLE_LIB="$T/fake/libsingle.so" LD_PRELOAD= \
		"$SINGLE_CMD" printenv LD_PRELOAD
	[ "$output" = "$T/fake/libsingle.so" ]
}

# usage_error EXPECTED ARGS...: single ARGS is refused with EXPECTED and
# the hint, status 64, and never runs its command
usage_error() {
	local expected=$1; shift
	run single "$@" "$BIN/holder" "$T/ran.ready"
	if [ "$status" -ne 64 ] || [ "${#lines[@]}" -ne 2 ] ||
		[ "${lines[0]}" != "single: $expected" ] ||
		[ "${lines[1]}" != "Try 'single --help'." ]; then
		echo "single $*: status $status, output:" >&2
		echo "$output" >&2
		return 1
	fi
	[ ! -e "$T/ran.ready" ]
}

@test "invalid option values are refused with a flock-like message and status 64" {
	usage_error "invalid wait 'x' (expected seconds, a decimal number such as 2.5, or inf)" -w x
	usage_error "invalid wait '1.' (expected seconds, a decimal number such as 2.5, or inf)" --wait=1.
	usage_error "invalid wait '-1' (expected seconds, a decimal number such as 2.5, or inf)" -w -1
	usage_error "invalid conflict exit code '256' (allowed values: 0-255)" -E 256
	usage_error "invalid conflict exit code 'x' (allowed values: 0-255)" --conflict-exit=x
	usage_error "invalid maximum '0' (allowed values: 1-1000)" -m 0
	usage_error "invalid maximum '1001' (allowed values: 1-1000)" --max 1001
	usage_error "invalid maximum '99999999999999999999' (allowed values: 1-1000)" -m 99999999999999999999
	usage_error "invalid replace timeout 'inf' (expected seconds, a decimal number such as 2.5)" --replace=inf
	usage_error "invalid replace timeout 'x' (expected seconds, a decimal number such as 2.5)" -rx
	usage_error "invalid key 'a/b' (a key may not contain '/')" -k a/b
	usage_error "invalid key '..' (a key may not be '.' or '..')" --key ..
	usage_error "invalid key '' (a key may not be empty)" --key=
	usage_error "invalid key '$(printf 'k%.0s' {1..245})' (a key is at most 244 bytes)" \
		-k "$(printf 'k%.0s' {1..245})"
	usage_error "invalid lock directory '' (may not be empty)" -d ''
}

@test "unknown options, missing arguments and conflicting options are refused with status 64" {
	usage_error "invalid option -- 'x'" -x
	usage_error "invalid option -- 'x'" -vx
	usage_error "unrecognized option '--frobnicate'" --frobnicate
	usage_error "unrecognized option '--w'" --w=3
	usage_error "option '--verbose' doesn't allow an argument" --verbose=1
	usage_error "--wait and --replace cannot be used together" -w 1 -r
	usage_error "--key and --args cannot be used together" -k a -a
	usage_error "--explain and --list cannot be used together" --explain --list
	run single --wait
	[ "$status" -eq 64 ]
	[ "${lines[0]}" = "single: option '--wait' requires an argument" ]
	run single -vw
	[ "$status" -eq 64 ]
	[ "${lines[0]}" = "single: option requires an argument -- 'w'" ]
	run single -v
	[ "$status" -eq 64 ]
	[ "${lines[0]}" = "single: no command given" ]
	[ "${lines[1]}" = "Try 'single --help'." ]
	run single --list "$BIN/holder"
	[ "$status" -eq 64 ]
	[ "${lines[0]}" = "single: --list takes no command" ]
}

@test "the library re-checks what single passes on: an invalid SINGLE_ variable stops with 64" {
	SINGLE_MAX=0 run single "$BIN/holder" "$T/x.ready"
	[ "$status" -eq 64 ]
	[ "$output" = "libsingle: SINGLE_MAX: invalid value '0' (allowed values: 1-1000)" ]
	[ ! -e "$T/x.ready" ]
}

@test "-h prints the usage with every option; -V the version and the library" {
	run single -h
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "Usage: single [OPTIONS] [--] COMMAND [ARGS...]" ]
	local o
	for o in "-w, --wait" "-E, --conflict-exit" "-k, --key" "-d, --dir" "-a, --args" \
		"-m, --max" "-r, --replace" "-s, --stale" "-q, --queue" "-v, --verbose" \
		--explain --list --json --prune --older "-h, --help" "-V, --version"; do
		grep -qe "$o" <<<"$output"
	done
	run single --help
	[ "$status" -eq 0 ]
	run single -V
	[ "$status" -eq 0 ]
	[[ ${lines[0]} =~ ^single\ \(libsingle\)\ [0-9] ]]
	[ "${lines[1]}" = "library: $LIB" ]
}

@test "a command that cannot be run: 127 if not found, 126 if not executable" {
	run -127 single no-such-command-xyz
	[ "$status" -eq 127 ]
	[ "$output" = "single: cannot run 'no-such-command-xyz': command not found" ]
	run -127 single "$T/missing"
	[ "$status" -eq 127 ]
	[ "$output" = "single: cannot run '$T/missing': No such file or directory" ]
	run single "$T"
	[ "$status" -eq 126 ]
	[ "$output" = "single: cannot run '$T': Is a directory" ]
	: >"$T/plain"
	run single "$T/plain"
	[ "$status" -eq 126 ]
	[ "$output" = "single: cannot run '$T/plain': Permission denied" ]
}

@test "a set-user-ID program, which ignores LD_PRELOAD, is refused with 77 and not run" {
	cp "$BIN/holder" "$T/suid-holder"
	chown nobody: "$T/suid-holder"
	chmod 4755 "$T/suid-holder"
	run single "$T/suid-holder" "$T/x.ready"
	[ "$status" -eq 77 ]
	[ "$output" = "single: cannot lock '$T/suid-holder': a set-user-ID or set-group-ID program ignores LD_PRELOAD" ]
	[ ! -e "$T/x.ready" ]
}

# ---- finding the library ---------------------------------------------------------

@test "single finds the library next to itself in the source tree, never in the current directory" {
	cp "$LIB" "$T/libsingle.so"
	cd "$T"
	run "$SINGLE_CMD" -V
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "library: $TREE_LIB" ]
	# through a symlink from elsewhere, too
	mkdir "$T/bin"
	ln -s "$SINGLE_CMD" "$T/bin/single"
	run "$T/bin/single" -V
	[ "${lines[1]}" = "library: $TREE_LIB" ]
	PATH=$T/bin:$PATH run single -V
	[ "${lines[1]}" = "library: $LIB" ]
}

@test "a copy of the build tree's single without a library beside it says where it looked, status 72" {
	needs_native_m32 "/proc/self/exe (under qemu it names qemu)"
	mkdir -p "$T/tree/build"
	cp "$SINGLE_CMD" "$T/tree/build/single"
	cp "$LIB" "$T/libsingle.so"
	cd "$T"
	run "$T/tree/build/single" true
	[ "$status" -eq 72 ]
	[ "$output" = "single: cannot find the library: $T/tree/preload/libsingle.so is missing (run make, or set SINGLE_LIB)" ]
}

@test "SINGLE_LIB names the library; a missing or relative one is refused with 72" {
	SINGLE_LIB=$T/none.so run "$SINGLE_CMD" true
	[ "$status" -eq 72 ]
	[ "$output" = "single: cannot find the library: $T/none.so: no such file" ]
	SINGLE_LIB=libsingle.so run "$SINGLE_CMD" true
	[ "$status" -eq 72 ]
	[ "$output" = "single: SINGLE_LIB must be an absolute path: 'libsingle.so'" ]
	# ld.so expands $LIB per program: passed on as it is
	# shellcheck disable=SC2016
	SINGLE_LIB='/usr/$LIB/libsingle.so' run "$SINGLE_CMD" sh -c 'echo "$LD_PRELOAD"'
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = '/usr/$LIB/libsingle.so' ]
}

# ---- --explain -------------------------------------------------------------------

@test "--explain prints key, lock and 'state: free', exits 0 and never runs the command" {
	run single --explain "$BIN/holder" "$T/x.ready"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'key: %s\nlock: %s\nstate: free' "$BIN/holder" "$(holder_lock)")" ]
	[ ! -e "$T/x.ready" ]
}

@test "--explain names the live holder's pid, as a real start would find it" {
	start_holder h
	run single --explain "$BIN/holder" "$T/x.ready"
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "state: held by pid $HOLDER_PID" ]
	[ ! -e "$T/x.ready" ]
	run single -v "$BIN/holder" "$T/x.ready"
	[ "$output" = "libsingle: holder is already running (pid $HOLDER_PID); not starting" ]
	release h
	run single --explain "$BIN/holder" "$T/x.ready"
	[ "${lines[2]}" = "state: free" ]
}

@test "--explain follows the options: -a, -k, -d, -m" {
	run single --explain -a "$BIN/mbsync" work
	[ "${lines[0]}" = "key: $BIN/mbsync work" ]
	[ "${lines[1]}" = "lock: $(lock_name "$BIN/mbsync" work)" ]
	run single --explain -k mail "$BIN/mbsync" work
	[ "${lines[0]}" = "key: mail (SINGLE_KEY)" ]
	[ "${lines[1]}" = "lock: $SINGLE_DIR/@mail.lock" ]
	run single -d "$T/d" --explain "$BIN/holder"
	[ "${lines[1]}" = "lock: $T/d/$(basename "$(holder_lock)")" ]
	run single --explain -m 2 "$BIN/holder"
	[ "${#lines[@]}" -eq 5 ]
	[ "${lines[3]}" = "lock: $(holder_lock).2" ]
	[ "${lines[4]}" = "state: free" ]
}

# ---- --list ------------------------------------------------------------------------

@test "--list shows each lock: key, held or free, holder pid and program, since when" {
	needs_system_programs /bin/true
	start_holder h
	mkfifo "$T/release.work"
	single_bg work -a "$BIN/mbsync" work
	wait_until "$BOUND" ran_once work
	local work_pid
	work_pid=$(cat "$T"/ran.work.*)
	mkfifo "$T/release.k"
	single_bg k -k "mail box" "$BIN/holder" "$T/k.ready" "$T/release.k"
	wait_for_file "$T/k.ready"
	single /bin/true                      # now free
	run single --list
	[ "$status" -eq 0 ]
	[[ ${lines[0]} =~ ^STATE\ +PID\ +PROGRAM\ +SINCE\ +FOR\ +SKIPPED\ +WAITING\ +KEY$ ]]
	[ "${#lines[@]}" -eq 5 ]
	local today
	today=$(date +%Y-%m-%d)
	grep -Eqx "held +$HOLDER_PID +holder +$today [0-9:]{8} +[0-9dhms]+ +0 +0 $BIN/holder" <<<"$output"
	grep -Eqx "held +$work_pid +mbsync +$today [0-9:]{8} +[0-9dhms]+ +0 +0 $BIN/mbsync work" <<<"$output"
	grep -Eqx "held +$(cat "$T/k.ready") +holder +$today [0-9:]{8} +[0-9dhms]+ +0 +0 mail box \(SINGLE_KEY\)" <<<"$output"
	grep -Eqx "free +- +- +- +- +- +0 $(readlink -f /bin/true)" <<<"$output"
	release h
	release k "$(cat "$T/k.ready")"
	fifo_close "$T/release.work"
	wait_for_file "$T/work.exit"
	run single --list
	[ "$(grep -c '^free ' <<<"$output")" -eq 4 ]
}

@test "--list decodes escaped names: '-', spaces, '%' and '+' in paths, slots of -m" {
	mkdir "$T/a-b"
	cp "$BIN/holder" "$T/a-b/my prog+100%"
	mkfifo "$T/release.p"
	single_bg p -m 2 "$T/a-b/my prog+100%" "$T/p.ready" "$T/release.p"
	wait_for_file "$T/p.ready"
	mkfifo "$T/release.q"
	single_bg q -m 2 "$T/a-b/my prog+100%" "$T/q.ready" "$T/release.q"
	wait_for_file "$T/q.ready"
	run single --list
	grep -Fqx "$T/a-b/my prog+100%" <<<"$(cut -c 82- <<<"$output")"
	grep -Fqx "$T/a-b/my prog+100% (slot 2)" <<<"$(cut -c 82- <<<"$output")"
	[ "$(grep -c '^held ' <<<"$output")" -eq 2 ]
	release p "$(cat "$T/p.ready")"
	release q "$(cat "$T/q.ready")"
}

@test "--list trusts the kernel, not the pid in the file: a forked child sharing the lock is listed too" {
	mkfifo "$T/release.f" "$T/release.f.child"
	spawn env LD_PRELOAD="$PRELOAD" "$BIN/forker" fork "$T/f.ready" "$T/release.f"
	local pid=$BG_PID
	wait_for_file "$T/f.ready"
	local parent child
	parent=$(cat "$T/f.ready")
	child=$(cat "$T/f.ready.child")
	run single --list
	grep -Eq "^held +$(printf '%s\n' "$parent" "$child" | sort -n | paste -sd,) +forker,forker " <<<"$output"
	fifo_close "$T/release.f"
	fifo_close "$T/release.f.child"
	reap "$pid"
	reap "$child"
	# a live pid written into a lock file nobody holds: free
	echo $$ >"$(lock_name "$BIN/forker")"
	run single --list
	grep -Eq "^free +- +- +- +- +- +0 $BIN/forker$" <<<"$output"
}

@test "--list counts a lock taken by flock(1) as held, and honours -d and SINGLE_DIR" {
	mkdir -m 700 "$T/d"
	: >"$T/d/@job.lock"
	spawn flock "$T/d/@job.lock" "$BIN/holder" "$T/fl.ready"
	wait_for_file "$T/fl.ready"
	run single --list -d "$T/d"
	grep -Eq "^held +[0-9]+,[0-9]+ +(flock|holder),(flock|holder) .* job \(SINGLE_KEY\)$" <<<"$output"
	SINGLE_DIR=$T/d run single --list
	grep -Eq "^held .* job \(SINGLE_KEY\)$" <<<"$output"
	kill "$(cat "$T/fl.ready")"
	run single --list -d "$T/nonexistent"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

# ---- static programs -----------------------------------------------------------------

@test "LD_PRELOAD alone cannot reach a static program: a second copy runs" {
	mkfifo "$T/release.a" "$T/release.b"
	spawn env LD_PRELOAD="$LIB" "$STATIC_HOLDER" "$T/a.ready" "$T/release.a"
	wait_for_file "$T/a.ready"
	spawn env LD_PRELOAD="$LIB" "$STATIC_HOLDER" "$T/b.ready" "$T/release.b"
	wait_for_file "$T/b.ready"
	release a "$(cat "$T/a.ready")"
	release b "$(cat "$T/b.ready")"
}

@test "a static program run through single is single-instance" {
	needs_system_programs "env (single locks a static program through it)"
	mkfifo "$T/release.s"
	single_bg s -v "$STATIC_HOLDER" "$T/s.ready" "$T/release.s"
	wait_for_file "$T/s.ready"
	local pid
	pid=$(cat "$T/s.ready")
	is_locked "$(lock_name "$STATIC_HOLDER")"
	run single -E 5 "$STATIC_HOLDER" "$T/t.ready"
	[ "$status" -eq 5 ]
	[ ! -e "$T/t.ready" ]
	run single --explain "$STATIC_HOLDER"
	[ "${lines[0]}" = "key: $STATIC_HOLDER" ]
	[ "${lines[2]}" = "state: held by pid $pid" ]
	release s "$pid"
	wait_for_file "$T/s.exit"
	[ "$(cat "$T/s.exit")" -eq 0 ]
	run ! is_locked "$(lock_name "$STATIC_HOLDER")"
}

@test "-v says when a static program is locked through env" {
	needs_system_programs "env (single locks a static program through it)"
	run single -v --explain "$STATIC_HOLDER"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "single: $STATIC_HOLDER is statically linked: locking it through env" ]
	[ "${lines[1]}" = "key: $STATIC_HOLDER" ]
	run single -v --explain "$BIN/holder"
	[ "${lines[0]}" = "key: $BIN/holder" ]
}

# fake_elf FILE CLASS(32|64) ORDER(le|be) PTYPE...: an ELF header and
# program headers of the given types, for a machine no kernel runs
fake_elf() {
	"$PYTHON" - "$@" <<-'EOF'
	import struct, sys
	path, bits, order, types = sys.argv[1], int(sys.argv[2]), sys.argv[3], [int(t) for t in sys.argv[4:]]
	e = '<' if order == 'le' else '>'
	ident = b'\x7fELF' + bytes([1 if bits == 32 else 2, 1 if order == 'le' else 2, 1]) + bytes(9)
	if bits == 64:
	    ehsize, phsize = 64, 56
	    head = ident + struct.pack(e + 'HHIQQQIHHHHHH', 2, 0, 1, 0, ehsize, 0, 0, ehsize, phsize, len(types), 0, 0, 0)
	    ph = b''.join(struct.pack(e + 'IIQQQQQQ', t, 5, 0, 0, 0, 0, 0, 0) for t in types)
	else:
	    ehsize, phsize = 52, 32
	    head = ident + struct.pack(e + 'HHIIIIIHHHHHH', 2, 0, 1, 0, ehsize, 0, 0, ehsize, phsize, len(types), 0, 0, 0)
	    ph = b''.join(struct.pack(e + 'IIIIIIII', t, 0, 0, 0, 0, 0, 5, 0) for t in types)
	open(path, 'wb').write(head + ph)
	EOF
	chmod +x "$1"
}

@test "static detection reads the program headers: 32- and 64-bit, both byte orders" {
	needs_system_programs "env (single locks a static program through it)"
	local f
	for f in "32 le" "64 le" "32 be" "64 be"; do
		# PT_LOAD, PT_NOTE: static
		fake_elf "$T/static" "${f% *}" "${f#* }" 1 4
		run single -v --explain "$T/static"
		[ "$status" -eq 0 ]
		[ "${lines[0]}" = "single: $T/static is statically linked: locking it through env" ]
		[ "${lines[1]}" = "key: $T/static" ]
		# PT_PHDR, PT_INTERP, PT_LOAD: dynamic, so run as it is (and
		# the kernel refuses it)
		fake_elf "$T/dynamic" "${f% *}" "${f#* }" 6 3 1
		run single -v --explain "$T/dynamic"
		[ "$status" -ne 0 ]
		[[ $output != *'statically linked'* ]]
	done
}

@test "a script is not static, unless its interpreter is" {
	needs_system_programs sh
	printf '#!/bin/sh\necho hi\n' >"$T/script"
	chmod +x "$T/script"
	run single -v "$T/script"
	[ "$output" = hi ]
	printf '#!%s\n' "$STATIC_HOLDER" >"$T/static-script"
	chmod +x "$T/static-script"
	run single -v --explain "$T/static-script"
	[ "${lines[0]}" = "single: $T/static-script is statically linked: locking it through env" ]
	[ "${lines[1]}" = "key: $T/static-script" ]
}
