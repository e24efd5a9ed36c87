/* SPDX-License-Identifier: MIT */
/* memfdexec [-p LIB] NAME FILE [ARG...]: run a copy of the executable
 * FILE from a memfd named NAME, as programs that unpack themselves into
 * memory do.
 *
 * The copy is made with memfd_create(NAME, MFD_CLOEXEC) and run with
 * fexecve(), as FILE ARG... (argv[0] is FILE), in this process: its
 * /proc/PID/exe then names the memfd, and executing that link runs the
 * same memfd again.  With -p, LD_PRELOAD=LIB is set for that image only
 * (memfdexec itself is not to be preloaded: the library would lock
 * memfdexec).  Status 71 if something fails before the exec.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testprog.h"

extern char **environ;

static int memfd_copy(const char *name, const char *file)
{
	char buf[65536];
	ssize_t n;
	int in = open(file, O_RDONLY | O_CLOEXEC);
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (in < 0 || fd < 0)
		fail("memfdexec", file);
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(fd, buf, n) != n)
			fail("memfdexec", "write");
	if (n < 0)
		fail("memfdexec", "read");
	close(in);
	return fd;
}

int main(int argc, char **argv)
{
	int i = 1, fd;

	if (argc > 2 && !strcmp(argv[1], "-p")) {
		if (setenv("LD_PRELOAD", argv[2], 1) != 0)
			fail("memfdexec", "setenv");
		i = 3;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: memfdexec [-p LIB] NAME FILE [ARG...]\n");
		return 64;
	}
	fd = memfd_copy(argv[i], argv[i + 1]);
	fexecve(fd, argv + i + 1, environ);
	fail("memfdexec", "fexecve");
	return 71;
}
