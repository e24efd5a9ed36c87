#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The manuals (scripts/single.1, preload/libsingle.7) and the service
# examples (scripts/examples/): they render cleanly, cover what the code
# has, say what the library does, and the examples are valid.

load helpers
bats_require_minimum_version 1.5.0

MAN1=$ROOT_DIR/scripts/single.1
MAN7=$ROOT_DIR/preload/libsingle.7
EXAMPLES=$ROOT_DIR/scripts/examples

setup() { common_setup; }
teardown() { common_teardown; }

# rendered PAGE: the page as plain text, one long line per paragraph
rendered() {
	MANWIDTH=1000 man -l "$1" 2>/dev/null | col -bx
}

@test "the man pages render without a single warning (groff -ww -man -z prints nothing)" {
	local page
	for page in "$MAN1" "$MAN7"; do
		run groff -ww -man -z "$page"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	done
	# the check itself catches a bad page
	printf '.TH X 1\n.SH NAME\n.BX bad macro\n.ft Q\n' >"$T/bad.1"
	run groff -ww -man -z "$T/bad.1"
	[ -n "$output" ]
}

# sections PAGE: the page's .SH headings, one a line
sections() {
	sed -n 's/^\.SH "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$1"
}

@test "single(1) has NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, ENVIRONMENT, FILES, NOTES, EXAMPLES, SEE ALSO in order; libsingle(7) the same without OPTIONS" {
	local want1 want7
	want1=$(printf '%s\n' NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT \
		FILES NOTES EXAMPLES "SEE ALSO")
	# a library has no options: its settings are under ENVIRONMENT
	want7=$(printf '%s\n' NAME SYNOPSIS DESCRIPTION "EXIT STATUS" ENVIRONMENT \
		FILES NOTES EXAMPLES "SEE ALSO")
	run sections "$MAN1"
	[ "$output" = "$want1" ]
	run sections "$MAN7"
	[ "$output" = "$want7" ]
}

@test "libsingle(7) documents every SINGLE_ variable the library reads and every exit status it uses" {
	local vars v statuses s text
	vars=$(grep -rhoE '"SINGLE_[A-Z_]+' "$ROOT_DIR"/preload/*.c "$ROOT_DIR"/preload/*.h | tr -d '"' | sort -u)
	[ "$(wc -l <<<"$vars")" -ge 12 ]
	text=$(rendered "$MAN7" | sed -n '/^ENVIRONMENT/,/^FILES/p')
	for v in $vars; do
		grep -qE "^ +$v(=|$)" <<<"$text" || { echo "$v missing from ENVIRONMENT" >&2; return 1; }
	done
	statuses=$(grep -rhoE '#define EXIT_[A-Z]+ +[0-9]+' "$ROOT_DIR"/preload/*.h | awk '{ print $3 }')
	[ -n "$statuses" ]
	text=$(rendered "$MAN7" | sed -n '/^EXIT STATUS/,/^ENVIRONMENT/p')
	for s in $statuses; do
		grep -qE "^ +$s " <<<"$text" || { echo "status $s missing from EXIT STATUS" >&2; return 1; }
	done
}

@test "single(1) documents every option single --help lists, and every exit status" {
	local opts o text
	opts=$(SINGLE_LIB=$LIB "$ROOT_DIR/build/single" --help | grep -oE '(^| )--?[A-Za-z][a-z-]*' | sort -u)
	[ "$(wc -l <<<"$opts")" -ge 20 ]
	# the tags of the OPTIONS section: "-w, --wait secs", "--explain"
	text=$(rendered "$MAN1" | sed -n '/^OPTIONS/,/^EXIT STATUS/p' | grep -E '^ {7}-')
	for o in $opts; do
		grep -qE -- "(^| )$o([^a-z-]|$)" <<<"$text" ||
			{ echo "$o missing from OPTIONS" >&2; return 1; }
	done
	text=$(rendered "$MAN1" | sed -n '/^EXIT STATUS/,/^ENVIRONMENT/p')
	for o in 64 71 72 73 77 126 127; do
		grep -qE "^ +$o( |$)" <<<"$text" || { echo "status $o missing" >&2; return 1; }
	done
}

@test "the man pages show the multilib form LD_PRELOAD='/usr/\$LIB/libsingle.so', quoted" {
	rendered "$MAN7" | grep -qF "LD_PRELOAD='/usr/\$LIB/libsingle.so'"
}

@test "the lock file names libsingle(7) gives as examples are the ones the library uses" {
	needs_system_programs "bash and true"
	local text
	text=$(rendered "$MAN7")
	grep -qE '^ +bash -c .sleep 2. +usr-bin-bash\+-c\+sleep%202\.lock$' <<<"$text"
	run try_start SINGLE_EXPLAIN=1 bash -c 'sleep 2'
	[ "${lines[1]}" = "lock: $SINGLE_DIR/$(readlink -f /usr/bin/bash | sed 's|^/||; s|/|-|g')+-c+sleep%202.lock" ]
	grep -qE '^ +SINGLE_KEY=mail +@mail\.lock$' <<<"$text"
	run try_start SINGLE_EXPLAIN=1 SINGLE_KEY=mail true
	[ "${lines[1]}" = "lock: $SINGLE_DIR/@mail.lock" ]
	grep -qE '^ +/home/me/bin/mail-sync\.py +home-me-bin-mail%2dsync\.py\.lock$' <<<"$text"
	mkdir -p "$T/bin"
	printf '#!/bin/sh\n' >"$T/bin/mail-sync.py"
	chmod +x "$T/bin/mail-sync.py"
	run try_start SINGLE_EXPLAIN=1 "$T/bin/mail-sync.py"
	[ "${lines[1]}" = "lock: $(lock_name "$T/bin/mail-sync.py")" ]
	[[ ${lines[1]} == *-mail%2dsync.py.lock ]]
}

# ---- service examples ----------------------------------------------------------

# runnable_copy UNIT DIR: UNIT copied into DIR with every Exec command
# that does not exist here (mbsync, mu) replaced by /bin/true, so that
# systemd-analyze can check it on any machine
runnable_copy() {
	local unit=$1 dir=$2
	awk '
	/^Exec[A-Za-z]*=/ {
		split($0, kv, "="); cmd = substr($0, length(kv[1]) + 2)
		split(cmd, w, " ")
		if (system("test -x " w[1]) != 0) { print kv[1] "=/bin/true"; next }
	}
	{ print }' "$unit" >"$dir/${unit##*/}"
}

@test "the example service and timer pass systemd-analyze verify without a message" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
	mkdir "$T/units"
	runnable_copy "$EXAMPLES/mailsync.service" "$T/units"
	runnable_copy "$EXAMPLES/mailsync.timer" "$T/units"
	grep -qx 'Environment=LD_PRELOAD=/usr/local/lib/libsingle.so' "$T/units/mailsync.service"
	run systemd-analyze verify --man=no "$T/units/mailsync.service" "$T/units/mailsync.timer"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# the check itself catches a broken unit
	printf '[Service]\nExecStart=/bin/true\nExecStrat=/bin/true\n' >"$T/units/broken.service"
	run systemd-analyze verify --man=no "$T/units/broken.service"
	[ -n "$output" ]
}

@test "the example service's command line is single-instance with the library it names" {
	# The unit's own Environment= and ExecStart=, with the library under
	# test and a holder in place of mbsync: a second start exits 0 at once.
	local unit_preload
	unit_preload=$(sed -n 's/^Environment=LD_PRELOAD=//p' "$EXAMPLES/mailsync.service")
	[ "${unit_preload##*/}" = libsingle.so ]
	start_holder first
	run bounded env LD_PRELOAD="${unit_preload%/*}/none:$PRELOAD" "$BIN/holder" "$T/second.ready"
	[ "$status" -eq 0 ]
	[ ! -e "$T/second.ready" ]
	release first
}

@test "every job in the example crontab has five time fields and a command sh can parse" {
	local line n=0 cmd f fields
	while IFS= read -r line; do
		case $line in '' | '#'*) continue ;; esac
		n=$((n + 1))
		[[ $line =~ ^([^[:space:]]+[[:space:]]+){5}(.*)$ ]]
		cmd=${BASH_REMATCH[2]}
		read -r -a fields <<<"$line"
		for f in "${fields[@]:0:5}"; do
			[[ $f =~ ^(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?(,([0-9]+(-[0-9]+)?))*$ ]] ||
				{ echo "bad time field '$f' in: $line" >&2; return 1; }
		done
		[[ $cmd != *%* ]]      # cron turns % into a newline
		sh -n -c "$cmd"
		[[ $cmd == *LD_PRELOAD=*/libsingle.so* || $cmd == */single\ * ]]
	done <"$EXAMPLES/crontab"
	[ "$n" -ge 2 ]
}
