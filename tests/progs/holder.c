/* SPDX-License-Identifier: MIT */
/* holder READY [RELEASE]: the program under test in most cases.
 *
 * main() writes its pid into READY (through a rename, so a reader never
 * sees half a file), then waits until RELEASE (a FIFO) is opened for
 * writing and closed, or, without RELEASE, until a signal ends it.
 * Whether main() ran at all is the test's question: READY answers it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

#include "testprog.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: holder READY [RELEASE]\n");
		return 64;
	}
	ready_write("holder", argv[1]);
	if (argc > 2) {
		release_wait("holder", argv[2]);
		return 0;
	}
	for (;;)
		pause();
}
