/* SPDX-License-Identifier: MIT */
/* Waiting for a lock with a deadline.
 *
 * flock(2) has no timeout.  A blocking flock is cut off by a POSIX timer
 * and a real-time signal that is not already pending (one the program
 * inherited pending must still be pending at main).  The signal's
 * disposition and the mask are put back exactly as they were, and a
 * POSIX timer (not alarm or setitimer) is used, so the program's own
 * timers are not touched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/file.h>
#include <time.h>

#include "single.h"
#include "sys.h"

#define NS_PER_S 1000000000LL

int64_t monotonic_ns(void)
{
	struct sys_timespec ts = { 0, 0 };

	SYS_(SYS_clock_gettime, CLOCK_MONOTONIC, &ts, 0, 0, 0, 0);
	return (int64_t)ts.sec * NS_PER_S + ts.nsec;
}

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

static int flock_forever(int fd)
{
	int rc;

	while ((rc = sys_flock(fd, LOCK_EX)) == -EINTR)
		;
	return rc;
}

int flock_until(int fd, int64_t deadline)
{
	struct sigaction sa = { .sa_handler = wait_interrupted }, old_sa;
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL };
	struct itimerspec its = { .it_interval = { 0, 10 * 1000000L } };
	sigset_t only, old_mask;
	timer_t timer;
	int rc = -1, sig, saved = errno;

	if (deadline == WAIT_FOREVER)
		return flock_forever(fd);
	sev.sigev_signo = sig = wait_signal();
	sigemptyset(&only);
	sigaddset(&only, sig);
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, &old_sa);
	sigprocmask(SIG_UNBLOCK, &only, &old_mask);
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0) {
		rc = -errno;
		goto restore;
	}
	its.it_value.tv_sec = deadline / NS_PER_S;
	its.it_value.tv_nsec = deadline % NS_PER_S;
	/* the timer repeats: a signal that lands just before flock()
	 * blocks is followed by another that interrupts it */
	timer_settime(timer, TIMER_ABSTIME, &its, NULL);
	for (;;) {
		rc = sys_flock(fd, LOCK_EX);
		if (rc != -EINTR)
			break;
		if (monotonic_ns() >= deadline) {
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
	errno = saved;
	return rc;
}
