/* SPDX-License-Identifier: MIT */
/* What the kernel says about what was started.
 *
 * Facts only: which file runs, which script a "#!" start names
 * (AT_EXECFN), where a path really leads, what PATH finds, what kind of
 * executable a file is.  Deciding what they mean for the key is key.c's
 * work; nothing here calls it.
 *
 * /proc is the quick way to most answers, not the only one: in a chroot
 * or a minimal container without it, the program is AT_EXECFN resolved
 * through the file system.
 *
 * Only regular files are opened: opening a FIFO to look for a "#!" line
 * would release a writer blocked on it (bare `env /tmp/fifo` opens
 * nothing but what it execs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/stat.h>

#include "single.h"
#include "sys.h"

#define DELETED " (deleted)"

static const char *execfn(void)
{
	return (const char *)getauxval(AT_EXECFN);
}

/* /proc/self/exe names a file that no longer has a name (a memfd, or a
 * file deleted since): its identity instead, as dev:ino. */
static int exe_unnamed(char out[PATH_MAX], size_t n, struct program_id *id)
{
	struct fileinfo fi;

	if (n < sizeof DELETED || !str_eq(out + n - (sizeof DELETED - 1), DELETED) ||
	    sys_fileinfo(AT_FDCWD, "/proc/self/exe", 0, &fi) < 0 || fi.nlink != 0)
		return 0;
	id->dev = fi.dev;
	id->ino = fi.ino;
	return 1;
}

/* ld.so run as a command ("ld.so /path/prog"), which AT_BASE 0 tells
 * (the kernel started the loader as the program): /proc/self/exe is the
 * loader.  glibc's loader sets AT_EXECFN to the program it runs; musl's
 * leaves it naming the loader, a file without an interpreter of its own,
 * and argv[0] is then the path it opened. */
static const char *loader_command_program(const char *fn, const char *argv0)
{
	if (argv0 && (program_kind(fn, NULL) & EXEC_STATIC))
		return argv0;
	return fn;
}

int program_exe(char out[PATH_MAX], struct program_id *id, const char *argv0)
{
	const char *fn = execfn();
	ssize_t n;

	id->dev = id->ino = 0;
	if (getauxval(AT_BASE) == 0 && fn)
		return path_resolve(loader_command_program(fn, argv0), out);
	n = sys_readlinkat(AT_FDCWD, "/proc/self/exe", out, PATH_MAX - 1);
	if (n > 0) {
		out[n] = '\0';
		exe_unnamed(out, (size_t)n, id);
		return 0;
	}
	/* no /proc: the file the kernel was asked to run */
	if (fn && path_resolve(fn, out) == 0)
		return 0;
	return n < 0 ? (int)n : -ENOENT;
}

const char *program_script(int argc, char **argv)
{
	const char *fn = execfn();

	if (!fn)
		return NULL;
	for (int i = 1; i < argc && i <= 2; i++)
		if (str_eq(argv[i], fn))
			return fn;
	return NULL;
}

int program_is_exe(const char *path)
{
	struct fileinfo exe, file;

	if (sys_fileinfo(AT_FDCWD, "/proc/self/exe", 0, &exe) < 0) {
		/* no /proc: a "#!" start's AT_EXECFN is a script, not ELF */
		int fd = program_open_regular(path);
		int kind = fd >= 0 ? elf_kind(fd) : EXEC_OTHER;

		if (fd >= 0)
			sys_close(fd);
		return kind != EXEC_SCRIPT && kind != EXEC_OTHER;
	}
	return sys_fileinfo(AT_FDCWD, path, 0, &file) == 0 &&
	       exe.dev == file.dev && exe.ino == file.ino;
}

/* The resolution without /proc, in a frame of its own. */
static __attribute__((noinline)) int resolve_without_proc(const char *in,
							  char out[PATH_MAX])
{
	char copy[PATH_MAX];
	size_t n = str_len(in);

	if (n >= PATH_MAX)
		return -ENAMETOOLONG;
	mem_copy(copy, in, n + 1);      /* realpath may not overlap */
	return realpath(copy, out) ? 0 : -ENOENT;
}

/* Open the file without following into it (O_PATH) and ask /proc where
 * the descriptor leads: three system calls however deep the path. */
int path_resolve(const char *in, char out[PATH_MAX])
{
	char proc[32] = "/proc/self/fd/";
	ssize_t n;
	int fd = sys_openat(AT_FDCWD, in, O_PATH | O_CLOEXEC, 0);

	if (fd < 0)
		return fd;
	format_u64(proc + 14, (uint64_t)fd);
	n = sys_readlinkat(AT_FDCWD, proc, out, PATH_MAX - 1);
	sys_close(fd);
	if (n > 0 && out[0] == '/') {
		out[n] = '\0';
		return 0;
	}
	return resolve_without_proc(in, out);
}

int path_search(const char *cmd, char out[PATH_MAX])
{
	const char *path = env_get("PATH");
	size_t clen = str_len(cmd);

	if (str_chr(cmd, '/')) {
		if (clen >= PATH_MAX)
			return -1;
		mem_copy(out, cmd, clen + 1);
		return 0;
	}
	if (!path)
		path = "/bin:/usr/bin";
	for (;;) {
		const char *end = path;
		size_t n;

		while (*end && *end != ':')
			end++;
		n = (size_t)(end - path);
		/* an empty entry is the current directory, as for execvp */
		if (n + 1 + clen < PATH_MAX) {
			mem_copy(out, path, n);
			if (n)
				out[n++] = '/';
			mem_copy(out + n, cmd, clen + 1);
			if (SYS_(SYS_faccessat, AT_FDCWD, out, X_OK, 0, 0, 0) == 0)
				return 0;
		}
		if (!*end)
			return -1;
		path = end + 1;
	}
}

int program_open_regular(const char *path)
{
	const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	char proc[32] = "/proc/self/fd/";
	struct fileinfo fi;
	int fd = sys_openat(AT_FDCWD, path, O_PATH | O_CLOEXEC, 0), rc;

	if (fd < 0)
		return fd;
	if ((rc = sys_fileinfo(fd, "", SYS_AT_EMPTY_PATH, &fi)) < 0 || !S_ISREG(fi.mode)) {
		sys_close(fd);
		return rc < 0 ? rc : -EINVAL;
	}
	/* the very file looked at, opened for reading through /proc */
	format_u64(proc + 14, (uint64_t)fd);
	rc = sys_openat(AT_FDCWD, proc, flags, 0);
	sys_close(fd);
	if (rc != -ENOENT)
		return rc;
	/* no /proc: opened by name, and looked at once more */
	fd = sys_openat(AT_FDCWD, path, flags, 0);
	if (fd >= 0 && (sys_fileinfo(fd, "", SYS_AT_EMPTY_PATH, &fi) < 0 ||
			!S_ISREG(fi.mode))) {
		sys_close(fd);
		return -EINVAL;
	}
	return fd;
}

int program_kind(const char *path, char interp[PATH_MAX])
{
	int fd = program_open_regular(path), kind;
	ssize_t n;

	if (fd < 0)
		return EXEC_OTHER;
	kind = elf_kind(fd);
	if (kind == EXEC_SCRIPT && interp) {
		/* "#!INTERP [ARG]": the interpreter's own kind decides */
		n = sys_pread(fd, interp, PATH_MAX - 1, 0);
		interp[n > 0 ? n : 0] = '\0';
		if (n > 2) {
			char *p = interp + 2, *e;

			while (*p == ' ' || *p == '\t')
				p++;
			for (e = p; *e && *e != ' ' && *e != '\t' && *e != '\n'; e++)
				;
			*e = '\0';
			mem_copy(interp, p, (size_t)(e - p) + 1);
		}
	}
	sys_close(fd);
	return kind;
}
