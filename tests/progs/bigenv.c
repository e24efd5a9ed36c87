/* SPDX-License-Identifier: MIT */
/* bigenv COMMAND: from a thread with a 64 KiB stack, execve COMMAND with
 * an environment of 20,000 variables (the caller's LD_PRELOAD and SINGLE_*
 * passed on among them).  Exits 71 if the exec fails. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NVARS 20000

extern char **environ;
static char *env[NVARS + 64];
static char vars[NVARS][16];
static const char *command;

static void *exec_from_thread(void *arg)
{
	char *argv[] = { (char *)command, NULL };
	size_t n = 0;

	(void)arg;
	for (char **e = environ; *e && n < 60; e++)
		env[n++] = *e;
	for (int i = 0; i < NVARS; i++) {
		snprintf(vars[i], sizeof vars[i], "BIG%d=x", i);
		env[n++] = vars[i];
	}
	env[n] = NULL;
	execve(command, argv, env);
	perror("bigenv: execve");
	exit(71);
}

int main(int argc, char **argv)
{
	pthread_attr_t attr;
	pthread_t thread;

	if (argc < 2) {
		fprintf(stderr, "usage: bigenv COMMAND\n");
		return 64;
	}
	command = argv[1];
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 65536);
	pthread_create(&thread, &attr, exec_from_thread, NULL);
	pthread_join(thread, NULL);
	return 71;
}
