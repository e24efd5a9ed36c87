/* SPDX-License-Identifier: MIT */
/* The system calls the library makes for itself.
 *
 * The rule: the library's own work goes through the sys_*() calls here,
 * never through libc's wrappers or syscall(), for three reasons.
 *
 *   - The library interposes close, close_range, closefrom, dup2, dup3,
 *     fcntl, syscall and the exec family.  A libc wrapper called from
 *     inside the library would come back to our own interposer.
 *   - Each distinct libc function a preloaded library calls costs a
 *     symbol lookup in ld.so at its first call (about 700 instructions on
 *     glibc 2.36), more than most calls themselves: the constructor runs
 *     in every program the library is loaded into.
 *   - They return the kernel's answer, -errno on failure, and never touch
 *     errno: the program finds errno as it left it, and the calls stay
 *     async-signal-safe inside the interposed functions.
 *
 * Where the library has no instruction sequence for the machine (SYS_RAW
 * is 0), the same calls go through libc's syscall() and public wrappers,
 * and syscall() itself is not interposed there (see interpose.c).
 *
 * Only a few libc functions remain: getauxval (the auxiliary vector),
 * strerror (messages), dladdr (finding our own file when LD_PRELOAD does
 * not name it), for execvpe, libc's own PATH search, and abort, where
 * glibc's closefrom would abort too.  None is private to one C library:
 * the fcntl commands the library leaves alone go to the kernel as
 * interpose.c's fcntl_passed sends them, not to glibc's __fcntl.
 */
/* (SINGLE_SYS_H is this header's include guard, nothing more.) */
#ifndef SINGLE_SYS_H
#define SINGLE_SYS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>

#if defined(__x86_64__) && !defined(__ILP32__)
#define SYS_RAW 1
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__i386__)
#define SYS_RAW 1
/* The sixth argument goes in %ebp, which the compiler will not hand out:
 * it is loaded from memory, through %eax, inside the asm. */
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	long nf[2] = { n, f };
	long ret;

	__asm__ volatile("push %%ebp\n\t"
			 "mov 4(%%eax), %%ebp\n\t"
			 "mov (%%eax), %%eax\n\t"
			 "int $0x80\n\t"
			 "pop %%ebp"
			 : "=a"(ret)
			 : "a"(nf), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory");
	return ret;
}
#elif defined(__aarch64__)
#define SYS_RAW 1
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory", "cc");
	return x0;
}
#else
#define SYS_RAW 0
#include <errno.h>
#include <unistd.h>
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	int saved = errno;
	long ret = syscall(n, a, b, c, d, e, f);

	if (ret == -1)
		ret = -errno;
	errno = saved;
	return ret;
}
#endif

#define SYS_(n, a, b, c, d, e, f) \
	sys6((long)(n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static inline int sys_openat(int dirfd, const char *path, int flags, int mode)
{
	return (int)SYS_(SYS_openat, dirfd, path, flags, mode, 0, 0);
}

static inline int sys_close(int fd)
{
	return (int)SYS_(SYS_close, fd, 0, 0, 0, 0, 0);
}

static inline ssize_t sys_read(int fd, void *buf, size_t n)
{
	return SYS_(SYS_read, fd, buf, n, 0, 0, 0);
}

static inline ssize_t sys_write(int fd, const void *buf, size_t n)
{
	return SYS_(SYS_write, fd, buf, n, 0, 0, 0);
}

/* pread and pwrite with a 64-bit offset: one argument on 64-bit
 * machines, two 32-bit halves on i386.  ABIs that want the halves
 * aligned on a register pair (ARM EABI, MIPS o32, PPC32) have no raw
 * sequence here and go through libc's own pread64/pwrite64. */
#if __SIZEOF_LONG__ == 8
static inline ssize_t sys_pread(int fd, void *buf, size_t n, int64_t off)
{
	return SYS_(SYS_pread64, fd, buf, n, off, 0, 0);
}

static inline ssize_t sys_pwrite(int fd, const void *buf, size_t n, int64_t off)
{
	return SYS_(SYS_pwrite64, fd, buf, n, off, 0, 0);
}
#elif SYS_RAW && defined(__i386__)
static inline ssize_t sys_pread(int fd, void *buf, size_t n, int64_t off)
{
	return SYS_(SYS_pread64, fd, buf, n, (uint32_t)off,
		    (uint32_t)((uint64_t)off >> 32), 0);
}

static inline ssize_t sys_pwrite(int fd, const void *buf, size_t n, int64_t off)
{
	return SYS_(SYS_pwrite64, fd, buf, n, (uint32_t)off,
		    (uint32_t)((uint64_t)off >> 32), 0);
}
#else
#include <errno.h>
#include <unistd.h>
/* glibc declares pread64 and pwrite64 only for _LARGEFILE64_SOURCE, which
 * not every file of ours defines; musl's off_t is 64 bits on every
 * machine, and musl 1.2.4 has no pread64 any more. */
#ifdef __GLIBC__
extern ssize_t pread64(int fd, void *buf, size_t n, int64_t off);
extern ssize_t pwrite64(int fd, const void *buf, size_t n, int64_t off);
#else
#define pread64 pread
#define pwrite64 pwrite
#endif
static inline ssize_t sys_pread(int fd, void *buf, size_t n, int64_t off)
{
	int saved = errno;
	ssize_t r = pread64(fd, buf, n, off);

	if (r < 0)
		r = -errno;
	errno = saved;
	return r;
}

static inline ssize_t sys_pwrite(int fd, const void *buf, size_t n, int64_t off)
{
	int saved = errno;
	ssize_t r = pwrite64(fd, buf, n, off);

	if (r < 0)
		r = -errno;
	errno = saved;
	return r;
}
#endif

static inline ssize_t sys_readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
	return SYS_(SYS_readlinkat, dirfd, path, buf, n, 0, 0);
}

static inline int sys_mkdirat(int dirfd, const char *path, int mode)
{
	return (int)SYS_(SYS_mkdirat, dirfd, path, mode, 0, 0, 0);
}

static inline int sys_flock(int fd, int op)
{
	return (int)SYS_(SYS_flock, fd, op, 0, 0, 0, 0);
}

static inline int sys_ftruncate(int fd, int64_t len)
{
#if SYS_RAW && defined(__i386__)
	return (int)SYS_(SYS_ftruncate64, fd, (uint32_t)len,
			 (uint32_t)((uint64_t)len >> 32), 0, 0, 0);
#elif __SIZEOF_LONG__ == 8
	return (int)SYS_(SYS_ftruncate, fd, len, 0, 0, 0, 0);
#else
	return len > 0x7fffffff ? -22 : (int)SYS_(SYS_ftruncate, fd, len, 0, 0, 0, 0);
#endif
}

static inline pid_t sys_getpid(void)
{
	return (pid_t)SYS_(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

static inline pid_t sys_getppid(void)
{
	return (pid_t)SYS_(SYS_getppid, 0, 0, 0, 0, 0, 0);
}

static inline pid_t sys_gettid(void)
{
	return (pid_t)SYS_(SYS_gettid, 0, 0, 0, 0, 0, 0);
}

/* fcntl with an integer argument (F_DUPFD, F_GETFD, F_SETFD, ...) */
static inline int sys_fcntl(int fd, int cmd, long arg)
{
#ifdef SYS_fcntl64
	return (int)SYS_(SYS_fcntl64, fd, cmd, arg, 0, 0, 0);
#else
	return (int)SYS_(SYS_fcntl, fd, cmd, arg, 0, 0, 0);
#endif
}

static inline int sys_dup3(int oldfd, int newfd, int flags)
{
	return (int)SYS_(SYS_dup3, oldfd, newfd, flags, 0, 0, 0);
}

#ifndef SYS_close_range
#define SYS_close_range 436     /* the same number on every architecture */
#endif
static inline int sys_close_range(unsigned lo, unsigned hi, int flags)
{
	return (int)SYS_(SYS_close_range, lo, hi, flags, 0, 0, 0);
}

/* lseek within a directory or a small file (a long offset: 32 bits on
 * 32-bit machines). */
static inline long sys_lseek(int fd, long off, int whence)
{
	return SYS_(SYS_lseek, fd, off, whence, 0, 0, 0);
}

/* The record getdents64 writes, as the kernel lays it out (struct
 * linux_dirent64): declared here because C libraries differ in whether
 * and how they declare it.  The kernel keeps each one 8-byte aligned in
 * the buffer, so a buffer aligned to 8 can be read in place. */
struct sys_dirent64 {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static inline long sys_getdents64(int fd, void *buf, size_t n)
{
	return SYS_(SYS_getdents64, fd, buf, n, 0, 0, 0);
}

/* Fresh zeroed pages, or NULL. */
static inline void *sys_mmap_anon(size_t n)
{
	long p;


#ifdef SYS_mmap2
	p = SYS_(SYS_mmap2, 0, n, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#else
	p = SYS_(SYS_mmap, 0, n, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#endif
	return (unsigned long)p > -4096UL ? NULL : (void *)p;
}

static inline int sys_munmap(void *p, size_t n)
{
	return (int)SYS_(SYS_munmap, p, n, 0, 0, 0, 0);
}

/* The kernel's sigset is _NSIG bits, not libc's sigset_t. */
#define SYS_SIGSET_BYTES ((_NSIG - 1) / 8)

static inline int sys_sigprocmask(int how, const void *set, void *old)
{
	return (int)SYS_(SYS_rt_sigprocmask, how, set, old, SYS_SIGSET_BYTES, 0, 0);
}

static inline int sys_sigpending(void *set)
{
	return (int)SYS_(SYS_rt_sigpending, set, SYS_SIGSET_BYTES, 0, 0, 0, 0);
}

/* The kernel's struct timespec, in the native width (clock_gettime,
 * nanosleep, rt_sigtimedwait). */
struct sys_timespec {
	long sec, nsec;
};

/* The kernel's struct flock64, for fcntl locks (F_OFD_SETLK...): the
 * same layout on every architecture once the compiler lays out int64_t
 * as the ABI does. */
struct sys_flock64 {
	short type, whence;
	int64_t start, len;
	int pid;
};

/* ---- files: a stat of our own --------------------------------------- */

/* What the library needs to know of a file, from statx(2), whose layout
 * is the same on every architecture and C library. */
struct fileinfo {
	uint64_t dev;           /* major << 32 | minor */
	uint64_t ino;
	uint64_t size;
	int64_t mtime;          /* seconds */
	uint32_t mode, uid, nlink;
};

#define FILE_DEV(major, minor) ((uint64_t)(major) << 32 | (uint32_t)(minor))

/* statx(2)'s result: its layout is fixed by the kernel's ABI.  Declared
 * here because some C libraries (musl before 1.2.5) do not. */
struct sys_statx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, spare0;
	uint64_t ino, size, blocks, attributes_mask;
	struct { int64_t sec; uint32_t nsec; int32_t reserved; } atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t spare[14];
};

#ifndef SYS_statx
#if defined(__x86_64__)
#define SYS_statx 332
#elif defined(__i386__)
#define SYS_statx 383
#elif defined(__aarch64__)
#define SYS_statx 291
#endif
#endif

#define SYS_STATX_BASIC 0x7ffU        /* STATX_BASIC_STATS */
#define SYS_AT_EMPTY_PATH 0x1000
#define SYS_AT_NOFOLLOW 0x100

/* fileinfo of path relative to dirfd ("" with SYS_AT_EMPTY_PATH: dirfd
 * itself); 0 or -errno. */
int sys_fileinfo(int dirfd, const char *path, int flags, struct fileinfo *fi)
	__attribute__((visibility("hidden")));

#endif
