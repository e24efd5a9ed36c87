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
 * environment is built on the stack.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "single.h"

static char self_entry[PATH_MAX];   /* how LD_PRELOAD named us */

void exec_remember_self(const char *entry)
{
	size_t n = strlen(entry);

	if (n < sizeof self_entry)
		memcpy(self_entry, entry, n + 1);
}

static int holding(void)
{
	return __atomic_load_n(&hidden_fd[HIDDEN_LOCK], __ATOMIC_ACQUIRE) >= 0 &&
	       getpid() == holder_pid;
}

static void set_cloexec(int on)
{
	for (int w = 0; w < HIDDEN_N; w++) {
		int fd = __atomic_load_n(&hidden_fd[w], __ATOMIC_ACQUIRE);

		if (fd >= 0)
			fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0);
	}
}

static const char *env_value(char *const envp[], const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++)
		if (!strncmp(*envp, name, n) && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static size_t env_count(char *const envp[])
{
	size_t n = 0;

	while (envp && envp[n])
		n++;
	return n;
}

static int is_var(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(entry, name, n) && entry[n] == '=';
}

int exec_carrying(char *const envp[], exec_fn fn, const void *ctx)
{
	if (!holding())
		return fn(ctx, envp);

	const char *old = env_value(envp, "LD_PRELOAD");
	const char *self_base = path_basename(self_entry);
	size_t n = env_count(envp), k = 0;
	char *env2[n + 3];
	char preload[sizeof "LD_PRELOAD=" + strlen(self_entry) + 1 +
		     (old ? strlen(old) : 0)];
	char held[96];
	struct stat st;
	int rc, err;

	if (old && preload_has(old, self_base, NULL))
		snprintf(preload, sizeof preload, "LD_PRELOAD=%s", old);
	else
		snprintf(preload, sizeof preload, "LD_PRELOAD=%s%s%s", self_entry,
			 old && *old ? ":" : "", old ? old : "");
	if (fstat(hidden_fd[HIDDEN_LOCK], &st) < 0)
		return fn(ctx, envp);
	snprintf(held, sizeof held, "%s=%d:%d:%lu:%lu:%d", var_name(VAR_HELD),
		 hidden_fd[HIDDEN_LOCK], hidden_fd[HIDDEN_DIR],
		 (unsigned long)st.st_dev, (unsigned long)st.st_ino,
		 (int)holder_pid);
	env2[k++] = preload;
	env2[k++] = held;
	for (size_t i = 0; i < n; i++)
		if (!is_var(envp[i], "LD_PRELOAD") && !is_var(envp[i], var_name(VAR_HELD)))
			env2[k++] = envp[i];
	env2[k] = NULL;

	set_cloexec(0);
	rc = fn(ctx, env2);
	err = errno;
	set_cloexec(1);
	errno = err;
	return rc;
}

/* The new image's side: take over what SINGLE_HELD names, if it really
 * is ours (same process, descriptors open on the same file).  Returns 1
 * when SINGLE_HELD was there at all: a process that finds it without
 * being the holder is a child of a program the library could not reach
 * (a static binary run through single(1)), and is left alone.  The
 * caller takes SINGLE_HELD out of the environment either way. */
int held_adopt(const char *v)
{
	int lockfd, dirfd, pid;
	unsigned long dev, ino;
	struct stat st;

	if (!v)
		return 0;
	if (sscanf(v, "%d:%d:%lu:%lu:%d", &lockfd, &dirfd, &dev, &ino, &pid) == 5 &&
	    pid == getpid() && fstat(lockfd, &st) == 0 &&
	    st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino) {
		fcntl(lockfd, F_SETFD, FD_CLOEXEC);
		fcntl(dirfd, F_SETFD, FD_CLOEXEC);
		holder_pid = pid;
		hidden_adopt(lockfd, dirfd);
	}
	return 1;
}
