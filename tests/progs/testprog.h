/* SPDX-License-Identifier: MIT */
/* testprog.h: what the test programs (tests/progs/NAME.c) share.
 *
 * The protocol of tests/helpers.bash: a program writes its pid (and what
 * else the test reads) into READY through a rename, so a reader never sees
 * half a file, then waits until the FIFO RELEASE is opened for writing and
 * closed.  Some programs first start tests/bin/holder READY.child
 * RELEASE.child as a child.  A failure here ends the program with status
 * 71 (EX_OSERR), after a message that starts with PROG, the program's name
 * ("holder: ready file: No such file or directory").
 *
 * Define _GNU_SOURCE before any #include (strerrorname_np).
 */
#ifndef TESTPROG_H
#define TESTPROG_H

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* fail PROG WHAT: perror("PROG: WHAT"), exit 71 */
static inline void fail(const char *prog, const char *what)
{
	char msg[256];
	int err = errno;

	snprintf(msg, sizeof msg, "%s: %s", prog, what);
	errno = err;
	perror(msg);
	exit(71);
}

/* ready_open PROG READY: READY.tmp, open for writing, with "PID\n" in it;
 * the caller may add lines, then ready_close puts it in place. */
static inline FILE *ready_open(const char *prog, const char *path)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		fail(prog, "ready file");
	fprintf(f, "%d\n", (int)getpid());
	return f;
}

/* ready_close PROG READY F: close F (from ready_open) and rename it to
 * READY. */
static inline void ready_close(const char *prog, const char *path, FILE *f)
{
	char tmp[4096];
	int bad = ferror(f);

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (fclose(f) != 0 || bad || rename(tmp, path) != 0)
		fail(prog, "ready file");
}

/* ready_write PROG READY: READY holds "PID\n" */
static inline void ready_write(const char *prog, const char *path)
{
	ready_close(prog, path, ready_open(prog, path));
}

/* memout: a program's output kept in memory while its games take every
 * descriptor, and written to its file at the end */
struct memout {
	FILE *f;
	char *text;
	size_t len;
};

static inline FILE *memout_open(const char *prog, struct memout *m)
{
	m->f = open_memstream(&m->text, &m->len);
	if (!m->f)
		fail(prog, "memory");
	return m->f;
}

/* memout_save PROG M OUT: what was written to M, into the file OUT */
static inline void memout_save(const char *prog, struct memout *m,
			       const char *path)
{
	FILE *f;

	if (fclose(m->f) != 0 || !(f = fopen(path, "w")) ||
	    fwrite(m->text, 1, m->len, f) != m->len || fclose(f) != 0)
		fail(prog, path);
	free(m->text);
}

/* release_wait PROG RELEASE: until the FIFO RELEASE is opened for writing
 * and closed */
static inline void release_wait(const char *prog, const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		fail(prog, "release fifo");
	while (read(fd, buf, sizeof buf) > 0)
		;
	close(fd);
}

/* A child holder: tests/bin/holder READY.child RELEASE.child */
struct child {
	char holder[4096];      /* tests/bin/holder, beside this program */
	char ready[4096];       /* READY.child */
	char release[4096];     /* RELEASE.child */
};

/* child_names C READY RELEASE: fill in C (exit 71 if this program's own
 * path cannot be read) */
static inline void child_names(struct child *c, const char *ready,
			       const char *release)
{
	ssize_t n = readlink("/proc/self/exe", c->holder, sizeof c->holder - 16);

	if (n < 0)
		exit(71);
	c->holder[n] = '\0';
	snprintf(c->holder + strlen(dirname(c->holder)), 16, "/holder");
	snprintf(c->ready, sizeof c->ready, "%s.child", ready);
	snprintf(c->release, sizeof c->release, "%s.child", release);
}

/* child_wait PROG C: until the child's READY.child exists (10 s at most) */
static inline void child_wait(const char *prog, const struct child *c)
{
	for (int tries = 0; access(c->ready, F_OK) != 0; tries++) {
		if (tries == 5000) {
			fprintf(stderr, "%s: the child never got ready\n", prog);
			exit(71);
		}
		usleep(2000);
	}
}

/* child_start PROG C READY RELEASE: start the child holder of READY and
 * RELEASE (fork, then execl) and wait until it is ready; its pid */
static inline pid_t child_start(const char *prog, struct child *c,
				const char *ready, const char *release)
{
	pid_t pid;

	child_names(c, ready, release);
	pid = fork();
	if (pid < 0)
		exit(71);
	if (pid == 0) {
		execl(c->holder, c->holder, c->ready, c->release, (char *)NULL);
		_exit(127);
	}
	child_wait(prog, c);
	return pid;
}

/* report_var F NAME: "NAME=VALUE" or "NAME unset" */
static inline void report_var(FILE *f, const char *name)
{
	const char *v = getenv(name);

	if (v)
		fprintf(f, "%s=%s\n", name, v);
	else
		fprintf(f, "%s unset\n", name);
}

/* report_close F FD: close FD, then "closeFD=RC ERRNO" ("-" for none) */
static inline void report_close(FILE *f, int fd)
{
	int rc = close(fd);

	fprintf(f, "close%d=%d %s\n", fd, rc, rc < 0 ? strerrorname_np(errno) : "-");
}

#endif
