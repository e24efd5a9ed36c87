/* SPDX-License-Identifier: MIT */
/* The constructor: runs before the program's main() and decides whether
 * main() runs at all.
 *
 * A skipped start ends with _exit(): exit() would run the program's
 * atexit handlers and flush stdio buffers that belong to a main() that
 * never ran.  Nothing here allocates or touches errno.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/auxv.h>
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

/* key_identify has not been asked yet */
#define NOT_YET (-4096)

/* The key's path is the constructor's one big buffer: PATH_MAX bytes
 * would take a quarter of a 16 KiB stack.  So it lives in pages of its
 * own, mapped only for a start that needs a path, and unmapped before
 * the lock is taken. */
static int key_path_map(struct key *k)
{
	if (!k->path && !(k->path = sys_mmap_anon(PATH_MAX)))
		return -ENOMEM;
	return 0;
}

static void key_path_unmap(struct key *k)
{
	if (k->path)
		sys_munmap(k->path, PATH_MAX);
	k->path = NULL;
}

/* SINGLE_PROGRAMS: is this one of them?  Names are settled without a
 * system call; only a list with a path in it needs the resolved path. */
static int listed(const char *programs, int argc, char **argv,
		  struct key *k, int *identified)
{
	key_started_as(k, argc, argv);
	if (programs_match(programs, k->started_as, NULL))
		return 1;
	if (!programs_has_path(programs) || key_path_map(k) < 0)
		return 0;
	*identified = key_identify(k, argc, argv);
	return *identified == 0 && programs_match(programs, k->started_as, k->path);
}

/* A program SINGLE_PROGRAMS leaves out runs untouched, whatever the
 * other settings say: a typo in a profile-wide setting must not stop
 * every program a shell starts.  Only SINGLE_EXPLAIN answers. */
static void not_listed(const char *const raw[VAR_N], const struct key *k)
{
	int explain = 0;

	if (raw[VAR_EXPLAIN] && parse_bool(raw[VAR_EXPLAIN], &explain) == 0 && explain) {
		print_stdout("not locked: ");
		print_stdout(k->started_as);
		print_stdout(" is not in SINGLE_PROGRAMS\n");
		_exit(0);
	}
}

static void explain_and_exit(const struct lock_request *rq, const struct key *k)
{
	struct lockdir dir = { .fd = -1 };
	int status;

	key_explain(k, rq->st);
	if ((status = lockdir_open(&dir, rq->st->dir)))
		_exit(status);
	lock_explain(rq, &dir);
	_exit(0);
}

/* The key and its lock file name: 0, KEY_NOT_MINE, or an exit status. */
static int name_the_lock(const struct settings *st, struct key *k, int identified,
			 int argc, char **argv, char name[LOCKNAME_MAX])
{
	int rc = key_path_map(k);

	if (rc < 0) {
		say("cannot tell which program %s is: %s", argv[0], strerror(-rc));
		return EXIT_OSERR;
	}
	/* SINGLE_KEY names the lock outright: nothing to ask the kernel but
	 * whether a launcher's command will lock itself */
	if (st->key)
		rc = key_launcher_only(k, argc, argv);
	else if (identified != NOT_YET)
		rc = identified;
	else if ((rc = key_identify(k, argc, argv)) < 0) {
		say("cannot tell which program %s is: %s", argv[0], strerror(-rc));
		return EXIT_OSERR;
	}
	if (rc == KEY_NOT_MINE)
		return KEY_NOT_MINE;
	if (key_lockname(k, st, name) < 0) {
		say("cannot name the lock for %s", k->path);
		return EXIT_OSERR;
	}
	return 0;
}

static void run(const char *const raw[VAR_N], char *preload, int argc,
		char **argv)
{
	struct settings st;
	struct key key = { .path = NULL };
	struct lockdir dir = { .fd = -1 };
	struct lock_request rq;
	char name[LOCKNAME_MAX];
	int identified = NOT_YET, status;

	if (raw[VAR_PROGRAMS] && !listed(raw[VAR_PROGRAMS], argc, argv, &key, &identified)) {
		key_path_unmap(&key);
		not_listed(raw, &key);
		return;
	}
	if (settings_parse(&st, raw) < 0)
		_exit(EXIT_USAGE);
	if (!key.started_as)
		key_started_as(&key, argc, argv);
	status = name_the_lock(&st, &key, identified, argc, argv, name);
	rq.st = &st;
	rq.label = key_label(&key, &st);
	rq.program = key.started_as;
	rq.name = name;
	if (status == 0 && st.explain)
		explain_and_exit(&rq, &key);
	key_path_unmap(&key);
	if (status == KEY_NOT_MINE)
		return;         /* the command it runs locks itself */
	if (status)
		goto error;
	switch (lock_take(&rq, &dir, &status)) {
	case LOCK_TAKEN:
		held_for_command = key.launcher_locks;
		leave_environment(st.programs != NULL, preload);
		return;
	case LOCK_BUSY:
		_exit(st.conflict_exit);
	case LOCK_REFUSED:
		_exit(status);
	case LOCK_ANCESTOR:
		sys_close(dir.fd);
		leave_environment(st.programs != NULL, preload);
		return;
	case LOCK_ERROR:
		break;
	}
error:
	if (st.on_error != ON_ERROR_RUN)
		_exit(status);
	if (dir.fd >= 0)
		sys_close(dir.fd);
	leave_environment(st.programs != NULL, preload);
}

/* No command line to key the lock by (args.c found none): a lock that
 * cannot be set up (SINGLE_ON_ERROR), except that a program
 * SINGLE_PROGRAMS may leave out runs untouched. */
static void no_command_line(const char *const raw[VAR_N], char *preload,
			    int err)
{
	struct settings st;

	if (raw[VAR_PROGRAMS])
		return;
	if (settings_parse(&st, raw) < 0)
		_exit(EXIT_USAGE);
	say("cannot read the command line (/proc/self/cmdline): %s", strerror(-err));
	if (st.on_error != ON_ERROR_RUN)
		_exit(EXIT_OSERR);
	leave_environment(0, preload);
}

/* glibc passes main's arguments to constructors too.  Other C libraries
 * (musl) pass none, and argc and argv hold whatever the registers did:
 * args.c finds the real ones.  (uClibc defines __GLIBC__ as well.) */
#if defined(__GLIBC__) && !defined(__UCLIBC__)
#define CTOR_GETS_ARGS 1
#else
#define CTOR_GETS_ARGS 0
#endif

__attribute__((constructor)) static void single_init(int argc, char **argv)
{
	const char *raw[VAR_N];
	char *preload;
	enum held_state held;
	int rc;

	/* Secure-execution mode (set-user-ID, set-group-ID, capabilities):
	 * the library does nothing.  Nothing from the environment may steer
	 * a privileged program, and a lock shared by every user who runs it
	 * would let one user keep the others from running it. */
	if (getauxval(AT_SECURE))
		return;
	env_collect(raw, &preload);
	/* An image that came with the lock through exec keeps it and locks
	 * nothing more, unless SINGLE_PROGRAMS lists it: then it takes its
	 * own lock too (the same one, when the key is the same, it has
	 * already).  A SINGLE_HELD that names no lock held here counts for
	 * nothing. */
	held = raw[VAR_HELD] ? held_adopt(raw[VAR_HELD]) : HELD_NONE;
	if (held == HELD_INHERITED) {
		leave_environment(raw[VAR_PROGRAMS] != NULL, preload);
		return;
	}
	rc = CTOR_GETS_ARGS ? 0 : program_args(&argc, &argv);
	/* A launcher that came with the lock (a wrapper's last line, exec
	 * setsid -f prog) carries it into its command from whichever of its
	 * processes makes that exec, as when it took the lock itself. */
	if (held == HELD_ADOPTED && rc == 0 && argc > 0)
		held_for_command = launcher_command(path_basename(argv[0]), argc, argv) > 0;
	if (held == HELD_ADOPTED && !raw[VAR_PROGRAMS])
		leave_environment(0, preload);
	else if (rc < 0)
		no_command_line(raw, preload, rc);
	else if (argc > 0)
		run(raw, preload, argc, argv);
	program_args_release();
	/* SINGLE_HELD is this process's alone, whatever run() decided (a
	 * launcher leaves the library and the settings to its command) */
	if (raw[VAR_HELD])
		env_drop_start_settings(0, 0);
}
