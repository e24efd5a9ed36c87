/* SPDX-License-Identifier: MIT */
/* reap [-g] CMD...: run CMD and wait for it and for every process it
 * leaves behind (setsid -f, a daemon's fork), so a test knows when a
 * start that forked has really ended.
 *
 * reap is a child subreaper (PR_SET_CHILD_SUBREAPER): a descendant whose
 * parent ends is reparented to it, and reap waits for that one too.  With
 * -g, CMD runs as the leader of a process group of its own (setpgid), as
 * a shell with job control starts it.  For each process that ends, reap
 * prints one line on stdout, in the order they end: "exited N" or
 * "killed SIG".  It exits 0 once nothing is left, 71 if it cannot start
 * CMD.  Start it without LD_PRELOAD (`reap env LD_PRELOAD=... CMD`): the
 * library would lock reap itself.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testprog.h"

int main(int argc, char **argv)
{
	int group = argc > 1 && !strcmp(argv[1], "-g");
	int status;
	pid_t pid;

	if (argc < 2 + group) {
		fprintf(stderr, "usage: reap [-g] CMD...\n");
		return 64;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		fail("reap", "PR_SET_CHILD_SUBREAPER");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("reap", "fork");
	if (pid == 0) {
		if (group && setpgid(0, 0) != 0)
			fail("reap", "setpgid");
		execvp(argv[1 + group], argv + 1 + group);
		fail("reap", argv[1 + group]);
	}
	while ((pid = wait(&status)) > 0) {
		if (WIFEXITED(status))
			printf("exited %d\n", WEXITSTATUS(status));
		else
			printf("killed %d\n", WTERMSIG(status));
		fflush(stdout);
	}
	return 0;
}
