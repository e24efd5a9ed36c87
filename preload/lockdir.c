/* Finding and checking the lock directory and the lock file.
 *
 * The default directory is /tmp/libsingle-UID: /tmp exists for every
 * user whether the program came from a login shell, cron or a systemd
 * unit, and nothing in the environment (XDG_RUNTIME_DIR, TMPDIR) takes
 * part, so a manual run and a timer run always meet.  The directory must
 * be ours and closed to others: in a sticky /tmp anyone could have made
 * it first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "single.h"
#include "sys.h"

#define DEFAULT_DIR "/tmp/libsingle-"   /* and the effective uid */

extern int __close(int fd);

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

static int fail(const char *what, const char *path, const char *name)
{
	int err = errno;

	say("cannot %s %s%s%s: %s", what, path, name ? "/" : "",
	    name ? name : "", strerror(err));
	return status_for(err);
}

static int dir_open(const char *path)
{
	return sys_openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
}

static int dir_refuse_owner(const char *path, uid_t owner)
{
	say("unsafe lock directory %s: owned by uid %u, not %u", path,
	    (unsigned)owner, (unsigned)euid());
	return EXIT_NOPERM;
}

static int dir_check(const struct lockdir *d)
{
	struct stat st;
	uid_t uid = euid();

	if (fstatat(d->fd, "", &st, AT_EMPTY_PATH) < 0)
		return fail("check lock directory", d->path, NULL);
	if (st.st_uid != uid)
		return dir_refuse_owner(d->path, st.st_uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		say("unsafe lock directory %s: writable by others (mode %04o)",
		    d->path, (unsigned)(st.st_mode & 07777));
		return EXIT_NOPERM;
	}
	return 0;
}

int lockdir_open(struct lockdir *d, const char *setting)
{
	size_t n;

	if (setting) {
		n = strlen(setting);
		if (n < sizeof d->path)
			memcpy(d->path, setting, n + 1);
	} else {
		n = sizeof DEFAULT_DIR - 1;
		memcpy(d->path, DEFAULT_DIR, n);
		n += format_uint(d->path + n, euid());
	}
	if (n >= sizeof d->path) {
		say("%s: lock directory path too long", var_name(VAR_DIR));
		return EXIT_USAGE;
	}
	d->fd = dir_open(d->path);
	if (d->fd < 0 && errno == ENOENT) {
		if (sys_mkdir(d->path, 0700) < 0 && errno != EEXIST)
			return fail("create lock directory", d->path, NULL);
		d->fd = dir_open(d->path);
	}
	if (d->fd < 0) {
		struct stat st;
		int err = errno;

		if ((err == ELOOP || err == ENOTDIR) && lstat(d->path, &st) == 0) {
			say("unsafe lock directory %s: %s", d->path,
			    S_ISLNK(st.st_mode) ? "a symbolic link" : "not a directory");
			return EXIT_NOPERM;
		}
		/* someone else's directory that we may not even enter is
		 * refused as unsafe, like one we may enter */
		if (err == EACCES && lstat(d->path, &st) == 0 && st.st_uid != euid())
			return dir_refuse_owner(d->path, st.st_uid);
		errno = err;
		return fail("open lock directory", d->path, NULL);
	}
	return dir_check(d);
}

static int file_check(const struct lockdir *d, const char *name,
		      const struct stat *st)
{
	uid_t uid = euid();

	if (!S_ISREG(st->st_mode)) {
		say("unsafe lock file %s/%s: %s", d->path, name,
		    S_ISLNK(st->st_mode) ? "a symbolic link" : "not a regular file");
		return EXIT_NOPERM;
	}
	if (st->st_uid != uid) {
		say("unsafe lock file %s/%s: owned by uid %u, not %u", d->path,
		    name, (unsigned)st->st_uid, (unsigned)uid);
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
		  struct stat *st)
{
	const int flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int status;

	for (int tries = 0; tries < 100; tries++) {
		if (fstatat(d->fd, name, st, AT_SYMLINK_NOFOLLOW) == 0) {
			if ((status = file_check(d, name, st)))
				return status;
			*fdp = sys_openat(d->fd, name, flags, 0);
		} else if (errno == ENOENT) {
			*fdp = sys_openat(d->fd, name, flags | O_CREAT | O_EXCL, 0600);
			if (*fdp >= 0 && fstatat(*fdp, "", st, AT_EMPTY_PATH) < 0) {
				__close(*fdp);
				*fdp = -1;
			}
		} else {
			return fail("check lock file", d->path, name);
		}
		if (*fdp >= 0)
			return 0;
		if (errno != ENOENT && errno != EEXIST)
			break;
	}
	if (errno == ELOOP) {
		say("unsafe lock file %s/%s: a symbolic link", d->path, name);
		return EXIT_NOPERM;
	}
	return fail("open lock file", d->path, name);
}

int lockfile_still_there(const struct lockdir *d, const char *name,
			 const struct stat *st)
{
	struct stat now;

	return fstatat(d->fd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	       now.st_dev == st->st_dev && now.st_ino == st->st_ino;
}
