/* SPDX-License-Identifier: MIT */
/* rtblock READY [RELEASE]: a holder that starts with every real-time
 * signal blocked, some of them perhaps pending, and says which are
 * pending when main() runs.
 *
 * Before any shared library's constructor (from .preinit_array) it
 * blocks SIGRTMIN..SIGRTMAX and, with RTBLOCK_QUEUE set, queues one of
 * each to itself (sigqueue: they stay pending).  READY (through a rename)
 * then holds
 *   PID
 *   before: N N ...    the real-time signals pending before any
 *                      library ran
 *   main: N N ...      the real-time signals pending at main()
 * and the program waits like tests/bin/holder.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testprog.h"

static sigset_t before;

static void early(int argc, char **argv, char **envp)
{
	sigset_t all;

	(void)argc, (void)argv;
	sigemptyset(&all);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		sigaddset(&all, sig);
	sigprocmask(SIG_BLOCK, &all, NULL);
	/* environ is not set up yet: look at envp */
	for (; *envp; envp++)
		if (!strncmp(*envp, "RTBLOCK_QUEUE=", 14))
			break;
	if (*envp)
		for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++) {
			union sigval v = { .sival_int = sig };

			sigqueue(getpid(), sig, v);
		}
	sigpending(&before);
}

__attribute__((section(".preinit_array"), used))
static void (*const preinit)(int, char **, char **) = early;

static void print_rt(FILE *f, const char *what, const sigset_t *set)
{
	fprintf(f, "%s:", what);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		if (sigismember(set, sig) == 1)
			fprintf(f, " %d", sig);
	fprintf(f, "\n");
}

int main(int argc, char **argv)
{
	sigset_t now;
	FILE *f;

	sigpending(&now);
	if (argc < 2) {
		fprintf(stderr, "usage: rtblock READY [RELEASE]\n");
		return 64;
	}
	f = ready_open("rtblock", argv[1]);
	print_rt(f, "before", &before);
	print_rt(f, "main", &now);
	ready_close("rtblock", argv[1], f);
	if (argc > 2)
		release_wait("rtblock", argv[2]);
	return 0;
}
