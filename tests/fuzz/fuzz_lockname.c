/* SPDX-License-Identifier: MIT */
/* lockname_for, lockname_named, lockname_slot: every name is a valid file
 * name (no '/', not "." or "..", at most NAME_MAX bytes, ending ".lock"
 * or, for a slot, ".lock.N"), and two different keys never share a name
 * unless both were shortened to a hash.
 *
 * Input: words separated by NUL.  Word 0 picks the split: the words
 * before the first word equal to "|" are key A (a path and its parts),
 * those after it key B.  Both are named; A is also named as a SINGLE_KEY
 * and as slots. */
#include "../../preload/single.h"
#include "fuzz.h"

static void check_name(const char *name, const char *what)
{
	size_t n = strlen(name);

	CHECK(n > 0 && n <= NAME_MAX, "%s: length %zu", what, n);
	CHECK(!strchr(name, '/'), "%s: '/' in %s", what, name);
	CHECK(strcmp(name, ".") && strcmp(name, ".."), "%s: %s", what, name);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Name a key made of words[0] (the path) and words[1..n-1] (the parts). */
static int name_key(char *out, char **words, int n)
{
	int rc = lockname_for(out, LOCKNAME_MAX, words[0], words + 1, n - 1, NULL, 0);

	CHECK(rc == 0, "lockname_for failed on a full-size buffer");
	check_name(out, "lockname_for");
	CHECK(ends_with(out, LOCK_SUFFIX), "no .lock suffix: %s", out);
	CHECK(out[0] != '@', "a path name looks like a SINGLE_KEY: %s", out);
	return strchr(out, '~') != NULL;      /* shortened to a hash */
}

/* Leading slashes carry no meaning (keys are absolute paths). */
static const char *strip(const char *p)
{
	while (*p == '/')
		p++;
	return p;
}

static int same_key(char **a, int na, char **b, int nb)
{
	if (na != nb || strcmp(strip(a[0]), strip(b[0])))
		return 0;
	for (int i = 1; i < na; i++)
		if (strcmp(a[i], b[i]))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct words ws;
	char a[LOCKNAME_MAX], b[LOCKNAME_MAX], slot[LOCKNAME_MAX], small[24];
	int split, na, nb;

	words_split(&ws, data, size);
	for (split = 0; split < ws.n && strcmp(ws.w[split], "|"); split++)
		;
	na = split;
	nb = split < ws.n ? ws.n - split - 1 : 0;
	if (na > 0) {
		int hashed_a = name_key(a, ws.w, na);

		/* a buffer too small is refused, never overrun */
		for (size_t cap = 0; cap < sizeof small; cap++)
			if (lockname_for(small, cap, ws.w[0], ws.w + 1, na - 1, NULL, 0) == 0)
				CHECK(strlen(small) < cap, "overran %zu", cap);
		for (unsigned s = 2; s <= MAX_SLOTS; s += 997) {
			CHECK(lockname_slot(slot, sizeof slot, a, s) == 0,
			      "slot %u of %s", s, a);
			check_name(slot, "lockname_slot");
			CHECK(strcmp(slot, a), "slot %u equals slot 1", s);
		}
		if (!named_key_problem(ws.w[0])) {
			CHECK(lockname_named(b, sizeof b, ws.w[0]) == 0, "named");
			check_name(b, "lockname_named");
			CHECK(b[0] == '@' && ends_with(b, LOCK_SUFFIX), "%s", b);
			CHECK(strcmp(a, b), "named key equals path key %s", a);
		} else {
			CHECK(lockname_named(b, sizeof b, ws.w[0]) < 0,
			      "refused key named: %s", ws.w[0]);
		}
		if (nb > 0) {
			int hashed_b = name_key(b, ws.w + split + 1, nb);

			if (!same_key(ws.w, na, ws.w + split + 1, nb) &&
			    !(hashed_a && hashed_b))
				CHECK(strcmp(a, b), "two keys share %s", a);
			if (same_key(ws.w, na, ws.w + split + 1, nb))
				CHECK(!strcmp(a, b), "one key, two names");
		}
	}
	words_free(&ws);
	return 0;
}
