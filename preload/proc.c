/* SPDX-License-Identifier: MIT */
/* Reading /proc without allocating: small files read whole, files of
 * any size into pages of their own, and numbered directories (/proc,
 * /proc/PID/fdinfo, /proc/self/fd) read with getdents64 into a buffer the
 * caller provides (opendir() allocates).
 */
#include <errno.h>
#include <fcntl.h>

#include "single.h"
#include "sys.h"

int numdir_open(struct numdir *d, const char *path)
{
	d->fd = sys_openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	d->len = d->pos = 0;
	return d->fd;
}

void numdir_close(struct numdir *d)
{
	if (d->fd >= 0)
		sys_close(d->fd);
	d->fd = -1;
}

long numdir_next(struct numdir *d)
{
	for (;;) {
		const struct sys_dirent64 *e;
		uint64_t v;
		const char *end;

		if (d->pos >= d->len) {
			d->len = sys_getdents64(d->fd, d->buf, sizeof d->buf);
			d->pos = 0;
			if (d->len <= 0) {
				numdir_close(d);
				return -1;
			}
		}
		e = (const struct sys_dirent64 *)(const void *)(d->buf + d->pos);
		d->pos += e->reclen;
		end = scan_u64(e->name, LONG_MAX, &v);
		if (end && !*end)
			return (long)v;
	}
}

long proc_read(const char *path, char *buf, size_t cap)
{
	int fd = sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = sys_read(fd, buf, cap - 1);
	sys_close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* The most proc_read_mapped reads: more than the kernel lets exec copy
 * for argv and envp together (6 MiB since Linux 4.13). */
#define PROC_MAPPED_MAX (16UL << 20)

/* The whole file into buf: its length (cap if it fills buf), or -errno. */
static long read_whole(const char *path, char *buf, size_t cap)
{
	int fd = sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	size_t n = 0;
	ssize_t r = 0;

	if (fd < 0)
		return fd;
	while (n < cap && (r = sys_read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	sys_close(fd);
	return r < 0 ? (long)r : (long)n;
}

long proc_read_mapped(const char *path, char **text, size_t *size)
{
	for (size_t cap = 16384; cap <= PROC_MAPPED_MAX; cap *= 2) {
		char *buf = sys_mmap_anon(cap);
		long n;

		if (!buf)
			return -ENOMEM;
		/* one byte kept for the NUL (the pages come zeroed) */
		n = read_whole(path, buf, cap - 1);
		if (n >= 0 && (size_t)n < cap - 1) {
			*text = buf;
			*size = cap;
			return n;
		}
		sys_munmap(buf, cap);
		if (n < 0)
			return n;
	}
	return -E2BIG;
}

const char *proc_path(char *buf, long pid, const char *rest)
{
	size_t n = 6, r = str_len(rest);

	mem_copy(buf, "/proc/", 6);
	n += format_u64(buf + n, (uint64_t)pid);
	if (n + r < 64)
		mem_copy(buf + n, rest, r + 1);
	return buf;
}

pid_t proc_parent(pid_t pid)
{
	char path[64], buf[512];
	const char *p = NULL;
	uint64_t ppid;

	if (proc_read(proc_path(path, pid, "/stat"), buf, sizeof buf) <= 0)
		return 0;
	/* "pid (comm) state ppid ...": comm may hold spaces and ')' */
	for (const char *s = buf; *s; s++)
		if (*s == ')')
			p = s;
	if (!p || !p[1] || !p[2] || !p[3] || !p[4])
		return 0;
	return scan_u64(p + 4, INT_MAX, &ppid) ? (pid_t)ppid : 0;
}
