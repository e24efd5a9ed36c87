/* SPDX-License-Identifier: MIT */
/* vforker MODE READY RELEASE [PROG ARGS...]: a child that shares the
 * holder's memory plays with the lock's numbers, then the holder looks.
 *
 * The child's games: dup2(0, 1022), dup2(0, 1023), close(1022),
 * close(1023), dup2(0, 1022) again, close_range(3, ~0U, 0), closefrom(3),
 * then _exit(0).  Its descriptors are its own copy: none of this may
 * change the holder's.
 *
 * MODE:
 *   vfork      the child is a vfork child
 *   clonevm    the child is a clone(CLONE_VM) child (as posix_spawn makes)
 *   forkvfork  the program forks and exits at once (a daemon); the fork
 *              child, which has not touched the lock's numbers yet, makes
 *              the vfork child and goes on as below
 *   fork       the program forks and exits at once; the fork child closes
 *              1022 and 1023 and calls closefrom(3) itself (it keeps the
 *              lock as its parent did)
 *
 * Then the program (or, with forkvfork and fork, the fork child) writes
 * READY through a rename: its pid, then close1022=RC ERRNO and
 * close1023=RC ERRNO (testprog.h's report_close), and waits until the
 * FIFO RELEASE is opened for writing and closed.  With PROG, it execs
 * PROG ARGS... (execv) after the close()s instead, and READY is left to
 * PROG.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testprog.h"

static int games(void *arg)
{
	(void)arg;
	dup2(0, 1022);
	dup2(0, 1023);
	close(1022);
	close(1023);
	dup2(0, 1022);
	close_range(3, ~0U, 0);
	closefrom(3);
	return 0;
}

static void vfork_games(void)
{
	int status;
	pid_t pid = vfork();

	if (pid < 0)
		fail("vforker", "vfork");
	if (pid == 0)
		_exit(games(NULL));
	if (waitpid(pid, &status, 0) != pid || status != 0)
		fail("vforker", "vfork child");
}

static void clonevm_games(void)
{
	static char stack[256 * 1024] __attribute__((aligned(16)));
	int status;
	pid_t pid = clone(games, stack + sizeof stack, CLONE_VM | SIGCHLD, NULL);

	if (pid < 0)
		fail("vforker", "clone");
	if (waitpid(pid, &status, __WALL) != pid || status != 0)
		fail("vforker", "clone child");
}

/* The program's own process goes; its fork child goes on. */
static void daemonise(void)
{
	pid_t pid = fork();

	if (pid < 0)
		fail("vforker", "fork");
	if (pid > 0)
		_exit(0);
}

int main(int argc, char **argv)
{
	const char *mode;
	FILE *f;

	if (argc < 4) {
		fprintf(stderr, "usage: vforker MODE READY RELEASE [PROG ARGS...]\n");
		return 64;
	}
	mode = argv[1];
	if (!strcmp(mode, "vfork")) {
		vfork_games();
	} else if (!strcmp(mode, "clonevm")) {
		clonevm_games();
	} else if (!strcmp(mode, "forkvfork")) {
		daemonise();
		vfork_games();
	} else if (!strcmp(mode, "fork")) {
		daemonise();
		closefrom(3);
	} else {
		fprintf(stderr, "vforker: unknown mode %s\n", mode);
		return 64;
	}
	if (argc > 4) {
		/* the closes must fail as they would on closed numbers; if
		 * one did not, the exec is made all the same, and the test
		 * finds the lock gone */
		close(1022);
		close(1023);
		execv(argv[4], argv + 4);
		fail("vforker", argv[4]);
	}
	f = ready_open("vforker", argv[2]);
	report_close(f, 1022);
	report_close(f, 1023);
	ready_close("vforker", argv[2], f);
	release_wait("vforker", argv[3]);
	return 0;
}
