#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Shell completion for single (scripts/completion/): bash's function is
# driven as bash-completion drives it (COMP_WORDS, COMP_CWORD, COMP_LINE,
# COMP_POINT, then COMPREPLY read); zsh's through a terminal zsh reads
# from (zpty), whose completion system offers the matches.

load helpers

BASH_COMPLETION=${BASH_COMPLETION:-/usr/share/bash-completion/bash_completion}

setup() { common_setup; }
teardown() { common_teardown; }

# complete_words WORD...: what _single offers for the command line WORD...,
# the last WORD being the one completed (bash splits "--wait=5" into
# "--wait" "=" "5": so do the callers), one match a line, sorted
complete_words() {
	bash -c '
		source "$1" || exit 1
		source "$2" || exit 1
		complete -W "alpha beta" fakecmd
		shift 2
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		_single single "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort' bash \
		"$BASH_COMPLETION" "$ROOT_DIR/scripts/completion/single.bash" "$@"
}

need_bash_completion() {
	[ -r "$BASH_COMPLETION" ] || skip "bash-completion is not installed"
}

@test "bash: single completes its options, and only those of --list or --prune after them" {
	need_bash_completion
	run complete_words single --w
	[ "$output" = --wait ]
	run complete_words single --re
	[ "$output" = "$(printf '%s\n' --replace --replace=)" ]
	run complete_words single -
	[ "${#lines[@]}" -eq 16 ]
	for o in --wait --conflict-exit --key --dir --args --max --replace --stale --queue \
		--verbose --explain --list --prune --help --version; do
		grep -qx -- "$o" <<<"$output"
	done
	run complete_words single --list --
	[ "$output" = "$(printf '%s\n' --dir --json --stale)" ]
	run complete_words single --prune -d /tmp --
	[ "$output" = "$(printf '%s\n' --dir --older)" ]
	# --list takes no command
	run complete_words single --list ""
	[ -z "$output" ]
}

@test "bash: single completes the values it knows: --wait inf, --dir directories, --key the keys in use" {
	need_bash_completion
	run complete_words single -w ""
	[ "$output" = inf ]
	run complete_words single --wait = ""
	[ "$output" = inf ]
	run complete_words single -aw i
	[ "$output" = inf ]
	mkdir -p "$T/dirs/sub1" "$T/dirs/sub2"
	: >"$T/dirs/file"
	run complete_words single -v --dir "$T/dirs/s"
	[ "$output" = "$(printf '%s\n' "$T/dirs/sub1" "$T/dirs/sub2")" ]
	# keys: the @KEY.lock files of the lock directory
	mkdir -p "$SINGLE_DIR"
	: >"$SINGLE_DIR/@mail.lock"
	: >"$SINGLE_DIR/@backup.lock"
	: >"$SINGLE_DIR/usr-bin-true.lock"
	run complete_words single -k ""
	[ "$output" = "$(printf '%s\n' backup mail)" ]
	# a value with no known set: nothing
	run complete_words single -E ""
	[ -z "$output" ]
	run complete_words single --max = ""
	[ -z "$output" ]
}

@test "bash: after single's options, the command, then the command's own completion" {
	need_bash_completion
	# the command: programs in PATH
	run complete_words single -a bas
	grep -qx bash <<<"$output"
	run complete_words single -- bas
	grep -qx bash <<<"$output"
	# its arguments: its own completion (fakecmd: alpha beta), however
	# single's options before it took their values
	run complete_words single fakecmd ""
	[ "$output" = "$(printf '%s\n' alpha beta)" ]
	run complete_words single -w 5 -E 3 fakecmd b
	[ "$output" = beta ]
	run complete_words single --wait = 5 -av fakecmd a
	[ "$output" = alpha ]
	run complete_words single -w5 -r2 --key job -- fakecmd ""
	[ "$output" = "$(printf '%s\n' alpha beta)" ]
	# an option of the command is the command's, not single's
	run complete_words single fakecmd --w
	[ -z "$output" ]
	# a value that looks like an option is the option's value
	run complete_words single -k -w fakecmd a
	[ "$output" = alpha ]
}

@test "bash: the completion is registered for single when bash-completion loads it" {
	need_bash_completion
	run bash -c 'source "$1"; source "$2"; complete -p single' bash "$BASH_COMPLETION" \
		"$ROOT_DIR/scripts/completion/single.bash"
	[ "$output" = "complete -F _single single" ]
}

# zsh_complete LINE: the matches zsh's completion system offers for LINE
# (typed, then TAB), one a line, sorted.  compadd is wrapped to write the
# matches it is given to $T/zsh.out.
zsh_complete() {
	rm -f "$T/zsh.out"
	bounded zsh -f -c '
		zmodload zsh/zpty || exit 1
		zpty z zsh -f -i
		zpty -w z "PS1=; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D"
		zpty -w z "compadd () { local -a m; builtin compadd -O m \"\$@\"; (( \$#m )) && print -rl -- \$m >>${(q)3}; builtin compadd \"\$@\" }"
		zpty -w z "print -r -- ready >${(q)3}.ready"
		for i in {1..400}; do [[ -e $3.ready ]] && break; sleep 0.025; done
		zpty -w -n z "$2"$'"'"'\t'"'"'
		for i in {1..400}; do [[ -s $3 ]] && break; sleep 0.025; done
		sleep 0.3
		zpty -d z' zsh "$ROOT_DIR/scripts/completion" "$1" "$T/zsh.out" || return
	[ ! -e "$T/zsh.out" ] || sort -u "$T/zsh.out"
}

@test "zsh: single completes its options, --wait's inf, the command and then the command's own completion" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	zsh -n "$ROOT_DIR/scripts/completion/_single"
	run zsh_complete 'single --wa'
	[ "$output" = --wait ]
	run zsh_complete 'single -w '
	[ "$output" = inf ]
	run zsh_complete 'single --list --'
	[ "$output" = "$(printf '%s\n' --dir --json --stale)" ]
	run zsh_complete 'single -a ech'
	grep -qx echo <<<"$output"
	# ls's own completion after the command
	run zsh_complete 'single -w 5 ls --colo'
	[ "$output" = --color ]
}
