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

/* Our file name, as LD_PRELOAD entries end; a copy installed under
 * another name is found through the loader (self_find). */
static const char *self_base = "libsingle.so";

/* Which LD_PRELOAD entry loaded us: exec carries it to the next image,
 * spelled the same way ("/usr/$LIB/libsingle.so" stays multilib).  Only
 * when the library came some other way (/etc/ld.so.preload, or a copy
 * under another name) is the loader asked for our path, which is slower. */
static void self_find(const char *preload)
{
	Dl_info info;

	if (preload && preload_has(preload, self_base, exec_remember_self))
		return;
	/* the loader's own copy of our path lasts as long as we do */
	if (dladdr((void *)self_find, &info) && info.dli_fname) {
		self_base = path_basename(info.dli_fname);
		exec_remember_self(info.dli_fname, 1);
	}
}

/* Children are not the program: take our entry out of LD_PRELOAD (in
 * place: the value only shrinks) and the settings that describe this
 * start out of the environment.  With SINGLE_PROGRAMS the library stays
 * for every program, and so do the settings. */
static void leave_environment(int stay, char *preload)
{
	int emptied;

	/* only a process that holds the lock (or runs without it) needs to
	 * know how to name the library to an exec */
	self_find(preload);
	emptied = !stay && preload && preload_remove(preload, self_base) &&
		  !*preload;

	env_drop_start_settings(!stay, emptied);
}

/* The key as a person reads it: the program, then what picks it out. */
static void explain_key(const struct settings *st, const struct program *p)
{
	print_stdout("key: ");
	if (st->key) {
		print_stdout(st->key);
		print_stdout(" (SINGLE_KEY)\n");
		return;
	}
	print_stdout(p->path);
	if (p->inline_flag[0]) {
		print_stdout(" ");
		print_stdout(p->inline_flag);
		print_stdout(" ");
		print_stdout(p->inline_text);
	}
	for (int i = 0; st->scope == SCOPE_COMMAND && i < p->nargs; i++) {
		print_stdout(" ");
		print_stdout(p->args[i]);
	}
	print_stdout("\n");
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
	if (programs_match(st->programs, p->started_as, NULL))
		return 1;
	if (!programs_has_path(st->programs))
		return 0;
	*identified = program_identify(p, argc, argv) == 0;
	return *identified && programs_match(st->programs, p->started_as, p->path);
}

static void explain(const struct lock_request *rq, const struct program *p)
{
	struct lockdir dir = { .fd = -1 };
	int status;

	explain_key(rq->st, p);
	if ((status = lockdir_open(&dir, rq->st->dir)))
		_exit(status);
	lock_explain(rq, &dir);
	_exit(0);
}

static void run(const char *const raw[VAR_N], char *preload, int argc,
		char **argv)
{
	struct settings st;
	struct program prog;
	struct lockdir dir = { .fd = -1 };
	struct lock_request rq;
	char name[LOCKNAME_MAX];
	int identified = 0, status = 0;

	if (settings_parse(&st, raw) < 0)
		_exit(EXIT_USAGE);
	prog.started_as = NULL;
	if (st.programs || st.verbose || st.explain)
		program_started_as(&prog, argc, argv);
	if (st.programs && !listed(&st, argc, argv, &prog, &identified)) {
		if (st.explain) {
			print_stdout("not locked: ");
			print_stdout(prog.started_as);
			print_stdout(" is not in SINGLE_PROGRAMS\n");
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
	rq.label = st.key ? st.key : prog.started_as ? prog.started_as :
		   path_basename(prog.path);
	rq.name = name;
	if (st.explain)
		explain(&rq, &prog);
	switch (lock_take(&rq, &dir, &status)) {
	case LOCK_TAKEN:
		leave_environment(st.programs != NULL, preload);
		return;
	case LOCK_BUSY:
		_exit(st.conflict_exit);
	case LOCK_ANCESTOR:
		__close(dir.fd);
		leave_environment(st.programs != NULL, preload);
		return;
	case LOCK_ERROR:
		break;
	}
error:
	if (st.on_error != ON_ERROR_RUN || status == EXIT_USAGE)
		_exit(status);
	if (dir.fd >= 0)
		__close(dir.fd);
	leave_environment(st.programs != NULL, preload);
}

/* glibc passes main's arguments to constructors too. */
__attribute__((constructor)) static void single_init(int argc, char **argv)
{
	const char *raw[VAR_N];
	char *preload;
	int saved = errno;

	env_collect(raw, &preload);
	if (raw[VAR_HELD]) {
		held_adopt(raw[VAR_HELD]);
		leave_environment(raw[VAR_PROGRAMS] != NULL, preload);
	} else if (argc > 0) {
		run(raw, preload, argc, argv);
	}
	errno = saved;
}
