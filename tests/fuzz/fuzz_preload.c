/* SPDX-License-Identifier: MIT */
/* preload_remove and preload_has: after removal no entry has our file
 * name, every other entry is still there in its order, and the value
 * only got shorter; preload_has agrees with a plain scan.
 *
 * Input: word 0 (up to the first NUL) is our file name, the rest is the
 * LD_PRELOAD value. */
#include "../../preload/single.h"
#include "fuzz.h"

static int is_sep(char c)
{
	return c == ':' || c == ' ' || c == '\t';
}

static const char *base_of(const char *e, size_t n, size_t *bn)
{
	const char *b = e;

	for (size_t i = 0; i < n; i++)
		if (e[i] == '/')
			b = e + i + 1;
	*bn = (size_t)(e + n - b);
	return b;
}

/* The entries of v that are not ours, joined by ':'; 1 if one was ours. */
static int others(const char *v, const char *self, char *out)
{
	size_t sn = strlen(self);
	int ours = 0;

	*out = '\0';
	while (*v) {
		size_t n = 0, bn;
		const char *b;

		while (is_sep(*v))
			v++;
		while (v[n] && !is_sep(v[n]))
			n++;
		if (!n)
			break;
		b = base_of(v, n, &bn);
		if (bn == sn && !memcmp(b, self, sn)) {
			ours = 1;
		} else {
			strncat(out, v, n);
			strcat(out, ":");
		}
		v += n;
	}
	return ours;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	char *self, *v, *before, *after;
	size_t vlen;
	int removed, ours;

	if (!nul)
		return 0;
	self = strndup((const char *)data, (size_t)(nul - data));
	vlen = size - (size_t)(nul - data) - 1;
	v = strndup((const char *)nul + 1, vlen);
	vlen = strlen(v);
	/* our name is a plain file name: not empty, no '/', no separator */
	if (!*self || strpbrk(self, "/: \t")) {
		free(self);
		free(v);
		return 0;
	}
	before = malloc(vlen * 2 + 2);
	after = malloc(vlen * 2 + 2);
	ours = others(v, self, before);
	CHECK(!!preload_has(v, self, NULL) == ours, "preload_has(\"%s\")", v);
	removed = preload_remove(v, self);
	CHECK(removed == ours, "removed %d, ours %d", removed, ours);
	CHECK(strlen(v) <= vlen, "value grew");
	CHECK(!preload_has(v, self, NULL), "still ours: \"%s\"", v);
	CHECK(!others(v, self, after), "ours after removal");
	CHECK(!strcmp(before, after), "others changed: \"%s\" -> \"%s\"", before, after);
	free(before);
	free(after);
	free(self);
	free(v);
	return 0;
}
