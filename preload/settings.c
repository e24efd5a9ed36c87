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

int parse_uint(const char *s, unsigned long min, unsigned long max,
	       unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -1;
	}
	if (v < min)
		return -1;
	*out = v;
	return 0;
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

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int bad(const char *name, const char *value, const char *expected)
{
	say("%s: invalid value '%s' (%s)", name, value, expected);
	return -1;
}

static int read_seconds(const char *name, int64_t *ns)
{
	const char *v = env(name);

	if (v && parse_seconds(v, ns) < 0)
		return bad(name, v, "expected seconds, a decimal number such as 2.5, or inf");
	return 0;
}

static int read_uint(const char *name, unsigned long min, unsigned long max,
		     unsigned long *out)
{
	const char *v = env(name);

	if (v && parse_uint(v, min, max, out) < 0) {
		say("%s: invalid value '%s' (allowed values: %lu-%lu)", name,
		    v, min, max);
		return -1;
	}
	return 0;
}

static int read_bool(const char *name, int *out)
{
	const char *v = env(name);

	if (v && parse_bool(v, out) < 0)
		return bad(name, v, "expected 1, 0, yes, no, true, false, on or off");
	return 0;
}

static int read_word(const char *name, const char *const words[], int n,
		     const char *expected, int *out)
{
	const char *v = env(name);

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

int settings_read(struct settings *st)
{
	static const char *const on_error[] = { "exit", "run" };
	static const char *const scope[] = { "program", "command" };
	unsigned long conflict = 0, max = 1;
	int on_err = ON_ERROR_EXIT, sc = SCOPE_PROGRAM;
	const char *problem;

	memset(st, 0, sizeof *st);
	st->replace_ns = -1;
	st->key = env(ENV_KEY);
	/* In secure-execution mode nothing that chooses a path is taken
	 * from the environment: secure_getenv answers NULL there. */
	st->dir = secure_getenv(ENV_DIR);
	if (st->dir && !*st->dir)
		st->dir = NULL;
	st->programs = env(ENV_PROGRAMS);

	if (read_seconds(ENV_WAIT, &st->wait_ns) < 0 ||
	    read_seconds(ENV_REPLACE, &st->replace_ns) < 0 ||
	    read_uint(ENV_CONFLICT_EXIT, 0, 255, &conflict) < 0 ||
	    read_uint(ENV_MAX, 1, MAX_SLOTS, &max) < 0 ||
	    read_bool(ENV_VERBOSE, &st->verbose) < 0 ||
	    read_bool(ENV_EXPLAIN, &st->explain) < 0 ||
	    read_word(ENV_ON_ERROR, on_error, 2, "expected exit or run", &on_err) < 0 ||
	    read_word(ENV_SCOPE, scope, 2, "expected program or command", &sc) < 0)
		return -1;
	if (st->key && (problem = named_key_problem(st->key)))
		return bad(ENV_KEY, st->key, problem);
	if (st->replace_ns == WAIT_FOREVER)
		return bad(ENV_REPLACE, env(ENV_REPLACE), "expected seconds, a decimal number such as 2.5");
	st->conflict_exit = (int)conflict;
	st->max = (unsigned)max;
	st->on_error = (enum on_error)on_err;
	st->scope = (enum scope)sc;
	return 0;
}
