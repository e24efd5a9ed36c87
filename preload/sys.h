/* The system calls on the constructor's path, made through syscall().
 *
 * Every distinct libc function a preloaded library calls for the first
 * time costs a symbol lookup in ld.so (about 700 instructions on glibc
 * 2.36), more than the call itself; a start that takes the lock used to
 * make some twenty such lookups.  Going through one entry point makes it
 * one.  These are the plain system calls glibc's wrappers make, with the
 * same return values and errno.
 */
/* (SINGLE_SYS_H is this header's include guard, nothing more.) */
#ifndef SINGLE_SYS_H
#define SINGLE_SYS_H

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int sys_openat(int dirfd, const char *path, int flags, int mode)
{
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

static inline ssize_t sys_readlink(const char *path, char *buf, size_t n)
{
	return syscall(SYS_readlinkat, AT_FDCWD, path, buf, n);
}

static inline int sys_mkdir(const char *path, int mode)
{
	return (int)syscall(SYS_mkdirat, AT_FDCWD, path, mode);
}

static inline int sys_flock(int fd, int op)
{
	return (int)syscall(SYS_flock, fd, op);
}

/* pwrite at offset 0.  The kernel takes a 64-bit offset: one argument on
 * 64-bit machines, two 32-bit halves on 32-bit ones. */
static inline ssize_t sys_pwrite_start(int fd, const void *buf, size_t n)
{
#if __SIZEOF_LONG__ == 4
	return syscall(SYS_pwrite64, fd, buf, n, 0L, 0L);
#else
	return syscall(SYS_pwrite64, fd, buf, n, 0L);
#endif
}

static inline pid_t sys_getpid(void)
{
	return (pid_t)syscall(SYS_getpid);
}

static inline int sys_fcntl(int fd, int cmd, long arg)
{
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

static inline int sys_close_range(unsigned lo, unsigned hi, int flags)
{
	return (int)syscall(SYS_close_range, lo, hi, flags);
}

#endif
