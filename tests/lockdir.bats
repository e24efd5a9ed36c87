#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Where locks live, and what the library refuses to use there.

load helpers

setup() { common_setup; }
teardown() {
	# the default-directory tests leave their key's file in the shared
	# /tmp/libsingle-UID: take it away again
	[ -z "${DEFAULT_LOCK:-}" ] || rm -f "$DEFAULT_LOCK"
	common_teardown
}

NOBODY_UID=$(id -u nobody)

# refused STATUS MESSAGE CMD...: CMD (a start) ends with STATUS, prints
# exactly the one line MESSAGE, and its main never runs (it would write
# $T/refused.ready).  Bounded: a hanging start fails.
refused() {
	local want_status=$1 want=$2
	shift 2
	run try_start "$@"
	echo "status $status, output: $output" >&2
	[ "$status" -eq "$want_status" ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$output" = "$want" ]
	[ ! -e "$T/refused.ready" ]
}

# as_nobody CMD...: a preloaded start as nobody, bounded like try_start
as_nobody() {
	bounded setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups -- \
		env LD_PRELOAD="$PRELOAD" "$@"
}

# refused_as_nobody STATUS MESSAGE CMD...: CMD started as_nobody ends with
# STATUS, prints exactly MESSAGE, and its main never runs (it would write
# $USER_DIR/r).
refused_as_nobody() {
	local want_status=$1 want=$2
	shift 2
	run as_nobody "$@"
	[ "$status" -eq "$want_status" ]
	[ "$output" = "$want" ]
	[ ! -e "$USER_DIR/r" ]
}

@test "locks go to SINGLE_DIR" {
	start_holder first
	[ -f "$HOLDER_LOCK" ]
	[ "$(dirname "$HOLDER_LOCK")" = "$SINGLE_DIR" ]
	is_locked "$HOLDER_LOCK"
	release first
}

@test "a missing SINGLE_DIR is created with mode 0700, whatever the umask" {
	[ ! -e "$SINGLE_DIR" ]
	(umask 000 && try_start "$BIN/holder" "$T/r" /dev/null)
	[ -e "$T/r" ]
	[ "$(stat -c '%a %u' "$SINGLE_DIR")" = "700 0" ]
}

@test "a missing SINGLE_DIR of a user is created 0700 and owned by that user" {
	user_dir nobody
	as_nobody SINGLE_DIR="$USER_DIR/locks" "$BIN/holder" "$USER_DIR/r" /dev/null
	[ -e "$USER_DIR/r" ]
	[ "$(stat -c '%a %u' "$USER_DIR/locks")" = "700 $NOBODY_UID" ]
}

@test "only the last component of SINGLE_DIR is created: a missing parent is one line and status 73" {
	refused 73 "libsingle: cannot create lock directory $T/missing/locks: No such file or directory" \
		SINGLE_DIR="$T/missing/locks" "$BIN/holder" "$T/refused.ready" /dev/null
	[ ! -e "$T/missing" ]
}

@test "the default directory is /tmp/libsingle-UID whatever XDG_RUNTIME_DIR and TMPDIR say, and from env -i (cron)" {
	local key="lockdir-test-$$-$RANDOM"
	DEFAULT_LOCK=/tmp/libsingle-$(id -u)/@$key.lock
	mkdir -p "$T/xdg" "$T/tmpdir"
	unset SINGLE_DIR
	start_holder first SINGLE_KEY="$key" XDG_RUNTIME_DIR="$T/xdg" TMPDIR="$T/tmpdir"
	is_locked "$DEFAULT_LOCK"
	[ "$(stat -c %u "/tmp/libsingle-$(id -u)")" = "$(id -u)" ]
	# without those variables, from an empty environment, and with others
	run bounded env -u XDG_RUNTIME_DIR -u TMPDIR LD_PRELOAD="$PRELOAD" \
		SINGLE_KEY="$key" "$BIN/holder" "$T/plain.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/plain.ready" ]
	run bounded env -i LD_PRELOAD="$PRELOAD" SINGLE_KEY="$key" \
		"$BIN/holder" "$T/cron.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/cron.ready" ]
	run try_start XDG_RUNTIME_DIR=/run/user/12345 TMPDIR=/var/tmp \
		SINGLE_KEY="$key" "$BIN/holder" "$T/other.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/other.ready" ]
	# nothing went to the other places
	[ -z "$(ls -A "$T/xdg")" ]
	[ -z "$(ls -A "$T/tmpdir")" ]
	release first
}

@test "a user's first start creates /tmp/libsingle-UID with mode 0700, owned by the user" {
	# a uid with no passwd entry and no lock directory yet
	local uid=61000
	while getent passwd "$uid" >/dev/null || [ -e "/tmp/libsingle-$uid" ]; do
		uid=$((uid + 1))
	done
	TEARDOWN_PATHS+=("/tmp/libsingle-$uid")
	local u
	u=$(mktemp -d /tmp/libsingle-test.XXXXXX)
	TEARDOWN_PATHS+=("$u")
	chown "$uid:$uid" "$u"
	chmod 0755 "$u"
	unset SINGLE_DIR
	bounded setpriv --reuid="$uid" --regid="$uid" --clear-groups -- \
		env LD_PRELOAD="$PRELOAD" "$BIN/holder" "$u/r" /dev/null
	[ -e "$u/r" ]
	[ "$(stat -c '%a %u' "/tmp/libsingle-$uid")" = "700 $uid" ]
	[ -f "/tmp/libsingle-$uid/$(basename "$(holder_lock)")" ]
}

@test "a lock directory that is a symlink is refused: one line, status 77" {
	mkdir -m 700 "$T/real"
	ln -s real "$SINGLE_DIR"
	refused 77 "libsingle: unsafe lock directory $SINGLE_DIR: a symbolic link" \
		"$BIN/holder" "$T/refused.ready" /dev/null
	[ -z "$(ls -A "$T/real")" ]
}

@test "a lock directory that is not a directory is refused: one line, status 77" {
	: >"$SINGLE_DIR"
	refused 77 "libsingle: unsafe lock directory $SINGLE_DIR: not a directory" \
		"$BIN/holder" "$T/refused.ready" /dev/null
}

@test "a lock directory owned by another user is refused: one line, status 77" {
	mkdir -m 700 "$SINGLE_DIR"
	chown nobody "$SINGLE_DIR"
	refused 77 "libsingle: unsafe lock directory $SINGLE_DIR: owned by uid $NOBODY_UID, not 0" \
		"$BIN/holder" "$T/refused.ready" /dev/null
	[ -z "$(ls -A "$SINGLE_DIR")" ]
}

@test "a lock directory writable by group or others is refused: one line, status 77" {
	mkdir "$SINGLE_DIR"
	local mode
	for mode in 0777 0770 0702 1777; do
		chmod "$mode" "$SINGLE_DIR"
		refused 77 "libsingle: unsafe lock directory $SINGLE_DIR: writable by others (mode $mode)" \
			"$BIN/holder" "$T/refused.ready" /dev/null
	done
	[ -z "$(ls -A "$SINGLE_DIR")" ]
	# closed to others again, it is used
	chmod 0755 "$SINGLE_DIR"
	try_start "$BIN/holder" "$T/r" /dev/null
	[ -e "$T/r" ]
}

@test "as a user: a lock directory owned by root is refused, one line, status 77" {
	user_dir nobody
	mkdir -m 755 "$USER_DIR/rootdir"
	refused_as_nobody 77 "libsingle: unsafe lock directory $USER_DIR/rootdir: owned by uid 0, not $NOBODY_UID" \
		SINGLE_DIR="$USER_DIR/rootdir" "$BIN/holder" "$USER_DIR/r" /dev/null
}

@test "as a user: a lock directory owned by root that the user may not even enter is refused the same way, status 77" {
	user_dir nobody
	mkdir -m 700 "$USER_DIR/rootdir"
	refused_as_nobody 77 "libsingle: unsafe lock directory $USER_DIR/rootdir: owned by uid 0, not $NOBODY_UID" \
		SINGLE_DIR="$USER_DIR/rootdir" "$BIN/holder" "$USER_DIR/r" /dev/null
}

@test "as a user: a lock directory of the user's that others can write is refused, one line, status 77" {
	user_dir nobody
	as_user nobody mkdir "$USER_DIR/open"
	as_user nobody chmod 0757 "$USER_DIR/open"
	refused_as_nobody 77 "libsingle: unsafe lock directory $USER_DIR/open: writable by others (mode 0757)" \
		SINGLE_DIR="$USER_DIR/open" "$BIN/holder" "$USER_DIR/r" /dev/null
}

@test "as a user: a lock directory that is the user's symlink to the user's directory is refused, status 77" {
	user_dir nobody
	as_user nobody mkdir -m 700 "$USER_DIR/real"
	as_user nobody ln -s real "$USER_DIR/link"
	refused_as_nobody 77 "libsingle: unsafe lock directory $USER_DIR/link: a symbolic link" \
		SINGLE_DIR="$USER_DIR/link" "$BIN/holder" "$USER_DIR/r" /dev/null
}

@test "a lock file planted as a symlink is refused at once and its target untouched: one line, status 77" {
	mkdir -m 700 "$SINGLE_DIR"
	echo precious >"$T/target"
	ln -s "$T/target" "$(holder_lock)"
	ln -s "$T/nowhere" "$SINGLE_DIR/@k.lock"
	refused 77 "libsingle: unsafe lock file $(holder_lock): a symbolic link" \
		"$BIN/holder" "$T/refused.ready" /dev/null
	[ "$(cat "$T/target")" = precious ]
	refused 77 "libsingle: unsafe lock file $SINGLE_DIR/@k.lock: a symbolic link" \
		SINGLE_KEY=k "$BIN/holder" "$T/refused.ready" /dev/null
	[ ! -e "$T/nowhere" ]
}

# blocked_in_open PID: PID sleeps in open(2) of a FIFO, waiting for a writer
blocked_in_open() {
	local wchan nr
	wchan=$(cat "/proc/$1/wchan" 2>/dev/null) || return 1
	read -r nr _ <"/proc/$1/syscall" 2>/dev/null || nr=
	[ "$wchan" = wait_for_partner ] || [ "$wchan" = fifo_open ] ||
		{ [ "$(uname -m)" = x86_64 ] && { [ "$nr" = 257 ] || [ "$nr" = 2 ]; }; }
}

@test "a lock file planted as a FIFO is refused at once, and a reader blocked on it stays blocked" {
	mkdir -m 700 "$SINGLE_DIR"
	mkfifo "$(holder_lock)"
	spawn cat "$(holder_lock)" >"$T/read"
	local reader=$BG_PID
	wait_until 5 blocked_in_open "$reader"
	refused 77 "libsingle: unsafe lock file $(holder_lock): not a regular file" \
		"$BIN/holder" "$T/refused.ready" /dev/null
	# never opened: the reader is still waiting for its first writer
	blocked_in_open "$reader"
	bounded sh -c 'echo hello >"$0"' "$(holder_lock)"
	reap "$reader"
	[ "$REAPED" -eq 0 ]
	[ "$(cat "$T/read")" = hello ]
}

@test "a lock file planted as a device node is refused at once: one line, status 77" {
	mkdir -m 700 "$SINGLE_DIR"
	mknod "$(holder_lock)" c 1 3	# /dev/null
	refused 77 "libsingle: unsafe lock file $(holder_lock): not a regular file" \
		"$BIN/holder" "$T/refused.ready" /dev/null
	mknod "$SINGLE_DIR/@tty.lock" c 5 0	# /dev/tty: opening it could hang or fail
	refused 77 "libsingle: unsafe lock file $SINGLE_DIR/@tty.lock: not a regular file" \
		SINGLE_KEY=tty "$BIN/holder" "$T/refused.ready" /dev/null
}

@test "a lock file owned by another user is refused: one line, status 77" {
	mkdir -m 700 "$SINGLE_DIR"
	: >"$(holder_lock)"
	chown nobody "$(holder_lock)"
	refused 77 "libsingle: unsafe lock file $(holder_lock): owned by uid $NOBODY_UID, not 0" \
		"$BIN/holder" "$T/refused.ready" /dev/null
	[ ! -s "$(holder_lock)" ]
}

@test "as a user: a lock file owned by root in the user's directory is refused, status 77" {
	user_dir nobody
	as_user nobody mkdir -m 700 "$USER_DIR/locks"
	: >"$USER_DIR/locks/@k.lock"
	refused_as_nobody 77 "libsingle: unsafe lock file $USER_DIR/locks/@k.lock: owned by uid 0, not $NOBODY_UID" \
		SINGLE_DIR="$USER_DIR/locks" SINGLE_KEY=k "$BIN/holder" "$USER_DIR/r" /dev/null
}

@test "lock files are never deleted: the same file serves every start" {
	start_holder first
	local ino
	ino=$(stat -c %i "$HOLDER_LOCK")
	run try_start "$BIN/holder" "$T/skipped.ready" /dev/null
	[ "$status" -eq 0 ]
	run try_start SINGLE_WAIT=0.05 "$BIN/holder" "$T/timedout.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/timedout.ready" ]
	release first
	[ -f "$HOLDER_LOCK" ]
	start_holder second
	[ "$(stat -c %i "$HOLDER_LOCK")" = "$ino" ]
	release second
	[ -f "$HOLDER_LOCK" ]
	[ "$(stat -c %i "$HOLDER_LOCK")" = "$ino" ]
}

# waits_again LOCKFILE: until the waiter (start_waiter waiter, WAITER_PID)
# waits for LOCKFILE again, 10 s at most; its main() must not run meanwhile.
waits_again() {
	local end
	deadline end 10
	until waiting_on "$1" "$WAITER_PID"; do
		[ ! -e "$T/waiter.ready" ]
		! passed "$end" || false
		sleep 0.01
	done
}

@test "a waiter whose lock file was removed and recreated does not run while the new file's holder runs" {
	start_holder old
	local old_pid=$HOLDER_PID
	start_waiter waiter "$HOLDER_LOCK" SINGLE_WAIT=30
	# someone removes the file; a new start makes a new one and holds it
	rm "$HOLDER_LOCK"
	start_holder new
	local new_pid=$HOLDER_PID
	is_locked "$HOLDER_LOCK"
	# the old holder ends: the waiter gets the old, unlinked file, must
	# notice it is no longer the lock, and wait for the new one
	release old "$old_pid"
	waits_again "$HOLDER_LOCK"
	[ ! -e "$T/waiter.ready" ]
	[ "$(record_pid "$HOLDER_LOCK")" = "$new_pid" ]
	release new "$new_pid"
	wait_for_file "$T/waiter.ready" 5
	[ "$(record_pid "$HOLDER_LOCK")" = "$WAITER_PID" ]
	release waiter "$WAITER_PID"
}

@test "a waiter whose lock file was replaced by another file waits for the new file's holder" {
	start_holder old
	local old_pid=$HOLDER_PID
	start_waiter waiter "$HOLDER_LOCK" SINGLE_WAIT=30
	: >"$T/replacement"
	mv "$T/replacement" "$HOLDER_LOCK"
	start_holder new
	local new_pid=$HOLDER_PID
	release old "$old_pid"
	waits_again "$HOLDER_LOCK"
	[ ! -e "$T/waiter.ready" ]
	release new "$new_pid"
	wait_for_file "$T/waiter.ready" 5
	release waiter "$WAITER_PID"
}

@test "a waiter whose lock file was removed runs on a fresh file once the holder ends" {
	start_holder old
	start_waiter waiter "$HOLDER_LOCK" SINGLE_WAIT=30
	rm "$HOLDER_LOCK"
	release old
	wait_for_file "$T/waiter.ready" 5
	# the file at the path is the one the waiter holds
	is_locked "$HOLDER_LOCK"
	[ "$(record_pid "$HOLDER_LOCK")" = "$WAITER_PID" ]
	run try_start "$BIN/holder" "$T/third.ready" /dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$T/third.ready" ]
	release waiter "$WAITER_PID"
}

@test "while a lock is held its directory has a shared lock (tmpfiles does not age-clean it)" {
	mkdir -m 700 "$SINGLE_DIR"
	flock -n -x "$SINGLE_DIR" true
	start_holder first
	! flock -n -x "$SINGLE_DIR" true || false
	# shared, so other programs' holders share it too
	flock -n -s "$SINGLE_DIR" true
	start_holder second SINGLE_KEY=second
	! flock -n -x "$SINGLE_DIR" true || false
	release first "$(cat "$T/first.ready")"
	! flock -n -x "$SINGLE_DIR" true || false
	release second "$(cat "$T/second.ready")"
	flock -n -x "$SINGLE_DIR" true
}

@test "--explain with a lock path as long as a path may be prints exactly its three lines" {
	needs_system_programs /bin/true
	local dir key
	# a path of 4095 bytes that names a short real directory
	mkdir -p "$T/d"
	dir=$T
	while [ $((4095 - ${#dir})) -gt 3 ]; do dir+=/.; done
	[ $((4095 - ${#dir})) -eq 3 ] && dir+=//d || dir+=/d
	[ "${#dir}" -eq 4095 ]
	key=$(printf 'k%.0s' {1..244})
	run try_start SINGLE_DIR="$dir" SINGLE_KEY="$key" SINGLE_EXPLAIN=1 /bin/true
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = "key: $key (SINGLE_KEY)" ]
	[ "${lines[1]}" = "lock: $dir/@$key.lock" ]
	[ "${lines[2]}" = "state: free" ]
	# nothing but text: no stack bytes after the line
	[ "$(printf '%s' "$output" | tr -d '[:print:]\n' | wc -c)" -eq 0 ]
}

@test "SINGLE_DIR=LINK/ (a symlink to a directory, with a trailing slash) is refused: one line, status 77, nothing made there" {
	mkdir -m 700 "$T/real"
	ln -s real "$T/symdir"
	run try_start SINGLE_DIR="$T/symdir/" "$BIN/holder" "$T/refused.ready" /dev/null
	echo "status $status, output: $output" >&2
	[ "$status" -eq 77 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == "libsingle: unsafe lock directory $T/symdir/: "* ]]
	[ ! -e "$T/refused.ready" ]
	[ -z "$(ls -A "$T/real")" ]
}

@test "SINGLE_DIR=LINK/ is refused for what it is, as LINK is: 'a symbolic link'" {
	mkdir -m 700 "$T/real"
	ln -s real "$T/symdir"
	refused 77 "libsingle: unsafe lock directory $T/symdir: a symbolic link" \
		SINGLE_DIR="$T/symdir" "$BIN/holder" "$T/refused.ready" /dev/null
	refused 77 "libsingle: unsafe lock directory $T/symdir/: a symbolic link" \
		SINGLE_DIR="$T/symdir/" "$BIN/holder" "$T/refused.ready" /dev/null
	[ -z "$(ls -A "$T/real")" ]
}

@test "SINGLE_DIR=LINK/. and DIR/.. are refused as invalid: one line, status 64, nothing made there" {
	mkdir -m 700 "$T/real"
	ln -s real "$T/symdir"
	refused 64 "libsingle: SINGLE_DIR: invalid value '$T/symdir/.' (a lock directory may not end in '.' or '..')" \
		SINGLE_DIR="$T/symdir/." "$BIN/holder" "$T/refused.ready" /dev/null
	refused 64 "libsingle: SINGLE_DIR: invalid value '$T/symdir/./' (a lock directory may not end in '.' or '..')" \
		SINGLE_DIR="$T/symdir/./" "$BIN/holder" "$T/refused.ready" /dev/null
	refused 64 "libsingle: SINGLE_DIR: invalid value '$T/real/sub/..' (a lock directory may not end in '.' or '..')" \
		SINGLE_DIR="$T/real/sub/.." "$BIN/holder" "$T/refused.ready" /dev/null
	[ -z "$(ls -A "$T/real")" ]
}

@test "a lock file that is a hard link to another file (ln important.txt DIR/@job.lock) is refused: one line, status 77, the file untouched" {
	mkdir -m 700 "$SINGLE_DIR"
	printf 'important\n' >"$T/important.txt"
	ln "$T/important.txt" "$SINGLE_DIR/@job.lock"
	refused 77 "libsingle: unsafe lock file $SINGLE_DIR/@job.lock: 2 hard links, not one" \
		SINGLE_KEY=job "$BIN/holder" "$T/refused.ready" /dev/null
	[ "$(cat "$T/important.txt")" = important ]
	[ "$(stat -c %s "$T/important.txt")" -eq 10 ]
	lock_is_free "$T/important.txt"
}
