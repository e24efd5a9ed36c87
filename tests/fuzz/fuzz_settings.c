/* SPDX-License-Identifier: MIT */
/* parse_seconds, parse_u64, parse_bool against simple references.
 *
 * Input: byte 0 picks the parser, byte 1..8 a maximum for parse_u64,
 * the rest (up to a NUL) is the value. */
#include "../../preload/single.h"
#include "fuzz.h"

#define NS 1000000000LL

/* Reference: digits, optionally "." and digits; whole part <= 1e9. */
static int ref_seconds(const char *s, int64_t *ns)
{
	int64_t whole = 0, frac = 0, scale = NS;
	const char *p = s;

	if (!strcmp(s, "inf") || !strcmp(s, "infinity")) {
		*ns = WAIT_FOREVER;
		return 0;
	}
	if (!(*p >= '0' && *p <= '9'))
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (whole > NS / 10 + 1)
			return -1;
		whole = whole * 10 + (*p++ - '0');
	}
	if (whole > NS)
		return -1;
	if (*p == '.') {
		if (!(p[1] >= '0' && p[1] <= '9'))
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (scale /= 10)
				frac += (*p - '0') * scale;
	}
	if (*p)
		return -1;
	*ns = whole * NS + frac;
	return 0;
}

static int ref_uint(const char *s, uint64_t min, uint64_t max,
		    uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if ((uint64_t)(*s - '0') > max ||
		    v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;      /* v * 10 + digit > max, without overflow */
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min)
		return -1;
	*out = v;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	uint64_t max = 0, min, got_u = 0, want_u = 0;
	int64_t got_ns = 0, want_ns = 0;
	int got_b = -1, rc, ref;

	if (size < 9)
		return 0;
	memcpy(&max, data + 1, sizeof max);
	s = strndup((const char *)data + 9, size - 9);
	switch (data[0] % 3) {
	case 0:
		rc = parse_seconds(s, &got_ns);
		ref = ref_seconds(s, &want_ns);
		CHECK(rc == ref, "parse_seconds(\"%s\") = %d, expected %d", s, rc, ref);
		CHECK(rc < 0 || got_ns == want_ns, "parse_seconds(\"%s\") = %lld, expected %lld",
		      s, (long long)got_ns, (long long)want_ns);
		CHECK(rc < 0 || got_ns >= 0, "negative");
		break;
	case 1:
		/* the range the callers use, and any other */
		if (data[0] & 0x80)
			max = data[0] & 0x40 ? 255 : MAX_SLOTS;
		min = max ? (data[0] & 8) / 8 : 0;
		rc = parse_u64(s, min, max, &got_u);
		ref = ref_uint(s, min, max, &want_u);
		CHECK(rc == ref, "parse_u64(\"%s\", %llu, %llu) = %d, expected %d",
		      s, (unsigned long long)min, (unsigned long long)max, rc, ref);
		CHECK(rc < 0 || got_u == want_u, "parse_u64(\"%s\") = %llu, expected %llu",
		      s, (unsigned long long)got_u, (unsigned long long)want_u);
		break;
	default:
		rc = parse_bool(s, &got_b);
		CHECK(rc < 0 || got_b == 0 || got_b == 1, "parse_bool %d", got_b);
		CHECK(rc < 0 || strlen(s) <= 5, "parse_bool took \"%s\"", s);
		break;
	}
	free(s);
	return 0;
}
