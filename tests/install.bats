#!/usr/bin/env bats
# make install / uninstall, and the installed single finding its library:
# the layout (libsingle.so.N and the libsingle.so link), the loader's
# cache.

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

# soname LIB: the SONAME in LIB's dynamic section
soname() {
	readelf -dW "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p'
}

@test "make install DESTDIR=root PREFIX=/usr writes libsingle.so.0 and its libsingle.so link, single and both manuals, nothing else" {
	mk install DESTDIR="$T/root" PREFIX=/usr
	run files "$T/root"
	[ "$output" = "$(printf '%s\n' ./usr/bin/single ./usr/lib/libsingle.so ./usr/lib/libsingle.so.0 \
		./usr/share/man/man1/single.1 ./usr/share/man/man7/libsingle.7)" ]
	[ "$(stat -c %a "$T/root/usr/bin/single")" = 755 ]
	[ "$(stat -c %a "$T/root/usr/lib/libsingle.so.0")" = 644 ]
	# the name LD_PRELOAD gives is a link to the file the SONAME names,
	# which ldconfig then lists under both names
	[ "$(readlink "$T/root/usr/lib/libsingle.so")" = libsingle.so.0 ]
	[ "$(soname "$T/root/usr/lib/libsingle.so.0")" = libsingle.so.0 ]
	cmp "$ROOT_DIR/preload/libsingle.so" "$T/root/usr/lib/libsingle.so.0"
	# LIBDIR built in; DESTDIR nowhere
	run ! grep -qaF "$T/root" "$T/root/usr/bin/single"
	grep -qaF /usr/lib/libsingle.so "$T/root/usr/bin/single"
}

@test "the single of a make install DESTDIR tree finds its library there and makes a command single-instance" {
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
	# (LDCONFIG=: the machine's loader cache is left alone)
	mk install PREFIX="$T/prefix" LDCONFIG=
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

@test "single -V without its library says where it looked and exits 72, as a start does" {
	mk install DESTDIR="$T/root" PREFIX=/nonexistent/libsingle-test
	mkdir "$T/elsewhere"
	cp "$T/root/nonexistent/libsingle-test/bin/single" "$T/elsewhere/single"
	run --separate-stderr "$T/elsewhere/single" -V
	[ "$status" -eq 72 ]
	[[ $output =~ ^single\ \(libsingle\)\ [0-9] ]]
	[ "$stderr" = "single: cannot find the library: /nonexistent/libsingle-test/lib/libsingle.so: no such file (set SINGLE_LIB)" ]
	SINGLE_LIB=$T/none.so run "$T/elsewhere/single" -V
	[ "$status" -eq 72 ]
	# with it: 0
	run "$T/root/nonexistent/libsingle-test/bin/single" -V
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "library: $T/root/nonexistent/libsingle-test/lib/libsingle.so" ]
}

@test "make install honours LIBDIR, BINDIR, MANDIR and INSTALL" {
	printf '#!/bin/sh\necho "$*" >>"%s/install.log"\nexec install "$@"\n' "$T" >"$T/myinstall"
	chmod +x "$T/myinstall"
	mk install DESTDIR="$T/root" LIBDIR=/usr/lib/x86_64-linux-gnu BINDIR=/usr/sbin \
		MANDIR=/usr/man INSTALL="$T/myinstall"
	run files "$T/root"
	[ "$output" = "$(printf '%s\n' ./usr/lib/x86_64-linux-gnu/libsingle.so \
		./usr/lib/x86_64-linux-gnu/libsingle.so.0 ./usr/man/man1/single.1 \
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

@test "the installed manuals render, are found by man and carry VERSION on their .TH line" {
	mk install DESTDIR="$T/root" PREFIX=/usr
	local page version
	version=$(mk version)
	[ -n "$version" ]
	for page in man1/single.1 man7/libsingle.7; do
		run groff -ww -man -z "$T/root/usr/share/man/$page"
		[ -z "$output" ]
		run sed -n 's/^\.TH .*"libsingle \([^"]*\)".*/\1/p' "$T/root/usr/share/man/$page"
		[ "$output" = "$version" ]
	done
	MANPATH=$T/root/usr/share/man run man -w single
	[ "$output" = "$T/root/usr/share/man/man1/single.1" ]
	MANPATH=$T/root/usr/share/man run man -w 7 libsingle
	[ "$output" = "$T/root/usr/share/man/man7/libsingle.7" ]
}

# ---- the loader's cache ------------------------------------------------------

# fake_ldconfig [CACHE_LINE]: $T/ldconfig, which logs its arguments to
# $T/ldconfig.log, one call a line, and prints CACHE_LINE for -p
fake_ldconfig() {
	printf '#!/bin/sh\necho "ldconfig $*" >>"%s/ldconfig.log"\n[ "$1" != -p ] || printf "%%s\\n" "%s"\n' \
		"$T" "${1:-}" >"$T/ldconfig"
	chmod +x "$T/ldconfig"
	: >"$T/ldconfig.log"
}

@test "make install and uninstall refresh the loader's cache on the live system, never under DESTDIR" {
	fake_ldconfig
	mk install DESTDIR="$T/root" LDCONFIG="$T/ldconfig"
	mk uninstall DESTDIR="$T/root" LDCONFIG="$T/ldconfig"
	[ ! -s "$T/ldconfig.log" ]
	mk install PREFIX="$T/prefix" LDCONFIG="$T/ldconfig"
	[ "$(cat "$T/ldconfig.log")" = "$(printf 'ldconfig \nldconfig -p')" ]
	: >"$T/ldconfig.log"
	mk uninstall PREFIX="$T/prefix" LDCONFIG="$T/ldconfig"
	[ "$(cat "$T/ldconfig.log")" = "ldconfig " ]
}

@test "make install says when the loader's cache does not list LIBDIR's library, and only then" {
	fake_ldconfig
	run mk install PREFIX="$T/prefix" LDCONFIG="$T/ldconfig"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "make install: the loader's cache does not list $T/prefix/lib/libsingle.so:" ]
	[[ ${lines[1]} == *"LD_PRELOAD=libsingle.so will not find it; write LD_PRELOAD=$T/prefix/lib/libsingle.so,"* ]]
	fake_ldconfig "	libsingle.so (libc6,x86-64) => $T/prefix/lib/libsingle.so"
	run mk install PREFIX="$T/prefix" LDCONFIG="$T/ldconfig"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# an ldconfig that fails (not root): said, and the install stands
	printf '#!/bin/sh\necho "ldconfig: Permission denied" >&2\nexit 1\n' >"$T/ldconfig"
	run mk install PREFIX="$T/prefix" LDCONFIG="$T/ldconfig"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "make install: $T/ldconfig failed: run it as root" ]
	[ -L "$T/prefix/lib/libsingle.so" ]
}

# scratch_system: a mount namespace in which /etc, /usr/local and
# /var/cache are overlays: the machine's files show through, and what is
# written there (the loader's cache among it) lands in $T/ov.  NS_PID
# holds it; in_scratch CMD... runs CMD in it.
scratch_system() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (a mount namespace with overlays)"
	command -v nsenter >/dev/null || skip "nsenter (util-linux) is not installed"
	local d
	for d in etc local cache; do mkdir -p "$T/ov/$d.up" "$T/ov/$d.work"; done
	spawn unshare -m sh -c '
		ov() { mount -t overlay overlay -o "lowerdir=$1,upperdir=$2.up,workdir=$2.work" "$1"; }
		if ov /etc "$0/etc" && ov /usr/local "$0/local" && ov /var/cache "$0/cache"; then
			: >"$0/ready"; exec sleep 600
		fi
		: >"$0/failed"' "$T/ov"
	NS_PID=$BG_PID
	wait_until 10 eval '[ -e "$T/ov/ready" ] || [ -e "$T/ov/failed" ]'
	[ -e "$T/ov/ready" ] || skip "overlayfs cannot be mounted here"
}

in_scratch() {
	nsenter -t "$NS_PID" -m -- "$@"
}

@test "after make install to /usr/local, LD_PRELOAD=libsingle.so locks at once; after make uninstall the loader knows it no more" {
	scratch_system
	local before
	before=$(in_scratch find /usr/local ! -type d | sort)
	run in_scratch env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT_DIR" install
	[ "$status" -eq 0 ]
	[ -z "$output" ]        # the cache lists it: nothing to say
	in_scratch ldconfig -p | grep -qE "^\s+libsingle\.so \(.*\) => /usr/local/lib/libsingle\.so$"
	# the first start runs and holds the lock, the second is skipped,
	# quietly: ld.so found the library by its bare name both times
	mkfifo "$T/release.first"
	spawn in_scratch env LD_PRELOAD=libsingle.so "$BIN/holder" "$T/first.ready" "$T/release.first"
	HOLDER_PID=$BG_PID
	wait_for_file "$T/first.ready"
	is_locked "$(holder_lock)"
	run bounded nsenter -t "$NS_PID" -m -- env LD_PRELOAD=libsingle.so "$BIN/holder" "$T/second.ready"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/second.ready" ]
	release first
	# uninstall: the files gone, and with them the cache's entries
	run in_scratch env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT_DIR" uninstall
	[ "$status" -eq 0 ]
	[ "$(in_scratch find /usr/local ! -type d | sort)" = "$before" ]
	run in_scratch ldconfig -p
	[[ $output != *libsingle* ]]
	run bounded nsenter -t "$NS_PID" -m -- env LD_PRELOAD=libsingle.so true
	[[ $output == *"object 'libsingle.so' from LD_PRELOAD cannot be preloaded"* ]]
	# it was the scratch system's cache that changed
	[ -e "$T/ov/etc.up/ld.so.cache" ]
}
