/* Other processes, seen through /proc: who holds a lock, and whether a
 * process is one of our ancestors.
 *
 * A pid written in a lock file is a hint, not proof: the writer may have
 * exited leaving the lock to a forked child, or the pid may have been
 * reused.  The kernel's own word is /proc/PID/fdinfo/FD, which lists the
 * flock held through that open file.  Directories are read with
 * getdents64 into a buffer on the stack: opendir() would allocate.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "single.h"

extern int __close(int fd);

pid_t holder_pid_read(int fd)
{
	char buf[16];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	unsigned long pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return scan_uint(buf, INT_MAX, &pid) ? (pid_t)pid : 0;
}

/* Read a small /proc file into buf; its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	__close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

static pid_t parent_of(pid_t pid)
{
	char path[32], buf[512];
	const char *p;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof buf) <= 0)
		return 0;
	/* "pid (comm) state ppid ...": comm may hold spaces and ')' */
	p = strrchr(buf, ')');
	if (!p || strlen(p) < 4)
		return 0;
	return (pid_t)strtol(p + 4, NULL, 10);
}

int pid_is_ancestor(pid_t pid)
{
	pid_t p = getppid();

	for (int depth = 0; pid > 0 && p > 0 && depth < 4096; depth++) {
		if (p == pid)
			return 1;
		if (p == 1)
			return 0;
		p = parent_of(p);
	}
	return 0;
}

/* " 08:01:1234 " as /proc/locks and fdinfo print a lock's file */
static void lock_needle(char *buf, size_t cap, dev_t dev, ino_t ino)
{
	snprintf(buf, cap, " %02x:%02x:%lu ", major(dev), minor(dev),
		 (unsigned long)ino);
}

/* Does text hold a line for an exclusive flock (held, not waited for)
 * on the file named by needle?  Lines are found whole in buf. */
static int has_lock_line(const char *text, const char *needle)
{
	for (const char *p = text; (p = strstr(p, needle)); p++) {
		const char *line = p;

		while (line > text && line[-1] != '\n')
			line--;
		if (memmem(line, (size_t)(p - line), "FLOCK", 5) &&
		    memmem(line, (size_t)(p - line), "WRITE", 5) &&
		    !memmem(line, (size_t)(p - line), "->", 2))
			return 1;
	}
	return 0;
}

/* /proc/locks first: if no lock on the file is listed, nobody holds it
 * and the expensive scan is not needed. */
static int listed_in_proc_locks(const char *needle)
{
	char buf[8192];
	size_t keep = 0;
	int fd = open("/proc/locks", O_RDONLY | O_CLOEXEC), found = 0;
	ssize_t n;

	if (fd < 0)
		return 1;               /* cannot tell: scan */
	while (!found && (n = read(fd, buf + keep, sizeof buf - 1 - keep)) > 0) {
		size_t total = keep + (size_t)n;
		const char *last;

		buf[total] = '\0';
		found = has_lock_line(buf, needle);
		/* carry the unfinished last line over to the next read */
		last = memrchr(buf, '\n', total);
		keep = last ? total - (size_t)(last + 1 - buf) : 0;
		if (keep > sizeof buf / 2)
			keep = 0;
		memmove(buf, buf + total - keep, keep);
	}
	__close(fd);
	return found;
}

int numdir_open(struct numdir *d, const char *path)
{
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d->len = d->pos = 0;
	return d->fd;
}

long numdir_next(struct numdir *d)
{
	for (;;) {
		struct dirent64 *e;
		char *end;
		long v;

		if (d->pos >= d->len) {
			d->len = syscall(SYS_getdents64, d->fd, d->buf, sizeof d->buf);
			d->pos = 0;
			if (d->len <= 0) {
				__close(d->fd);
				return -1;
			}
		}
		e = (struct dirent64 *)(void *)(d->buf + d->pos);
		d->pos += e->d_reclen;
		v = strtol(e->d_name, &end, 10);
		if (*end == '\0' && end != e->d_name)
			return v;
	}
}

static int pid_holds(long pid, const char *needle)
{
	struct numdir fds;
	char path[64], info[4096];
	long fd;

	snprintf(path, sizeof path, "/proc/%ld/fdinfo", pid);
	if (numdir_open(&fds, path) < 0)
		return 0;
	while ((fd = numdir_next(&fds)) >= 0) {
		snprintf(path, sizeof path, "/proc/%ld/fdinfo/%ld", pid, fd);
		if (read_small(path, info, sizeof info) > 0 &&
		    strstr(info, "lock:") && has_lock_line(info, needle)) {
			__close(fds.fd);
			return 1;
		}
	}
	return 0;
}

int pid_holds_lock(pid_t pid, dev_t dev, ino_t ino)
{
	char needle[64];

	lock_needle(needle, sizeof needle, dev, ino);
	return pid_holds((long)pid, needle);
}

int holders_find(dev_t dev, ino_t ino, pid_t *pids, int max)
{
	struct numdir procs;
	char needle[64];
	long pid;
	int found = 0;

	lock_needle(needle, sizeof needle, dev, ino);
	if (!listed_in_proc_locks(needle) || numdir_open(&procs, "/proc") < 0)
		return 0;
	while ((pid = numdir_next(&procs)) >= 0) {
		if (found < max && pid_holds(pid, needle))
			pids[found++] = (pid_t)pid;
	}
	return found;
}
