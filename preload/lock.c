/* SPDX-License-Identifier: MIT */
/* Taking the lock, waiting for it, and telling who holds it.
 *
 * A lock file may be removed or replaced while someone waits on it: the
 * waiter then holds a lock on a file nobody else will open again.  So a
 * lock counts only if, once taken, the path still names the very file
 * that was locked; otherwise it is let go and the whole thing starts over
 * on the new file.  That is also what makes pruning lock files safe.
 *
 * A start that finds every slot held is one of:
 *   - a descendant of the holder (a script calling itself): it runs
 *     without the lock, once the kernel confirms that an ancestor holds it;
 *   - turned away because the holder seems stuck (SINGLE_STALE): 75;
 *   - replacing the holder (SINGLE_REPLACE), then waiting for it;
 *   - waiting (SINGLE_WAIT), in a place of the queue (SINGLE_QUEUE);
 *   - skipped.
 * Every start turned away is counted in the holder's record.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>

#include "single.h"
#include "sys.h"

#define NS_PER_S 1000000000LL
/* While waiting for one of several slots, how often to look again. */
#define SLOT_POLL_NS (5 * 1000000LL)
#define MAX_HOLDERS 64
/* Places of the queue used to count waiters when SINGLE_QUEUE is unset. */
#define WAITERS_MAX 4096

struct held {
	int fd;
	int writable;
	struct fileinfo fi;
	char name[LOCKNAME_MAX];
};

/* What a start that found every slot held knows of the holders. */
struct busy {
	struct held first;          /* slot 1, kept open */
	struct record rec;          /* the oldest holder's record */
	struct ancestors anc;
	int anc_state;              /* 0 unread, 1 read, -1 unknowable */
};

/* ---- messages --------------------------------------------------------- */

/* "pid 4711", "pid 4711 on host mail", "an unknown pid" */
static void holder_text(char *buf, size_t cap, const struct fileinfo *fi,
			const struct record *rec)
{
	pid_t pid = 0;
	size_t n;

	/* a remote holder's pid is all there is; a local one's, a hint */
	if (record_is_remote(rec) ||
	    (rec->pid && pid_holds_lock(rec->pid, fi, rec->fd))) {
		pid = rec->pid;
	} else {
		pid_t pids[1];

		/* the writer forked and exited: ask who holds it now */
		if (holders_find(fi, pids, 1) == 1)
			pid = pids[0];
	}
	if (!pid) {
		mem_copy(buf, "an unknown pid", 15);
		return;
	}
	mem_copy(buf, "pid ", 4);
	n = 4 + format_u64(buf + 4, (uint64_t)pid);
	if (record_is_remote(rec) && n + 10 + str_len(rec->host) < cap) {
		mem_copy(buf + n, " on host ", 9);
		mem_copy(buf + n + 9, rec->host, str_len(rec->host) + 1);
	} else {
		buf[n] = '\0';
	}
}

/* "up to 2.500s", "without limit" */
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

/* Try one slot without waiting.  1: taken; 0: busy (h->fd open); <0:
 * -status. */
static int slot_try(const struct lockdir *d, struct held *h)
{
	int status, rc;

	for (;;) {
		if ((status = lockfile_open(d, h->name, &h->fd, &h->fi, &h->writable)))
			return -status;
		rc = sys_flock(h->fd, LOCK_EX | LOCK_NB);
		if (rc < 0 && rc != -EWOULDBLOCK) {
			say("cannot lock %s/%s: %s", d->path, h->name, strerror(-rc));
			sys_close(h->fd);
			return -EXIT_OSERR;
		}
		/* taken or busy, unless the file was removed (single --prune
		 * holds it while it does that) or replaced in the meantime:
		 * then start over */
		if (lockfile_still_there(d, h->name, &h->fi))
			return rc == 0;
		sys_close(h->fd);
	}
}

/* Is a held slot held by us or one of our ancestors (a script that
 * starts itself again)?  The kernel decides, not the record's pid. */
static int held_by_ancestor(struct busy *b, const struct held *h,
			    const struct record *rec)
{
	if (b->anc_state == 0)
		b->anc_state = ancestors_read(&b->anc) == 0 ? 1 : -1;
	return b->anc_state > 0 && !record_is_remote(rec) &&
	       ancestor_holds(&b->anc, &h->fi, rec->fd);
}

enum { SLOTS_BUSY, SLOTS_TAKEN, SLOTS_ANCESTOR };

/* Try every slot once.  SLOTS_TAKEN (in *h), SLOTS_BUSY (slot 1 left
 * open in b->first, the oldest record in b->rec), SLOTS_ANCESTOR, or
 * -status. */
static int slots_try(const struct lock_request *rq, const struct lockdir *d,
		     struct held *h, struct busy *b)
{
	for (unsigned slot = 1; slot <= rq->st->max; slot++) {
		struct held *t = slot == 1 ? &b->first : h;
		struct record rec;
		int r;

		slot_name(t->name, rq->name, slot);
		r = slot_try(d, t);
		if (r != 0) {
			if (r == 1 && t != h)
				*h = *t;
			if (slot != 1)
				sys_close(b->first.fd);
			b->first.fd = -1;
			return r == 1 ? SLOTS_TAKEN : r;
		}
		record_read(t->fd, &rec);
		/* held by this very process: a lock it came with through
		 * exec, under the same key */
		if (hidden_holds(&t->fi) || held_by_ancestor(b, t, &rec)) {
			sys_close(t->fd);
			if (slot != 1)
				sys_close(b->first.fd);
			b->first.fd = -1;
			return SLOTS_ANCESTOR;
		}
		if (slot == 1 || (rec.since_ns && rec.since_ns < b->rec.since_ns))
			b->rec = rec;
		if (slot != 1)
			sys_close(t->fd);
	}
	return SLOTS_BUSY;
}

/* ---- the queue -------------------------------------------------------- */

/* A place in the queue is a one-byte OFD lock in "X.lock.q": it goes
 * with the open file, so a waiter that dies gives its place back, and
 * the count of places held is how many starts wait, on any host that
 * shares the directory.  Returns the queue file's descriptor (the place
 * is held), -1 when every place is taken, or -2 when there is no queue
 * file to be had (then the start waits without a place). */
static int queue_enter(const struct lockdir *d, const char *base, unsigned places)
{
	char name[LOCKNAME_MAX + 2];
	struct fileinfo fi;
	size_t n = str_len(base);
	int fd, writable;

	mem_copy(name, base, n);
	mem_copy(name + n, QUEUE_SUFFIX, sizeof QUEUE_SUFFIX);
	if (n + sizeof QUEUE_SUFFIX > LOCKNAME_MAX ||
	    lockfile_open(d, name, &fd, &fi, &writable) != 0)
		return -2;
	for (unsigned i = 0; i < places; i++) {
		struct sys_flock64 place = { .type = F_WRLCK, .whence = SEEK_SET,
					     .start = i, .len = 1 };
		long rc = sys_fcntl(fd, F_OFD_SETLK, (long)&place);

		if (rc == 0)
			return fd;
		if (rc != -EAGAIN && rc != -EACCES)
			break;          /* no OFD locks here: wait without a place */
	}
	sys_close(fd);
	return places == WAITERS_MAX ? -2 : -1;
}

/* ---- replacing the holder -------------------------------------------- */

/* SIGTERM to every process that holds the lock on this host, through a
 * pidfd opened before it is verified: a holder that exits in between,
 * its pid reused, is never signalled.  0, or an exit status when the
 * holder cannot be verified (message printed). */
static int is_ancestor(const struct ancestors *a, pid_t pid)
{
	for (int i = 0; i < a->n; i++)
		if (a->pid[i] == pid)
			return 1;
	return 0;
}

static int replace_holders(const struct lock_request *rq, struct busy *b)
{
	pid_t pids[MAX_HOLDERS];
	int n = holders_find(&b->first.fi, pids, MAX_HOLDERS), signalled = 0;
	char who[96];

	if (n < 0) {
		say("cannot replace %s: /proc is not mounted for this PID namespace, "
		    "so its holder cannot be verified", rq->label);
		return EXIT_UNAVAILABLE;
	}
	if (b->anc_state == 0)
		b->anc_state = ancestors_read(&b->anc) == 0 ? 1 : -1;
	for (int i = 0; i < n; i++) {
		long pidfd;

		/* never ourselves or an ancestor (the caller of the caller) */
		if (is_ancestor(&b->anc, pids[i]) || pids[i] == 1)
			continue;
		pidfd = SYS_(SYS_pidfd_open, pids[i], 0, 0, 0, 0, 0);
		if (pidfd < 0) {
			if (pidfd == -ESRCH)
				continue;
			say("cannot replace %s (pid %d): pidfd_open: %s", rq->label,
			    (int)pids[i], strerror((int)-pidfd));
			return EXIT_OSERR;
		}
		if (pid_holds_lock(pids[i], &b->first.fi, b->rec.fd)) {
			if (rq->st->verbose)
				say("%s is already running (pid %d); replacing it",
				    rq->label, (int)pids[i]);
			SYS_(SYS_pidfd_send_signal, pidfd, SIGTERM, 0, 0, 0, 0);
			signalled++;
		}
		sys_close((int)pidfd);
	}
	if (!signalled && record_is_remote(&b->rec)) {
		holder_text(who, sizeof who, &b->first.fi, &b->rec);
		say("cannot replace %s: it runs as %s; a holder on another host "
		    "is never signalled", rq->label, who);
		return EXIT_UNAVAILABLE;
	}
	return 0;
}

/* ---- taking it -------------------------------------------------------- */

static enum lock_result taken(const struct lock_request *rq,
			      const struct lockdir *d, struct held *h, int *status)
{
	int fd;

	/* A shared lock on the directory keeps systemd-tmpfiles from
	 * cleaning it by age while we run; where directories cannot be
	 * locked (NFS) that protection is simply not there. */
	sys_flock(d->fd, LOCK_SH | LOCK_NB);
	if ((fd = hide_fds(h->fd, d->fd)) < 0) {
		say("cannot hold %s/%s: this process holds %d locks already",
		    d->path, h->name, HELD_MAX);
		sys_close(h->fd);
		*status = EXIT_OSERR;
		return LOCK_ERROR;
	}
	holder_pid = sys_getpid();
	if (h->writable) {
		struct record rec = { .pid = holder_pid, .fd = fd };
		size_t n = str_len(rq->program);

		record_this_host(&rec);
		rec.since_ns = wall_clock_ns();
		if (n >= sizeof rec.prog)
			n = sizeof rec.prog - 1;
		mem_copy(rec.prog, rq->program, n);
		rec.prog[n] = '\0';
		record_write(rec.fd, &h->fi, &rec);
	}
	return LOCK_TAKEN;
}

/* A start turned away: counted, and said when asked to. */
static enum lock_result turned_away(const struct lock_request *rq,
				    struct busy *b, const char *how)
{
	char who[96];

	if (b->first.writable)
		record_count_skip(b->first.fd);
	if (rq->st->verbose) {
		holder_text(who, sizeof who, &b->first.fi, &b->rec);
		if (b->anc_state < 0)
			say("%s is %s running (%s); not starting (whether it is "
			    "our ancestor cannot be told: /proc is not ours)",
			    rq->label, how, who);
		else
			say("%s is %s running (%s); not starting", rq->label,
			    how, who);
	}
	sys_close(b->first.fd);
	b->first.fd = -1;
	return LOCK_BUSY;
}

/* SINGLE_STALE: has the holder held the lock for too long? */
static int stuck(const struct settings *st, const struct record *rec)
{
	return st->stale_ns >= 0 && rec->since_ns > 0 &&
	       wall_clock_ns() - rec->since_ns > st->stale_ns;
}

static enum lock_result stuck_exit(const struct lock_request *rq,
				   struct busy *b, int *status)
{
	char who[96], how_long[48];

	holder_text(who, sizeof who, &b->first.fi, &b->rec);
	format_duration(how_long, (wall_clock_ns() - b->rec.since_ns) / NS_PER_S);
	say("%s has held the lock for %s (%s): it seems stuck; not starting",
	    rq->label, how_long, who);
	if (b->first.writable)
		record_count_skip(b->first.fd);
	sys_close(b->first.fd);
	b->first.fd = -1;
	*status = EXIT_TEMPFAIL;
	return LOCK_REFUSED;
}

/* The first look at a held lock: leave, replace or wait (for *wait).
 * LOCK_TAKEN here means "go on and wait". */
static enum lock_result first_look(const struct lock_request *rq,
				   struct busy *b, const struct lockdir *d,
				   int *queue_fd, int64_t *wait_out, int *status)
{
	const struct settings *st = rq->st;
	int64_t wait = st->replace_ns >= 0 ? st->replace_ns : st->wait_ns;
	char who[96], how[48];

	if (stuck(st, &b->rec) && st->replace_ns < 0)
		return stuck_exit(rq, b, status);
	if (st->replace_ns >= 0 && (st->stale_ns < 0 || stuck(st, &b->rec))) {
		if ((*status = replace_holders(rq, b))) {
			sys_close(b->first.fd);
			return LOCK_REFUSED;
		}
	} else if (st->replace_ns >= 0) {
		wait = 0;               /* not stuck: nothing to replace */
	}
	if (wait == 0 && !st->queue)
		return turned_away(rq, b, "already");
	if (wait == 0)
		wait = WAIT_FOREVER;    /* a queued start waits until its turn */
	*queue_fd = queue_enter(d, rq->name, st->queue ? st->queue : WAITERS_MAX);
	if (*queue_fd == -1)
		return turned_away(rq, b, "already");
	if (st->verbose) {
		holder_text(who, sizeof who, &b->first.fi, &b->rec);
		wait_text(how, wait);
		say("%s is already running (%s); waiting %s", rq->label, who, how);
	}
	*wait_out = wait;
	return LOCK_TAKEN;
}

enum lock_result lock_take(const struct lock_request *rq, struct lockdir *d,
			   int *status)
{
	const struct settings *st = rq->st;
	/* initialised: slots_try fills them only for max >= 1, which the
	 * analyzers cannot see */
	struct held h = { .fd = -1 };
	struct busy b = { .first = { .fd = -1 } };
	int64_t wait = 0, deadline = 0;
	int r, waiting = 0, queue_fd = -2;
	enum lock_result res = LOCK_ERROR;

	if ((*status = lockdir_open(d, st->dir)))
		return LOCK_ERROR;
	for (;;) {
		r = slots_try(rq, d, &h, &b);
		if (r == SLOTS_TAKEN || r == SLOTS_ANCESTOR || r < 0) {
			if (r < 0)
				*status = -r;
			res = r == SLOTS_TAKEN ? taken(rq, d, &h, status) :
			      r == SLOTS_ANCESTOR ? LOCK_ANCESTOR : LOCK_ERROR;
			break;
		}
		if (!waiting) {
			res = first_look(rq, &b, d, &queue_fd, &wait, status);
			if (res != LOCK_TAKEN)
				break;
			deadline = wait == WAIT_FOREVER ? WAIT_FOREVER : monotonic_ns() + wait;
			waiting = 1;
		}
		if (st->max == 1) {
			r = flock_until(b.first.fd, deadline);
			if (r == 0 && lockfile_still_there(d, b.first.name, &b.first.fi)) {
				res = taken(rq, d, &b.first, status);
				break;
			}
		} else {
			r = deadline != WAIT_FOREVER && monotonic_ns() >= deadline;
			if (!r)
				wait_pause(SLOT_POLL_NS);
		}
		if (r < 0 && r != -EINTR) {
			say("cannot lock %s/%s: %s", d->path, b.first.name, strerror(-r));
			sys_close(b.first.fd);
			*status = EXIT_OSERR;
			break;
		}
		if (r == 1) {
			res = turned_away(rq, &b, "still");
			break;
		}
		sys_close(b.first.fd);
		b.first.fd = -1;
	}
	/* a waiter gives its place back the moment it has the lock */
	if (queue_fd >= 0)
		sys_close(queue_fd);
	return res;
}

/* ---- explaining ------------------------------------------------------- */

static void out_field(const char *name, const char *value)
{
	print_stdout(name);
	print_stdout(": ");
	print_stdout(value);
	print_stdout("\n");
}

static void out_number(const char *name, uint64_t v)
{
	char digits[24];

	format_u64(digits, v);
	out_field(name, digits);
}

/* state, holder, program, since, skipped, waiting: the fields of single
 * --list, one a line */
static void explain_status(const struct lock_status *s, int64_t stale_ns)
{
	char buf[128];
	size_t n;

	if (s->state == STATE_FREE) {
		print_stdout("state: free\n");
		return;
	}
	print_stdout(lock_status_stuck(s, stale_ns) ? "state: stuck" : "state: held");
	for (int i = 0; i < s->nholders; i++) {
		print_stdout(i ? ", " : " by pid ");
		format_u64(buf, (uint64_t)s->holders[i]);
		print_stdout(buf);
	}
	if (!s->nholders && s->remote && s->record_current) {
		print_stdout(" by pid ");
		format_u64(buf, (uint64_t)s->rec.pid);
		print_stdout(buf);
		print_stdout(" on host ");
		print_stdout(s->rec.host);
		print_stdout(" (remote)");
	} else if (!s->nholders) {
		print_stdout(" by an unknown pid");
	}
	print_stdout("\n");
	if (!s->record_current) {
		print_stdout("record: unknown (the holder wrote none: a read-only "
			     "lock file, or a holder that is not libsingle)\n");
		return;
	}
	out_field("program", s->rec.prog);
	n = format_utc(buf, s->rec.since_ns / NS_PER_S);
	mem_copy(buf + n, " (", 2);
	n += 2;
	n += format_duration(buf + n, (wall_clock_ns() - s->rec.since_ns) / NS_PER_S);
	mem_copy(buf + n, " ago)", 6);
	out_field("since", buf);
	out_number("skipped", s->rec.skipped);
	if (s->waiting >= 0)
		out_number("waiting", (uint64_t)s->waiting);
}

void lock_explain(const struct lock_request *rq, struct lockdir *d)
{
	for (unsigned slot = 1; slot <= rq->st->max; slot++) {
		char name[LOCKNAME_MAX];
		struct lock_status s;

		slot_name(name, rq->name, slot);
		print_stdout("lock: ");
		print_stdout(d->path);
		print_stdout("/");
		print_stdout(name);
		print_stdout("\n");
		if (lock_status_read(d->fd, name, NULL, &s) < 0)
			print_stdout("state: free\n");
		else
			explain_status(&s, rq->st->stale_ns);
	}
}
