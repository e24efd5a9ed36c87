#!/usr/bin/env bats
# make install / uninstall, and the installed single finding its library.

load helpers
bats_require_minimum_version 1.5.0

setup() { common_setup; }
teardown() { common_teardown; }

# mk TARGET VAR=VALUE...: make in the source tree, apart from any make
# that runs the suite
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT_DIR" "$@"
}

# files DIR: every file and symlink under DIR, relative, sorted
files() {
	(cd "$1" && find . ! -type d | sort)
}

@test "make install DESTDIR=root PREFIX=/usr writes the library, single and both manuals, nothing else" {
	mk install DESTDIR="$T/root" PREFIX=/usr
	run files "$T/root"
	[ "$output" = "$(printf '%s\n' ./usr/bin/single ./usr/lib/libsingle.so \
		./usr/share/man/man1/single.1 ./usr/share/man/man7/libsingle.7)" ]
	[ "$(stat -c %a "$T/root/usr/bin/single")" = 755 ]
	[ "$(stat -c %a "$T/root/usr/lib/libsingle.so")" = 644 ]
	cmp "$ROOT_DIR/preload/libsingle.so" "$T/root/usr/lib/libsingle.so"
	# LIBDIR built in; DESTDIR nowhere
	run ! grep -qaF "$T/root" "$T/root/usr/bin/single"
	grep -qaF /usr/lib/libsingle.so "$T/root/usr/bin/single"
}

@test "the single of a make install DESTDIR tree finds its library there and makes a command single-instance" {
	main_build_only
	mk install DESTDIR="$T/root" PREFIX=/usr
	run "$T/root/usr/bin/single" -V
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "library: $T/root/usr/lib/libsingle.so" ]
	mkfifo "$T/release.first"
	spawn "$T/root/usr/bin/single" "$BIN/holder" "$T/first.ready" "$T/release.first"
	wait_for_file "$T/first.ready"
	is_locked "$(holder_lock)"
	run bounded "$T/root/usr/bin/single" -E 3 "$BIN/holder" "$T/second.ready"
	[ "$status" -eq 3 ]
	[ ! -e "$T/second.ready" ]
	release first "$(cat "$T/first.ready")"
}

@test "an installed single looks in LIBDIR, never in the current directory" {
	# a real install under a prefix: found through the LIBDIR written in
	mk install PREFIX="$T/prefix"
	mkdir "$T/elsewhere"
	cp "$T/prefix/bin/single" "$T/elsewhere/single"
	run "$T/elsewhere/single" -V
	[ "${lines[1]}" = "library: $T/prefix/lib/libsingle.so" ]
	# a LIBDIR without the library: refused, whatever the current directory holds
	mk install DESTDIR="$T/root" PREFIX=/nonexistent/libsingle-test
	cp "$T/root/nonexistent/libsingle-test/bin/single" "$T/elsewhere/single2"
	cp "$LIB" "$T/elsewhere/libsingle.so"
	cd "$T/elsewhere"
	run ./single2 true
	[ "$status" -eq 72 ]
	[ "$output" = "single: cannot find the library: /nonexistent/libsingle-test/lib/libsingle.so: no such file (set SINGLE_LIB)" ]
}

@test "make install honours LIBDIR, BINDIR, MANDIR and INSTALL" {
	printf '#!/bin/sh\necho "$*" >>"%s/install.log"\nexec install "$@"\n' "$T" >"$T/myinstall"
	chmod +x "$T/myinstall"
	mk install DESTDIR="$T/root" LIBDIR=/usr/lib/x86_64-linux-gnu BINDIR=/usr/sbin \
		MANDIR=/usr/man INSTALL="$T/myinstall"
	run files "$T/root"
	[ "$output" = "$(printf '%s\n' ./usr/lib/x86_64-linux-gnu/libsingle.so ./usr/man/man1/single.1 \
		./usr/man/man7/libsingle.7 ./usr/sbin/single)" ]
	[ "$(grep -c . "$T/install.log")" -ge 5 ]
	run "$T/root/usr/sbin/single" -V
	[ "${lines[1]}" = "library: $T/root/usr/lib/x86_64-linux-gnu/libsingle.so" ]
}

@test "make uninstall removes exactly what make install wrote" {
	mk install DESTDIR="$T/root" PREFIX=/usr
	: >"$T/root/usr/lib/other.so"
	: >"$T/root/usr/share/man/man1/other.1"
	mk uninstall DESTDIR="$T/root" PREFIX=/usr
	run files "$T/root"
	[ "$output" = "$(printf '%s\n' ./usr/lib/other.so ./usr/share/man/man1/other.1)" ]
	[ -d "$T/root/usr/bin" ]
	# uninstalling again is not an error
	mk uninstall DESTDIR="$T/root" PREFIX=/usr
}

@test "the installed manuals render and are found by man" {
	mk install DESTDIR="$T/root" PREFIX=/usr
	run groff -ww -man -z "$T/root/usr/share/man/man7/libsingle.7"
	[ -z "$output" ]
	MANPATH=$T/root/usr/share/man run man -w single
	[ "$output" = "$T/root/usr/share/man/man1/single.1" ]
	MANPATH=$T/root/usr/share/man run man -w 7 libsingle
	[ "$output" = "$T/root/usr/share/man/man7/libsingle.7" ]
}
