/* SPDX-License-Identifier: MIT */
/* fdthreads READY RELEASE [ROUNDS [evict]]: several threads play
 * descriptor games at once (dup2/dup3 onto random numbers from 3 to 1023,
 * 1022 and 1023 often, close() of random numbers and of 1022/1023,
 * close_range over random ranges, closefrom), ROUNDS times each (default
 * 20000).  With "evict", one thread only calls close_range(3, ~0U, 0)
 * while the others dup2 onto 1022 and 1023 (moving the library's
 * descriptors each time), ROUNDS times each.  After all threads are done
 * it writes READY through a rename: "PID\n", then "nofile SOFT HARD"
 * twice, RLIMIT_NOFILE before and after the games (the program never
 * changes it), and waits until the FIFO RELEASE is opened for writing and
 * closed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "testprog.h"

#define THREADS 6

static long rounds = 20000;

static int pick(unsigned *seed)
{
	unsigned r = (unsigned)rand_r(seed);

	if (r % 4 == 0)
		return 1022 + (int)(r / 4 % 2);
	return 3 + (int)(r / 4 % 1021);
}

static volatile int evicting;

static void *close_all(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&evicting, __ATOMIC_ACQUIRE))
		close_range(3, ~0U, 0);
	return NULL;
}

static void *evict(void *arg)
{
	(void)arg;
	for (long i = 0; i < rounds; i++) {
		int fd = open("/dev/null", O_RDONLY);

		dup2(fd, 1022);
		dup2(fd, 1023);
		close(fd);
	}
	return NULL;
}

static void *play(void *arg)
{
	unsigned seed = (unsigned)(unsigned long)arg * 2654435761u;

	for (long i = 0; i < rounds; i++) {
		int fd = open("/dev/null", O_RDONLY), a, b;

		switch (rand_r(&seed) % 8) {
		case 0: case 1:
			dup2(fd, pick(&seed));
			break;
		case 2:
			dup3(fd, pick(&seed), rand_r(&seed) % 2 ? O_CLOEXEC : 0);
			break;
		case 3:
			close(pick(&seed));
			break;
		case 4:
			close(1022);
			close(1023);
			break;
		case 5:
			a = pick(&seed);
			b = pick(&seed);
			close_range(a < b ? a : b, a < b ? b : a, 0);
			break;
		case 6:
			if (rand_r(&seed) % 16 == 0)
				closefrom(3);
			else
				dup2(fd, 1022);
			break;
		case 7:
			dup2(fd, 1023);
			close_range(3, ~0U, 0);
			break;
		}
		close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[THREADS];
	struct rlimit before, after;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: fdthreads READY RELEASE [ROUNDS]\n");
		return 64;
	}
	if (argc > 3)
		rounds = atol(argv[3]);
	if (getrlimit(RLIMIT_NOFILE, &before) != 0)
		return 71;
	if (argc > 4 && !strcmp(argv[4], "evict")) {
		pthread_t closer;

		evicting = 1;
		if (pthread_create(&closer, NULL, close_all, NULL) != 0)
			return 71;
		for (int i = 0; i < THREADS - 1; i++)
			if (pthread_create(&t[i], NULL, evict, NULL) != 0)
				return 71;
		for (int i = 0; i < THREADS - 1; i++)
			pthread_join(t[i], NULL);
		__atomic_store_n(&evicting, 0, __ATOMIC_RELEASE);
		pthread_join(closer, NULL);
	} else {
		for (long i = 0; i < THREADS; i++)
			if (pthread_create(&t[i], NULL, play, (void *)(i + 1)) != 0)
				return 71;
		for (int i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
	}
	if (getrlimit(RLIMIT_NOFILE, &after) != 0)
		return 71;
	f = ready_open("fdthreads", argv[1]);
	fprintf(f, "nofile %llu %llu\nnofile %llu %llu\n",
		(unsigned long long)before.rlim_cur,
		(unsigned long long)before.rlim_max,
		(unsigned long long)after.rlim_cur,
		(unsigned long long)after.rlim_max);
	ready_close("fdthreads", argv[1], f);
	release_wait("fdthreads", argv[2]);
	return 0;
}
