/* SPDX-License-Identifier: MIT */
/* dupfail: dup2 and dup3 from a number that is not open onto the
 * library's descriptors (1022, 1023) fail with EBADF and change nothing:
 * afterwards close() of those numbers still fails with EBADF, as for
 * numbers never opened.  Prints one line per call: "CALL RESULT ERRNO". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void show(const char *call, int rc)
{
	printf("%s %d %s\n", call, rc, rc < 0 ? strerrorname_np(errno) : "-");
}

int main(void)
{
	show("dup2(500,1022)", dup2(500, 1022));
	show("dup3(500,1023)", dup3(500, 1023, 0));
	show("close(1022)", close(1022));
	show("close(1023)", close(1023));
	return 0;
}
