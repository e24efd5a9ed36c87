/* SPDX-License-Identifier: MIT */
/* Reading /proc without allocating: small files read whole, and numbered
 * directories (/proc, /proc/PID/fdinfo, /proc/self/fd) read with
 * getdents64 into a buffer the caller provides (opendir() allocates).
 */
#include <fcntl.h>

#include "single.h"
#include "sys.h"

/* The record getdents64 writes, as the kernel lays it out (struct
 * linux_dirent64): declared here because C libraries differ in whether
 * and how they declare it. */
struct kernel_dirent64 {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

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
		const struct kernel_dirent64 *e;
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
		e = (const struct kernel_dirent64 *)(const void *)(d->buf + d->pos);
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
