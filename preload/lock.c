/* Taking the lock, waiting for it, and writing who holds it.
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
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "single.h"
#include "sys.h"

extern int __close(int fd);

#define NS_PER_S 1000000000LL
/* While waiting for one of several slots, how often to look again. */
#define SLOT_POLL_NS (5 * 1000000LL)
#define MAX_HOLDERS 64

struct held {
	int fd;
	struct stat st;
	char name[LOCKNAME_MAX];
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void seconds_text(char *buf, size_t cap, int64_t ns)
{
	if (ns == WAIT_FOREVER)
		snprintf(buf, cap, "without limit");
	else if (ns % NS_PER_S)
		snprintf(buf, cap, "up to %lld.%03llds", (long long)(ns / NS_PER_S),
			 (long long)(ns % NS_PER_S / 1000000));
	else
		snprintf(buf, cap, "up to %llds", (long long)(ns / NS_PER_S));
}

/* ---- waiting for a blocking lock with a deadline -------------------- */

/* The signal that ends a timed wait: a real-time signal that is not
 * already pending (one the program inherited pending must still be
 * pending at main).  Its disposition and the mask are put back exactly as
 * they were, and a POSIX timer (not alarm or setitimer) is used, so the
 * program's own timers are not touched. */
static int wait_signal(void)
{
	sigset_t pending;

	sigpending(&pending);
	for (int sig = SIGRTMAX; sig > SIGRTMIN; sig--)
		if (!sigismember(&pending, sig))
			return sig;
	return SIGRTMIN;
}

static void wait_interrupted(int sig)
{
	(void)sig;
}

/* 0: locked; 1: deadline passed; -1: error (errno). */
static int flock_until(int fd, int64_t deadline)
{
	struct sigaction sa = { .sa_handler = wait_interrupted }, old_sa;
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL };
	struct itimerspec its = { .it_interval = { 0, 10 * 1000000L } };
	sigset_t only, old_mask;
	timer_t timer;
	int rc = -1, err = 0, sig;

	if (deadline == WAIT_FOREVER) {
		while ((rc = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
			;
		return rc;
	}
	sev.sigev_signo = sig = wait_signal();
	sigemptyset(&only);
	sigaddset(&only, sig);
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, &old_sa);
	sigprocmask(SIG_UNBLOCK, &only, &old_mask);
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0) {
		err = errno;
		goto restore;
	}
	its.it_value.tv_sec = deadline / NS_PER_S;
	its.it_value.tv_nsec = deadline % NS_PER_S;
	/* the timer repeats: a signal that lands just before flock()
	 * blocks is followed by another that interrupts it */
	timer_settime(timer, TIMER_ABSTIME, &its, NULL);
	for (;;) {
		rc = flock(fd, LOCK_EX);
		if (rc == 0 || errno != EINTR) {
			err = errno;
			break;
		}
		if (now_ns() >= deadline) {
			rc = 1;
			break;
		}
	}
	timer_delete(timer);
restore:
	{
		/* drop a signal the timer left pending, then restore */
		struct timespec zero = { 0, 0 };

		sigprocmask(SIG_BLOCK, &only, NULL);
		while (sigtimedwait(&only, NULL, &zero) == sig)
			;
		sigaction(sig, &old_sa, NULL);
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
	}
	errno = err;
	return rc;
}

/* ---- slots ------------------------------------------------------------ */

static void slot_name(char *out, const char *base, unsigned slot)
{
	if (slot == 1)
		memcpy(out, base, strlen(base) + 1);
	else
		lockname_slot(out, LOCKNAME_MAX, base, slot);
}

/* Try one slot without waiting.  1: taken; 0: busy (h->fd kept open
 * for slot 1 so its holder can be named); <0: -status. */
static int slot_try(const struct lockdir *d, struct held *h)
{
	int status;

	for (;;) {
		if ((status = lockfile_open(d, h->name, &h->fd, &h->st)))
			return -status;
		if (sys_flock(h->fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno == EWOULDBLOCK)
				return 0;
			say("cannot lock %s/%s: %s", d->path, h->name, strerror(errno));
			__close(h->fd);
			return -EXIT_OSERR;
		}
		if (lockfile_still_there(d, h->name, &h->st))
			return 1;
		__close(h->fd);         /* replaced under us: start over */
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
				__close(first->fd);
			first->fd = -1;
			return 1;
		}
		if (r < 0) {
			if (slot != 1 && first->fd >= 0)
				__close(first->fd);
			return r;
		}
		if (slot != 1)
			__close(t->fd);
	}
	return 0;
}

/* ---- replacing the holder -------------------------------------------- */

static void replace_holders(const struct lock_request *rq, const struct held *h)
{
	pid_t pids[MAX_HOLDERS];
	int n = holders_find(h->st.st_dev, h->st.st_ino, pids, MAX_HOLDERS);
	pid_t self = getpid();

	for (int i = 0; i < n; i++) {
		if (pids[i] == self || pid_is_ancestor(pids[i]))
			continue;
		if (rq->st->verbose)
			say("%s is already running (pid %d); replacing it",
			    rq->label, (int)pids[i]);
		kill(pids[i], SIGTERM);
	}
}

/* ---- taking it -------------------------------------------------------- */

static void holder_record(int fd, const struct stat *st)
{
	char buf[24];
	ssize_t n;

	holder_pid = sys_getpid();
	n = (ssize_t)format_uint(buf, (unsigned long)holder_pid);
	buf[n++] = '\n';
	if (sys_pwrite_start(fd, buf, (size_t)n) == n && st->st_size > n)
		if (ftruncate(fd, n) < 0)
			return;         /* a stale tail is harmless */
}

static enum lock_result taken(const struct lockdir *d, struct held *h,
			      int *status)
{
	holder_record(h->fd, &h->st);
	/* A shared lock on the directory keeps systemd-tmpfiles from
	 * cleaning it by age while we run. */
	sys_flock(d->fd, LOCK_SH | LOCK_NB);
	if (hide_fds(h->fd, d->fd) < 0) {
		say("cannot keep lock %s/%s: %s", d->path, h->name, strerror(errno));
		*status = EXIT_OSERR;
		return LOCK_ERROR;
	}
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
			return taken(d, &h, status);
		if (r < 0) {
			*status = -r;
			return LOCK_ERROR;
		}
		if (!waiting) {
			pid = holder_pid_read(first.fd);
			/* our own pid: the lock came with us through an exec
			 * the library could not follow (a secure-mode image) */
			if (pid && (pid == getpid() || pid_is_ancestor(pid)) &&
			    pid_holds_lock(pid, first.st.st_dev, first.st.st_ino)) {
				__close(first.fd);
				return LOCK_ANCESTOR;
			}
			if (st->replace_ns >= 0)
				replace_holders(rq, &first);
			if (wait == 0) {
				__close(first.fd);
				return busy(rq, pid, "already");
			}
			if (st->verbose) {
				char how[48];

				seconds_text(how, sizeof how, wait);
				say("%s is already running (pid %d); waiting %s",
				    rq->label, (int)pid, how);
			}
			deadline = wait == WAIT_FOREVER ? WAIT_FOREVER : now_ns() + wait;
			waiting = 1;
		}
		if (st->max == 1) {
			r = flock_until(first.fd, deadline);
			if (r == 0 && lockfile_still_there(d, first.name, &first.st))
				return taken(d, &first, status);
		} else {
			struct timespec pause = { 0, SLOT_POLL_NS };

			r = deadline != WAIT_FOREVER && now_ns() >= deadline;
			if (!r)
				nanosleep(&pause, NULL);
		}
		if (r < 0 && errno != EINTR) {
			say("cannot lock %s/%s: %s", d->path, first.name, strerror(errno));
			__close(first.fd);
			*status = EXIT_OSERR;
			return LOCK_ERROR;
		}
		pid = holder_pid_read(first.fd);
		__close(first.fd);
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
	format_uint(digits, (unsigned long)pid);
	print_stdout(digits);
}

void lock_explain(const struct lock_request *rq, struct lockdir *d)
{
	pid_t pids[MAX_HOLDERS];
	struct stat st;
	int n;

	for (unsigned slot = 1; slot <= rq->st->max; slot++) {
		char name[LOCKNAME_MAX];

		slot_name(name, rq->name, slot);
		print_stdout("lock: ");
		print_stdout(d->path);
		print_stdout("/");
		print_stdout(name);
		print_stdout("\n");
		if (d->fd >= 0 && fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			n = holders_find(st.st_dev, st.st_ino, pids, MAX_HOLDERS);
		else
			n = 0;
		if (!n)
			print_stdout("state: free");
		for (int i = 0; i < n; i++)
			out_pid(i ? ", " : "state: held by pid ", pids[i]);
		print_stdout("\n");
	}
}
