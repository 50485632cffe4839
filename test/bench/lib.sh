# lib.sh: the preamble every benchmark shares (sourced by finder.sh, monitor.sh, sync.sh). It moves
# to the repository's root, takes the machine-wide test lock (the installed extension and the test
# port are shared by every checkout: one user at a time), builds and installs the extension, makes a
# work directory, and on exit kills the processes started with bench_spawn, stops the cluster and
# removes the work directory. The lock is descriptor 9: nothing started from here may inherit it.
#   source "$(dirname "$0")/lib.sh"; bench_cluster [postgresql.conf lines...]; q -c "SELECT 1"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

exec 9>/tmp/bigbrotr-test.lock
flock 9

make -s -j2 >/dev/null && make -s install >/dev/null
source test/lib/cluster.sh
WORK=$(mktemp -d /tmp/bigbrotr-bench.XXXXXX)
chmod 755 "$WORK"
BENCH_PIDS=()

bench_cleanup() {
  local p
  for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  cluster_stop
  rm -rf "$WORK"
}
trap bench_cleanup EXIT

# bench_spawn OUT CMD...: runs CMD in the background with its output in OUT; killed at exit. Sets
# BENCH_PID (no subshell, so the pid is kept for cleanup).
bench_spawn() {
  local out=$1; shift
  "$@" > "$out" 2>&1 9>&- &
  BENCH_PID=$!
  BENCH_PIDS+=("$BENCH_PID")
}

# bench_cluster [postgresql.conf lines...]: creates, starts (without the lock's descriptor) and
# creates the database with the extension.
bench_cluster() {
  cluster_create "$WORK/data" "$@"
  cluster_start 9>&-
  cluster_create_db
}

q() { cluster_psql -d "$BB_DB" -At "$@"; }
