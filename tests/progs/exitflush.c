/* SPDX-License-Identifier: MIT */
/* exitflush: shows whether anything of the program ran at exit.
 *
 * Before any shared library's constructor (from .preinit_array, which
 * ld.so runs first) it registers an atexit handler that writes
 * "atexit handler ran" with write(2), and leaves "stdio buffer flushed "
 * unflushed in stdout's buffer (printf, no newline).  main() adds
 * "main ran".  A start that ends with exit() would show the first two;
 * _exit() before main shows nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void at_exit(void)
{
	static const char msg[] = "atexit handler ran\n";

	if (write(STDOUT_FILENO, msg, strlen(msg)) < 0)
		_exit(71);
}

static void early(int argc, char **argv, char **envp)
{
	(void)argc, (void)argv, (void)envp;
	setvbuf(stdout, NULL, _IOFBF, BUFSIZ);
	atexit(at_exit);
	printf("stdio buffer flushed ");
}

__attribute__((section(".preinit_array"), used))
static void (*const preinit)(int, char **, char **) = early;

int main(void)
{
	printf("main ran\n");
	return 0;
}
