/* SPDX-License-Identifier: MIT */
/* forkguard ROUNDS: one thread closes a range that spans the library's
 * descriptors over and over (so it often holds the library's guard)
 * while the main thread forks; each child does the same close once and
 * exits.  A child that inherited the guard held and could not take it
 * would spin for ever: after 2 s the child counts as stuck, and the
 * program says so and exits 1.  "no hang" and 0 otherwise. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *close_forever(void *arg)
{
	(void)arg;
	for (;;)
		close_range(1000, ~0U, 0);
	return NULL;
}

static int child_ended(pid_t child)
{
	struct timespec ms = { 0, 1000000 };
	int status;

	for (int waited = 0; waited < 2000; waited++) {
		if (waitpid(child, &status, WNOHANG) == child)
			return 1;
		nanosleep(&ms, NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 500;
	pthread_t thread;

	pthread_create(&thread, NULL, close_forever, NULL);
	for (int i = 0; i < rounds; i++) {
		pid_t child = fork();

		if (child == 0) {
			close_range(1000, ~0U, 0);
			_exit(0);
		}
		if (!child_ended(child)) {
			printf("child %d stuck after fork %d\n", (int)child, i);
			kill(child, SIGKILL);
			return 1;
		}
	}
	puts("no hang");
	return 0;
}
