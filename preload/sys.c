/* SPDX-License-Identifier: MIT */
/* The one system call of sys.h too long to be inline: stat, as statx(2),
 * with the libc call as the fallback on kernels before 4.11. */
#define _GNU_SOURCE
/* fstatat's inode numbers whole on 32-bit machines too */
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "sys.h"

static long statx_call(int dirfd, const char *path, int flags,
		       struct sys_statx *sx)
{
#ifdef SYS_statx
	return SYS_(SYS_statx, dirfd, path, flags, SYS_STATX_BASIC, sx, 0);
#else
	return -ENOSYS;
#endif
}

int sys_fileinfo(int dirfd, const char *path, int flags, struct fileinfo *fi)
{
	/* zeroed: the analyzers cannot see the kernel write it */
	struct sys_statx sx = { 0 };
	long rc = statx_call(dirfd, path, flags, &sx);

	if (rc == 0) {
		fi->dev = FILE_DEV(sx.dev_major, sx.dev_minor);
		fi->ino = sx.ino;
		fi->size = sx.size;
		fi->mtime = sx.mtime.sec;
		fi->mode = sx.mode;
		fi->uid = sx.uid;
		fi->nlink = sx.nlink;
		return 0;
	}
	if (rc != -ENOSYS)
		return (int)rc;
	{
		struct stat st;
		int saved = errno;

		rc = fstatat(dirfd, path, &st, flags) < 0 ? -errno : 0;
		errno = saved;
		if (rc < 0)
			return (int)rc;
		fi->dev = FILE_DEV(major(st.st_dev), minor(st.st_dev));
		fi->ino = (uint64_t)st.st_ino;
		fi->size = (uint64_t)st.st_size;
		fi->mtime = (int64_t)st.st_mtime;
		fi->mode = st.st_mode;
		fi->uid = st.st_uid;
		fi->nlink = (uint32_t)st.st_nlink;
	}
	return 0;
}

