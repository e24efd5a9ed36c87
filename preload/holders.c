/* SPDX-License-Identifier: MIT */
/* Who holds a lock, in the kernel's words, and whether a process is one
 * of our ancestors.
 *
 * A pid written in a lock file is a hint, not proof: the writer may have
 * exited leaving the lock to a forked child, or the pid may have been
 * reused.  The kernel's own word is /proc/PID/fdinfo/FD, which lists the
 * flock held through that open file.
 */
#include "single.h"
#include "sys.h"

int pid_is_ancestor(pid_t pid)
{
	pid_t p = sys_getppid();

	for (int depth = 0; pid > 0 && p > 0 && depth < 4096; depth++) {
		if (p == pid)
			return 1;
		if (p == 1)
			return 0;
		p = proc_parent(p);
	}
	return 0;
}

/* " 08:01:1234 ", the file as /proc/locks and fdinfo print it */
static void lock_needle(char *buf, const struct fileinfo *fi)
{
	static const char hex[] = "0123456789abcdef";
	const uint32_t parts[2] = { (uint32_t)(fi->dev >> 32), (uint32_t)fi->dev };
	size_t n = 0;

	buf[n++] = ' ';
	for (int i = 0; i < 2; i++) {
		char digits[8];
		int k = 0;
		uint32_t v = parts[i];

		do
			digits[k++] = hex[v & 15];
		while ((v >>= 4));
		if (k < 2)
			digits[k++] = '0';
		while (k)
			buf[n++] = digits[--k];
		buf[n++] = ':';
	}
	n += format_u64(buf + n, fi->ino);
	buf[n++] = ' ';
	buf[n] = '\0';
}

static const char *find(const char *hay, const char *needle)
{
	for (; *hay; hay++)
		if (after_prefix(hay, needle))
			return hay;
	return NULL;
}

static int has_word(const char *from, const char *to, const char *word)
{
	for (; from < to; from++)
		if (after_prefix(from, word))
			return 1;
	return 0;
}

/* Does text hold a line for an exclusive flock (held, not waited for)
 * on the file named by needle? */
static int has_lock_line(const char *text, const char *needle)
{
	for (const char *p = text; (p = find(p, needle)); p++) {
		const char *line = p;

		while (line > text && line[-1] != '\n')
			line--;
		if (has_word(line, p, "FLOCK") && has_word(line, p, "WRITE") &&
		    !has_word(line, p, "->"))
			return 1;
	}
	return 0;
}

static int pid_holds(long pid, const char *needle)
{
	struct numdir fds;
	char path[64], info[1024];
	long fd;

	if (numdir_open(&fds, proc_path(path, pid, "/fdinfo")) < 0)
		return 0;
	while ((fd = numdir_next(&fds)) >= 0) {
		size_t n = str_len(proc_path(path, pid, "/fdinfo/"));

		format_u64(path + n, (uint64_t)fd);
		if (proc_read(path, info, sizeof info) > 0 &&
		    has_lock_line(info, needle)) {
			numdir_close(&fds);
			return 1;
		}
	}
	return 0;
}

int pid_holds_lock(pid_t pid, const struct fileinfo *fi)
{
	char needle[64];

	lock_needle(needle, fi);
	return pid_holds((long)pid, needle);
}

int holders_find(const struct fileinfo *fi, pid_t *pids, int max)
{
	struct numdir procs;
	char needle[64];
	long pid;
	int found = 0;

	lock_needle(needle, fi);
	if (numdir_open(&procs, "/proc") < 0)
		return 0;
	while ((pid = numdir_next(&procs)) >= 0) {
		if (found < max && pid_holds(pid, needle))
			pids[found++] = (pid_t)pid;
	}
	return found;
}

int holders_listed(const char *proc_locks, const struct fileinfo *fi)
{
	char needle[64];

	lock_needle(needle, fi);
	return has_lock_line(proc_locks, needle);
}
