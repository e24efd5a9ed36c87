#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Which starts exclude each other (the key), and the lock file names.
#
# Every script here is a small "holder": JOB READY [RELEASE] writes its pid
# to READY, then, given RELEASE, reads that FIFO until it is closed.

load helpers

setup() {
	common_setup
	cd "$T" || return 1
	R=$(pwd -P)	# $T with symlinks resolved, as keys are
	PERL=$(command -v perl)
}
teardown() { common_teardown; }

# write_job FILE: a holder script in the language of FILE's extension
write_job() {
	case $1 in
	*.py) cat >"$1" <<-'EOF'
		#!/usr/bin/python3
		import os, sys
		with open(sys.argv[1] + ".tmp", "w") as f:
		    f.write("%d\n" % os.getpid())
		os.rename(sys.argv[1] + ".tmp", sys.argv[1])
		if len(sys.argv) > 2:
		    open(sys.argv[2]).read()
		EOF
		;;
	*.sh) cat >"$1" <<-'EOF'
		#!/bin/sh
		echo $$ >"$1.tmp" && mv "$1.tmp" "$1"
		[ -z "$2" ] || read -r _ <"$2" || :
		EOF
		;;
	*.pl) cat >"$1" <<-'EOF'
		#!/usr/bin/perl
		open(my $f, ">", "$ARGV[0].tmp") or die; print $f "$$\n"; close $f;
		rename("$ARGV[0].tmp", $ARGV[0]) or die;
		if (@ARGV > 1) { open(my $r, "<", $ARGV[1]) or die; local $/; <$r>; }
		EOF
		;;
	*.rb) cat >"$1" <<-'EOF'
		#!/usr/bin/env ruby
		File.write(ARGV[0] + ".tmp", "#{Process.pid}\n")
		File.rename(ARGV[0] + ".tmp", ARGV[0])
		File.read(ARGV[1]) if ARGV.length > 1
		EOF
		;;
	*.js) cat >"$1" <<-'EOF'
		#!/usr/bin/env node
		const fs = require("fs"), a = process.argv.slice(2);
		fs.writeFileSync(a[0] + ".tmp", process.pid + "\n");
		fs.renameSync(a[0] + ".tmp", a[0]);
		if (a.length > 1) fs.readFileSync(a[1]);
		EOF
		;;
	esac
	chmod +x "$1"
}

# exclusive LOCKFILE FORM...: each FORM (a command line, split on blanks,
# run in $T) holds LOCKFILE and keeps every other FORM out.
exclusive() {
	local lock=$1 i j
	shift
	local forms=("$@")
	for i in "${!forms[@]}"; do
		# shellcheck disable=SC2086
		start_holder "h$i" -- ${forms[i]} "$T/h$i.ready" "$T/release.h$i"
		if ! is_locked "$lock"; then
			echo "'${forms[i]}' runs without holding $lock" >&2
			return 1
		fi
		for j in "${!forms[@]}"; do
			[ "$i" != "$j" ] || continue
			# shellcheck disable=SC2086
			run try_start ${forms[j]} "$T/o$i-$j.ready" /dev/null
			if [ "$status" -ne 0 ] || [ -n "$output" ] || [ -e "$T/o$i-$j.ready" ]; then
				echo "'${forms[j]}' started (status $status: $output) while '${forms[i]}' ran" >&2
				return 1
			fi
		done
		release "h$i"
	done
	# all of them used the one file
	[ "$(ls "$SINGLE_DIR")" = "${lock##*/}" ]
}

# runs_beside LOCKFILE FORM OTHER...: while FORM holds LOCKFILE, each
# OTHER start runs.
runs_beside() {
	local lock=$1 form=$2 k=0 other
	shift 2
	# shellcheck disable=SC2086
	start_holder beside -- $form "$T/beside.ready" "$T/release.beside"
	is_locked "$lock"
	for other; do
		k=$((k + 1))
		# shellcheck disable=SC2086
		run try_start $other "$T/other$k.ready" /dev/null
		if [ "$status" -ne 0 ] || [ ! -e "$T/other$k.ready" ]; then
			echo "'$other' did not run (status $status: $output) beside '$form'" >&2
			return 1
		fi
	done
	release beside
}

@test "python: ./job.py, python3 job.py, python3 /abs/job.py, env python3 job.py and a symlink exclude one another" {
	needs_system_programs python3
	write_job job.py
	ln -s job.py link.py
	exclusive "$(lock_name "$R/job.py")" ./job.py "$PYTHON job.py" \
		"$PYTHON $T/job.py" "env $PYTHON job.py" ./link.py
}

@test "python: another script, or a copy of the script elsewhere, runs beside job.py" {
	needs_system_programs python3
	write_job job.py
	write_job other.py
	mkdir copy && cp job.py copy/job.py
	runs_beside "$(lock_name "$R/job.py")" ./job.py "$PYTHON other.py" \
		"$PYTHON copy/job.py" ./copy/job.py
}

@test "shell: ./job.sh, sh job.sh, bash job.sh, dash /abs/job.sh, env sh job.sh and a symlink exclude one another" {
	needs_system_programs "sh, bash and dash"
	write_job job.sh
	ln -s job.sh link.sh
	exclusive "$(lock_name "$R/job.sh")" ./job.sh "sh job.sh" "bash job.sh" \
		"dash $T/job.sh" "/bin/sh job.sh" "env sh job.sh" ./link.sh
}

@test "shell: another script runs beside job.sh" {
	needs_system_programs "sh and bash"
	write_job job.sh
	write_job other.sh
	runs_beside "$(lock_name "$R/job.sh")" ./job.sh "sh other.sh" "bash other.sh" ./other.sh
}

@test "perl: ./job.pl, perl job.pl, perl /abs/job.pl, env perl job.pl and a symlink exclude one another" {
	needs_system_programs perl
	write_job job.pl
	ln -s job.pl link.pl
	exclusive "$(lock_name "$R/job.pl")" ./job.pl "perl job.pl" \
		"$PERL $T/job.pl" "env perl job.pl" ./link.pl
}

@test "perl: another script runs beside job.pl" {
	needs_system_programs perl
	write_job job.pl
	write_job other.pl
	runs_beside "$(lock_name "$R/job.pl")" ./job.pl "perl other.pl"
}

@test "ruby: ./job.rb, ruby job.rb, ruby /abs/job.rb, env ruby job.rb and a symlink exclude one another; other.rb runs beside" {
	command -v ruby >/dev/null || skip "ruby is not installed"
	write_job job.rb
	write_job other.rb
	ln -s job.rb link.rb
	exclusive "$(lock_name "$R/job.rb")" ./job.rb "ruby job.rb" \
		"$(command -v ruby) $T/job.rb" "env ruby job.rb" ./link.rb
	runs_beside "$(lock_name "$R/job.rb")" ./job.rb "ruby other.rb"
}

@test "node: ./job.js (#!/usr/bin/env node), node job.js, node /abs/job.js, env node job.js and a symlink exclude one another; other.js runs beside" {
	needs_system_programs node
	command -v node >/dev/null || skip "node is not installed"
	write_job job.js
	write_job other.js
	ln -s job.js link.js
	exclusive "$(lock_name "$R/job.js")" ./job.js "node job.js" \
		"$(command -v node) $T/job.js" "env node job.js" ./link.js
	runs_beside "$(lock_name "$R/job.js")" ./job.js "node other.js"
}

# Inline code: TEXT writes $0 or argv[1] as READY and waits on the next
# argument, like the scripts above.
SH_TEXT='echo $$ >"$0.tmp" && mv "$0.tmp" "$0"; [ -z "$1" ] || read -r _ <"$1" || :'
PY_TEXT='import os, sys
open(sys.argv[1] + ".tmp", "w").write("%d\n" % os.getpid())
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
len(sys.argv) > 2 and open(sys.argv[2]).read()'
PL_TEXT='open(my $f, ">", "$ARGV[0].tmp") or die; print $f "$$\n"; close $f;
rename("$ARGV[0].tmp", $ARGV[0]) or die;
if (@ARGV > 1) { open(my $r, "<", $ARGV[1]) or die; local $/; <$r>; }'

# inline INTERP FLAG TEXT: the same text excludes itself, a different text
# runs beside it, and the lock file is the interpreter + flag + text.
inline() {
	local interp=$1 flag=$2 text=$3 lock
	lock=$(lock_name "$(realpath "$(command -v "$interp")")" "$flag" "$text")
	start_holder same -- "$interp" "$flag" "$text" "$T/same.ready" "$T/release.same"
	is_locked "$lock"
	run try_start "$interp" "$flag" "$text" "$T/again.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/again.ready" ]
	run try_start "$interp" "$flag" "$text # another text" "$T/other.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -e "$T/other.ready" ]
	release same
}

@test "sh -c TEXT: the same text excludes itself, a different text runs" {
	needs_system_programs sh
	inline sh -c "$SH_TEXT"
}

@test "bash -c TEXT: the same text excludes itself, a different text runs" {
	needs_system_programs bash
	inline bash -c "$SH_TEXT"
}

@test "python3 -c TEXT: the same text excludes itself, a different text runs" {
	needs_system_programs python3
	inline "$PYTHON" -c "$PY_TEXT"
}

@test "perl -e TEXT: the same text excludes itself, a different text runs" {
	needs_system_programs perl
	inline perl -e "$PL_TEXT"
}

@test "bash -c TEXT runs beside sh -c with the same TEXT (another interpreter)" {
	needs_system_programs "sh and bash"
	start_holder sh -- sh -c "$SH_TEXT" "$T/sh.ready" "$T/release.sh"
	run try_start bash -c "$SH_TEXT" "$T/bash.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -e "$T/bash.ready" ]
	release sh
}

@test "SINGLE_KEY: two different programs with the same key exclude each other" {
	needs_system_programs python3
	write_job job.py
	start_holder first SINGLE_KEY=shared
	[ -e "$SINGLE_DIR/@shared.lock" ]
	is_locked "$SINGLE_DIR/@shared.lock"
	run try_start SINGLE_KEY=shared "$PYTHON" job.py "$T/py.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/py.ready" ]
	run try_start SINGLE_KEY=shared sh -c "$SH_TEXT" "$T/sh.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/sh.ready" ]
	# another key, or the program's own key, is another lock
	run try_start SINGLE_KEY=other "$BIN/holder" "$T/other.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -e "$T/other.ready" ]
	run try_start "$BIN/holder" "$T/own.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -e "$T/own.ready" ]
	release first
}

@test "lock file names are readable: /usr/bin/true gets usr-bin-true.lock" {
	needs_system_programs /usr/bin/true
	run try_start /usr/bin/true
	[ "$status" -eq 0 ]
	[ "$(ls "$SINGLE_DIR")" = usr-bin-true.lock ]
}

@test "lock file names are readable: bash -c 'exit 0' gets usr-bin-bash+-c+exit%200.lock" {
	needs_system_programs bash
	[ "$(realpath "$(command -v bash)")" = /usr/bin/bash ] || skip "bash is not /usr/bin/bash"
	run try_start bash -c 'exit 0'
	[ "$status" -eq 0 ]
	[ "$(ls "$SINGLE_DIR")" = 'usr-bin-bash+-c+exit%200.lock' ]
}

@test "lock file names are readable: a script my-job.sh gets ...-my%2djob.sh.lock, SINGLE_KEY=mail gets @mail.lock" {
	needs_system_programs sh
	write_job my-job.sh
	run try_start ./my-job.sh "$T/r1" /dev/null
	[ "$status" -eq 0 ]
	run try_start SINGLE_KEY=mail ./my-job.sh "$T/r2" /dev/null
	[ "$status" -eq 0 ]
	run ls "$SINGLE_DIR"
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = @mail.lock ]
	[ "${lines[1]}" = "$(basename "$(lock_name "$R/my-job.sh")")" ]
	[[ ${lines[1]} == *-my%2djob.sh.lock ]]
}

@test "programs at /x/a-b and /x/a/b have different lock files and run side by side" {
	mkdir a
	cp "$BIN/holder" a-b
	cp "$BIN/holder" a/b
	start_holder dash -- "$T/a-b" "$T/dash.ready" "$T/release.dash"
	start_holder slash -- "$T/a/b" "$T/slash.ready" "$T/release.slash"
	is_locked "$(lock_name "$R/a-b")"
	is_locked "$(lock_name "$R/a/b")"
	[ "$(lock_name "$R/a-b")" != "$(lock_name "$R/a/b")" ]
	[ "$(ls "$SINGLE_DIR" | wc -l)" -eq 2 ]
	release dash "$(cat "$T/dash.ready")"
	release slash "$(cat "$T/slash.ready")"
}

@test "SINGLE_KEY spelled like a program's lock name does not share its lock file" {
	# the program's file is X.lock; SINGLE_KEY=X must not land on it
	local body
	body=$(basename "$(holder_lock)" .lock)
	start_holder prog
	start_holder named "SINGLE_KEY=$body"
	is_locked "$(holder_lock)"
	is_locked "$SINGLE_DIR/@$body.lock"
	release prog "$(cat "$T/prog.ready")"
	release named "$(cat "$T/named.ready")"
}

@test "env - COMMAND is keyed by COMMAND, as env -i COMMAND is" {
	needs_system_programs env
	run try_start SINGLE_EXPLAIN=1 env - "$BIN/holder" "$T/r" /dev/null
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "key: $BIN/holder" ]
}

# hold_with_flock LOCKFILE NAME: flock(1) holds LOCKFILE, in the
# background, until NAME is released (as start_holder's holders are)
hold_with_flock() {
	mkfifo "$T/release.$2"
	spawn flock "$1" "$BIN/holder" "$T/$2.ready" "$T/release.$2"
	HOLDER_PID=$BG_PID
	wait_for_file_while "$T/$2.ready" "$HOLDER_PID"
}

# as_bare STATUS CMD...: CMD, preloaded, ends as it does without the
# library (status STATUS, the same output), and makes one lock file,
# LOCK_FILE; a start while someone holds that file is skipped.  (Not
# `run`: bats warns about a status of 127.)
as_bare() {
	local want=$1 bare got status
	shift
	status=0
	bare=$("$@" 2>&1) || status=$?
	echo "bare: status $status: $bare" >&2
	[ "$status" -eq "$want" ]
	status=0
	got=$(try_start "$@" 2>&1) || status=$?
	echo "preloaded: status $status: $got" >&2
	[ "$status" -eq "$want" ]
	[ "$got" = "$bare" ]
	[ "$(find "$SINGLE_DIR" -type f | wc -l)" -eq 1 ]
	LOCK_FILE=$(find "$SINGLE_DIR" -type f)
	hold_with_flock "$LOCK_FILE" flock
	run try_start "$@"
	echo "while held: status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	release flock
}

@test "perl -S job.pl (a script found on PATH) runs as without the library; two copies exclude each other, and ./job.pl" {
	needs_system_programs perl
	mkdir "$T/bin"
	write_job "$T/bin/job.pl"
	start_running h PATH="$T/bin:$PATH" -- perl -S job.pl "$T/h.ready" "$T/release.h"
	[ "$(lock_holders "$(lock_name "$R/bin/job.pl")")" = "$HOLDER_PID" ]
	run try_start PATH="$T/bin:$PATH" perl -S job.pl "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/second.ready" ]
	run try_start "$T/bin/job.pl" "$T/third.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/third.ready" ]
	release h
}

@test "node --title foo job.js runs as without the library; two copies exclude each other" {
	needs_system_programs node
	command -v node >/dev/null || skip "node is not installed"
	write_job job.js
	start_running h -- node --title foo job.js "$T/h.ready" "$T/release.h"
	[ "$(lock_holders "$(lock_name "$R/job.js")")" = "$HOLDER_PID" ]
	run try_start node --title foo job.js "$T/second.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/second.ready" ]
	release h
}

@test "bash missing.sh: bash's own error and status 127, as without the library; a start is skipped while another holds its lock" {
	needs_system_programs bash
	as_bare 127 bash missing.sh
	[[ ${LOCK_FILE##*/} == *bash*missing.sh* ]]
}

@test "python3 with an unknown option and a missing script: python's own usage error and status 2, as without the library; a start is skipped while another holds its lock" {
	needs_system_programs python3
	as_bare 2 "$PYTHON" --bogus missing.py
	[[ ${LOCK_FILE##*/} == *python*missing.py* ]]
}

# the dynamic loader of /bin/true, as its program header names it
ld_so() {
	local ld
	ld=$(readelf -l /bin/true 2>/dev/null | sed -n 's/.*program interpreter: \(.*\)\]$/\1/p')
	[ -n "$ld" ] || ld=$(ldd /bin/true 2>/dev/null | awk '$1 ~ /^\// { print $1 }')
	echo "$ld"
}

@test "ld.so PROGRAM is keyed by PROGRAM: it excludes PROGRAM started directly, and ld.so /bin/echo runs beside it" {
	needs_system_programs "the system's ld.so"
	local ld
	ld=$(ld_so)
	[ -n "$ld" ] && "$ld" /bin/true || skip "the dynamic loader cannot be run directly"
	start_running ld -- "$ld" "$BIN/holder" "$T/ld.ready" "$T/release.ld"
	[ "$(lock_holders "$HOLDER_LOCK")" = "$HOLDER_PID" ]
	run try_start "$BIN/holder" "$T/direct.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/direct.ready" ]
	run try_start "$ld" /bin/echo hello
	[ "$status" -eq 0 ]
	[ "$output" = hello ]
	release ld
	# and the other way round
	start_running direct
	run try_start "$ld" "$BIN/holder" "$T/via.ready" /dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/via.ready" ]
	release direct
}

@test "two different programs run from memfds of the same name run side by side; the same memfd started again is skipped (its key is the memfd's dev and ino)" {
	needs_native_m32 "the exec of a memfd"
	local a
	mkfifo "$T/release.a"
	spawn "$BIN/memfdexec" -p "$PRELOAD" job "$BIN/holder" "$T/a.ready" "$T/release.a"
	a=$BG_PID
	wait_for_file_while "$T/a.ready" "$a"
	[ "$(readlink "/proc/$a/exe")" = "/memfd:job (deleted)" ]
	# another program in another memfd called job
	run bounded "$BIN/memfdexec" -p "$PRELOAD" job "$BIN/envholder" "$T/b.ready"
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ -e "$T/b.ready" ]
	# the first one's memfd, executed again through /proc/PID/exe
	run try_start "/proc/$a/exe" "$T/c.ready" /dev/null
	echo "status $status: $output" >&2
	[ "$status" -eq 0 ]
	[ ! -e "$T/c.ready" ]
	# one lock file each, named by the memfd and its identity
	[ "$(find "$SINGLE_DIR" -name 'memfd:job*dev*ino*.lock' | wc -l)" -eq 2 ]
	release a "$a"
	[ "$REAPED" -eq 0 ]
}
