/* SPDX-License-Identifier: MIT */
/* interp_parse and launcher_command never read past argv (each word is
 * its own allocation, argv[argc] is NULL), and what they return points
 * into argv.  Also the path key_started_as takes: a launcher, then an
 * interpreter on the command it runs.
 *
 * Input: byte 0 picks the program name from the list below; the rest,
 * cut at NUL bytes, are its arguments. */
#include "../../preload/single.h"
#include "fuzz.h"

static const char *const names[] = {
	"sh", "bash", "dash", "zsh", "mksh", "python3", "python3.11", "pypy3",
	"perl", "perl5.36.0", "ruby", "node", "nodejs", "lua5.4", "php",
	"Rscript", "tclsh", "env", "nice", "nohup", "setsid", "stdbuf",
	"timeout", "ionice", "chrt", "taskset", "true",
};
#define NNAMES (sizeof names / sizeof *names)

static void check_run(const struct interp *in, int argc, char **argv)
{
	struct run run;

	interp_parse(in, argc, argv, &run);
	CHECK(run.rest >= 1 && run.rest <= argc + 1, "rest %d argc %d",
	      run.rest, argc);
	if (run.kind == RUN_SELF)
		return;
	CHECK(run.what != NULL, "kind %d without what", run.kind);
	/* what is an argv word or the tail of one */
	{
		int inside = 0;

		for (int i = 1; i < argc && !inside; i++)
			inside = run.what >= argv[i] &&
				 run.what <= argv[i] + strlen(argv[i]);
		CHECK(inside, "what points outside argv");
	}
	/* scripts, named or searched on PATH (perl -S), come without a flag */
	if (run.kind == RUN_INLINE || run.kind == RUN_MODULE)
		CHECK(run.flag[0] == '-' && run.flag[1] && !run.flag[2],
		      "flag '%s'", run.flag);
	else
		CHECK(!run.flag[0], "kind %d with flag '%s'", run.kind, run.flag);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct words ws;
	char *argv[FUZZ_MAX_WORDS + 2];
	const char *name;
	const struct interp *in;
	int argc, cmd;

	if (size < 1)
		return 0;
	name = names[data[0] % NNAMES];
	words_split(&ws, data + 1, size - 1);
	argv[0] = (char *)name;
	for (int i = 0; i <= ws.n; i++)
		argv[i + 1] = ws.w[i];
	argc = size > 1 ? ws.n + 1 : 1;
	if (size == 1)
		argv[1] = NULL;

	if ((in = interp_find(name)))
		check_run(in, argc, argv);
	cmd = launcher_command(name, argc, argv);
	CHECK(cmd == -1 || (cmd >= 1 && cmd < argc), "launcher %d of %d",
	      cmd, argc);
	if (cmd > 0 && (in = interp_find(path_basename(argv[cmd]))))
		check_run(in, argc - cmd, argv + cmd);
	words_free(&ws);
	return 0;
}
