# SPDX-License-Identifier: MIT
# bash completion for single(1)                            -*- shell-script -*-
# Installed as BASHCOMPDIR/single (make install), where bash-completion
# loads it the first time single's arguments are completed.
#
# single's options come first: they are completed, and so are the values
# of those that have a known set (--wait inf, --dir a directory, --key
# the keys already in the lock directory).  The first other word is the
# command: from there on, the command's own completion takes over, as
# for sudo or nice.  --list and --prune take no command.
#
# Words are read from COMP_WORDS as bash split them, so that the command
# is found at the index bash-completion's _command_offset counts in:
# "--wait=5" arrives as "--wait" "=" "5".

# _single_value OPTION CUR: complete the value of OPTION (short or long)
_single_value()
{
	local dir
	case $1 in
	-w | --wait)
		mapfile -t COMPREPLY < <(compgen -W 'inf' -- "$2")
		;;
	-d | --dir)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$2")
		;;
	-k | --key)
		# a key named with --key has the lock file @KEY.lock
		dir=${SINGLE_DIR:-/tmp/libsingle-$EUID}
		mapfile -t COMPREPLY < <(compgen -W "$(
			for f in "$dir"/@*.lock; do
				[ -e "$f" ] || continue
				f=${f##*/@}
				case $f in *%*) ;; *) echo "${f%.lock}" ;; esac
			done)" -- "$2")
		;;
	esac
}

_single()
{
	local cur=${COMP_WORDS[COMP_CWORD]} i w j mode=run value=

	# Find where the command starts (i), or the option whose value is
	# being completed (value).
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--)
			i=$((i + 1))
			break
			;;
		--list | --prune)
			mode=${w#--}
			;;
		--replace)
			# its value only ever attached: --replace=SECS
			[ "${COMP_WORDS[i + 1]}" != = ] || i=$((i + 2))
			;;
		-w | --wait | -E | --conflict-exit | -k | --key | -d | --dir | -m | --max | \
			-s | --stale | -q | --queue | --older)
			if [ "${COMP_WORDS[i + 1]}" = = ]; then
				i=$((i + 2))
			else
				i=$((i + 1))
			fi
			[ "$i" -lt "$COMP_CWORD" ] || value=$w
			;;
		--*) ;;
		-?*)
			# a cluster of short options; the first one that takes a
			# value ends it, its value attached or in the next word
			for ((j = 1; j < ${#w}; j++)); do
				case ${w:j:1} in
				[wEkdmsq])
					if [ "$j" -eq $((${#w} - 1)) ]; then
						i=$((i + 1))
						[ "$i" -lt "$COMP_CWORD" ] || value=-${w:j:1}
					fi
					break
					;;
				r) break ;;
				esac
			done
			;;
		*)
			break
			;;
		esac
	done

	if [ -n "$value" ]; then
		[ "$cur" != = ] || cur=
		_single_value "$value" "$cur"
	elif [ "$i" -lt "$COMP_CWORD" ]; then
		# the command's own arguments: its own completion
		if declare -F _comp_command_offset >/dev/null; then
			_comp_command_offset "$i"
		elif declare -F _command_offset >/dev/null; then
			_command_offset "$i"
		else
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi
	elif [[ $cur == -* && ${COMP_WORDS[i - 1]} != -- ]]; then
		case $mode in
		list) w='--json --stale --dir' ;;
		prune) w='--older --dir' ;;
		*) w='--wait --conflict-exit --key --dir --args --max --replace
		      --replace= --stale --queue --verbose --explain --list --prune
		      --help --version' ;;
		esac
		mapfile -t COMPREPLY < <(compgen -W "$w" -- "$cur")
		# --replace= takes its value with no space between
		[[ ${COMPREPLY[*]} != --replace= ]] || compopt -o nospace 2>/dev/null
	elif [ "$mode" = run ]; then
		# the command: a program in PATH, or a file
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -c -- "$cur")
	fi
	return 0
}
complete -F _single single
