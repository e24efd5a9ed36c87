/* SPDX-License-Identifier: MIT */
/* Keeping the lock's descriptors out of the program's way.
 *
 * They start at the top of the usual table (1022 and 1023), far from the
 * numbers programs use.  When a program wants one of those numbers
 * (dup2 onto every descriptor, say), ours moves just above the soft
 * RLIMIT_NOFILE if the hard limit leaves room: the kernel never hands out
 * such a number by open() and refuses it to dup2(), and descriptors above
 * the soft limit stay valid.  The soft limit is raised only for that one
 * dup and put back at once.
 *
 * The table is read without a lock by the interposed calls (one compare
 * each while no lock is held, a look at each entry otherwise) and
 * changed by atomic stores (by the constructor before any thread exists,
 * then only under the guard below), so concurrent threads and signal
 * handlers agree on it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

#include "single.h"
#include "sys.h"

int hidden_fd[HIDDEN_N] = { [0 ... HIDDEN_N - 1] = -1 };
pid_t holder_pid;
int held_for_command;

/* Whose descriptor table hidden_fd describes.
 *
 * The table above lives in memory, and so it describes the descriptors
 * of every process that shares this memory: the holder and its threads.
 * A fork child has a copy of both, the memory and the descriptors, and
 * the copy stays true for it: it keeps protecting the lock (a daemon
 * that forks and lets its parent exit still holds it).  A vfork child,
 * or any clone(CLONE_VM) child (posix_spawn), shares the memory but has
 * a descriptor table of its own: what it does to its descriptors must
 * not change the table, which still describes its parent's.  Its calls
 * go to the kernel as they are.
 *
 * The pid of the process the table belongs to is kept in a page of its
 * own that fork wipes (MADV_WIPEONFORK, Linux 4.14): a fork child reads 0
 * there and claims the table with its own pid, while a child sharing the
 * memory reads its parent's pid, not its own.  A child that shares the
 * memory of a fork child that has not claimed it yet also reads 0: it is
 * told apart by asking the kernel whether it shares its parent's memory
 * (kcmp, where the kernel has it).  Without MADV_WIPEONFORK every process
 * counts as the table's own, as before.
 *
 * The same page keeps the count of calls in flight (see passes below),
 * which a fork child must not inherit from threads it does not have. */
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#define KCMP_VM 1
#define STATE_PAGE 4096

struct table_state {
	pid_t owner;
	unsigned long passes[2], epoch;
};

static struct table_state unwiped;
static struct table_state *state = &unwiped;
static int wiped_on_fork;

static void state_init(void)
{
	struct table_state *page;

	if (wiped_on_fork || !(page = sys_mmap_anon(STATE_PAGE)))
		return;
	if (SYS_(SYS_madvise, page, STATE_PAGE, MADV_WIPEONFORK, 0, 0, 0) < 0) {
		sys_munmap(page, STATE_PAGE);
		return;
	}
	page->owner = sys_getpid();
	state = page;
	wiped_on_fork = 1;
}

/* Does this process share its parent's memory (a vfork or CLONE_VM
 * child)?  No, when the kernel cannot tell. */
static int shares_parent_memory(pid_t self)
{
#ifdef SYS_kcmp
	return SYS_(SYS_kcmp, self, sys_getppid(), KCMP_VM, 0, 0, 0) == 0;
#else
	(void)self;
	return 0;
#endif
}

int hidden_ours(void)
{
	pid_t self, was;

	if (!wiped_on_fork)
		return 1;
	self = sys_getpid();
	was = __atomic_load_n(&state->owner, __ATOMIC_ACQUIRE);
	if (was == self)
		return 1;
	if (was != 0 || shares_parent_memory(self))
		return 0;
	/* a fork child: the table is its own from now on */
	__atomic_compare_exchange_n(&state->owner, &was, self, 0,
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	return was == 0 || was == self;
}

/* While one of ours moves (see evict_one), its new number is hidden
 * too, until the move is known to have worked.  The move ends with two
 * stores, the new number into hidden_fd, then -1 into moving: readers
 * look at moving first, so that none can read the old number from one
 * and -1 from the other. */
static int moving[HIDDEN_N] = { [0 ... HIDDEN_N - 1] = -1 };

static int load(int which)
{
	return __atomic_load_n(&hidden_fd[which], __ATOMIC_SEQ_CST);
}

static int load_moving(int which)
{
	return __atomic_load_n(&moving[which], __ATOMIC_SEQ_CST);
}

/* The first lock a process holds is always entry HIDDEN_LOCK: with none
 * there, nothing is hidden. */
int is_hidden(int fd)
{
	if (fd < 0 || load(HIDDEN_LOCK) < 0)
		return 0;
	for (int w = 0; w < HIDDEN_N; w++)
		if (fd == load_moving(w) || fd == load(w))
			return 1;
	return 0;
}

int hidden_in_range(unsigned lo, unsigned hi)
{
	int best = -1;

	if (load(HIDDEN_LOCK) < 0)
		return -1;
	for (int i = 0; i < 2 * HIDDEN_N; i++) {
		int fd = i < HIDDEN_N ? load_moving(i) : load(i - HIDDEN_N);

		if (fd >= 0 && (unsigned)fd >= lo && (unsigned)fd <= hi &&
		    (best < 0 || fd < best))
			best = fd;
	}
	return best;
}

/* HIGH_FD (single.h) is found without asking for the limit.  Only a
 * program that fills its table meets the descriptors there, and then
 * hidden_evict moves them above the soft limit. */

/* The soft and hard descriptor limits, without libc (the kernel's
 * struct rlimit64 is two 64-bit numbers everywhere). */
struct limits {
	uint64_t cur, max;
};

#define LIMIT_INFINITY (~(uint64_t)0)

static int limits_get(struct limits *l)
{
	return (int)SYS_(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, l, 0, 0);
}

static int limits_set(const struct limits *l)
{
	return (int)SYS_(SYS_prlimit64, 0, RLIMIT_NOFILE, l, 0, 0, 0);
}

static int dup_highest_free(int fd, int limit);

/* A copy of fd at the top of the table: HIGH_FD and up, else (a soft
 * limit below that, or the top taken by an earlier lock) as high as it
 * goes below the soft limit. */
static int dup_top(int fd)
{
	struct limits rl = { 0, 0 };
	int high = sys_fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);

	if (high == -EINVAL && limits_get(&rl) == 0)
		high = sys_fcntl(fd, F_DUPFD_CLOEXEC, rl.cur > 2 + 3 ?
				 (long)rl.cur - 2 : 3);
	else if (high == -EMFILE && limits_get(&rl) == 0)
		high = dup_highest_free(fd, rl.cur < HIGH_FD ? (int)rl.cur : HIGH_FD);
	return high;
}

/* Evictions, the closes that span our descriptors and the holder's exec
 * run one at a time, under a spin lock taken with every signal blocked:
 * a signal handler cannot then interrupt its own thread inside, so the
 * lock cannot deadlock, and the calls stay async-signal-safe.  Without
 * this, a close_range() that had already split its range around our old
 * number could close the new one, two evictions could each put back a
 * soft limit the other had raised, and an exec could name one number in
 * SINGLE_HELD while another thread moved the lock to the next.
 *
 * The guard holds the pid of the process that took it.  fork() copies it
 * as it is: a child forked while another thread held it finds its
 * parent's pid there, a holder that does not exist in the child, and
 * takes the guard over instead of spinning for ever.
 *
 * It also records the thread that holds it.  The exec keeps the guard
 * across the execve system call, and must make that call with the
 * program's own signal mask (execve keeps the mask for the new image):
 * a signal handler of that very thread may then enter the guard, and
 * finds it its own.  It goes on without waiting (nested) rather than
 * spin on a holder it has interrupted.  The owner clears the thread
 * before it lets the guard go, so no other thread ever takes a stale
 * record for its own.
 */
static pid_t guard, guard_tid;

void hidden_guard_enter(struct hidden_guard *g)
{
	const uint64_t all[2] = { ~0ULL, ~0ULL };
	pid_t self = sys_getpid(), tid = sys_gettid(), held = 0;

	sys_sigprocmask(SIG_BLOCK, all, g->mask);
	g->nested = 0;
	while (!__atomic_compare_exchange_n(&guard, &held, self, 0,
					    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		if (held != self)
			continue;       /* left by the parent: retry with it */
		if (__atomic_load_n(&guard_tid, __ATOMIC_RELAXED) == tid) {
			g->nested = 1;  /* our own thread, interrupted in exec */
			return;
		}
		SYS_(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
		held = 0;
	}
	__atomic_store_n(&guard_tid, tid, __ATOMIC_RELAXED);
}

void hidden_guard_leave(const struct hidden_guard *g)
{
	if (!g->nested) {
		__atomic_store_n(&guard_tid, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&guard, 0, __ATOMIC_RELEASE);
	}
	sys_sigprocmask(SIG_SETMASK, g->mask, 0);
}

/* A soft limit above this leaves room enough below it. */
#define ROOMY_LIMIT 65536

/* The highest free number below the soft limit, found from the top down
 * (F_DUPFD gives the lowest free one at or above its argument). */
static int dup_highest_free(int fd, int limit)
{
	for (int n = limit - 1, tries = 0; n > 2 && tries < 64; n--, tries++) {
		int high = sys_fcntl(fd, F_DUPFD_CLOEXEC, n);

		if (high >= 0)
			return high;
	}
	return sys_fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

/* A copy of fd above the soft limit if the hard limit leaves room, else
 * as high as possible below it; close-on-exec. */
static int dup_elsewhere(int fd)
{
	struct limits rl = { 0, 0 }, raised;
	int high = -1;

	if (limits_get(&rl) < 0)
		return sys_fcntl(fd, F_DUPFD_CLOEXEC, 0);
	/* with a huge limit (containers allow a million), going to its top
	 * would grow the kernel's descriptor table to megabytes */
	if (rl.cur > ROOMY_LIMIT)
		return dup_highest_free(fd, ROOMY_LIMIT);
	if (rl.max > rl.cur) {
		raised = rl;
		raised.cur = rl.max == LIMIT_INFINITY || rl.max > rl.cur + 64 ?
			     rl.cur + 64 : rl.max;
		if (limits_set(&raised) == 0) {
			high = sys_fcntl(fd, F_DUPFD_CLOEXEC, (long)rl.cur);
			limits_set(&rl);
		}
	}
	return high >= 0 ? high : dup_highest_free(fd, (int)rl.cur);
}

static int same_file(int fd, const struct fileinfo *want)
{
	struct fileinfo fi;

	return sys_fileinfo(fd, "", SYS_AT_EMPTY_PATH, &fi) == 0 &&
	       fi.dev == want->dev && fi.ino == want->ino;
}

/* Calls that may close or replace a number the table does not name
 * (close, close_range, closefrom, dup2 and dup3 onto a number not ours)
 * look at the table, then make the system call.  An eviction in between
 * may have put ours on that very number: a number that was free (closing
 * or dup2-ing onto a free number is allowed), or one the soft limit did
 * not allow while the eviction raised it.  So such a call counts itself
 * in `passes` for as long as it runs, by the parity of `epoch`; after
 * publishing a new number an eviction turns the epoch over and waits
 * until the calls counted under the old parity are done, then checks
 * that the copy is still there.  A call that read the epoch just before
 * it turned over would count itself under a parity no eviction then
 * waits for: it reads the epoch again after counting itself, and starts
 * over if it changed.  A call costs two atomic additions, and none while
 * no lock is held.
 *
 * The wait is bounded, at a second: a call that began before cannot be
 * blocked on the number it is about to hit (it has not reached the kernel
 * yet), only descheduled, while a signal handler that evicts in a thread
 * interrupted in such a call would otherwise wait for itself. */
#define PASS_WAIT_NS 1000000000 /* 1 s */

int hidden_pass_enter(void)
{
	struct table_state *st = state;

	if (load(HIDDEN_LOCK) < 0)
		return -1;
	for (;;) {
		unsigned long v = __atomic_load_n(&st->epoch, __ATOMIC_SEQ_CST);
		int e = (int)(v & 1);

		__atomic_add_fetch(&st->passes[e], 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&st->epoch, __ATOMIC_SEQ_CST) == v)
			return e;
		__atomic_sub_fetch(&st->passes[e], 1, __ATOMIC_RELEASE);
	}
}

void hidden_pass_leave(int e)
{
	if (e >= 0)
		__atomic_sub_fetch(&state->passes[e], 1, __ATOMIC_RELEASE);
}

/* After a new number is published: the calls that may not have seen it. */
static void passes_drain(void)
{
	struct table_state *st = state;
	int e = (int)(__atomic_fetch_add(&st->epoch, 1, __ATOMIC_SEQ_CST) & 1);
	int64_t deadline = 0;

	while (__atomic_load_n(&st->passes[e], __ATOMIC_SEQ_CST)) {
		int64_t now = monotonic_ns();

		if (!deadline)
			deadline = now + PASS_WAIT_NS;
		else if (now >= deadline)
			break;
		SYS_(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
	}
}

/* Move hidden descriptor `which` off its number.  The copy is hidden
 * beside the old number first; once every call that may not have seen it
 * is done, it is checked (a thread may have closed or replaced it while
 * it looked free), and only then does it take the old number's place,
 * which the caller may then reuse.  If the copy is gone, the move is
 * made again; the old number was hidden all along. */
static int evict_one(int which, int cur)
{
	struct fileinfo want;

	if (sys_fileinfo(cur, "", SYS_AT_EMPTY_PATH, &want) < 0)
		return -1;
	for (int tries = 0; tries < 16; tries++) {
		int moved = dup_elsewhere(cur), ok;

		if (moved < 0)
			return -1;
		__atomic_store_n(&moving[which], moved, __ATOMIC_SEQ_CST);
		passes_drain();
		if ((ok = same_file(moved, &want)))
			__atomic_store_n(&hidden_fd[which], moved, __ATOMIC_SEQ_CST);
		/* if not: closed under us, maybe reused, not ours any more */
		__atomic_store_n(&moving[which], -1, __ATOMIC_SEQ_CST);
		if (ok)
			return 0;
	}
	return -1;
}

/* Under the guard: move whatever of ours is at fd. */
static int evict_guarded(int fd)
{
	int rc = 0;

	for (int w = 0; w < HIDDEN_N; w++)
		if (load(w) == fd && evict_one(w, fd) < 0)
			rc = -1;
	return rc;
}

int hidden_evict(int fd)
{
	struct hidden_guard g;
	int rc;

	if (fd < 0)
		return 0;
	hidden_guard_enter(&g);
	rc = evict_guarded(fd);
	hidden_guard_leave(&g);
	return rc;
}

/* The eviction leaves a copy of ours at `to`, which the dup3 replaces in
 * one step: the number is never free for another thread's open() to
 * take in between.  Should the dup3 fail after all (fd closed meanwhile
 * by another thread), that copy is closed.  The errors are dup2's: EBADF
 * for a closed fd or a `to` at or above the soft limit, EMFILE when ours
 * cannot move. */
int hidden_give(int to, int fd, int flags)
{
	struct hidden_guard g;
	struct limits rl = { 0, 0 };
	int rc;

	hidden_guard_enter(&g);
	if (!is_hidden(to))
		rc = -EAGAIN;
	else if (limits_get(&rl) < 0 || (uint64_t)to >= rl.cur ||
		 sys_fcntl(fd, F_GETFD, 0) < 0)
		rc = -EBADF;
	else if (evict_guarded(to) < 0)
		rc = -EMFILE;
	else if ((rc = sys_dup3(fd, to, flags)) < 0)
		sys_close(to);
	hidden_guard_leave(&g);
	return rc;
}

/* Two descriptors opened one after the other are usually neighbours:
 * one close_range then does for both. */
static void close_pair(int a, int b)
{
	if ((a == b + 1 || b == a + 1) &&
	    sys_close_range(a < b ? a : b, a < b ? b : a, 0) == 0)
		return;
	sys_close(a);
	sys_close(b);
}

/* The first free pair of hidden_fd, or -1.  Only the constructor fills
 * the table, before any thread exists. */
static int free_pair(void)
{
	for (int w = HIDDEN_LOCK; w < HIDDEN_N; w += 2)
		if (load(w) < 0)
			return w;
	return -1;
}

static void publish(int w, int lockfd, int dirfd)
{
	state_init();
	__atomic_store_n(&hidden_fd[w + HIDDEN_DIR], dirfd, __ATOMIC_RELEASE);
	__atomic_store_n(&hidden_fd[w + HIDDEN_LOCK], lockfd, __ATOMIC_RELEASE);
}

int hide_fds(int lockfd, int dirfd)
{
	int w = free_pair(), lock_high, dir_high;

	if (w < 0)
		return -1;
	lock_high = dup_top(lockfd);
	dir_high = lock_high < 0 ? -1 : dup_top(dirfd);

	if (dir_high >= 0) {
		close_pair(lockfd, dirfd);
	} else {
		/* No room to move them (a tiny descriptor limit): they stay
		 * where they are, hidden and close-on-exec all the same. */
		if (lock_high >= 0)
			sys_close(lock_high);
		lock_high = lockfd;
		dir_high = dirfd;
	}
	publish(w, lock_high, dir_high);
	return lock_high;
}

int hidden_adopt(int lockfd, int dirfd)
{
	int w = free_pair();

	if (w < 0)
		return -1;
	publish(w, lockfd, dirfd);
	return 0;
}

int hidden_holds(const struct fileinfo *fi)
{
	for (int w = HIDDEN_LOCK; w < HIDDEN_N; w += 2) {
		int fd = load(w);

		if (fd >= 0 && same_file(fd, fi))
			return 1;
	}
	return 0;
}

