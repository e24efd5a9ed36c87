/* SPDX-License-Identifier: MIT */
/* daemon HOW READY RELEASE [CMD...]: a holder that can go into the
 * background and start the same program again below itself.
 *
 * HOW is
 *   fork   daemonise: fork, and the parent exits 0 as soon as the child
 *          has written READY; the child (which shares the parent's open
 *          files, the lock among them) goes on below, once its parent is
 *          gone, so the pid the parent wrote anywhere is a dead one
 *   stay   no fork: main() goes on below itself
 * Then: write the pid into READY (through a rename); given CMD, run it as
 * a child (fork, execvp), wait for it and write how it ended into
 * READY.cmd (through a rename): the pid, then "exited N" or "killed SIG"
 * on a second line; then, unless
 * RELEASE is "-", wait until the FIFO RELEASE is opened for writing and
 * closed.  `daemon stay READY -` is a start that runs and ends at once.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testprog.h"

/* The parent of a daemonising start: exit once the child is ready. */
static void parent_exit_when_ready(const char *ready)
{
	struct timespec ms = { 0, 1000000 };

	for (int tries = 0; access(ready, F_OK) != 0; tries++) {
		if (tries == 10000) {
			fprintf(stderr, "daemon: the child never got ready\n");
			_exit(71);
		}
		nanosleep(&ms, NULL);
	}
	_exit(0);
}

/* The child of a daemonising start: until its parent is gone (10 s at
 * most). */
static void wait_parent_gone(pid_t parent)
{
	struct timespec ms = { 0, 1000000 };

	for (int tries = 0; getppid() == parent; tries++) {
		if (tries == 10000) {
			fprintf(stderr, "daemon: the parent never exited\n");
			_exit(71);
		}
		nanosleep(&ms, NULL);
	}
}

static void run_cmd(char **cmd, const char *ready)
{
	char path[4096];
	int status;
	pid_t pid;
	FILE *f;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		fail("daemon", "fork");
	if (pid == 0) {
		execvp(cmd[0], cmd);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		fail("daemon", "waitpid");
	snprintf(path, sizeof path, "%s.cmd", ready);
	f = ready_open("daemon", path);
	if (WIFEXITED(status))
		fprintf(f, "exited %d\n", WEXITSTATUS(status));
	else
		fprintf(f, "killed %d\n", WTERMSIG(status));
	ready_close("daemon", path, f);
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "fork") && strcmp(argv[1], "stay"))) {
		fprintf(stderr, "usage: daemon fork|stay READY RELEASE [CMD...]\n");
		return 64;
	}
	if (!strcmp(argv[1], "fork")) {
		pid_t parent = getpid(), pid = fork();

		if (pid < 0)
			fail("daemon", "fork");
		if (pid > 0)
			parent_exit_when_ready(argv[2]);
		ready_write("daemon", argv[2]);
		wait_parent_gone(parent);
	} else {
		ready_write("daemon", argv[2]);
	}
	if (argc > 4)
		run_cmd(argv + 4, argv[2]);
	if (strcmp(argv[3], "-"))
		release_wait("daemon", argv[3]);
	return 0;
}
