/* SPDX-License-Identifier: MIT */
/* envfirst.so: a library loaded before libsingle
 * (LD_PRELOAD=envfirst.so:libsingle.so) whose constructor adds a variable
 * to the environment, as any library may.  The first variable added
 * moves environ off the initial stack (setenv copies the array to the
 * heap), where libsingle looks for argv on C libraries that do not pass
 * it to constructors (musl).
 *
 * ENVFIRST_REPORT names a file it writes, one word a line: "moved" or
 * "kept" (did environ move?), then "first" or "second": whether its
 * constructor ran before libsingle's (a libsingle that took the lock
 * already holds descriptor 1022).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern char **environ;

__attribute__((constructor)) static void envfirst(void)
{
	char **before = environ;
	const char *report = getenv("ENVFIRST_REPORT");
	int second = fcntl(1022, F_GETFD) >= 0;
	FILE *f;

	if (setenv("ENVFIRST", "set", 1) != 0 || !report)
		return;
	if (!(f = fopen(report, "w")))
		return;
	fprintf(f, "%s\n%s\n", environ != before ? "moved" : "kept",
		second ? "second" : "first");
	fclose(f);
}
