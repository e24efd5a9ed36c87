/* SPDX-License-Identifier: MIT */
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
#include <stdio.h>
#include <string.h>

#include "testprog.h"

int main(int argc, char **argv)
{
	struct child c;
	pid_t child = 0;
	FILE *f;

	if (argc < 2) {
		fprintf(stderr, "usage: envholder READY [RELEASE [child]]\n");
		return 64;
	}
	if (argc > 3 && !strcmp(argv[3], "child"))
		child = child_start("envholder", &c, argv[1], argv[2]);
	f = ready_open("envholder", argv[1]);
	report_var(f, "LD_PRELOAD");
	report_var(f, "SINGLE_HELD");
	report_close(f, 1022);
	report_close(f, 1023);
	if (child)
		fprintf(f, "child=%d\n", (int)child);
	ready_close("envholder", argv[1], f);
	if (argc > 2)
		release_wait("envholder", argv[2]);
	return 0;
}
