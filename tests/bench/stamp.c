/* SPDX-License-Identifier: MIT */
/* stamp MODE: the program the handover and contention benchmarks start.
 *
 * Reports CLOCK_MONOTONIC at the start of main() as a record on fd 3
 * ("M" and the nanoseconds), then by MODE:
 *   exit  ends at once;
 *   hold  waits until fd 4 reaches end of file, then writes an "X" record
 *         with the time just before it exits (the lock goes with the exit).
 * The records are 9 bytes, written with one write(2) each, so records of
 * many processes sharing one pipe never interleave. */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void record(char tag)
{
	struct timespec ts;
	unsigned char rec[9];
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	rec[0] = (unsigned char)tag;
	memcpy(rec + 1, &ns, sizeof ns);
	if (write(3, rec, sizeof rec) != (ssize_t)sizeof rec)
		_exit(71);
}

int main(int argc, char **argv)
{
	char buf[64];

	record('M');
	if (argc > 1 && !strcmp(argv[1], "hold")) {
		while (read(4, buf, sizeof buf) > 0)
			;
		record('X');
	}
	_exit(0);
}
