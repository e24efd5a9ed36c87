/* SPDX-License-Identifier: MIT */
/* The floor: an empty preloaded library.  Loading it costs what loading
 * any small preloaded .so costs (open, mmap, relocations), so the
 * difference between it and libsingle is what libsingle itself does. */
int libsingle_bench_empty;
