/* SPDX-License-Identifier: MIT */
/* The holder's record: what the lock file says about who holds it.
 *
 * The holder writes its pid into the lock file when it takes the lock.
 * It is a hint, for messages and for people: who really holds a lock is
 * the kernel's word (holders.c), since the writer may have handed the
 * lock to a forked child and exited, and a pid may be reused.
 */
#include "single.h"
#include "sys.h"

void record_write(int fd, const struct fileinfo *fi, pid_t pid)
{
	char buf[24];
	size_t n = format_u64(buf, (uint64_t)pid);

	buf[n++] = '\n';
	/* a stale tail of a longer earlier record would be harmless, but
	 * the file should read as one pid */
	if (sys_pwrite(fd, buf, n, 0) == (ssize_t)n && fi->size > n)
		sys_ftruncate(fd, (int64_t)n);
}

pid_t record_pid(int fd)
{
	char buf[16];
	ssize_t n = sys_pread(fd, buf, sizeof buf - 1, 0);
	uint64_t pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return scan_u64(buf, INT_MAX, &pid) ? (pid_t)pid : 0;
}
