/* SPDX-License-Identifier: MIT */
/* syscallgames OUT READY [RELEASE]: the descriptor calls made through
 * libc's syscall(), as libuv (Node.js) makes close, every result written
 * to OUT, so that a run with the library can be compared line by line
 * with a run without it.
 *
 * On 1022 and 1023: SYS_close, SYS_fcntl (F_GETFD, F_DUPFD), SYS_dup2
 * and SYS_dup3 from them, SYS_close_range over them, then SYS_dup2 and
 * SYS_dup3 onto them and SYS_close of what that made.  Then calls that
 * are none of these, with their six arguments (mmap), a failing one
 * (errno), and SYS_close_range(3, ~0U).  Then it writes READY (its pid,
 * through a rename) and, with RELEASE, waits until the FIFO RELEASE is
 * opened for writing and closed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testprog.h"

static FILE *out;

static void note(const char *what, long rc)
{
	fprintf(out, "%s: %ld %s\n", what, rc, rc == -1 ? strerrorname_np(errno) : "-");
}

int main(int argc, char **argv)
{
	struct memout mem;
	void *p;

	if (argc < 3) {
		fprintf(stderr, "usage: syscallgames OUT READY [RELEASE]\n");
		return 64;
	}
	out = memout_open("syscallgames", &mem);
	note("close 1022", syscall(SYS_close, 1022));
	note("close 1023", syscall(SYS_close, 1023));
	note("fcntl 1022 F_GETFD", syscall(SYS_fcntl, 1022, F_GETFD));
	note("fcntl 1023 F_DUPFD 10", syscall(SYS_fcntl, 1023, F_DUPFD, 10));
#ifdef SYS_dup2
	note("dup2 1022 10", syscall(SYS_dup2, 1022, 10));
#endif
	note("dup3 1023 11", syscall(SYS_dup3, 1023, 11, 0));
	note("close_range 1022 1023", syscall(SYS_close_range, 1022, 1023, 0));
	note("fcntl 0 F_DUPFD 1022", syscall(SYS_fcntl, 0, F_DUPFD, 1022));
	note("close 1022", syscall(SYS_close, 1022));
#ifdef SYS_dup2
	note("dup2 0 1022", syscall(SYS_dup2, 0, 1022));
#else
	note("dup2 0 1022", syscall(SYS_dup3, 0, 1022, 0));
#endif
	note("dup3 0 1023", syscall(SYS_dup3, 0, 1023, O_CLOEXEC));
	note("fcntl 1023 F_GETFD", syscall(SYS_fcntl, 1023, F_GETFD));
	note("close 1022", syscall(SYS_close, 1022));
	note("close 1023", syscall(SYS_close, 1023));
	note("close 1022", syscall(SYS_close, 1022));
	note("getpid is getpid()", syscall(SYS_getpid) == getpid());
	note("openat missing", syscall(SYS_openat, AT_FDCWD, "/nonexistent/x", O_RDONLY, 0));
#ifdef SYS_mmap
	p = (void *)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	note("mmap", p == MAP_FAILED ? -1 : 0);
	if (p != MAP_FAILED) {
		memset(p, 1, 4096);
		munmap(p, 4096);
	}
#else
	(void)p;
	note("mmap", 0);
#endif
	note("close_range 3 ~0U", syscall(SYS_close_range, 3, ~0U, 0));
	memout_save("syscallgames", &mem, argv[1]);
	ready_write("syscallgames", argv[2]);
	if (argc > 3)
		release_wait("syscallgames", argv[3]);
	return 0;
}
