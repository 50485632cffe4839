#!/usr/bin/env bash
# valgrind.sh: integration tests against a cluster whose postmaster, and so every forked backend and
# worker, runs under valgrind memcheck; then lists the reports that have a frame in bigbrotr's code.
# Slow (tens of times slower): for a run now and then, not for CI. Takes the shared test lock.
#
#   sudo test/valgrind.sh finder synchronizer      integration files whose names match
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
exec 9>/tmp/bigbrotr-test.lock
flock 9
make -s -j2 >/dev/null && make -s install >/dev/null || { echo "build failed"; exit 1; }
source test/lib/cluster.sh
WORK=$(mktemp -d /tmp/bigbrotr-vg.XXXXXX); chmod 755 "$WORK"
export BB_WORK=$WORK
cluster_create "$WORK/data" "bigbrotr.allow_private_addresses = on"
mkdir -p "$WORK/vg"; [ "$(id -u)" = 0 ] && chown postgres "$WORK/vg"
"${BB_RUNAS[@]}" valgrind --quiet --trace-children=yes --num-callers=30 --error-limit=no \
  --suppressions=test/net/valgrind.supp --log-file="$WORK/vg/vg.%p.log" \
  "$PG_BIN/postgres" -D "$BB_PGDATA" > "$BB_PGDATA/server.log" 2>&1 &
for _ in $(seq 240); do cluster_psql -d postgres -c 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
cluster_psql -d postgres -c "CREATE DATABASE $BB_DB" >/dev/null
export BB_PGDATA BB_PORT BB_DB BB_OS_USER PG_BIN
# Everything runs tens of times slower under memcheck: every deadline of the tests scales with it.
export BB_SLOWNESS=${BB_SLOWNESS:-20}
files=()
for f in test/integration/*.test.mjs; do
  for want in "$@"; do [[ "$f" == *"$want"* ]] && files+=("$f"); done
done
timeout 1800 node --test --test-reporter=tap --test-concurrency=1 --test-force-exit "${files[@]}" 2>&1 | grep -E "^(not )?ok|^# (pass|fail)"
cluster_stop
sleep 2
# A report counts against us when a frame is in one of our source files, except PostgreSQL's known
# false positive: WAL and data pages written with uninitialised padding ("Syscall param write(buf) /
# pwrite64(buf) points to uninitialised byte(s)"), which shows up under any commit, ours included.
find src -name "*.c" | xargs -n1 basename > "$WORK/our_files"
reports=0; ours=0
for f in "$WORK"/vg/*.log; do
  [ -s "$f" ] || continue
  n=$(grep -c '^==[0-9]*== [A-Z]' "$f"); reports=$((reports + n))
  hits=$(awk -v files="$WORK/our_files" '
    BEGIN { while ((getline l < files) > 0) ours[l] = 1 }
    /^==[0-9]+== [A-Z]/ { head = $0; benign = (head ~ /Syscall param p?write(64)?\(buf\) points to uninitialised/) ; next }
    /^==[0-9]+==    (at|by) / { if (!benign) for (o in ours) if (index($0, "(" o ":")) { print head; benign = 1 } }
  ' "$f")
  if [ -n "$hits" ]; then ours=$((ours + 1)); echo "== $f:"; echo "$hits"; fi
done
echo "valgrind: $reports reports in all; $ours process logs with a report in bigbrotr's code (logs in $WORK/vg)"
[ "$ours" -eq 0 ]
