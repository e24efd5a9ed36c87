/* SPDX-License-Identifier: MIT */
/* closefromgames MODE OUT READY [RELEASE]: closefrom(3) where close_range
 * fails with ENOSYS (a seccomp filter, as a sandbox may install), so that
 * closefrom must fall back on /proc/self/fd.
 *
 * The program opens /dev/null at 3 to 202 and at a few numbers above,
 * installs the filter, calls closefrom(3), and writes to OUT which of
 * those numbers are still open (fcntl F_GETFD), then READY (its pid,
 * through a rename) and, with RELEASE, waits until the FIFO RELEASE is
 * opened for writing and closed.
 *
 * MODE:
 *   proc    as above
 *   full    every number below the soft descriptor limit taken first, so
 *           that even the directory needs a number closed for it
 *   noproc  in a mount namespace of its own (root only) without /proc:
 *           glibc's closefrom cannot close the descriptors then, and
 *           aborts; OUT says "no /proc" first
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testprog.h"

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__i386__)
#define ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

static const int high[] = { 300, 511, 512, 777, 1000, 1021 };

static void no_close_range(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close_range, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof f / sizeof *f, f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		fail("closefromgames", "seccomp");
	if (syscall(SYS_close_range, 5000, 5000, 0) != -1 || errno != ENOSYS)
		fail("closefromgames", "close_range still works");
}

static void without_proc(void)
{
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    umount2("/proc", MNT_DETACH) != 0)
		fail("closefromgames", "no /proc");
	if (access("/proc/self/fd", F_OK) == 0)
		fail("closefromgames", "/proc still there");
}

int main(int argc, char **argv)
{
	const char *mode;
	int n = 0, full;
	FILE *f;

	if (argc < 4) {
		fprintf(stderr, "usage: closefromgames MODE OUT READY [RELEASE]\n");
		return 64;
	}
	mode = argv[1];
	full = !strcmp(mode, "full");
	if (!strcmp(mode, "noproc"))
		without_proc();
	else if (!full && strcmp(mode, "proc"))
		return 64;
	for (int fd = 3; fd <= 202; fd++)
		if (dup2(0, fd) != fd)
			fail("closefromgames", "dup2");
	for (size_t i = 0; i < sizeof high / sizeof *high; i++)
		if (dup2(0, high[i]) != high[i])
			fail("closefromgames", "dup2");
	/* every number free below the limit taken */
	while (full && dup(0) >= 0)
		n++;
	no_close_range();
	closefrom(3);
	f = fopen(argv[2], "w");
	if (!f)
		fail("closefromgames", argv[2]);
	if (full)
		fprintf(f, "filled %s\n", n > 0 ? "some" : "none");
	fprintf(f, "open:");
	for (int fd = 3; fd <= 202; fd++)
		if (fcntl(fd, F_GETFD) >= 0 && fd != fileno(f))
			fprintf(f, " %d", fd);
	for (size_t i = 0; i < sizeof high / sizeof *high; i++)
		if (fcntl(high[i], F_GETFD) >= 0)
			fprintf(f, " %d", high[i]);
	fprintf(f, "\n");
	if (fclose(f) != 0)
		fail("closefromgames", argv[2]);
	ready_write("closefromgames", argv[3]);
	if (argc > 4)
		release_wait("closefromgames", argv[4]);
	return 0;
}
