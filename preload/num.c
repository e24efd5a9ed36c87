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
