/* SPDX-License-Identifier: MIT */
/* Who holds a lock on this host, in the kernel's words, and whether it is
 * one of our ancestors.
 *
 * A pid written in a lock file is a hint, not proof: the writer may have
 * exited leaving the lock to a forked child, the pid may have been
 * reused, or the record may come from another host.  The kernel's word
 * is /proc/PID/fdinfo/FD, which lists the flock held through that open
 * file, together with /proc/PID/fd/FD, which leads to the file itself.
 * The file is matched by stat()ing that link rather than by the device
 * numbers fdinfo prints: on btrfs those are the file system's, not the
 * subvolume's that stat reports.
 *
 * Pids from /proc are used only when /proc is this process's own: one
 * mounted for another PID namespace names other processes by the same
 * numbers.
 */
#include <errno.h>
#include <fcntl.h>

#include "single.h"
#include "sys.h"

int proc_is_ours(void)
{
	char buf[24];
	uint64_t pid;
	ssize_t n = sys_readlinkat(AT_FDCWD, "/proc/self", buf, sizeof buf - 1);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return parse_u64(buf, 1, INT_MAX, &pid) == 0 && (pid_t)pid == sys_getpid();
}

/* "/proc/PID/" + what + FD */
static const char *fd_path(char *buf, long pid, const char *what, long fd)
{
	size_t n = str_len(proc_path(buf, pid, what));

	format_u64(buf + n, (uint64_t)fd);
	return buf;
}

/* Does text hold a line for an exclusive flock that is held (not waited
 * for: "->"), on an inode numbered ino? */
static int has_lock_line(const char *text, uint64_t ino)
{
	for (const char *line = text; line && *line;
	     line = str_chr(line, '\n') ? str_chr(line, '\n') + 1 : NULL) {
		const char *end = str_chr(line, '\n'), *p;
		int flock = 0, write = 0, waiting = 0;
		uint64_t v;

		if (!end)
			end = line + str_len(line);
		if (!after_prefix(line, "lock:"))
			continue;
		for (p = line; p < end; p++) {
			flock |= after_prefix(p, "FLOCK") != NULL;
			write |= after_prefix(p, "WRITE") != NULL;
			waiting |= after_prefix(p, "->") != NULL;
		}
		if (!flock || !write || waiting)
			continue;
		for (p = end; p > line && p[-1] != ':'; p--)
			;
		/* "MAJ:MIN:INODE START END": the last colon precedes the inode */
		if (p > line && scan_u64(p, UINT64_MAX, &v) && v == ino)
			return 1;
	}
	return 0;
}

/* Does process pid hold an exclusive flock on the file through its
 * descriptor fd? */
static int fd_holds(long pid, long fd, const struct fileinfo *fi)
{
	char path[64], info[1024];
	struct fileinfo there;

	if (sys_fileinfo(AT_FDCWD, fd_path(path, pid, "/fd/", fd), 0, &there) < 0 ||
	    there.dev != fi->dev || there.ino != fi->ino)
		return 0;
	return proc_read(fd_path(path, pid, "/fdinfo/", fd), info, sizeof info) > 0 &&
	       has_lock_line(info, fi->ino);
}

int self_holds(int fd, const struct fileinfo *fi)
{
	char path[48], info[1024];
	long n;

	/* /proc/self is this process in whichever PID namespace /proc
	 * belongs to, or missing */
	mem_copy(path, "/proc/self/fdinfo/", sizeof "/proc/self/fdinfo/");
	format_u64(path + sizeof "/proc/self/fdinfo/" - 1, (uint64_t)fd);
	if ((n = proc_read(path, info, sizeof info)) < 0)
		return n == -ENOENT && proc_is_ours() ? 0 : -1;
	return has_lock_line(info, fi->ino);
}

int pid_holds_lock(pid_t pid, const struct fileinfo *fi, int hint)
{
	struct numdir fds;
	char path[64];
	long fd;

	if (hint >= 0 && fd_holds(pid, hint, fi))
		return 1;
	if (numdir_open(&fds, proc_path(path, pid, "/fd")) < 0)
		return 0;
	while ((fd = numdir_next(&fds)) >= 0) {
		if (fd != hint && fd_holds(pid, fd, fi)) {
			numdir_close(&fds);
			return 1;
		}
	}
	return 0;
}

/* Does text in /proc/locks' form list an exclusive flock held on an
 * inode numbered ino?  The device is not compared: on btrfs it is the
 * file system's, not the one stat reports. */
static int text_lists(const char *text, uint64_t ino)
{
	for (const char *line = text; line && *line;
	     line = str_chr(line, '\n') ? str_chr(line, '\n') + 1 : NULL) {
		char one[160];
		size_t k;

		/* "N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE START END", read
		 * as fdinfo's "lock:" lines are */
		mem_copy(one, "lock:", 5);
		for (k = 5; line[k - 5] && line[k - 5] != '\n' && k + 1 < sizeof one; k++)
			one[k] = line[k - 5];
		one[k] = '\0';
		if (has_lock_line(one, ino))
			return 1;
	}
	return 0;
}

/* Does /proc/locks list an exclusive flock held on an inode numbered
 * ino?  If not, nobody here holds it, and the scan of every process is
 * not needed.  1 also when it cannot tell. */
static int locks_lists(uint64_t ino)
{
	char buf[1024];
	size_t keep = 0;
	ssize_t n;
	int fd = sys_openat(AT_FDCWD, "/proc/locks", O_RDONLY | O_CLOEXEC, 0);
	int found = 0;

	if (fd < 0)
		return 1;
	while (!found && (n = sys_read(fd, buf + keep, sizeof buf - 1 - keep)) > 0) {
		size_t total = keep + (size_t)n, last = total;
		char cut;

		buf[total] = '\0';
		/* whole lines only; the unfinished one goes to the next read */
		while (last > 0 && buf[last - 1] != '\n')
			last--;
		if (last == 0)
			last = total;       /* a line longer than the buffer */
		cut = buf[last];
		buf[last] = '\0';
		found = text_lists(buf, ino);
		buf[last] = cut;
		keep = total - last;
		mem_copy(buf, buf + last, keep);
	}
	sys_close(fd);
	return found;
}

int holders_listed(const char *proc_locks, const struct fileinfo *fi)
{
	return text_lists(proc_locks, fi->ino);
}

int holders_find(const struct fileinfo *fi, pid_t *pids, int max)
{
	struct numdir procs;
	long pid;
	int found = 0;

	if (!proc_is_ours())
		return -1;
	if (!locks_lists(fi->ino) || numdir_open(&procs, "/proc") < 0)
		return 0;
	while ((pid = numdir_next(&procs)) >= 0)
		if (found < max && pid_holds_lock((pid_t)pid, fi, -1))
			pids[found++] = (pid_t)pid;
	return found;
}

/* ---- ancestors ----------------------------------------------------------- */

int ancestors_read(struct ancestors *a)
{
	pid_t p = sys_getpid();

	a->n = 0;
	if (!proc_is_ours())
		return -1;
	/* ourselves first: a lock that came with us through an exec the
	 * library could not follow (a set-user-ID image) */
	while (p > 0 && a->n < ANCESTORS_MAX) {
		a->pid[a->n++] = p;
		if (p == 1)
			break;
		p = a->n == 1 ? sys_getppid() : proc_parent(p);
	}
	return 0;
}

int ancestor_holds(const struct ancestors *a, const struct fileinfo *fi, int hint)
{
	/* the holder's descriptor keeps its number across fork: checking
	 * that one number of each ancestor is enough, and cheap */
	if (hint < 0)
		hint = HIGH_FD;
	for (int i = 0; i < a->n; i++)
		if (fd_holds(a->pid[i], hint, fi))
			return 1;
	return 0;
}
