/* SPDX-License-Identifier: MIT */
/* What kind of executable a file is: a "#!" script, or an ELF file of
 * some class, static or dynamic.
 *
 * A dynamically linked program names its loader (ld.so) in a PT_INTERP
 * program header; ld.so is what reads LD_PRELOAD, so a program without
 * one never loads the library.  The headers are read with pread into a
 * buffer on the stack, in the file's own byte order.
 */
#include <elf.h>

#include "single.h"
#include "sys.h"

/* The first bytes: the ELF header, and in nearly every executable the
 * program headers right after it. */
#define HEAD_BYTES 512

struct elf_reader {
	int fd;
	int little, wide;       /* byte order; 64-bit class */
	unsigned char head[HEAD_BYTES];
	ssize_t len;
};

static uint64_t field(const struct elf_reader *r, const unsigned char *p,
		      int size)
{
	uint64_t v = 0;

	for (int i = 0; i < size; i++)
		v = v << 8 | p[r->little ? size - 1 - i : i];
	return v;
}

/* Bytes [at, at + n) of the file: from the head, or read. */
static const unsigned char *bytes(struct elf_reader *r, uint64_t at, size_t n,
				  unsigned char *spare)
{
	if (at + n <= (uint64_t)r->len)
		return r->head + at;
	if (at > (uint64_t)INT64_MAX - n || sys_pread(r->fd, spare, n, (int64_t)at) != (ssize_t)n)
		return NULL;
	return spare;
}

/* Does a program header table of phnum entries of phsize bytes at phoff
 * hold a PT_INTERP?  1, 0, or -1 if it cannot be read. */
static int has_interp(struct elf_reader *r, uint64_t phoff, unsigned phsize,
		      unsigned phnum)
{
	/* zeroed: the analyzers cannot see pread fill it */
	unsigned char spare[64] = { 0 };

	if (phsize < 4 || phsize > sizeof spare)
		return -1;
	for (unsigned i = 0; i < phnum; i++) {
		const unsigned char *ph = bytes(r, phoff + (uint64_t)i * phsize,
						phsize, spare);

		if (!ph)
			return -1;
		if (field(r, ph, 4) == PT_INTERP)
			return 1;
	}
	return 0;
}

int elf_kind(int fd)
{
	struct elf_reader r = { .fd = fd };
	const unsigned char *h = r.head;
	uint64_t phoff;
	unsigned type, phsize, phnum;
	int interp;

	r.len = sys_pread(fd, r.head, sizeof r.head, 0);
	if (r.len >= 2 && h[0] == '#' && h[1] == '!')
		return EXEC_SCRIPT;
	if (r.len < (ssize_t)sizeof(Elf32_Ehdr) || h[EI_MAG0] != ELFMAG0 ||
	    h[EI_MAG1] != ELFMAG1 || h[EI_MAG2] != ELFMAG2 || h[EI_MAG3] != ELFMAG3)
		return EXEC_OTHER;
	if ((h[EI_CLASS] != ELFCLASS32 && h[EI_CLASS] != ELFCLASS64) ||
	    (h[EI_DATA] != ELFDATA2LSB && h[EI_DATA] != ELFDATA2MSB))
		return EXEC_OTHER;
	r.wide = h[EI_CLASS] == ELFCLASS64;
	r.little = h[EI_DATA] == ELFDATA2LSB;
	if (r.wide && r.len < (ssize_t)sizeof(Elf64_Ehdr))
		return EXEC_OTHER;
	type = (unsigned)field(&r, h + offsetof(Elf32_Ehdr, e_type), 2);
	if (r.wide) {
		phoff = field(&r, h + offsetof(Elf64_Ehdr, e_phoff), 8);
		phsize = (unsigned)field(&r, h + offsetof(Elf64_Ehdr, e_phentsize), 2);
		phnum = (unsigned)field(&r, h + offsetof(Elf64_Ehdr, e_phnum), 2);
	} else {
		phoff = field(&r, h + offsetof(Elf32_Ehdr, e_phoff), 4);
		phsize = (unsigned)field(&r, h + offsetof(Elf32_Ehdr, e_phentsize), 2);
		phnum = (unsigned)field(&r, h + offsetof(Elf32_Ehdr, e_phnum), 2);
	}
	/* ET_EXEC, or ET_DYN (a PIE, static or not) */
	if ((type != ET_EXEC && type != ET_DYN) || phnum == 0)
		return EXEC_OTHER;
	interp = has_interp(&r, phoff, phsize, phnum);
	if (interp < 0)
		return EXEC_OTHER;
	return (interp ? EXEC_DYNAMIC : EXEC_STATIC) | (r.wide ? EXEC_64 : EXEC_32);
}
