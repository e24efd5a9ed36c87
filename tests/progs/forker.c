/* SPDX-License-Identifier: MIT */
/* forker HOW READY RELEASE: start a child, then hold like tests/bin/holder.
 *
 * HOW says how the child is started:
 *   fork         fork() alone, no exec: the child writes READY.child
 *                (its pid) and waits on the FIFO RELEASE.child
 *   posix_spawn  posix_spawn() of tests/bin/holder READY.child RELEASE.child
 *   system       system("exec tests/bin/holder ..."), from a thread, so
 *                main() goes on while the child runs
 *   popen        popen("exec tests/bin/holder ...", "r"), never closed
 * main() waits until READY.child exists, writes READY ("PID\n", through a
 * rename) and waits until the FIFO RELEASE is opened for writing and
 * closed; then it returns without waiting for the child, which lives on.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testprog.h"

extern char **environ;

static struct child child;
static char command[16384];

static void *run_system(void *arg)
{
	(void)arg;
	if (system(command) != 0)
		fprintf(stderr, "forker: system() failed\n");
	return NULL;
}

int main(int argc, char **argv)
{
	const char *how;

	if (argc < 4) {
		fprintf(stderr, "usage: forker HOW READY RELEASE\n");
		return 64;
	}
	how = argv[1];
	child_names(&child, argv[2], argv[3]);
	snprintf(command, sizeof command, "exec '%s' '%s' '%s'", child.holder,
		 child.ready, child.release);

	if (!strcmp(how, "fork")) {
		pid_t pid = fork();

		if (pid < 0)
			return 71;
		if (pid == 0) {
			ready_write("forker", child.ready);
			release_wait("forker", child.release);
			_exit(0);
		}
	} else if (!strcmp(how, "posix_spawn")) {
		char *args[] = { child.holder, child.ready, child.release, NULL };
		pid_t pid;

		if (posix_spawn(&pid, child.holder, NULL, NULL, args, environ) != 0)
			return 71;
	} else if (!strcmp(how, "system")) {
		pthread_t t;

		if (pthread_create(&t, NULL, run_system, NULL) != 0)
			return 71;
	} else if (!strcmp(how, "popen")) {
		if (!popen(command, "r"))
			return 71;
	} else {
		fprintf(stderr, "forker: unknown way %s\n", how);
		return 64;
	}
	child_wait("forker", &child);
	ready_write("forker", argv[2]);
	release_wait("forker", argv[3]);
	_exit(0);
}
