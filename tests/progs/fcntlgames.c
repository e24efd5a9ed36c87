/* SPDX-License-Identifier: MIT */
/* fcntlgames MODE OUT READY [RELEASE]: fcntl() and fcntl64() as a program
 * uses them, every result written to OUT, so that a run with the library
 * can be compared line by line with a run without it.
 *
 * MODE:
 *   hidden   every command on 1022 and 1023 (closed numbers to the
 *            program), through fcntl and fcntl64
 *   dupfd    F_DUPFD and F_DUPFD_CLOEXEC from 1022 and 1023, then with
 *            every number from 3 to 1021 taken (run it with a soft limit
 *            of 1024): which numbers they give, until EMFILE
 *   pointer  commands whose argument is a pointer, on a file of its own
 *            (OUT.file): an open file description lock seen from another
 *            one (F_OFD_SETLK, F_OFD_GETLK, F_GETLK), F_SETOWN_EX and
 *            F_GETOWN_EX, F_GETOWN of a process group
 * Then it writes READY (its pid, through a rename) and, with RELEASE,
 * waits until the FIFO RELEASE is opened for writing and closed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testprog.h"

static FILE *out;

static void note(const char *what, int fd, int rc)
{
	fprintf(out, "%s %d: %d %s\n", what, fd, rc,
		rc < 0 ? strerrorname_np(errno) : "-");
}

typedef int fcntl_fn(int, int, ...);

struct call {
	const char *name;
	int cmd;
	int kind;       /* 0: no argument, 1: an int, 2: a pointer */
	long arg;
};

static void hidden(const char *via, fcntl_fn *fn, int fd)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
	struct f_owner_ex ex = { F_OWNER_PID, 0 };
	const struct call calls[] = {
		{ "F_GETFD", F_GETFD, 0, 0 },
		{ "F_SETFD", F_SETFD, 1, FD_CLOEXEC },
		{ "F_GETFL", F_GETFL, 0, 0 },
		{ "F_SETFL", F_SETFL, 1, O_NONBLOCK },
		{ "F_DUPFD", F_DUPFD, 1, 10 },
		{ "F_DUPFD_CLOEXEC", F_DUPFD_CLOEXEC, 1, 10 },
		{ "F_GETLK", F_GETLK, 2, 0 },
		{ "F_SETLK", F_SETLK, 2, 0 },
		{ "F_SETLKW", F_SETLKW, 2, 0 },
		{ "F_OFD_GETLK", F_OFD_GETLK, 2, 0 },
		{ "F_OFD_SETLK", F_OFD_SETLK, 2, 0 },
		{ "F_GETOWN", F_GETOWN, 0, 0 },
		{ "F_SETOWN", F_SETOWN, 1, 0 },
		{ "F_GETOWN_EX", F_GETOWN_EX, 3, 0 },
		{ "F_SETOWN_EX", F_SETOWN_EX, 3, 0 },
		{ "F_GETSIG", F_GETSIG, 0, 0 },
		{ "F_SETSIG", F_SETSIG, 1, 0 },
		{ "F_GETLEASE", F_GETLEASE, 0, 0 },
		{ "F_GETPIPE_SZ", F_GETPIPE_SZ, 0, 0 },
		{ "F_GET_SEALS", F_GET_SEALS, 0, 0 },
	};
	char what[64];

	for (size_t i = 0; i < sizeof calls / sizeof *calls; i++) {
		const struct call *c = &calls[i];
		int rc;

		errno = 0;
		if (c->kind == 0)
			rc = fn(fd, c->cmd);
		else if (c->kind == 1)
			rc = fn(fd, c->cmd, (int)c->arg);
		else if (c->kind == 2)
			rc = fn(fd, c->cmd, &fl);
		else
			rc = fn(fd, c->cmd, &ex);
		snprintf(what, sizeof what, "%s %s", via, c->name);
		note(what, fd, rc);
	}
}

/* F_DUPFD[_CLOEXEC] of 0 from `from`: the number, its close-on-exec flag */
static void dupfd(const char *via, fcntl_fn *fn, int cmd, int from)
{
	int fd = fn(0, cmd, from);

	fprintf(out, "%s %s from %d: %d %s", via,
		cmd == F_DUPFD ? "F_DUPFD" : "F_DUPFD_CLOEXEC", from, fd,
		fd < 0 ? strerrorname_np(errno) : "-");
	if (fd >= 0)
		fprintf(out, " cloexec=%d", fn(fd, F_GETFD) & FD_CLOEXEC);
	fprintf(out, "\n");
}

static void dupfds(const char *via, fcntl_fn *fn)
{
	dupfd(via, fn, F_DUPFD, 1022);
	close(1022);
	dupfd(via, fn, F_DUPFD_CLOEXEC, 1023);
	close(1023);
	dupfd(via, fn, F_DUPFD_CLOEXEC, 1000);
	close(1000);
	/* every number below 1022 taken */
	for (int fd = 3; fd <= 1021; fd++)
		if (dup2(0, fd) != fd)
			fail("fcntlgames", "dup2");
	dupfd(via, fn, F_DUPFD, 3);
	dupfd(via, fn, F_DUPFD_CLOEXEC, 500);
	dupfd(via, fn, F_DUPFD, 3);
	close_range(3, ~0U, 0);
	dupfd(via, fn, F_DUPFD, 3);
	close(3);
}

static void pointers(const char *via, fcntl_fn *fn, const char *file)
{
	struct flock wr = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 10, .l_len = 20 };
	struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			   .l_start = 0, .l_len = 0 };
	struct f_owner_ex ex = { F_OWNER_PGRP, getpgrp() }, got = { 0, 0 };
	int a = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	int b = open(file, O_RDWR);
	int rc;

	if (a < 0 || b < 0)
		fail("fcntlgames", file);
	note("F_OFD_SETLK", a, fn(a, F_OFD_SETLK, &wr));
	rc = fn(b, F_OFD_GETLK, &q);
	fprintf(out, "%s F_OFD_GETLK: %d type=%s start=%lld len=%lld pid=%d\n", via,
		rc, q.l_type == F_WRLCK ? "F_WRLCK" : q.l_type == F_UNLCK ? "F_UNLCK" : "?",
		(long long)q.l_start, (long long)q.l_len, (int)q.l_pid);
	q = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET };
	rc = fn(b, F_GETLK, &q);
	fprintf(out, "%s F_GETLK: %d type=%s start=%lld len=%lld pid=%d\n", via,
		rc, q.l_type == F_WRLCK ? "F_WRLCK" : q.l_type == F_UNLCK ? "F_UNLCK" : "?",
		(long long)q.l_start, (long long)q.l_len, (int)q.l_pid);
	note("F_SETOWN_EX", a, fn(a, F_SETOWN_EX, &ex));
	rc = fn(a, F_GETOWN_EX, &got);
	fprintf(out, "%s F_GETOWN_EX: %d type=%s own pgrp=%d\n", via, rc,
		got.type == F_OWNER_PGRP ? "F_OWNER_PGRP" : "?",
		got.pid == getpgrp());
	rc = fn(a, F_GETOWN);
	fprintf(out, "%s F_GETOWN: is -pgrp=%d\n", via, rc == -getpgrp());
	close(a);
	close(b);
	unlink(file);
}

int main(int argc, char **argv)
{
	const char *mode;
	char file[4096];
	struct memout mem;

	if (argc < 4) {
		fprintf(stderr, "usage: fcntlgames MODE OUT READY [RELEASE]\n");
		return 64;
	}
	mode = argv[1];
	/* kept in memory until the end: the games take every descriptor */
	out = memout_open("fcntlgames", &mem);
	if (!strcmp(mode, "hidden")) {
		for (int fd = 1022; fd <= 1023; fd++) {
			hidden("fcntl", fcntl, fd);
			hidden("fcntl64", fcntl64, fd);
		}
	} else if (!strcmp(mode, "dupfd")) {
		dupfds("fcntl", fcntl);
		dupfds("fcntl64", fcntl64);
	} else if (!strcmp(mode, "pointer")) {
		snprintf(file, sizeof file, "%s.file", argv[2]);
		pointers("fcntl", fcntl, file);
		pointers("fcntl64", fcntl64, file);
	} else {
		fprintf(stderr, "fcntlgames: unknown mode %s\n", mode);
		return 64;
	}
	memout_save("fcntlgames", &mem, argv[2]);
	ready_write("fcntlgames", argv[3]);
	if (argc > 4)
		release_wait("fcntlgames", argv[4]);
	return 0;
}
