/* SPDX-License-Identifier: MIT */
/* The SINGLE_* settings: found in the environment in one pass, checked,
 * and taken out of it for the program's children.
 *
 * An empty variable counts as unset, as it does for most Unix tools.
 * Every bad value is refused with one line naming the variable, its value
 * and what was expected.
 */
#define _GNU_SOURCE
#include <sys/auxv.h>

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
	/* secure-execution mode (setuid and the like): nothing from the
	 * environment chooses a path, a descriptor, another key's lock, or
	 * whom to signal with the program's privileges */
	if (getauxval(AT_SECURE))
		raw[VAR_DIR] = raw[VAR_HELD] = raw[VAR_KEY] = raw[VAR_SCOPE] =
			raw[VAR_REPLACE] = raw[VAR_EXPLAIN] = NULL;
}

/* Pre-main, single-threaded: environ can be compacted in place, in one
 * pass, instead of one unsetenv() per variable. */
void env_drop_start_settings(int all, int preload)
{
	static const unsigned char per_start[VAR_N] = {
		[VAR_KEY] = 1, [VAR_WAIT] = 1, [VAR_CONFLICT_EXIT] = 1,
		[VAR_SCOPE] = 1, [VAR_MAX] = 1, [VAR_REPLACE] = 1,
		[VAR_EXPLAIN] = 1, [VAR_HELD] = 1,
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

static int read_seconds(const char *const raw[], enum var var, int64_t *ns)
{
	if (raw[var] && parse_seconds(raw[var], ns) < 0)
		return bad(var, raw[var], "expected seconds, a decimal number such as 2.5, or inf");
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

int settings_parse(struct settings *st, const char *const raw[VAR_N])
{
	static const char *const on_error[] = { "exit", "run" };
	static const char *const scope[] = { "program", "command" };
	uint64_t conflict = 0, max = 1;
	int on_err = ON_ERROR_EXIT, sc = SCOPE_PROGRAM;
	const char *problem;

	*st = (struct settings){ .replace_ns = -1 };
	st->key = raw[VAR_KEY];
	st->dir = raw[VAR_DIR];
	st->programs = raw[VAR_PROGRAMS];
	if (read_seconds(raw, VAR_WAIT, &st->wait_ns) < 0 ||
	    read_seconds(raw, VAR_REPLACE, &st->replace_ns) < 0 ||
	    read_number(raw, VAR_CONFLICT_EXIT, 0, 255, &conflict) < 0 ||
	    read_number(raw, VAR_MAX, 1, MAX_SLOTS, &max) < 0 ||
	    read_bool(raw, VAR_VERBOSE, &st->verbose) < 0 ||
	    read_bool(raw, VAR_EXPLAIN, &st->explain) < 0 ||
	    read_word(raw, VAR_ON_ERROR, on_error, 2, "expected exit or run", &on_err) < 0 ||
	    read_word(raw, VAR_SCOPE, scope, 2, "expected program or command", &sc) < 0)
		return -1;
	if (st->dir && str_len(st->dir) >= PATH_MAX)
		return bad(VAR_DIR, st->dir, "a path is at most 4095 bytes");
	if (st->key && (problem = named_key_problem(st->key)))
		return bad(VAR_KEY, st->key, problem);
	if (st->replace_ns == WAIT_FOREVER)
		return bad(VAR_REPLACE, raw[VAR_REPLACE],
			   "expected seconds, a decimal number such as 2.5");
	st->conflict_exit = (int)conflict;
	st->max = (unsigned)max;
	st->on_error = (enum on_error)on_err;
	st->scope = (enum scope)sc;
	return 0;
}
