/* SPDX-License-Identifier: MIT */
/* The command line, for C libraries that do not give it to constructors.
 *
 * glibc calls constructors with main's argc, argv and envp; musl calls
 * them with nothing, and the parameters hold whatever the registers did.
 * The command line is still where the kernel put it, on the initial
 * stack:
 *
 *     argc  argv[0] ... argv[argc-1]  NULL  envp[0] ... NULL  auxv ...
 *     ... argv strings, envp strings, the AT_EXECFN string (highest)
 *
 * and the C library starts with environ = &argv[argc + 1].  So argv is
 * found by walking back from environ to the word that counts the words
 * walked over.  The walk believes nothing it has not checked:
 *
 *   - environ must still point into the initial stack, between our own
 *     frame and the AT_EXECFN string (a library whose constructor ran
 *     before ours may have called setenv, which moves environ to the
 *     heap), and environ[-1] must be argv's NULL;
 *   - every word walked over must point into the strings area (above
 *     envp's NULL, below AT_EXECFN), so the walk stops at the first word
 *     that is not an argument, and never goes below our own frame;
 *   - the strings found must follow one another as the kernel lays them
 *     out, each right after the previous one's NUL, the last one ending
 *     below AT_EXECFN.
 *
 * If any check fails, the kernel's own copy is read: /proc/self/cmdline,
 * into pages of its own (the constructor allocates nothing), unmapped by
 * program_args_release once the constructor is done with it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/auxv.h>

#include "single.h"
#include "sys.h"

extern char **environ;

/* What the /proc/self/cmdline fallback mapped, if anything. */
static struct {
	char *text;
	size_t text_size;
	char **argv;
	size_t argv_size;
} mapped;

/* Where the strings the kernel copied can lie: [lo, hi). */
struct strings_area {
	uintptr_t lo, hi;
};

static int in_area(const struct strings_area *a, uintptr_t p)
{
	return p >= a->lo && p < a->hi;
}

/* The length of the string at s, which must end inside the area; -1 if
 * it does not. */
static long area_strlen(const struct strings_area *a, const char *s)
{
	long n = 0;

	while ((uintptr_t)(s + n) < a->hi) {
		if (!s[n])
			return n;
		n++;
	}
	return -1;
}

/* Do argv's count strings lie one after the other, as the kernel wrote
 * them? */
static int strings_contiguous(const struct strings_area *a, char **argv,
			      long count)
{
	for (long i = 0; i < count; i++) {
		long n = area_strlen(a, argv[i]);

		if (n < 0 || (i + 1 < count && argv[i + 1] != argv[i] + n + 1))
			return 0;
	}
	return 1;
}

/* argc and argv from the initial stack, through env (environ as the C
 * library set it up); 0, or -1 if env is not where the kernel put it. */
static int args_from_stack(char **env, int *argc, char ***argv)
{
	struct strings_area area;
	uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
	uintptr_t top = (uintptr_t)getauxval(AT_EXECFN);
	uintptr_t at = (uintptr_t)env;
	char **e = env;
	long k;

	if (!env || !top || at <= frame + 2 * sizeof(char *) || at >= top ||
	    at % sizeof(char *) || env[-1])
		return -1;
	while (*e)
		if ((uintptr_t)++e >= top)
			return -1;
	area.lo = (uintptr_t)(e + 1);
	area.hi = top;
	/* env[-2 - k]: argv[argc - 1 - k], until k is argc and the word
	 * holds argc itself */
	for (k = 0; at - (uintptr_t)(k + 2) * sizeof(char *) > frame; k++) {
		uintptr_t w = (uintptr_t)env[-2 - k];

		if (w == (uintptr_t)k) {
			if (k > INT_MAX || !strings_contiguous(&area, env - 1 - k, k))
				return -1;
			*argc = (int)k;
			*argv = env - 1 - k;
			return 0;
		}
		if (!in_area(&area, w))
			return -1;
	}
	return -1;
}

/* argc and argv from /proc/self/cmdline, in pages of their own; 0 or
 * -errno. */
static int args_from_proc(int *argc, char ***argv)
{
	char *text;
	size_t size, count = 0, i;
	long len = proc_read_mapped("/proc/self/cmdline", &text, &size);

	if (len < 0)
		return (int)len;
	mapped.text = text;
	mapped.text_size = size;
	/* one string per NUL; text holds a NUL after len bytes, so text
	 * that does not end in one (a changed title) ends all the same */
	for (i = 0; i < (size_t)len; i++)
		count += !text[i];
	if (len > 0 && text[len - 1])
		count++;
	if (count > INT_MAX)
		return -E2BIG;
	mapped.argv_size = (count + 1) * sizeof(char *);
	if (!(mapped.argv = sys_mmap_anon(mapped.argv_size)))
		return -ENOMEM;
	count = 0;
	for (i = 0; i < (size_t)len; i += str_len(text + i) + 1)
		mapped.argv[count++] = text + i;
	mapped.argv[count] = NULL;
	*argc = (int)count;
	*argv = mapped.argv;
	return 0;
}

int program_args(int *argc, char ***argv)
{
	if (args_from_stack(environ, argc, argv) == 0)
		return 0;
	return args_from_proc(argc, argv);
}

void program_args_release(void)
{
	if (mapped.argv)
		sys_munmap(mapped.argv, mapped.argv_size);
	if (mapped.text)
		sys_munmap(mapped.text, mapped.text_size);
	mapped.argv = NULL;
	mapped.text = NULL;
}
