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
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static char holder[4096], cready[4096], crelease[4096], command[16384];

static void ready(const char *path)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) != 0) {
		perror("forker: ready file");
		exit(71);
	}
}

static void wait_release(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		perror("forker: release fifo");
		exit(71);
	}
	while (read(fd, buf, sizeof buf) > 0)
		;
	close(fd);
}

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
	ssize_t n;

	if (argc < 4) {
		fprintf(stderr, "usage: forker HOW READY RELEASE\n");
		return 64;
	}
	how = argv[1];
	n = readlink("/proc/self/exe", holder, sizeof holder - 16);
	if (n < 0)
		return 71;
	holder[n] = '\0';
	snprintf(holder + strlen(dirname(holder)), 16, "/holder");
	snprintf(cready, sizeof cready, "%s.child", argv[2]);
	snprintf(crelease, sizeof crelease, "%s.child", argv[3]);
	snprintf(command, sizeof command, "exec '%s' '%s' '%s'", holder, cready,
		 crelease);

	if (!strcmp(how, "fork")) {
		pid_t pid = fork();

		if (pid < 0)
			return 71;
		if (pid == 0) {
			ready(cready);
			wait_release(crelease);
			_exit(0);
		}
	} else if (!strcmp(how, "posix_spawn")) {
		char *args[] = { holder, cready, crelease, NULL };
		pid_t pid;

		if (posix_spawn(&pid, holder, NULL, NULL, args, environ) != 0)
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
	for (int tries = 0; access(cready, F_OK) != 0; tries++) {
		if (tries == 5000) {
			fprintf(stderr, "forker: the child never got ready\n");
			return 71;
		}
		usleep(2000);
	}
	ready(argv[2]);
	wait_release(argv[3]);
	_exit(0);
}
