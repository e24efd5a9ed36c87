/* SPDX-License-Identifier: MIT */
/* dupclose TRIES: dup2 onto the lock's number while another thread closes
 * the descriptor being duplicated.
 *
 * Each try opens /dev/null, lets a second thread close it after a short
 * spin that varies from try to try, and meanwhile dup2()s it onto 1022.
 * Without the library, either the dup2 made 1022 a copy of /dev/null or it
 * failed with EBADF and 1022 stayed closed.  The program checks which, and
 * closes 1022 again for the next try.  It prints "ok" when every try
 * was one of the two, and "leaked N" when N tries left 1022 open although
 * dup2 failed (a copy of the lock, then, in the program's hands).
 *
 * Only the first try meets the lock's descriptor at 1022 (ours moves away
 * and does not come back), so a test runs this program many times.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testprog.h"

static int victim = -1, go, spin;

static void *closer(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		;
	for (volatile int i = 0; i < spin; i++)
		;
	close(victim);
	return NULL;
}

int main(int argc, char **argv)
{
	int tries = argc > 1 ? atoi(argv[1]) : 1, leaked = 0;

	for (int t = 0; t < tries; t++) {
		pthread_t th;
		int rc, err;

		victim = open("/dev/null", O_RDONLY);
		if (victim < 0)
			fail("dupclose", "/dev/null");
		go = 0;
		spin = (getpid() + t * 37) % 2000;
		if (pthread_create(&th, NULL, closer, NULL) != 0)
			fail("dupclose", "thread");
		__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
		rc = dup2(victim, 1022);
		err = errno;
		pthread_join(th, NULL);
		if (rc < 0 && err == EBADF && fcntl(1022, F_GETFD) >= 0)
			leaked++;
		close(1022);
	}
	if (leaked)
		printf("leaked %d\n", leaked);
	else
		printf("ok\n");
	return 0;
}
