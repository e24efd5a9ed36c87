#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The security view: every refusal leaves the file system as it was.
# Each case plants something hostile where the lock would go, starts a
# program, and checks the one-line refusal, that main() never ran, and
# that a snapshot of everything around (owners, modes, sizes, mtimes,
# link targets) is unchanged: no file created, followed or written.

load helpers

setup() {
	common_setup
	W=$T/world          # what the snapshots cover
	mkdir -m 700 "$W"
	: >"$T/empty"       # holder's RELEASE: a regular empty file, so a
	                    # holder whose main() runs ends at once
	NAME=$(basename "$(SINGLE_DIR=. lock_name "$BIN/holder")")
}
teardown() {
	[ -z "${SUID_LIB:-}" ] || rm -f "$SUID_LIB"
	[ -z "${SUID_LOCK:-}" ] || rm -f "$SUID_LOCK"
	common_teardown
}

# snapshot DIR...: one line per file: path, type, mode, owner, size,
# mtime, link target
snapshot() {
	find "$@" -printf '%p %y %m %U:%G %s %T@ %l\n' | sort
}

# start_refused DIR: start the holder with SINGLE_DIR=DIR; the refusal is
# in $status and $output.  $T/ran appears if main() ran.
start_refused() {
	run bounded env SINGLE_DIR="$1" LD_PRELOAD="$PRELOAD" \
		"$BIN/holder" "$T/ran" "$T/empty"
}

# refused STATUS LINE: the start ended with STATUS, printed exactly LINE
# and nothing else, and main() did not run.
refused() {
	echo "status $status, output: $output" >&2
	[ "$status" -eq "$1" ]
	[ "$output" = "$2" ]
	[ ! -e "$T/ran" ]
}

# refused_untouched DIR STATUS LINE: start_refused DIR is refused (see
# refused), and the snapshot of $W is the same after it as before.
refused_untouched() {
	local before
	before=$(snapshot "$W")
	start_refused "$1"
	refused "$2" "$3"
	[ "$(snapshot "$W")" = "$before" ]
}

@test "a lock directory another user made is refused and left as it was" {
	mkdir -m 700 "$W/locks"
	chown nobody: "$W/locks"
	refused_untouched "$W/locks" 77 \
		"libsingle: unsafe lock directory $W/locks: owned by uid 65534, not 0"
}

@test "a lock file another user planted is refused and left unchanged" {
	mkdir -m 700 "$W/locks"
	echo planted >"$W/locks/$NAME"
	chown nobody: "$W/locks/$NAME"
	refused_untouched "$W/locks" 77 \
		"libsingle: unsafe lock file $W/locks/$NAME: owned by uid 65534, not 0"
	[ "$(cat "$W/locks/$NAME")" = planted ]
}

@test "a lock directory that is a symlink is refused; the directory it names stays empty" {
	mkdir -m 700 "$W/real"
	ln -s real "$W/locks"
	refused_untouched "$W/locks" 77 \
		"libsingle: unsafe lock directory $W/locks: a symbolic link"
	[ -z "$(ls -A "$W/real")" ]
}

@test "a lock directory that is a dangling symlink is refused; its target is not created" {
	ln -s "$W/elsewhere" "$W/locks"
	refused_untouched "$W/locks" 77 \
		"libsingle: unsafe lock directory $W/locks: a symbolic link"
	[ ! -e "$W/elsewhere" ]
}

@test "a lock file that is a symlink is refused; the file it points to is untouched" {
	mkdir -m 700 "$W/locks"
	echo precious >"$W/target"
	ln -s ../target "$W/locks/$NAME"
	refused_untouched "$W/locks" 77 \
		"libsingle: unsafe lock file $W/locks/$NAME: a symbolic link"
	[ "$(cat "$W/target")" = precious ]
}

@test "a lock file that is a dangling symlink is refused; its target is not created" {
	mkdir -m 700 "$W/locks"
	ln -s ../created "$W/locks/$NAME"
	refused_untouched "$W/locks" 77 \
		"libsingle: unsafe lock file $W/locks/$NAME: a symbolic link"
	[ ! -e "$W/created" ]
}

@test "a FIFO as lock file is refused without being opened" {
	command -v strace >/dev/null || skip "strace is not installed"
	mkdir -m 700 "$W/locks"
	mkfifo -m 600 "$W/locks/$NAME"
	before=$(snapshot "$W")
	# strace watches from outside: the FIFO must never be opened
	run bounded env SINGLE_DIR="$W/locks" strace -f -qq -o "$T/trace" \
		-e trace=open,openat,openat2 -E LD_PRELOAD="$PRELOAD" \
		"$BIN/holder" "$T/ran" "$T/empty"
	refused 77 "libsingle: unsafe lock file $W/locks/$NAME: not a regular file"
	[ "$(snapshot "$W")" = "$before" ]
	grep -q 'openat(' "$T/trace"        # the trace did see opens
	! grep -F "$NAME" "$T/trace" | grep -q open
}

@test "a world-writable lock directory is refused and nothing is created in it" {
	mkdir "$W/locks"
	chmod 777 "$W/locks"
	refused_untouched "$W/locks" 77 \
		"libsingle: unsafe lock directory $W/locks: writable by others (mode 0777)"
}

@test "a sticky world-writable lock directory (like /tmp) is refused too" {
	mkdir "$W/locks"
	chmod 1777 "$W/locks"
	refused_untouched "$W/locks" 77 \
		"libsingle: unsafe lock directory $W/locks: writable by others (mode 1777)"
}

@test "a group-writable lock directory is refused and nothing is created in it" {
	mkdir "$W/locks"
	chmod 770 "$W/locks"
	refused_untouched "$W/locks" 77 \
		"libsingle: unsafe lock directory $W/locks: writable by others (mode 0770)"
}

@test "a lock directory that cannot be created on a read-only file system: one line, exit 73" {
	mount_tmpfs "$W/ro" ro,size=64k || skip "cannot mount a tmpfs here"
	refused_untouched "$W/ro/locks" 73 \
		"libsingle: cannot create lock directory $W/ro/locks: Read-only file system"
}

@test "a lock file that cannot be created on a read-only file system: one line, exit 73" {
	mount_tmpfs "$W/ro" size=64k || skip "cannot mount a tmpfs here"
	mkdir -m 700 "$W/ro/locks"
	mount -o remount,ro "$W/ro"
	refused_untouched "$W/ro/locks" 73 \
		"libsingle: cannot open lock file $W/ro/locks/$NAME: Read-only file system"
}

# Secure-execution mode: ld.so preloads only a set-user-ID library named
# without a slash from the system directories, so the library is copied
# there for this test (and removed in teardown).
@test "a setuid program runs untouched: no setting is read, no lock taken, so no user can keep another from running it" {
	needs_native_m32 "set-user-ID programs (binfmt_misc starts them without secure-execution mode)"
	local libdir=/usr/lib/x86_64-linux-gnu
	[ -d "$libdir" ] || skip "no $libdir on this system"
	user_dir nobody                       # $USER_DIR: nobody's, 0755
	S=$(mktemp -d /tmp/libsingle-suid.XXXXXX)
	TEARDOWN_PATHS+=("$S")
	chmod 755 "$S"
	if findmnt -no OPTIONS -T "$S" | grep -qw nosuid; then
		skip "$S is on a nosuid file system"
	fi
	SUID_LIB=$libdir/libsingle-test-$$.so
	TEARDOWN_PATHS+=("$SUID_LIB")
	install -m 4755 "$LIB" "$SUID_LIB"
	install -m 4755 -o root "$BIN/holder" "$S/holder"
	mkfifo -m 666 "$S/release"
	SUID_LOCK=$(SINGLE_DIR=/tmp/libsingle-0 lock_name "$S/holder")
	rm -f "$SUID_LOCK"
	before=$(snapshot "$USER_DIR")

	# nobody starts it, with settings that would steer it anywhere
	spawn as_user nobody env LD_PRELOAD="libsingle-test-$$.so" \
		SINGLE_DIR="$USER_DIR/locks" SINGLE_KEY="victim-$$" \
		SINGLE_PROGRAMS=holder SINGLE_WAIT=inf SINGLE_MAX=1 \
		"$S/holder" "$S/ready" "$S/release"
	local holder=$BG_PID
	wait_for_file "$S/ready"
	# main() ran with euid 0 (the file is root's) ...
	[ "$(stat -c %u "$S/ready")" -eq 0 ]
	# ... and another user's start runs beside it, at once
	run bounded setpriv --reuid=54321 --regid=54321 --clear-groups -- \
		env LD_PRELOAD="libsingle-test-$$.so" "$S/holder" "$S/ready2" /dev/null
	[ "$status" -eq 0 ]
	[ -e "$S/ready2" ]
	# no lock anywhere: not root's default, not SINGLE_KEY's, not SINGLE_DIR
	[ ! -e "$SUID_LOCK" ]
	[ ! -e "/tmp/libsingle-0/@victim-$$.lock" ]
	[ ! -e "$USER_DIR/locks" ]
	[ "$(snapshot "$USER_DIR")" = "$before" ]
	fifo_close "$S/release"
	reap "$holder"
}
