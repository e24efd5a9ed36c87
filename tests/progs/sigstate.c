/* SPDX-License-Identifier: MIT */
/* sigstate: prints, at the start of main(), the process state a waiting
 * start must leave as it found it.
 *
 * Before any shared library's constructor (from .preinit_array) it sets
 * up state of its own, as a program's earlier constructors might:
 * handlers for SIGRTMAX and SIGALRM (with flags and a handler mask),
 * SIGUSR2 and SIGRTMAX blocked, an ITIMER_REAL of 1000 s, a POSIX timer
 * (SIGEV_NONE) of 1000 s, and errno set to 4242.  With SIGSTATE_PENDING
 * set it also queues one SIGRTMAX (blocked, so it stays pending).
 *
 * main() prints errno first, then: the blocked and pending sets, the
 * dispositions of SIGRTMAX and SIGALRM, getitimer(ITIMER_REAL) (value in
 * hundreds of seconds, so the time the test took does not show), and
 * /proc/self/timers (without the pid).  Run it with and without the library and compare.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void on_rt(int sig, siginfo_t *si, void *ctx)
{
	(void)sig, (void)si, (void)ctx;
}

static void on_alrm(int sig)
{
	(void)sig;
}

static void early(int argc, char **argv, char **envp)
{
	struct sigaction sa;
	struct itimerval itv = { { 0, 0 }, { 1000, 0 } };
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	struct itimerspec its = { { 0, 0 }, { 1000, 0 } };
	sigset_t block;
	timer_t timer;

	(void)argc, (void)argv;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR1);
	sigaction(SIGRTMAX, &sa, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alrm;
	sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGRTMAX);
	sigprocmask(SIG_BLOCK, &block, NULL);
	setitimer(ITIMER_REAL, &itv, NULL);
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0)
		timer_settime(timer, 0, &its, NULL);
	/* environ is not set up yet: look at envp */
	for (; *envp; envp++)
		if (!strncmp(*envp, "SIGSTATE_PENDING=", 17))
			break;
	if (*envp) {
		union sigval v = { .sival_int = 42 };

		sigqueue(getpid(), SIGRTMAX, v);
	}
	errno = 4242;
}

__attribute__((section(".preinit_array"), used))
static void (*const preinit)(int, char **, char **) = early;

static void print_set(const char *what, const sigset_t *set)
{
	printf("%s:", what);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(set, sig) == 1)
			printf(" %d", sig);
	printf("\n");
}

static void print_action(const char *what, int sig)
{
	struct sigaction sa;

	sigaction(sig, NULL, &sa);
	printf("%s: handler=%s flags=%#x", what,
	       sa.sa_handler == SIG_DFL ? "default" :
	       sa.sa_handler == SIG_IGN ? "ignored" :
	       (void *)sa.sa_sigaction == (void *)on_rt ? "on_rt" :
	       sa.sa_handler == on_alrm ? "on_alrm" : "other",
	       (unsigned)sa.sa_flags);
	print_set(" mask", &sa.sa_mask);
}

int main(void)
{
	int err = errno;
	sigset_t set;
	struct itimerval itv;
	FILE *f;
	char line[256];

	printf("errno: %d\n", err);
	sigprocmask(SIG_BLOCK, NULL, &set);
	print_set("blocked", &set);
	sigpending(&set);
	print_set("pending", &set);
	print_action("SIGRTMAX", SIGRTMAX);
	print_action("SIGALRM", SIGALRM);
	getitimer(ITIMER_REAL, &itv);
	printf("itimer real: value %ld00s (rounded up) interval %ld.%06lds\n",
	       (long)itv.it_value.tv_sec / 100 + (itv.it_value.tv_sec % 100 || itv.it_value.tv_usec),
	       (long)itv.it_interval.tv_sec, (long)itv.it_interval.tv_usec);
	f = fopen("/proc/self/timers", "r");
	while (f && fgets(line, sizeof line, f)) {
		/* "notify: none/pid.1234": the pid differs from run to run */
		if (!strncmp(line, "notify:", 7))
			line[strcspn(line, "/")] = '\0';
		printf("timers: %s%s", line, strchr(line, '\n') ? "" : "\n");
	}
	if (f)
		fclose(f);
	return 0;
}
