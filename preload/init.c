/* The constructor: runs before the program's main() and decides whether
 * main() runs at all.
 *
 * A skipped start ends with _exit(): exit() would run the program's
 * atexit handlers and flush stdio buffers that belong to a main() that
 * never ran.  Nothing here allocates, and errno is left as it was found.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "single.h"

extern int __close(int fd);

static const char *self_base = "libsingle.so";
static const char *const settings_names[] = {
	ENV_KEY, ENV_DIR, ENV_WAIT, ENV_CONFLICT_EXIT, ENV_VERBOSE,
	ENV_ON_ERROR, ENV_SCOPE, ENV_MAX, ENV_REPLACE, ENV_EXPLAIN,
};

/* Which LD_PRELOAD entry loaded us: exec carries it to the next image,
 * spelled the same way ("/usr/$LIB/libsingle.so" stays multilib). */
static void self_find(void)
{
	static char self_path[PATH_MAX];
	const char *preload = getenv("LD_PRELOAD");
	Dl_info info;

	if (dladdr((void *)self_find, &info) && info.dli_fname &&
	    strlen(info.dli_fname) < sizeof self_path) {
		strcpy(self_path, info.dli_fname);
		self_base = path_basename(self_path);
		exec_remember_self(self_path);
	}
	while (preload && *preload) {
		size_t n = strcspn(preload, ": \t");
		char entry[PATH_MAX];

		if (n && n < sizeof entry) {
			memcpy(entry, preload, n);
			entry[n] = '\0';
			if (!strcmp(path_basename(entry), self_base)) {
				exec_remember_self(entry);
				return;
			}
		}
		preload += n + (preload[n] != '\0');
	}
}

/* Children are not the program: take ourselves out of LD_PRELOAD and our
 * settings out of the environment, unless SINGLE_PROGRAMS asks for the
 * library to stay for every program.  Both edits shorten or drop entries
 * in place: nothing is allocated. */
static void leave_environment(const struct settings *st)
{
	char *preload = getenv("LD_PRELOAD");

	if (st->programs)
		return;
	if (preload && preload_remove(preload, self_base) && !*preload)
		unsetenv("LD_PRELOAD");
	for (size_t i = 0; i < sizeof settings_names / sizeof *settings_names; i++)
		if (getenv(settings_names[i]))
			unsetenv(settings_names[i]);
}

static void say_out(const char *fmt, const char *a, const char *b)
{
	char line[PATH_MAX * 2];
	int n = snprintf(line, sizeof line, fmt, a, b);

	if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) < 0)
		return;
}

/* The key as a person reads it: the program, then what picks it out. */
static void explain_key(const struct settings *st, const struct program *p)
{
	if (st->key) {
		say_out("key: %s%s\n", st->key, " (SINGLE_KEY)");
		return;
	}
	say_out("key: %s%s", p->path, p->inline_flag[0] ? " " : "");
	if (p->inline_flag[0])
		say_out("%s %s", p->inline_flag, p->inline_text);
	for (int i = 0; st->scope == SCOPE_COMMAND && i < p->nargs; i++)
		say_out(" %s%s", p->args[i], "");
	say_out("\n%s%s", "", "");
}

static int lock_name(const struct settings *st, const struct program *p,
		     char name[LOCKNAME_MAX])
{
	int nargs = st->scope == SCOPE_COMMAND ? p->nargs : 0;
	char *parts[nargs + 2];
	int n = 0;

	if (st->key)
		return lockname_named(name, LOCKNAME_MAX, st->key);
	if (p->inline_flag[0]) {
		parts[n++] = (char *)p->inline_flag;
		parts[n++] = (char *)p->inline_text;
	}
	for (int i = 0; i < nargs; i++)
		parts[n++] = p->args[i];
	return lockname_for(name, LOCKNAME_MAX, p->path, parts, n);
}

/* SINGLE_PROGRAMS: is this one of them?  Names are settled without a
 * system call; only a list with a path in it needs the resolved path. */
static int listed(const struct settings *st, int argc, char **argv,
		  struct program *p, int *identified)
{
	program_started_as(p, argc, argv);
	if (programs_match(st->programs, p->started_as, NULL))
		return 1;
	if (!programs_has_path(st->programs))
		return 0;
	*identified = program_identify(p, argc, argv) == 0;
	return *identified && programs_match(st->programs, p->started_as, p->path);
}

static void run(int argc, char **argv)
{
	struct settings st;
	struct program prog;
	struct lockdir dir = { .fd = -1 };
	struct lock_request rq;
	char name[LOCKNAME_MAX];
	int identified = 0, status = 0;

	if (settings_read(&st) < 0)
		_exit(EXIT_USAGE);
	if (st.programs && !listed(&st, argc, argv, &prog, &identified)) {
		if (st.explain) {
			say_out("not locked: %s is not in %s\n", prog.started_as,
				ENV_PROGRAMS);
			_exit(0);
		}
		return;
	}
	if (!identified && program_identify(&prog, argc, argv) < 0) {
		say("cannot tell which program %s is: %s", argv[0],
		    strerror(errno));
		status = EXIT_OSERR;
		goto error;
	}
	if (lock_name(&st, &prog, name) < 0) {
		say("cannot name the lock for %s", prog.path);
		status = EXIT_OSERR;
		goto error;
	}
	rq.st = &st;
	rq.label = st.key ? st.key : prog.started_as;
	rq.name = name;
	if (st.explain) {
		explain_key(&st, &prog);
		if ((status = lockdir_open(&dir, st.dir)))
			_exit(status);
		lock_explain(&rq, &dir);
		_exit(0);
	}
	switch (lock_take(&rq, &dir, &status)) {
	case LOCK_TAKEN:
		leave_environment(&st);
		return;
	case LOCK_BUSY:
		_exit(st.conflict_exit);
	case LOCK_ANCESTOR:
		__close(dir.fd);
		leave_environment(&st);
		return;
	case LOCK_ERROR:
		break;
	}
error:
	if (st.on_error != ON_ERROR_RUN)
		_exit(status);
	if (dir.fd >= 0)
		__close(dir.fd);
	leave_environment(&st);
}

__attribute__((constructor)) static void single_init(int argc, char **argv)
{
	int saved = errno;

	self_find();
	interpose_init();
	if (held_adopt()) {
		struct settings st = { .programs = getenv(ENV_PROGRAMS) };

		leave_environment(&st);
	} else if (argc > 0) {
		run(argc, argv);
	}
	errno = saved;
}
