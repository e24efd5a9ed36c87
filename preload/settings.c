/* SPDX-License-Identifier: MIT */
/* The SINGLE_* settings: found in the environment in one pass, checked,
 * and taken out of it for the program's children.
 *
 * An empty variable counts as unset, as it does for most Unix tools.
 * Every bad value is refused with one line naming the variable, its value
 * and what was expected.
 */
#include "single.h"

extern char **environ;

static const char *const var_names[VAR_N] = {
	[VAR_KEY] = "SINGLE_KEY",
	[VAR_DIR] = "SINGLE_DIR",
	[VAR_WAIT] = "SINGLE_WAIT",
	[VAR_CONFLICT_EXIT] = "SINGLE_CONFLICT_EXIT",
	[VAR_VERBOSE] = "SINGLE_VERBOSE",
	[VAR_ON_ERROR] = "SINGLE_ON_ERROR",
	[VAR_PROGRAMS] = "SINGLE_PROGRAMS",
	[VAR_SCOPE] = "SINGLE_SCOPE",
	[VAR_MAX] = "SINGLE_MAX",
	[VAR_REPLACE] = "SINGLE_REPLACE",
	[VAR_EXPLAIN] = "SINGLE_EXPLAIN",
	[VAR_STALE] = "SINGLE_STALE",
	[VAR_QUEUE] = "SINGLE_QUEUE",
	[VAR_HELD] = "SINGLE_HELD",
};

const char *var_name(enum var v)
{
	return var_names[v];
}

const char *env_get(const char *name)
{
	const char *after;

	for (char **e = environ; e && *e; e++)
		if ((after = after_prefix(*e, name)) && *after == '=')
			return after + 1;
	return NULL;
}

/* Which of ours is this "NAME=value" entry?  -1 if none; *value is set
 * to what follows the '='. */
static int var_of(const char *entry, const char **value)
{
	const char *rest = after_prefix(entry, "SINGLE_");

	if (!rest)
		return -1;
	for (int v = 0; v < VAR_N; v++) {
		const char *after = after_prefix(rest, var_names[v] + 7);

		if (after && *after == '=') {
			*value = after + 1;
			return v;
		}
	}
	return -1;
}

void env_collect(const char *raw[VAR_N], char **preload)
{
	const char *value;

	for (int v = 0; v < VAR_N; v++)
		raw[v] = NULL;
	*preload = NULL;
	for (char **e = environ; e && *e; e++) {
		int v = var_of(*e, &value);

		if (v >= 0 && *value)
			raw[v] = value;
		else if (v < 0 && (value = after_prefix(*e, "LD_PRELOAD=")))
			*preload = (char *)value;
	}
}

/* Pre-main, single-threaded: environ can be compacted in place, in one
 * pass, instead of one unsetenv() per variable. */
void env_drop_start_settings(int all, int preload)
{
	static const unsigned char per_start[VAR_N] = {
		[VAR_KEY] = 1, [VAR_WAIT] = 1, [VAR_CONFLICT_EXIT] = 1,
		[VAR_SCOPE] = 1, [VAR_MAX] = 1, [VAR_REPLACE] = 1,
		[VAR_EXPLAIN] = 1, [VAR_HELD] = 1, [VAR_STALE] = 1,
		[VAR_QUEUE] = 1,
	};
	char **in = environ, **out = environ;
	const char *value;

	if (!environ)
		return;
	for (; *in; in++) {
		int v = var_of(*in, &value);

		if (v >= 0 ? v == VAR_HELD || (all && per_start[v]) :
		    preload && after_prefix(*in, "LD_PRELOAD="))
			continue;
		*out++ = *in;
	}
	*out = NULL;
}

const char *named_key_problem(const char *name)
{
	if (str_chr(name, '/'))
		return "a key may not contain '/'";
	if (str_eq(name, ".") || str_eq(name, ".."))
		return "a key may not be '.' or '..'";
	if (str_len(name) > NAME_BODY_MAX - 1)
		return "a key is at most 244 bytes";
	return NULL;
}

/* ---- checking the values ---------------------------------------------- */

static int bad(enum var var, const char *value, const char *expected)
{
	say("%s: invalid value '%s' (%s)", var_names[var], value, expected);
	return -1;
}

#define SECONDS_TEXT "expected seconds, a decimal number such as 2.5"

/* Seconds; `forever`: "inf" is allowed too. */
static int read_seconds(const char *const raw[], enum var var, int forever,
			int64_t *ns)
{
	int64_t v;

	if (!raw[var])
		return 0;
	if (parse_seconds(raw[var], &v) < 0 || (v == WAIT_FOREVER && !forever))
		return bad(var, raw[var], forever ? SECONDS_TEXT ", or inf" : SECONDS_TEXT);
	*ns = v;
	return 0;
}

static int read_number(const char *const raw[], enum var var, uint64_t min,
		       uint64_t max, uint64_t *out)
{
	if (raw[var] && parse_u64(raw[var], min, max, out) < 0) {
		say("%s: invalid value '%s' (allowed values: %llu-%llu)",
		    var_names[var], raw[var], (unsigned long long)min,
		    (unsigned long long)max);
		return -1;
	}
	return 0;
}

/* The one reader of yes/no values. */
int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
		if (str_eq_nocase(s, yes[i]) || str_eq_nocase(s, no[i])) {
			*out = str_eq_nocase(s, yes[i]);
			return 0;
		}
	}
	return -1;
}

static int read_bool(const char *const raw[], enum var var, int *out)
{
	if (raw[var] && parse_bool(raw[var], out) < 0)
		return bad(var, raw[var], "expected 1, 0, yes, no, true, false, on or off");
	return 0;
}

static int read_word(const char *const raw[], enum var var,
		     const char *const words[], int n, const char *expected,
		     int *out)
{
	if (!raw[var])
		return 0;
	for (int i = 0; i < n; i++) {
		if (str_eq(raw[var], words[i])) {
			*out = i;
			return 0;
		}
	}
	return bad(var, raw[var], expected);
}

/* A lock directory must be named by an absolute path whose last
 * component is the directory itself: with "dir/." or "dir/.." the
 * O_NOFOLLOW that refuses a symlinked directory would not apply to it,
 * and a relative path would give each working directory its own locks.
 * Trailing slashes are allowed (lockdir.c opens the name without them). */
static const char *dir_problem(const char *dir)
{
	const char *end = dir + str_len(dir), *last;

	if (*dir != '/')
		return "a lock directory must be an absolute path";
	if (end - dir >= PATH_MAX)
		return "a path is at most 4095 bytes";
	while (end > dir + 1 && end[-1] == '/')
		end--;
	for (last = end; last > dir && last[-1] != '/'; last--)
		;
	if ((end - last == 1 && last[0] == '.') ||
	    (end - last == 2 && last[0] == '.' && last[1] == '.'))
		return "a lock directory may not end in '.' or '..'";
	return NULL;
}

int settings_parse(struct settings *st, const char *const raw[VAR_N])
{
	static const char *const on_error[] = { "exit", "run" };
	static const char *const scope[] = { "program", "command" };
	uint64_t conflict = 0, max = 1, queue = 0;
	int on_err = ON_ERROR_EXIT, sc = SCOPE_PROGRAM;
	const char *problem;

	*st = (struct settings){ .replace_ns = -1, .stale_ns = -1 };
	st->key = raw[VAR_KEY];
	st->dir = raw[VAR_DIR];
	st->programs = raw[VAR_PROGRAMS];
	if (read_seconds(raw, VAR_WAIT, 1, &st->wait_ns) < 0 ||
	    read_seconds(raw, VAR_REPLACE, 0, &st->replace_ns) < 0 ||
	    read_seconds(raw, VAR_STALE, 0, &st->stale_ns) < 0 ||
	    read_number(raw, VAR_CONFLICT_EXIT, 0, 255, &conflict) < 0 ||
	    read_number(raw, VAR_MAX, 1, MAX_SLOTS, &max) < 0 ||
	    read_number(raw, VAR_QUEUE, 1, MAX_QUEUE, &queue) < 0 ||
	    read_bool(raw, VAR_VERBOSE, &st->verbose) < 0 ||
	    read_bool(raw, VAR_EXPLAIN, &st->explain) < 0 ||
	    read_word(raw, VAR_ON_ERROR, on_error, 2, "expected exit or run", &on_err) < 0 ||
	    read_word(raw, VAR_SCOPE, scope, 2, "expected program or command", &sc) < 0)
		return -1;
	if (st->dir && (problem = dir_problem(st->dir)))
		return bad(VAR_DIR, st->dir, problem);
	if (st->key && (problem = named_key_problem(st->key)))
		return bad(VAR_KEY, st->key, problem);
	st->conflict_exit = (int)conflict;
	st->max = (unsigned)max;
	st->queue = (unsigned)queue;
	st->on_error = (enum on_error)on_err;
	st->scope = (enum scope)sc;
	return 0;
}
