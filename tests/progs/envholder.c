/* envholder READY [RELEASE [child]]: a holder that says what it sees.
 *
 * The final image of the exec tests.  Before READY is written it closes
 * 1022 and 1023 (where the library keeps the lock: to the program they
 * must not exist, so both fail with EBADF and the lock stays), and with
 * "child" it starts tests/bin/holder READY.child RELEASE.child (fork and
 * execv) and waits until that child's READY.child exists.  READY (written
 * through a rename) holds:
 *   PID
 *   LD_PRELOAD=VALUE or LD_PRELOAD unset, the same for SINGLE_HELD
 *   close1022=RC ERRNO, close1023=RC ERRNO
 *   child=PID (with "child")
 * Then it waits until the FIFO RELEASE is opened for writing and closed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	char tmp[4096], buf[64], self[4096], cready[4096], crelease[4096];
	pid_t child = 0;
	ssize_t n;
	FILE *f;

	if (argc < 2) {
		fprintf(stderr, "usage: envholder READY [RELEASE [child]]\n");
		return 64;
	}
	if (argc > 3 && !strcmp(argv[3], "child")) {
		n = readlink("/proc/self/exe", self, sizeof self - 16);
		if (n < 0)
			return 71;
		self[n] = '\0';
		snprintf(self + strlen(dirname(self)), 16, "/holder");
		snprintf(cready, sizeof cready, "%s.child", argv[1]);
		snprintf(crelease, sizeof crelease, "%s.child", argv[2]);
		child = fork();
		if (child < 0)
			return 71;
		if (child == 0) {
			execl(self, self, cready, crelease, (char *)NULL);
			_exit(127);
		}
		for (int tries = 0; access(cready, F_OK) != 0; tries++) {
			if (tries == 5000) {
				fprintf(stderr, "envholder: the child never got ready\n");
				return 71;
			}
			usleep(2000);
		}
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
	f = fopen(tmp, "w");
	if (!f)
		return 71;
	fprintf(f, "%d\n", (int)getpid());
	var(f, "LD_PRELOAD");
	var(f, "SINGLE_HELD");
	closed(f, 1022);
	closed(f, 1023);
	if (child)
		fprintf(f, "child=%d\n", (int)child);
	if (fclose(f) != 0 || rename(tmp, argv[1]) != 0) {
		perror("envholder: ready file");
		return 71;
	}
	if (argc > 2) {
		int fd = open(argv[2], O_RDONLY);

		if (fd < 0) {
			perror("envholder: release fifo");
			return 71;
		}
		while (read(fd, buf, sizeof buf) > 0)
			;
	}
	return 0;
}
