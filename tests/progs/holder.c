/* holder READY [RELEASE]: the program under test in most cases.
 *
 * main() writes its pid into READY (through a rename, so a reader never
 * sees half a file), then waits until RELEASE (a FIFO) is opened for
 * writing and closed, or, without RELEASE, until a signal ends it.
 * Whether main() ran at all is the test's question: READY answers it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char tmp[4096], buf[64];
	FILE *f;

	if (argc < 2) {
		fprintf(stderr, "usage: holder READY [RELEASE]\n");
		return 64;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 ||
	    rename(tmp, argv[1]) != 0) {
		perror("holder: ready file");
		return 71;
	}
	if (argc > 2) {
		int fd = open(argv[2], O_RDONLY);

		if (fd < 0) {
			perror("holder: release fifo");
			return 71;
		}
		while (read(fd, buf, sizeof buf) > 0)
			;
		return 0;
	}
	for (;;)
		pause();
}
