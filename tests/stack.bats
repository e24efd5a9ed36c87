#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# How little stack a locked start needs (issue #10.9).  A program that
# runs under a small `ulimit -s` must not crash with SIGSEGV in the
# library's constructor before its main ever runs.
#
# Measured without address-space randomisation (setarch -R): with it, the
# kernel moves the first stack pointer down by a random 0-8 KiB, so a
# limit close to the need works only some of the time.  Without it the
# same limit gives the same answer on every run.

load helpers

setup() {
	common_setup
	command -v setarch >/dev/null || skip "setarch (util-linux) is not installed"
}
teardown() { common_teardown; }

# runs_with_stack KIB CMD...: CMD exits 0 under ulimit -s KIB, three
# times out of three.  Each run is bounded (timeout outside the limit,
# which is not for it): status 2 for a run that was still going after
# BOUND seconds.
runs_with_stack() {
	local kib=$1 i st
	shift
	for i in 1 2 3; do
		st=0
		timeout -k 2 "$BOUND" setarch -R bash -c 'ulimit -s "$0" && exec "$@"' \
			"$kib" "$@" >/dev/null 2>&1 || st=$?
		case $st in
		0) ;;
		124 | 137) echo "$*: still running after $BOUND s under ulimit -s $kib" >&2; return 2 ;;
		*) return 1 ;;
		esac
	done
}

# min_stack CMD...: the smallest ulimit -s (KiB, 4 to 64) at which CMD
# runs, "none", or "hung" once a run did not end
min_stack() {
	local kib st
	for ((kib = 4; kib <= 64; kib++)); do
		st=0
		runs_with_stack "$kib" "$@" || st=$?
		case $st in
		0) echo "$kib"; return 0 ;;
		2) echo hung; return 0 ;;
		esac
	done
	echo none
}

@test "a locked start runs under the smallest ulimit -s at which the program runs without the library (/bin/true, bash -c true)" {
	needs_system_programs "/bin/true and bash"
	local prog bare lib empty=none failed=0
	mkdir -m 0700 "$SINGLE_DIR"
	# for the record: what preloading any library costs (an empty one)
	echo 'int empty_marker;' | gcc -shared -fPIC -x c -o "$T/empty.so" - 2>/dev/null || true
	for prog in /bin/true 'bash -c true'; do
		# shellcheck disable=SC2086  # $prog is a command line
		bare=$(min_stack $prog)
		# shellcheck disable=SC2086
		lib=$(min_stack env LD_PRELOAD="$PRELOAD" $prog)
		# shellcheck disable=SC2086
		[ ! -f "$T/empty.so" ] || empty=$(min_stack env LD_PRELOAD="$T/empty.so" $prog)
		echo "$prog: runs from ulimit -s $bare without the library, from $lib as a locked start (from $empty with an empty library preloaded)" >&2
		[ "$bare" != none ]
		# shellcheck disable=SC2086
		runs_with_stack "$bare" env LD_PRELOAD="$PRELOAD" $prog || failed=1
	done
	[ "$failed" -eq 0 ]
	# the starts were locked ones
	[ -f "$(lock_name "$(realpath /bin/true)")" ]
}
