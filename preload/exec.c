/* SPDX-License-Identifier: MIT */
/* Keeping the lock through the holder's own exec.
 *
 * When the process that holds the lock execs (a wrapper script ending in
 * "exec real-program", "bash -c 'prog'"), its descriptors are made
 * inheritable for that one exec, the library is put back at the front of
 * LD_PRELOAD and SINGLE_HELD names the descriptors.  The new image's
 * constructor adopts them without locking again, so there is no moment
 * where another instance could get in, and hides them as before.  If the
 * exec fails, close-on-exec is restored and nothing has changed.
 *
 * Everything here runs inside exec*(), which must stay async-signal-safe
 * (a child may exec from a signal handler, or after vfork): the new
 * environment is built without malloc or stdio, in pages of its own, with
 * system calls only (see carry_env_build).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "single.h"
#include "sys.h"

/* How LD_PRELOAD named us, copied (the value is edited in place later)
 * into a buffer small enough to keep the library's .bss within the page
 * its data already uses: a larger one costs every process an mmap. */
static char self_copy[1024];
static const char *self_entry = self_copy;

/* A relative entry ("./libsingle.so", "lib/libsingle.so") was found by
 * ld.so from the working directory of the start, which is the working
 * directory now, in the constructor; the next image may start from
 * another ("cd / && exec prog").  It is carried with that directory in
 * front.  A bare name (ld.so searches the library path for it) and an
 * entry that starts with a dynamic string token ("$LIB/libsingle.so")
 * mean the same wherever the next image starts, and stay as written. */
static int is_relative_path(const char *entry)
{
	return entry[0] != '/' && entry[0] != '$' && str_chr(entry, '/');
}

/* The working directory and a '/' into self_copy: their length, or 0 if
 * the kernel cannot say (a directory removed, or outside our root). */
static size_t cwd_prefix(void)
{
	long n = SYS_(SYS_getcwd, self_copy, sizeof self_copy - 1, 0, 0, 0, 0);

	if (n <= 1 || self_copy[0] != '/')
		return 0;
	if (n == 2)             /* "/" */
		return 1;
	self_copy[n - 1] = '/';
	return (size_t)n;
}

int exec_remember_self(const char *entry, int lasting)
{
	size_t n = str_len(entry), at = 0;

	if (is_relative_path(entry)) {
		at = cwd_prefix();
		if (at + n >= sizeof self_copy)
			at = 0;         /* as written, then */
	} else if (lasting) {
		self_entry = entry;
		return 1;
	}
	if (at + n >= sizeof self_copy)
		return 0;
	mem_copy(self_copy + at, entry, n + 1);
	self_entry = self_copy;
	return 1;
}

static int holding(void)
{
	return __atomic_load_n(&hidden_fd[HIDDEN_LOCK], __ATOMIC_ACQUIRE) >= 0 &&
	       sys_getpid() == holder_pid;
}

/* The descriptors as one exec carries them: read once, under the guard. */
struct carried {
	int fd[HIDDEN_N];
};

static void set_cloexec(const struct carried *c, int on)
{
	for (int w = 0; w < HIDDEN_N; w++)
		if (c->fd[w] >= 0)
			sys_fcntl(c->fd[w], F_SETFD, on ? FD_CLOEXEC : 0);
}

/* The value of NAME=value in entry, or NULL */
static const char *var_value(const char *entry, const char *name)
{
	const char *after = after_prefix(entry, name);

	return after && *after == '=' ? after + 1 : NULL;
}

static const char *env_value(char *const envp[], const char *name)
{
	const char *v;

	for (; envp && *envp; envp++)
		if ((v = var_value(*envp, name)))
			return v;
	return NULL;
}

static size_t env_count(char *const envp[])
{
	size_t n = 0;

	while (envp && envp[n])
		n++;
	return n;
}

/* The new environment: our entry at the front of LD_PRELOAD, SINGLE_HELD,
 * then everything else.  It is built in pages of its own (mmap, which
 * is a plain system call and safe in a signal handler or after vfork),
 * not on the stack: an environment of any size, exec'd from a thread with
 * a small stack, must not overflow it. */
struct carry_env {
	char **env;
	size_t size;
};

/* Text appended to an entry being built in place. */
static char *append(char *to, const char *s)
{
	while (*s)
		*to++ = *s++;
	*to = '\0';
	return to;
}

static char *append_number(char *to, uint64_t v)
{
	return to + format_u64(to, v);
}

/* SINGLE_HELD=LOCKFD:DIRFD:DEV:INO:PID */
static void held_entry(char *out, const struct carried *c,
		       const struct fileinfo *fi)
{
	int dirfd = c->fd[HIDDEN_DIR] >= 0 ? c->fd[HIDDEN_DIR] :
		    c->fd[HIDDEN_LOCK];

	out = append(out, var_name(VAR_HELD));
	out = append(out, "=");
	out = append_number(out, (uint64_t)c->fd[HIDDEN_LOCK]);
	out = append(out, ":");
	out = append_number(out, (uint64_t)dirfd);
	out = append(out, ":");
	out = append_number(out, fi->dev);
	out = append(out, ":");
	out = append_number(out, fi->ino);
	out = append(out, ":");
	append_number(out, (uint64_t)holder_pid);
}

static int carry_env_build(struct carry_env *ce, char *const envp[],
			   const struct carried *c)
{
	const char *old = env_value(envp, "LD_PRELOAD");
	size_t n = env_count(envp), k = 0;
	size_t plen = sizeof "LD_PRELOAD=" + str_len(self_entry) + 1 +
		      (old ? str_len(old) : 0);
	const size_t hlen = 128;
	char *preload, *held, *p;
	struct fileinfo fi;

	if (sys_fileinfo(c->fd[HIDDEN_LOCK], "", SYS_AT_EMPTY_PATH, &fi) < 0)
		return -1;
	ce->size = (n + 3) * sizeof(char *) + plen + hlen;
	if (!(ce->env = sys_mmap_anon(ce->size)))
		return -ENOMEM;
	preload = (char *)(ce->env + n + 3);
	held = preload + plen;
	p = append(preload, "LD_PRELOAD=");
	if (old && preload_has(old, path_basename(self_entry), NULL)) {
		append(p, old);
	} else {
		p = append(p, self_entry);
		if (old && *old)
			append(append(p, ":"), old);
	}
	held_entry(held, c, &fi);
	ce->env[k++] = preload;
	ce->env[k++] = held;
	for (size_t i = 0; i < n; i++)
		if (!var_value(envp[i], "LD_PRELOAD") &&
		    !var_value(envp[i], var_name(VAR_HELD)))
			ce->env[k++] = envp[i];
	ce->env[k] = NULL;
	return 0;
}

/* The exec holds hide.c's guard from the moment it reads the
 * descriptors until the exec has failed (or, having worked, ended this
 * image): no other thread can move them in between, so SINGLE_HELD names
 * the numbers that are inheritable at execve, and they are still ours.
 * The system call itself is made with the program's own signal mask,
 * which execve hands on to the new image; a signal handler of this
 * thread that meets the guard meanwhile finds it its own and goes on
 * (if it moves the descriptors, the exec it interrupted names the old
 * numbers: the limit libsingle(7) states). */
long exec_carrying(char *const envp[], exec_fn fn, const void *ctx)
{
	const uint64_t all[2] = { ~0ULL, ~0ULL };
	struct hidden_guard g;
	struct carried c;
	struct carry_env ce;
	long rc;

	if (!holding())
		return fn(ctx, envp);
	hidden_guard_enter(&g);
	for (int w = 0; w < HIDDEN_N; w++)
		c.fd[w] = __atomic_load_n(&hidden_fd[w], __ATOMIC_ACQUIRE);
	/* out of memory: fail the exec rather than let the lock go */
	if ((rc = carry_env_build(&ce, envp, &c)) < 0) {
		hidden_guard_leave(&g);
		return rc;
	}
	set_cloexec(&c, 0);
	sys_sigprocmask(SIG_SETMASK, g.mask, 0);
	rc = fn(ctx, ce.env);
	sys_sigprocmask(SIG_BLOCK, all, 0);
	/* nested in an exec this thread was making: that one still needs
	 * them inheritable */
	if (!g.nested)
		set_cloexec(&c, 1);
	hidden_guard_leave(&g);
	sys_munmap(ce.env, ce.size);
	return rc;
}

/* One field of SINGLE_HELD: a number up to max, then `end`. */
static int held_field(const char **s, char end, uint64_t max, uint64_t *out)
{
	const char *p = scan_u64(*s, max, out);

	if (!p || *p != end)
		return -1;
	*s = p + 1;
	return 0;
}

/* The new image's side: take over what SINGLE_HELD names, if it really
 * is ours (same process, descriptors open on the same file and
 * directory).  Returns 1 when SINGLE_HELD was there at all: a process
 * that finds it without being the holder is a child of a program the
 * library could not reach (a static binary run through single(1)), and is
 * left alone.  The caller takes SINGLE_HELD out of the environment either
 * way. */
int held_adopt(const char *v)
{
	uint64_t lockfd, dirfd, dev, ino, pid;
	struct fileinfo fi;
	const char *p = v;
	int dir;

	if (!v)
		return 0;
	if (held_field(&p, ':', INT_MAX, &lockfd) < 0 ||
	    held_field(&p, ':', INT_MAX, &dirfd) < 0 ||
	    held_field(&p, ':', UINT64_MAX, &dev) < 0 ||
	    held_field(&p, ':', UINT64_MAX, &ino) < 0 ||
	    held_field(&p, '\0', INT_MAX, &pid) < 0)
		return 1;
	if ((pid_t)pid != sys_getpid() ||
	    sys_fileinfo((int)lockfd, "", SYS_AT_EMPTY_PATH, &fi) < 0 ||
	    fi.dev != dev || fi.ino != ino)
		return 1;
	sys_fcntl((int)lockfd, F_SETFD, FD_CLOEXEC);
	dir = (int)dirfd;
	if (sys_fileinfo(dir, "", SYS_AT_EMPTY_PATH, &fi) == 0 && S_ISDIR(fi.mode))
		sys_fcntl(dir, F_SETFD, FD_CLOEXEC);
	else
		dir = -1;
	holder_pid = (pid_t)pid;
	hidden_adopt((int)lockfd, dir);
	return 1;
}
