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
LIB_CFLAGS  = -std=gnu11 -fPIC -fvisibility=hidden $(WARN)
LIB_LDFLAGS = -shared -Wl,--version-script=preload/libsingle.map \
	      -Wl,-z,noexecstack -Wl,-z,noseparate-code -Wl,-O1 -Wl,--as-needed
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

tests/bin/%: tests/progs/%.c
	@mkdir -p tests/bin
	$(CC) $(CPPFLAGS) $(CFLAGS) -std=gnu11 $(WARN) -o $@ $< $(TEST_LDLIBS)

test check: all $(TEST_PROGS)
	$(BATS) tests

clean:
	rm -f preload/*.o $(LIB)
	rm -rf tests/bin

.PHONY: all test check clean
