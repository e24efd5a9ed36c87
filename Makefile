# SPDX-License-Identifier: MIT
# libsingle: make any program single-instance with LD_PRELOAD.
#
# Every variable can be overridden: make CC=clang, make PREFIX=/usr, ...

# The one version: the library's SONAME (its first number) and version
# string, single -V, the manuals' .TH lines and make dist.
VERSION = 0.1

PREFIX  ?= /usr/local
# 32- and 64-bit builds install side by side: a 32-bit build (CFLAGS=-m32)
# into $(PREFIX)/lib32 unless told otherwise.
LIBDIR  ?= $(PREFIX)/$(if $(filter 4,$(PTR_SIZE)),lib32,lib)
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
# Shell completion.  bash-completion names its directory in its .pc file
# relative to its datadir: asked with ours, as meson and systemd ask, so
# that a PREFIX=/usr/local install stays under /usr/local (bash-completion
# searches $(XDG_DATA_DIRS)/bash-completion/completions, /usr/local/share
# first).  zsh: a directory of the default fpath.
BASHCOMPDIR ?= $(or $(shell pkg-config --define-variable=datadir='$(DATADIR)' \
	--variable=completionsdir bash-completion 2>/dev/null),$(DATADIR)/bash-completion/completions)
ZSHCOMPDIR  ?= $(DATADIR)/zsh/site-functions
INSTALL ?= install
BATS    ?= bats

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    ?= -Wall -Wextra
CPPFLAGS ?=

# The class this build makes: __SIZEOF_POINTER__, 8 or 4 (-m32), asked of
# the compiler once, and only by what needs it.
PTR_SIZE = $(eval PTR_SIZE := $(shell echo __SIZEOF_POINTER__ | \
	$(CC) $(CPPFLAGS) $(CFLAGS) -E -P - 2>/dev/null))$(PTR_SIZE)

# single preloads the library of the class of the program it starts: a
# 64-bit ld.so cannot load a 32-bit library, and the program would run
# unlocked.  It knows both directories: this build's, LIBDIR, and the
# other class's, derived by the usual conventions (lib64 <-> lib on
# Fedora, lib <-> lib32 on Debian and Arch, lib/x86_64-linux-gnu <->
# lib/i386-linux-gnu with Debian's multiarch), so that the second of two
# installs, 64- and 32-bit, builds a single that finds both.  Where LIBDIR
# follows none, name the other one: make install LIBDIR32=... (an empty
# one makes single refuse programs of that class, status 72).
libdir_to32 = $(or $(patsubst %/x86_64-linux-gnu,%/i386-linux-gnu,$(filter %/x86_64-linux-gnu,$1)),$\
	$(patsubst %/lib64,%/lib,$(filter %/lib64,$1)),$(addsuffix 32,$(filter %/lib,$1)))
libdir_to64 = $(or $(patsubst %/i386-linux-gnu,%/x86_64-linux-gnu,$(filter %/i386-linux-gnu,$1)),$\
	$(patsubst %/lib32,%/lib,$(filter %/lib32,$1)),$(addsuffix 64,$(filter %/lib,$1)))
LIBDIR32 ?= $(if $(filter 4,$(PTR_SIZE)),$(LIBDIR),$(call libdir_to32,$(LIBDIR)))
LIBDIR64 ?= $(if $(filter 4,$(PTR_SIZE)),$(call libdir_to64,$(LIBDIR)),$(LIBDIR))

# Only the interposed calls are exported (preload/libsingle.map); the
# library binds its own symbols locally and needs no executable stack.
# defs: an unresolved symbol fails the link instead of the first start.
# noseparate-code: two loadable segments instead of four, so ld.so maps
# the library with two fewer mmap calls in every process that loads it.
# lazy: binding all of the library's imports at load (-z now) costs every
# start about 6,500 instructions, 3.8% of a lock-taking start of /bin/true
# (make bench, "linker options", 2026-11-30; it was 39,000 while the
# library still imported strlen, memcpy and the like).  It comes before
# $(LDFLAGS), so that a packager's -Wl,-z,now wins: that choice is theirs.
LIB_CFLAGS  = -std=gnu11 -fPIC -fvisibility=hidden $(WARN)
# Hardening, as Debian builds libeatmydata and libfaketime
# (dpkg-buildflags): the stack protector and _FORTIFY_SOURCE=2 (libc's
# checked memcpy, snprintf, ...), for the library and single.  The library
# calls almost none of the checked functions, so it gains no import;
# together they cost a start about 850 instructions, 0.5%, all of it the
# stack protector's canary checks (make bench, "hardening flags").
# They come before CPPFLAGS and CFLAGS, so that a packager's flags win.
# -D_FORTIFY_SOURCE=2 is added only to an optimised build (it needs -O)
# whose CPPFLAGS and CFLAGS do not set it already (dpkg-buildflags: 2;
# Fedora, Arch: 3): a second, different definition warns, and fails under
# -Werror.  HARDEN= builds without either.
HARDEN ?= -fstack-protector-strong $(FORTIFY)
FORTIFY = $(if $(findstring _FORTIFY_SOURCE,$(CPPFLAGS) $(CFLAGS)),,$\
	$(if $(filter-out -O0,$(lastword $(filter -O%,$(CFLAGS)))),-D_FORTIFY_SOURCE=2))
LIB_LDFLAGS = -shared -Wl,--version-script=preload/libsingle.map \
	      -Wl,-z,defs -Wl,-z,noexecstack -Wl,-z,noseparate-code \
	      -Wl,-O1 -Wl,--as-needed -Wl,-soname,$(SONAME)
LIB_LAZY    = -Wl,-z,lazy
LDLIBS  ?= -ldl

LIB      = preload/libsingle.so
# The SONAME is libsingle.so.N, N the first number of VERSION; a package
# is named after it (libsingle0).  make install writes LIBDIR/libsingle.so.N
# and LIBDIR/libsingle.so, a symbolic link to it: the name LD_PRELOAD
# gives, which ldconfig then caches too (see "The loader's cache" below).
# The link belongs in the library's package, as in Debian's libeatmydata1:
# it is the name users write, and nothing links against libsingle (so
# lintian's link-to-shared-library-in-wrong-package is expected; a private
# directory, as libfaketime's, would make every user write a full path).
SOVERSION = $(firstword $(subst ., ,$(VERSION)))
SONAME    = libsingle.so.$(SOVERSION)
LIB_SRCS = $(wildcard preload/*.c)
LIB_OBJS = $(LIB_SRCS:.c=.o)
DEPS     = $(LIB_OBJS:.o=.d)

# The command: scripts/single.c -> build/single, linked with the objects of
# the library whose code it shares (option values, ELF kinds, the PATH
# search, LD_PRELOAD entries, lock names, holders), never with the ones
# that interpose libc calls.
SINGLE       = build/single
SINGLE_PATHS = build/single-paths.h
VERSION_H    = build/version.h
SINGLE_USES  = cmdline elf holders key lockdir num preload proc program record \
	       say settings status sys
SINGLE_OBJS  = build/single.o $(SINGLE_USES:%=preload/%.o)


all: $(LIB) $(SINGLE)

$(LIB): $(LIB_OBJS) preload/libsingle.map
	$(CC) $(CFLAGS) $(LIB_LAZY) $(LDFLAGS) $(LIB_LDFLAGS) -o $@ $(LIB_OBJS) $(LDLIBS)

# -MMD -MP: each object depends on the headers it includes (preload/*.d)
preload/%.o: preload/%.c
	$(CC) $(HARDEN) $(CPPFLAGS) $(CFLAGS) $(LIB_CFLAGS) -MMD -MP -c -o $@ $<

-include $(DEPS)

# single runs before every command it starts.  Linked statically (where a
# static libc is installed) it starts without ld.so and maps no shared
# library: make bench shows the start of a dynamically linked single next
# to it, and the wrappers it is compared with.  A static single also never
# loads an LD_PRELOAD library into itself.  SINGLE_STATIC= links it
# dynamically, as a distribution will (lintian: statically-linked-binary).
SINGLE_STATIC ?= $(if $(filter /%,$(shell $(CC) $(CFLAGS) -print-file-name=libc.a)),-static)

$(SINGLE): $(SINGLE_OBJS)
	$(CC) $(CFLAGS) $(SINGLE_STATIC) $(LDFLAGS) -o $@ $(SINGLE_OBJS)

build/single.o: scripts/single.c $(SINGLE_PATHS) $(VERSION_H)
	$(CC) $(HARDEN) $(CPPFLAGS) $(CFLAGS) -std=gnu11 $(WARN) -Ibuild -MMD -MP -c -o $@ $<

# The generated headers are rewritten only when what they say changes, so
# that an unchanged tree rebuilds nothing.
# write_if_changed: the recipe's output (on stdout) into $@, if it differs;
# no temporary file, so that an unchanged tree is not touched at all
write_if_changed = @mkdir -p $(dir $@); new=$$({ $1; }); \
	[ "$$new" = "$$(cat $@ 2>/dev/null)" ] || printf '%s\n' "$$new" >$@

# Where the installed single looks for its libraries: `make && sudo make
# install PREFIX=/usr` relinks single with /usr/lib.
$(SINGLE_PATHS): FORCE
	$(call write_if_changed,printf '#define SINGLE_%s "%s"\n' LIBDIR32 '$(LIBDIR32)' \
		LIBDIR64 '$(LIBDIR64)' BINDIR '$(BINDIR)')

# VERSION for the C sources (the library's preload/version.c, single)
$(VERSION_H): FORCE
	$(call write_if_changed,printf '#define SINGLE_VERSION "%s"\n' '$(VERSION)')

preload/version.o: $(VERSION_H)

# The flags the objects were compiled and linked with: a build with
# others (CFLAGS=-m32, a new VERSION and so SONAME) remakes them all.
# Not WARN: warnings change no output.
BUILD_FLAGS = build/flags
$(BUILD_FLAGS): FORCE
	$(call write_if_changed,printf '%s\n' '$(subst ','\'',$(CC) $(HARDEN) $(CPPFLAGS) $(CFLAGS) \
		$(LDFLAGS) $(LIB_LDFLAGS) $(LDLIBS) $(SINGLE_STATIC))')
$(LIB_OBJS) build/single.o: $(BUILD_FLAGS)
$(LIB) $(SINGLE): $(BUILD_FLAGS)

FORCE:

-include build/single.d

# Programs the tests run (tests/progs/NAME.c -> tests/bin/NAME)
TEST_PROGS = $(patsubst tests/progs/%.c,tests/bin/%,$(wildcard tests/progs/*.c))

tests/bin/%: tests/progs/%.c tests/progs/testprog.h
	@mkdir -p tests/bin
	$(CC) $(CPPFLAGS) $(CFLAGS) -std=gnu11 $(WARN) -o $@ $< $(TEST_LDLIBS)

# Libraries the tests preload beside ours (tests/libs/NAME.c ->
# tests/bin/NAME.so), built wherever the test programs are.
TEST_PROGS += $(patsubst tests/libs/%.c,tests/bin/%.so,$(wildcard tests/libs/*.c))

tests/bin/%.so: tests/libs/%.c
	@mkdir -p tests/bin
	$(CC) $(CPPFLAGS) $(CFLAGS) -std=gnu11 $(WARN) -shared -fPIC -o $@ $<

# TEST_TIMEOUT: seconds any one test may take before bats ends it and
# reports it "not ok" (BATS_TEST_TIMEOUT), so a start that hangs fails
# instead of hanging the run.  The slowest test takes about 5 s; each
# start, wait and release inside a test has a tighter bound of its own
# (tests/helpers.bash).
TEST_TIMEOUT ?= 60
test check: all $(TEST_PROGS)
	BATS_TEST_TIMEOUT=$(TEST_TIMEOUT) $(BATS) tests

# make stress: the long form of tests/stress.sh (200 simultaneous starts x
# 20 rounds, 10000 start/skip cycles, and the exec phase: 20000 execs of
# the holder while its other threads dup2, close and close_range the
# lock's numbers, tests/bin/execrace, run only by this long form);
# `make test` runs a short form (tests/stress.bats; tests/exec.bats has
# the exec phase's).
stress: all $(TEST_PROGS)
	tests/stress.sh

# make bench: what a start costs with the library (tests/bench/bench.sh).
# The linker experiment relinks these objects with other options.
BENCH = build/bench
comma := ,
$(BENCH)/benchrun $(BENCH)/stamp: $(BENCH)/%: tests/bench/%.c
	@mkdir -p $(BENCH)
	$(CC) $(CPPFLAGS) $(CFLAGS) -std=gnu11 $(WARN) -o $@ $<
# The floor is linked as the library is (its version script and SONAME
# aside), so the comparison is of what the library does, not of how it
# is linked.
$(BENCH)/libempty.so: tests/bench/empty.c Makefile
	@mkdir -p $(BENCH)
	$(CC) $(CFLAGS) $(LIB_LAZY) $(LDFLAGS) -fPIC $(filter-out -Wl$(comma)--version-script=% -Wl$(comma)-soname$(comma)%,$(LIB_LDFLAGS)) -o $@ $<

# single as it would be linked without SINGLE_STATIC, for comparison.
$(BENCH)/single-dynamic: $(SINGLE_OBJS)
	@mkdir -p $(BENCH)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SINGLE_OBJS)

bench: all $(BENCH)/benchrun $(BENCH)/stamp $(BENCH)/libempty.so $(BENCH)/single-dynamic
	LIB=$(LIB) BENCH_BIN=$(BENCH) LIB_SRCS="$(LIB_SRCS)" LIB_OBJS="$(LIB_OBJS)" \
	LIB_LINK="$(CC) $(CFLAGS) $(LIB_LAZY) $(LDFLAGS) $(LIB_LDFLAGS)" LIB_LDLIBS="$(LDLIBS)" \
	LIB_COMPILE="$(CC) $(HARDEN) $(CPPFLAGS) $(CFLAGS) $(LIB_CFLAGS)" \
	LIB_COMPILE_UNHARDENED="$(CC) $(CPPFLAGS) $(CFLAGS) $(LIB_CFLAGS)" \
	LIB_HARDEN="$(HARDEN)" tests/bench/bench.sh

# make analyze: every analyzer, failing on any finding; fast enough for
# each CI run.  Check sets and suppressions, with reasons: .clang-tidy,
# .cppcheck-suppressions, .shellcheckrc.
ANALYZE_WARN = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wundef \
	       -Wmissing-prototypes -Wstrict-prototypes -Wcast-align \
	       -Wpointer-arith -Wwrite-strings
ANALYZE_CFLAGS = -std=gnu11 -fPIC -fvisibility=hidden -O2
CPPCHECK_FLAGS = --enable=warning,style,performance,portability --std=c11 \
		 --inline-suppr --quiet --error-exitcode=1 -D_GNU_SOURCE \
		 --suppressions-list=.cppcheck-suppressions \
		 --template='{file}:{line}: {severity}/{id}: {message}'
# Shell scripts: scripts/* with a shell #! line (demo.sh), the helpers,
# CI, bench.
SHELL_SCRIPTS = $(shell grep -lE '^\#!.*(/|env )(ba|da)?sh' scripts/* 2>/dev/null) \
		$(wildcard tests/*.sh tests/bench/*.sh) .ci/run
ASAN_LIB = build/asan/libsingle.so
ASAN_RUNTIME = $(shell $(CC) -print-file-name=libasan.so)

analyze: analyze-werror analyze-cppcheck analyze-tidy analyze-fanalyzer \
	 analyze-shellcheck asan-test

# The library, and single with the library sources it links.
SINGLE_SRCS = scripts/single.c $(SINGLE_USES:%=preload/%.c)

analyze-werror: $(SINGLE_PATHS) $(VERSION_H)
	@mkdir -p build/analyze
	gcc $(ANALYZE_CFLAGS) $(ANALYZE_WARN) -shared -Wl,--version-script=preload/libsingle.map \
		-o build/analyze/libsingle-gcc.so $(LIB_SRCS) $(LDLIBS)
	clang $(ANALYZE_CFLAGS) $(ANALYZE_WARN) -shared -Wl,--version-script=preload/libsingle.map \
		-o build/analyze/libsingle-clang.so $(LIB_SRCS) $(LDLIBS)
	gcc $(ANALYZE_CFLAGS) $(ANALYZE_WARN) -Ibuild -o build/analyze/single-gcc $(SINGLE_SRCS)
	clang $(ANALYZE_CFLAGS) $(ANALYZE_WARN) -Ibuild -o build/analyze/single-clang $(SINGLE_SRCS)

analyze-cppcheck: $(SINGLE_PATHS) $(VERSION_H)
	cppcheck $(CPPCHECK_FLAGS) -Ibuild preload/ scripts/single.c

analyze-tidy: $(SINGLE_PATHS) $(VERSION_H)
	printf '%s\n' $(LIB_SRCS) scripts/single.c | \
		xargs -P 2 -I{} clang-tidy --quiet {} -- $(ANALYZE_CFLAGS) -Ibuild

analyze-fanalyzer: $(SINGLE_PATHS) $(VERSION_H)
	@mkdir -p build/analyze
	for f in $(LIB_SRCS) scripts/single.c; do \
		gcc $(ANALYZE_CFLAGS) -Ibuild -Wall -Wextra -Werror -fanalyzer -c -o build/analyze/fa.o $$f || exit 1; \
	done

# Severity warning and above: info and style notes are taste (quoting a
# pid list meant to split); SC2314 at error level (a "! cmd" that can
# never fail a bats test) is kept.  helpers.bash and the bats files share
# variables (a test sets PRELOAD for a helper): SC2034 (unused) cannot be
# judged from one file; SC2154 (unassigned) does not know bats' own
# stderr_lines.
SHELLCHECK = shellcheck -S warning
analyze-shellcheck:
	$(SHELLCHECK) $(SHELL_SCRIPTS)
	$(SHELLCHECK) -s bash scripts/completion/single.bash
	$(SHELLCHECK) -s bash -e SC2034 tests/helpers.bash
	$(SHELLCHECK) -s bash -e SC2034,SC2154 tests/*.bats

# The library with AddressSanitizer and UBSan (any UB aborts), and the
# whole bats suite once more against it.  Leak checking is off: the
# programs under test (bash, coreutils) are not ours.
# ASAN_FIRST=1 (default): the runtime first in LD_PRELOAD, as ASan needs
# it, through SINGLE_TEST_PRELOAD_PREFIX (tests/helpers.bash); children
# inherit it, and the tests allow for that prefix.
# ASAN_FIRST=0: libasan comes in only as the library's own dependency,
# after libc (verify_asan_link_order=0 lets it start there): the
# library's own stack, global and UB checks still work, but a program
# with interceptors ASan did not set up (node) crashes, and env -i drops
# ASAN_OPTIONS, so a few tests fail for reasons of ASan's own.
$(ASAN_LIB): $(LIB_SRCS) $(wildcard preload/*.h) preload/libsingle.map $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -g -fno-omit-frame-pointer $(LIB_CFLAGS) \
		-fsanitize=address,undefined -fno-sanitize-recover=undefined \
		$(filter-out -Wl$(comma)-z$(comma)defs,$(LIB_LDFLAGS)) -o $@ $(LIB_SRCS) $(LDLIBS)

asan: $(ASAN_LIB)

ASAN_FIRST ?= 1
asan-test: $(ASAN_LIB) $(TEST_PROGS)
	SINGLE_TESTLIB=$(CURDIR)/$(ASAN_LIB) \
	SINGLE_TEST_PRELOAD_PREFIX=$(if $(filter 1,$(ASAN_FIRST)),$(ASAN_RUNTIME)) \
	ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(BATS) tests

# make test-musl, make test-m32: the library, single and the test programs
# built another way, each into a tree of its own, build/musl or build/m32,
# laid out as the source tree is (preload/libsingle.so, build/single,
# tests/bin/), and the suite run against that tree.  The main build is
# left alone.
#   musl: built with musl-gcc (MUSL_CC); the test programs get
#         tests/progs/musl.h for the few glibc functions they use, and
#         the kernel's headers (linux/, asm/, asm-generic/: seccomp for
#         closefromgames), which musl does not ship, from the system's
#         through a directory of links to those three alone, searched
#         after musl's own (glibc's headers must not come in with them).
#   m32:  built with -m32 and 64-bit file offsets (a multilib compiler:
#         gcc-multilib).
# The system's programs (bash, coreutils, python) cannot load either
# library: SINGLE_TEST_VARIANT tells the tests that run one under the
# library to skip and say why (tests/helpers.bash).
MUSL_CC      ?= musl-gcc
M32_CC       ?= $(CC) -m32
M32_CPPFLAGS ?=

# $(call variant,NAME,COMPILER,CPPFLAGS,TEST_PROGRAM_FLAGS,TEST_PROGRAM_DEPS)
define variant
build/$(1)/preload/%.o: preload/%.c
	@mkdir -p $$(@D)
	$(2) $$(CPPFLAGS) $(3) $$(CFLAGS) $$(LIB_CFLAGS) -MMD -MP -c -o $$@ $$<

build/$(1)/preload/version.o: $$(VERSION_H)

build/$(1)/preload/libsingle.so: $$(LIB_SRCS:%.c=build/$(1)/%.o) preload/libsingle.map
	$(2) $$(CFLAGS) $$(LIB_LAZY) $$(LDFLAGS) $$(LIB_LDFLAGS) -o $$@ $$(filter %.o,$$^) $$(LDLIBS)

build/$(1)/build/single.o: scripts/single.c $$(SINGLE_PATHS) $$(VERSION_H)
	@mkdir -p $$(@D)
	$(2) $$(CPPFLAGS) $(3) $$(CFLAGS) -std=gnu11 $$(WARN) -Ibuild -MMD -MP -c -o $$@ $$<

build/$(1)/build/single: build/$(1)/build/single.o $$(SINGLE_USES:%=build/$(1)/preload/%.o)
	$(2) $$(CFLAGS) $$(if $$(filter /%,$$(shell $(2) -print-file-name=libc.a)),-static) \
		$$(LDFLAGS) -o $$@ $$^

build/$(1)/tests/bin/%: tests/progs/%.c tests/progs/testprog.h $(5)
	@mkdir -p $$(@D)
	$(2) $$(CPPFLAGS) $(3) $(4) $$(CFLAGS) -std=gnu11 $$(WARN) -o $$@ $$< $$(TEST_LDLIBS)

build/$(1)/tests/bin/%.so: tests/libs/%.c
	@mkdir -p $$(@D)
	$(2) $$(CPPFLAGS) $(3) $$(CFLAGS) -std=gnu11 $$(WARN) -shared -fPIC -o $$@ $$<

-include $$(wildcard build/$(1)/preload/*.d build/$(1)/build/*.d)

$(1): build/$(1)/preload/libsingle.so build/$(1)/build/single $$(TEST_PROGS:%=build/$(1)/%)

test-$(1): all $(1)
	SINGLE_TEST_VARIANT=$(1) SINGLE_TESTLIB=$$(CURDIR)/build/$(1)/preload/libsingle.so \
	SINGLE_TESTCMD=$$(CURDIR)/build/$(1)/build/single \
	SINGLE_TESTBIN=$$(CURDIR)/build/$(1)/tests/bin \
	BATS_TEST_TIMEOUT=$$(TEST_TIMEOUT) $$(BATS) tests
endef

MUSL_KERNEL_INC = build/musl/kernel-include
$(MUSL_KERNEL_INC)/stamp:
	@mkdir -p $(@D)
	ln -sfn /usr/include/linux $(@D)/linux
	ln -sfn /usr/include/asm-generic $(@D)/asm-generic
	d=/usr/include/$$($(MUSL_CC) -print-multiarch 2>/dev/null)/asm; \
		[ -d "$$d" ] || d=/usr/include/asm; ln -sfn "$$d" $(@D)/asm
	touch $@

$(eval $(call variant,musl,$(MUSL_CC),,-include tests/progs/musl.h -idirafter $(MUSL_KERNEL_INC),\
	tests/progs/musl.h $(MUSL_KERNEL_INC)/stamp))
$(eval $(call variant,m32,$(M32_CC),$(M32_CPPFLAGS)))

.PHONY: musl m32 test-musl test-m32

# make demo: a job started twice at once; the first runs, the second
# exits quietly (scripts/demo.sh, a few seconds).
demo: all
	sh scripts/demo.sh

# make install / uninstall.  DESTDIR (a staging root) is used here and
# nowhere else; single was built with LIBDIR and BINDIR (build/single-paths.h),
# so it finds its library (also under a DESTDIR staging root).
# uninstall removes exactly the files install wrote, and no directory.
INSTALLED_FILES = $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libsingle.so \
		  $(DESTDIR)$(BINDIR)/single \
		  $(DESTDIR)$(MANDIR)/man1/single.1 $(DESTDIR)$(MANDIR)/man7/libsingle.7 \
		  $(DESTDIR)$(BASHCOMPDIR)/single $(DESTDIR)$(ZSHCOMPDIR)/_single

# The manuals as installed: VERSION on their .TH line.
MANS = build/man/single.1 build/man/libsingle.7
# made by make, so that make install, often run as root, writes nothing here
all: $(MANS)
build/man/single.1: scripts/single.1 $(VERSION_H)
build/man/libsingle.7: preload/libsingle.7 $(VERSION_H)
$(MANS):
	@mkdir -p $(dir $@)
	sed 's/^\(\.TH .*"libsingle \)[^"]*"/\1$(VERSION)"/' $< >$@

# The loader's cache.  ld.so finds a bare LD_PRELOAD=libsingle.so in its
# cache (/etc/ld.so.cache, by the names ldconfig lists: libsingle.so is
# one, a link to the file the SONAME names), else only in its default
# directories (/lib, /usr/lib and their multiarch directories on Debian,
# /usr/lib64 on Fedora): a library in /usr/local/lib that is not in the
# cache is not found, and the program runs unlocked.  So install and
# uninstall refresh the cache when they change the live system, as zlib's
# do; with DESTDIR, a package's ldconfig trigger does.  Then they say if
# the cache still does not list LIBDIR's copy (a LIBDIR ld.so.conf does
# not name).  LDCONFIG= skips both (musl has no cache).
LDCONFIG ?= ldconfig
define ldconfig_refresh
	@if [ -z "$(DESTDIR)" ] && [ -n "$(LDCONFIG)" ]; then \
		PATH="$$PATH:/sbin:/usr/sbin" $(LDCONFIG) || \
		echo "make $@: $(LDCONFIG) failed: run it as root" >&2; \
	fi
endef
define ldconfig_check
	@if [ -z "$(DESTDIR)" ] && [ -n "$(LDCONFIG)" ] && ! PATH="$$PATH:/sbin:/usr/sbin" \
		$(LDCONFIG) -p | sed -n 's/^[[:space:]]*libsingle\.so (.*) => //p' | \
		while read -r p; do [ "$$p" -ef "$(LIBDIR)/libsingle.so" ] && echo found; done | grep -q .; then \
		echo "make $@: the loader's cache does not list $(LIBDIR)/libsingle.so:"; \
		echo "  LD_PRELOAD=libsingle.so will not find it; write LD_PRELOAD=$(LIBDIR)/libsingle.so,"; \
		echo "  or add $(LIBDIR) to a file in /etc/ld.so.conf.d and run ldconfig"; \
	fi
endef

# install writes nothing into the source tree (only build/ is remade).
install: all $(MANS)
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	$(INSTALL) -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libsingle.so
	$(INSTALL) -m 755 $(SINGLE) $(DESTDIR)$(BINDIR)/single
	$(INSTALL) -m 644 build/man/single.1 $(DESTDIR)$(MANDIR)/man1/single.1
	$(INSTALL) -m 644 build/man/libsingle.7 $(DESTDIR)$(MANDIR)/man7/libsingle.7
	$(INSTALL) -m 644 scripts/completion/single.bash $(DESTDIR)$(BASHCOMPDIR)/single
	$(INSTALL) -m 644 scripts/completion/_single $(DESTDIR)$(ZSHCOMPDIR)/_single
	$(ldconfig_refresh)
	$(ldconfig_check)

uninstall:
	rm -f $(INSTALLED_FILES)
	$(ldconfig_refresh)

# make version: VERSION, for scripts (packaging, tests)
version:
	@echo $(VERSION)

# make dist: build/libsingle-VERSION.tar.gz, the files git tracks (as they
# are in the work tree) under libsingle-VERSION/, the same bytes for the
# same files: sorted, owned by root, dated by the last commit.
DIST = build/libsingle-$(VERSION).tar.gz
dist:
	@git rev-parse --git-dir >/dev/null 2>&1 || { echo "make dist: not a git checkout" >&2; exit 1; }
	@mkdir -p $(dir $(DIST))
	git ls-files -z | tar --null -T - --sort=name --owner=0 --group=0 --numeric-owner \
		--mtime=@$$(git log -1 --format=%ct) --transform='s,^,libsingle-$(VERSION)/,S' \
		-cf - | gzip -9n >$(DIST).new
	mv -f $(DIST).new $(DIST)

.PHONY: demo install uninstall version dist

# libFuzzer harnesses over the pure parts (tests/fuzz/).  fuzz-ci: every
# seed, then a few seconds each (CI); fuzz: FUZZ_TIME seconds each.
# New inputs go to build/fuzz/corpus/NAME; crashes to build/fuzz/artifacts.
FUZZ_NAMES = lockname argv settings preload
FUZZ_LIB_SRCS = preload/key.c preload/cmdline.c preload/program.c preload/elf.c preload/settings.c \
		preload/num.c preload/say.c preload/preload.c preload/sys.c
FUZZ_BINS = $(FUZZ_NAMES:%=build/fuzz/fuzz_%)
FUZZ_CC ?= clang
FUZZ_CI_TIME ?= 6
FUZZ_TIME ?= 600
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB_SRCS) $(wildcard preload/*.h)
	@mkdir -p build/fuzz
	$(FUZZ_CC) -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -o $@ $< $(FUZZ_LIB_SRCS)

fuzz-ci fuzz: $(FUZZ_BINS)
	@mkdir -p build/fuzz/artifacts
	for n in $(FUZZ_NAMES); do \
		mkdir -p build/fuzz/corpus/$$n && \
		build/fuzz/fuzz_$$n -max_total_time=$(if $(filter fuzz,$@),$(FUZZ_TIME),$(FUZZ_CI_TIME)) \
			-print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/$$n- \
			build/fuzz/corpus/$$n tests/fuzz/corpus/$$n >build/fuzz/$$n.log 2>&1; \
		rc=$$?; echo "fuzz_$$n: $$(grep -E '^Done|invariant failed|SUMMARY|Test unit written' build/fuzz/$$n.log)"; \
		[ $$rc -eq 0 ] || { tail -n 30 build/fuzz/$$n.log; exit 1; }; \
	done

# Everything a build makes, and nothing else.
clean:
	rm -f preload/*.o preload/*.d $(LIB)
	rm -rf tests/bin build

.PHONY: all test check stress clean bench FORCE analyze analyze-werror analyze-cppcheck \
	analyze-tidy analyze-fanalyzer analyze-shellcheck asan asan-test fuzz fuzz-ci
