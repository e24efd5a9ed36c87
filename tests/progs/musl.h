/* SPDX-License-Identifier: MIT */
/* musl.h: the glibc functions the test programs use that musl lacks.
 * make test-musl puts it before each program's first line (-include).
 *
 * strerrorname_np and sigabbrev_np only name numbers for the tests to
 * read.  close_range, closefrom and execveat are no libc functions on
 * musl: a musl program that wants them makes the system call through
 * syscall(), so these stand-ins do just that, as such a program would.
 * The library's syscall() covers close_range (closefrom too, which is a
 * close_range here), not execveat; the tests of what only the library's
 * own closefrom and execveat do skip under musl (needs_glibc_function,
 * tests/helpers.bash).  musl has no fcntl64
 * either, not even as a name (its off_t is 64 bits everywhere): what
 * would call it calls fcntl.
 */
#ifndef TESTS_MUSL_H
#define TESTS_MUSL_H

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#define COMPAT_NAME(x) \
	case x:        \
		return #x

static inline const char *strerrorname_np(int err)
{
	switch (err) {
		COMPAT_NAME(EPERM);
		COMPAT_NAME(ENOENT);
		COMPAT_NAME(ESRCH);
		COMPAT_NAME(EINTR);
		COMPAT_NAME(EIO);
		COMPAT_NAME(E2BIG);
		COMPAT_NAME(ENOEXEC);
		COMPAT_NAME(EBADF);
		COMPAT_NAME(ECHILD);
		COMPAT_NAME(EAGAIN);
		COMPAT_NAME(ENOMEM);
		COMPAT_NAME(EACCES);
		COMPAT_NAME(EFAULT);
		COMPAT_NAME(EBUSY);
		COMPAT_NAME(EEXIST);
		COMPAT_NAME(ENOTDIR);
		COMPAT_NAME(EISDIR);
		COMPAT_NAME(EINVAL);
		COMPAT_NAME(ENFILE);
		COMPAT_NAME(EMFILE);
		COMPAT_NAME(ETXTBSY);
		COMPAT_NAME(ENOSPC);
		COMPAT_NAME(EROFS);
		COMPAT_NAME(EPIPE);
		COMPAT_NAME(ERANGE);
		COMPAT_NAME(ENAMETOOLONG);
		COMPAT_NAME(ENOSYS);
		COMPAT_NAME(ELOOP);
		COMPAT_NAME(EOVERFLOW);
	default:
		return NULL;
	}
}

static inline const char *sigabbrev_np(int sig)
{
	switch (sig) {
	case SIGHUP: return "HUP";
	case SIGINT: return "INT";
	case SIGQUIT: return "QUIT";
	case SIGKILL: return "KILL";
	case SIGPIPE: return "PIPE";
	case SIGALRM: return "ALRM";
	case SIGTERM: return "TERM";
	case SIGCHLD: return "CHLD";
	case SIGCONT: return "CONT";
	case SIGSTOP: return "STOP";
	case SIGUSR1: return "USR1";
	case SIGUSR2: return "USR2";
	default: return NULL;
	}
}

#define fcntl64 fcntl

static inline int close_range(unsigned first, unsigned last, int flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}

static inline void closefrom(int lowfd)
{
	syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0);
}

static inline int execveat(int dirfd, const char *path, char *const argv[],
			   char *const envp[], int flags)
{
	return (int)syscall(SYS_execveat, dirfd, path, argv, envp, flags);
}
#endif
