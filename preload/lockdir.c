/* SPDX-License-Identifier: MIT */
/* Finding and checking the lock directory and the lock file.
 *
 * The default directory is /tmp/libsingle-UID: /tmp exists for every
 * user whether the program came from a login shell, cron or a systemd
 * unit, and nothing in the environment (XDG_RUNTIME_DIR, TMPDIR) takes
 * part, so a manual run and a timer run always meet.  The directory must
 * be ours and closed to others: in a sticky /tmp anyone could have made
 * it first.
 *
 * "Ours" is the effective uid as the file system shows it (an idmapped
 * mount shows its mapped ids).  On a network file system that squashes
 * root (NFS root_squash, and all_squash for everyone), our own files
 * belong to the anonymous uid instead: there, files owned by the
 * kernel's overflow uid (/proc/sys/fs/overflowuid, 65534 unless changed,
 * the default anonuid) count as ours too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "single.h"
#include "sys.h"

#define DEFAULT_DIR "/tmp/libsingle-"   /* and the effective uid */

/* The kernel hands the effective uid to every process in its auxiliary
 * vector: reading it there saves a system call on every start. */
static uid_t euid(void)
{
	return (uid_t)getauxval(AT_EUID);
}

/* A missing lock is a "cannot create"; a refusal for lack of resources is
 * the system's; a refusal on safety grounds is "no permission". */
static int status_for(int err)
{
	switch (err) {
	case EMFILE: case ENFILE: case ENOMEM: case EINTR:
		return EXIT_OSERR;
	case ELOOP: case EPERM:
		return EXIT_NOPERM;
	default:
		return EXIT_CANTCREAT;
	}
}

/* "cannot WHAT PATH[/NAME]: reason"; err is a positive errno. */
static int fail(const char *what, const char *path, const char *name, int err)
{
	say("cannot %s %s%s%s: %s", what, path, name ? "/" : "",
	    name ? name : "", strerror(err));
	return status_for(err);
}

/* File systems whose server may map our uid to the anonymous one. */
static int is_network_fs(int fd)
{
	struct statfs sf;

	if (SYS_(SYS_fstatfs, fd, &sf, 0, 0, 0, 0) < 0)
		return 0;
	switch ((unsigned long)sf.f_type) {
	case 0x6969:            /* NFS */
	case 0xff534d42:        /* CIFS */
	case 0xfe534d42:        /* SMB2 */
	case 0x517b:            /* SMB */
	case 0x00c36400:        /* Ceph */
	case 0x65735546:        /* FUSE (GlusterFS, ...) */
		return 1;
	default:
		return 0;
	}
}

static uint32_t overflow_uid(void)
{
	char buf[24];
	uint64_t uid;

	if (proc_read("/proc/sys/fs/overflowuid", buf, sizeof buf) > 0 &&
	    scan_u64(buf, UINT32_MAX, &uid))
		return (uint32_t)uid;
	return 65534;
}

/* Is a file of this owner, in the directory open on fd, ours? */
static int owned_by_us(int fd, uint32_t owner)
{
	return owner == euid() || (owner == overflow_uid() && is_network_fs(fd));
}

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* The directory opened (fi NULL), or looked at without following it
 * (fi set), by a name without its trailing slashes: they would make the
 * kernel follow a symlink at the last component.  The copy is made in a
 * frame of its own that only this rare spelling pays for. */
static __attribute__((noinline)) int dir_trimmed(const char *path, size_t n,
						 struct fileinfo *fi)
{
	char copy[PATH_MAX];

	while (n > 1 && path[n - 1] == '/')
		n--;
	mem_copy(copy, path, n);
	copy[n] = '\0';
	if (fi)
		return sys_fileinfo(AT_FDCWD, copy, SYS_AT_NOFOLLOW, fi);
	return sys_openat(AT_FDCWD, copy, DIR_FLAGS, 0);
}

static int dir_open(const char *path)
{
	size_t n = str_len(path);

	if (n <= 1 || path[n - 1] != '/')
		return sys_openat(AT_FDCWD, path, DIR_FLAGS, 0);
	return dir_trimmed(path, n, NULL);
}

/* lstat of the directory's name, trailing slashes left out */
static int dir_look(const char *path, struct fileinfo *fi)
{
	size_t n = str_len(path);

	if (n <= 1 || path[n - 1] != '/')
		return sys_fileinfo(AT_FDCWD, path, SYS_AT_NOFOLLOW, fi);
	return dir_trimmed(path, n, fi);
}

static int dir_refuse_owner(const char *path, uint32_t owner)
{
	say("unsafe lock directory %s: owned by uid %u, not %u", path,
	    (unsigned)owner, (unsigned)euid());
	return EXIT_NOPERM;
}

static int dir_check(const struct lockdir *d)
{
	struct fileinfo fi;
	int rc = sys_fileinfo(d->fd, "", SYS_AT_EMPTY_PATH, &fi);

	if (rc < 0)
		return fail("check lock directory", d->path, NULL, -rc);
	if (!owned_by_us(d->fd, fi.uid))
		return dir_refuse_owner(d->path, fi.uid);
	if (fi.mode & (S_IWGRP | S_IWOTH)) {
		say("unsafe lock directory %s: writable by others (mode %04o)",
		    d->path, (unsigned)(fi.mode & 07777));
		return EXIT_NOPERM;
	}
	return 0;
}

/* Why the directory could not be opened: unsafe (a symlink, not a
 * directory, someone else's that we may not enter) or the system's. */
static int dir_refuse(const struct lockdir *d, int err)
{
	struct fileinfo fi;

	if ((err == ELOOP || err == ENOTDIR) && dir_look(d->path, &fi) == 0) {
		say("unsafe lock directory %s: %s", d->path,
		    S_ISLNK(fi.mode) ? "a symbolic link" : "not a directory");
		return EXIT_NOPERM;
	}
	if (err == EACCES && dir_look(d->path, &fi) == 0 && fi.uid != euid())
		return dir_refuse_owner(d->path, fi.uid);
	return fail("open lock directory", d->path, NULL, err);
}

const char *lockdir_default(struct lockdir *d)
{
	size_t n = sizeof DEFAULT_DIR - 1;

	mem_copy(d->default_path, DEFAULT_DIR, n);
	format_u64(d->default_path + n, euid());
	return d->default_path;
}

int lockdir_open(struct lockdir *d, const char *setting)
{
	d->path = setting ? setting : lockdir_default(d);
	d->fd = dir_open(d->path);
	if (d->fd == -ENOENT) {
		int rc = sys_mkdirat(AT_FDCWD, d->path, 0700);

		if (rc < 0 && rc != -EEXIST)
			return fail("create lock directory", d->path, NULL, -rc);
		d->fd = dir_open(d->path);
	}
	if (d->fd < 0) {
		int err = -d->fd;

		d->fd = -1;
		return dir_refuse(d, err);
	}
	return dir_check(d);
}

/* A lock file must be a regular file of ours with one name: a hard link
 * to some other file (ln important.txt DIR/@job.lock) would otherwise
 * have the record written into that file, as systemd refuses such lock
 * files too. */
static int file_check(const struct lockdir *d, const char *name,
		      const struct fileinfo *fi)
{
	if (!S_ISREG(fi->mode)) {
		say("unsafe lock file %s/%s: %s", d->path, name,
		    S_ISLNK(fi->mode) ? "a symbolic link" : "not a regular file");
		return EXIT_NOPERM;
	}
	if (!owned_by_us(d->fd, fi->uid)) {
		say("unsafe lock file %s/%s: owned by uid %u, not %u", d->path,
		    name, (unsigned)fi->uid, (unsigned)euid());
		return EXIT_NOPERM;
	}
	if (fi->nlink != 1) {
		say("unsafe lock file %s/%s: %u hard links, not one", d->path,
		    name, (unsigned)fi->nlink);
		return EXIT_NOPERM;
	}
	return 0;
}

/* The file is looked at before it is opened, so that a FIFO or a device
 * planted in its place is refused without being opened at all; O_NOFOLLOW
 * refuses a symlink that appears in between, O_NONBLOCK keeps a FIFO that
 * appears in between from hanging us, and the check after locking
 * (lockfile_still_there) catches any other swap. */
int lockfile_open(const struct lockdir *d, const char *name, int *fdp,
		  struct fileinfo *fi, int *writable)
{
	const int flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int status, rc = 0;

	*writable = 1;
	for (int tries = 0; tries < 100; tries++) {
		rc = sys_fileinfo(d->fd, name, SYS_AT_NOFOLLOW, fi);
		if (rc == 0) {
			if ((status = file_check(d, name, fi)))
				return status;
			rc = sys_openat(d->fd, name, flags, 0);
			/* flock works on a descriptor open for reading: a lock
			 * file on a read-only file system is locked all the
			 * same, only no record is written */
			if (rc == -EROFS) {
				*writable = 0;
				rc = sys_openat(d->fd, name, (flags & ~O_RDWR) | O_RDONLY, 0);
			}
		} else if (rc == -ENOENT) {
			rc = sys_openat(d->fd, name, flags | O_CREAT | O_EXCL, 0600);
			if (rc >= 0) {
				int fd = rc;

				if ((rc = sys_fileinfo(fd, "", SYS_AT_EMPTY_PATH, fi)) < 0)
					sys_close(fd);
				else
					rc = fd;
			}
		} else {
			return fail("check lock file", d->path, name, -rc);
		}
		if (rc >= 0) {
			*fdp = rc;
			return 0;
		}
		if (rc != -ENOENT && rc != -EEXIST)
			break;
	}
	if (rc == -ELOOP) {
		say("unsafe lock file %s/%s: a symbolic link", d->path, name);
		return EXIT_NOPERM;
	}
	return fail("open lock file", d->path, name, -rc);
}

int lockfile_still_there(const struct lockdir *d, const char *name,
			 const struct fileinfo *fi)
{
	struct fileinfo now;

	return sys_fileinfo(d->fd, name, SYS_AT_NOFOLLOW, &now) == 0 &&
	       now.dev == fi->dev && now.ino == fi->ino && now.nlink == 1;
}
