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
#include <sys/file.h>
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
	       (held_for_command || sys_getpid() == holder_pid);
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

/* SINGLE_HELD=LOCKFD:DIRFD:DEV:INO:PID, one such entry for each lock
 * held, separated by commas; PID is the process that makes the exec.
 * Returns the end of what it wrote, or NULL when a lock's descriptor is
 * not open. */
static char *held_entry(char *out, const struct carried *c)
{
	pid_t self = sys_getpid();

	out = append(out, var_name(VAR_HELD));
	for (int w = HIDDEN_LOCK; w < HIDDEN_N; w += 2) {
		int lockfd = c->fd[w + HIDDEN_LOCK], dirfd = c->fd[w + HIDDEN_DIR];
		struct fileinfo fi;

		if (lockfd < 0)
			continue;
		if (sys_fileinfo(lockfd, "", SYS_AT_EMPTY_PATH, &fi) < 0)
			return NULL;
		out = append(out, w == HIDDEN_LOCK ? "=" : ",");
		out = append_number(out, (uint64_t)lockfd);
		out = append(out, ":");
		out = append_number(out, (uint64_t)(dirfd >= 0 ? dirfd : lockfd));
		out = append(out, ":");
		out = append_number(out, fi.dev);
		out = append(out, ":");
		out = append_number(out, fi.ino);
		out = append(out, ":");
		out = append_number(out, (uint64_t)self);
	}
	return out;
}

static int carry_env_build(struct carry_env *ce, char *const envp[],
			   const struct carried *c)
{
	const char *old = env_value(envp, "LD_PRELOAD");
	size_t n = env_count(envp), k = 0;
	size_t plen = sizeof "LD_PRELOAD=" + str_len(self_entry) + 1 +
		      (old ? str_len(old) : 0);
	/* "SINGLE_HELD=", then five numbers of up to 20 digits and their
	 * separators for each lock */
	const size_t hlen = 16 + HELD_MAX * 5 * 21;
	char *preload, *held, *p;

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
	if (!held_entry(held, c)) {
		sys_munmap(ce->env, ce->size);
		return -EBADF;
	}
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

/* One number of SINGLE_HELD, up to max: the character after it (then
 * skipped), or -1. */
static int held_number(const char **s, uint64_t max, uint64_t *out)
{
	const char *p = scan_u64(*s, max, out);

	if (!p)
		return -1;
	*s = *p ? p + 1 : p;
	return (unsigned char)*p;
}

/* One entry, LOCKFD:DIRFD:DEV:INO:PID */
struct held_one {
	uint64_t lockfd, dirfd, dev, ino, pid;
};

/* The next entry into h: what ends it (',' or '\0'), or -1. */
static int held_parse(const char **p, struct held_one *h)
{
	int end;

	if (held_number(p, INT_MAX, &h->lockfd) != ':' ||
	    held_number(p, INT_MAX, &h->dirfd) != ':' ||
	    held_number(p, UINT64_MAX, &h->dev) != ':' ||
	    held_number(p, UINT64_MAX, &h->ino) != ':')
		return -1;
	end = held_number(p, INT_MAX, &h->pid);
	return end == ',' || end == '\0' ? end : -1;
}

/* Does h name a descriptor of this process that holds the exclusive lock
 * on the file it says?  Where /proc cannot tell, the lock is asked for
 * without waiting through that descriptor: it is granted at once when
 * the descriptor holds it already (and, there, when nobody did). */
static int held_valid(const struct held_one *h)
{
	struct fileinfo fi;
	int r;

	if (sys_fileinfo((int)h->lockfd, "", SYS_AT_EMPTY_PATH, &fi) < 0 ||
	    fi.dev != h->dev || fi.ino != h->ino || !S_ISREG(fi.mode))
		return 0;
	if ((r = self_holds((int)h->lockfd, &fi)) >= 0)
		return r;
	return sys_flock((int)h->lockfd, LOCK_EX | LOCK_NB) == 0;
}

/* The new image's side.  SINGLE_HELD names the locks the previous image
 * held when it exec'd, and the process that made the exec.  Each entry
 * is believed only if its descriptor really holds that lock here; one
 * that does not (a value left over in an environment, forged, or
 * garbage) is dropped, and with nothing left the start locks as usual.
 * Named by this very process: the locks are adopted and hidden again.
 * Named by another (our parent, a static program the library could not
 * reach, which exec'd from single(1) and then started us): the lock is
 * the parent's, and this child is left alone.  The caller takes
 * SINGLE_HELD out of the environment either way. */
enum held_state held_adopt(const char *v)
{
	pid_t self = sys_getpid();
	const char *p = v;
	struct held_one h;
	enum held_state state = HELD_NONE;
	int end = ',';

	while (v && end == ',' && (end = held_parse(&p, &h)) >= 0) {
		struct fileinfo fi;
		int dir = (int)h.dirfd;

		if (!held_valid(&h))
			continue;
		if ((pid_t)h.pid != self) {
			if (state == HELD_NONE)
				state = HELD_INHERITED;
			continue;
		}
		if (dir == (int)h.lockfd ||
		    sys_fileinfo(dir, "", SYS_AT_EMPTY_PATH, &fi) < 0 || !S_ISDIR(fi.mode))
			dir = -1;
		if (hidden_adopt((int)h.lockfd, dir) < 0)
			break;
		sys_fcntl((int)h.lockfd, F_SETFD, FD_CLOEXEC);
		if (dir >= 0)
			sys_fcntl(dir, F_SETFD, FD_CLOEXEC);
		holder_pid = self;
		state = HELD_ADOPTED;
	}
	return state;
}
