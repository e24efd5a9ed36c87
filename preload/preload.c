/* SPDX-License-Identifier: MIT */
/* Editing LD_PRELOAD in place.
 *
 * ld.so separates entries with ':' or blanks.  Removing ours keeps every
 * other entry in its order and with the separators that stood between
 * them.  The value is edited where it lies (it is shortened, never
 * lengthened), so no memory is needed.
 */
#include "single.h"

static int is_sep(char c)
{
	return c == ':' || c == ' ' || c == '\t';
}

/* An entry is ours when its file name is ours: "libsingle.so",
 * "/usr/local/lib/libsingle.so" and "/usr/$LIB/libsingle.so" all are. */
static int entry_is(const char *e, size_t n, const char *self_base)
{
	const char *base = e, *end = e + n;

	for (const char *p = e; p < end; p++)
		if (*p == '/')
			base = p + 1;
	while (base < end && *self_base && *base == *self_base)
		base++, self_base++;
	return base == end && !*self_base;
}

int preload_has(const char *v, const char *self_base,
		int (*found)(const char *entry, int lasting))
{
	while (*v) {
		size_t n;

		while (is_sep(*v))
			v++;
		for (n = 0; v[n] && !is_sep(v[n]); n++)
			;
		if (n && entry_is(v, n, self_base)) {
			char entry[PATH_MAX];

			if (found && n < sizeof entry) {
				for (size_t i = 0; i < n; i++)
					entry[i] = v[i];
				entry[n] = '\0';
				return found(entry, 0);
			}
			return !found;
		}
		v += n;
	}
	return 0;
}

int preload_remove(char *v, const char *self_base)
{
	char *p = v;
	int removed = 0;

	while (*p) {
		char *start, *end, *next;

		while (is_sep(*p))
			p++;
		start = p;
		for (end = start; *end && !is_sep(*end); end++)
			;
		if (end == start || !entry_is(start, (size_t)(end - start), self_base)) {
			p = end;
			continue;
		}
		removed = 1;
		for (next = end; is_sep(*next); next++)
			;
		if (!*next) {
			/* the last entry takes the separators before it */
			while (start > v && is_sep(start[-1]))
				start--;
			*start = '\0';
			break;
		}
		for (char *to = start; (*to++ = *next++);)
			;
		p = start;
	}
	return removed;
}
