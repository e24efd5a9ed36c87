/* SPDX-License-Identifier: MIT */
/* What state a lock is in, for SINGLE_EXPLAIN and single --list: free or
 * held, by whom (the kernel's word on this host, the record's for
 * another), since when, how many starts it turned away, how many wait.
 *
 * A holder on another host (a lock directory on NFS) does not show in
 * this host's /proc.  When the record names another host and no holder
 * here holds the lock, the lock is tried for an instant with a shared
 * flock that is let go at once: the only way to learn whether the other
 * host still holds it.  A start racing that instant sees the lock held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>

#include "single.h"
#include "sys.h"

/* How many places of the queue file (NAME.q) are held: OFD locks are
 * seen by F_OFD_GETLK on any host that shares the file. */
static int waiting_count(int dirfd, const char *name)
{
	char qname[LOCKNAME_MAX + 3];
	size_t n = str_len(name);
	int fd, count = 0;
	int64_t from = 0;

	if (n + sizeof QUEUE_SUFFIX > sizeof qname)
		return -1;
	mem_copy(qname, name, n);
	mem_copy(qname + n, QUEUE_SUFFIX, sizeof QUEUE_SUFFIX);
	fd = sys_openat(dirfd, qname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return -1;
	for (;;) {
		struct sys_flock64 probe = { .type = F_WRLCK, .whence = SEEK_SET,
					     .start = from, .len = 0 };

		if (sys_fcntl(fd, F_OFD_GETLK, (long)&probe) < 0) {
			count = -1;
			break;
		}
		if (probe.type == F_UNLCK)
			break;
		count++;
		from = probe.start + (probe.len ? probe.len : 1);
	}
	sys_close(fd);
	return count;
}

/* Is the lock held by someone we cannot see?  Tried with a shared lock
 * for an instant. */
static int held_elsewhere(int fd)
{
	if (sys_flock(fd, LOCK_SH | LOCK_NB) == 0) {
		sys_flock(fd, LOCK_UN);
		return 0;
	}
	return 1;
}

int lock_status_read(int dirfd, const char *name, const char *proc_locks,
		     struct lock_status *s)
{
	struct fileinfo fi;
	int fd, n;

	*s = (struct lock_status){ .nholders = 0 };
	fd = sys_openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	if (sys_fileinfo(fd, "", SYS_AT_EMPTY_PATH, &fi) < 0) {
		sys_close(fd);
		return -EIO;
	}
	record_read(fd, &s->rec);
	s->remote = record_is_remote(&s->rec);
	/* a record the holder could not write (a read-only file system) is
	 * an earlier holder's: nothing in it is this holder's */
	s->record_current = s->rec.complete &&
			    SYS_(SYS_faccessat, dirfd, name, W_OK, 0, 0, 0) != -EROFS;
	n = proc_locks && proc_is_ours() && !holders_listed(proc_locks, &fi) ? 0 :
	    holders_find(&fi, s->holders, STATUS_HOLDERS_MAX);
	if (n < 0) {
		s->proc_unknown = 1;
		n = 0;
	}
	s->nholders = n;
	/* held: by someone seen, or by someone we cannot see */
	s->state = n > 0 || ((s->remote || s->proc_unknown) && held_elsewhere(fd))
		? STATE_HELD : STATE_FREE;
	if (s->state == STATE_FREE)
		s->record_current = 0;
	s->waiting = waiting_count(dirfd, name);
	s->mtime = fi.mtime;
	sys_close(fd);
	return 0;
}

int lock_status_stuck(const struct lock_status *s, int64_t stale_ns)
{
	return s->state == STATE_HELD && s->record_current && stale_ns >= 0 &&
	       s->rec.since_ns > 0 && wall_clock_ns() - s->rec.since_ns > stale_ns;
}
