/* SPDX-License-Identifier: MIT */
/* fdgames MODE OUT READY [RELEASE]: descriptor games a program may play,
 * with every call's result written to OUT, so a run with the library can
 * be compared line by line with a run without it.
 *
 * MODE:
 *   closeall     close() every number from 3 below sysconf(_SC_OPEN_MAX)
 *   close_range  close_range(3, ~0U, 0)
 *   closefrom    closefrom(3)
 *   dup2 / dup3  dup2(0, N) / dup3(0, N, O_CLOEXEC) for N = 3..1023,
 *                then close() of each, then which number open() gets
 *   hidden       close(1022), close(1023), dup2/dup3 from them, and
 *                dup2 of each onto itself
 *   hiddendup3   dup3 of 1022 and 1023 onto themselves (EINVAL, whatever
 *                the number)
 *   dup2top      dup2(0, 1022), dup2(0, 1023), then which number the
 *                next open() gets
 * After the games main() keeps working: it writes OUT, then READY
 * (its pid, through a rename) and, with RELEASE, waits until the FIFO
 * RELEASE is opened for writing and closed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testprog.h"

#define MAXREC 1100000

struct rec { long arg; int rc, err; };
static struct rec *recs;
static size_t nrec;

static void note(long arg, int rc)
{
	if (nrec < MAXREC)
		recs[nrec++] = (struct rec){ arg, rc, rc < 0 ? errno : 0 };
}

static int lowest_free(void)
{
	int fd = open("/dev/null", O_RDONLY), rc = fd;

	if (fd >= 0)
		close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	const char *mode;
	FILE *out;

	if (argc < 4) {
		fprintf(stderr, "usage: fdgames MODE OUT READY [RELEASE]\n");
		return 64;
	}
	mode = argv[1];
	recs = calloc(MAXREC, sizeof *recs);
	if (!recs)
		return 71;
	if (!strcmp(mode, "closeall")) {
		long max = sysconf(_SC_OPEN_MAX);

		for (long fd = 3; fd < max && fd < MAXREC; fd++)
			note(fd, close((int)fd));
		note(-1, lowest_free());
	} else if (!strcmp(mode, "close_range")) {
		note(3, close_range(3, ~0U, 0));
		note(-1, lowest_free());
	} else if (!strcmp(mode, "closefrom")) {
		errno = 0;
		closefrom(3);
		note(3, errno ? -1 : 0);
		note(-1, lowest_free());
	} else if (!strcmp(mode, "dup2")) {
		for (int fd = 3; fd <= 1023; fd++)
			note(fd, dup2(0, fd));
		for (int fd = 3; fd <= 1023; fd++)
			note(fd, close(fd));
		note(-1, lowest_free());
	} else if (!strcmp(mode, "dup3")) {
		for (int fd = 3; fd <= 1023; fd++)
			note(fd, dup3(0, fd, O_CLOEXEC));
		note(-5, dup3(5, 5, 0));
		for (int fd = 3; fd <= 1023; fd++)
			note(fd, close(fd));
		note(-1, lowest_free());
	} else if (!strcmp(mode, "hidden")) {
		note(1022, close(1022));
		note(1023, close(1023));
		note(-1022, dup2(1022, 10));
		note(-1023, dup3(1023, 11, 0));
		note(-2022, dup2(1022, 1022));
		note(-2023, dup2(1023, 1023));
		note(1022, close(1022));
		note(1023, close(1023));
	} else if (!strcmp(mode, "hiddendup3")) {
		note(-3022, dup3(1022, 1022, 0));
		note(-3023, dup3(1023, 1023, O_CLOEXEC));
		note(1022, close(1022));
		note(1023, close(1023));
	} else if (!strcmp(mode, "dup2top")) {
		note(1022, dup2(0, 1022));
		note(1023, dup2(0, 1023));
		note(-1, lowest_free());
		note(1022, close(1022));
		note(1023, close(1023));
		note(-1, lowest_free());
	} else {
		fprintf(stderr, "fdgames: unknown mode %s\n", mode);
		return 64;
	}
	out = fopen(argv[2], "w");
	if (!out)
		return 71;
	for (size_t i = 0; i < nrec; i++)
		fprintf(out, "%ld %d %s\n", recs[i].arg, recs[i].rc,
			recs[i].rc < 0 ? strerrorname_np(recs[i].err) : "-");
	if (fclose(out) != 0)
		return 71;
	ready_write("fdgames", argv[3]);
	if (argc > 4)
		release_wait("fdgames", argv[4]);
	return 0;
}
