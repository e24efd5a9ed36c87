/* SPDX-License-Identifier: MIT */
/* What the kernel says about what was started.
 *
 * Facts only: which file runs (/proc/self/exe), which script a "#!"
 * start names (AT_EXECFN), where a path really leads, what PATH finds,
 * whether a file is a script.  Deciding what they mean for the key is
 * key.c's work; nothing here calls it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/auxv.h>

#include "single.h"
#include "sys.h"

int program_exe(char out[PATH_MAX])
{
	ssize_t n = sys_readlinkat(AT_FDCWD, "/proc/self/exe", out, PATH_MAX - 1);

	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ENOENT;
	out[n] = '\0';
	return 0;
}

const char *program_script(int argc, char **argv)
{
	const char *fn = (const char *)getauxval(AT_EXECFN);

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

	return sys_fileinfo(AT_FDCWD, "/proc/self/exe", 0, &exe) == 0 &&
	       sys_fileinfo(AT_FDCWD, path, 0, &file) == 0 &&
	       exe.dev == file.dev && exe.ino == file.ino;
}

/* Open the file without following into it (O_PATH) and ask /proc where
 * the descriptor leads: three system calls however deep the path.
 * realpath() is the fallback where /proc is missing. */
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
	return realpath(in, out) ? 0 : -ENOENT;
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

int path_is_script(const char *path)
{
	char head[2] = { 0 };
	int fd = sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
	int yes;

	if (fd < 0)
		return 0;
	yes = sys_read(fd, head, 2) == 2 && head[0] == '#' && head[1] == '!';
	sys_close(fd);
	return yes;
}
