/* SPDX-License-Identifier: MIT */
/* Messages: one line on stderr, "libsingle: ...", and the answer of
 * SINGLE_EXPLAIN on stdout.
 *
 * The formatter is our own, a printf subset (%s %c %d %u %o %x with the
 * l, ll and z sizes, a 0 flag and a width): vsnprintf is neither
 * async-signal-safe nor small on the stack, and a message must escape
 * what it quotes.  Every byte of a %s argument that is not printable is
 * written as an escape (\n, \t, \xHH), so a value from the environment
 * can never make a message two lines.
 *
 * A message never kills the process: stderr may be a pipe whose reader
 * has gone, and the program's SIGPIPE disposition is the default.  So
 * SIGPIPE is blocked for the write, and the one the write raised, if it
 * was not pending already, is taken back before the mask is restored:
 * the program finds its signals as it left them, and the start exits
 * with its documented status.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>

#include "single.h"
#include "sys.h"

/* Long enough for any message but one quoting a long path, which is then
 * written in several pieces of one line. */
#define LINE_MAX_BYTES 512

struct line {
	int fd;
	size_t len;
	char buf[LINE_MAX_BYTES];
};

/* write(2) without SIGPIPE. */
static void write_quietly(int fd, const char *buf, size_t n)
{
	uint64_t pipe_only[2] = { 1ULL << (SIGPIPE - 1), 0 }, old[2] = { 0 }, pending[2] = { 0 };
	struct sys_timespec zero = { 0, 0 };
	int was_pending;

	sys_sigprocmask(SIG_BLOCK, pipe_only, old);
	was_pending = sys_sigpending(pending) == 0 && (pending[0] & pipe_only[0]);
	while (n > 0) {
		ssize_t w = sys_write(fd, buf, n);

		if (w == -EINTR)
			continue;
		if (w <= 0) {
			if (w == -EPIPE && !was_pending)
				SYS_(SYS_rt_sigtimedwait, pipe_only, 0, &zero,
				     SYS_SIGSET_BYTES, 0, 0);
			break;
		}
		buf += w;
		n -= (size_t)w;
	}
	sys_sigprocmask(SIG_SETMASK, old, 0);
}

static void flush(struct line *l)
{
	write_quietly(l->fd, l->buf, l->len);
	l->len = 0;
}

static void put(struct line *l, const char *s, size_t n)
{
	while (n--) {
		if (l->len == sizeof l->buf)
			flush(l);
		l->buf[l->len++] = *s++;
	}
}

static void put_escaped(struct line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

		if (c >= 0x20 && c != 0x7f)
			put(l, s, 1);
		else if (c == '\n')
			put(l, "\\n", 2);
		else if (c == '\t')
			put(l, "\\t", 2);
		else
			put(l, e, 4);
	}
}

static void put_number(struct line *l, uint64_t v, unsigned base, int negative,
		       int width, char pad)
{
	char digits[24];
	int n = 0;

	do
		digits[n++] = "0123456789abcdef"[v % base];
	while ((v /= base));
	if (negative)
		digits[n++] = '-';
	while (width-- > n)
		put(l, &pad, 1);
	while (n--)
		put(l, &digits[n], 1);
}

/* A signed argument of the size the conversion names, as a magnitude. */
static uint64_t take_signed(va_list *ap, int size, int *negative)
{
	int64_t v = size == 2 ? va_arg(*ap, long long) :
		    size == 1 ? va_arg(*ap, long) : va_arg(*ap, int);

	*negative = v < 0;
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

static uint64_t take_unsigned(va_list *ap, int size)
{
	return size == 2 ? va_arg(*ap, unsigned long long) :
	       size == 1 ? va_arg(*ap, unsigned long) : va_arg(*ap, unsigned);
}

static void format(struct line *l, const char *fmt, va_list ap)
{
	va_list args;
	int known = 1;

	va_copy(args, ap);
	for (; known && *fmt; fmt++) {
		int size = 0, width = 0, negative = 0;
		char pad = ' ';
		const char *s;

		if (*fmt != '%') {
			put(l, fmt, 1);
			continue;
		}
		if (*++fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			size = *fmt == 'z' ? (sizeof(size_t) > sizeof(int)) : size + 1;
		switch (*fmt) {
		case 's':
			s = va_arg(args, const char *);
			put_escaped(l, s ? s : "(null)");
			break;
		case 'c': {
			char c[2] = { (char)va_arg(args, int), 0 };

			put_escaped(l, c);
			break;
		}
		case 'd': {
			uint64_t v = take_signed(&args, size, &negative);

			put_number(l, v, 10, negative, width, pad);
			break;
		}
		case 'u': case 'o': case 'x':
			put_number(l, take_unsigned(&args, size),
				   *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16, 0, width, pad);
			break;
		case '%':
			put(l, "%", 1);
			break;
		default:
			known = 0;      /* not ours (the compiler checks formats) */
			break;
		}
	}
	va_end(args);
}

void say(const char *fmt, ...)
{
	struct line l = { .fd = 2, .len = 0 };
	va_list ap;

	put(&l, "libsingle: ", 11);
	va_start(ap, fmt);
	format(&l, fmt, ap);
	va_end(ap);
	put(&l, "\n", 1);
	flush(&l);
}

void print_stdout(const char *s)
{
	write_quietly(1, s, str_len(s));
}
