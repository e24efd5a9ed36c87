/* SPDX-License-Identifier: MIT */
/* strerror NAME: the C library's message for the error NAME (EMFILE,
 * ENOENT...), as the library's own messages give it: C libraries word
 * some differently (musl: "No file descriptors available" for EMFILE).
 * Exits 64 for a name it does not know. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int err;
} errors[] = {
	{ "EACCES", EACCES }, { "EEXIST", EEXIST }, { "ELOOP", ELOOP },
	{ "EMFILE", EMFILE }, { "ENAMETOOLONG", ENAMETOOLONG },
	{ "ENOENT", ENOENT }, { "ENOMEM", ENOMEM }, { "ENOSPC", ENOSPC },
	{ "ENOTDIR", ENOTDIR }, { "EPERM", EPERM }, { "EROFS", EROFS },
};

int main(int argc, char **argv)
{
	for (size_t i = 0; argc == 2 && i < sizeof errors / sizeof errors[0]; i++) {
		if (!strcmp(argv[1], errors[i].name)) {
			puts(strerror(errors[i].err));
			return 0;
		}
	}
	fprintf(stderr, "usage: strerror NAME (EMFILE, ENOENT, ...)\n");
	return 64;
}
