/* SPDX-License-Identifier: MIT */
/* Waiting for a lock with a deadline, without signals or timers.
 *
 * flock(2) has no timeout, and the usual ways of cutting a blocking call
 * short (alarm, a POSIX timer and a signal) reach into the program's own
 * state: its timers, its signal dispositions and its pending signals,
 * which must all be at main as they were at exec; and a POSIX timer needs
 * a queued-signal allowance (ulimit -i) the program may not have.
 *
 * So the blocking flock is made by a child instead, on the descriptor it
 * inherits: an flock belongs to the open file, which parent and child
 * share, so the lock the child gets is the parent's.  The child exits
 * as soon as it has it, and the parent waits for that with a timeout on
 * a pipe the child holds the only write end of.  The child is made with
 * clone(2) and no exit signal (no SIGCHLD for the program to see), dies
 * with its parent, and keeps no descriptor but the two it needs.  If the
 * time runs out the child is killed; a lock it got at the last moment is
 * the parent's all the same and is kept.
 *
 * Where no child can be made (a seccomp filter, a process limit), the
 * lock is polled with a growing pause instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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

static void pause_ns(int64_t ns)
{
	struct sys_timespec ts = { (long)(ns / NS_PER_S), (long)(ns % NS_PER_S) };

	SYS_(SYS_nanosleep, &ts, 0, 0, 0, 0, 0);
}

static int flock_forever(int fd)
{
	int rc;

	while ((rc = sys_flock(fd, LOCK_EX)) == -EINTR)
		;
	return rc;
}

/* The child: close everything but the lock and the pipe, die with the
 * parent, take the lock, exit.  Raw system calls only: it runs in a copy
 * of a process that is still in its constructor. */
static __attribute__((noreturn)) void waiter_child(int fd, int pipe_out,
						   pid_t parent)
{
	int lo = fd < pipe_out ? fd : pipe_out, hi = fd < pipe_out ? pipe_out : fd;

	SYS_(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0);
	if (sys_getppid() != parent)
		SYS_(SYS_exit_group, 1, 0, 0, 0, 0, 0);
	if (lo > 0)
		sys_close_range(0, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		sys_close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	sys_close_range((unsigned)hi + 1, ~0U, 0);
	SYS_(SYS_exit_group, flock_forever(fd) == 0 ? 0 : 1, 0, 0, 0, 0, 0);
	__builtin_unreachable();
}

static pid_t waiter_start(int fd, int pipe_out)
{
#if defined(__x86_64__) || defined(__aarch64__) || defined(__i386__)
	pid_t parent = sys_getpid();
	/* like fork, but with no exit signal: SIGCHLD is the program's */
	long pid = SYS_(SYS_clone, 0, 0, 0, 0, 0, 0);

	if (pid == 0)
		waiter_child(fd, pipe_out, parent);
	return (pid_t)pid;
#else
	/* clone's argument order varies: no child here */
	(void)waiter_child;
	(void)fd;
	(void)pipe_out;
	return -ENOSYS;
#endif
}

static void waiter_end(pid_t pid)
{
	siginfo_t info;

	SYS_(SYS_kill, pid, SIGKILL, 0, 0, 0, 0);
	while (SYS_(SYS_waitid, P_PID, pid, &info, WEXITED | __WALL, 0, 0) == -EINTR)
		;
}

/* Wait until the pipe's write end closes (the child has exited) or the
 * deadline passes: 0 or 1. */
static int waiter_wait(int pipe_in, int64_t deadline)
{
	struct pollfd p = { .fd = pipe_in, .events = POLLIN };

	for (;;) {
		int64_t left = deadline - monotonic_ns();
		struct sys_timespec ts;
		long rc;

		if (left <= 0)
			return 1;
		ts.sec = (long)(left / NS_PER_S);
		ts.nsec = (long)(left % NS_PER_S);
		rc = SYS_(SYS_ppoll, &p, 1, &ts, 0, SYS_SIGSET_BYTES, 0);
		if (rc > 0)
			return 0;
		if (rc < 0 && rc != -EINTR)
			return 1;
	}
}

/* -ECHILD when no child could be made. */
static int flock_by_child(int fd, int64_t deadline)
{
	/* set: the analyzers cannot see the kernel write it */
	int pipefd[2] = { -1, -1 }, rc;
	pid_t pid;

	if (SYS_(SYS_pipe2, pipefd, O_CLOEXEC, 0, 0, 0, 0) < 0)
		return -ECHILD;
	pid = waiter_start(fd, pipefd[1]);
	sys_close(pipefd[1]);
	if (pid < 0) {
		sys_close(pipefd[0]);
		return -ECHILD;
	}
	waiter_wait(pipefd[0], deadline);
	sys_close(pipefd[0]);
	waiter_end(pid);
	/* the child's lock, if it got one, is ours: the open file is shared */
	rc = sys_flock(fd, LOCK_EX | LOCK_NB);
	if (rc == -EWOULDBLOCK)
		return 1;
	return rc;
}

static int flock_polling(int fd, int64_t deadline)
{
	int64_t pause = 1000000;        /* 1 ms, growing to 50 ms */

	for (;;) {
		int rc = sys_flock(fd, LOCK_EX | LOCK_NB);
		int64_t left;

		if (rc != -EWOULDBLOCK)
			return rc;
		left = deadline - monotonic_ns();
		if (left <= 0)
			return 1;
		pause_ns(pause < left ? pause : left);
		if (pause < 50000000)
			pause += pause / 2;
	}
}

int flock_until(int fd, int64_t deadline)
{
	int rc;

	if (deadline == WAIT_FOREVER)
		return flock_forever(fd);
	rc = flock_by_child(fd, deadline);
	return rc == -ECHILD ? flock_polling(fd, deadline) : rc;
}

void wait_pause(int64_t ns)
{
	pause_ns(ns);
}
