/* libsingle: what the parts of the library share.
 *
 * The library is split by concern: settings.c reads the environment,
 * program.c finds out what was started and key.c decides from that which
 * starts exclude each other and names their lock files, lockdir.c finds
 * and checks the directory and the lock file, lock.c takes the lock or
 * waits for it, holders.c looks at other processes through /proc,
 * preload.c edits LD_PRELOAD, hide.c and interpose.c keep the descriptors
 * away from the program, exec.c carries them through the holder's own
 * exec, and init.c is the constructor that ties them together.  sys.h
 * holds the system calls of the constructor's path.
 *
 * key.c, preload.c and the parsers in settings.c are pure (no system
 * calls), so the fuzzers under tests/fuzz link them alone.
 */
#ifndef SINGLE_H
#define SINGLE_H

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Internal to the build, not settings: what the library exports is only
 * the calls it interposes (SINGLE_EXPORT, listed in libsingle.map);
 * everything shared between its files is SINGLE_HIDDEN. */
#define SINGLE_HIDDEN __attribute__((visibility("hidden")))
#define SINGLE_EXPORT __attribute__((visibility("default")))

/* Every environment variable the library reads, in one place.  The
 * names are the strings in settings.c's table, in this order. */
enum var {
	VAR_KEY,            /* SINGLE_KEY */
	VAR_DIR,            /* SINGLE_DIR */
	VAR_WAIT,           /* SINGLE_WAIT */
	VAR_CONFLICT_EXIT,  /* SINGLE_CONFLICT_EXIT */
	VAR_VERBOSE,        /* SINGLE_VERBOSE */
	VAR_ON_ERROR,       /* SINGLE_ON_ERROR */
	VAR_PROGRAMS,       /* SINGLE_PROGRAMS */
	VAR_SCOPE,          /* SINGLE_SCOPE */
	VAR_MAX,            /* SINGLE_MAX */
	VAR_REPLACE,        /* SINGLE_REPLACE */
	VAR_EXPLAIN,        /* SINGLE_EXPLAIN */
	/* Set by the library itself when the holder execs: the descriptors
	 * the new image adopts.  Never meant to be set by hand. */
	VAR_HELD,           /* SINGLE_HELD */
	VAR_N
};

/* Exit statuses (sysexits.h values, spelled out so the header is not
 * needed on systems without it). */
#define EXIT_USAGE     64 /* EX_USAGE: an invalid setting */
#define EXIT_OSERR     71 /* EX_OSERR: the system refused (EMFILE, ENOMEM, ...) */
#define EXIT_CANTCREAT 73 /* EX_CANTCREAT: cannot create or open the lock */
#define EXIT_NOPERM    77 /* EX_NOPERM: an unsafe directory or lock file */

#define LOCK_SUFFIX ".lock"
/* A name's body leaves room for ".lock" and a slot number ".1000". */
#define NAME_BODY_MAX (NAME_MAX - 5 - 5)
#define MAX_SLOTS   1000
#define WAIT_FOREVER INT64_MAX

/* Small string helpers for the constructor's path: each libc function
 * called there costs a symbol lookup at its first call (see sys.h). */
static inline int str_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* s after prefix, or NULL if s does not start with it */
static inline const char *after_prefix(const char *s, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i]; i++)
		if (s[i] != prefix[i])
			return NULL;
	return s + i;
}

/* ---- settings.c ------------------------------------------------------ */

enum on_error { ON_ERROR_EXIT, ON_ERROR_RUN };
enum scope { SCOPE_PROGRAM, SCOPE_COMMAND };

struct settings {
	const char *key;        /* SINGLE_KEY, or NULL */
	const char *dir;        /* SINGLE_DIR, or NULL (never in secure mode) */
	const char *programs;   /* SINGLE_PROGRAMS, or NULL */
	int64_t wait_ns;        /* 0: do not wait; WAIT_FOREVER: no limit */
	int64_t replace_ns;     /* -1: do not replace */
	int conflict_exit;      /* 0..255 */
	unsigned max;           /* slots per key, 1..MAX_SLOTS */
	int verbose;
	int explain;
	enum on_error on_error;
	enum scope scope;
};

/* Parsers: 0 on success, -1 on a bad value (nothing is printed). */
SINGLE_HIDDEN int parse_seconds(const char *s, int64_t *ns);
SINGLE_HIDDEN int parse_uint(const char *s, unsigned long min,
			     unsigned long max, unsigned long *out);
SINGLE_HIDDEN int parse_bool(const char *s, int *out);
/* The decimal number at the start of s, at most max: what follows it, or
 * NULL if there is no number or it is too large. */
SINGLE_HIDDEN const char *scan_uint(const char *s, unsigned long max,
				    unsigned long *out);
/* v in decimal, NUL-terminated (buf holds 21 bytes); its length.  The
 * constructor's hot path uses it instead of snprintf. */
SINGLE_HIDDEN size_t format_uint(char *buf, unsigned long v);

/* The SINGLE_* variables as found in the environment, in one pass over
 * it (NULL: unset or empty).  In secure-execution mode the ones that
 * choose a path or a descriptor are dropped. */
SINGLE_HIDDEN void env_collect(const char *raw[VAR_N], char **preload);
SINGLE_HIDDEN const char *var_name(enum var v);
/* Fills *st from raw; on a bad value prints one line naming the
 * variable and its value and returns -1. */
SINGLE_HIDDEN int settings_parse(struct settings *st, const char *const raw[VAR_N]);
/* Take SINGLE_HELD and, with `all`, the variables that describe this one
 * start (key, wait, scope...) and, with `preload`, LD_PRELOAD out of the
 * environment, so that children do not inherit them. */
SINGLE_HIDDEN void env_drop_start_settings(int all, int preload);

/* ---- key.c ----------------------------------------------------------- */

/* A lock file name is at most NAME_MAX bytes. */
#define LOCKNAME_MAX (NAME_MAX + 1)

struct interp;

/* What an interpreter's command line runs. */
enum run_kind {
	RUN_SELF,    /* interactive, stdin, or not understood: the binary */
	RUN_SCRIPT,  /* a script file: argv[index] */
	RUN_INLINE,  /* code given as text: argv[index] after option flag */
	RUN_MODULE,  /* python -m MODULE: argv[index] */
};

struct run {
	enum run_kind kind;
	const char *what;   /* the script, the text or the module */
	char flag[3];       /* for RUN_INLINE/RUN_MODULE: "-c", "-e", "-m"... */
	int rest;           /* argv index of the first argument after it */
};

SINGLE_HIDDEN const char *path_basename(const char *path);
SINGLE_HIDDEN const struct interp *interp_find(const char *base);
SINGLE_HIDDEN void interp_parse(const struct interp *in, int argc,
				char *const argv[], struct run *run);
/* A launcher (env, nice, nohup, ...) runs another command in its place:
 * returns the argv index of that command, or -1. */
SINGLE_HIDDEN int launcher_command(const char *base, int argc,
				   char *const argv[]);

/* The lock file name for a program path and an optional argument list.
 * Readable where possible: "/usr/bin/mbsync" becomes "usr-bin-mbsync.lock".
 * Injective: different inputs never share a name (names too long for one
 * file name end in a 64-bit hash instead).  Returns 0, or -1 if out is too
 * small. */
SINGLE_HIDDEN int lockname_for(char *out, size_t cap, const char *path,
			       char *const args[], int nargs);
/* The lock file name for a SINGLE_KEY name: "@NAME.lock". */
SINGLE_HIDDEN int lockname_named(char *out, size_t cap, const char *name);
/* The name of slot N (N >= 2) of a lock: "base.lock.N". */
SINGLE_HIDDEN int lockname_slot(char *out, size_t cap, const char *base,
				unsigned slot);
/* Is NAME acceptable as SINGLE_KEY?  NULL if so, else why not. */
SINGLE_HIDDEN const char *named_key_problem(const char *name);
/* Does a SINGLE_PROGRAMS list name this program?  Names are compared with
 * `started_as` (the basename the program was started by), paths with
 * `path` (resolved; may be NULL when the list has no path in it). */
SINGLE_HIDDEN int programs_match(const char *list, const char *started_as,
				 const char *path);
SINGLE_HIDDEN int programs_has_path(const char *list);

/* ---- preload.c ------------------------------------------------------- */

/* Remove from the LD_PRELOAD value `v` (in place) every entry whose file
 * name is `self_base`, with the separators that followed it (or, for the
 * last entry, preceded it).  Returns 1 if anything was removed. */
SINGLE_HIDDEN int preload_remove(char *v, const char *self_base);
/* Does the value name our library?  If so, and found is not NULL, it is
 * called with that entry as written, and its answer is returned. */
SINGLE_HIDDEN int preload_has(const char *v, const char *self_base,
			      int (*found)(const char *entry, int lasting));

/* ---- program.c ------------------------------------------------------- */

struct program {
	char path[PATH_MAX];        /* resolved path of what was started */
	const char *started_as;     /* basename as started, for SINGLE_PROGRAMS */
	char *const *args;          /* what follows it on the command line */
	int nargs;
	char inline_flag[3];        /* "-c", "-e", "-m"... or "" */
	const char *inline_text;    /* the code or module it names */
};

/* Work out what program this is.  Returns 0, or -1 if it cannot tell
 * (errno set). */
SINGLE_HIDDEN int program_identify(struct program *p, int argc, char **argv);
/* started_as only, without a system call. */
SINGLE_HIDDEN void program_started_as(struct program *p, int argc,
				      char **argv);

/* ---- lockdir.c ------------------------------------------------------- */

struct lockdir {
	int fd;
	char path[PATH_MAX];
};

/* Exit status for a setup error, or 0. */
SINGLE_HIDDEN int lockdir_open(struct lockdir *d, const char *setting);
/* Opens (creating) the lock file; fills *st.  Returns an exit status on
 * error (message printed), or 0. */
struct stat;
SINGLE_HIDDEN int lockfile_open(const struct lockdir *d, const char *name,
				int *fdp, struct stat *st);
SINGLE_HIDDEN int lockfile_still_there(const struct lockdir *d,
				       const char *name, const struct stat *st);

/* ---- lock.c ---------------------------------------------------------- */

struct lock_request {
	const struct settings *st;
	const char *label;          /* the program's name, for messages */
	const char *name;           /* lock file name (slot 1) */
};

enum lock_result {
	LOCK_TAKEN,     /* we hold it: run */
	LOCK_BUSY,      /* someone else holds it: skip */
	LOCK_ANCESTOR,  /* our own ancestor holds it: run unlocked */
	LOCK_ERROR,     /* cannot set up; status in *status */
};

SINGLE_HIDDEN enum lock_result lock_take(const struct lock_request *rq,
					 struct lockdir *d, int *status);
SINGLE_HIDDEN void lock_explain(const struct lock_request *rq,
				struct lockdir *d);

/* ---- holders.c ------------------------------------------------------- */

/* Reading a directory of numbered entries (/proc, /proc/PID/fdinfo,
 * /proc/self/fd) without opendir(), which allocates. */
struct numdir {
	int fd;
	/* getdents64 keeps its records 8-byte aligned in the buffer: the
	 * buffer must be too, for struct dirent64 to be read in place */
	_Alignas(8) char buf[4096];
	long len, pos;
};

/* The directory's descriptor, or -1. */
SINGLE_HIDDEN int numdir_open(struct numdir *d, const char *path);
/* The next numbered entry, or -1 at the end (the directory is then
 * closed; a caller that stops early closes d->fd itself). */
SINGLE_HIDDEN long numdir_next(struct numdir *d);

SINGLE_HIDDEN pid_t holder_pid_read(int fd);
SINGLE_HIDDEN int pid_is_ancestor(pid_t pid);
/* The pids whose open files hold an exclusive flock on (dev, ino).
 * Returns how many were found (at most max). */
SINGLE_HIDDEN int pid_holds_lock(pid_t pid, dev_t dev, ino_t ino);
SINGLE_HIDDEN int holders_find(dev_t dev, ino_t ino, pid_t *pids, int max);

/* ---- hide.c ---------------------------------------------------------- */

/* The descriptors the program must not see: the lock and its directory. */
enum { HIDDEN_LOCK, HIDDEN_DIR, HIDDEN_N };

SINGLE_HIDDEN extern int hidden_fd[HIDDEN_N];
SINGLE_HIDDEN extern pid_t holder_pid;

/* Move the lock and its directory out of the program's way (closing the
 * originals) and remember them; -1 if there is no room. */
SINGLE_HIDDEN int hide_fds(int lockfd, int dirfd);
/* Remember descriptors inherited through exec. */
SINGLE_HIDDEN void hidden_adopt(int lockfd, int dirfd);
SINGLE_HIDDEN int is_hidden(int fd);
/* The program wants `fd`'s number: move ours elsewhere first. */
SINGLE_HIDDEN int hidden_evict(int fd);
/* Evictions and closes that span hidden descriptors take turns. */
SINGLE_HIDDEN void hidden_guard_enter(sigset_t *old);
SINGLE_HIDDEN void hidden_guard_leave(const sigset_t *old);
/* Does any hidden descriptor lie in [lo, hi]? The lowest such, or -1. */
SINGLE_HIDDEN int hidden_in_range(unsigned lo, unsigned hi);

/* ---- exec.c ---------------------------------------------------------- */

typedef int (*exec_fn)(const void *ctx, char *const envp[]);

/* Remember how to name the library to the next image: an LD_PRELOAD
 * entry (copied: 0 if too long) or a string that lasts (kept as is). */
SINGLE_HIDDEN int exec_remember_self(const char *entry, int lasting);
/* Run fn with envp, or, in the lock's holder, with an environment that
 * carries the lock into the new image. */
SINGLE_HIDDEN int exec_carrying(char *const envp[], exec_fn fn,
				const void *ctx);
/* In a new image: adopt the lock the previous image carried.  1 if so. */
SINGLE_HIDDEN int held_adopt(const char *held);



/* ---- messages -------------------------------------------------------- */

SINGLE_HIDDEN void say(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* Text on standard output, a piece at a time (SINGLE_EXPLAIN's answer:
 * a path may be longer than any line buffer). */
SINGLE_HIDDEN void print_stdout(const char *s);

#endif
