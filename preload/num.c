/* SPDX-License-Identifier: MIT */
/* Numbers: the library's only parser and its only formatter.
 *
 * Every number the library reads (settings, SINGLE_HELD, lock records,
 * /proc) goes through scan_u64, which never wraps and stops at its
 * maximum; every number it writes goes through format_u64.  Neither
 * allocates nor touches errno, so both serve the constructor and the
 * interposed calls alike.
 */
#include "single.h"

const char *scan_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (d > max || v > (max - d) / 10)
			return NULL;    /* past max, and never wrapping */
		v = v * 10 + d;
	}
	*out = v;
	return s;
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	const char *end = scan_u64(s, max, &v);

	if (!end || *end || v < min)
		return -1;
	*out = v;
	return 0;
}

#define NS_PER_S 1000000000LL
/* Longer than this is "inf" in all but name (about 31 years). */
#define SECONDS_MAX 1000000000ULL

int parse_seconds(const char *s, int64_t *ns)
{
	uint64_t whole;
	int64_t frac = 0, scale = NS_PER_S;
	const char *p;

	if (str_eq(s, "inf") || str_eq(s, "infinity")) {
		*ns = WAIT_FOREVER;
		return 0;
	}
	if (!(p = scan_u64(s, SECONDS_MAX, &whole)))
		return -1;
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
	*ns = (int64_t)whole * NS_PER_S + frac;
	return 0;
}

size_t format_u64(char *buf, uint64_t v)
{
	char digits[20];
	size_t n = 0, len;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	for (len = n; n; n--)
		*buf++ = digits[n - 1];
	*buf = '\0';
	return len;
}

static size_t two_digits(char *buf, unsigned v)
{
	buf[0] = (char)('0' + v / 10 % 10);
	buf[1] = (char)('0' + v % 10);
	return 2;
}

/* The civil date of a day number (days since 1970-01-01), proleptic
 * Gregorian: Howard Hinnant's days_from_civil, run backwards. */
static void civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

size_t format_utc(char *buf, int64_t sec)
{
	int64_t days = sec >= 0 ? sec / 86400 : (sec - 86399) / 86400, y;
	unsigned s = (unsigned)(sec - days * 86400), m, d;
	size_t n;

	civil(days, &y, &m, &d);
	n = format_u64(buf, y > 0 ? (uint64_t)y : 0);
	buf[n++] = '-';
	n += two_digits(buf + n, m);
	buf[n++] = '-';
	n += two_digits(buf + n, d);
	buf[n++] = 'T';
	n += two_digits(buf + n, s / 3600);
	buf[n++] = ':';
	n += two_digits(buf + n, s / 60 % 60);
	buf[n++] = ':';
	n += two_digits(buf + n, s % 60);
	buf[n++] = 'Z';
	buf[n] = '\0';
	return n;
}

size_t format_duration(char *buf, int64_t sec)
{
	static const struct { unsigned per; char unit; } parts[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	uint64_t left = sec > 0 ? (uint64_t)sec : 0;
	size_t n = 0;

	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
		uint64_t v = left / parts[i].per;

		left %= parts[i].per;
		if (v || n || parts[i].per == 1) {
			n += format_u64(buf + n, v);
			buf[n++] = parts[i].unit;
		}
	}
	buf[n] = '\0';
	return n;
}
