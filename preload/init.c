/* SPDX-License-Identifier: MIT */
/* The constructor: runs before the program's main() and decides whether
 * main() runs at all.
 *
 * A skipped start ends with _exit(): exit() would run the program's
 * atexit handlers and flush stdio buffers that belong to a main() that
 * never ran.  Nothing here allocates, and errno is left as it was found.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <unistd.h>

#include "single.h"
#include "sys.h"

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

/* SINGLE_PROGRAMS: is this one of them?  Names are settled without a
 * system call; only a list with a path in it needs the resolved path. */
static int listed(const struct settings *st, int argc, char **argv,
		  struct key *k, int *identified)
{
	if (programs_match(st->programs, k->started_as, NULL))
		return 1;
	if (!programs_has_path(st->programs))
		return 0;
	*identified = key_identify(k, argc, argv) == 0;
	return *identified && programs_match(st->programs, k->started_as, k->path);
}

static void explain(const struct lock_request *rq, const struct key *k)
{
	struct lockdir dir = { .fd = -1 };
	int status;

	key_explain(k, rq->st);
	if ((status = lockdir_open(&dir, rq->st->dir)))
		_exit(status);
	lock_explain(rq, &dir);
	_exit(0);
}

static void run(const char *const raw[VAR_N], char *preload, int argc,
		char **argv)
{
	struct settings st;
	struct key key;
	struct lockdir dir = { .fd = -1 };
	struct lock_request rq;
	char name[LOCKNAME_MAX];
	int identified = 0, status = 0, rc;

	if (settings_parse(&st, raw) < 0)
		_exit(EXIT_USAGE);
	key.started_as = NULL;
	if (st.programs || st.verbose || st.explain)
		key_started_as(&key, argc, argv);
	if (st.programs && !listed(&st, argc, argv, &key, &identified)) {
		if (st.explain) {
			print_stdout("not locked: ");
			print_stdout(key.started_as);
			print_stdout(" is not in SINGLE_PROGRAMS\n");
			_exit(0);
		}
		return;
	}
	if (!identified && (rc = key_identify(&key, argc, argv)) < 0) {
		say("cannot tell which program %s is: %s", argv[0], strerror(-rc));
		status = EXIT_OSERR;
		goto error;
	}
	if (key_lockname(&key, &st, name) < 0) {
		say("cannot name the lock for %s", key.path);
		status = EXIT_OSERR;
		goto error;
	}
	rq.st = &st;
	rq.label = key_label(&key, &st);
	rq.name = name;
	if (st.explain)
		explain(&rq, &key);
	switch (lock_take(&rq, &dir, &status)) {
	case LOCK_TAKEN:
		leave_environment(st.programs != NULL, preload);
		return;
	case LOCK_BUSY:
		_exit(st.conflict_exit);
	case LOCK_ANCESTOR:
		sys_close(dir.fd);
		leave_environment(st.programs != NULL, preload);
		return;
	case LOCK_ERROR:
		break;
	}
error:
	if (st.on_error != ON_ERROR_RUN || status == EXIT_USAGE)
		_exit(status);
	if (dir.fd >= 0)
		sys_close(dir.fd);
	leave_environment(st.programs != NULL, preload);
}

/* glibc passes main's arguments to constructors too. */
__attribute__((constructor)) static void single_init(int argc, char **argv)
{
	const char *raw[VAR_N];
	char *preload;

	env_collect(raw, &preload);
	if (raw[VAR_HELD]) {
		held_adopt(raw[VAR_HELD]);
		leave_environment(raw[VAR_PROGRAMS] != NULL, preload);
	} else if (argc > 0) {
		run(raw, preload, argc, argv);
	}
}
