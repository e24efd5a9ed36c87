#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# What a packager gets: the build's flags, the version, a release tarball,
# a Debian package that lintian accepts.

load helpers
bats_require_minimum_version 1.5.0

setup() { common_setup; }
teardown() { common_teardown; }

# src_copy DIR: the sources as make needs them, without build products
src_copy() {
	mkdir -p "$1"
	cp -R "$ROOT_DIR/Makefile" "$ROOT_DIR/preload" "$ROOT_DIR/scripts" "$1/"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$1" clean
}

# ---- flags -------------------------------------------------------------------

@test "the library and single are built with the stack protector and _FORTIFY_SOURCE=2, and the library binds lazily" {
	# the tree's own build: what make makes by default
	local lib=$ROOT_DIR/preload/libsingle.so
	nm -D --undefined-only "$lib" | grep -q '__stack_chk_fail'
	nm -u "$ROOT_DIR/build/single.o" | grep -q '__stack_chk_fail'
	# single's messages go through libc's checked vsnprintf
	nm -u "$ROOT_DIR/build/single.o" | grep -qE '__v?s?n?printf_chk'
	run readelf -dW "$lib"
	[[ $output != *BIND_NOW* ]]
	[[ $output != *"Flags: NOW"* ]]
	# and the default compile command has both, before the packager's flags
	run compile_line CFLAGS="-O2 -g"
	[[ $output == "cc -fstack-protector-strong -D_FORTIFY_SOURCE=2 "*" -O2 -g "* ]]
}

# compile_line VAR=VALUE...: the command make would compile preload/key.o with
compile_line() {
	mk -n -B CC=cc "$@" preload/key.o | grep -e '-c -o preload/key\.o'
}

@test "_FORTIFY_SOURCE is left to the packager's flags when they set it, and to optimised builds" {
	run compile_line CPPFLAGS=-D_FORTIFY_SOURCE=3
	[[ $output == "cc -fstack-protector-strong  -D_FORTIFY_SOURCE=3 "* ]]
	[ "$(grep -o _FORTIFY_SOURCE <<<"$output" | wc -l)" -eq 1 ]
	run compile_line CFLAGS="-O2 -g -Wp,-D_FORTIFY_SOURCE=3"
	[ "$(grep -o _FORTIFY_SOURCE <<<"$output" | wc -l)" -eq 1 ]
	run compile_line CFLAGS="-O0 -g"
	[[ $output == cc\ -fstack-protector-strong* ]]
	[[ $output != *_FORTIFY_SOURCE* ]]
	run compile_line HARDEN=
	[ -n "$output" ]
	[[ $output != *-fstack-protector* ]]
	[[ $output != *_FORTIFY_SOURCE* ]]
}

@test "a packager's LDFLAGS=-Wl,-z,now wins over the Makefile's lazy binding" {
	src_copy "$T/src"
	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$T/src" LDFLAGS=-Wl,-z,now \
		preload/libsingle.so
	[ "$status" -eq 0 ]
	run readelf -dW "$T/src/preload/libsingle.so"
	[[ $output == *BIND_NOW* ]]
}

# ---- a Debian package ----------------------------------------------------------

# debs ROOT OUT VERSION: what debhelper would make of a make install
# DESTDIR=ROOT tree, as Debian splits such a project: libsingle0 (the
# library under its SONAME, and the libsingle.so link LD_PRELOAD names:
# no -dev package, as for libeatmydata1, whose override it carries) and
# single (the command, the manuals, the completions).  Stripped objects,
# compressed manuals, a copyright file, shlibs and the ldconfig trigger,
# as dh_strip, dh_compress, dh_makeshlibs would add them.
debs() {
	local root=$1 out=$2 version=$3 arch ma
	arch=$(dpkg --print-architecture)
	ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
	deb libsingle0 libs "libc6 (>= 2.34)" "make any program single-instance (LD_PRELOAD library)" \
		"usr/lib/$ma/libsingle.so.0" "usr/lib/$ma/libsingle.so"
	mkdir -p "$out/libsingle0/usr/share/lintian/overrides"
	printf '%s\n' '# LD_PRELOAD=libsingle.so names the link: it is the interface' \
		'libsingle0: link-to-shared-library-in-wrong-package' \
		>"$out/libsingle0/usr/share/lintian/overrides/libsingle0"
	deb single utils "libc6 (>= 2.34), libsingle0 (= $version-1)" \
		"run a command unless another instance of it runs" \
		usr/bin/single usr/share/man/man1/single.1 usr/share/man/man7/libsingle.7 \
		usr/share/bash-completion/completions/single usr/share/zsh/vendor-completions/_single
	build_deb libsingle0
	build_deb single
}

# deb NAME SECTION DEPENDS SUMMARY FILE...: the package tree $out/NAME
deb() {
	local name=$1 section=$2 depends=$3 summary=$4 d=$out/$1 f
	shift 4
	mkdir -p "$d/DEBIAN" "$d/usr/share/doc/$name"
	for f; do
		mkdir -p "$d/${f%/*}"
		cp -P "$root/$f" "$d/$f"
	done
	find "$d/usr" -type f \( -name '*.so.*' -o -path '*/bin/*' \) -exec \
		strip --remove-section=.comment --remove-section=.note --strip-unneeded {} +
	[ ! -d "$d/usr/share/man" ] || find "$d/usr/share/man" -type f -exec gzip -9n {} +
	{
		printf '%s\n' 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
			'Upstream-Name: libsingle' '' 'Files: *' \
			'Copyright: 2026 The libsingle authors' 'License: Expat'
		sed -n '/^Permission/,$p' "$ROOT_DIR/LICENSE" | sed 's/^$/./; s/^/ /'
	} >"$d/usr/share/doc/$name/copyright"
	printf 'libsingle (%s-1) unstable; urgency=medium\n\n  * A package the tests build.\n\n -- %s  Mon, 30 Nov 2026 00:00:00 +0000\n' \
		"$version" "libsingle tests <tests@libsingle.invalid>" |
		gzip -9n >"$d/usr/share/doc/$name/changelog.Debian.gz"
	{
		printf '%s\n' "Package: $name" "Source: libsingle" "Version: $version-1" \
			"Architecture: $arch"
		[ "$section" != libs ] || echo "Multi-Arch: same"
		printf '%s\n' "Maintainer: libsingle tests <tests@libsingle.invalid>" \
			"Depends: $depends" "Section: $section" "Priority: optional" \
			"Homepage: https://libsingle.invalid/" "Description: $summary" \
			" libsingle makes any dynamically linked program single-instance: its" \
			" constructor takes a lock chosen for the program before main runs," \
			" and a second start while the first runs exits at once."
	} >"$d/DEBIAN/control"
	if [ "$section" = libs ]; then
		echo "libsingle $(soname "$d/usr/lib/$ma/libsingle.so.0" | sed 's/.*\.so\.//') libsingle0 (>= $version)" \
			>"$d/DEBIAN/shlibs"
		echo "activate-noawait ldconfig" >"$d/DEBIAN/triggers"
	fi
}

# build_deb NAME: $out/NAME.deb from the tree $out/NAME
build_deb() {
	local d=$out/$1
	echo "Installed-Size: $(du -sk --exclude=DEBIAN "$d" | cut -f1)" >>"$d/DEBIAN/control"
	(cd "$d" && find usr -type f -exec md5sum {} + >DEBIAN/md5sums)
	dpkg-deb --root-owner-group -Zgzip --build "$d" "$out/$1.deb" >/dev/null
}

# soname LIB: the SONAME in LIB's dynamic section
soname() {
	readelf -dW "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p'
}

@test "Debian packages of make install DESTDIR, built with dpkg-buildflags, pass lintian without an error" {
	command -v dpkg-buildflags >/dev/null && command -v dpkg-architecture >/dev/null ||
		skip "dpkg-dev is not installed"
	command -v lintian >/dev/null || skip "lintian is not installed"
	local flags=() var version
	# Debian's build: its flags (hardening=+all: -z now, the stack
	# protector, _FORTIFY_SOURCE=2 already in CPPFLAGS), -Werror on our
	# warnings, and single linked dynamically (lintian:
	# statically-linked-binary)
	for var in CFLAGS CPPFLAGS LDFLAGS; do
		flags+=("$var=$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get "$var")")
	done
	src_copy "$T/src"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$T/src" -j2 "${flags[@]}" \
		WARN="-Wall -Wextra -Werror" SINGLE_STATIC= install DESTDIR="$T/root" PREFIX=/usr \
		LIBDIR="/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)" \
		ZSHCOMPDIR=/usr/share/zsh/vendor-completions
	version=$(mk version)
	debs "$T/root" "$T/out" "$version"
	run lintian -I --show-overrides --tag-display-limit 0 "$T/out/libsingle0.deb" "$T/out/single.deb"
	echo "$output" >&2
	# lintian's status is 0 when it found nothing at its fail-on level (error)
	[ "$status" -eq 0 ]
	run ! grep -q '^E: ' <<<"$output"
}

# ---- version and release -------------------------------------------------------

@test "one VERSION: the library's SONAME and version string, single -V and both manuals' .TH lines" {
	local version
	version=$(mk version)
	[[ $version =~ ^[0-9]+(\.[0-9]+)*$ ]]
	[ "$(soname "$ROOT_DIR/preload/libsingle.so")" = "libsingle.so.${version%%.*}" ]
	grep -qaxF "libsingle $version" <(strings -a "$ROOT_DIR/preload/libsingle.so")
	run "$ROOT_DIR/build/single" -V
	[ "${lines[0]}" = "single (libsingle) $version" ]
	# the manuals in the tree say it too (make install writes VERSION there)
	grep -qE "^\.TH SINGLE 1 [^ ]+ \"libsingle $version\"" "$ROOT_DIR/scripts/single.1"
	grep -qE "^\.TH LIBSINGLE 7 [^ ]+ \"libsingle $version\"" "$ROOT_DIR/preload/libsingle.7"
}

@test "make VERSION=2.5 builds libsingle.so.2 saying 'libsingle 2.5', and installs it with manuals and single -V that say 2.5" {
	src_copy "$T/src"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$T/src" -j2 VERSION=2.5 \
		install DESTDIR="$T/root" PREFIX=/usr
	[ "$(soname "$T/root/usr/lib/libsingle.so.2")" = libsingle.so.2 ]
	[ "$(readlink "$T/root/usr/lib/libsingle.so")" = libsingle.so.2 ]
	grep -qaxF "libsingle 2.5" <(strings -a "$T/root/usr/lib/libsingle.so.2")
	run "$T/root/usr/bin/single" -V
	[ "${lines[0]}" = "single (libsingle) 2.5" ]
	grep -q '^\.TH SINGLE 1 [^ ]* "libsingle 2\.5"' "$T/root/usr/share/man/man1/single.1"
	grep -q '^\.TH LIBSINGLE 7 [^ ]* "libsingle 2\.5"' "$T/root/usr/share/man/man7/libsingle.7"
	# and uninstall with the same VERSION takes exactly that away
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$T/src" VERSION=2.5 \
		uninstall DESTDIR="$T/root" PREFIX=/usr
	[ -z "$(find "$T/root" ! -type d)" ]
}

@test "make dist writes build/libsingle-VERSION.tar.gz: every tracked file, under libsingle-VERSION/, and it unpacks and builds" {
	git -C "$ROOT_DIR" rev-parse --git-dir >/dev/null 2>&1 || skip "not a git checkout (an unpacked tarball)"
	local version tarball
	version=$(mk version)
	tarball=$ROOT_DIR/build/libsingle-$version.tar.gz
	mk dist
	run tar -tzf "$tarball"
	[ "$status" -eq 0 ]
	[ "$output" = "$(git -C "$ROOT_DIR" ls-files | sed "s,^,libsingle-$version/," | LC_ALL=C sort)" ]
	# the same bytes again
	cp "$tarball" "$T/first.tar.gz"
	mk dist
	cmp "$T/first.tar.gz" "$tarball"
	# unpacked, it builds: the library, single, the test programs
	tar -xzf "$tarball" -C "$T"
	local progs
	progs=$(cd "$ROOT_DIR" && echo tests/progs/*.c | sed 's,progs/,bin/,g; s,\.c,,g')
	# shellcheck disable=SC2086  # a list of targets
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$T/libsingle-$version" -j2 all $progs
	run "$T/libsingle-$version/build/single" -V
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "single (libsingle) $version" ]
	[ "${lines[1]}" = "library: $T/libsingle-$version/preload/libsingle.so" ]
	# its library locks its own holder (start_holder would preload the
	# tree's library, and a musl or 32-bit build's test programs)
	local holder=$T/libsingle-$version/tests/bin/holder
	mkfifo "$T/release.first"
	spawn env LD_PRELOAD="$T/libsingle-$version/preload/libsingle.so" "$holder" \
		"$T/first.ready" "$T/release.first"
	HOLDER_PID=$BG_PID
	wait_for_file "$T/first.ready"
	is_locked "$(lock_name "$holder")"
	release first
}

# ---- licence -------------------------------------------------------------------

# source_files: the project's files, relative: git's list in a checkout,
# else (an unpacked tarball) every file but what a build makes
source_files() {
	if git -C "$ROOT_DIR" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$ROOT_DIR" ls-files
	else
		(cd "$ROOT_DIR" && find . \( -path ./build -o -path ./tests/bin -o -path ./tests/fuzz/out \) \
			-prune -o -type f ! -name '*.o' ! -name '*.d' ! -name '*.so' -print | sed 's,^\./,,')
	fi
}

@test "LICENSE is the MIT licence, and every source file says SPDX-License-Identifier: MIT in its first lines" {
	grep -qx 'MIT License' "$ROOT_DIR/LICENSE"
	grep -qx 'Copyright (c) 2026 The libsingle authors' "$ROOT_DIR/LICENSE"
	grep -q '^Permission is hereby granted, free of charge' "$ROOT_DIR/LICENSE"
	local f n=0 missing=()
	while IFS= read -r f; do
		# not sources: the licence itself, prose, fuzzing seeds (data)
		case $f in
		LICENSE | *.md | tests/fuzz/corpus/*) continue ;;
		esac
		n=$((n + 1))
		head -n 3 "$ROOT_DIR/$f" | grep -qE '(^|[^A-Za-z])SPDX-License-Identifier: MIT( |$)' ||
			missing+=("$f")
	done < <(source_files)
	# the check saw the tree: C, headers, scripts, bats files, the Makefile
	[ "$n" -ge 70 ]
	[ ${#missing[@]} -eq 0 ] || { printf 'no SPDX line: %s\n' "${missing[@]}" >&2; return 1; }
}
