#!/bin/sh
# SPDX-License-Identifier: MIT
# hostb.sh BOOT_ID_FILE CMD...: run CMD as if on a second host that
# shares this one's file systems: a UTS namespace named "hostb", a PID
# namespace with its own /proc, and the boot id in BOOT_ID_FILE
# bind-mounted over /proc/sys/kernel/random/boot_id.  Its processes die
# with it.  Root only.  (tests/helpers.bash on_host_b, tests/stress.sh)
boot=$1
shift
exec unshare --uts --pid --mount --fork --kill-child sh -c '
	hostname hostb &&
	mount -t proc proc /proc &&
	mount --bind "$0" /proc/sys/kernel/random/boot_id &&
	exec "$@"' "$boot" "$@"
