/* SPDX-License-Identifier: MIT */
/* The holder's record: what the lock file says about who holds it.
 *
 * The holder writes it when it takes the lock, as text a person can read
 * (the first line alone is the pid, as in a pid file):
 *
 *     4711
 *     host=mail.example.org
 *     boot=5f1c2a0e-...-...
 *     since=1764513600.250000000
 *     prog=mbsync
 *     fd=1022
 *
 * padded with blanks to RECORD_SIZE bytes.  Every start turned away while
 * it holds the lock appends one byte after the record, in one atomic
 * append, so the number of starts skipped is the file's size less
 * RECORD_SIZE: counting costs one system call, and 200 starts skipped at
 * once give exactly 200.  The next holder truncates the file to the
 * record again.
 *
 * The record is a hint, for messages, for people and for other hosts:
 * who really holds a lock on this host is the kernel's word (holders.c),
 * since the writer may have handed the lock to a forked child and exited.
 * "since" survives the holder's exec and fork because nothing rewrites
 * the record until the next holder takes the lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <time.h>
#include <sys/utsname.h>

#include "single.h"
#include "sys.h"

#ifndef RWF_APPEND
#define RWF_APPEND 0x10
#endif

/* ---- this host ---------------------------------------------------------- */

/* The kernel's boot id: one per boot of one host.  Two records with the
 * same boot id were written on the same running kernel. */
static void boot_id(char out[RECORD_BOOT_MAX])
{
	long n = proc_read("/proc/sys/kernel/random/boot_id", out, RECORD_BOOT_MAX);

	if (n <= 0)
		n = 0;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		n--;
	out[n] = '\0';
}

static void host_name(char out[RECORD_HOST_MAX])
{
	/* zeroed: the analyzers cannot see the kernel write it */
	struct utsname u = { 0 };
	size_t n;

	if (SYS_(SYS_uname, &u, 0, 0, 0, 0, 0) < 0) {
		out[0] = '\0';
		return;
	}
	n = str_len(u.nodename);
	if (n >= RECORD_HOST_MAX)
		n = RECORD_HOST_MAX - 1;
	mem_copy(out, u.nodename, n);
	out[n] = '\0';
}

void record_this_host(struct record *r)
{
	host_name(r->host);
	boot_id(r->boot);
}

int record_is_remote(const struct record *r)
{
	struct record here;

	if (!r->host[0] && !r->boot[0])
		return 0;
	record_this_host(&here);
	/* the boot id decides; a host name only where one side has none */
	if (r->boot[0] && here.boot[0])
		return !str_eq(r->boot, here.boot);
	return !str_eq(r->host, here.host);
}

int64_t wall_clock_ns(void)
{
	struct sys_timespec ts = { 0, 0 };

#if defined(SYS_clock_gettime64) && __SIZEOF_LONG__ == 4
	struct { int64_t sec; long nsec, pad; } ts64 = { 0, 0, 0 };

	if (SYS_(SYS_clock_gettime64, CLOCK_REALTIME, &ts64, 0, 0, 0, 0) == 0)
		return ts64.sec * 1000000000LL + ts64.nsec;
#endif
	SYS_(SYS_clock_gettime, CLOCK_REALTIME, &ts, 0, 0, 0, 0);
	return (int64_t)ts.sec * 1000000000LL + ts.nsec;
}

/* ---- writing ---------------------------------------------------------- */

struct text {
	char *p, *end;
};

static void text_put(struct text *t, const char *s)
{
	for (; *s && t->p < t->end; s++)
		*t->p++ = *s;
}

/* A value: one line, whatever a name holds. */
static void text_value(struct text *t, const char *s)
{
	for (; *s && t->p < t->end; s++)
		*t->p++ = (char)(*s == '\n' || *s == '\r' ? '?' : *s);
}

static void text_number(struct text *t, uint64_t v)
{
	char digits[24];

	format_u64(digits, v);
	text_put(t, digits);
}

static void text_field(struct text *t, const char *name, const char *value)
{
	text_put(t, name);
	text_put(t, "=");
	text_value(t, value);
	text_put(t, "\n");
}

void record_write(int fd, const struct fileinfo *fi, const struct record *r)
{
	char buf[RECORD_SIZE], frac[16];
	struct text t = { buf, buf + RECORD_SIZE - 1 };
	int64_t ns = r->since_ns % 1000000000LL;

	text_number(&t, (uint64_t)r->pid);
	text_put(&t, "\n");
	text_field(&t, "host", r->host);
	text_field(&t, "boot", r->boot);
	text_put(&t, "since=");
	text_number(&t, (uint64_t)(r->since_ns / 1000000000LL));
	frac[0] = '.';
	for (int i = 9; i >= 1; i--, ns /= 10)
		frac[i] = (char)('0' + ns % 10);
	frac[10] = '\0';
	text_put(&t, frac);
	text_put(&t, "\n");
	text_field(&t, "prog", r->prog);
	text_put(&t, "fd=");
	text_number(&t, (uint64_t)r->fd);
	text_put(&t, "\n");
	while (t.p < t.end)
		*t.p++ = ' ';
	*t.p = '\n';
	/* Truncate first: a start turned away after this counts for us.
	 * A file already exactly one record long needs nothing. */
	if (fi->size != RECORD_SIZE)
		sys_ftruncate(fd, RECORD_SIZE);
	sys_pwrite(fd, buf, RECORD_SIZE, 0);
}

void record_count_skip(int fd)
{
	struct iovec one = { (void *)".", 1 };
	long rc;

	/* pwritev2(RWF_APPEND): an append through a descriptor opened
	 * without O_APPEND, in one call (Linux 4.16) */
	rc = SYS_(SYS_pwritev2, fd, &one, 1, -1L, -1L, RWF_APPEND);
	if (rc == -ENOSYS || rc == -EOPNOTSUPP || rc == -EINVAL) {
		long fl = sys_fcntl(fd, F_GETFL, 0);

		if (fl >= 0 && sys_fcntl(fd, F_SETFL, fl | O_APPEND) == 0)
			sys_write(fd, ".", 1);
	}
}

/* ---- reading ---------------------------------------------------------- */

/* The value of "name=" on one of the lines, copied into out. */
static void field_copy(const char *buf, const char *name, char *out, size_t cap)
{
	const char *line = buf, *v;
	size_t n = 0;

	out[0] = '\0';
	while (line && *line) {
		if ((v = after_prefix(line, name)) && *v == '=') {
			for (v++; v[n] && v[n] != '\n' && n + 1 < cap; n++)
				out[n] = v[n];
			out[n] = '\0';
			return;
		}
		line = str_chr(line, '\n');
		if (line)
			line++;
	}
}

static int64_t field_since(const char *buf)
{
	char v[32];
	uint64_t sec, frac = 0;
	const char *p;
	int digits = 0;

	field_copy(buf, "since", v, sizeof v);
	if (!(p = scan_u64(v, INT64_MAX / 1000000000LL - 1, &sec)))
		return 0;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
			frac = frac * 10 + (uint64_t)(*p - '0');
	while (digits++ < 9)
		frac *= 10;
	return (int64_t)(sec * 1000000000ULL + frac);
}

void record_read(int fd, struct record *r)
{
	char buf[RECORD_SIZE + 1], v[24];
	ssize_t n = sys_pread(fd, buf, RECORD_SIZE, 0);
	struct fileinfo fi;
	uint64_t num;

	*r = (struct record){ .fd = -1 };
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (scan_u64(buf, INT_MAX, &num))
		r->pid = (pid_t)num;
	field_copy(buf, "host", r->host, sizeof r->host);
	field_copy(buf, "boot", r->boot, sizeof r->boot);
	field_copy(buf, "prog", r->prog, sizeof r->prog);
	r->since_ns = field_since(buf);
	field_copy(buf, "fd", v, sizeof v);
	if (scan_u64(v, INT_MAX, &num))
		r->fd = (int)num;
	/* a whole record of this form: the bytes after it are the count */
	r->complete = n == RECORD_SIZE && buf[RECORD_SIZE - 1] == '\n' &&
		      r->since_ns > 0;
	if (r->complete && sys_fileinfo(fd, "", SYS_AT_EMPTY_PATH, &fi) == 0 &&
	    fi.size >= RECORD_SIZE)
		r->skipped = fi.size - RECORD_SIZE;
}
