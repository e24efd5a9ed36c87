#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# make install / uninstall, and the installed single finding its library:
# the layout (libsingle.so.N and the libsingle.so link), the loader's
# cache, 32- and 64-bit builds side by side.

load helpers
bats_require_minimum_version 1.5.0

setup() { common_setup; }
teardown() { common_teardown; }

# files DIR: every file and symlink under DIR, relative, sorted
files() {
	(cd "$1" && find . ! -type d | sort)
}

# soname LIB: the SONAME in LIB's dynamic section
soname() {
	readelf -dW "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p'
}

# elf_class FILE: 32 or 64, from the ELF header's EI_CLASS byte
elf_class() {
	case $(od -An -tx1 -j4 -N1 "$1" | tr -d ' ') in
	01) echo 32 ;;
	02) echo 64 ;;
	*) echo none ;;
	esac
}

@test "make install DESTDIR=root PREFIX=/usr writes libsingle.so.0 and its libsingle.so link, single, both manuals and the completions, nothing else" {
	mk install DESTDIR="$T/root" PREFIX=/usr
	run files "$T/root"
	[ "$output" = "$(printf '%s\n' ./usr/bin/single ./usr/lib/libsingle.so ./usr/lib/libsingle.so.0 \
		./usr/share/bash-completion/completions/single \
		./usr/share/man/man1/single.1 ./usr/share/man/man7/libsingle.7 \
		./usr/share/zsh/site-functions/_single)" ]
	[ "$(stat -c %a "$T/root/usr/bin/single")" = 755 ]
	[ "$(stat -c %a "$T/root/usr/lib/libsingle.so.0")" = 644 ]
	# the name LD_PRELOAD gives is a link to the file the SONAME names,
	# which ldconfig then lists under both names
	[ "$(readlink "$T/root/usr/lib/libsingle.so")" = libsingle.so.0 ]
	[ "$(soname "$T/root/usr/lib/libsingle.so.0")" = libsingle.so.0 ]
	cmp "$ROOT_DIR/preload/libsingle.so" "$T/root/usr/lib/libsingle.so.0"
	cmp "$ROOT_DIR/scripts/completion/single.bash" \
		"$T/root/usr/share/bash-completion/completions/single"
	cmp "$ROOT_DIR/scripts/completion/_single" "$T/root/usr/share/zsh/site-functions/_single"
	# LIBDIR built in; DESTDIR nowhere
	run ! grep -qaF "$T/root" "$T/root/usr/bin/single"
	grep -qaxF /usr/lib <(strings -a "$T/root/usr/bin/single")
}

# tree: every path of the source tree but .git, with its modification time
tree() {
	(cd "$ROOT_DIR" && find . -path ./.git -prune -o -printf '%p %T@\n' | sort)
}

@test "after make, make install writes nothing into the source tree (a root install leaves the user's build alone)" {
	rm -rf "$ROOT_DIR/build/man"
	mk all
	local before
	before=$(tree)
	mk install DESTDIR="$T/root"
	diff -u <(echo "$before") <(tree)
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
	# with it: 0, and both classes' libraries
	run "$T/root/nonexistent/libsingle-test/bin/single" -V
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "library: $T/root/nonexistent/libsingle-test/lib/libsingle.so" ]
	[ "${lines[2]}" = "library for 32-bit programs: none" ]
}

@test "make install honours LIBDIR, BINDIR, MANDIR, BASHCOMPDIR, ZSHCOMPDIR and INSTALL" {
	printf '#!/bin/sh\necho "$*" >>"%s/install.log"\nexec install "$@"\n' "$T" >"$T/myinstall"
	chmod +x "$T/myinstall"
	mk install DESTDIR="$T/root" LIBDIR=/usr/lib/x86_64-linux-gnu BINDIR=/usr/sbin \
		MANDIR=/usr/man BASHCOMPDIR=/etc/bc ZSHCOMPDIR=/usr/zsh INSTALL="$T/myinstall"
	run files "$T/root"
	[ "$output" = "$(printf '%s\n' ./etc/bc/single ./usr/lib/x86_64-linux-gnu/libsingle.so \
		./usr/lib/x86_64-linux-gnu/libsingle.so.0 ./usr/man/man1/single.1 \
		./usr/man/man7/libsingle.7 ./usr/sbin/single ./usr/zsh/_single)" ]
	[ "$(grep -c . "$T/install.log")" -ge 7 ]
	run "$T/root/usr/sbin/single" -V
	[ "${lines[1]}" = "library: $T/root/usr/lib/x86_64-linux-gnu/libsingle.so" ]
}

@test "make uninstall removes exactly what make install wrote" {
	mk install DESTDIR="$T/root" PREFIX=/usr
	: >"$T/root/usr/lib/other.so"
	: >"$T/root/usr/share/man/man1/other.1"
	: >"$T/root/usr/share/bash-completion/completions/other"
	: >"$T/root/usr/share/zsh/site-functions/_other"
	mk uninstall DESTDIR="$T/root" PREFIX=/usr
	run files "$T/root"
	[ "$output" = "$(printf '%s\n' ./usr/lib/other.so ./usr/share/bash-completion/completions/other \
		./usr/share/man/man1/other.1 ./usr/share/zsh/site-functions/_other)" ]
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
	main_build_only
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

# ---- 32- and 64-bit side by side --------------------------------------------

# m32_build: the sources copied to $BATS_FILE_TMPDIR/src32 and built
# there with -m32 (once per file; the tree under test stays 64-bit), or
# skip if the compiler cannot build 32-bit programs (gcc-multilib)
m32_build() {
	local src=$BATS_FILE_TMPDIR/src32
	printf 'int main(void) { return 0; }\n' >"$T/t32.c"
	cc -m32 -o "$T/t32" "$T/t32.c" 2>/dev/null || skip "cc -m32 cannot link (gcc-multilib)"
	if [ ! -e "$src/preload/libsingle.so" ]; then
		rm -rf "$src"
		mkdir -p "$src"
		cp -R "$ROOT_DIR/Makefile" "$ROOT_DIR/preload" "$ROOT_DIR/scripts" "$src/"
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$src" clean
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$src" CFLAGS="-m32 -O2 -g" \
			WARN= all >&2
	fi
	M32=$src
	[ "$(elf_class "$M32/preload/libsingle.so")" = 32 ]
}

# mk32 TARGET VAR=VALUE...: make in the 32-bit copy
mk32() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$M32" CFLAGS="-m32 -O2 -g" WARN= "$@"
}

# runs_32bit: this kernel runs 32-bit programs (else exec says ENOEXEC)
runs_32bit() {
	"$T/t32" 2>/dev/null
}

# preloaded_for CMD...: the LD_PRELOAD single passes to CMD's execve
# (strace sees it even where the kernel cannot run CMD)
preloaded_for() {
	command -v strace >/dev/null || skip "strace is not installed"
	bounded strace -f -qq -v -s 4096 -e trace=execve -o "$T/execve.trace" "$@" >/dev/null 2>&1 || true
	grep -o 'LD_PRELOAD=[^"]*' "$T/execve.trace" | tail -n 1 | sed 's/^LD_PRELOAD=//'
}

@test "a 32-bit make install beside the 64-bit one goes to lib32 and leaves the 64-bit library alone" {
	m32_build
	mk install DESTDIR="$T/root" PREFIX=/usr
	mk32 install DESTDIR="$T/root" PREFIX=/usr
	cmp "$ROOT_DIR/preload/libsingle.so" "$T/root/usr/lib/libsingle.so.0"
	[ "$(elf_class "$T/root/usr/lib/libsingle.so.0")" = 64 ]
	[ "$(elf_class "$T/root/usr/lib32/libsingle.so.0")" = 32 ]
	[ "$(readlink "$T/root/usr/lib32/libsingle.so")" = libsingle.so.0 ]
	# the 32-bit build's single knows both directories
	[ "$(elf_class "$T/root/usr/bin/single")" = 32 ]
	grep -qaxF /usr/lib32 <(strings -a "$T/root/usr/bin/single")
	grep -qaxF /usr/lib <(strings -a "$T/root/usr/bin/single")
}

@test "after 32- and 64-bit installs, single preloads the library of each program's class" {
	main_build_only
	m32_build
	mk32 install DESTDIR="$T/root" PREFIX=/usr
	mk install DESTDIR="$T/root" PREFIX=/usr
	local single=$T/root/usr/bin/single
	run "$single" -V
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "library: $T/root/usr/lib/libsingle.so" ]
	[ "${lines[2]}" = "library for 32-bit programs: $T/root/usr/lib32/libsingle.so" ]
	# a 64-bit program: the 64-bit library, and it locks
	mkfifo "$T/release.first"
	spawn "$single" "$BIN/holder" "$T/first.ready" "$T/release.first"
	HOLDER_PID=$BG_PID
	wait_for_file "$T/first.ready"
	is_locked "$(holder_lock)"
	run bounded "$single" -E 3 "$BIN/holder" "$T/second.ready"
	[ "$status" -eq 3 ]
	release first
	[ "$(preloaded_for "$single" "$BIN/holder" "$T/third.ready" /dev/null)" = "$T/root/usr/lib/libsingle.so" ]
	# a 32-bit program, and a script whose interpreter is one: the 32-bit library
	[ "$(preloaded_for "$single" "$T/t32")" = "$T/root/usr/lib32/libsingle.so" ]
	printf '#!%s\n' "$T/t32" >"$T/script32"
	chmod +x "$T/script32"
	[ "$(preloaded_for "$single" "$T/script32")" = "$T/root/usr/lib32/libsingle.so" ]
}

@test "single refuses a program of a class whose library is not installed with 72, and runs nothing" {
	printf 'int main(void) { return 0; }\n' >"$T/t32.c"
	cc -m32 -o "$T/t32" "$T/t32.c" 2>/dev/null || skip "cc -m32 cannot link (gcc-multilib)"
	mk install DESTDIR="$T/root" PREFIX=/usr
	run "$T/root/usr/bin/single" "$T/t32"
	[ "$status" -eq 72 ]
	# not under the root, then where it was built to look
	[ "$output" = "single: cannot find the library for 32-bit programs: /usr/lib32/libsingle.so: no such file (set SINGLE_LIB)" ]
	# LIBDIR following no convention, and no LIBDIR32: none to look for
	mk install DESTDIR="$T/root2" PREFIX=/opt/single LIBDIR=/opt/single/libs
	run "$T/root2/opt/single/bin/single" "$T/t32"
	[ "$status" -eq 72 ]
	[ "$output" = "single: cannot find the library for 32-bit programs: single was built without LIBDIR32 (set SINGLE_LIB)" ]
	# the build tree has one class only
	run "$ROOT_DIR/build/single" "$T/t32"
	[ "$status" -eq 72 ]
	[ "$output" = "single: cannot find the library for 32-bit programs: the build tree has a 64-bit one only (set SINGLE_LIB)" ]
}

# dst_lib: what ld.so writes for $LIB in this process's class
dst_lib() {
	/lib64/ld-linux-x86-64.so.2 --list-diagnostics 2>/dev/null | sed -n 's/^dl_dst_lib="\(.*\)"$/\1/p'
}

@test "LD_PRELOAD='/usr/\$LIB/libsingle.so' under an install into the \$LIB directories locks through the library of the program's class" {
	main_build_only
	local lib64
	lib64=$(dst_lib)
	[ -n "$lib64" ] || skip "this ld.so does not say what \$LIB is (ld.so --list-diagnostics)"
	mk install DESTDIR="$T/root" PREFIX=/usr LIBDIR="/usr/$lib64"
	# shellcheck disable=SC2016  # $LIB is for ld.so
	local preload="$T/root/usr/"'$LIB'/libsingle.so
	mkfifo "$T/release.first"
	spawn env LD_PRELOAD="$preload" "$BIN/holder" "$T/first.ready" "$T/release.first"
	HOLDER_PID=$BG_PID
	wait_for_file "$T/first.ready"
	is_locked "$(holder_lock)"
	run bounded env LD_PRELOAD="$preload" "$BIN/holder" "$T/second.ready"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/second.ready" ]
	release first
}

@test "one LD_PRELOAD='/usr/\$LIB/libsingle.so' locks a 32-bit and a 64-bit program, each through the library of its class" {
	main_build_only
	m32_build
	runs_32bit || skip "this kernel does not run 32-bit programs"
	local lib64 lib32
	lib64=$(dst_lib)
	lib32=$(/lib/ld-linux.so.2 --list-diagnostics 2>/dev/null | sed -n 's/^dl_dst_lib="\(.*\)"$/\1/p')
	[ -n "$lib64" ] && [ -n "$lib32" ] || skip "this ld.so does not say what \$LIB is (ld.so --list-diagnostics)"
	mk install DESTDIR="$T/root" PREFIX=/usr LIBDIR="/usr/$lib64" LIBDIR32="/usr/$lib32"
	mk32 install DESTDIR="$T/root" PREFIX=/usr LIBDIR="/usr/$lib32" LIBDIR64="/usr/$lib64"
	cc -m32 -O2 -o "$T/holder32" "$ROOT_DIR/tests/progs/holder.c"
	# shellcheck disable=SC2016  # $LIB is for ld.so
	local preload="$T/root/usr/"'$LIB'/libsingle.so prog
	for prog in "$T/holder32" "$BIN/holder"; do
		mkfifo "$T/release.first"
		spawn env LD_PRELOAD="$preload" "$prog" "$T/first.ready" "$T/release.first"
		HOLDER_PID=$BG_PID
		wait_for_file "$T/first.ready"
		is_locked "$(lock_name "$prog")"
		run bounded env LD_PRELOAD="$preload" "$prog" "$T/second.ready"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
		[ ! -e "$T/second.ready" ]
		# and through single, whichever class it was built for
		run bounded "$T/root/usr/bin/single" -E 3 "$prog" "$T/second.ready"
		[ "$status" -eq 3 ]
		release first
		rm -f "$T/first.ready"
	done
}
