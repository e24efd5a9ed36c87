/* SPDX-License-Identifier: MIT */
/* The version, kept in the file: `strings -a libsingle.so | grep
 * '^libsingle '` names the build whatever the file is called.  Nothing
 * reads it at run time. */
#include "../build/version.h"   /* SINGLE_VERSION, from the Makefile's VERSION */

__attribute__((used)) static const char version[] = "libsingle " SINGLE_VERSION;
