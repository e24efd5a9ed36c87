# libsingle: make any program single-instance with LD_PRELOAD.
#
# Every variable can be overridden: make CC=clang, make PREFIX=/usr, ...

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
INSTALL ?= install
BATS    ?= bats

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    ?= -Wall -Wextra
CPPFLAGS ?=
# Only the interposed calls are exported (preload/libsingle.map); the
# library binds its own symbols locally and needs no executable stack.
# noseparate-code: two loadable segments instead of four, so ld.so maps
# the library with two fewer mmap calls in every process that loads it.
# lazy: binding all of the library's imports at load (-z now, which some
# distributions put in LDFLAGS) costs every start about 39,000
# instructions, a quarter of a bare /bin/true (make bench measures it).
LIB_CFLAGS  = -std=gnu11 -fPIC -fvisibility=hidden $(WARN)
LIB_LDFLAGS = -shared -Wl,--version-script=preload/libsingle.map \
	      -Wl,-z,noexecstack -Wl,-z,noseparate-code -Wl,-O1 -Wl,--as-needed \
	      -Wl,-z,lazy
LDLIBS  ?= -ldl

LIB      = preload/libsingle.so
LIB_SRCS = $(wildcard preload/*.c)
LIB_OBJS = $(LIB_SRCS:.c=.o)

all: $(LIB)

$(LIB): $(LIB_OBJS) preload/libsingle.map
	$(CC) $(CFLAGS) $(LDFLAGS) $(LIB_LDFLAGS) -o $@ $(LIB_OBJS) $(LDLIBS)

preload/%.o: preload/%.c preload/single.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LIB_CFLAGS) -c -o $@ $<

# Programs the tests run (tests/progs/NAME.c -> tests/bin/NAME)
TEST_PROGS = $(patsubst tests/progs/%.c,tests/bin/%,$(wildcard tests/progs/*.c))

tests/bin/%: tests/progs/%.c tests/progs/testprog.h
	@mkdir -p tests/bin
	$(CC) $(CPPFLAGS) $(CFLAGS) -std=gnu11 $(WARN) -o $@ $< $(TEST_LDLIBS)

# TEST_TIMEOUT: seconds any one test may take before bats ends it and
# reports it "not ok" (BATS_TEST_TIMEOUT), so a start that hangs fails
# instead of hanging the run.  The slowest test takes about 5 s; each
# start, wait and release inside a test has a tighter bound of its own
# (tests/helpers.bash).
TEST_TIMEOUT ?= 60
test check: all $(TEST_PROGS)
	BATS_TEST_TIMEOUT=$(TEST_TIMEOUT) $(BATS) tests

# make stress: the long form of tests/stress.sh (200 simultaneous starts x
# 20 rounds, 10000 start/skip cycles); `make test` runs a short form.
stress: all $(TEST_PROGS)
	tests/stress.sh

# make bench: what a start costs with the library (tests/bench/bench.sh).
# The linker experiment relinks these objects with other options.
BENCH = build/bench
comma := ,
$(BENCH)/benchrun $(BENCH)/stamp: $(BENCH)/%: tests/bench/%.c
	@mkdir -p $(BENCH)
	$(CC) $(CPPFLAGS) $(CFLAGS) -std=gnu11 $(WARN) -o $@ $<
# The floor is linked as the library is (its version script aside), so
# the comparison is of what the library does, not of how it is linked.
$(BENCH)/libempty.so: tests/bench/empty.c Makefile
	@mkdir -p $(BENCH)
	$(CC) $(CFLAGS) $(LDFLAGS) -fPIC $(filter-out -Wl$(comma)--version-script=%,$(LIB_LDFLAGS)) -o $@ $<

bench: all $(BENCH)/benchrun $(BENCH)/stamp $(BENCH)/libempty.so
	LIB=$(LIB) BENCH_BIN=$(BENCH) LIB_SRCS="$(LIB_SRCS)" LIB_OBJS="$(LIB_OBJS)" \
	LIB_LINK="$(CC) $(CFLAGS) $(LDFLAGS) $(LIB_LDFLAGS)" LIB_LDLIBS="$(LDLIBS)" \
	LIB_COMPILE="$(CC) $(CPPFLAGS) $(CFLAGS) $(LIB_CFLAGS)" tests/bench/bench.sh

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
# Shell scripts: scripts/* with a shell #! line, the helpers, CI, bench.
SHELL_SCRIPTS = $(shell grep -lE '^\#!.*(/|env )(ba|da)?sh' scripts/* 2>/dev/null) \
		$(wildcard tests/*.sh tests/bench/*.sh) .ci/run
ASAN_LIB = build/asan/libsingle.so
ASAN_RUNTIME = $(shell $(CC) -print-file-name=libasan.so)

analyze: analyze-werror analyze-cppcheck analyze-tidy analyze-fanalyzer \
	 analyze-shellcheck asan-test

analyze-werror:
	@mkdir -p build/analyze
	gcc $(ANALYZE_CFLAGS) $(ANALYZE_WARN) -shared -Wl,--version-script=preload/libsingle.map \
		-o build/analyze/libsingle-gcc.so $(LIB_SRCS) $(LDLIBS)
	clang $(ANALYZE_CFLAGS) $(ANALYZE_WARN) -shared -Wl,--version-script=preload/libsingle.map \
		-o build/analyze/libsingle-clang.so $(LIB_SRCS) $(LDLIBS)

analyze-cppcheck:
	cppcheck $(CPPCHECK_FLAGS) preload/

analyze-tidy:
	printf '%s\n' $(LIB_SRCS) | xargs -P 2 -I{} clang-tidy --quiet {} -- $(ANALYZE_CFLAGS)

analyze-fanalyzer:
	@mkdir -p build/analyze
	for f in $(LIB_SRCS); do \
		gcc $(ANALYZE_CFLAGS) -Wall -Wextra -Werror -fanalyzer -c -o build/analyze/fa.o $$f || exit 1; \
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
$(ASAN_LIB): $(LIB_SRCS) preload/single.h preload/libsingle.map
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -g -fno-omit-frame-pointer $(LIB_CFLAGS) \
		-fsanitize=address,undefined -fno-sanitize-recover=undefined \
		$(LIB_LDFLAGS) -o $@ $(LIB_SRCS) $(LDLIBS)

asan: $(ASAN_LIB)

ASAN_FIRST ?= 1
asan-test: $(ASAN_LIB) $(TEST_PROGS)
	SINGLE_TESTLIB=$(CURDIR)/$(ASAN_LIB) \
	SINGLE_TEST_PRELOAD_PREFIX=$(if $(filter 1,$(ASAN_FIRST)),$(ASAN_RUNTIME)) \
	ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(BATS) tests

# make demo: a job started twice at once; the first runs, the second
# exits quietly (scripts/demo.sh, a few seconds).
demo: all
	sh scripts/demo.sh

# make install / uninstall.  DESTDIR (a staging root) is used here and
# nowhere else; the installed single has LIBDIR and BINDIR written into
# it, so it finds its library (also under a DESTDIR staging root).
# uninstall removes exactly the files install wrote, and no directory.
INSTALLED_FILES = $(DESTDIR)$(LIBDIR)/libsingle.so $(DESTDIR)$(BINDIR)/single \
		  $(DESTDIR)$(MANDIR)/man1/single.1 $(DESTDIR)$(MANDIR)/man7/libsingle.7

install: all
	@mkdir -p build
	sed -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' scripts/single >build/single
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	$(INSTALL) -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libsingle.so
	$(INSTALL) -m 755 build/single $(DESTDIR)$(BINDIR)/single
	$(INSTALL) -m 644 scripts/single.1 $(DESTDIR)$(MANDIR)/man1/single.1
	$(INSTALL) -m 644 preload/libsingle.7 $(DESTDIR)$(MANDIR)/man7/libsingle.7

uninstall:
	rm -f $(INSTALLED_FILES)

.PHONY: demo install uninstall

# libFuzzer harnesses over the pure parts (tests/fuzz/).  fuzz-ci: every
# seed, then a few seconds each (CI); fuzz: FUZZ_TIME seconds each.
# New inputs go to build/fuzz/corpus/NAME; crashes to build/fuzz/artifacts.
FUZZ_NAMES = lockname argv settings preload
FUZZ_LIB_SRCS = preload/key.c preload/settings.c preload/preload.c
FUZZ_BINS = $(FUZZ_NAMES:%=build/fuzz/fuzz_%)
FUZZ_CC ?= clang
FUZZ_CI_TIME ?= 6
FUZZ_TIME ?= 600
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB_SRCS) preload/single.h
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

clean:
	rm -f preload/*.o $(LIB)
	rm -rf tests/bin

.PHONY: all test check stress clean bench analyze analyze-werror analyze-cppcheck \
	analyze-tidy analyze-fanalyzer analyze-shellcheck asan asan-test fuzz fuzz-ci
