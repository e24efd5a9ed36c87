/* SPDX-License-Identifier: MIT */
/* The key: which starts exclude each other, and the name of their lock
 * file.
 *
 * The key is the file that was executed, symlinks resolved; a "#!"
 * script rather than its interpreter; the script an interpreter was
 * started on; the code an interpreter was given inline; the command a
 * launcher runs.  SINGLE_KEY replaces it, SINGLE_SCOPE=command adds the
 * arguments.  The kernel's facts come from program.c, the reading of
 * command lines from cmdline.c; this file decides, names the lock file
 * (and reads such names back), and explains its choice.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/auxv.h>

#include "single.h"

/* ---- deciding ----------------------------------------------------------- */

static void set_args(struct key *k, char **argv, int from, int argc)
{
	k->args = argv + from;
	k->nargs = from < argc ? argc - from : 0;
}

void key_started_as(struct key *k, int argc, char **argv)
{
	const char *script = program_script(argc, argv);
	const char *base = path_basename(script ? script : argv[0]);
	const struct interp *in;
	int cmd;

	k->started_as = base;
	if (script)
		return;
	if ((cmd = launcher_command(base, argc, argv)) > 0) {
		argv += cmd;
		argc -= cmd;
		base = k->started_as = path_basename(argv[0]);
	}
	if ((in = interp_find(base))) {
		struct run run;

		interp_parse(in, argc, argv, &run);
		if (run.kind == RUN_SCRIPT || run.kind == RUN_SEARCHED)
			k->started_as = path_basename(run.what);
	}
}

/* An interpreter's command line: the script, the code, or itself.  A
 * script operand that names no file (a typo, or an option the table
 * does not know that took it for its argument) never stops the start:
 * the key is the interpreter and the operand as given, and the
 * interpreter prints its own error. */
static int identify_interpreted(struct key *k, int argc, char **argv)
{
	const struct interp *in = interp_find(path_basename(k->path));
	struct run run;

	if (!in)
		return 0;
	interp_parse(in, argc, argv, &run);
	switch (run.kind) {
	case RUN_SCRIPT:
	case RUN_SEARCHED:
		set_args(k, argv, run.rest, argc);
		if (run.kind == RUN_SEARCHED && !str_chr(run.what, '/') &&
		    path_search(run.what, k->path) == 0 &&
		    path_resolve(k->path, k->path) == 0)
			break;
		if (run.kind == RUN_SCRIPT && path_resolve(run.what, k->path) == 0)
			break;
		/* the interpreter's path is still in k->path unless a search
		 * overwrote it: ask again */
		if (program_exe(k->path, &k->id, argv[0]) < 0)
			return -ENOENT;
		k->unresolved = run.what;
		break;
	case RUN_INLINE:
	case RUN_MODULE:
		/* keyed by interpreter, option and text */
		mem_copy(k->inline_flag, run.flag, sizeof run.flag);
		k->inline_text = run.what;
		set_args(k, argv, run.rest, argc);
		break;
	case RUN_SELF:
		break;
	}
	return 0;
}

/* A "#!" start: the script, unless argv merely repeats the binary's own
 * name ("cat /usr/bin/cat"). */
static int identify_script(struct key *k, const char *script, int argc,
			   char **argv)
{
	if (path_resolve(script, k->path) < 0 || program_is_exe(k->path))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (argv[i] == script || str_eq(argv[i], script)) {
			set_args(k, argv, i + 1, argc);
			break;
		}
	}
	return 1;
}

/* Will the command load the library itself?  A dynamically linked
 * program does, and so does a script whose interpreter is one; a static
 * one (most Go programs, a static busybox) does not. */
static __attribute__((noinline)) int loads_library(const char *path)
{
	char interp[PATH_MAX];
	int kind = program_kind(path, interp);

	if (kind == EXEC_SCRIPT)
		kind = interp[0] == '/' ? program_kind(interp, NULL) : EXEC_OTHER;
	return (kind & EXEC_DYNAMIC) != 0;
}

/* A launcher (env, nice, setsid...) runs argv[0] of what follows.  If
 * that command loads the library, it locks itself, keyed as if started
 * directly: the launcher stays out of it, which also keeps a launcher
 * that forks first (setsid, timeout) from holding a lock that would die
 * with it.  Only a static command, or one that env starts without our
 * LD_PRELOAD, needs the launcher to hold the lock for it and to hand it
 * over through the exec. */
static int identify_launched(struct key *k, int argc, char **argv, int keeps)
{
	/* not found: the launcher fails on its own */
	if (path_search(argv[0], k->path) < 0 ||
	    (keeps && loads_library(k->path)) ||
	    program_kind(k->path, NULL) == EXEC_OTHER)
		return KEY_NOT_MINE;
	if (path_resolve(k->path, k->path) < 0)
		return KEY_NOT_MINE;
	k->launcher_locks = 1;
	set_args(k, argv, 1, argc);
	if (program_kind(k->path, NULL) == EXEC_SCRIPT)
		return 0;
	return identify_interpreted(k, argc, argv);
}

int key_launcher_only(struct key *k, int argc, char **argv)
{
	const char *fn = (const char *)getauxval(AT_EXECFN);
	const char *base = path_basename(fn ? fn : argv[0]);
	int cmd = launcher_command(base, argc, argv);

	if (cmd <= 0 || path_search(argv[cmd], k->path) < 0 ||
	    (launcher_keeps_preload(base, cmd, argv) && loads_library(k->path)))
		return cmd > 0 ? KEY_NOT_MINE : 0;
	k->launcher_locks = 1;
	return 0;
}

int key_identify(struct key *k, int argc, char **argv)
{
	const char *script = program_script(argc, argv);
	int cmd, rc;

	k->inline_flag[0] = '\0';
	k->inline_text = k->unresolved = NULL;
	k->launcher_locks = 0;
	set_args(k, argv, 1, argc);
	if (script && identify_script(k, script, argc, argv))
		return 0;
	if ((rc = program_exe(k->path, &k->id, argv[0])) < 0)
		return rc;
	cmd = launcher_command(path_basename(k->path), argc, argv);
	if (cmd > 0)
		return identify_launched(k, argc - cmd, argv + cmd,
					 launcher_keeps_preload(path_basename(k->path), cmd, argv));
	return identify_interpreted(k, argc, argv);
}

const char *key_label(const struct key *k, const struct settings *st)
{
	return st->key ? st->key : k->started_as;
}

/* "dev=MAJ:MIN,ino=N": a nameless program's identity, as a key part. */
static const char *key_identity(const struct key *k, char out[64])
{
	size_t n = 4;

	mem_copy(out, "dev=", 4);
	n += format_u64(out + n, k->id.dev >> 32);
	out[n++] = ':';
	n += format_u64(out + n, (uint32_t)k->id.dev);
	mem_copy(out + n, ",ino=", 5);
	n += 5;
	format_u64(out + n, k->id.ino);
	return out;
}

void key_explain(const struct key *k, const struct settings *st)
{
	char id[64];

	print_stdout("key: ");
	if (st->key) {
		print_stdout(st->key);
		print_stdout(" (SINGLE_KEY)\n");
		return;
	}
	print_stdout(k->path);
	if (k->id.ino) {
		print_stdout(" ");
		print_stdout(key_identity(k, id));
	}
	if (k->inline_flag[0]) {
		print_stdout(" ");
		print_stdout(k->inline_flag);
		print_stdout(" ");
		print_stdout(k->inline_text);
	}
	if (k->unresolved) {
		print_stdout(" ");
		print_stdout(k->unresolved);
		print_stdout(" (no such script)");
	}
	for (int i = 0; st->scope == SCOPE_COMMAND && i < k->nargs; i++) {
		print_stdout(" ");
		print_stdout(k->args[i]);
	}
	print_stdout("\n");
}

int key_lockname(const struct key *k, const struct settings *st,
		 char name[LOCKNAME_MAX])
{
	int nargs = st->scope == SCOPE_COMMAND ? k->nargs : 0, nparts = 0;
	char *parts[3], id[64];

	if (st->key)
		return lockname_named(name, LOCKNAME_MAX, st->key);
	if (k->id.ino)
		parts[nparts++] = (char *)key_identity(k, id);
	if (k->inline_flag[0]) {
		parts[nparts++] = (char *)k->inline_flag;
		parts[nparts++] = (char *)k->inline_text;
	} else if (k->unresolved) {
		parts[nparts++] = (char *)k->unresolved;
	}
	return lockname_for(name, LOCKNAME_MAX, k->path, parts, nparts, k->args, nargs);
}

/* ---- lock file names ---------------------------------------------------
 *
 * A path loses its leading '/' and has '/' written '-'; every byte
 * outside A-Za-z0-9._,: (so '-' itself, and a leading '.') is written
 * %xx.  Each further part (option, text, argument) follows a '+'; in
 * those '-' stays and '/' is written %2f.  The name ends in ".lock".
 * A name longer than a file name may be keeps its first part and ends
 * in '~' and 16 hex digits of a 64-bit FNV-1a hash of the whole.
 * SINGLE_KEY=NAME gives "@NAME.lock"; slot N of SINGLE_MAX "X.lock.N".
 */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL
#define HASH_DIGITS 16

static const char hex[] = "0123456789abcdef";

struct namebuf {
	char *out;
	size_t cap;      /* room for the name's body (without ".lock") */
	size_t len;      /* bytes produced so far (may exceed cap) */
	size_t cut;      /* where a shortened name is cut: a whole escape */
	uint64_t hash;
};

static void put(struct namebuf *nb, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		nb->hash = (nb->hash ^ (unsigned char)s[i]) * FNV_PRIME;
		if (nb->len + i < nb->cap)
			nb->out[nb->len + i] = s[i];
	}
	nb->len += n;
	if (nb->len + 1 + HASH_DIGITS <= nb->cap)
		nb->cut = nb->len;
}

static int is_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ',' ||
	       c == ':';
}

static void put_escaped(struct namebuf *nb, const char *s, int is_path)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[3] = { '%', hex[c >> 4], hex[c & 15] };

		if (is_path && c == '/')
			put(nb, "-", 1);
		else if ((is_safe(c) && !(c == '.' && nb->len == 0)) ||
			 (!is_path && c == '-'))
			put(nb, (const char *)&c, 1);
		else
			put(nb, e, 3);
	}
}

static int finish(struct namebuf *nb, size_t cap)
{
	size_t n = nb->len;

	if (nb->len > nb->cap) {
		n = nb->cut;
		nb->out[n++] = '~';
		for (int shift = 60; shift >= 0; shift -= 4)
			nb->out[n++] = hex[(nb->hash >> shift) & 15];
	}
	if (n + sizeof LOCK_SUFFIX > cap)
		return -1;
	mem_copy(nb->out + n, LOCK_SUFFIX, sizeof LOCK_SUFFIX);
	return 0;
}

int lockname_for(char *out, size_t cap, const char *path,
		 char *const parts[], int nparts, char *const more[], int nmore)
{
	struct namebuf nb = { out, 0, 0, 0, FNV_OFFSET };

	if (cap < 2 + HASH_DIGITS + sizeof LOCK_SUFFIX)
		return -1;
	nb.cap = cap - sizeof LOCK_SUFFIX;
	if (nb.cap > NAME_BODY_MAX)
		nb.cap = NAME_BODY_MAX;
	while (*path == '/')
		path++;
	put_escaped(&nb, path, 1);
	for (int i = 0; i < nparts + nmore; i++) {
		put(&nb, "+", 1);
		put_escaped(&nb, i < nparts ? parts[i] : more[i - nparts], 0);
	}
	return finish(&nb, cap);
}

int lockname_named(char *out, size_t cap, const char *name)
{
	size_t n = str_len(name);

	/* checked with the settings already; a name with '/' must never
	 * reach a path */
	if (named_key_problem(name) || n + 1 + sizeof LOCK_SUFFIX > cap)
		return -1;
	out[0] = '@';
	mem_copy(out + 1, name, n);
	mem_copy(out + 1 + n, LOCK_SUFFIX, sizeof LOCK_SUFFIX);
	return 0;
}

/* Slot N of "x.lock" is "x.lock.N": no slot-1 name ends in digits, so
 * slots of different keys never meet. */
int lockname_slot(char *out, size_t cap, const char *base, unsigned slot)
{
	char digits[24];
	size_t n = str_len(base), d = format_u64(digits, slot);

	if (n + 1 + d + 1 > cap)
		return -1;
	if (out != base)
		mem_copy(out, base, n);
	out[n] = '.';
	mem_copy(out + n + 1, digits, d + 1);
	return 0;
}

/* ---- reading names back --------------------------------------------------- */

struct textbuf {
	char *out;
	size_t cap, len;
};

static void text_put(struct textbuf *t, const char *s, size_t n)
{
	for (; n; n--, s++, t->len++)
		if (t->len + 1 < t->cap)
			t->out[t->len] = *s;
}

static int hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One part of a name, escapes undone, up to `end`. */
static void text_unescape(struct textbuf *t, const char *s, const char *end,
			  int is_path)
{
	for (; s < end; s++) {
		char c = *s;

		if (c == '%' && end - s >= 3 && hex_value(s[1]) >= 0 &&
		    hex_value(s[2]) >= 0) {
			c = (char)(hex_value(s[1]) * 16 + hex_value(s[2]));
			s += 2;
		} else if (c == '-' && is_path) {
			c = '/';
		}
		text_put(t, &c, 1);
	}
}

int lockname_describe(const char *name, char *out, size_t cap)
{
	const size_t sfx = sizeof LOCK_SUFFIX - 1;
	struct textbuf t = { out, cap, 0 };
	const char *end = name + str_len(name), *slot = NULL, *p, *hash = NULL;

	if (cap == 0)
		return -1;
	/* "X.lock.N": slot N */
	for (p = end; p > name && p[-1] >= '0' && p[-1] <= '9'; p--)
		;
	if (p < end && (size_t)(p - name) > sfx + 1 && p[-1] == '.' &&
	    str_n_eq(p - 1 - sfx, LOCK_SUFFIX, sfx)) {
		slot = p;
		end = p - 1;
	}
	if ((size_t)(end - name) <= sfx || !str_n_eq(end - sfx, LOCK_SUFFIX, sfx))
		return -1;
	end -= sfx;
	if (*name == '@') {
		text_put(&t, name + 1, (size_t)(end - name - 1));
		text_put(&t, " (SINGLE_KEY)", 13);
	} else {
		if (end - name > HASH_DIGITS && end[-HASH_DIGITS - 1] == '~') {
			hash = end - HASH_DIGITS;
			end -= HASH_DIGITS + 1;
		}
		text_put(&t, "/", 1);
		for (p = name; ; p++) {
			const char *q = p;

			while (q < end && *q != '+')
				q++;
			if (p != name)
				text_put(&t, " ", 1);
			text_unescape(&t, p, q, p == name);
			if (q >= end)
				break;
			p = q;
		}
		if (hash) {
			text_put(&t, "... (shortened: ", 16);
			text_put(&t, hash, HASH_DIGITS);
			text_put(&t, ")", 1);
		}
	}
	if (slot) {
		text_put(&t, " (slot ", 7);
		text_put(&t, slot, str_len(slot));
		text_put(&t, ")", 1);
	}
	out[t.len < cap ? t.len : cap - 1] = '\0';
	return 0;
}

/* ---- SINGLE_PROGRAMS -------------------------------------------------------- */

int programs_has_path(const char *list)
{
	return str_chr(list, '/') != NULL;
}

int programs_match(const char *list, const char *started_as, const char *path)
{
	while (*list) {
		const char *end = list, *want = started_as;
		size_t n;

		for (; *end && *end != ':'; end++)
			if (*end == '/')
				want = path;
		n = (size_t)(end - list);
		if (n && want && str_len(want) == n && str_n_eq(want, list, n))
			return 1;
		list = *end ? end + 1 : end;
	}
	return 0;
}
