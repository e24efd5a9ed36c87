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
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "single.h"
#include "sys.h"

extern int __close(int fd);

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

/* Where the descriptors go at first: the top of the usual 1024-entry
 * table, far above what programs open, found without asking for the
 * limit.  Only a program that fills its table meets them, and then
 * hidden_evict moves them above the soft limit. */
#define HIGH_FD (1024 - HIDDEN_N)

static int dup_top(int fd)
{
	struct rlimit rl;
	int high = sys_fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);

	if (high < 0 && errno == EINVAL && getrlimit(RLIMIT_NOFILE, &rl) == 0)
		high = sys_fcntl(fd, F_DUPFD_CLOEXEC, rl.rlim_cur > HIDDEN_N + 3 ?
				 (long)rl.rlim_cur - HIDDEN_N : 3);
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

void hidden_guard_enter(sigset_t *old)
{
	sigset_t all;
	pid_t self = sys_getpid(), held = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
	while (!__atomic_compare_exchange_n(&guard, &held, self, 0,
					    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		if (held != self)
			continue;       /* left by the parent: retry with it */
		sched_yield();
		held = 0;
	}
}

void hidden_guard_leave(const sigset_t *old)
{
	__atomic_store_n(&guard, 0, __ATOMIC_RELEASE);
	pthread_sigmask(SIG_SETMASK, old, NULL);
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
	struct rlimit rl, raised;
	int high = -1;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return sys_fcntl(fd, F_DUPFD_CLOEXEC, 0);
	/* with a huge limit (containers allow a million), going to its top
	 * would grow the kernel's descriptor table to megabytes */
	if (rl.rlim_cur > ROOMY_LIMIT)
		return dup_highest_free(fd, ROOMY_LIMIT);
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > rl.rlim_cur) {
		raised = rl;
		raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
				  rl.rlim_max > rl.rlim_cur + 64 ?
				  rl.rlim_cur + 64 : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
			high = sys_fcntl(fd, F_DUPFD_CLOEXEC, (long)rl.rlim_cur);
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	return high >= 0 ? high : dup_highest_free(fd, (int)rl.rlim_cur);
}

static int same_file(int fd, const struct stat *want)
{
	struct stat st;

	return fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 &&
	       st.st_dev == want->st_dev && st.st_ino == want->st_ino;
}

/* Move hidden descriptor `which` off its number.  The copy is published
 * before anything else happens to the old number, then checked: a thread
 * that closed the new number in the moment before it was published (it
 * looked free) is caught here, and the move is made again. */
static int evict_one(int which, int cur)
{
	struct stat want;

	if (fstatat(cur, "", &want, AT_EMPTY_PATH) < 0)
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
	int saved = errno, rc = 0;
	sigset_t old;

	if (fd < 0)
		return 0;
	hidden_guard_enter(&old);
	for (int w = 0; w < HIDDEN_N; w++)
		if (load(w) == fd && evict_one(w, fd) < 0)
			rc = -1;
	hidden_guard_leave(&old);
	errno = saved;
	return rc;
}

/* Two descriptors opened one after the other are usually neighbours:
 * one close_range then does for both. */
static void close_pair(int a, int b)
{
	if ((a == b + 1 || b == a + 1) &&
	    sys_close_range(a < b ? a : b, a < b ? b : a, 0) == 0)
		return;
	__close(a);
	__close(b);
}

int hide_fds(int lockfd, int dirfd)
{
	int lock_high = dup_top(lockfd);
	int dir_high = lock_high < 0 ? -1 : dup_top(dirfd);

	if (dir_high >= 0) {
		close_pair(lockfd, dirfd);
	} else {
		/* No room to move them (a tiny descriptor limit): they stay
		 * where they are, hidden and close-on-exec all the same. */
		if (lock_high >= 0)
			__close(lock_high);
		lock_high = lockfd;
		dir_high = dirfd;
	}
	__atomic_store_n(&hidden_fd[HIDDEN_LOCK], lock_high, __ATOMIC_RELEASE);
	__atomic_store_n(&hidden_fd[HIDDEN_DIR], dir_high, __ATOMIC_RELEASE);
	return 0;
}

void hidden_adopt(int lockfd, int dirfd)
{
	__atomic_store_n(&hidden_fd[HIDDEN_LOCK], lockfd, __ATOMIC_RELEASE);
	__atomic_store_n(&hidden_fd[HIDDEN_DIR], dirfd, __ATOMIC_RELEASE);
}

