/* SPDX-License-Identifier: MIT */
/* Shared by the libFuzzer harnesses: the input cut into NUL-terminated
 * words, each in its own allocation of exactly its size, so that
 * AddressSanitizer sees a read one byte past any of them. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_WORDS 64

struct words {
	int n;
	char *w[FUZZ_MAX_WORDS + 1];   /* w[n] is NULL, as in argv */
};

/* Cut data at NUL bytes into at most FUZZ_MAX_WORDS words. */
static inline void words_split(struct words *ws, const uint8_t *data,
			       size_t size)
{
	size_t start = 0;

	ws->n = 0;
	for (size_t i = 0; i <= size && ws->n < FUZZ_MAX_WORDS; i++) {
		if (i == size || data[i] == '\0') {
			size_t len = i - start;
			char *w = malloc(len + 1);

			memcpy(w, data + start, len);
			w[len] = '\0';
			ws->w[ws->n++] = w;
			start = i + 1;
		}
	}
	ws->w[ws->n] = NULL;
}

static inline void words_free(struct words *ws)
{
	for (int i = 0; i < ws->n; i++)
		free(ws->w[i]);
	ws->n = 0;
}

/* A broken invariant: say which, then crash so libFuzzer keeps the input. */
#define CHECK(cond, ...)                                                \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "invariant failed: %s: ", #cond); \
			fprintf(stderr, __VA_ARGS__);                   \
			fprintf(stderr, "\n");                          \
			abort();                                        \
		}                                                       \
	} while (0)

#endif
