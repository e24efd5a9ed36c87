/* SPDX-License-Identifier: MIT */
/* mbsync ACCOUNT: stands in for a mail sync of one account, for the tests
 * of SINGLE_SCOPE=command (single -a): "mbsync work" and "mbsync home".
 *
 * main() records that it ran for ACCOUNT by creating $SYNC_DIR/ran.ACCOUNT.PID
 * (through a rename, so a reader never sees half a file), then waits until
 * the FIFO $SYNC_DIR/release.ACCOUNT is opened for writing and closed.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testprog.h"

int main(int argc, char **argv)
{
	const char *dir = getenv("SYNC_DIR");
	char path[4096], tmp[4096];
	FILE *f;

	if (argc != 2 || !dir) {
		fprintf(stderr, "usage: SYNC_DIR=DIR mbsync ACCOUNT\n");
		return 64;
	}
	snprintf(path, sizeof path, "%s/ran.%s.%d", dir, argv[1], (int)getpid());
	snprintf(tmp, sizeof tmp, "%s/.tmp.%d", dir, (int)getpid());
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) != 0) {
		perror("mbsync: ran file");
		return 71;
	}
	snprintf(path, sizeof path, "%s/release.%s", dir, argv[1]);
	release_wait("mbsync", path);
	return 0;
}
