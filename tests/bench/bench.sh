#!/bin/bash
# SPDX-License-Identifier: MIT
# make bench: what libsingle costs a start, measured in this run and
# printed as one table.  Every figure is a median with its spread and a
# ratio to its baseline; a figure whose tool is missing says so instead.
#
# Called by the Makefile with: LIB (the library), BENCH_BIN (benchrun,
# stamp and libempty.so built from tests/bench/, and single-dynamic, the
# command linked without -static), and for the linker
# experiment LIB_OBJS, LIB_LINK (the Makefile's link command without -o
# and objects) and LIB_COMPILE (its compile command, for -fno-plt); for
# the hardening figures LIB_COMPILE_UNHARDENED (the same without the
# HARDEN flags) and LIB_HARDEN (those flags).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIB=$(realpath "${LIB:-$ROOT/preload/libsingle.so}")
BENCH_BIN=$(realpath "${BENCH_BIN:-$ROOT/build/bench}")
EMPTY=$BENCH_BIN/libempty.so
RUN=$BENCH_BIN/benchrun
STAMP=$BENCH_BIN/stamp
SINGLE_CMD=$ROOT/build/single
ROUNDS=${BENCH_ROUNDS:-31}          # interleaved rounds of start timing
PER_ROUND=${BENCH_PER_ROUND:-40}    # starts of each variant per round
VG_RUNS=${BENCH_VG_RUNS:-5}         # callgrind runs per variant
HANDOVERS=${BENCH_HANDOVERS:-300}
CONTEND_N=200 CONTEND_REPS=${BENCH_CONTEND_REPS:-5}
TRUE=/bin/true

W=$(mktemp -d /tmp/libsingle-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
# Only SINGLE_DIR reaches the library: the rest of the caller's SINGLE_*
# settings would change what is measured.
unset SINGLE_KEY SINGLE_WAIT SINGLE_CONFLICT_EXIT SINGLE_VERBOSE \
	SINGLE_ON_ERROR SINGLE_PROGRAMS SINGLE_SCOPE SINGLE_MAX SINGLE_REPLACE \
	SINGLE_EXPLAIN SINGLE_HELD LD_PRELOAD
fresh_dir() {            # fresh_dir NAME: a new empty lock directory
	mkdir -m 700 "$W/$1" && echo "$W/$1"
}
have() { command -v "$1" >/dev/null; }

started=$(date +%s.%N)
row() {   # row FIGURE MEDIAN SPREAD RATIO GOAL
	printf '%-34s %-12s %-24s %-30s %s\n' "$@"
}
section() { printf '\n%s\n' "$1"; }

printf 'libsingle bench: %s, %s CPUs, %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" \
	"$(nproc)" "$(uname -r)"
printf 'library: %s\n' "$LIB"
printf 'every number below was measured in this run; medians, spread as IQR [q1-q3] or [min-max]\n'

# ---- start cost ------------------------------------------------------------
# Every variant in the same interleaved rounds: the library alone, single,
# and the wrappers people compare it with, each taking a free lock of its
# own.  A wrapper that is not installed gets a row that says so.
section "start cost of $TRUE: posix_spawn+waitpid, $ROUNDS interleaved rounds x $PER_ROUND starts, us per start"
row figure median spread "ratio (per-round, median)" goal
free_dir=$(fresh_dir free)
held_dir=$(fresh_dir held)
specs=("bare||0|$TRUE"
	"empty|LD_PRELOAD=$EMPTY|0|$TRUE"
	"libsingle|LD_PRELOAD=$LIB SINGLE_DIR=$free_dir|0|$TRUE")
single_note=
if [ ! -x "$SINGLE_CMD" ]; then
	single_note="build/single is not built (make)"
elif ! out=$(SINGLE_DIR=$free_dir "$SINGLE_CMD" "$TRUE" 2>&1); then
	single_note="build/single $TRUE failed: ${out:0:60}"
else
	specs+=("single|SINGLE_DIR=$free_dir|0|$SINGLE_CMD $TRUE")
	# the same objects linked dynamically (the Makefile links single
	# statically where it can: this row is why; it is told SINGLE_LIB,
	# which saves it the readlink of /proc/self/exe)
	[ ! -x "$BENCH_BIN/single-dynamic" ] ||
		specs+=("single-dynamic|SINGLE_LIB=$LIB SINGLE_DIR=$free_dir|0|$BENCH_BIN/single-dynamic $TRUE")
fi
# NAME|TOOL|ARGS before the command: the peers, from the README's list
peers=("flock-n|flock|-n $W/flock.lock"
	"setlock-n|setlock|-n $W/setlock.lock"
	"s6-setlock-n|s6-setlock|-n $W/s6-setlock.lock"
	"chpst-L|chpst|-L $W/chpst.lock")
declare -A peer_label peer_note
for p in "${peers[@]}"; do
	IFS='|' read -r name tool args <<<"$p"
	peer_label[$name]="$tool ${args% *} F $TRUE"
	if have "$tool"; then
		specs+=("$name||0|$(command -v "$tool") $args $TRUE")
	else
		peer_note[$name]="$tool is not installed"
	fi
done
specs+=("skipped|LD_PRELOAD=$LIB SINGLE_DIR=$held_dir SINGLE_CONFLICT_EXIT=3|3|$TRUE")
# The skipped start meets a holder that holds usr-bin-true.lock and wrote
# its pid there, as a libsingle holder does (benchrun -H); it exits 3, so
# a start that ran main() instead would be reported.
"$RUN" launch "$ROUNDS" "$PER_ROUND" -H "$held_dir/$(
	readlink -f "$TRUE" | sed 's|^/||; s|-|%2d|g; s|/|-|g').lock" \
	"${specs[@]}" >"$W/launch" 2>"$W/launch.err"
launch_rc=$?
declare -A med q1 q3 rb rf
while read -r name m a b _ _ r1 _ _ f1 f2 f3; do
	med[$name]=$m q1[$name]=$a q3[$name]=$b rb[$name]=$r1 rf[$name]="$f1 [$f2-$f3]"
done <"$W/launch"
launch_row() {  # launch_row NAME LABEL GOAL [NOTE]
	if [ -n "${4:-}" ]; then
		row "$2" "-" "-" "$4" "$3"
	elif [ -z "${med[$1]:-}" ]; then
		row "$2" "-" "-" "not measured" "$3"
	else
		row "$2" "${med[$1]} us" "IQR [${q1[$1]}-${q3[$1]}]" \
			"${rb[$1]}x bare, ${rf[$1]%% *}x floor" "$3"
	fi
}
launch_row bare "bare" ""
launch_row empty "empty preloaded .so (floor)" ""
launch_row libsingle "libsingle, lock free" "<= 1.10x floor"
launch_row single "single $TRUE (build/single)" "" "$single_note"
[ -z "${med[single-dynamic]:-}" ] ||
	launch_row single-dynamic "  the same, linked dynamically" ""
for p in "${peers[@]}"; do
	name=${p%%|*}
	launch_row "$name" "${peer_label[$name]}" "" "${peer_note[$name]:-}"
done
launch_row skipped "skipped start (lock held)" ""
[ "$launch_rc" -eq 0 ] || sed 's/^/  ! /' "$W/launch.err"
verdict() {  # verdict "awk condition" -> meets / MISSES
	awk "BEGIN { exit !($1) }" && echo meets || echo MISSES
}
over() {     # over A B: the ratio of the medians of A and B
	awk "BEGIN { printf \"%.2f\", ${med[$1]} / ${med[$2]} }"
}
if [ -n "${med[libsingle]:-}" ] && [ -n "${med[flock-n]:-}" ]; then
	f_floor=${rf[libsingle]%% *}
	f_flock=$(over flock-n libsingle)
	printf '  goal launch <= 1.10x floor: %sx per-round median IQR [%s  -> %s\n' \
		"$f_floor" "${rf[libsingle]#* [}" "$(verdict "$f_floor <= 1.10")"
	printf '  goal >= 2x faster than flock -n: flock-n/libsingle = %sx (ratio of medians) -> %s\n' \
		"$f_flock" "$(verdict "$f_flock >= 2")"
fi
# single against the wrappers (ratios of medians)
if [ -n "${med[single]:-}" ]; then
	if [ -n "${med[flock-n]:-}" ]; then
		r=$(over single flock-n)
		printf '  goal single faster than flock -n: single/flock = %sx -> %s\n' \
			"$r" "$(verdict "$r < 1")"
	fi
	fastest='' wrappers=''
	for name in setlock-n s6-setlock-n chpst-L; do
		[ -n "${med[$name]:-}" ] || continue
		wrappers+=" $name"
		if [ -z "$fastest" ] || awk "BEGIN { exit !(${med[$name]} < ${med[$fastest]}) }"; then
			fastest=$name
		fi
	done
	if [ -n "$fastest" ]; then
		r=$(over single "$fastest")
		printf '  goal single <= 1.2x the fastest of%s: single/%s = %sx -> %s\n' \
			"$wrappers" "$fastest" "$r" "$(verdict "$r <= 1.2")"
		if [ -n "${med[flock-n]:-}" ] && awk "BEGIN { exit !(${med[flock-n]} < ${med[$fastest]}) }"; then
			fastest=flock-n
		fi
		printf '  stretch: single the fastest wrapper: single/%s = %sx -> %s\n' \
			"$fastest" "$(over single "$fastest")" "$(verdict "$(over single "$fastest") < 1")"
	else
		echo "  goal single <= 1.2x setlock, s6-setlock, chpst: not measured (none installed)"
	fi
fi

# ---- instructions ----------------------------------------------------------
section "user-space instructions of one $TRUE start (callgrind total Ir, includes ld.so; $VG_RUNS runs each)"
row figure median spread ratio goal
if ! have valgrind; then
	row "instructions" "-" "-" "valgrind is not installed" "<= 1.15x bare"
else
	irs() {   # irs PRELOAD: one Ir figure per run, median min max
		local i dir
		for ((i = 0; i < VG_RUNS; i++)); do
			dir=$(fresh_dir "cg.$RANDOM$i")
			SINGLE_DIR=$dir SINGLE_PROGRAMS=${TRUE##*/} LD_PRELOAD=$1 valgrind --tool=callgrind \
				--trace-children=no --callgrind-out-file=/dev/null \
				"$TRUE" 2>&1 | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
		done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[1], v[NR] }'
	}
	read -r ir_bare ir_bare_lo ir_bare_hi < <(irs "")
	read -r ir_empty ir_empty_lo ir_empty_hi < <(irs "$EMPTY")
	read -r ir_lib ir_lib_lo ir_lib_hi < <(irs "$LIB")
	ratio() { awk "BEGIN { printf \"%.3f\", $1 / $2 }"; }
	row "bare" "$ir_bare" "[$ir_bare_lo-$ir_bare_hi]" "1.000x bare" ""
	row "empty preloaded .so (floor)" "$ir_empty" "[$ir_empty_lo-$ir_empty_hi]" \
		"$(ratio "$ir_empty" "$ir_bare")x bare" ""
	row "libsingle, lock free" "$ir_lib" "[$ir_lib_lo-$ir_lib_hi]" \
		"$(ratio "$ir_lib" "$ir_bare")x bare, $(ratio "$ir_lib" "$ir_empty")x floor" \
		"<= 1.15x bare: $(verdict "$ir_lib / $ir_bare <= 1.15")"
	printf '  libsingle adds %d instructions over the floor, %d over bare\n' \
		$((ir_lib - ir_empty)) $((ir_lib - ir_bare))
	# valgrind's own launcher is a dynamic program and loads LD_PRELOAD
	# too: without SINGLE_PROGRAMS it would take a lock of its own and
	# carry it into the client, which would then only adopt it.  With the
	# list the client takes its own lock, and the figure includes the list
	# check (a few hundred instructions more than a plain start).
	cg_locks=("$W"/cg.*/*.lock)
	printf '  (SINGLE_PROGRAMS=%s; the lock taken under valgrind is %s)\n' \
		"${TRUE##*/}" "${cg_locks[0]##*/}"
fi

# ---- heap allocations ------------------------------------------------------
section "heap allocations of one $TRUE start (valgrind memcheck 'total heap usage')"
if ! have valgrind; then
	row "allocations" "-" "-" "valgrind is not installed" "0 added"
else
	allocs() {
		local dir
		dir=$(fresh_dir "mc.$RANDOM")
		SINGLE_DIR=$dir SINGLE_PROGRAMS=${TRUE##*/} LD_PRELOAD=$1 valgrind --tool=memcheck \
			--trace-children=no "$TRUE" 2>&1 |
			sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' | tr -d ,
	}
	a_empty=$(allocs "$EMPTY") a_lib=$(allocs "$LIB")
	# the library must really have run under memcheck: it left a lock file
	ls "$W"/mc.*/*.lock >/dev/null 2>&1 ||
		echo "  ! no lock file appeared: libsingle did not lock under memcheck"
	row "empty preloaded .so" "$a_empty allocs" "(deterministic)" "" ""
	row "libsingle, lock free" "$a_lib allocs" "(deterministic)" \
		"adds $((a_lib - a_empty))" "0 added: $(verdict "$a_lib - $a_empty == 0")"
fi

# ---- system calls ----------------------------------------------------------
section "system calls of one $TRUE start that takes the lock (strace -f, lines counted; 3 runs)"
row figure median spread ratio goal
if ! have strace; then
	row "system calls" "-" "-" "strace is not installed" "<= 10 added"
else
	calls() {  # calls PRELOAD TAG [warm]: median count of 3 runs; names into
		   # $W/TAG.names.  warm: the lock file exists already (a start
		   # before, unobserved), as on every start but the first
		local i dir
		for i in 1 2 3; do
			dir=$(fresh_dir "st.$RANDOM$i")
			[ -z "${3:-}" ] || SINGLE_DIR=$dir LD_PRELOAD=$1 "$TRUE"
			strace -f -qq -o "$W/$2.$i" -E SINGLE_DIR="$dir" -E LD_PRELOAD="$1" "$TRUE"
			grep -cvE '^[0-9]+ +(\+\+\+|---)' "$W/$2.$i"
		done | sort -n | sed -n 2p
		sed -E 's/^[0-9]+ +//; s/\(.*//' "$W/$2.1" | grep -vE '^(\+\+\+|---)' |
			sort | uniq -c | awk '{ print $2, $1 }' >"$W/$2.names"
	}
	s_bare=$(calls "" bare) s_empty=$(calls "$EMPTY" empty) s_lib=$(calls "$LIB" lib)
	row "bare" "$s_bare" "(median of 3)" "" ""
	row "empty preloaded .so (floor)" "$s_empty" "(median of 3)" "+$((s_empty - s_bare)) over bare" ""
	s_warm=$(calls "$LIB" warm warm)
	row "libsingle, lock file created" "$s_lib" "(median of 3)" "+$((s_lib - s_empty)) over floor" \
		"<= 10 added: $(verdict "$s_lib - $s_empty <= 10")"
	row "libsingle, lock file existed" "$s_warm" "(median of 3)" "+$((s_warm - s_empty)) over floor" \
		"<= 10 added: $(verdict "$s_warm - $s_empty <= 10")"
	added() {
		join -a1 -a2 -e0 -o 0,1.2,2.2 "$W/empty.names" "$W/$1.names" |
			awk '$3 != $2 { printf "%s%+d ", $1, $3 - $2 }'
	}
	printf '  added by libsingle (created): %s\n' "$(added lib)"
	printf '  added by libsingle (existed): %s\n' "$(added warm)"
fi

# ---- handover ----------------------------------------------------------------
section "wait handover: holder's last timestamp before exit -> waiter's main() (SINGLE_WAIT=inf), $HANDOVERS rounds"
row figure median spread p99 goal
ho_dir=$(fresh_dir handover)
if read -r _ h_med h_q1 h_q3 h_p99 _ h_max < <("$RUN" handover "$HANDOVERS" \
	"$STAMP" LD_PRELOAD="$LIB" SINGLE_DIR="$ho_dir" 2>"$W/ho.err"); then
	row "handover" "$h_med us" "IQR [$h_q1-$h_q3]" "p99 $h_p99 us (max $h_max)" \
		"median < 1 ms: $(verdict "$h_med < 1000")"
else
	row "handover" "-" "-" "failed: $(head -c 60 "$W/ho.err")" "median < 1 ms"
fi

# ---- contention --------------------------------------------------------------
section "contention: $CONTEND_N simultaneous starts behind one gate, $CONTEND_REPS repetitions, ms until all settled"
row figure median spread "ratio / main() ran" goal
contend() {   # contend LABEL MODE [VAR=V...]
	local label=$1 mode=$2 out
	shift 2
	if out=$("$RUN" contend "$CONTEND_N" "$CONTEND_REPS" "$mode" "$STAMP" "$@" 2>&1); then
		read -r _ c_med c_min c_max _ c_ran <<<"$out"
		echo "$label $c_med $c_min $c_max $c_ran"
	else
		echo "$label - - - failed:${out:0:50}"
	fi
}
c_dir=$(fresh_dir contend)
{
	contend bare exit
	contend empty exit LD_PRELOAD="$EMPTY"
	contend libsingle hold LD_PRELOAD="$LIB" SINGLE_DIR="$c_dir"
} >"$W/contend.out"
c_bare=$(awk '$1 == "bare" { print $2 }' "$W/contend.out")
while read -r label m lo hi ran; do
	goal=
	if [ "$label" = libsingle ]; then
		goal="exactly one ran: $([ "$(tr ',' '\n' <<<"$ran" | sort -u)" = 1 ] && echo meets || echo MISSES)"
	fi
	row "$label ($([ "$label" = libsingle ] && echo 'runner holds' || echo 'each runs and exits'))" \
		"$m ms" "[$lo-$hi]" "$(awk "BEGIN { if (\"$m\" != \"-\") printf \"%.2fx bare\", $m / $c_bare }" 2>/dev/null); ran: $ran" "$goal"
done <"$W/contend.out"

# ---- linker options ----------------------------------------------------------
section "linker options on the library (instructions: callgrind Ir of one lock-taking $TRUE start, median of 3; syscalls as above)"
if [ -z "${LIB_LINK:-}" ] || ! have valgrind || ! have strace; then
	echo "  not measured: needs valgrind, strace and LIB_LINK from the Makefile"
else
	printf '%-44s %-10s %-8s %-9s %-7s %-8s %s\n' variant Ir "vs as-is" syscalls \
		"rela+relr" "size" "LOADs"
	ld_variant() {  # ld_variant LABEL EXTRA_LDFLAGS [nofplt]
		local so="$W/ld.$RANDOM.so" objs=$LIB_OBJS
		if [ "${3:-}" = noplt ]; then
			mkdir -p "$W/noplt"
			objs=
			for src in $LIB_SRCS; do
				# shellcheck disable=SC2086 # LIB_COMPILE is a command line
				$LIB_COMPILE -fno-plt -c -o "$W/noplt/$(basename "$src" .c).o" "$src" || return
				objs+=" $W/noplt/$(basename "$src" .c).o"
			done
		fi
		# shellcheck disable=SC2086 # LIB_LINK, objs and $2 are word lists
		$LIB_LINK $2 -o "$so" $objs $LIB_LDLIBS || { echo "  $1: link failed"; return; }
		read -r ir _ _ < <(irs "$so")
		local sc relocs size loads
		sc=$(calls "$so" "ld$RANDOM")
		# RELA entries (24 bytes each) + RELR words (8 bytes each)
		relocs=$(readelf -SW "$so" | sed 's/^ *\[ *[0-9]*\] *//' | while read -r _ type _ _ size _; do
			case $type in
			RELA) echo "a $((0x$size / 24))" ;;
			RELR) echo "r $((0x$size / 8))" ;;
			esac
		done | awk '{ n[$1] += $2 } END { printf "%d+%d", n["a"], n["r"] }')
		size=$(stat -c %s "$so")
		loads=$(readelf -lW "$so" | grep -c ' LOAD ')
		[ -n "${ir_asis:-}" ] || ir_asis=$ir
		printf '%-44s %-10s %-8s %-9s %-7s %-8s %s\n' "$1" "$ir" \
			"$(awk "BEGIN { printf \"%+d\", $ir - $ir_asis }")" "$sc" "$relocs" "$size" "$loads"
	}
	ir_asis=
	VG_RUNS=3
	ld_variant "as built (Makefile flags)" ""
	ld_variant "-z norelro" "-Wl,-z,norelro"
	ld_variant "-z noseparate-code" "-Wl,-z,noseparate-code"
	ld_variant "-z norelro -z noseparate-code" "-Wl,-z,norelro -Wl,-z,noseparate-code"
	ld_variant "-z now (BIND_NOW)" "-Wl,-z,now"
	ld_variant "-z lazy" "-Wl,-z,lazy"
	ld_variant "--hash-style=gnu" "-Wl,--hash-style=gnu"
	ld_variant "-z pack-relative-relocs (DT_RELR)" "-Wl,-z,pack-relative-relocs"
	ld_variant "-fno-plt" "" noplt
	ld_variant "norelro+noseparate-code+relr+gc-sections" \
		"-Wl,-z,norelro -Wl,-z,noseparate-code -Wl,-z,pack-relative-relocs -Wl,--gc-sections"
fi

# ---- hardening flags ---------------------------------------------------------
# The library's objects compiled again without the Makefile's HARDEN
# flags, then with each of them, and linked as the Makefile links them.
section "hardening flags on the library (callgrind Ir of one lock-taking $TRUE start, median of 3)"
if [ -z "${LIB_COMPILE_UNHARDENED:-}" ] || [ -z "${LIB_LINK:-}" ] || ! have valgrind; then
	echo "  not measured: needs valgrind, and LIB_COMPILE_UNHARDENED and LIB_LINK from the Makefile"
else
	printf '%-44s %-10s %-10s %s\n' variant Ir "vs none" "share of the start"
	hard_variant() {  # hard_variant LABEL [CFLAGS...]
		local label=$1 dir src ir
		shift
		# names of one length: the path is part of what ld.so does
		hard_n=$((hard_n + 1))
		dir=$W/hard.$hard_n
		mkdir -p "$dir"
		for src in $LIB_SRCS; do
			# shellcheck disable=SC2086 # LIB_COMPILE_UNHARDENED is a command line
			$LIB_COMPILE_UNHARDENED "$@" -c -o "$dir/$(basename "$src" .c).o" "$src" ||
				{ echo "  $label: compile failed"; return; }
		done
		# shellcheck disable=SC2086 # LIB_LINK and LIB_LDLIBS are word lists
		$LIB_LINK -o "$dir/lib.so" "$dir"/*.o $LIB_LDLIBS || { echo "  $label: link failed"; return; }
		read -r ir _ _ < <(VG_RUNS=3 irs "$dir/lib.so")
		[ -n "${ir_none:-}" ] || ir_none=$ir
		printf '%-44s %-10s %-10s %s\n' "$label" "$ir" \
			"$(awk "BEGIN { printf \"%+d\", $ir - $ir_none }")" \
			"$(awk "BEGIN { printf \"%+.2f%%\", ($ir - $ir_none) * 100 / $ir_none }")"
	}
	ir_none='' hard_n=0
	hard_variant "none (HARDEN=)"
	hard_variant "-fstack-protector-strong" -fstack-protector-strong
	hard_variant "-D_FORTIFY_SOURCE=2" -D_FORTIFY_SOURCE=2
	# shellcheck disable=SC2086 # LIB_HARDEN is a word list
	hard_variant "as built (HARDEN=${LIB_HARDEN:-})" ${LIB_HARDEN:-}
fi

printf '\nbench took %.0f s\n' "$(awk "BEGIN { print $(date +%s.%N) - $started }")"
