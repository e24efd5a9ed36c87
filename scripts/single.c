/* SPDX-License-Identifier: MIT */
/* single: run a command unless another instance of it is running.
 *
 * The locking is libsingle's, in the command's own process: single turns
 * its options into the SINGLE_* settings, puts the library first in
 * LD_PRELOAD and executes the command.  A static program never loads
 * LD_PRELOAD libraries: it is run through env(1), which takes the lock
 * and carries the descriptor across its exec into the program.
 *
 * single runs before every command it starts, so the way to that exec is
 * short: no stdio, and few system calls (where single lives, a stat of
 * the library, the PATH search, one open, fstat and read of the
 * command's header, execve).  What the library already knows, single
 * asks the library's own code: option values (num.c, settings.c), the
 * kind of executable (elf.c), the PATH search (program.c), LD_PRELOAD
 * entries (preload.c), and for --list lock file names (key.c) and their
 * holders (holders.c).
 */
#define _GNU_SOURCE
/* 64-bit inode numbers and offsets on 32-bit machines too: without it
 * readdir and stat fail with EOVERFLOW on a file whose inode number
 * needs 64 bits (XFS, overlayfs, NFS). */
#define _FILE_OFFSET_BITS 64
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <paths.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../preload/single.h"
#include "../preload/sys.h"
/* internal macros the Makefile writes into build/, not settings: */
#include "single-paths.h"       /* SINGLE_LIBDIR32, SINGLE_LIBDIR64, SINGLE_BINDIR */
#include "version.h"            /* SINGLE_VERSION: the Makefile's VERSION */

#define LIB_NAME "libsingle.so"
/* single's own variable; the library's are in settings.c */
#define LIB_VAR "SINGLE_LIB"

#define EXIT_OSFILE 72          /* EX_OSFILE: the library is missing */
#define EXIT_NOEXEC 126         /* the command cannot be executed */
#define EXIT_NOTFOUND 127       /* the command is not found */

/* The class single is built for (EXEC_32 or EXEC_64): its library is the
 * one in LIBDIR, and the one for programs of unknown class. */
#define NATIVE_CLASS (sizeof(void *) == 8 ? EXEC_64 : EXEC_32)
#define CLASS_BITS(c) ((c) == EXEC_32 ? "32" : "64")

#define USAGE \
"Usage: single [OPTIONS] [--] COMMAND [ARGS...]\n" \
"       single --explain [OPTIONS] [--] COMMAND [ARGS...]\n" \
"       single --list [--json] [-s SECS] [-d DIR]\n" \
"       single --prune [--older DAYS] [-d DIR]\n" \
"\n" \
"Run COMMAND unless another instance of it is running (libsingle(7)).\n" \
"\n" \
"Options:\n" \
"  -w, --wait SECS          wait up to SECS (2.5, inf) for the other instance\n" \
"  -E, --conflict-exit N    exit with N (0-255) when not started (default 0)\n" \
"  -k, --key NAME           exclude every command started with the same NAME\n" \
"  -d, --dir DIR            keep the lock files in DIR\n" \
"  -a, --args               the arguments are part of the key (one instance\n" \
"                           per argument list: mbsync work, mbsync home)\n" \
"  -m, --max N              allow up to N (1-1000) instances at once\n" \
"  -r, --replace[=SECS]     stop the running instance (SIGTERM) and start once\n" \
"                           it has ended, waiting up to SECS (default 10)\n" \
"  -s, --stale SECS         a holder older than SECS is stuck: say so and exit\n" \
"                           75 (with -r: replace only a stuck holder)\n" \
"  -q, --queue N            wait for the running instance while fewer than N\n" \
"                           (1-1000) starts wait already; else do not start\n" \
"  -v, --verbose            say on stderr when not starting, waiting, replacing\n" \
"      --explain            print the key, the lock file and its state, and\n" \
"                           exit 0 without running COMMAND\n" \
"      --list               list the lock files: state, holders, since when,\n" \
"                           starts skipped and waiting (--json: as JSON)\n" \
"      --prune              remove the lock files nobody holds and no start has\n" \
"                           used for DAYS (--older DAYS, default 7)\n" \
"  -h, --help               print this help and exit\n" \
"  -V, --version            print the version and the library used, and exit\n" \
"\n" \
"Environment: SINGLE_LIB names the library to preload; the SINGLE_* settings\n" \
"of libsingle(7) apply where no option overrides them.\n" \
"\n" \
"A statically linked COMMAND cannot load the library: it is run through env,\n" \
"which holds the lock for it and passes the descriptor on. Such a command\n" \
"holds the lock as an ordinary descriptor, which its own children inherit:\n" \
"one left running keeps the next instance out.\n" \
"\n" \
"Exit status: the conflict status (0) if another instance runs, 75 if it\n" \
"seems stuck (-s), 69 if it cannot be replaced, 64 for a usage error, 71,\n" \
"73, 77 when the lock cannot be set up, 72 if the library is missing, 126\n" \
"or 127 if COMMAND cannot be run, else the status of COMMAND.\n"

/* ---- messages ------------------------------------------------------------- */

/* "single: MESSAGE" and what follows it, in one write, so that a message
 * is never interleaved with another process's. */
__attribute__((format(printf, 2, 0)))
static void vmessage(const char *after, const char *fmt, va_list ap)
{
	char line[PATH_MAX + 512] = "single: ";
	size_t len = 8, m = strlen(after), room = sizeof line - m;
	int n = vsnprintf(line + len, room - len, fmt, ap);

	len += n < 0 ? 0 : (size_t)n < room - len ? (size_t)n : room - len - 1;
	memcpy(line + len, after, m);
	if (write(2, line, len + m) < 0)
		return;         /* nowhere left to say it */
}

__attribute__((format(printf, 1, 2)))
static void message(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("\n", fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3), noreturn))
static void fail(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("\n", fmt, ap);
	va_end(ap);
	exit(status);
}

__attribute__((format(printf, 1, 2), noreturn))
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("\nTry 'single --help'.\n", fmt, ap);
	va_end(ap);
	exit(EXIT_USAGE);
}

/* ---- options -------------------------------------------------------------- */

enum mode { MODE_RUN, MODE_EXPLAIN, MODE_LIST, MODE_PRUNE, MODE_VERSION };

/* single --prune removes what no start has used for this long */
#define PRUNE_DEFAULT_DAYS "7"

struct options {
	enum mode mode;
	/* The value each option gives its SINGLE_* variable, or NULL: only
	 * these replace what the environment holds. */
	const char *set[VAR_N];
	int json;               /* --list --json */
	const char *older;      /* --prune --older DAYS */
};

enum { OPT_EXPLAIN = 256, OPT_LIST, OPT_PRUNE, OPT_JSON, OPT_OLDER };

/* '+': options end at the command; ':': single words the errors itself */
static const char short_options[] = "+:w:E:k:d:am:r::s:q:vhV";
static const struct option long_options[] = {
	{ "wait",          required_argument, NULL, 'w' },
	{ "conflict-exit", required_argument, NULL, 'E' },
	{ "key",           required_argument, NULL, 'k' },
	{ "dir",           required_argument, NULL, 'd' },
	{ "args",          no_argument,       NULL, 'a' },
	{ "max",           required_argument, NULL, 'm' },
	{ "replace",       optional_argument, NULL, 'r' },
	{ "stale",         required_argument, NULL, 's' },
	{ "queue",         required_argument, NULL, 'q' },
	{ "verbose",       no_argument,       NULL, 'v' },
	{ "explain",       no_argument,       NULL, OPT_EXPLAIN },
	{ "list",          no_argument,       NULL, OPT_LIST },
	{ "json",          no_argument,       NULL, OPT_JSON },
	{ "prune",         no_argument,       NULL, OPT_PRUNE },
	{ "older",         required_argument, NULL, OPT_OLDER },
	{ "help",          no_argument,       NULL, 'h' },
	{ "version",       no_argument,       NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

#define SECONDS_EXPECTED "expected seconds, a decimal number such as 2.5"

static const char *check_wait(const char *v)
{
	int64_t ns;

	if (parse_seconds(v, &ns) < 0)
		usage_error("invalid wait '%s' (" SECONDS_EXPECTED ", or inf)", v);
	return v;
}

static const char *check_replace(const char *v)
{
	int64_t ns;

	if (parse_seconds(v, &ns) < 0 || ns == WAIT_FOREVER)
		usage_error("invalid replace timeout '%s' (" SECONDS_EXPECTED ")", v);
	return v;
}

static const char *check_stale(const char *v)
{
	int64_t ns;

	if (parse_seconds(v, &ns) < 0 || ns == WAIT_FOREVER)
		usage_error("invalid stale time '%s' (" SECONDS_EXPECTED ")", v);
	return v;
}

static const char *check_days(const char *v)
{
	int64_t ns;

	if (parse_seconds(v, &ns) < 0 || ns == WAIT_FOREVER)
		usage_error("invalid number of days '%s' (expected a decimal number "
			    "such as 7 or 0.5)", v);
	return v;
}

static const char *check_count(const char *v, const char *what, uint64_t min,
			       uint64_t max)
{
	uint64_t n;

	if (parse_u64(v, min, max, &n) < 0)
		usage_error("invalid %s '%s' (allowed values: %llu-%llu)", what, v,
			    (unsigned long long)min, (unsigned long long)max);
	return v;
}

static const char *check_key(const char *v)
{
	/* an empty SINGLE_KEY counts as unset: the option may not be */
	const char *problem = *v ? named_key_problem(v) : "a key may not be empty";

	if (problem)
		usage_error("invalid key '%s' (%s)", v, problem);
	return v;
}

static const char *check_dir(const char *v)
{
	if (!*v)
		usage_error("invalid lock directory '' (may not be empty)");
	return v;
}

static const char *mode_option(enum mode m)
{
	return m == MODE_EXPLAIN ? "--explain" : m == MODE_LIST ? "--list" : "--prune";
}

static void set_mode(struct options *o, enum mode m)
{
	if (o->mode != MODE_RUN && o->mode != MODE_VERSION && o->mode != m)
		usage_error("%s and %s cannot be used together", mode_option(o->mode),
			    mode_option(m));
	o->mode = m;
}

/* The long option a word names, by its full name: getopt_long would take
 * any unambiguous abbreviation ("--w" for --wait), which single never
 * has, and which would turn into a meaning the day an option is added. */
static const struct option *long_option_named(const char *word)
{
	size_t n = strcspn(word + 2, "=");

	for (const struct option *lo = long_options; lo->name; lo++)
		if (strlen(lo->name) == n && !strncmp(lo->name, word + 2, n))
			return lo;
	usage_error("unrecognized option '--%.*s'", (int)n, word + 2);
}

/* getopt_long's '?' and ':', in the words of GNU getopt. */
__attribute__((noreturn))
static void option_error(int c, const struct option *lo)
{
	if (lo && c == ':')
		usage_error("option '--%s' requires an argument", lo->name);
	if (lo)
		usage_error("option '--%s' doesn't allow an argument", lo->name);
	if (c == ':')
		usage_error("option requires an argument -- '%c'", optopt);
	usage_error("invalid option -- '%c'", optopt);
}

static void set_option(struct options *o, int c, const char *arg)
{
	switch (c) {
	case 'w': o->set[VAR_WAIT] = check_wait(arg); break;
	case 'E': o->set[VAR_CONFLICT_EXIT] =
		check_count(arg, "conflict exit code", 0, 255); break;
	case 'k': o->set[VAR_KEY] = check_key(arg); break;
	case 'd': o->set[VAR_DIR] = check_dir(arg); break;
	case 'a': o->set[VAR_SCOPE] = "command"; break;
	case 'm': o->set[VAR_MAX] = check_count(arg, "maximum", 1, MAX_SLOTS); break;
	/* the value only when attached: "-r 5" runs a command named 5 */
	case 'r': o->set[VAR_REPLACE] = check_replace(arg ? arg : "10"); break;
	case 's': o->set[VAR_STALE] = check_stale(arg); break;
	case 'q': o->set[VAR_QUEUE] = check_count(arg, "queue", 1, MAX_QUEUE); break;
	case 'v': o->set[VAR_VERBOSE] = "1"; break;
	case OPT_EXPLAIN: set_mode(o, MODE_EXPLAIN); break;
	case OPT_LIST: set_mode(o, MODE_LIST); break;
	case OPT_PRUNE: set_mode(o, MODE_PRUNE); break;
	case OPT_JSON: o->json = 1; break;
	case OPT_OLDER: o->older = check_days(arg); break;
	case 'V': o->mode = MODE_VERSION; break;
	case 'h':
		fputs(USAGE, stdout);
		exit(0);
	}
}

/* The options; returns the index of the command in argv. */
static int options_parse(struct options *o, int argc, char **argv)
{
	opterr = 0;
	for (;;) {
		int at = optind, c;
		const struct option *lo = NULL;

		c = getopt_long(argc, argv, short_options, long_options, NULL);
		if (c == -1)
			break;
		/* a word of its own that starts with "--" was a long option
		 * (a cluster of short ones never does) */
		if (at < argc && argv[at][0] == '-' && argv[at][1] == '-')
			lo = long_option_named(argv[at]);
		if (c == '?' || c == ':')
			option_error(c, lo);
		set_option(o, c, optarg);
	}
	if (o->set[VAR_WAIT] && o->set[VAR_REPLACE])
		usage_error("--wait and --replace cannot be used together");
	if (o->set[VAR_KEY] && o->set[VAR_SCOPE])
		usage_error("--key and --args cannot be used together");
	if (o->json && o->mode != MODE_LIST)
		usage_error("--json goes with --list");
	if (o->older && o->mode != MODE_PRUNE)
		usage_error("--older goes with --prune");
	return optind;
}

/* ---- finding the library ---------------------------------------------------- */

static int is_file(const char *path)
{
	struct fileinfo fi;

	return sys_fileinfo(AT_FDCWD, path, 0, &fi) == 0 && S_ISREG(fi.mode);
}

/* The first n bytes of a, then b, into out; NULL if too long. */
static const char *path_cat(char out[PATH_MAX], const char *a, size_t n,
			    const char *b)
{
	size_t m = strlen(b);

	if (n + m >= PATH_MAX)
		return NULL;
	memcpy(out, a, n);
	memcpy(out + n, b, m + 1);
	return out;
}

/* The library in the build tree: build/single -> preload/libsingle.so. */
static const char *library_in_build_tree(char buf[PATH_MAX], const char *dir, int quiet)
{
	size_t parent = (size_t)(path_basename(dir) - dir);

	if (!path_cat(buf, dir, parent, "preload/" LIB_NAME)) {
		if (!quiet)
			message("cannot find the library: %s/../preload/%s is too long", dir, LIB_NAME);
		return NULL;
	}
	if (is_file(buf))
		return buf;
	if (!quiet)
		message("cannot find the library: %s is missing (run make, or set " LIB_VAR ")", buf);
	return NULL;
}

static const char *library_named(const char *lib)
{
	/* ld.so expands $LIB per program: passed on as it is */
	if (strstr(lib, "$LIB") || strstr(lib, "${LIB}"))
		return lib;
	if (lib[0] != '/') {
		message(LIB_VAR " must be an absolute path: '%s'", lib);
		return NULL;
	}
	if (!is_file(lib)) {
		message("cannot find the library: %s: no such file", lib);
		return NULL;
	}
	return lib;
}

/* The library for programs of class cls (EXEC_32 or EXEC_64): a build
 * installs into its own class's LIBDIR and names the other class's
 * (LIBDIR32, LIBDIR64), so that ld.so of either class gets a library it
 * can load.  "" if single was built without one. */
static const char *class_libdir(int cls)
{
	return cls == EXEC_32 ? SINGLE_LIBDIR32 : SINGLE_LIBDIR64;
}

/* "the library", or for the class single is not built for, which one */
static const char *library_what(int cls)
{
	if (cls == NATIVE_CLASS)
		return "the library";
	return cls == EXEC_32 ? "the library for 32-bit programs" :
				"the library for 64-bit programs";
}

/* Where the library for programs of class cls is, as single(1) says
 * under "Finding the library"; NULL, with the message printed unless
 * quiet, if it is not there.  Never the current directory. */
static const char *library_find(char buf[PATH_MAX], int cls, int quiet)
{
	const char *libdir = class_libdir(cls), *what = library_what(cls);
	const size_t bindir = sizeof SINGLE_BINDIR - 1;
	const char *lib = env_get(LIB_VAR);
	char self[PATH_MAX], installed[PATH_MAX];
	struct program_id id;

	if (lib && *lib)
		return library_named(lib);
	if (*libdir && !path_cat(installed, libdir, strlen(libdir), "/" LIB_NAME)) {
		if (!quiet)
			message("cannot find %s: %s/%s is too long", what, libdir, LIB_NAME);
		return NULL;
	}
	/* the directory single really lives in, symlinks resolved (an
	 * absolute path: it has a '/') */
	if (program_exe(self, &id, NULL) == 0 && path_basename(self) > self) {
		size_t here = (size_t)(path_basename(self) - self - 1);

		/* installed: under the same root first, so that a copy staged
		 * with make install DESTDIR=ROOT uses its own library */
		if (*libdir && here >= bindir && !strncmp(self + here - bindir, SINGLE_BINDIR, bindir) &&
		    path_cat(buf, self, here - bindir, installed) && is_file(buf))
			return buf;
		self[here] = '\0';
		if (str_eq(path_basename(self), "build")) {
			if (cls == NATIVE_CLASS)
				return library_in_build_tree(buf, self, quiet);
			if (!quiet)
				message("cannot find %s: the build tree has a %s-bit one only "
					"(set " LIB_VAR ")", what, CLASS_BITS(NATIVE_CLASS));
			return NULL;
		}
	}
	if (!*libdir) {
		if (!quiet)
			message("cannot find %s: single was built without LIBDIR%s (set "
				LIB_VAR ")", what, CLASS_BITS(cls));
		return NULL;
	}
	if (is_file(installed))
		return strcpy(buf, installed);
	if (!quiet)
		message("cannot find %s: %s: no such file (set " LIB_VAR ")", what, installed);
	return NULL;
}

/* ---- the command's environment ---------------------------------------------- *
 *
 * Built without malloc, in arrays the caller sizes (env_size) on its
 * stack: single execs at the end, so nothing outlives them, and the heap
 * would cost system calls and page faults on every start.
 */

#define PRELOAD_VAR "LD_PRELOAD"

struct env_size {
	size_t slots;           /* pointers, the terminating NULL included */
	size_t bytes;           /* the entries single writes itself */
};

static struct env_size env_size(const struct options *o, const char *lib)
{
	const char *old = env_get(PRELOAD_VAR);
	struct env_size z = { VAR_N + 2, sizeof PRELOAD_VAR "=" + strlen(lib) + 1 };

	for (char **e = environ; e && *e; e++)
		z.slots++;
	z.bytes += old ? strlen(old) : 0;
	for (int v = 0; v < VAR_N; v++)
		if (o->set[v])
			z.bytes += strlen(var_name(v)) + 1 + strlen(o->set[v]) + 1;
	return z;
}

static int is_preload_sep(char c)
{
	return c == ':' || c == ' ' || c == '\t';
}

/* "LD_PRELOAD=LIB[:OTHERS]" at `at`: the library first, and once: every
 * other entry with its file name (another build, an installed copy)
 * would lock a second time in the same process.  The others keep their
 * order.  Returns the end of what it wrote. */
static char *preload_entry(char *at, const char *lib)
{
	const char *old = env_get(PRELOAD_VAR);
	char *rest, *to = stpcpy(stpcpy(at, PRELOAD_VAR "="), lib);

	rest = to + 1;
	strcpy(rest, old ? old : "");
	preload_remove(rest, LIB_NAME);
	preload_remove(rest, path_basename(lib));
	/* ld.so's separators, blanks or ':', written ':' (in place: the
	 * text only moves towards its start) */
	for (const char *p = rest; *p; p++) {
		if (is_preload_sep(*p))
			continue;
		if (p == rest || is_preload_sep(p[-1]))
			*to++ = ':';
		*to++ = *p;
	}
	*to = '\0';
	return to + 1;
}

/* Does single drop this entry of its own environment? */
static int env_dropped(const char *entry, const unsigned char drop[VAR_N])
{
	const char *after;

	if ((after = after_prefix(entry, PRELOAD_VAR)) && *after == '=')
		return 1;
	if (!after_prefix(entry, "SINGLE_"))
		return 0;
	for (int v = 0; v < VAR_N; v++)
		if (drop[v] && (after = after_prefix(entry, var_name(v))) && *after == '=')
			return 1;
	return 0;
}

/* The command's environment, into env and buf as env_size says: single's
 * own, with the library first in LD_PRELOAD and the options' settings in
 * place of the variables they override.  SINGLE_PROGRAMS goes (single
 * COMMAND locks COMMAND, whatever a profile exported), and so does
 * SINGLE_HELD: it is the library's note to a holder's next image, and
 * one left over in an environment must never reach the command's
 * constructor. */
static void command_env(const struct options *o, const char *lib, char **env,
			char *buf)
{
	unsigned char drop[VAR_N] = { [VAR_PROGRAMS] = 1, [VAR_HELD] = 1 };

	*env++ = buf;
	buf = preload_entry(buf, lib);
	for (int v = 0; v < VAR_N; v++) {
		if (o->set[v]) {
			drop[v] = 1;
			*env++ = buf;
			buf = stpcpy(stpcpy(stpcpy(buf, var_name(v)), "="), o->set[v]) + 1;
		}
	}
	for (char **e = environ; e && *e; e++)
		if (!env_dropped(*e, drop))
			*env++ = *e;
	*env = NULL;
}

/* ---- the command ------------------------------------------------------------ */

struct command {
	const char *word;       /* as given */
	char path[PATH_MAX];    /* where exec finds it */
	struct stat st;
	int kind;               /* enum exec_kind */
	int loaded;             /* that of what ld.so starts: the program, or
				   a script's interpreter */
};

/* The kind of what ld.so, if any, starts for the command: the program
 * itself, or for a "#!" script its interpreter.  It tells whether
 * LD_PRELOAD is read at all (not for a static program, nor for a script
 * of a static busybox sh), and by an ld.so of which class. */
static int loaded_kind(const struct command *c)
{
	char interp[PATH_MAX];

	if (c->kind != EXEC_SCRIPT)
		return c->kind;
	if (program_kind(c->path, interp) != EXEC_SCRIPT || !*interp)
		return EXEC_OTHER;
	return program_kind(interp, NULL);
}

/* ld.so ignores LD_PRELOAD paths for a program that changes its user or
 * group (secure-execution mode): it would run unlocked, and --explain
 * would run it for real. */
static void refuse_set_id(const struct command *c)
{
	uid_t uid = (c->st.st_mode & S_ISUID) ? c->st.st_uid : geteuid();
	gid_t gid = (c->st.st_mode & S_ISGID) ? c->st.st_gid : getegid();

	if (uid != getuid() || gid != getgid())
		fail(EXIT_NOPERM, "cannot lock '%s': a set-user-ID or set-group-ID "
		     "program ignores LD_PRELOAD", c->word);
}

/* Find the command as execvp would, refuse what cannot run, and tell
 * what it is (c->kind, c->loaded): one open, fstat and header read. */
static void command_find(struct command *c)
{
	int fd;

	if (!*c->word || path_search(c->word, c->path) < 0)
		fail(EXIT_NOTFOUND, "cannot run '%s': command not found", c->word);
	/* O_NONBLOCK: a FIFO in its place must not hang single.  The
	 * descriptor is left for the exec to close (O_CLOEXEC). */
	fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if ((fd >= 0 ? fstat(fd, &c->st) : stat(c->path, &c->st)) < 0)
		fail(EXIT_NOTFOUND, "cannot run '%s': %s", c->word, strerror(errno));
	if (S_ISDIR(c->st.st_mode))
		fail(EXIT_NOEXEC, "cannot run '%s': %s", c->word, strerror(EISDIR));
	if (!(c->st.st_mode & 0111))
		fail(EXIT_NOEXEC, "cannot run '%s': %s", c->word, strerror(EACCES));
	if (c->st.st_mode & (S_ISUID | S_ISGID))
		refuse_set_id(c);
	/* unreadable (mode 0711): exec may still run it, as it is */
	if (fd < 0)
		return;
	c->kind = elf_kind(fd);
	c->loaded = loaded_kind(c);
}

static int count(char **v)
{
	int n = 0;

	while (v[n])
		n++;
	return n;
}

/* execve; a file the kernel does not know how to run goes to /bin/sh,
 * as execvp does, unless it is an ELF file or a "#!" script: the shell
 * would only read garbage (or, with --explain, explain itself). */
static void exec_command(const struct command *c, char **argv, char **env)
{
	execve(c->path, argv, env);
	if (errno == ENOEXEC && c->kind == EXEC_OTHER) {
		int argc = count(argv);
		char *sh_argv[argc + 2];

		sh_argv[0] = (char *)_PATH_BSHELL;
		sh_argv[1] = (char *)c->path;
		memcpy(sh_argv + 2, argv + 1, (size_t)argc * sizeof *argv);
		execve(_PATH_BSHELL, sh_argv, env);
		errno = ENOEXEC;
	}
}

__attribute__((noreturn))
static void exec_failed(const char *word, int err)
{
	fail(err == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC, "cannot run '%s': %s",
	     word, strerror(err));
}

/* env, which runs a static program (run_through_env), into env_path;
 * returns its kind: the library env loads must be of env's class. */
static int env_find(char env_path[PATH_MAX], const struct command *c)
{
	if (path_search("env", env_path) < 0)
		fail(EXIT_NOTFOUND, "cannot run '%s' through env: env: command not found",
		     c->word);
	return program_kind(env_path, NULL);
}

/* Through env, for a static program: the library takes the lock in env,
 * keyed by the command env runs, and carries it across env's exec. */
__attribute__((noreturn))
static void run_through_env(const struct options *o, const struct command *c,
			    char *env_path, char **argv, char **env)
{
	int argc = count(argv);
	char *env_argv[argc + 3];

	if (o->set[VAR_VERBOSE])
		message("%s is statically linked: locking it through env", c->word);
	env_argv[0] = env_path;
	env_argv[1] = (char *)"--";
	memcpy(env_argv + 2, argv, (size_t)(argc + 1) * sizeof *argv);
	execve(env_path, env_argv, env);
	exec_failed("env", errno);
}

/* The class (EXEC_32, EXEC_64) of an exec_kind; single's own if none */
static int kind_class(int kind)
{
	return kind & EXEC_32 ? EXEC_32 : kind & EXEC_64 ? EXEC_64 : NATIVE_CLASS;
}

__attribute__((noreturn))
static void run(struct options *o, char **argv)
{
	char lib_buf[PATH_MAX], env_path[PATH_MAX];
	const char *lib;
	struct command c = { .word = argv[0] };
	struct env_size z;
	int is_static, loader;

	/* the library must be of the class of the ld.so that loads it: the
	 * program's, its interpreter's, or env's for a static program */
	command_find(&c);
	is_static = (c.loaded & EXEC_STATIC) != 0;
	loader = is_static ? env_find(env_path, &c) : c.loaded;
	if (!(lib = library_find(lib_buf, kind_class(loader), 0)))
		exit(EXIT_OSFILE);
	if (strpbrk(lib, ": \t"))
		fail(EXIT_OSFILE, "cannot preload %s: ld.so splits LD_PRELOAD "
		     "at ':' and blanks", lib);
	if (o->mode == MODE_EXPLAIN)
		o->set[VAR_EXPLAIN] = "1";
	z = env_size(o, lib);
	{
		/* no larger than the environment the kernel put on the stack */
		char *env[z.slots], buf[z.bytes];

		command_env(o, lib, env, buf);
		if (is_static)
			run_through_env(o, &c, env_path, argv, env);
		exec_command(&c, argv, env);
	}
	exec_failed(c.word, errno);
}

/* ---- --list and --prune --------------------------------------------------------- */

#define LIST_ROW "%-5s %-12s %-15s %-19s %-9s %7s %7s %s\n"
#define NS_PER_S 1000000000LL

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int by_number(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* s after sep, at the end of buf (of cap bytes), as far as it fits. */
static void append(char *buf, size_t cap, const char *sep, const char *s)
{
	size_t n = strlen(buf);

	if (n && n + 1 < cap)
		buf[n++] = *sep;
	snprintf(buf + n, cap - n, "%s", s);
}

/* A process's name, as ps shows it: comm, else its command line. */
static void process_name(pid_t pid, char *out, size_t cap)
{
	char path[64];
	long n = proc_read(proc_path(path, pid, "/comm"), out, cap);

	if (n <= 0 && (n = proc_read(proc_path(path, pid, "/cmdline"), out, cap)) > 0)
		for (long i = 0; i < n; i++)
			if (!out[i])
				out[i] = ' ';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	if (n <= 0)
		snprintf(out, cap, "?");
}

/* What --list says of one lock file. */
struct listed {
	const char *dir, *name;
	char key[2 * LOCKNAME_MAX];
	struct lock_status s;
	const char *state;              /* free, held, stuck */
	int has_record;                 /* since, skipped: the holder's */
	int64_t held_ns;
};

static int listed_read(struct listed *l, int dirfd, const char *proc_locks,
		       int64_t stale_ns)
{
	if (lockname_describe(l->name, l->key, sizeof l->key) < 0 ||
	    lock_status_read(dirfd, l->name, proc_locks, &l->s) < 0)
		return -1;
	l->state = l->s.state == STATE_FREE ? "free" :
		   lock_status_stuck(&l->s, stale_ns) ? "stuck" : "held";
	l->has_record = l->s.state == STATE_HELD && l->s.record_current;
	l->held_ns = l->has_record ? wall_clock_ns() - l->s.rec.since_ns : 0;
	qsort(l->s.holders, (size_t)l->s.nholders, sizeof *l->s.holders, by_number);
	return 0;
}

static void list_text(const struct listed *l)
{
	char pids[STATUS_HOLDERS_MAX * 12 + RECORD_HOST_MAX] = "";
	char names[STATUS_HOLDERS_MAX * 65] = "", since[32] = "-", held[32] = "-";
	char skipped[24] = "-", waiting[24] = "-";
	const struct lock_status *s = &l->s;

	for (int i = 0; i < s->nholders; i++) {
		char number[24], comm[64];

		format_u64(number, (uint64_t)s->holders[i]);
		append(pids, sizeof pids, ",", number);
		process_name(s->holders[i], comm, sizeof comm);
		append(names, sizeof names, ",", comm);
	}
	if (s->state == STATE_HELD && !s->nholders && s->remote && l->has_record) {
		snprintf(pids, sizeof pids, "%d@%s", (int)s->rec.pid, s->rec.host);
		snprintf(names, sizeof names, "%s", s->rec.prog);
	}
	if (l->has_record) {
		time_t t = (time_t)(s->rec.since_ns / NS_PER_S);
		struct tm tm;

		if (localtime_r(&t, &tm))
			strftime(since, sizeof since, "%Y-%m-%d %H:%M:%S", &tm);
		format_duration(held, l->held_ns / NS_PER_S);
		format_u64(skipped, s->rec.skipped);
	}
	if (s->waiting >= 0)
		format_u64(waiting, (uint64_t)s->waiting);
	printf(LIST_ROW, l->state, *pids ? pids : s->state == STATE_HELD ? "?" : "-",
	       *names ? names : "-", since, held, skipped, waiting, l->key);
}

/* A JSON string: quotes, backslashes and control bytes escaped; bytes
 * above 127 as \u00XX, so that any file name is valid JSON. */
static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_number_or_null(int known, uint64_t v)
{
	if (known)
		printf("%llu", (unsigned long long)v);
	else
		fputs("null", stdout);
}

static void list_json(const struct listed *l, int first)
{
	const struct lock_status *s = &l->s;
	char path[PATH_MAX + LOCKNAME_MAX], since[32];
	int remote = s->state == STATE_HELD && !s->nholders && s->remote;

	printf("%s\n  {\"key\": ", first ? "" : ",");
	json_string(l->key);
	snprintf(path, sizeof path, "%s/%s", l->dir, l->name);
	fputs(", \"file\": ", stdout);
	json_string(path);
	printf(", \"state\": \"%s\", \"remote\": %s, \"pids\": [", l->state,
	       remote ? "true" : "false");
	for (int i = 0; i < s->nholders; i++)
		printf("%s%d", i ? ", " : "", (int)s->holders[i]);
	if (remote && l->has_record)
		printf("%d", (int)s->rec.pid);
	fputs("], \"programs\": [", stdout);
	for (int i = 0; i < s->nholders; i++) {
		char comm[64];

		process_name(s->holders[i], comm, sizeof comm);
		fputs(i ? ", " : "", stdout);
		json_string(comm);
	}
	if (remote && l->has_record)
		json_string(s->rec.prog);
	fputs("], \"host\": ", stdout);
	if (l->has_record)
		json_string(s->rec.host);
	else
		fputs("null", stdout);
	fputs(", \"since\": ", stdout);
	if (l->has_record) {
		format_utc(since, s->rec.since_ns / NS_PER_S);
		json_string(since);
		printf(", \"held_seconds\": %.3f", (double)l->held_ns / 1e9);
	} else {
		fputs("null, \"held_seconds\": null", stdout);
	}
	fputs(", \"skipped\": ", stdout);
	json_number_or_null(l->has_record, s->rec.skipped);
	fputs(", \"waiting\": ", stdout);
	json_number_or_null(s->waiting >= 0, (uint64_t)(s->waiting >= 0 ? s->waiting : 0));
	putchar('}');
}

/* The lock files of a directory, by name. */
static char **lock_names(DIR *d, size_t *count)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	char key[2 * LOCKNAME_MAX];

	/* readdir's NULL is the end, or, with errno set, an error */
	while ((errno = 0, e = readdir(d))) {
		if (e->d_name[0] == '.' || lockname_describe(e->d_name, key, sizeof key) < 0)
			continue;
		if (n == cap) {
			char **more = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);

			if (!more)
				fail(EXIT_OSERR, "cannot list: %s", strerror(errno));
			names = more;
		}
		if (!(names[n++] = strdup(e->d_name)))
			fail(EXIT_OSERR, "cannot list: %s", strerror(errno));
	}
	if (errno)
		fail(EXIT_OSERR, "cannot list: %s", strerror(errno));
	if (n)
		qsort(names, n, sizeof *names, by_name);
	*count = n;
	return names;
}

/* /proc/locks, whole, or NULL: every lock in the system, one line each,
 * for a first look that saves most lock files the search through every
 * process's descriptors. */
static const char *proc_locks_read(void)
{
	static char text[1 << 16];
	long n = proc_read("/proc/locks", text, sizeof text);

	return n >= 0 && (size_t)n < sizeof text - 1 ? text : NULL;
}

/* The lock directory -d, SINGLE_DIR or the default names, open; NULL
 * (and *path set) when there is none. */
static DIR *lock_dir_open(const struct options *o, const char **path)
{
	static struct lockdir ld;
	const char *dir = o->set[VAR_DIR], *env_dir = env_get(var_name(VAR_DIR));
	DIR *d;

	if (!dir)
		dir = env_dir && *env_dir ? env_dir : lockdir_default(&ld);
	*path = dir;
	if (!(d = opendir(dir)) && errno != ENOENT && errno != ENOTDIR)
		fail(EXIT_CANTCREAT, "cannot open lock directory %s: %s", dir, strerror(errno));
	return d;
}

/* The threshold of "stuck": --stale, else SINGLE_STALE; -1: none. */
static int64_t stale_ns(const struct options *o)
{
	const char *v = o->set[VAR_STALE] ? o->set[VAR_STALE] : env_get(var_name(VAR_STALE));
	int64_t ns;

	return v && *v && parse_seconds(v, &ns) == 0 && ns != WAIT_FOREVER ? ns : -1;
}

/* Every lock file in the lock directory: no row at all if there is no
 * such directory. */
__attribute__((noreturn))
static void list_locks(const struct options *o)
{
	const char *dir, *proc_locks = proc_locks_read();
	DIR *d = lock_dir_open(o, &dir);
	int64_t stale = stale_ns(o);
	char **names = NULL;
	size_t n = 0, shown = 0;

	if (!d && !o->json)
		exit(0);                /* no directory, no lock: nothing */
	if (d)
		names = lock_names(d, &n);
	if (o->json)
		putchar('[');
	else
		printf(LIST_ROW, "STATE", "PID", "PROGRAM", "SINCE", "FOR", "SKIPPED",
		       "WAITING", "KEY");
	for (size_t i = 0; i < n; i++) {
		struct listed l = { .dir = dir, .name = names[i] };

		if (listed_read(&l, dirfd(d), proc_locks, stale) < 0)
			continue;
		if (o->json)
			list_json(&l, shown == 0);
		else
			list_text(&l);
		shown++;
	}
	if (o->json)
		fputs(shown ? "\n]\n" : "]\n", stdout);
	exit(0);
}

/* A queue file nobody waits in, removed with its lock file. */
static void prune_queue(int dirfd, const char *dir, const char *name)
{
	char qname[LOCKNAME_MAX + sizeof QUEUE_SUFFIX];
	struct flock probe = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd;

	snprintf(qname, sizeof qname, "%s%s", name, QUEUE_SUFFIX);
	fd = openat(dirfd, qname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	if (fcntl(fd, F_OFD_GETLK, &probe) == 0 && probe.l_type == F_UNLCK &&
	    unlinkat(dirfd, qname, 0) == 0)
		printf("removed %s/%s\n", dir, qname);
	close(fd);
}

/* Remove one lock file if nobody holds it and no start has used it for
 * older_s: only while holding its lock, and only if the name still leads
 * to the file locked.  A start that opened it meanwhile finds it gone
 * once it has the lock, and starts over on a fresh file. */
static void prune_one(int dirfd, const char *dir, const char *name, int64_t older_s)
{
	struct fileinfo fi, now;
	int fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return;
	if (sys_fileinfo(fd, "", SYS_AT_EMPTY_PATH, &fi) < 0 || !S_ISREG(fi.mode) ||
	    fi.uid != geteuid() || fi.nlink != 1 ||
	    flock(fd, LOCK_EX | LOCK_NB) < 0 ||
	    (int64_t)time(NULL) - fi.mtime < older_s) {
		close(fd);
		return;
	}
	if (sys_fileinfo(dirfd, name, SYS_AT_NOFOLLOW, &now) == 0 &&
	    now.dev == fi.dev && now.ino == fi.ino) {
		if (unlinkat(dirfd, name, 0) == 0) {
			printf("removed %s/%s\n", dir, name);
			prune_queue(dirfd, dir, name);
		} else {
			message("cannot remove %s/%s: %s", dir, name, strerror(errno));
		}
	}
	close(fd);
}

__attribute__((noreturn))
static void prune_locks(const struct options *o)
{
	const char *dir;
	DIR *d = lock_dir_open(o, &dir);
	int64_t days_ns;
	char **names;
	size_t n;

	parse_seconds(o->older ? o->older : PRUNE_DEFAULT_DAYS, &days_ns);
	if (!d)
		exit(0);
	names = lock_names(d, &n);
	for (size_t i = 0; i < n; i++)
		prune_one(dirfd(d), dir, names[i], days_ns / NS_PER_S * 86400 +
			  days_ns % NS_PER_S * 86400 / NS_PER_S);
	exit(0);
}

/* ---- main --------------------------------------------------------------------- */

/* The version and the libraries single would preload: its own class's,
 * which must be there (72 if not, as for a start), and the other
 * class's, if there is one (a start says why not). */
__attribute__((noreturn))
static void version(void)
{
	const int other = NATIVE_CLASS == EXEC_64 ? EXEC_32 : EXEC_64;
	char buf[PATH_MAX];
	const char *lib;

	printf("single (libsingle) %s\n", SINGLE_VERSION);
	fflush(stdout);
	if (!(lib = library_find(buf, NATIVE_CLASS, 0)))
		exit(EXIT_OSFILE);
	printf("library: %s\n", lib);
	if (env_get(LIB_VAR) && *env_get(LIB_VAR))
		exit(0);
	lib = library_find(buf, other, 1);
	printf("library for %s-bit programs: %s\n", CLASS_BITS(other), lib ? lib : "none");
	exit(0);
}

int main(int argc, char **argv)
{
	struct options o = { .mode = MODE_RUN };
	int cmd = options_parse(&o, argc, argv);

	switch (o.mode) {
	case MODE_VERSION:
		version();
	case MODE_LIST:
		if (cmd < argc)
			usage_error("--list takes no command");
		list_locks(&o);
	case MODE_PRUNE:
		if (cmd < argc)
			usage_error("--prune takes no command");
		prune_locks(&o);
	case MODE_RUN:
	case MODE_EXPLAIN:
		break;
	}
	if (cmd >= argc)
		usage_error("no command given");
	run(&o, argv + cmd);
}
