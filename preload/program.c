/* What program is this?  The facts come from the kernel; key.c reads
 * the command line.
 *
 * The program is the file that was executed, symlinks resolved.  The
 * kernel tells which file that was even for a "#!" script, whose process
 * runs the interpreter: AT_EXECFN names the script, and the kernel puts
 * the same string into argv right after the interpreter (and its one
 * optional argument).  An interpreter started by name on a script file is
 * keyed by that script, and a launcher (env, nice, nohup, ...) by the
 * command it runs.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "single.h"
#include "sys.h"

extern int __close(int fd);   /* glibc's close, not ours */

/* Resolve a path the way the kernel sees the file: open it without
 * following into it and ask /proc.  Three system calls, however deep the
 * path; realpath() is the fallback where /proc is missing. */
static int resolve(const char *in, char out[PATH_MAX])
{
	char proc[32], copy[PATH_MAX];
	ssize_t n;
	int fd = open(in, O_PATH | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (in == out)
		in = strcpy(copy, in);
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	n = readlink(proc, out, PATH_MAX - 1);
	__close(fd);
	if (n > 0 && out[0] == '/') {
		out[n] = '\0';
		return 0;
	}
	return realpath(in, out) ? 0 : -1;
}

static int self_exe(char out[PATH_MAX])
{
	ssize_t n = sys_readlink("/proc/self/exe", out, PATH_MAX - 1);

	if (n <= 0)
		return -1;
	out[n] = '\0';
	return 0;
}

/* The script of a "#!" start, or NULL: AT_EXECFN, when the kernel put it
 * into argv after the interpreter. */
static const char *started_script(int argc, char **argv)
{
	const char *fn = (const char *)getauxval(AT_EXECFN);

	if (!fn)
		return NULL;
	for (int i = 1; i < argc && i <= 2; i++)
		if (str_eq(argv[i], fn))
			return fn;
	return NULL;
}

/* Find a command on PATH as execvp would, into out. */
static int path_search(const char *cmd, char out[PATH_MAX])
{
	const char *path = getenv("PATH");

	if (strchr(cmd, '/')) {
		if (strlen(cmd) >= PATH_MAX)
			return -1;
		strcpy(out, cmd);
		return 0;
	}
	if (!path)
		path = "/bin:/usr/bin";
	while (*path) {
		const char *end = strchrnul(path, ':');
		int n = (int)(end - path);

		if (snprintf(out, PATH_MAX, "%.*s%s%s", n, path, n ? "/" : "",
			     cmd) < PATH_MAX && access(out, X_OK) == 0)
			return 0;
		path = *end ? end + 1 : end;
	}
	return -1;
}

/* Does the file start with "#!"?  A launcher's command may be a script. */
static int is_script(const char *path)
{
	char head[2];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int yes;

	if (fd < 0)
		return 0;
	yes = read(fd, head, 2) == 2 && head[0] == '#' && head[1] == '!';
	__close(fd);
	return yes;
}

static void set_args(struct program *p, char **argv, int from, int argc)
{
	p->args = argv + from;
	p->nargs = from < argc ? argc - from : 0;
}

/* An interpreter's command line: the script, the code, or itself. */
static int identify_interpreted(struct program *p, int argc, char **argv)
{
	const struct interp *in = interp_find(path_basename(p->path));
	struct run run;

	if (!in)
		return 0;
	interp_parse(in, argc, argv, &run);
	switch (run.kind) {
	case RUN_SCRIPT:
		if (resolve(run.what, p->path) < 0)
			return -1;
		set_args(p, argv, run.rest, argc);
		break;
	case RUN_INLINE:
	case RUN_MODULE:
		/* keyed by interpreter, option and text: argv points at
		 * the text, the option is kept in inline_flag */
		memcpy(p->inline_flag, run.flag, sizeof run.flag);
		p->inline_text = run.what;
		set_args(p, argv, run.rest, argc);
		break;
	case RUN_SELF:
		break;
	}
	return 0;
}

void program_started_as(struct program *p, int argc, char **argv)
{
	const char *script = started_script(argc, argv);
	const char *fn = script ? script : (const char *)getauxval(AT_EXECFN);
	const char *base = path_basename(fn ? fn : argv[0]);
	const struct interp *in;
	int cmd;

	p->started_as = base;
	if (script)
		return;
	if ((cmd = launcher_command(base, argc, argv)) > 0) {
		argv += cmd;
		argc -= cmd;
		base = p->started_as = path_basename(argv[0]);
	}
	if ((in = interp_find(base))) {
		struct run run;

		interp_parse(in, argc, argv, &run);
		if (run.kind == RUN_SCRIPT)
			p->started_as = path_basename(run.what);
	}
}

int program_identify(struct program *p, int argc, char **argv)
{
	const char *script = started_script(argc, argv);
	int cmd;

	p->inline_flag[0] = '\0';
	p->inline_text = NULL;
	set_args(p, argv, 1, argc);
	if (script) {
		/* "#!" start: the script, unless argv merely repeats the
		 * binary's own name ("cat /usr/bin/cat") */
		char exe[PATH_MAX];

		if (resolve(script, p->path) == 0 && self_exe(exe) == 0 &&
		    strcmp(exe, p->path) != 0) {
			for (int i = 1; i < argc; i++)
				if (argv[i] == script || !strcmp(argv[i], script)) {
					set_args(p, argv, i + 1, argc);
					break;
				}
			return 0;
		}
	}
	if (self_exe(p->path) < 0)
		return -1;
	cmd = launcher_command(path_basename(p->path), argc, argv);
	if (cmd > 0) {
		argv += cmd;
		argc -= cmd;
		/* not found: the launcher will fail on its own; key it */
		if (path_search(argv[0], p->path) < 0 ||
		    resolve(p->path, p->path) < 0)
			return self_exe(p->path);
		set_args(p, argv, 1, argc);
		if (is_script(p->path))
			return 0;
	}
	return identify_interpreted(p, argc, argv);
}
