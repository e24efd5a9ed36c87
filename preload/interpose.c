/* SPDX-License-Identifier: MIT */
/* The calls the library interposes: the only symbols it exports.
 *
 * To the program the lock's descriptors do not exist.  Closing one fails
 * with EBADF as for a number never opened, and so does every fcntl on
 * one; close_range and closefrom close everything else in their range;
 * dup2/dup3 onto one first move ours elsewhere, then do exactly what was
 * asked, and fcntl(F_DUPFD) gives the number it would give if ours were
 * free.  libc's syscall() is interposed too where sys.h has a raw
 * sequence (libuv, and so Node.js, closes through syscall(SYS_close)).
 * When no lock is held each call costs a compare before the real one.
 *
 * Only the process whose descriptors the library keeps does so: a vfork
 * or clone(CLONE_VM) child shares the library's memory but has its own
 * descriptors, and its calls go to the kernel as they are (hide.c,
 * hidden_ours).
 *
 * The real calls are the system calls themselves, as libc makes them
 * (sys.h): no dlsym() on the way, so these stay async-signal-safe, and
 * no symbol private to one C library (the library links with -z defs
 * against glibc and musl alike).  fcntl does by itself for the commands
 * it leaves alone what libc's fcntl does on the way to the kernel
 * (F_GETOWN, 32-bit struct flock conversions; see fcntl_passed), all but
 * the cancellation point of F_SETLKW.  Only execvpe is looked up, at
 * its first use, because libc does real work in it (the PATH search);
 * POSIX does not count it among the async-signal-safe functions anyway.
 */
#define _GNU_SOURCE
/* The names defined here are the C library's own symbols, whatever a
 * build's flags: _FILE_OFFSET_BITS=64 or _TIME_BITS=64 (Debian's 64-bit
 * time_t on 32-bit machines) would have the headers rename fcntl to
 * fcntl64 or __fcntl_time64, which are defined below as themselves. */
#undef _FILE_OFFSET_BITS
#undef _TIME_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "single.h"
#include "sys.h"

extern char **environ;

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

typedef int execvpe_fn(const char *, char *const[], char *const[]);

static int fail(int err)
{
	errno = err;
	return -1;
}

/* A system call's answer as libc gives it: -1 and errno on failure. */
static long answer_long(long rc)
{
	if (rc < 0 && rc > -4096) {
		errno = (int)-rc;
		return -1;
	}
	return rc;
}

static int answer(long rc)
{
	return (int)answer_long(rc);
}

/* Is fd one of ours, in the process whose descriptors they are? */
static int hidden_here(int fd)
{
	return is_hidden(fd) && hidden_ours();
}

static int range_here(unsigned lo, unsigned hi)
{
	return hidden_in_range(lo, hi) >= 0 && hidden_ours();
}

/* ---- closing ---------------------------------------------------------- */

/* Calls that close or replace a number not ours count themselves in
 * hide.c's passes while they run: see hidden_pass_enter. */
static long close_checked(int fd)
{
	int pass = hidden_pass_enter();
	long rc = hidden_here(fd) ? -EBADF : sys_close(fd);

	hidden_pass_leave(pass);
	return rc;
}

SINGLE_EXPORT int close(int fd)
{
	return answer(close_checked(fd));
}

/* close_range over [lo, hi] leaving the hidden descriptors alone. */
static int close_range_around(unsigned lo, unsigned hi, int flags)
{
	int rc = 0, h, r;

	while (lo <= hi && (h = hidden_in_range(lo, hi)) >= 0) {
		if ((unsigned)h > lo && (r = sys_close_range(lo, (unsigned)h - 1, flags)) < 0)
			rc = r;
		if ((unsigned)h == hi)
			return rc;
		lo = (unsigned)h + 1;
	}
	if (lo <= hi && (r = sys_close_range(lo, hi, flags)) < 0)
		rc = r;
	return rc;
}

/* A range that holds a hidden descriptor is closed around it while no
 * eviction can move that descriptor into the range. */
static int close_range_guarded(unsigned first, unsigned last, int flags)
{
	struct hidden_guard g;
	int rc;

	hidden_guard_enter(&g);
	rc = close_range_around(first, last, flags);
	hidden_guard_leave(&g);
	return rc;
}

static long close_range_checked(unsigned first, unsigned last, int flags)
{
	int pass = hidden_pass_enter();
	long rc;

	/* marking ours close-on-exec changes nothing: it already is */
	if (first > last || (flags & CLOSE_RANGE_CLOEXEC) || !range_here(first, last)) {
		rc = sys_close_range(first, last, flags);
		hidden_pass_leave(pass);
		return rc;
	}
	hidden_pass_leave(pass);
	return close_range_guarded(first, last, flags);
}

SINGLE_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	return answer(close_range_checked(first, last, flags));
}

/* glibc's closefrom where close_range fails (before Linux 5.9, or refused
 * by a seccomp filter): close what /proc/self/fd lists, read again from
 * the start after each buffer that closed something (the entries move
 * under the reader), until a reading closes nothing.  Without room for
 * the directory's descriptor, close the lowest open number first; without
 * the directory at all, fail.  Read without allocating.  0 or -1. */
static int open_fd_dir(void)
{
	return sys_openat(AT_FDCWD, "/proc/self/fd",
			  O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
}

static void close_lowest_open(unsigned low, int ours)
{
	for (unsigned fd = low; fd < INT_MAX; fd++)
		if (!(ours && is_hidden((int)fd)) && sys_close((int)fd) != -EBADF)
			return;
}

/* One buffer of the directory's entries: did it close anything? */
static int close_listed(const char *buf, long len, unsigned low, int dir,
			int ours)
{
	int closed = 0;

	for (long pos = 0; pos < len;) {
		const struct sys_dirent64 *e = (const void *)(buf + pos);
		uint64_t fd;

		pos += e->reclen;
		if (!scan_u64(e->name, INT_MAX, &fd) || (int)fd == dir || fd < low ||
		    (ours && is_hidden((int)fd)))
			continue;
		sys_close((int)fd);
		closed = 1;
	}
	return closed;
}

static int close_listed_from(unsigned low, int ours)
{
	/* zeroed: the analyzers cannot see the kernel write it */
	_Alignas(8) char buf[1024] = { 0 };
	int dir = open_fd_dir();
	long n;

	if (dir < 0 && dir != -ENOENT) {
		close_lowest_open(low, ours);
		dir = open_fd_dir();
	}
	if (dir < 0)
		return -1;
	while ((n = sys_getdents64(dir, buf, sizeof buf)) > 0)
		if (close_listed(buf, n, low, dir, ours) &&
		    sys_lseek(dir, 0, SEEK_SET) < 0) {
			n = -1;
			break;
		}
	sys_close(dir);
	return n == 0 ? 0 : -1;
}

/* What glibc does when that fails too: the program must not go on
 * believing its descriptors closed. */
static void closefrom_failed(void)
{
	static const char msg[] =
		"*** closefrom failed to close a file descriptor ***: terminated\n";

	sys_write(2, msg, sizeof msg - 1);
	abort();
}

SINGLE_EXPORT void closefrom(int lowfd)
{
	unsigned low = lowfd < 0 ? 0 : (unsigned)lowfd;
	struct hidden_guard g;
	int pass = hidden_pass_enter(), rc;

	if (!range_here(low, ~0U)) {
		rc = sys_close_range(low, ~0U, 0) == 0 ? 0 : close_listed_from(low, 0);
		hidden_pass_leave(pass);
	} else {
		hidden_pass_leave(pass);
		hidden_guard_enter(&g);
		rc = close_range_around(low, ~0U, 0) == 0 ? 0 : close_listed_from(low, 1);
		hidden_guard_leave(&g);
	}
	if (rc < 0)
		closefrom_failed();
}

/* ---- duplicating onto a number -------------------------------------- */

/* dup2 as the kernel makes it: dup2 itself where it exists; on
 * machines that only have dup3, the same-number case by hand. */
static long real_dup2(int oldfd, int newfd)
{
#ifdef SYS_dup2
	return SYS_(SYS_dup2, oldfd, newfd, 0, 0, 0, 0);
#else
	if (oldfd == newfd) {
		long rc = sys_fcntl(oldfd, F_GETFD, 0);

		return rc < 0 ? rc : newfd;
	}
	return sys_dup3(oldfd, newfd, 0);
#endif
}

/* dup2, and dup3 with its flags.  A hidden oldfd is closed to the
 * program; a hidden newfd is the program's to take: hidden_give moves
 * ours away and makes the dup onto the number in one turn, so a thread
 * closing oldfd meanwhile leaves no copy of ours behind.  Should ours
 * have moved off newfd before that turn, the call is made again as an
 * ordinary one. */
static long dup_checked(int oldfd, int newfd, int is_dup3, int flags)
{
	for (;;) {
		int pass = hidden_pass_enter();
		long r;

		/* the kernel's own order: for dup3 a bad flag or the same
		 * number comes first */
		if ((is_dup3 && (oldfd == newfd || (flags & ~O_CLOEXEC))) ||
		    (!is_hidden(oldfd) && !is_hidden(newfd)) || !hidden_ours()) {
			r = is_dup3 ? sys_dup3(oldfd, newfd, flags) :
				      real_dup2(oldfd, newfd);
			hidden_pass_leave(pass);
			return r;
		}
		/* the eviction waits for the passes: not for this one */
		hidden_pass_leave(pass);
		if (is_hidden(oldfd))
			return -EBADF;
		r = hidden_give(newfd, oldfd, is_dup3 ? flags : 0);
		if (r != -EAGAIN)
			return r;
	}
}

SINGLE_EXPORT int dup2(int oldfd, int newfd)
{
	return answer(dup_checked(oldfd, newfd, 0, 0));
}

SINGLE_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return answer(dup_checked(oldfd, newfd, 1, flags));
}

/* ---- fcntl ------------------------------------------------------------ */

/* F_DUPFD and F_DUPFD_CLOEXEC give the lowest free number at or above
 * `from`.  Without the library ours would be free: when the kernel's
 * answer lies above one of them (or it found no number free), that
 * number is the answer, and the program gets it while ours moves away.
 * If ours cannot move, the kernel's answer stands. */
static long dupfd_checked(int fd, int cmd, long arg)
{
	int from = (int)arg;    /* the kernel reads an int */
	long rc = sys_fcntl(fd, cmd, from), got;
	int h;

	if (from < 0 || rc == from || (rc < 0 && rc != -EMFILE))
		return rc;
	h = hidden_in_range((unsigned)from, rc >= 0 ? (unsigned)rc - 1 : ~0U);
	if (h < 0 || !hidden_ours())
		return rc;
	got = hidden_give(h, fd, cmd == F_DUPFD_CLOEXEC ? O_CLOEXEC : 0);
	if (got < 0)
		return rc;
	if (rc >= 0)
		sys_close((int)rc);
	return got;
}

static int is_dupfd(int cmd)
{
	return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC;
}

/* The commands the library leaves alone go to the kernel's fcntl64 (or
 * fcntl, where it is the only one) as glibc's fcntl64 sends them, with
 * the two things it does on the way:
 *   - F_GETOWN is asked as F_GETOWN_EX: the plain command answers a
 *     process group as its negative id, which cannot be told from
 *     -errno (pgid 9 reads as EBADF).  The group's id is made negative
 *     here, after the error check, as libc does.
 *   - F_SETLKW, F_SETLKW64 and F_OFD_SETLKW are cancellation points in
 *     glibc and musl.  A raw system call is none: a thread cancelled
 *     while it waits for a lock here goes on waiting (libsingle(7),
 *     Limits).
 * musl does as much (its F_SETFL also adds O_LARGEFILE, which the kernel
 * ignores there).  The answer as libc gives it: -1 and errno on
 * failure. */
static int fcntl_getown(int fd)
{
	struct f_owner_ex ex = { 0, 0 };
	long rc = sys_fcntl(fd, F_GETOWN_EX, (long)&ex);

	if (rc < 0)
		return answer(rc);
	return ex.type == F_OWNER_PGRP ? -ex.pid : ex.pid;
}

static int fcntl_passed(int fd, int cmd, void *arg)
{
	if (cmd == F_GETOWN)
		return fcntl_getown(fd);
	return answer(sys_fcntl(fd, cmd, (long)arg));
}

#if defined(__GLIBC__) && !defined(__OFF_T_MATCHES_OFF64_T)
/* glibc's fcntl where off_t is 32 bits (i386, not x32): its struct
 * flock has 32-bit offsets, whatever _FILE_OFFSET_BITS this file was
 * compiled with (a program built with 64-bit offsets calls fcntl64).
 * The kernel's fcntl64 reads that layout for F_GETLK, F_SETLK and
 * F_SETLKW, but struct flock64 for the F_OFD_ commands: those are
 * converted both ways, as glibc does, and an answer whose offsets do not
 * fit fails with EOVERFLOW.  musl's struct flock is the 64-bit one on
 * every machine, as is glibc's wherever off_t is 64 bits. */
struct flock32 {
	short type, whence;
	int32_t start, len;
	int pid;
};

static int fcntl_passed32(int fd, int cmd, void *arg)
{
	struct flock32 *fl = arg;
	struct sys_flock64 fl64;
	long rc;

	if (cmd != F_OFD_GETLK && cmd != F_OFD_SETLK && cmd != F_OFD_SETLKW)
		return fcntl_passed(fd, cmd, arg);
	fl64 = (struct sys_flock64){ .type = fl->type, .whence = fl->whence,
				     .start = fl->start, .len = fl->len,
				     .pid = fl->pid };
	rc = sys_fcntl(fd, cmd, (long)&fl64);
	if (rc < 0 || cmd == F_OFD_SETLK)
		return answer(rc);
	if (fl64.start != (int32_t)fl64.start || fl64.len != (int32_t)fl64.len)
		return fail(EOVERFLOW);
	fl->type = fl64.type;
	fl->whence = fl64.whence;
	fl->start = (int32_t)fl64.start;
	fl->len = (int32_t)fl64.len;
	fl->pid = fl64.pid;
	return (int)rc;
}
#else
#define fcntl_passed32 fcntl_passed
#endif

/* fcntl and fcntl64 alike: a hidden number is closed for every command,
 * F_DUPFD gives what it would without us, the rest goes to pass. */
static int fcntl_checked(int fd, int cmd, void *arg,
			 int (*pass)(int, int, void *))
{
	if (hidden_here(fd))
		return fail(EBADF);
	if (is_dupfd(cmd))
		return answer(dupfd_checked(fd, cmd, (long)arg));
	return pass(fd, cmd, arg);
}

/* The argument is read as glibc reads it, a pointer-sized word, and
 * passed on untouched: for commands that take a pointer (F_GETLK,
 * F_OFD_SETLK, F_SETOWN_EX, ...) it is one. */
SINGLE_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_checked(fd, cmd, arg, fcntl_passed32);
}

/* glibc 2.28 and later export fcntl64, which programs built with
 * _FILE_OFFSET_BITS=64 call.  Where off_t is 64 bits already it is the
 * same function as fcntl.  Elsewhere (i386) its struct flock is the
 * 64-bit one the kernel's fcntl64 takes as it is. */
SINGLE_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_checked(fd, cmd, arg, fcntl_passed);
}

/* A 32-bit program built with _TIME_BITS=64 (glibc 2.34 and later) calls
 * fcntl by this name: the same function as fcntl64. */
#if defined(__GLIBC__) && !defined(__LP64__)
SINGLE_EXPORT int __fcntl_time64(int fd, int cmd, ...) __attribute__((alias("fcntl64")));
#endif

/* ---- exec ------------------------------------------------------------- */

struct exec_args {
	const char *path;
	char *const *argv;
	int dirfd, flags;
};

static long do_execve(const void *ctx, char *const envp[])
{
	const struct exec_args *a = ctx;

	return SYS_(SYS_execve, a->path, a->argv, envp, 0, 0, 0);
}

static execvpe_fn *real_execvpe;

/* Looked up before exec_carrying, which takes hide.c's guard: the
 * loader's lock is not one to wait for under it. */
static void execvpe_find(void)
{
	if (!__atomic_load_n(&real_execvpe, __ATOMIC_ACQUIRE))
		__atomic_store_n(&real_execvpe,
				 (execvpe_fn *)dlsym(RTLD_NEXT, "execvpe"),
				 __ATOMIC_RELEASE);
}

/* libc's execvpe: it searches PATH (and runs a script without "#!"
 * through /bin/sh), which the kernel does not. */
static long do_execvpe(const void *ctx, char *const envp[])
{
	execvpe_fn *real = __atomic_load_n(&real_execvpe, __ATOMIC_ACQUIRE);
	const struct exec_args *a = ctx;
	int saved = errno, rc;

	if (!real)
		return -ENOSYS;
	rc = real(a->path, a->argv, envp) < 0 ? -errno : 0;
	errno = saved;
	return rc;
}

static long do_execveat(const void *ctx, char *const envp[])
{
	const struct exec_args *a = ctx;

	return SYS_(SYS_execveat, a->dirfd, a->path, a->argv, envp, a->flags, 0);
}

static long do_fexecve(const void *ctx, char *const envp[])
{
	const struct exec_args *a = ctx;
	char proc[32] = "/proc/self/fd/";
	long rc = SYS_(SYS_execveat, a->dirfd, "", a->argv, envp,
		       SYS_AT_EMPTY_PATH, 0);

	if (rc != -ENOSYS)
		return rc;
	/* kernels before 3.19: the way glibc falls back */
	format_u64(proc + 14, (uint64_t)a->dirfd);
	return SYS_(SYS_execve, proc, a->argv, envp, 0, 0, 0);
}

SINGLE_EXPORT int execve(const char *path, char *const argv[],
			 char *const envp[])
{
	struct exec_args a = { path, argv, 0, 0 };

	return answer(exec_carrying(envp, do_execve, &a));
}

SINGLE_EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

SINGLE_EXPORT int execvpe(const char *file, char *const argv[],
			  char *const envp[])
{
	struct exec_args a = { file, argv, 0, 0 };

	execvpe_find();
	return answer(exec_carrying(envp, do_execvpe, &a));
}

SINGLE_EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

SINGLE_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	struct exec_args a = { NULL, argv, fd, 0 };

	if (fd < 0)
		return fail(EINVAL);
	return answer(exec_carrying(envp, do_fexecve, &a));
}

SINGLE_EXPORT int execveat(int dirfd, const char *path, char *const argv[],
			   char *const envp[], int flags)
{
	struct exec_args a = { path, argv, dirfd, flags };

	return answer(exec_carrying(envp, do_execveat, &a));
}

/* The execl family: gather the variadic arguments into an array on the
 * stack, as glibc does.  The arguments name a declaration and a va_list:
 * they cannot be parenthesised. */
/* NOLINTBEGIN(bugprone-macro-parentheses) */
#define GATHER_ARGS(arg, argv, ap, envp_out)                            \
	size_t argc_ = 1;                                               \
	va_start(ap, arg);                                              \
	while (va_arg(ap, const char *))                                \
		argc_++;                                                \
	va_end(ap);                                                     \
	char *argv[argc_ + 1];                                          \
	argv[0] = (char *)arg;                                          \
	va_start(ap, arg);                                              \
	for (size_t i_ = 1; i_ <= argc_; i_++)                          \
		argv[i_] = va_arg(ap, char *);                          \
	envp_out;                                                       \
	va_end(ap)
/* NOLINTEND(bugprone-macro-parentheses) */

SINGLE_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;

	GATHER_ARGS(arg, argv, ap, (void)0);
	return execve(path, argv, environ);
}

SINGLE_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;

	GATHER_ARGS(arg, argv, ap, (void)0);
	return execvpe(file, argv, environ);
}

SINGLE_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	char **envp;

	GATHER_ARGS(arg, argv, ap, envp = va_arg(ap, char **));
	return execve(path, argv, envp);
}

/* ---- syscall() -------------------------------------------------------- */

#if SYS_RAW
/* What a program asks of the kernel through libc's syscall() reaches the
 * calls above when it concerns them; everything else goes to the kernel
 * with all six arguments, as libc's syscall() passes them (it reads six
 * words whatever the call takes).  Where sys.h has no raw sequence the
 * library makes its own calls through libc's syscall(), which then
 * cannot be interposed, and is not. */
static long syscall_checked(long n, const long a[6])
{
	struct exec_args ex = { (const char *)a[0], (char *const *)a[1], 0, 0 };

	switch (n) {
	case SYS_close:
		return close_checked((int)a[0]);
	case SYS_close_range:
		return close_range_checked((unsigned)a[0], (unsigned)a[1], (int)a[2]);
#ifdef SYS_dup2
	case SYS_dup2:
		return dup_checked((int)a[0], (int)a[1], 0, 0);
#endif
	case SYS_dup3:
		return dup_checked((int)a[0], (int)a[1], 1, (int)a[2]);
#ifdef SYS_fcntl64
	case SYS_fcntl64:
#endif
	case SYS_fcntl:
		if (hidden_here((int)a[0]))
			return -EBADF;
		if (is_dupfd((int)a[1]))
			return dupfd_checked((int)a[0], (int)a[1], a[2]);
		break;
	case SYS_execve:
		return exec_carrying((char *const *)a[2], do_execve, &ex);
	case SYS_execveat:
		ex = (struct exec_args){ (const char *)a[1], (char *const *)a[2],
					 (int)a[0], (int)a[4] };
		return exec_carrying((char *const *)a[3], do_execveat, &ex);
	default:
		break;
	}
	return SYS_(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

SINGLE_EXPORT long syscall(long n, ...)
{
	va_list ap;
	long a[6];

	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	return answer_long(syscall_checked(n, a));
}
#endif
