/* SPDX-License-Identifier: MIT */
/* benchrun: the timing half of `make bench` (tests/bench/bench.sh prints
 * the table).  Every process is started with posix_spawn or fork+exec from
 * here, never by a shell loop, so the figures are the cost of a start and
 * not of the shell around it.
 *
 *   benchrun launch ROUNDS PER_ROUND [-H LOCKFILE] SPEC...
 *       SPEC is "NAME|VAR=V VAR=V|STATUS|ARGV0 ARG...": the variant's
 *       environment additions, its expected exit status and its command.
 *       Each round starts every variant PER_ROUND times in turn
 *       (interleaved, so a slow moment of the machine hits every variant
 *       alike).  -H: a forked child holds LOCKFILE (flock, pid written as
 *       libsingle writes it) for the whole run.  Prints per variant the
 *       microseconds per start, median q1 q3 min max, and the per-round
 *       ratios to the first variant and to the variant named "empty".
 *   benchrun handover ROUNDS STAMP VAR=V...
 *       A holder (STAMP hold) and a waiter (STAMP exit) with the given
 *       environment (LD_PRELOAD, SINGLE_DIR; the waiter gets SINGLE_WAIT=inf).
 *       Once the waiter is blocked in flock (its "->" line in /proc/locks),
 *       the holder is released; handover = waiter's main() minus the
 *       holder's last timestamp.  Prints median, q1, q3, p99, min, max (us).
 *   benchrun contend N REPS MODE STAMP VAR=V...
 *       N children wait behind one pipe, then all exec STAMP MODE at once.
 *       Wall time: from the gate opening until every start has either
 *       exited or is running main().  Prints median min max (ms) and how
 *       many main()s ran in each repetition.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_VARIANTS 16
#define MAX_WORDS 32

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

__attribute__((noreturn)) static void die(const char *what)
{
	fprintf(stderr, "benchrun: %s: %s\n", what, strerror(errno));
	exit(71);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Quantile q of sorted v[0..n-1], linear between neighbours. */
static double quantile(const double *v, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)pos;

	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

static void summary(double *v, int n, double out[5])
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	out[0] = quantile(v, n, 0.5);
	out[1] = quantile(v, n, 0.25);
	out[2] = quantile(v, n, 0.75);
	out[3] = v[0];
	out[4] = v[n - 1];
}

/* environ without the variables `add` sets, followed by `add`. */
static char **env_with(char **add, int nadd)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + (size_t)nadd + 1, sizeof *env);
	if (!env)
		die("calloc");
	for (size_t i = 0; i < n; i++) {
		int replaced = 0;

		for (int j = 0; j < nadd; j++) {
			size_t len = strcspn(add[j], "=") + 1;

			if (!strncmp(environ[i], add[j], len))
				replaced = 1;
		}
		if (!replaced)
			env[k++] = environ[i];
	}
	for (int j = 0; j < nadd; j++)
		env[k++] = add[j];
	env[k] = NULL;
	return env;
}

static int split_words(char *s, char **words, int max)
{
	int n = 0;

	for (char *w = strtok(s, " "); w && n < max - 1; w = strtok(NULL, " "))
		words[n++] = w;
	words[n] = NULL;
	return n;
}

static pid_t spawn(char **argv, char **env, posix_spawn_file_actions_t *fa)
{
	pid_t pid;
	int err = posix_spawn(&pid, argv[0], fa, NULL, argv, env);

	if (err) {
		errno = err;
		die(argv[0]);
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- launch ----------------------------------------------------------- */

struct variant {
	char *name;
	char **env;
	int status;
	char *argv[MAX_WORDS];
	double *per_start;       /* microseconds per start, one per round */
};

/* A child that holds `path` the way a libsingle holder does, until the
 * parent goes away (its pipe reaches end of file). */
static void hold_lock(const char *path)
{
	int p[2], ready[2];
	char c;

	if (pipe(p) < 0 || pipe(ready) < 0)
		die("pipe");
	switch (fork()) {
	case -1:
		die("fork");
	case 0: {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		char pid[16];
		int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());

		close(p[1]);
		close(ready[0]);
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 ||
		    pwrite(fd, pid, (size_t)n, 0) != n || ftruncate(fd, n) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		close(ready[1]);
		while (read(p[0], &c, 1) > 0)
			;
		_exit(0);
	}
	}
	close(p[0]);
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		fprintf(stderr, "benchrun: cannot hold %s\n", path);
		exit(71);
	}
	close(ready[0]);
	/* p[1] stays open (close-on-exec) until we exit */
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
}

static void ratio_summary(struct variant *v, struct variant *base, int rounds,
			  double out[5])
{
	double r[rounds];

	for (int i = 0; i < rounds; i++)
		r[i] = v->per_start[i] / base->per_start[i];
	summary(r, rounds, out);
}

static int launch(int argc, char **argv)
{
	int rounds = atoi(argv[0]), per = atoi(argv[1]), nv = 0, bad = 0;
	struct variant vs[MAX_VARIANTS], *empty = NULL;
	int i = 2;

	if (rounds < 3 || per < 1)
		return 64;
	if (i + 1 < argc && !strcmp(argv[i], "-H")) {
		hold_lock(argv[i + 1]);
		i += 2;
	}
	for (; i < argc && nv < MAX_VARIANTS; i++, nv++) {
		struct variant *v = &vs[nv];
		char *spec = strdup(argv[i]), *envs, *status, *cmd, *add[MAX_WORDS];
		int nadd;

		v->name = strsep(&spec, "|");
		envs = strsep(&spec, "|");
		status = strsep(&spec, "|");
		cmd = spec;
		if (!envs || !status || !cmd)
			return 64;
		nadd = split_words(envs, add, MAX_WORDS);
		v->env = env_with(add, nadd);
		v->status = atoi(status);
		split_words(cmd, v->argv, MAX_WORDS);
		v->per_start = calloc((size_t)rounds, sizeof *v->per_start);
		if (!strcmp(v->name, "empty"))
			empty = v;
	}
	/* one unmeasured round warms the page cache for every variant */
	for (int r = -1; r < rounds; r++) {
		for (int k = 0; k < nv; k++) {
			struct variant *v = &vs[k];
			int64_t t0 = now_ns();

			for (int j = 0; j < per; j++) {
				int st = wait_status(spawn(v->argv, v->env, NULL));

				if (st != v->status && bad++ < 5)
					fprintf(stderr, "benchrun: %s exited %d, expected %d\n",
						v->name, st, v->status);
			}
			if (r >= 0)
				v->per_start[r] = (double)(now_ns() - t0) / per / 1000.0;
		}
	}
	for (int k = 0; k < nv; k++) {
		double s[5], rb[5], rf[5];

		if (empty)
			ratio_summary(&vs[k], empty, rounds, rf);
		ratio_summary(&vs[k], &vs[0], rounds, rb);
		summary(vs[k].per_start, rounds, s);
		printf("%s %.1f %.1f %.1f %.1f %.1f %.3f %.3f %.3f", vs[k].name,
		       s[0], s[1], s[2], s[3], s[4], rb[0], rb[1], rb[2]);
		if (empty)
			printf(" %.3f %.3f %.3f", rf[0], rf[1], rf[2]);
		printf("\n");
	}
	return bad ? 1 : 0;
}

/* ---- handover --------------------------------------------------------- */

/* Is pid waiting for a lock?  /proc/locks shows it as "N: -> FLOCK ... PID". */
static int blocked_in_flock(pid_t pid)
{
	char buf[65536], needle[32];
	int fd = open("/proc/locks", O_RDONLY | O_CLOEXEC);
	ssize_t n, len = 0;

	if (fd < 0)
		die("/proc/locks");
	while (len < (ssize_t)sizeof buf - 1 &&
	       (n = read(fd, buf + len, sizeof buf - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	snprintf(needle, sizeof needle, " %d ", (int)pid);
	for (char *line = buf; line && *line; line = strchr(line, '\n')) {
		char *end;

		if (*line == '\n')
			line++;
		end = strchrnul(line, '\n');
		if (memmem(line, (size_t)(end - line), "->", 2) &&
		    memmem(line, (size_t)(end - line), needle, strlen(needle)))
			return 1;
	}
	return 0;
}

static int64_t read_record(int fd, char want)
{
	unsigned char rec[9];
	int64_t ns;
	ssize_t n = 0, r;

	while (n < 9 && (r = read(fd, rec + n, (size_t)(9 - n))) > 0)
		n += r;
	if (n != 9 || rec[0] != (unsigned char)want) {
		fprintf(stderr, "benchrun: expected a '%c' record\n", want);
		exit(1);
	}
	memcpy(&ns, rec + 1, sizeof ns);
	return ns;
}

static int handover(int argc, char **argv)
{
	int rounds = atoi(argv[0]);
	char *stamp = argv[1], *add[MAX_WORDS];
	char *hold_argv[] = { stamp, "hold", NULL };
	char *wait_argv[] = { stamp, "exit", NULL };
	char **hold_env, **wait_env;
	double us[rounds > 0 ? rounds : 1], s[5];
	int nadd = 0;

	if (rounds < 1)
		return 64;
	for (int i = 2; i < argc && nadd < MAX_WORDS - 2; i++)
		add[nadd++] = argv[i];
	hold_env = env_with(add, nadd);
	add[nadd++] = "SINGLE_WAIT=inf";
	wait_env = env_with(add, nadd);
	for (int r = 0; r < rounds; r++) {
		posix_spawn_file_actions_t fa;
		int res[2], rel[2], tries = 0;
		pid_t holder, waiter;
		int64_t gone, woke;

		if (pipe2(res, O_CLOEXEC) < 0 || pipe2(rel, O_CLOEXEC) < 0)
			die("pipe");
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, res[1], 3);
		posix_spawn_file_actions_adddup2(&fa, rel[0], 4);
		holder = spawn(hold_argv, hold_env, &fa);
		read_record(res[0], 'M');
		waiter = spawn(wait_argv, wait_env, &fa);
		posix_spawn_file_actions_destroy(&fa);
		close(res[1]);
		close(rel[0]);
		while (!blocked_in_flock(waiter)) {
			struct timespec pause = { 0, 50000 };

			if (++tries > 100000) {
				fprintf(stderr, "benchrun: the waiter never blocked\n");
				return 1;
			}
			nanosleep(&pause, NULL);
		}
		close(rel[1]);             /* the holder ends */
		gone = read_record(res[0], 'X');
		woke = read_record(res[0], 'M');
		close(res[0]);
		if (wait_status(holder) || wait_status(waiter)) {
			fprintf(stderr, "benchrun: holder or waiter failed\n");
			return 1;
		}
		us[r] = (double)(woke - gone) / 1000.0;
	}
	summary(us, rounds, s);
	printf("handover %.1f %.1f %.1f %.1f %.1f %.1f\n", s[0], s[1], s[2],
	       us[(rounds * 99 + 99) / 100 - 1], s[3], s[4]);
	return 0;
}

/* ---- contention ------------------------------------------------------- */

/* How many "M" records (a main() that ran) can be read now. */
static int count_mains(int fd)
{
	unsigned char rec[9 * 64];
	ssize_t got;
	int n = 0;

	while ((got = read(fd, rec, sizeof rec)) > 0)
		for (ssize_t i = 0; i + 9 <= got; i += 9)
			n += rec[i] == 'M';
	return n;
}

static int contend(int argc, char **argv)
{
	int n = atoi(argv[0]), reps = atoi(argv[1]), nadd = 0;
	char *mode = argv[2], *stamp = argv[3], *add[MAX_WORDS];
	char *cargv[] = { stamp, mode, NULL };
	char **env;
	double ms[reps > 0 ? reps : 1], s[5];
	int ran[reps > 0 ? reps : 1];
	int hold = !strcmp(mode, "hold");

	if (n < 1 || reps < 1)
		return 64;
	for (int i = 4; i < argc && nadd < MAX_WORDS - 1; i++)
		add[nadd++] = argv[i];
	env = env_with(add, nadd);
	for (int r = 0; r < reps; r++) {
		int gate[2], res[2], rel[2], exited = 0, mains = 0;
		int64_t t0, t1;
		char c;

		if (pipe2(gate, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0 ||
		    pipe2(rel, O_CLOEXEC) < 0)
			die("pipe");
		for (int i = 0; i < n; i++) {
			pid_t pid = fork();

			if (pid < 0)
				die("fork");
			if (pid == 0) {
				/* the parent's ends: the gate opens only when
				 * no child holds its write end */
				close(gate[1]);
				close(res[0]);
				close(rel[1]);
				if (read(gate[0], &c, 1) != 0 ||
				    dup2(res[1], 3) < 0 || dup2(rel[0], 4) < 0)
					_exit(70);
				execve(stamp, cargv, env);
				_exit(127);
			}
		}
		close(gate[0]);
		close(res[1]);
		close(rel[0]);
		fcntl(res[0], F_SETFL, O_NONBLOCK);
		t0 = now_ns();
		close(gate[1]);            /* all at once */
		/* settled: every start has exited, or (hold) is in main() */
		while (hold ? exited + mains < n : exited < n) {
			struct pollfd pf = { res[0], POLLIN, 0 };
			struct timespec tick = { 0, 20000 };
			int st;

			ppoll(&pf, 1, &tick, NULL);
			mains += count_mains(res[0]);
			while (waitpid(-1, &st, WNOHANG) > 0) {
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
					fprintf(stderr, "benchrun: a start failed (%d)\n", st);
				exited++;
			}
			if (now_ns() - t0 > 60LL * 1000000000) {
				fprintf(stderr, "benchrun: contention run did not settle\n");
				return 1;
			}
		}
		t1 = now_ns();
		close(rel[1]);             /* let the runner(s) end */
		for (int st; exited < n; )
			if (waitpid(-1, &st, 0) > 0)
				exited++;
		fcntl(res[0], F_SETFL, 0);
		mains += count_mains(res[0]);
		close(res[0]);
		ran[r] = mains;
		ms[r] = (double)(t1 - t0) / 1e6;
	}
	summary(ms, reps, s);
	printf("contend %.1f %.1f %.1f ran", s[0], s[3], s[4]);
	for (int r = 0; r < reps; r++)
		printf("%s%d", r ? "," : " ", ran[r]);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "launch"))
		return launch(argc - 2, argv + 2);
	if (argc >= 3 && !strcmp(argv[1], "handover"))
		return handover(argc - 2, argv + 2);
	if (argc >= 5 && !strcmp(argv[1], "contend"))
		return contend(argc - 2, argv + 2);
	fprintf(stderr, "usage: benchrun launch|handover|contend ...\n");
	return 64;
}
