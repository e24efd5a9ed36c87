/* SPDX-License-Identifier: MIT */
/* libsingle: what the parts of the library share.
 *
 * One file per concern; each section below is one file's interface.
 * How a start goes: init.c (the constructor) reads the settings
 * (settings.c), finds the command line where the C library does not
 * pass it (args.c: musl), asks key.c for the key and its lock file name
 * (key.c reads the command line through cmdline.c's tables and asks the
 * kernel through program.c), opens the lock directory (lockdir.c) and takes
 * the lock (lock.c, waiting through wait.c, writing the holder record
 * through record.c, asking holders.c who else holds it).  Once held,
 * the descriptors are kept out of the program's way (hide.c, with the
 * interposed calls in interpose.c) and carried through the holder's own
 * exec (exec.c, which edits LD_PRELOAD through preload.c).  num.c is
 * the only number parser and formatter, say.c the only writer of
 * messages, proc.c the only reader of /proc, sys.h/sys.c the system
 * calls.
 *
 * Files depend on each other in one direction only: nothing below init.c
 * calls back up.  cmdline.c, key.c's naming, num.c and preload.c are pure
 * (no system calls), so the fuzzers under tests/fuzz link them alone.
 */
#ifndef SINGLE_H
#define SINGLE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Internal to the build, not settings: what the library exports is only
 * the calls it interposes (SINGLE_EXPORT, listed in libsingle.map);
 * everything shared between its files is SINGLE_HIDDEN.  (Both are
 * compile-time macros of the sources, not settings.) */
#define SINGLE_HIDDEN __attribute__((visibility("hidden")))
#define SINGLE_EXPORT __attribute__((visibility("default")))

/* Every environment variable the library reads, in one place; the names
 * are in settings.c's table. */
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
	VAR_STALE,          /* SINGLE_STALE */
	VAR_QUEUE,          /* SINGLE_QUEUE */
	/* Set by the library itself when the holder execs: the descriptors
	 * the new image adopts.  Never meant to be set by hand. */
	VAR_HELD,           /* SINGLE_HELD */
	VAR_N
};

/* Exit statuses (sysexits.h values, spelled out so the header is not
 * needed on systems without it). */
#define EXIT_USAGE       64 /* EX_USAGE: an invalid setting */
#define EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE: SINGLE_REPLACE cannot verify the holder */
#define EXIT_OSERR       71 /* EX_OSERR: the system refused (EMFILE, ENOMEM, ...) */
#define EXIT_CANTCREAT   73 /* EX_CANTCREAT: cannot create or open the lock */
#define EXIT_TEMPFAIL    75 /* EX_TEMPFAIL: SINGLE_STALE: the holder seems stuck */
#define EXIT_NOPERM      77 /* EX_NOPERM: an unsafe directory or lock file */

#define MAX_SLOTS    1000
#define MAX_QUEUE    1000
#define WAIT_FOREVER INT64_MAX

/* ---- small string helpers --------------------------------------------- */

/* The constructor's path calls no libc string function: each distinct
 * one costs a symbol lookup at its first call (see sys.h).  The empty
 * asm keeps the optimizer from turning these loops back into calls to
 * strlen and memcpy. */
#define NOT_A_LIBC_CALL(x) __asm__("" : "+r"(x))

static inline size_t str_len(const char *s)
{
	size_t n = 0;

	while (s[n]) {
		NOT_A_LIBC_CALL(n);
		n++;
	}
	return n;
}

static inline int str_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static inline int str_eq_nocase(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = *a >= 'A' && *a <= 'Z' ? *a + 32 : *a;
		int y = *b >= 'A' && *b <= 'Z' ? *b + 32 : *b;

		if (x != y)
			return 0;
		if (!x)
			return 1;
	}
}

/* The first c (not NUL) in s, or NULL. */
static inline const char *str_chr(const char *s, char c)
{
	for (; *s; s++)
		if (*s == c)
			return s;
	return NULL;
}

/* Are the first n bytes of a and b the same (as strncmp() == 0)? */
static inline int str_n_eq(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return 0;
		if (!*a)
			return 1;
	}
	return 1;
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

static inline void mem_copy(void *to, const void *from, size_t n)
{
	char *t = to;
	const char *f = from;

	while (n--) {
		NOT_A_LIBC_CALL(t);
		*t++ = *f++;
	}
}

/* The file name part of a path. */
static inline const char *path_basename(const char *path)
{
	const char *base = path;

	for (; *path; path++)
		if (*path == '/')
			base = path + 1;
	return base;
}

/* ---- num.c: the only number parser and formatter ---------------------- */

/* The decimal number at the start of s, at most max: what follows it, or
 * NULL if there is no number or it is too large. */
SINGLE_HIDDEN const char *scan_u64(const char *s, uint64_t max, uint64_t *out);
/* All of s a number in [min, max]: 0, else -1. */
SINGLE_HIDDEN int parse_u64(const char *s, uint64_t min, uint64_t max,
			    uint64_t *out);
/* Seconds as a decimal number ("2.5") or "inf", into nanoseconds. */
SINGLE_HIDDEN int parse_seconds(const char *s, int64_t *ns);
/* v in decimal, NUL-terminated (buf holds 21 bytes); its length. */
SINGLE_HIDDEN size_t format_u64(char *buf, uint64_t v);
/* Seconds since the epoch as "2026-11-30T15:02:03Z" (buf holds 32
 * bytes); its length. */
SINGLE_HIDDEN size_t format_utc(char *buf, int64_t sec);
/* A duration as "3d4h5m6s", "5m12s", "7s" (buf holds 32 bytes). */
SINGLE_HIDDEN size_t format_duration(char *buf, int64_t sec);

/* ---- say.c: messages --------------------------------------------------- */

/* One line on stderr: "libsingle: " and a printf-like message (%s, %c,
 * %d, %u, %o, %x; sizes l, ll, z; flag 0 and a width).  Unprintable
 * bytes of %s arguments are escaped; SIGPIPE never ends the process. */
SINGLE_HIDDEN void say(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* Text on standard output as it is (SINGLE_EXPLAIN's answer). */
SINGLE_HIDDEN void print_stdout(const char *s);

/* ---- settings.c -------------------------------------------------------- */

enum on_error { ON_ERROR_EXIT, ON_ERROR_RUN };
enum scope { SCOPE_PROGRAM, SCOPE_COMMAND };

struct settings {
	const char *key;        /* SINGLE_KEY, or NULL */
	const char *dir;        /* SINGLE_DIR, or NULL */
	const char *programs;   /* SINGLE_PROGRAMS, or NULL */
	int64_t wait_ns;        /* 0: do not wait; WAIT_FOREVER: no limit */
	int64_t replace_ns;     /* -1: do not replace */
	int64_t stale_ns;       /* -1: never stuck */
	int conflict_exit;      /* 0..255 */
	unsigned max;           /* slots per key, 1..MAX_SLOTS */
	unsigned queue;         /* 0: no queue; else places, 1..MAX_QUEUE */
	int verbose;
	int explain;
	enum on_error on_error;
	enum scope scope;
};

/* The SINGLE_* variables and LD_PRELOAD as found in the environment, in
 * one pass over it (NULL: unset or empty). */
SINGLE_HIDDEN void env_collect(const char *raw[VAR_N], char **preload);
SINGLE_HIDDEN const char *var_name(enum var v);
/* Fills *st from raw; on a bad value prints one line naming the
 * variable and its value and returns -1. */
SINGLE_HIDDEN int settings_parse(struct settings *st, const char *const raw[VAR_N]);
/* Take SINGLE_HELD and, with `all`, the variables that describe this one
 * start (key, wait, scope...) and, with `preload`, LD_PRELOAD out of the
 * environment, so that children do not inherit them. */
SINGLE_HIDDEN void env_drop_start_settings(int all, int preload);
/* 1, yes, true, on or 0, no, false, off (any case): 0, else -1. */
SINGLE_HIDDEN int parse_bool(const char *s, int *out);
/* Is NAME acceptable as SINGLE_KEY?  NULL if so, else why not. */
SINGLE_HIDDEN const char *named_key_problem(const char *name);
/* The value of an environment variable (the first entry), or NULL. */
SINGLE_HIDDEN const char *env_get(const char *name);

/* ---- cmdline.c: reading interpreters' and launchers' command lines ---- */

struct interp;

/* What an interpreter's command line runs. */
enum run_kind {
	RUN_SELF,    /* interactive, stdin, or not understood: the binary */
	RUN_SCRIPT,  /* a script file: argv[index] */
	RUN_SEARCHED,/* a script the interpreter looks up on PATH (perl -S) */
	RUN_INLINE,  /* code given as text: argv[index] after option flag */
	RUN_MODULE,  /* python -m MODULE: argv[index] */
};

struct run {
	enum run_kind kind;
	const char *what;   /* the script, the text or the module */
	char flag[3];       /* for RUN_INLINE/RUN_MODULE: "-c", "-e", "-m"... */
	int rest;           /* argv index of the first argument after it */
};

/* The interpreter a binary's name stands for ("python3.11": python), or
 * NULL. */
SINGLE_HIDDEN const struct interp *interp_find(const char *base);
SINGLE_HIDDEN void interp_parse(const struct interp *in, int argc,
				char *const argv[], struct run *run);
/* A launcher (env, nice, nohup, ...) runs another command in its place:
 * returns the argv index of that command, or -1. */
SINGLE_HIDDEN int launcher_command(const char *base, int argc,
				   char *const argv[]);
/* Does the launcher pass LD_PRELOAD on to its command (argv[cmd]) as it
 * is?  Only env can drop or replace it (-i, -, -u LD_PRELOAD, ...). */
SINGLE_HIDDEN int launcher_keeps_preload(const char *base, int cmd,
					 char *const argv[]);

/* ---- program.c: what the kernel says about what was started ----------- */

/* A file known by its identity alone: dev and ino (0: not needed). */
struct program_id {
	uint64_t dev, ino;
};

/* The executable, symlinks resolved; 0 or -errno.  A memfd or a file
 * deleted since it was started has no name to key it by: *id is set to
 * its identity then (else zeroed).  argv0 (or NULL) is where a loader run
 * as a command ("ld.so PROGRAM") may have left PROGRAM. */
SINGLE_HIDDEN int program_exe(char out[PATH_MAX], struct program_id *id,
			      const char *argv0);
/* The script of a "#!" start, or NULL: AT_EXECFN, when the kernel put
 * it into argv after the interpreter. */
SINGLE_HIDDEN const char *program_script(int argc, char **argv);
/* Is the file at path the executable this process runs? */
SINGLE_HIDDEN int program_is_exe(const char *path);
/* A path resolved as the kernel sees the file; 0 or -errno.  in and out
 * may not be the same buffer. */
SINGLE_HIDDEN int path_resolve(const char *in, char out[PATH_MAX]);
/* A command found on PATH as execvp would; 0 or -1. */
SINGLE_HIDDEN int path_search(const char *cmd, char out[PATH_MAX]);
/* Open a regular file for reading (never a FIFO or a device); the
 * descriptor or -errno. */
SINGLE_HIDDEN int program_open_regular(const char *path);
/* The exec_kind of a file (EXEC_OTHER if it is not a regular file); for
 * a script, its interpreter's path goes to interp (when not NULL). */
SINGLE_HIDDEN int program_kind(const char *path, char interp[PATH_MAX]);

/* ---- args.c: the command line where the constructor is not given it --- */

/* argc and argv as main() will get them, for a C library that calls
 * constructors without them (musl): found on the initial stack through
 * environ, or read from /proc/self/cmdline.  0, or -errno. */
SINGLE_HIDDEN int program_args(int *argc, char ***argv);
/* Unmap what program_args mapped for /proc/self/cmdline, if anything:
 * its argv is gone then. */
SINGLE_HIDDEN void program_args_release(void);

/* ---- elf.c: what kind of executable a file is ------------------------- */

enum exec_kind {
	EXEC_OTHER = 0,         /* neither kind below, or unreadable */
	EXEC_SCRIPT = 1,        /* starts with "#!" */
	EXEC_STATIC = 2,        /* ELF without PT_INTERP: never loads the library */
	EXEC_DYNAMIC = 4,       /* ELF with PT_INTERP: ld.so reads LD_PRELOAD */
	EXEC_32 = 8,            /* with EXEC_STATIC or EXEC_DYNAMIC: the class */
	EXEC_64 = 16,
};

/* The kind of the file open on fd (read with pread): an exec_kind, the
 * ELF ones with their class. */
SINGLE_HIDDEN int elf_kind(int fd);

/* ---- key.c: which starts exclude each other, and their lock files ------ */

/* A lock file name is at most NAME_MAX bytes. */
#define LOCKNAME_MAX (NAME_MAX + 1)
#define LOCK_SUFFIX ".lock"
/* A name's body leaves room for ".lock" and a slot number ".1000". */
#define NAME_BODY_MAX (NAME_MAX - 5 - 5)

/* What was started, as far as the key is concerned. */
struct key {
	char *path;                 /* resolved path of what was started:
				     * PATH_MAX bytes of the caller's */
	const char *started_as;     /* basename as started, for SINGLE_PROGRAMS */
	char *const *args;          /* what follows it on the command line */
	int nargs;
	char inline_flag[3];        /* "-c", "-e", "-m"... or "" */
	const char *inline_text;    /* the code or module it names */
	const char *unresolved;     /* a script operand that names no file */
	struct program_id id;       /* for a program without a name */
	int launcher_locks;         /* a launcher holding the lock for its
				     * command: a static one, or one env
				     * starts without our LD_PRELOAD */
};

/* started_as only, without a system call. */
SINGLE_HIDDEN void key_started_as(struct key *k, int argc, char **argv);

/* key_identify: a launcher whose command will load the library and lock
 * itself (a dynamically linked one): the launcher takes no lock. */
#define KEY_NOT_MINE 1

/* Work out what was started: 0, KEY_NOT_MINE, or -errno if it cannot
 * tell. */
SINGLE_HIDDEN int key_identify(struct key *k, int argc, char **argv);
/* Only whether this is a launcher whose command locks itself (0 or
 * KEY_NOT_MINE), for a start that SINGLE_KEY names. */
SINGLE_HIDDEN int key_launcher_only(struct key *k, int argc, char **argv);
/* The lock file name for this start (SINGLE_KEY, SINGLE_SCOPE); 0, or
 * -1 if it cannot be made. */
SINGLE_HIDDEN int key_lockname(const struct key *k, const struct settings *st,
			       char name[LOCKNAME_MAX]);
/* "key: ..." for SINGLE_EXPLAIN. */
SINGLE_HIDDEN void key_explain(const struct key *k, const struct settings *st);
/* The name a person reads for what was started. */
SINGLE_HIDDEN const char *key_label(const struct key *k, const struct settings *st);

/* Lock file names.  Readable where possible: "/usr/bin/mbsync" becomes
 * "usr-bin-mbsync.lock".  Injective: different inputs never share a name
 * (names too long for one file name end in a 64-bit hash instead).  0,
 * or -1 if out is too small. */
SINGLE_HIDDEN int lockname_for(char *out, size_t cap, const char *path,
			       char *const parts[], int nparts,
			       char *const more[], int nmore);
/* The lock file name for a SINGLE_KEY name: "@NAME.lock". */
SINGLE_HIDDEN int lockname_named(char *out, size_t cap, const char *name);
/* The name of slot N (N >= 2) of a lock: "base.lock.N". */
SINGLE_HIDDEN int lockname_slot(char *out, size_t cap, const char *base,
				unsigned slot);
/* What a lock file name stands for, as a person reads it: the key
 * ("/usr/bin/mbsync work", "mail (SINGLE_KEY)"), then " (slot N)" for a
 * slot and "... (shortened: HASH)" for a name cut short; 0, or -1 if the
 * name is not a lock file's.  The inverse of the functions above. */
SINGLE_HIDDEN int lockname_describe(const char *name, char *out, size_t cap);
/* Does a SINGLE_PROGRAMS list name this program?  Names are compared with
 * `started_as`, paths with `path` (resolved; may be NULL when the list
 * has no path in it). */
SINGLE_HIDDEN int programs_match(const char *list, const char *started_as,
				 const char *path);
SINGLE_HIDDEN int programs_has_path(const char *list);

/* ---- preload.c: editing LD_PRELOAD ------------------------------------- */

/* Remove from the LD_PRELOAD value `v` (in place) every entry whose file
 * name is `self_base`, with the separators that followed it (or, for the
 * last entry, preceded it).  Returns 1 if anything was removed. */
SINGLE_HIDDEN int preload_remove(char *v, const char *self_base);
/* Does the value name our library?  If so, and found is not NULL, it is
 * called with that entry as written, and its answer is returned. */
SINGLE_HIDDEN int preload_has(const char *v, const char *self_base,
			      int (*found)(const char *entry, int lasting));

/* ---- lockdir.c: the lock directory and lock files ---------------------- */

struct lockdir {
	int fd;
	const char *path;
	char default_path[32];      /* /tmp/libsingle-UID */
};

struct fileinfo;

/* The default lock directory, /tmp/libsingle-EUID, written into
 * d->default_path (single --list reads it without opening it). */
SINGLE_HIDDEN const char *lockdir_default(struct lockdir *d);
/* Exit status for a setup error (message printed), or 0. */
SINGLE_HIDDEN int lockdir_open(struct lockdir *d, const char *setting);
/* Opens (creating) the lock file; fills *fi; *writable is 0 for a lock
 * file on a read-only file system.  An exit status on error (message
 * printed), or 0. */
SINGLE_HIDDEN int lockfile_open(const struct lockdir *d, const char *name,
				int *fdp, struct fileinfo *fi, int *writable);
/* Does the name still lead to the file that was opened, with one link? */
SINGLE_HIDDEN int lockfile_still_there(const struct lockdir *d,
				       const char *name, const struct fileinfo *fi);

/* ---- record.c: who holds a lock, as written in its file ----------------- */

#define RECORD_SIZE      512
#define RECORD_HOST_MAX  65     /* a host name and its NUL */
#define RECORD_BOOT_MAX  40     /* a boot id (36) and its NUL */
#define RECORD_PROG_MAX  256

struct record {
	pid_t pid;                  /* the holder when it took the lock; 0: unknown */
	int fd;                     /* its lock descriptor then; -1: unknown */
	int64_t since_ns;           /* wall clock when it took the lock; 0: unknown */
	uint64_t skipped;           /* starts turned away since (if complete) */
	int complete;               /* a whole record: skipped counts */
	char host[RECORD_HOST_MAX];
	char boot[RECORD_BOOT_MAX];
	char prog[RECORD_PROG_MAX];
};

/* This host's name and boot id into r. */
SINGLE_HIDDEN void record_this_host(struct record *r);
/* Was the record written on another host (another boot id)? */
SINGLE_HIDDEN int record_is_remote(const struct record *r);
/* Write r into the lock file (fi: the file as opened), counting anew. */
SINGLE_HIDDEN void record_write(int fd, const struct fileinfo *fi,
				const struct record *r);
/* Read the record; fields it lacks are left unknown. */
SINGLE_HIDDEN void record_read(int fd, struct record *r);
/* One more start turned away: one atomic append. */
SINGLE_HIDDEN void record_count_skip(int fd);
/* CLOCK_REALTIME in nanoseconds. */
SINGLE_HIDDEN int64_t wall_clock_ns(void);

/* ---- proc.c: reading /proc without allocating -------------------------- */

/* A directory of numbered entries (/proc, /proc/PID/fdinfo, /proc/self/fd),
 * read without opendir(), which allocates. */
struct numdir {
	int fd;
	/* getdents64 keeps its records 8-byte aligned in the buffer: the
	 * buffer must be too, for a record to be read in place */
	_Alignas(8) char buf[1024];
	long len, pos;
};

/* The directory's descriptor, or -errno. */
SINGLE_HIDDEN int numdir_open(struct numdir *d, const char *path);
/* The next numbered entry, or -1 at the end (the directory is then
 * closed; a caller that stops early calls numdir_close). */
SINGLE_HIDDEN long numdir_next(struct numdir *d);
SINGLE_HIDDEN void numdir_close(struct numdir *d);
/* A small file read whole into buf (NUL-terminated); its length or
 * -errno. */
SINGLE_HIDDEN long proc_read(const char *path, char *buf, size_t cap);
/* A file of any size (up to 16 MiB) read whole into fresh pages,
 * NUL-terminated: its length, or -errno.  *text and *size are the pages,
 * for sys_munmap. */
SINGLE_HIDDEN long proc_read_mapped(const char *path, char **text, size_t *size);
/* "/proc/" + pid + rest, into buf (at least 64 bytes). */
SINGLE_HIDDEN const char *proc_path(char *buf, long pid, const char *rest);
/* The parent of pid, or 0. */
SINGLE_HIDDEN pid_t proc_parent(pid_t pid);

/* ---- holders.c: who holds a lock, in the kernel's words ------------------ */

/* Is /proc mounted, and for this process's PID namespace? */
SINGLE_HIDDEN int proc_is_ours(void);
/* Does this process hold an exclusive flock on fi through its descriptor
 * fd (and no other)?  1, 0, or -1 when /proc cannot tell. */
SINGLE_HIDDEN int self_holds(int fd, const struct fileinfo *fi);
/* Does pid hold an exclusive flock on the file?  Its descriptor `hint`
 * (-1: none) is looked at first. */
SINGLE_HIDDEN int pid_holds_lock(pid_t pid, const struct fileinfo *fi, int hint);
/* The pids whose open files hold an exclusive flock on the file; how
 * many were found (at most max), or -1 when /proc is not ours. */
SINGLE_HIDDEN int holders_find(const struct fileinfo *fi, pid_t *pids, int max);
/* Does proc_locks, the text of /proc/locks, show an exclusive flock held
 * on the file?  A file it does not show has no holder, so a caller with
 * many files (single --list) reads it once instead of every process's
 * fdinfo for each of them. */
SINGLE_HIDDEN int holders_listed(const char *proc_locks, const struct fileinfo *fi);

#define ANCESTORS_MAX 64

/* This process and its ancestors, nearest first. */
struct ancestors {
	int n;
	pid_t pid[ANCESTORS_MAX];
};

/* 0, or -1 when /proc is not ours (nothing can be known). */
SINGLE_HIDDEN int ancestors_read(struct ancestors *a);
/* Does one of them hold an exclusive flock on the file through its
 * descriptor `hint` (the record's; -1: where the library puts it)? */
SINGLE_HIDDEN int ancestor_holds(const struct ancestors *a,
				 const struct fileinfo *fi, int hint);

/* ---- status.c: the state of a lock, for people ---------------------------- */

#define STATUS_HOLDERS_MAX 16
/* The queue of a lock "X.lock" is "X.lock.q" (lock.c). */
#define QUEUE_SUFFIX ".q"

enum lock_state { STATE_FREE, STATE_HELD };

struct lock_status {
	enum lock_state state;
	int nholders;               /* holders seen on this host */
	pid_t holders[STATUS_HOLDERS_MAX];
	int proc_unknown;           /* /proc is not ours: holders unknown */
	int remote;                 /* the record names another host */
	int record_current;         /* the record is the holder's own */
	struct record rec;
	int waiting;                /* starts waiting; -1: unknown */
	int64_t mtime;              /* the file's: when a start last used it */
};

/* The state of lock file `name` in the directory open on dirfd; 0 or
 * -errno.  proc_locks: /proc/locks read once for many files, or NULL. */
SINGLE_HIDDEN int lock_status_read(int dirfd, const char *name,
				   const char *proc_locks, struct lock_status *s);
/* Held for longer than stale_ns (-1: never stuck)? */
SINGLE_HIDDEN int lock_status_stuck(const struct lock_status *s, int64_t stale_ns);

/* ---- lock.c and wait.c: taking the lock ---------------------------------- */

struct lock_request {
	const struct settings *st;
	const char *label;          /* the key's name, for messages */
	const char *program;        /* the program's name, for the record */
	const char *name;           /* lock file name (slot 1) */
};

enum lock_result {
	LOCK_TAKEN,     /* we hold it: run */
	LOCK_BUSY,      /* someone else holds it: skip */
	LOCK_ANCESTOR,  /* our own ancestor holds it: run unlocked */
	LOCK_REFUSED,   /* not started, with a status of its own (*status):
			 * the holder seems stuck, or cannot be replaced */
	LOCK_ERROR,     /* cannot set up; status in *status */
};

SINGLE_HIDDEN enum lock_result lock_take(const struct lock_request *rq,
					 struct lockdir *d, int *status);
SINGLE_HIDDEN void lock_explain(const struct lock_request *rq,
				struct lockdir *d);
/* wait.c: flock(LOCK_EX) until the monotonic deadline (ns, or
 * WAIT_FOREVER): 0 locked, 1 deadline passed, -errno on error. */
SINGLE_HIDDEN int flock_until(int fd, int64_t deadline);
SINGLE_HIDDEN int64_t monotonic_ns(void);
SINGLE_HIDDEN void wait_pause(int64_t ns);

/* ---- hide.c: the descriptors kept out of the program's way -------------- */

/* The locks held, each with its directory: lock k is hidden_fd[2k]
 * (HIDDEN_LOCK + 2k), its directory hidden_fd[2k + 1].  A process holds
 * more than one only when an image that came with locks through exec is
 * listed under a key of its own (a listed wrapper that execs another
 * listed program): it takes that one too.  Lock 0 is always the first
 * taken. */
#define HELD_MAX 4
enum { HIDDEN_LOCK, HIDDEN_DIR, HIDDEN_N = 2 * HELD_MAX };

/* Where the first lock and its directory go: the top of the usual
 * 1024-entry table, far above what programs open (further locks go just
 * below). */
#define HIGH_FD (1024 - 2)

SINGLE_HIDDEN extern int hidden_fd[HIDDEN_N];
/* The process that took the lock (or adopted it through exec): only it
 * carries the lock through its exec... */
SINGLE_HIDDEN extern pid_t holder_pid;
/* ...unless the lock is a launcher's, held for the static command it
 * runs (setsid -f, timeout): then whichever process of it execs, the
 * launcher or a child it forked, carries the lock to the command. */
SINGLE_HIDDEN extern int held_for_command;

/* Move a lock and its directory out of the program's way (closing the
 * originals) and remember them.  With no room to move them (a tiny
 * descriptor limit) they stay where they are, hidden all the same.  The
 * lock's number, or -1 when HELD_MAX locks are held already (nothing
 * done). */
SINGLE_HIDDEN int hide_fds(int lockfd, int dirfd);
/* Remember descriptors inherited through exec; 0, or -1 when HELD_MAX
 * locks are held already. */
SINGLE_HIDDEN int hidden_adopt(int lockfd, int dirfd);
/* Is the file fi one of the locks this process holds? */
SINGLE_HIDDEN int hidden_holds(const struct fileinfo *fi);
SINGLE_HIDDEN int is_hidden(int fd);
/* Is the table of hidden descriptors this process's own (the holder, its
 * threads, a fork child), rather than the parent's of a child that shares
 * its memory (vfork, clone(CLONE_VM))?  Such a child's calls go to the
 * kernel as they are.  Ask only once a descriptor is known to be hidden:
 * it may cost a system call. */
SINGLE_HIDDEN int hidden_ours(void);
/* Around a call that may close or replace a number the table does not
 * name, so that an eviction to that number meanwhile is seen and made
 * again: enter returns what leave takes. */
SINGLE_HIDDEN int hidden_pass_enter(void);
SINGLE_HIDDEN void hidden_pass_leave(int pass);
/* The program wants `fd`'s number: move ours elsewhere first; 0 or -1. */
SINGLE_HIDDEN int hidden_evict(int fd);
/* The program is to get `to`, one of ours below the soft descriptor
 * limit, as a copy of fd (fcntl(F_DUPFD) would give it that number if ours
 * were not there): move ours away and dup3(fd, to, flags), in one turn;
 * `to` or -errno (nothing changed): -EAGAIN when `to` was not ours any
 * more, dup2's EBADF or EMFILE otherwise. */
SINGLE_HIDDEN int hidden_give(int to, int fd, int flags);
/* Evictions, closes that span hidden descriptors and the holder's exec
 * take turns, with every signal blocked; the program's signal mask (a
 * kernel sigset) is kept in mask.  `nested`: a signal handler of the
 * thread that holds the guard went on without waiting; leaving then
 * lets nothing go. */
struct hidden_guard {
	uint64_t mask[2];
	int nested;
};
SINGLE_HIDDEN void hidden_guard_enter(struct hidden_guard *g);
SINGLE_HIDDEN void hidden_guard_leave(const struct hidden_guard *g);
/* Does any hidden descriptor lie in [lo, hi]? The lowest such, or -1. */
SINGLE_HIDDEN int hidden_in_range(unsigned lo, unsigned hi);

/* ---- exec.c: the lock through the holder's own exec ---------------------- */

typedef long (*exec_fn)(const void *ctx, char *const envp[]);

/* Remember how to name the library to the next image: an LD_PRELOAD
 * entry (copied: 0 if too long) or a string that lasts (kept as is).  A
 * relative path is made absolute from the working directory: call it
 * from the constructor, while that is still the one ld.so used. */
SINGLE_HIDDEN int exec_remember_self(const char *entry, int lasting);
/* Run fn with envp, or, in the lock's holder, with an environment that
 * carries the lock into the new image.  fn returns -errno; so does this. */
SINGLE_HIDDEN long exec_carrying(char *const envp[], exec_fn fn,
				 const void *ctx);
/* In a new image: what SINGLE_HELD says (see held_adopt). */
enum held_state {
	HELD_NONE,      /* absent, or names no lock this process holds:
			 * the start locks as usual */
	HELD_ADOPTED,   /* this process exec'd holding them: adopted */
	HELD_INHERITED, /* a child of a holder the library could not reach
			 * (a static program run through single(1)): the
			 * lock is its parent's, the child is left alone */
};
SINGLE_HIDDEN enum held_state held_adopt(const char *held);

#endif
