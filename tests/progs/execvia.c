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

extern char **environ;

static void var(FILE *f, const char *name)
{
	const char *v = getenv(name);

	if (v)
		fprintf(f, "%s=%s\n", name, v);
	else
		fprintf(f, "%s unset\n", name);
}

static void closed(FILE *f, int fd)
{
	int rc = close(fd);

	fprintf(f, "close%d=%d %s\n", fd, rc, rc < 0 ? strerrorname_np(errno) : "-");
}

int main(int argc, char **argv)
{
	const char *fn, *target;
	char *args[4];
	char tmp[4096], self[4096], cready[4096], crelease[4096], buf[64];
	int err = 0, fd;
	pid_t child;
	ssize_t n;
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
	n = readlink("/proc/self/exe", self, sizeof self - 16);
	if (n < 0)
		return 71;
	self[n] = '\0';
	snprintf(self + strlen(dirname(self)), 16, "/holder");
	snprintf(cready, sizeof cready, "%s.child", argv[3]);
	snprintf(crelease, sizeof crelease, "%s.child", argv[4]);
	child = fork();
	if (child < 0)
		return 71;
	if (child == 0) {
		execl(self, self, cready, crelease, (char *)NULL);
		_exit(127);
	}
	for (int tries = 0; access(cready, F_OK) != 0; tries++) {
		if (tries == 5000) {
			fprintf(stderr, "execvia: the child never got ready\n");
			return 71;
		}
		usleep(2000);
	}

	snprintf(tmp, sizeof tmp, "%s.tmp", argv[3]);
	f = fopen(tmp, "w");
	if (!f)
		return 71;
	fprintf(f, "%d\nerrno=%s\n", (int)getpid(), strerrorname_np(err));
	var(f, "LD_PRELOAD");
	var(f, "SINGLE_HELD");
	closed(f, 1022);
	closed(f, 1023);
	fprintf(f, "child=%d\n", (int)child);
	if (fclose(f) != 0 || rename(tmp, argv[3]) != 0) {
		perror("execvia: ready file");
		return 71;
	}
	fd = open(argv[4], O_RDONLY);
	if (fd < 0) {
		perror("execvia: release fifo");
		return 71;
	}
	while (read(fd, buf, sizeof buf) > 0)
		;
	return 0;
}
