/* SPDX-License-Identifier: MIT */
/* cleanup [-f PATH]... [-g PGID]... DIR: end everything a bats test
 * started, for its teardown (tests/helpers.bash), and never block doing so.
 *
 * 1. Every FIFO under DIR and under each PATH is opened read-write and
 *    closed again, which never blocks: a holder blocked opening it for
 *    reading sees end of file and ends, a writer blocked opening it goes on.
 * 2. What is to end: every process in one of the groups PGID (spawn in
 *    helpers.bash makes them), and every process with "T=DIR" in its
 *    environment (the helpers export T once bats has started its own
 *    processes) or a path under DIR among its arguments (one started
 *    through env -i).  Never this program or one of its ancestors.  Each
 *    is signalled by its pid: a group id used again once its group has
 *    ended is never hit.
 * 3. What has not ended 0.2 s after its FIFO was let go gets SIGTERM;
 *    what still runs 3 s later gets SIGKILL, which also reaches PID 1 of a
 *    PID namespace the test made; after 3 s more it gives up.
 *
 * It never waits for a process (the test's shell collects its own
 * children): a zombie has ended.  Each signal sent is reported on stderr;
 * the status is 1 if something still runs at the end, else 0.
 *
 * In C rather than in the helpers: bats runs a DEBUG trap before every
 * command of a test's shell, which makes a scan of /proc in bash cost
 * half a second per test.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testprog.h"

#define MAX_IDS 4096

static const char *dir;                 /* the test's $T */
static char marker[4200];               /* "T=DIR" */
static char under[4200];                /* "DIR/" */
static pid_t groups[MAX_IDS], spared[MAX_IDS];
static int ngroups, nspared;

static int has(const pid_t *ids, int n, pid_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

static int fifo_release(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_F && S_ISFIFO(st->st_mode)) {
		int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);

		if (fd >= 0)
			close(fd);
	}
	return 0;
}

/* file_read PATH LEN: the whole of PATH (a /proc file, which fstat
 * cannot size) in a buffer to free, with a NUL after it; NULL if it
 * cannot be read */
static char *file_read(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap) {
			char *more = realloc(buf, 2 * cap + 1);

			if (!more)
				break;
			buf = more;
			cap *= 2;
		}
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* stat_read PID PPID PGRP: the process's parent and group from
 * /proc/PID/stat, and whether it still runs (is neither a zombie nor
 * gone) */
static int stat_read(pid_t pid, pid_t *ppid, pid_t *pgrp)
{
	char path[64], *text, *p;
	size_t len;
	char state;
	int ok;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	text = file_read(path, &len);
	if (!text)
		return 0;
	/* "PID (COMM) STATE PPID PGRP ...": COMM may hold anything */
	p = strrchr(text, ')');
	ok = p && sscanf(p + 1, " %c %d %d", &state, ppid, pgrp) == 3 &&
	     state != 'Z' && state != 'X';
	free(text);
	return ok;
}

/* marked PID: the environment or the arguments of PID name the test's
 * directory */
static int marked(pid_t pid)
{
	static const char *const files[] = { "environ", "cmdline" };
	char path[64];
	int found = 0;

	for (int f = 0; f < 2 && !found; f++) {
		size_t len;
		char *text, *item;

		snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, files[f]);
		text = file_read(path, &len);
		if (!text)
			continue;
		for (item = text; item < text + len && !found; item += strlen(item) + 1)
			found = f == 0 ? !strcmp(item, marker)
				       : !strcmp(item, dir) || strstr(item, under);
		free(text);
	}
	return found;
}

/* targets PIDS: the processes still running that are to end; their number */
static int targets(pid_t *pids)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		fail("cleanup", "/proc");
	while ((e = readdir(d)) && n < MAX_IDS) {
		char *end;
		long id = strtol(e->d_name, &end, 10);
		pid_t pid = (pid_t)id, ppid, pgrp;

		if (*end || id <= 0 || has(spared, nspared, pid) ||
		    !stat_read(pid, &ppid, &pgrp))
			continue;
		if (has(groups, ngroups, pgrp) || marked(pid))
			pids[n++] = pid;
	}
	closedir(d);
	return n;
}

static void comm_read(pid_t pid, char *comm, size_t size)
{
	char path[64];
	size_t len;
	char *text;

	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	text = file_read(path, &len);
	if (text)
		text[strcspn(text, "\n")] = '\0';
	snprintf(comm, size, "%s", text ? text : "?");
	free(text);
}

/* settle MS PIDS: until nothing is left to end, MS milliseconds at most;
 * how many are left */
static int settle(int ms, pid_t *pids)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	int n;

	while ((n = targets(pids)) > 0 && ms > 0) {
		nanosleep(&tick, NULL);
		ms -= 10;
	}
	return n;
}

int main(int argc, char **argv)
{
	static pid_t pids[MAX_IDS];
	static const int sigs[] = { SIGTERM, SIGKILL };
	int opt, n;
	pid_t pid;

	while ((opt = getopt(argc, argv, "f:g:")) != -1) {
		if (opt == 'f')
			nftw(optarg, fifo_release, 16, FTW_PHYS);
		else if (opt == 'g' && ngroups < MAX_IDS && atoi(optarg) > 1)
			groups[ngroups++] = (pid_t)atoi(optarg);
		else if (opt != 'g')
			goto usage;
	}
	if (optind != argc - 1 || !argv[optind][0])
		goto usage;
	dir = argv[optind];
	snprintf(marker, sizeof marker, "T=%s", dir);
	snprintf(under, sizeof under, "%s/", dir);
	nftw(dir, fifo_release, 16, FTW_PHYS);

	/* this program and its ancestors (the test's shell, bats) */
	for (pid = getpid(); pid > 1 && nspared < MAX_IDS;) {
		pid_t ppid, pgrp;

		spared[nspared++] = pid;
		if (!stat_read(pid, &ppid, &pgrp))
			break;
		pid = ppid;
	}

	n = settle(200, pids);
	for (int s = 0; s < 2 && n > 0; s++) {
		for (int i = 0; i < n; i++) {
			char comm[64];

			comm_read(pids[i], comm, sizeof comm);
			fprintf(stderr, "cleanup: SIG%s to %d (%s)\n",
				sigabbrev_np(sigs[s]), (int)pids[i], comm);
			kill(pids[i], sigs[s]);
		}
		n = settle(3000, pids);
	}
	for (int i = 0; i < n; i++)
		fprintf(stderr, "cleanup: %d still runs after SIGKILL\n", (int)pids[i]);
	return n > 0;
usage:
	fprintf(stderr, "usage: cleanup [-f PATH]... [-g PGID]... DIR\n");
	return 64;
}
