#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The lock lives as long as the instance (issue #3), through the holder's
# own exec: a wrapper script that ends in "exec real-program", bash -c
# running its last command in place, every exec function of a C program.
# The final image holds the lock, does not see LD_PRELOAD or SINGLE_HELD,
# finds 1022/1023 closed (EBADF), and its children do not get the lock.
# A failing exec changes nothing.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

# no_preload: how envholder reports an LD_PRELOAD without the library
# (what SINGLE_TEST_PRELOAD_PREFIX put before it stays).
no_preload() {
	if [ -n "${SINGLE_TEST_PRELOAD_PREFIX:-}" ]; then
		echo "LD_PRELOAD=$SINGLE_TEST_PRELOAD_PREFIX"
	else
		echo 'LD_PRELOAD unset'
	fi
}

# final_image READY: what envholder wrote in READY says it runs in the
# holder's process, without the library's variables, with 1022/1023
# hidden.
final_image() {
	[ "$(head -n 1 "$1")" = "$HOLDER_PID" ]
	grep -qx "$(no_preload)" "$1"
	grep -qx 'SINGLE_HELD unset' "$1"
	grep -qx 'close1022=-1 EBADF' "$1"
	grep -qx 'close1023=-1 EBADF' "$1"
}

@test "a #!/bin/sh wrapper ending in exec bash -c 'exec prog' keeps its lock in prog" {
	needs_system_programs "sh and bash"
	cat >"$T/wrapper" <<EOF
#!/bin/sh
exec bash -c 'exec "\$0" "\$@"' "$BIN/envholder" "\$1" "\$2"
EOF
	chmod +x "$T/wrapper"
	local lock
	lock=$(lock_name "$T/wrapper")
	start_holder w -- "$T/wrapper" "$T/w.ready" "$T/release.w"
	final_image "$T/w.ready"
	is_locked "$lock"
	[ "$(fd_holders "$lock")" = "$HOLDER_PID" ]
	skipped "$T/wrapper" "$T/second.ready" "$T/nofifo"
	[ ! -e "$T/second.ready" ]
	finish w
	lock_is_free "$lock"
}

# Every stage of a wrapper chain stops on a FIFO; at each stop the lock
# is held and a second start refused.  Meanwhile a second start is tried
# over and over, so the exec moments themselves are covered as well.
@test "a second start of a wrapper is refused at every stage of its exec chain" {
	needs_system_programs "sh and bash"
	cat >"$T/chain" <<EOF
#!/bin/sh
# chain DIR READY RELEASE
echo \$\$ >"\$1/stage1.tmp" && mv "\$1/stage1.tmp" "\$1/stage1"
read _ <"\$1/go1"
exec bash -c 'echo \$\$ >"\$3/stage2.tmp" && mv "\$3/stage2.tmp" "\$3/stage2"
read -r _ <"\$3/go2"
exec "\$0" "\$1" "\$2"' "$BIN/envholder" "\$2" "\$3" "\$1"
EOF
	chmod +x "$T/chain"
	local lock stage n=0
	lock=$(lock_name "$T/chain")
	mkdir "$T/a" "$T/b"
	mkfifo "$T/a/go1" "$T/a/go2"
	mkfifo "$T/release.chain"
	spawn env LD_PRELOAD="$PRELOAD" "$T/chain" "$T/a" "$T/chain.ready" "$T/release.chain"
	HOLDER_PID=$BG_PID
	wait_for_file "$T/a/stage1"
	[ "$(cat "$T/a/stage1")" = "$HOLDER_PID" ]
	second_starts() {
		while [ ! -e "$T/chain.ready" ]; do
			try_start "$T/chain" "$T/b" "$T/b/ready" "$T/b/release" \
				>/dev/null 2>&1 || echo "a second start failed: $?"
			n=$((n + 1))
		done
		echo "$n" >"$T/tries"
	}
	spawn second_starts
	for stage in 1 2; do
		wait_for_file "$T/a/stage$stage"
		is_locked "$lock"
		# second starts come and go meanwhile, the file open for a
		# moment: the kernel's list of lock holders is the judge
		[ "$(lock_holders "$lock")" = "$HOLDER_PID" ]
		skipped "$T/chain" "$T/b" "$T/b/ready" "$T/b/release"
		[ ! -e "$T/b/stage1" ]
		fifo_close "$T/a/go$stage"
	done
	wait_for_file "$T/chain.ready"
	final_image "$T/chain.ready"
	is_locked "$lock"
	skipped "$T/chain" "$T/b" "$T/b/ready" "$T/b/release"
	wait_for_file "$T/tries"
	echo "second starts during the chain: $(cat "$T/tries")"
	[ ! -e "$T/b/stage1" ]
	[ ! -e "$T/b/ready" ]
	finish chain
	lock_is_free "$lock"
}

@test "bash -c 'prog ...' runs prog in its own process, which keeps the lock" {
	needs_system_programs bash
	local text='"$0" "$@"' lock
	start_holder bc -- bash -c "$text" "$BIN/envholder" "$T/bc.ready" "$T/release.bc"
	final_image "$T/bc.ready"
	lock=$(lock_name /usr/bin/bash -c "$text")
	[ -e "$lock" ]
	is_locked "$lock"
	[ "$(fd_holders "$lock")" = "$HOLDER_PID" ]
	skipped bash -c "$text" "$BIN/envholder" "$T/second.ready" "$T/nofifo"
	[ ! -e "$T/second.ready" ]
	finish bc
	lock_is_free "$lock"
}

# via FUNC: execvia execs envholder through FUNC; the lock goes with it.
via() {
	local fn=$1 target=$BIN/envholder lock
	case $fn in
	execvp | execvpe | execlp) target=envholder ;;  # found through PATH
	esac
	lock=$(lock_name "$BIN/execvia")
	start_holder via "PATH=$BIN:$PATH" -- "$BIN/execvia" "$fn" "$target" \
		"$T/via.ready" "$T/release.via"
	final_image "$T/via.ready"
	is_locked "$lock"
	[ "$(fd_holders "$lock")" = "$HOLDER_PID" ]
	PATH=$BIN:$PATH skipped "$BIN/execvia" "$fn" "$target" "$T/second.ready" "$T/nofifo"
	[ ! -e "$T/second.ready" ]
	finish via
	lock_is_free "$lock"
}

@test "execve keeps the lock in the new image" { via execve; }
@test "execv keeps the lock in the new image" { via execv; }
@test "execvp keeps the lock in the new image" { via execvp; }
@test "execvpe keeps the lock in the new image" { via execvpe; }
@test "execl keeps the lock in the new image" { via execl; }
@test "execlp keeps the lock in the new image" { via execlp; }
@test "execle keeps the lock in the new image" { via execle; }
@test "fexecve keeps the lock in the new image" { needs_native_m32 fexecve; via fexecve; }
@test "execveat keeps the lock in the new image" { needs_glibc_function execveat; via execveat; }

# fails FUNC ERRNO: execvia's exec through FUNC fails; the program goes on
# holding the lock, with nothing changed, and its child does not get it.
fails() {
	local fn=$1 err=$2 target=$T/missing lock child
	[ "$fn" = fexecve ] && { : >"$T/notexec"; target=$T/notexec; }
	lock=$(lock_name "$BIN/execvia")
	mkfifo "$T/release.fail.child"
	start_holder fail -- "$BIN/execvia" "$fn" "$target" "$T/fail.ready" \
		"$T/release.fail"
	[ "$(head -n 1 "$T/fail.ready")" = "$HOLDER_PID" ]
	grep -qx "errno=$err" "$T/fail.ready"
	grep -qx "$(no_preload)" "$T/fail.ready"
	grep -qx 'SINGLE_HELD unset' "$T/fail.ready"
	grep -qx 'close1022=-1 EBADF' "$T/fail.ready"
	grep -qx 'close1023=-1 EBADF' "$T/fail.ready"
	child=$(sed -n 's/^child=//p' "$T/fail.ready")
	[ -n "$child" ]
	is_locked "$lock"
	# the child was started after the failed exec: close-on-exec is back
	[ "$(fd_holders "$lock")" = "$HOLDER_PID" ]
	skipped "$BIN/execvia" "$fn" "$target" "$T/second.ready" "$T/nofifo"
	[ ! -e "$T/second.ready" ]
	finish fail
	lock_is_free "$lock"
	kill -0 "$child"
	fifo_close "$T/release.fail.child"
}

@test "a failing execve changes nothing: lock held, descriptors hidden, errno ENOENT" { fails execve ENOENT; }
@test "a failing execv changes nothing" { fails execv ENOENT; }
@test "a failing execvp changes nothing" { fails execvp ENOENT; }
@test "a failing execvpe changes nothing" { fails execvpe ENOENT; }
@test "a failing execl changes nothing" { fails execl ENOENT; }
@test "a failing execlp changes nothing" { fails execlp ENOENT; }
@test "a failing execle changes nothing" { fails execle ENOENT; }
@test "a failing fexecve (file not executable) changes nothing, errno EACCES" { fails fexecve EACCES; }
@test "a failing execveat changes nothing" { needs_native_m32 execveat; fails execveat ENOENT; }

@test "the children of the exec'd image do not get the lock" {
	needs_system_programs bash
	local lock child
	lock=$(lock_name /usr/bin/bash -c 'exec "$0" "$@"')
	mkfifo "$T/release.ch.child"
	start_holder ch -- bash -c 'exec "$0" "$@"' "$BIN/envholder" "$T/ch.ready" \
		"$T/release.ch" child
	final_image "$T/ch.ready"
	child=$(sed -n 's/^child=//p' "$T/ch.ready")
	[ -n "$child" ]
	[ -e "$lock" ]
	is_locked "$lock"
	[ "$(fd_holders "$lock")" = "$HOLDER_PID" ]
	finish ch
	kill -0 "$child"
	lock_is_free "$lock"
	# the next start runs while the child still runs
	start_holder next -- bash -c 'exec "$0" "$@"' "$BIN/holder" "$T/next.ready" \
		"$T/release.next"
	is_locked "$lock"
	release next
	fifo_close "$T/release.ch.child"
}

@test "the holder's exec with a large environment from a thread with a small stack works as without the library" {
	needs_system_programs /bin/true
	# the carried environment must not be built on that stack
	run try_start "$BIN/bigenv" /bin/true
	[ "$status" -eq 0 ]
}

# The holder's exec reads the numbers of its descriptors, makes them
# inheritable and names them in SINGLE_HELD while other threads may move
# them (dup2 onto them) or close around them.  tests/stress.sh runs the
# long form (20,000 tries).
@test "threads that dup2 onto, close and close_range the lock's numbers while the holder execs never cost the new image its lock (200 tries)" {
	run timeout 300 "$BIN/execrace" 200 "$PRELOAD" "$T/execrace"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "200 tries, 0 lost, 0 failed" ]
}

@test "a relative LD_PRELOAD path (./libsingle.so) is carried through exec from another directory, and a background job does not get the lock" {
	needs_system_programs bash
	local lock libdir entry
	libdir=$(dirname "$LIB")
	entry=${SINGLE_TEST_PRELOAD_PREFIX:+$SINGLE_TEST_PRELOAD_PREFIX:}./$(basename "$LIB")
	# job READY RELEASE: leaves the directory ld.so found the library
	# from, starts a background job (it waits on $T/bg.child), and ends
	# in envholder
	cat >"$T/job" <<EOF2
#!/bin/bash
cd / && exec sh -c 'cat "\$0" >/dev/null & exec "\$1" "\$2" "\$3"' \
	"$T/bg.child" "$BIN/envholder" "\$1" "\$2"
EOF2
	chmod +x "$T/job"
	lock=$(lock_name "$T/job")
	mkfifo "$T/bg.child" "$T/release.rel"
	(cd "$libdir" && LD_PRELOAD=$entry exec "$T/job" "$T/rel.ready" "$T/release.rel") \
		3>&- 2>"$T/stderr" &
	HOLDER_PID=$!
	wait_for_file "$T/rel.ready"
	cat "$T/stderr"
	[ ! -s "$T/stderr" ]
	final_image "$T/rel.ready"
	is_locked "$lock"
	[ "$(lock_holders "$lock")" = "$HOLDER_PID" ]
	skipped "$T/job" "$T/second.ready" /dev/null
	[ ! -e "$T/second.ready" ]
	finish rel
	# the background job still runs, without the lock
	lock_is_free "$lock"
	(cd "$libdir" && LD_PRELOAD=$entry timeout 10 "$T/job" "$T/next.ready" /dev/null)
	[ -e "$T/next.ready" ]
}

# ---- SINGLE_HELD that names no lock held here (issue #9.9) -----------------

# held_value FD FILE PID: a SINGLE_HELD entry naming descriptor FD open on
# FILE, said to be made by PID (libsingle(7), ENVIRONMENT)
held_value() {
	echo "$1:$1:$(( $(stat -c %Hd "$2") << 32 | $(stat -c %Ld "$2") )):$(stat -c %i "$2"):$3"
}

# locks_as_usual SINGLE_HELD-VALUE: a holder started with that value in
# its environment locks as any start does: it holds its own lock, a
# second start is skipped
locks_as_usual() {
	start_holder h SINGLE_HELD="$1"
	[ "$(lock_holders "$HOLDER_LOCK")" = "$HOLDER_PID" ]
	skipped "$BIN/holder" "$T/second.ready" /dev/null
	[ ! -e "$T/second.ready" ]
	finish h
	lock_is_free "$HOLDER_LOCK"
}

@test "SINGLE_HELD=garbage: the start locks as usual" {
	locks_as_usual garbage
}

@test "SINGLE_HELD=garbage with a launcher (nice) of a dynamic program: the program still locks as usual" {
	needs_system_programs nice
	# the launcher leaves the lock to its command; the stale SINGLE_HELD
	# must not take the library out of the command's environment with it
	export SINGLE_HELD=garbage
	start_holder h -- nice "$BIN/holder" "$T/h.ready" "$T/release.h"
	[ "$(lock_holders "$HOLDER_LOCK")" = "$HOLDER_PID" ]
	skipped nice "$BIN/holder" "$T/second.ready" /dev/null
	[ ! -e "$T/second.ready" ]
	finish h
	lock_is_free "$HOLDER_LOCK"
}

@test "a SINGLE_HELD left over from another process (its pid, a number not open here): the start locks as usual" {
	: >"$T/other.lock"
	locks_as_usual "$(held_value 1021 "$T/other.lock" 1)"
}

@test "a forged SINGLE_HELD naming an unlocked descriptor of the process itself: the start locks as usual" {
	needs_system_programs bash
	: >"$T/forged.lock"
	mkfifo "$T/release.h"
	# bash opens descriptor 5 on the file and execs the holder in its own
	# process, with a SINGLE_HELD that names it and that process
	spawn bash -c 'exec 5<>"$1"; v=$(stat -c %Hd:%Ld:%i "$1"); IFS=: read -r maj min ino <<<"$v"
		SINGLE_HELD="5:5:$((maj << 32 | min)):$ino:$$" LD_PRELOAD="$2" exec "$3" "$4" "$5"' \
		_ "$T/forged.lock" "$PRELOAD" "$BIN/holder" "$T/h.ready" "$T/release.h"
	HOLDER_PID=$BG_PID
	wait_for_file_while "$T/h.ready" "$HOLDER_PID"
	[ "$(lock_holders "$(holder_lock)")" = "$HOLDER_PID" ]
	skipped "$BIN/holder" "$T/second.ready" /dev/null
	[ ! -e "$T/second.ready" ]
	finish h
}

# ---- a listed wrapper that execs a listed program (issue #9.2) ------------

@test "SINGLE_PROGRAMS=mbsync:wrapper.sh, wrapper.sh ends in exec mbsync: mbsync holds the wrapper's lock and its own; a direct mbsync or wrapper.sh is skipped" {
	needs_system_programs sh
	mkdir "$T/bin"
	cp "$BIN/holder" "$T/bin/mbsync"
	printf '#!/bin/sh\nexec "%s" "$@"\n' "$T/bin/mbsync" >"$T/bin/wrapper.sh"
	chmod +x "$T/bin/wrapper.sh"
	local wlock mlock
	wlock=$(lock_name "$T/bin/wrapper.sh")
	mlock=$(lock_name "$T/bin/mbsync")
	start_holder w SINGLE_PROGRAMS=mbsync:wrapper.sh -- "$T/bin/wrapper.sh" \
		"$T/w.ready" "$T/release.w"
	[ "$(cat "$T/w.ready")" = "$HOLDER_PID" ]
	[ "$(lock_holders "$wlock")" = "$HOLDER_PID" ]
	[ "$(lock_holders "$mlock")" = "$HOLDER_PID" ]
	skipped SINGLE_PROGRAMS=mbsync:wrapper.sh "$T/bin/mbsync" "$T/m2.ready" /dev/null
	[ ! -e "$T/m2.ready" ]
	skipped SINGLE_PROGRAMS=mbsync:wrapper.sh "$T/bin/wrapper.sh" "$T/w2.ready" /dev/null
	[ ! -e "$T/w2.ready" ]
	finish w
	lock_is_free "$wlock"
	lock_is_free "$mlock"
}

@test "a listed wrapper whose exec'd program finds its own lock held is skipped, and lets the wrapper's lock go" {
	needs_system_programs sh
	mkdir "$T/bin"
	cp "$BIN/holder" "$T/bin/mbsync"
	printf '#!/bin/sh\nexec "%s" "$@"\n' "$T/bin/mbsync" >"$T/bin/wrapper.sh"
	chmod +x "$T/bin/wrapper.sh"
	local wlock
	wlock=$(lock_name "$T/bin/wrapper.sh")
	start_holder m SINGLE_PROGRAMS=mbsync:wrapper.sh -- "$T/bin/mbsync" \
		"$T/m.ready" "$T/release.m"
	run try_start SINGLE_PROGRAMS=mbsync:wrapper.sh SINGLE_CONFLICT_EXIT=5 \
		"$T/bin/wrapper.sh" "$T/w.ready" /dev/null
	[ "$status" -eq 5 ]
	[ ! -e "$T/w.ready" ]
	lock_is_free "$wlock"
	finish m
}

@test "a listed program that execs itself under the same key keeps its one lock" {
	needs_system_programs bash
	cat >"$T/again" <<EOF2
#!/bin/bash
[ -n "\${AGAIN:-}" ] || AGAIN=1 exec "\$0" "\$@"
exec "$BIN/holder" "\$@"
EOF2
	chmod +x "$T/again"
	local lock
	lock=$(lock_name "$T/again")
	start_holder a SINGLE_PROGRAMS=again -- "$T/again" "$T/a.ready" "$T/release.a"
	[ "$(lock_holders "$lock")" = "$HOLDER_PID" ]
	skipped SINGLE_PROGRAMS=again "$T/again" "$T/a2.ready" /dev/null
	[ ! -e "$T/a2.ready" ]
	finish a
	lock_is_free "$lock"
}
