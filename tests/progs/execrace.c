/* SPDX-License-Identifier: MIT */
/* execrace TRIES LIBRARY LOCKDIR: the holder execs while its other
 * threads move the lock's descriptors about; the new image must still
 * hold the lock, every time.
 *
 * Each try starts this program again as "execrace hold" with LIBRARY
 * preloaded, SINGLE_DIR=LOCKDIR and SINGLE_KEY=execrace, so it takes the
 * lock LOCKDIR/@execrace.lock.  Its threads dup2 onto, close and
 * close_range over the numbers where the library keeps the lock (1022
 * and 1023, and the numbers just above them, where it moves it), while
 * the main thread execs "execrace check".  That image closes everything
 * from 3 (close_range(3, ~0U)): what the library adopted through the
 * exec survives, anything else goes.  It then says so on its standard
 * output (a pipe), and this program checks from outside, with flock(2)
 * on a descriptor of its own, that the lock is still held, before it
 * lets the check end (closing the pipe on its standard input).
 *
 * The threads run with a soft descriptor limit of 1024 and a hard one
 * above it (2048, if the hard limit allows), so that each eviction moves
 * the lock to the next numbers up, where the threads keep finding it.
 *
 * Prints "TRIES tries, N lost, M failed" and exits 1 if N or M is not 0
 * (a try fails when the new image never reports, or ends badly).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define LOW 1022
#define SPAN 24

static int started;

static void *hammer(void *arg)
{
	unsigned seed = (unsigned)(unsigned long)arg;

	__atomic_add_fetch(&started, 1, __ATOMIC_RELEASE);
	for (;;) {
		int n = LOW + rand_r(&seed) % SPAN;

		switch (rand_r(&seed) % 4) {
		case 0:
		case 1:
			dup2(2, n);
			break;
		case 2:
			close(n);
			break;
		case 3:
			close_range(LOW, LOW + SPAN, 0);
			break;
		}
	}
	return NULL;
}

static int hold(char *self)
{
	char *argv[] = { self, "check", NULL };
	pthread_t t;

	for (long i = 0; i < THREADS; i++)
		if (pthread_create(&t, NULL, hammer, (void *)(i + 1)) != 0)
			return 71;
	while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) < THREADS)
		;
	execv(self, argv);
	return 72;
}

static int check(void)
{
	char c;

	close_range(3, ~0U, 0);
	if (write(1, "y", 1) != 1)
		return 71;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

/* Is the lock held by someone else?  1 yes, 0 no, -1 cannot tell. */
static int held(const char *lock)
{
	int fd = open(lock, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno == EWOULDBLOCK ? 1 : -1;
	close(fd);
	return rc;
}

/* One try: 1 kept, 0 lost, -1 failed. */
static int try_once(char *self, const char *lib, const char *dir,
		    const char *lock)
{
	int ready[2], release[2], status, rc;
	char c;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(release, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(71);
		if (rl.rlim_max > 2048)
			rl.rlim_max = 2048;
		rl.rlim_cur = rl.rlim_max < 1024 ? rl.rlim_max : 1024;
		if (dup2(ready[1], 1) != 1 || dup2(release[0], 0) != 0 ||
		    setrlimit(RLIMIT_NOFILE, &rl) != 0 ||
		    setenv("LD_PRELOAD", lib, 1) != 0 ||
		    setenv("SINGLE_DIR", dir, 1) != 0 ||
		    setenv("SINGLE_KEY", "execrace", 1) != 0)
			_exit(71);
		execl(self, self, "hold", (char *)NULL);
		_exit(127);
	}
	close(ready[1]);
	close(release[0]);
	rc = read(ready[0], &c, 1) == 1 ? held(lock) : -1;
	close(ready[0]);
	close(release[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		rc = -1;
	return rc;
}

int main(int argc, char **argv)
{
	char self[4096], lock[4096];
	long tries, lost = 0, failed = 0;
	ssize_t n;

	if (argc == 2 && !strcmp(argv[1], "hold"))
		return hold(argv[0]);
	if (argc == 2 && !strcmp(argv[1], "check"))
		return check();
	if (argc != 4 || (tries = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: execrace TRIES LIBRARY LOCKDIR\n");
		return 64;
	}
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0)
		return 71;
	self[n] = '\0';
	snprintf(lock, sizeof lock, "%s/@execrace.lock", argv[3]);
	for (long i = 0; i < tries; i++) {
		int rc = try_once(self, argv[2], argv[3], lock);

		if (rc == 0)
			lost++;
		else if (rc < 0)
			failed++;
	}
	printf("%ld tries, %ld lost, %ld failed\n", tries, lost, failed);
	return lost || failed ? 1 : 0;
}
