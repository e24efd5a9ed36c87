/* SPDX-License-Identifier: MIT */
/* Reading command lines: which interpreters and launchers the library
 * knows, and how each one's options are read.
 *
 * The tables say, for each interpreter, which options take code, a
 * module, a script or another argument, so that "python3 -u -W error
 * job.py" is read as job.py; and for each launcher (env, nice, ...)
 * which options take an argument, so that the command it runs is found.
 * Pure: no system calls.
 */
#include "single.h"

/* ---- interpreters ---------------------------------------------------- */

enum {
	SHELL = 1,      /* -c is a flag; the text is the first operand */
	SEARCH = 2,     /* -S: the script is looked up on PATH */
};

struct interp {
	const char *name;        /* base name; a version suffix may follow */
	const char *code;        /* options whose argument is code to run */
	const char *module;      /* options whose argument is a module */
	const char *script;      /* options whose argument is the script */
	const char *with_arg;    /* other options that take an argument */
	const char *attached;    /* options whose argument is the rest of the word */
	const char *const *long_code;
	const char *const *long_arg;
	int flags;
};

static const char *const bash_long[] = { "--rcfile", "--init-file", NULL };
static const char *const python_long[] = { "--check-hash-based-pycs", NULL };
static const char *const node_code[] = { "--eval", "--print", NULL };
static const char *const node_long[] = {
	"--require", "--import", "--loader", "--experimental-loader",
	"--conditions", "--input-type", "--env-file", "--title",
	"--inspect-port", "--redirect-warnings", "--report-dir",
	"--report-directory", "--report-filename", "--diagnostic-dir",
	"--openssl-config", "--tls-cipher-list", "--tls-keylog",
	"--icu-data-dir", "--dns-result-order", "--unhandled-rejections",
	"--cpu-prof-dir", "--cpu-prof-name", "--heap-prof-dir",
	"--heap-prof-name", "--stack-trace-limit", NULL
};

static const struct interp interps[] = {
	{ "sh",      "c", "",  "",  "oO",   "", NULL, NULL, SHELL },
	{ "ash",     "c", "",  "",  "oO",   "", NULL, NULL, SHELL },
	{ "dash",    "c", "",  "",  "oO",   "", NULL, NULL, SHELL },
	{ "bash",    "c", "",  "",  "oO",   "", NULL, bash_long, SHELL },
	{ "zsh",     "c", "",  "",  "oO",   "", NULL, NULL, SHELL },
	{ "ksh",     "c", "",  "",  "oO",   "", NULL, NULL, SHELL },
	{ "mksh",    "c", "",  "",  "oOT",  "", NULL, NULL, SHELL },
	{ "python",  "c", "m", "",  "WX",   "", NULL, python_long, 0 },
	{ "pypy",    "c", "m", "",  "WX",   "", NULL, python_long, 0 },
	{ "perl",    "eE", "", "",  "I",    "0CdDilmMxV", NULL, NULL, SEARCH },
	{ "ruby",    "e", "",  "",  "ICEr", "0x", NULL, NULL, SEARCH },
	{ "node",    "ep", "", "",  "rC",   "", node_code, node_long, 0 },
	{ "nodejs",  "ep", "", "",  "rC",   "", node_code, node_long, 0 },
	{ "lua",     "e", "",  "",  "l",    "", NULL, NULL, 0 },
	{ "php",     "r", "",  "f", "cdz",  "", NULL, NULL, 0 },
	{ "Rscript", "e", "",  "",  "",     "", NULL, NULL, 0 },
	{ "tclsh",   "",  "",  "",  "",     "", NULL, NULL, 0 },
};

/* "python3.11" is python, "perl5.36.0" is perl, "lua5.4" is lua. */
static int name_is(const char *base, const char *name)
{
	if (!(base = after_prefix(base, name)))
		return 0;
	for (; *base; base++)
		if ((*base < '0' || *base > '9') && *base != '.')
			return 0;
	return 1;
}

const struct interp *interp_find(const char *base)
{
	for (size_t i = 0; i < sizeof interps / sizeof *interps; i++)
		if (name_is(base, interps[i].name))
			return &interps[i];
	return NULL;
}

static int in_list(const char *const *list, const char *s, size_t n)
{
	for (; list && *list; list++)
		if (str_len(*list) == n && str_n_eq(*list, s, n))
			return 1;
	return 0;
}

/* The argument of option letter at w[j]: the rest of the word, or the
 * next word.  Returns its argv index through *i; NULL if missing. */
static const char *option_arg(int argc, char *const argv[], int *i,
			      const char *w, int j)
{
	if (w[j + 1])
		return w + j + 1;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static void run_set(struct run *run, enum run_kind kind, const char *what,
		    char letter, int rest)
{
	run->kind = kind;
	run->what = what;
	run->flag[0] = letter ? '-' : '\0';
	run->flag[1] = letter;
	run->flag[2] = '\0';
	run->rest = rest;
}

/* A long option such as --eval=CODE or --eval CODE.  Returns 1 if it
 * decided the run, 0 to go on; advances *i past an argument. */
static int long_option(const struct interp *in, int argc, char *const argv[],
		       int *i, struct run *run)
{
	const char *w = argv[*i], *eq = str_chr(w, '=');
	size_t n = eq ? (size_t)(eq - w) : str_len(w);

	if (in_list(in->long_code, w, n)) {
		if (eq)
			run_set(run, RUN_INLINE, eq + 1, w[2], *i + 1);
		else if (*i + 1 < argc)
			run_set(run, RUN_INLINE, argv[*i + 1], w[2], *i + 2);
		else
			return 0;
		return 1;
	}
	if (!eq && in_list(in->long_arg, w, n) && *i + 1 < argc)
		++*i;
	return 0;
}

void interp_parse(const struct interp *in, int argc, char *const argv[],
		  struct run *run)
{
	int i, shell_code = 0, searched = 0;

	run_set(run, RUN_SELF, NULL, 0, 1);
	for (i = 1; i < argc; i++) {
		const char *w = argv[i];

		if ((in->flags & SHELL) && w[0] == '+' && w[1]) {
			if (str_chr("oO", w[1]) && !w[2] && i + 1 < argc)
				i++;
			continue;
		}
		if (w[0] != '-' || !w[1])
			break;
		if (str_eq(w, "--")) {
			i++;
			break;
		}
		if (w[1] == '-') {
			if (long_option(in, argc, argv, &i, run))
				return;
			continue;
		}
		for (int j = 1; w[j]; j++) {
			char c = w[j];
			const char *arg;
			int at = i;

			if ((in->flags & SHELL) && str_chr(in->code, c)) {
				shell_code = 1;
				continue;
			}
			if (str_chr(in->code, c) || str_chr(in->module, c) ||
			    str_chr(in->script, c)) {
				arg = option_arg(argc, argv, &at, w, j);
				if (!arg)
					return;
				if (str_chr(in->script, c))
					run_set(run, RUN_SCRIPT, arg, 0, at + 1);
				else
					run_set(run, str_chr(in->code, c) ? RUN_INLINE : RUN_MODULE,
						arg, c, at + 1);
				return;
			}
			if (str_chr(in->with_arg, c)) {
				if (!w[j + 1] && i + 1 < argc)
					i++;
				break;
			}
			if (str_chr(in->attached, c))
				break;
			if ((in->flags & SHELL) && c == 's')
				return;         /* commands from stdin */
			if ((in->flags & SEARCH) && c == 'S')
				searched = 1;
		}
	}
	if (i >= argc || str_eq(argv[i], "-"))
		return;
	if (shell_code)
		run_set(run, RUN_INLINE, argv[i], 'c', i + 1);
	else
		run_set(run, searched ? RUN_SEARCHED : RUN_SCRIPT, argv[i], 0, i + 1);
}

/* ---- launchers ------------------------------------------------------- */

struct launcher {
	const char *name;
	const char *with_arg;    /* short options that take an argument */
	const char *refuse;      /* options that mean "not running a command" */
	const char *const *long_arg;
	int operands;            /* operands before the command (a duration...) */
	int assignments;         /* NAME=VALUE words may precede it (env) */
};

static const char *const env_long[] = { "--unset", "--chdir", NULL };
static const char *const nice_long[] = { "--adjustment", NULL };
static const char *const stdbuf_long[] = { "--input", "--output", "--error", NULL };
static const char *const timeout_long[] = { "--signal", "--kill-after", NULL };
static const char *const ionice_long[] = { "--class", "--classdata", NULL };
static const char *const chrt_long[] = { "--sched-runtime", "--sched-period", "--sched-deadline", NULL };

static const struct launcher launchers[] = {
	{ "env",     "uC",  "S",   env_long,     0, 1 },
	{ "nice",    "n",   "",    nice_long,    0, 0 },
	{ "nohup",   "",    "",    NULL,         0, 0 },
	{ "setsid",  "",    "",    NULL,         0, 0 },
	{ "stdbuf",  "ioe", "",    stdbuf_long,  0, 0 },
	{ "timeout", "sk",  "",    timeout_long, 1, 0 },
	{ "ionice",  "cn",  "pPu", ionice_long,  0, 0 },
	{ "chrt",    "TPD", "pm",  chrt_long,    1, 0 },
	{ "taskset", "",    "p",   NULL,         1, 0 },
};

static int launcher_skip_options(const struct launcher *l, int argc,
				 char *const argv[], int i)
{
	for (; i < argc; i++) {
		const char *w = argv[i];

		if (w[0] != '-')
			return i;
		if (!w[1]) {
			if (l->assignments)
				continue;       /* "env -" is "env -i" */
			return i;
		}
		if (str_eq(w, "--"))
			return i + 1;
		if (w[1] == '-') {
			const char *eq = str_chr(w, '=');
			size_t n = eq ? (size_t)(eq - w) : str_len(w);

			if (str_n_eq(w, "--split-string", n) || str_n_eq(w, "--pid", n))
				return -1;
			if (!eq && in_list(l->long_arg, w, n))
				i++;
			continue;
		}
		if (w[1] >= '0' && w[1] <= '9')
			continue;               /* nice -10 */
		for (int j = 1; w[j]; j++) {
			if (str_chr(l->refuse, w[j]))
				return -1;
			if (str_chr(l->with_arg, w[j])) {
				if (!w[j + 1])
					i++;
				break;
			}
		}
	}
	return i;
}

int launcher_command(const char *base, int argc, char *const argv[])
{
	for (size_t k = 0; k < sizeof launchers / sizeof *launchers; k++) {
		const struct launcher *l = &launchers[k];
		int i;

		if (!str_eq(base, l->name))
			continue;
		i = launcher_skip_options(l, argc, argv, 1);
		if (i < 0)
			return -1;
		while (l->assignments && i < argc && str_chr(argv[i], '='))
			i++;
		i += l->operands;
		return i < argc ? i : -1;
	}
	return -1;
}

/* env -u NAME / --unset NAME / NAME=VALUE: is it LD_PRELOAD? */
static int names_preload(const char *w)
{
	const char *after = after_prefix(w, "LD_PRELOAD");

	return after && (*after == '\0' || *after == '=');
}

int launcher_keeps_preload(const char *base, int cmd, char *const argv[])
{
	if (!str_eq(base, "env"))
		return 1;
	for (int i = 1; i < cmd; i++) {
		const char *w = argv[i];

		if (str_eq(w, "-") || str_eq(w, "--"))
			return !str_eq(w, "-");
		if (w[0] != '-') {
			if (names_preload(w))
				return 0;       /* LD_PRELOAD=... replaces ours */
			continue;
		}
		if (w[1] == '-') {
			const char *eq = str_chr(w, '=');
			size_t n = eq ? (size_t)(eq - w) : str_len(w);

			if (n > 2 && str_n_eq(w, "--ignore-environment", n))
				return 0;
			if (n > 2 && str_n_eq(w, "--unset", n) &&
			    ((eq && names_preload(eq + 1)) ||
			     (!eq && i + 1 < cmd && names_preload(argv[i + 1]))))
				return 0;
			continue;
		}
		for (int j = 1; w[j]; j++) {
			if (w[j] == 'i')
				return 0;
			if (w[j] == 'u' || w[j] == 'C') {
				const char *arg = w[j + 1] ? w + j + 1 : i + 1 < cmd ? argv[++i] : "";

				if (w[j] == 'u' && names_preload(arg))
					return 0;
				break;
			}
		}
	}
	return 1;
}
