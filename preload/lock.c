/* SPDX-License-Identifier: MIT */
/* Taking the lock, waiting for it, and naming who holds it.
 *
 * A lock file may be removed or replaced while someone waits on it: the
 * waiter then holds a lock on a file nobody else will open again.  So a
 * lock counts only if, once taken, the path still names the very file
 * that was locked; otherwise it is let go and the whole thing starts over
 * on the new file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#include "single.h"
#include "sys.h"

#define NS_PER_S 1000000000LL
/* While waiting for one of several slots, how often to look again. */
#define SLOT_POLL_NS (5 * 1000000LL)
#define MAX_HOLDERS 64

struct held {
	int fd;
	struct fileinfo fi;
	char name[LOCKNAME_MAX];
};

/* "up to 2.5s", "without limit" */
static void wait_text(char *buf, int64_t ns)
{
	size_t n;

	if (ns == WAIT_FOREVER) {
		mem_copy(buf, "without limit", 14);
		return;
	}
	mem_copy(buf, "up to ", 6);
	n = 6 + format_u64(buf + 6, (uint64_t)(ns / NS_PER_S));
	if (ns % NS_PER_S) {
		uint64_t ms = (uint64_t)(ns % NS_PER_S / 1000000);

		buf[n++] = '.';
		buf[n++] = (char)('0' + ms / 100);
		buf[n++] = (char)('0' + ms / 10 % 10);
		buf[n++] = (char)('0' + ms % 10);
	}
	buf[n++] = 's';
	buf[n] = '\0';
}

/* ---- slots ------------------------------------------------------------ */

static void slot_name(char *out, const char *base, unsigned slot)
{
	if (slot == 1)
		mem_copy(out, base, str_len(base) + 1);
	else
		lockname_slot(out, LOCKNAME_MAX, base, slot);
}

/* Try one slot without waiting.  1: taken; 0: busy (h->fd kept open
 * for slot 1 so its holder can be named); <0: -status. */
static int slot_try(const struct lockdir *d, struct held *h)
{
	int status, rc;

	for (;;) {
		if ((status = lockfile_open(d, h->name, &h->fd, &h->fi)))
			return -status;
		rc = sys_flock(h->fd, LOCK_EX | LOCK_NB);
		if (rc < 0) {
			if (rc == -EWOULDBLOCK)
				return 0;
			say("cannot lock %s/%s: %s", d->path, h->name, strerror(-rc));
			sys_close(h->fd);
			return -EXIT_OSERR;
		}
		if (lockfile_still_there(d, h->name, &h->fi))
			return 1;
		sys_close(h->fd);         /* replaced under us: start over */
	}
}

/* Try every slot once.  1: one is taken (in *h); 0: all busy (slot 1's
 * descriptor left open in *first); <0: -status. */
static int slots_try(const struct lock_request *rq, const struct lockdir *d,
		     struct held *h, struct held *first)
{
	for (unsigned slot = 1; slot <= rq->st->max; slot++) {
		struct held *t = slot == 1 ? first : h;
		int r;

		slot_name(t->name, rq->name, slot);
		r = slot_try(d, t);
		if (r == 1) {
			if (t != h)
				*h = *t;
			if (slot != 1 && first->fd >= 0)
				sys_close(first->fd);
			first->fd = -1;
			return 1;
		}
		if (r < 0) {
			if (slot != 1 && first->fd >= 0)
				sys_close(first->fd);
			return r;
		}
		if (slot != 1)
			sys_close(t->fd);
	}
	return 0;
}

/* ---- replacing the holder -------------------------------------------- */

static void replace_holders(const struct lock_request *rq, const struct held *h)
{
	pid_t pids[MAX_HOLDERS];
	int n = holders_find(&h->fi, pids, MAX_HOLDERS);
	pid_t self = sys_getpid();

	for (int i = 0; i < n; i++) {
		if (pids[i] == self || pid_is_ancestor(pids[i]))
			continue;
		if (rq->st->verbose)
			say("%s is already running (pid %d); replacing it",
			    rq->label, (int)pids[i]);
		SYS_(SYS_kill, pids[i], SIGTERM, 0, 0, 0, 0);
	}
}

/* ---- taking it -------------------------------------------------------- */

static enum lock_result taken(const struct lockdir *d, struct held *h)
{
	holder_pid = sys_getpid();
	record_write(h->fd, &h->fi, holder_pid);
	/* A shared lock on the directory keeps systemd-tmpfiles from
	 * cleaning it by age while we run. */
	sys_flock(d->fd, LOCK_SH | LOCK_NB);
	hide_fds(h->fd, d->fd);
	return LOCK_TAKEN;
}

static enum lock_result busy(const struct lock_request *rq, pid_t pid,
			     const char *how)
{
	if (rq->st->verbose) {
		if (pid)
			say("%s is %s running (pid %d); not starting", rq->label,
			    how, (int)pid);
		else
			say("%s is %s running; not starting", rq->label, how);
	}
	return LOCK_BUSY;
}

enum lock_result lock_take(const struct lock_request *rq, struct lockdir *d,
			   int *status)
{
	const struct settings *st = rq->st;
	/* initialised: slots_try fills them only for max >= 1, which the
	 * analyzers cannot see */
	struct held h = { .fd = -1 }, first = { .fd = -1 };
	int64_t wait = st->replace_ns >= 0 ? st->replace_ns : st->wait_ns;
	int64_t deadline = 0;
	int r, waiting = 0;
	pid_t pid;

	if ((*status = lockdir_open(d, st->dir)))
		return LOCK_ERROR;
	for (;;) {
		r = slots_try(rq, d, &h, &first);
		if (r == 1)
			return taken(d, &h);
		if (r < 0) {
			*status = -r;
			return LOCK_ERROR;
		}
		if (!waiting) {
			pid = record_pid(first.fd);
			/* our own pid: the lock came with us through an exec
			 * the library could not follow (a secure-mode image) */
			if (pid && (pid == sys_getpid() || pid_is_ancestor(pid)) &&
			    pid_holds_lock(pid, &first.fi)) {
				sys_close(first.fd);
				return LOCK_ANCESTOR;
			}
			if (st->replace_ns >= 0)
				replace_holders(rq, &first);
			if (wait == 0) {
				sys_close(first.fd);
				return busy(rq, pid, "already");
			}
			if (st->verbose) {
				char how[48];

				wait_text(how, wait);
				say("%s is already running (pid %d); waiting %s",
				    rq->label, (int)pid, how);
			}
			deadline = wait == WAIT_FOREVER ? WAIT_FOREVER : monotonic_ns() + wait;
			waiting = 1;
		}
		if (st->max == 1) {
			r = flock_until(first.fd, deadline);
			if (r == 0 && lockfile_still_there(d, first.name, &first.fi))
				return taken(d, &first);
		} else {
			struct sys_timespec pause = { 0, SLOT_POLL_NS };

			r = deadline != WAIT_FOREVER && monotonic_ns() >= deadline;
			if (!r)
				SYS_(SYS_nanosleep, &pause, 0, 0, 0, 0, 0);
		}
		if (r < 0 && r != -EINTR) {
			say("cannot lock %s/%s: %s", d->path, first.name, strerror(-r));
			sys_close(first.fd);
			*status = EXIT_OSERR;
			return LOCK_ERROR;
		}
		pid = record_pid(first.fd);
		sys_close(first.fd);
		first.fd = -1;
		if (r == 1)
			return busy(rq, pid, "still");
	}
}

/* ---- explaining ------------------------------------------------------- */

static void out_pid(const char *before, pid_t pid)
{
	char digits[24];

	print_stdout(before);
	format_u64(digits, (uint64_t)pid);
	print_stdout(digits);
}

void lock_explain(const struct lock_request *rq, struct lockdir *d)
{
	pid_t pids[MAX_HOLDERS];
	struct fileinfo fi;
	int n;

	for (unsigned slot = 1; slot <= rq->st->max; slot++) {
		char name[LOCKNAME_MAX];

		slot_name(name, rq->name, slot);
		print_stdout("lock: ");
		print_stdout(d->path);
		print_stdout("/");
		print_stdout(name);
		print_stdout("\n");
		if (d->fd >= 0 && sys_fileinfo(d->fd, name, SYS_AT_NOFOLLOW, &fi) == 0)
			n = holders_find(&fi, pids, MAX_HOLDERS);
		else
			n = 0;
		if (!n)
			print_stdout("state: free");
		for (int i = 0; i < n; i++)
			out_pid(i ? ", " : "state: held by pid ", pids[i]);
		print_stdout("\n");
	}
}
