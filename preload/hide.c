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
 * each when the lock is not involved) and changed only by compare and
 * swap, so concurrent threads and signal handlers agree on it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

#include "single.h"
#include "sys.h"

int hidden_fd[HIDDEN_N] = { -1, -1 };
pid_t holder_pid;

static int load(int which)
{
	return __atomic_load_n(&hidden_fd[which], __ATOMIC_ACQUIRE);
}

int is_hidden(int fd)
{
	return fd >= 0 && (fd == load(HIDDEN_LOCK) || fd == load(HIDDEN_DIR));
}

int hidden_in_range(unsigned lo, unsigned hi)
{
	int best = -1;

	for (int w = 0; w < HIDDEN_N; w++) {
		int fd = load(w);

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

static int dup_top(int fd)
{
	struct limits rl = { 0, 0 };
	int high = sys_fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);

	if (high == -EINVAL && limits_get(&rl) == 0)
		high = sys_fcntl(fd, F_DUPFD_CLOEXEC, rl.cur > HIDDEN_N + 3 ?
				 (long)rl.cur - HIDDEN_N : 3);
	return high;
}

/* Evictions and the closes that span our descriptors run one at a time,
 * under a spin lock taken with every signal blocked: a signal handler
 * cannot then interrupt its own thread inside, so the lock cannot
 * deadlock, and the calls stay async-signal-safe.  Without this, a
 * close_range() that had already split its range around our old number
 * could close the new one, and two evictions could each put back a soft
 * limit the other had raised. */
/*
 * The guard holds the pid of the process that took it.  fork() copies it
 * as it is: a child forked while another thread held it finds its
 * parent's pid there, a holder that does not exist in the child, and
 * takes the guard over instead of spinning for ever.
 */
static pid_t guard;

void hidden_guard_enter(uint64_t old[2])
{
	const uint64_t all[2] = { ~0ULL, ~0ULL };
	pid_t self = sys_getpid(), held = 0;

	sys_sigprocmask(SIG_BLOCK, all, old);
	while (!__atomic_compare_exchange_n(&guard, &held, self, 0,
					    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		if (held != self)
			continue;       /* left by the parent: retry with it */
		SYS_(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
		held = 0;
	}
}

void hidden_guard_leave(const uint64_t old[2])
{
	__atomic_store_n(&guard, 0, __ATOMIC_RELEASE);
	sys_sigprocmask(SIG_SETMASK, old, 0);
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

/* Move hidden descriptor `which` off its number.  The copy is published
 * before anything else happens to the old number, then checked: a thread
 * that closed the new number in the moment before it was published (it
 * looked free) is caught here, and the move is made again. */
static int evict_one(int which, int cur)
{
	struct fileinfo want;

	if (sys_fileinfo(cur, "", SYS_AT_EMPTY_PATH, &want) < 0)
		return -1;
	for (int tries = 0; tries < 16; tries++) {
		int moved = dup_elsewhere(cur);

		if (moved < 0)
			return -1;
		__atomic_store_n(&hidden_fd[which], moved, __ATOMIC_RELEASE);
		if (same_file(moved, &want))
			return 0;
		/* closed under us, maybe reused: not ours any more */
		__atomic_store_n(&hidden_fd[which], cur, __ATOMIC_RELEASE);
	}
	return -1;
}

int hidden_evict(int fd)
{
	uint64_t old[2];
	int rc = 0;

	if (fd < 0)
		return 0;
	hidden_guard_enter(old);
	for (int w = 0; w < HIDDEN_N; w++)
		if (load(w) == fd && evict_one(w, fd) < 0)
			rc = -1;
	hidden_guard_leave(old);
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

void hide_fds(int lockfd, int dirfd)
{
	int lock_high = dup_top(lockfd);
	int dir_high = lock_high < 0 ? -1 : dup_top(dirfd);

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
	__atomic_store_n(&hidden_fd[HIDDEN_LOCK], lock_high, __ATOMIC_RELEASE);
	__atomic_store_n(&hidden_fd[HIDDEN_DIR], dir_high, __ATOMIC_RELEASE);
}

void hidden_adopt(int lockfd, int dirfd)
{
	__atomic_store_n(&hidden_fd[HIDDEN_LOCK], lockfd, __ATOMIC_RELEASE);
	__atomic_store_n(&hidden_fd[HIDDEN_DIR], dirfd, __ATOMIC_RELEASE);
}

