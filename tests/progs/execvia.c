/* SPDX-License-Identifier: MIT */
/* execvia FUNC TARGET READY RELEASE: exec TARGET READY RELEASE through
 * FUNC (execve execv execvp execvpe execl execlp execle fexecve execveat).
 *
 * If the exec fails, main() goes on and reports what it sees, so a test
 * can check that nothing changed: READY (through a rename) holds
 *   PID
 *   errno=NAME                      what the exec failed with
 *   LD_PRELOAD=VALUE | LD_PRELOAD unset, the same for SINGLE_HELD
 *   close1022=RC ERRNO, close1023=RC ERRNO
 *   child=PID                       tests/bin/holder READY.child RELEASE.child,
 *                                   started with fork and execv, running
 * then waits until the FIFO RELEASE is opened for writing and closed.
 * For fexecve TARGET is opened O_RDONLY; for execveat it is resolved
 * relative to a directory descriptor of its parent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testprog.h"

extern char **environ;

int main(int argc, char **argv)
{
	const char *fn, *target;
	char *args[4];
	struct child c;
	int err = 0, fd;
	pid_t child;
	FILE *f;

	if (argc < 5) {
		fprintf(stderr, "usage: execvia FUNC TARGET READY RELEASE\n");
		return 64;
	}
	fn = argv[1];
	target = argv[2];
	args[0] = (char *)target;
	args[1] = argv[3];
	args[2] = argv[4];
	args[3] = NULL;
	if (!strcmp(fn, "execve"))
		execve(target, args, environ);
	else if (!strcmp(fn, "execv"))
		execv(target, args);
	else if (!strcmp(fn, "execvp"))
		execvp(target, args);
	else if (!strcmp(fn, "execvpe"))
		execvpe(target, args, environ);
	else if (!strcmp(fn, "execl"))
		execl(target, target, args[1], args[2], (char *)NULL);
	else if (!strcmp(fn, "execlp"))
		execlp(target, target, args[1], args[2], (char *)NULL);
	else if (!strcmp(fn, "execle"))
		execle(target, target, args[1], args[2], (char *)NULL, environ);
	else if (!strcmp(fn, "fexecve")) {
		fd = open(target, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			perror("execvia: open");
			return 71;
		}
		fexecve(fd, args, environ);
	} else if (!strcmp(fn, "execveat")) {
		char dir[4096], base[4096];

		snprintf(dir, sizeof dir, "%s", target);
		snprintf(base, sizeof base, "%s", target);
		fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			perror("execvia: open dir");
			return 71;
		}
		execveat(fd, basename(base), args, environ, 0);
	} else {
		fprintf(stderr, "execvia: unknown function %s\n", fn);
		return 64;
	}
	err = errno;

	/* the exec failed: report what is left */
	child = child_start("execvia", &c, argv[3], argv[4]);
	f = ready_open("execvia", argv[3]);
	fprintf(f, "errno=%s\n", strerrorname_np(err));
	report_var(f, "LD_PRELOAD");
	report_var(f, "SINGLE_HELD");
	report_close(f, 1022);
	report_close(f, 1023);
	fprintf(f, "child=%d\n", (int)child);
	ready_close("execvia", argv[3], f);
	release_wait("execvia", argv[4]);
	return 0;
}
