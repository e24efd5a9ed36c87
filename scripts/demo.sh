#!/bin/sh
# SPDX-License-Identifier: MIT
# make demo: a job started twice at the same moment.  The first start runs
# it; the second finds it running and exits at once, quietly, with status
# 0.  Then, while the job still runs, what single --list and a verbose
# start say about it.  Ends by itself in about three seconds.
#
# Everything happens in a directory of its own (lock files included), so
# the demo never meets a real job.

set -u
here=$(cd -P -- "$(dirname -- "$0")" && pwd -P)
single=$here/../build/single
demo=$(mktemp -d "${TMPDIR:-/tmp}/libsingle-demo.XXXXXX") || exit 1
trap 'rm -rf "$demo"' EXIT
SINGLE_DIR=$demo/locks
export SINGLE_DIR

# The job: says it runs, marks itself ready, works for three seconds.
cat >"$demo/sync-mail" <<'EOF'
#!/bin/sh
echo "  [$1] running as pid $$"
: >"$2"
sleep 3
echo "  [$1] done"
EOF
chmod +x "$demo/sync-mail"

echo "Two starts of $demo/sync-mail at the same moment:"
"$single" "$demo/sync-mail" A "$demo/ready" &
a=$!
"$single" "$demo/sync-mail" B "$demo/ready" &
b=$!

# The running one creates the ready file; the other has already exited.
while [ ! -e "$demo/ready" ]; do sleep 0.05; done

echo
echo "single --list, while it runs:"
"$single" --list | sed 's/^/  /'
echo
echo "A third start with --verbose:"
out=$("$single" --verbose "$demo/sync-mail" C "$demo/ready" 2>&1)
sc=$?
printf '  %s\n  (exit status %s)\n' "$out" "$sc"

wait "$a"; sa=$?
wait "$b"; sb=$?
echo
echo "Exit statuses: A $sa, B $sb. One of them ran, the other skipped quietly."
