/* SPDX-License-Identifier: MIT */
/* memset and memcpy for the library alone.
 *
 * The compiler calls them on its own, to clear or copy a large structure.
 * These copies keep those calls inside the library (hidden, so bound at
 * link time): a call to libc's would cost the constructor a symbol
 * lookup in ld.so (sys.h).  Only the shared library links this file:
 * single and the fuzzers use libc's.
 */
/* These are memset and memcpy themselves, not calls to be checked:
 * _FORTIFY_SOURCE would define wrappers of the same names first. */
#undef _FORTIFY_SOURCE
#include <string.h>

#include "single.h"

__attribute__((visibility("hidden"))) void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;

	while (n--) {
		NOT_A_LIBC_CALL(p);
		*p++ = (unsigned char)c;
	}
	return s;
}

__attribute__((visibility("hidden"))) void *memcpy(void *to, const void *from, size_t n)
{
	mem_copy(to, from, n);
	return to;
}
