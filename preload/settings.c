/* Reading and checking the SINGLE_* settings.
 *
 * One parser for numbers, one for seconds, one for booleans; every error
 * names the variable and its value.  An empty variable counts as unset,
 * as it does for most Unix tools.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "single.h"

#define NS_PER_S 1000000000LL
/* Longer waits than this are "inf" in all but name (about 31 years). */
#define SECONDS_MAX 1000000000LL

int parse_seconds(const char *s, int64_t *ns)
{
	int64_t whole = 0, frac = 0, scale = NS_PER_S;
	const char *p = s;

	if (!strcmp(s, "inf") || !strcmp(s, "infinity")) {
		*ns = WAIT_FOREVER;
		return 0;
	}
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > SECONDS_MAX)
			return -1;
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			scale /= 10;      /* digits past nanoseconds are dropped */
			frac += (*p - '0') * scale;
		}
	}
	if (*p)
		return -1;
	*ns = whole * NS_PER_S + frac;
	return 0;
}

const char *scan_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (*s < '0' || *s > '9')
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned long d = (unsigned long)(*s - '0');

		if (d > max || v > (max - d) / 10)
			return NULL;    /* past max, and never wrapping */
		v = v * 10 + d;
	}
	*out = v;
	return s;
}

int parse_uint(const char *s, unsigned long min, unsigned long max,
	       unsigned long *out)
{
	unsigned long v;
	const char *end = scan_uint(s, max, &v);

	if (!end || *end || v < min)
		return -1;
	*out = v;
	return 0;
}

size_t format_uint(char *buf, unsigned long v)
{
	char digits[24];
	size_t n = 0, len;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	for (len = n; n; n--)
		*buf++ = digits[n - 1];
	*buf = '\0';
	return len;
}

int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

void say(const char *fmt, ...)
{
	char buf[PATH_MAX + 512];
	va_list ap;
	int n;

	memcpy(buf, "libsingle: ", 11);
	va_start(ap, fmt);
	n = vsnprintf(buf + 11, sizeof buf - 12, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n += 11;
	if ((size_t)n > sizeof buf - 1)
		n = sizeof buf - 1;
	buf[n++] = '\n';
	/* stderr may be closed: nothing to be done about it then */
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

void print_stdout(const char *s)
{
	/* stdout may be closed: nothing to be done about it then */
	if (write(STDOUT_FILENO, s, strlen(s)) < 0)
		return;
}

extern char **environ;

static const char *const var_names[VAR_N] = {
	"SINGLE_KEY", "SINGLE_DIR", "SINGLE_WAIT", "SINGLE_CONFLICT_EXIT",
	"SINGLE_VERBOSE", "SINGLE_ON_ERROR", "SINGLE_PROGRAMS", "SINGLE_SCOPE",
	"SINGLE_MAX", "SINGLE_REPLACE", "SINGLE_EXPLAIN", "SINGLE_HELD",
};

const char *var_name(enum var v)
{
	return var_names[v];
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
	const char *value;
	static const unsigned char per_start[VAR_N] = {
		[VAR_KEY] = 1, [VAR_WAIT] = 1, [VAR_CONFLICT_EXIT] = 1,
		[VAR_SCOPE] = 1, [VAR_MAX] = 1, [VAR_REPLACE] = 1,
		[VAR_EXPLAIN] = 1, [VAR_HELD] = 1,
	};
	char **in = environ, **out = environ;

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

static int bad(const char *name, const char *value, const char *expected)
{
	say("%s: invalid value '%s' (%s)", name, value, expected);
	return -1;
}

static int read_seconds(const char *const raw[], enum var var, int64_t *ns)
{
	const char *v = raw[var], *name = var_names[var];

	if (v && parse_seconds(v, ns) < 0)
		return bad(name, v, "expected seconds, a decimal number such as 2.5, or inf");
	return 0;
}

static int read_uint(const char *const raw[], enum var var, unsigned long min,
		     unsigned long max, unsigned long *out)
{
	const char *v = raw[var], *name = var_names[var];

	if (v && parse_uint(v, min, max, out) < 0) {
		say("%s: invalid value '%s' (allowed values: %lu-%lu)", name,
		    v, min, max);
		return -1;
	}
	return 0;
}

static int read_bool(const char *const raw[], enum var var, int *out)
{
	const char *v = raw[var], *name = var_names[var];

	if (v && parse_bool(v, out) < 0)
		return bad(name, v, "expected 1, 0, yes, no, true, false, on or off");
	return 0;
}

static int read_word(const char *const raw[], enum var var,
		     const char *const words[], int n, const char *expected,
		     int *out)
{
	const char *v = raw[var], *name = var_names[var];

	if (!v)
		return 0;
	for (int i = 0; i < n; i++) {
		if (!strcmp(v, words[i])) {
			*out = i;
			return 0;
		}
	}
	return bad(name, v, expected);
}

int settings_parse(struct settings *st, const char *const raw[VAR_N])
{
	static const char *const on_error[] = { "exit", "run" };
	static const char *const scope[] = { "program", "command" };
	unsigned long conflict = 0, max = 1;
	int on_err = ON_ERROR_EXIT, sc = SCOPE_PROGRAM;
	const char *problem;

	memset(st, 0, sizeof *st);
	st->replace_ns = -1;
	st->key = raw[VAR_KEY];
	st->dir = raw[VAR_DIR];
	st->programs = raw[VAR_PROGRAMS];
	if (read_seconds(raw, VAR_WAIT, &st->wait_ns) < 0 ||
	    read_seconds(raw, VAR_REPLACE, &st->replace_ns) < 0 ||
	    read_uint(raw, VAR_CONFLICT_EXIT, 0, 255, &conflict) < 0 ||
	    read_uint(raw, VAR_MAX, 1, MAX_SLOTS, &max) < 0 ||
	    read_bool(raw, VAR_VERBOSE, &st->verbose) < 0 ||
	    read_bool(raw, VAR_EXPLAIN, &st->explain) < 0 ||
	    read_word(raw, VAR_ON_ERROR, on_error, 2, "expected exit or run", &on_err) < 0 ||
	    read_word(raw, VAR_SCOPE, scope, 2, "expected program or command", &sc) < 0)
		return -1;
	if (st->dir && strlen(st->dir) >= PATH_MAX)
		return bad(var_names[VAR_DIR], st->dir, "a path is at most 4095 bytes");
	if (st->key && (problem = named_key_problem(st->key)))
		return bad(var_names[VAR_KEY], st->key, problem);
	if (st->replace_ns == WAIT_FOREVER)
		return bad(var_names[VAR_REPLACE], raw[VAR_REPLACE],
			   "expected seconds, a decimal number such as 2.5");
	st->conflict_exit = (int)conflict;
	st->max = (unsigned)max;
	st->on_error = (enum on_error)on_err;
	st->scope = (enum scope)sc;
	return 0;
}
