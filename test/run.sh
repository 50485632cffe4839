#!/usr/bin/env bash
# run.sh: the one test command. Installs what is missing (as root), builds and installs bigbrotr,
# creates a throwaway PostgreSQL 15 cluster with the extension preloaded, runs every suite (C unit
# tests, pg_regress, pgTAP, integration tests against live workers, relays and HTTP servers on
# loopback), prints a closing "N passed, N failed" line and exits non-zero on any failure.
#
#   sudo test/run.sh              everything
#   sudo test/run.sh regress      only the named suites (layers unit regress pgtap integration)
#   BB_TEST_FILTER=monitor sudo test/run.sh integration   only integration files matching the filter
#   BB_TEST_FILES="test/bench/finder_memory.test.mjs" test/run.sh integration   exactly these node test files
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SUITES=("$@")
[ ${#SUITES[@]} -eq 0 ] && SUITES=(layers unit regress pgtap integration)

# Several checkouts on one machine share the installed extension and the test port: one run at a time.
exec 9>/tmp/bigbrotr-test.lock
flock 9

started=$(date +%s)
passed=0
failed=0
declare -a failures=()

note() { printf '\n=== %s\n' "$*"; }
count() { # count SUITE PASSED FAILED
  passed=$((passed + $2)); failed=$((failed + $3))
  [ "$3" -gt 0 ] && failures+=("$1: $3 failed")
  printf -- '--- %s: %d passed, %d failed\n' "$1" "$2" "$3"
}

if [ "$(id -u)" = 0 ]; then
  note "dependencies"
  scripts/install-deps.sh --with-test-tools || { echo "dependency installation failed"; exit 1; }
fi

note "build and install"
make -s -j2 >/dev/null && make -s install >/dev/null || { echo "build failed"; make -j2 2>&1 | tail -30; exit 1; }

note "node modules"
# Installed again only when the lock file's content changed (a checkout's mtime says nothing).
( cd test && lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat node_modules/.bb-lock-sha256 2>/dev/null)" != "$lock_sum" ]; then
    npm ci --no-audit --no-fund --loglevel=error && npm rebuild better-sqlite3 --loglevel=error &&
      echo "$lock_sum" > node_modules/.bb-lock-sha256
  fi ) || { echo "npm install failed"; exit 1; }

source test/lib/cluster.sh
WORK=$(mktemp -d /tmp/bigbrotr-test.XXXXXX)
chmod 755 "$WORK"
export BB_WORK=$WORK
cleanup() {
  cluster_stop
  if [ "$failed" -gt 0 ] && [ -f "${BB_PGDATA:-/nonexistent}/server.log" ]; then
    echo "--- last lines of the server log ($BB_PGDATA/server.log):"
    tail -40 "$BB_PGDATA/server.log"
  fi
  [ "${BB_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

has_suite() { local s; for s in "${SUITES[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

# ---- layers: the source tree's include rules (test/lib/check_layers.sh) ----
if has_suite layers; then
  note "layers"
  out=$(bash test/lib/check_layers.sh 2>&1); rc=$?
  echo "$out" | grep -vE '^ok ' | tail -20
  line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
  p=$(echo "$line" | awk '{print $1}'); f=$(echo "$line" | awk '{print $3}')
  [ -z "$line" ] && p=0 && f=1
  [ $rc -ne 0 ] && [ "$f" = 0 ] && f=1
  count layers "$p" "$f"
fi

# ---- unit: pure C tests of src/nostr and src/sync (no PostgreSQL) ----
if has_suite unit && [ -f test/unit/Makefile ]; then
  note "unit"
  out=$(make -s -C test/unit check 2>&1); rc=$?
  echo "$out" | tail -15
  line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
  if [ -n "$line" ]; then
    p=$(echo "$line" | awk '{print $1}'); f=$(echo "$line" | awk '{print $3}')
    [ $rc -ne 0 ] && [ "$f" = 0 ] && f=1
    count unit "$p" "$f"
  else
    count unit 0 1
  fi
fi

note "cluster"
cluster_create "$WORK/data" "bigbrotr.allow_private_addresses = on" || { echo "initdb failed"; exit 1; }
cluster_start || { echo "cluster start failed"; cat "$BB_PGDATA/server.log"; exit 1; }
echo "cluster running on port $BB_PORT (data $BB_PGDATA)"

# ---- regress: pg_regress, sql/*.sql against expected/*.out ----
if has_suite regress; then
  note "regress"
  out=$(make -s installcheck PGHOST=127.0.0.1 PGPORT="$BB_PORT" PGUSER=postgres 2>&1); rc=$?
  echo "$out" | grep -E '^(ok|not ok|test |     )|tests? (passed|failed)' | head -60
  p=$(echo "$out" | grep -cE '^(ok [0-9]|test .* \.\.\. ok)') || true
  f=$(echo "$out" | grep -cE '^(not ok [0-9]|test .* \.\.\. FAILED)') || true
  [ -f regression.diffs ] && head -80 regression.diffs
  [ "$p" = 0 ] && [ "$f" = 0 ] && f=1
  # pg_regress can stop before it reports a test (a missing expected file): that is a failure too.
  if [ $rc -ne 0 ] && [ "$f" = 0 ]; then echo "$out" | tail -10; f=1; fi
  count regress "$p" "$f"
fi

# ---- pgtap: test/pgtap/*.sql, one TAP stream per file ----
if has_suite pgtap; then
  note "pgtap"
  cluster_create_db && cluster_psql -d "$BB_DB" -c "CREATE EXTENSION IF NOT EXISTS pgtap" >/dev/null
  tp=0; tf=0
  for t in test/pgtap/*.sql; do
    out=$(cluster_psql -d "$BB_DB" -At -f "$t" 2>&1)
    p=$(echo "$out" | grep -cE '^ok [0-9]') || true
    f=$(echo "$out" | grep -cE '^not ok [0-9]') || true
    plan=$(echo "$out" | sed -n 's/^1\.\.\([0-9]*\)$/\1/p' | head -1)
    if [ -z "$plan" ] || [ $((p + f)) -ne "$plan" ]; then
      echo "$t: planned ${plan:-?} tests, ran $((p + f))"; f=$((f + 1))
    fi
    [ "$f" -gt 0 ] && echo "$out" | grep -vE '^ok [0-9]' | head -40
    echo "$t: $p passed, $f failed"
    tp=$((tp + p)); tf=$((tf + f))
  done
  count pgtap "$tp" "$tf"
  cluster_psql -d postgres -c "DROP DATABASE $BB_DB WITH (FORCE)" >/dev/null
fi

# ---- integration: live workers, relays and HTTP servers on loopback (node:test) ----
if has_suite integration; then
  note "integration"
  export BB_PGDATA BB_PORT BB_DB BB_OS_USER PG_BIN
  files=()
  for f in test/integration/*.test.mjs; do
    [ -n "${BB_TEST_FILTER:-}" ] && [[ "$f" != *"$BB_TEST_FILTER"* ]] && continue
    files+=("$f")
  done
  # BB_TEST_FILES: run exactly these files instead (e.g. a measurement under test/bench/).
  [ -n "${BB_TEST_FILES:-}" ] && read -r -a files <<< "$BB_TEST_FILES"
  if [ ${#files[@]} -gt 0 ]; then
    # --test-force-exit: a file whose cleanup failed and left a server open fails instead of hanging.
    out=$(node --test --test-reporter=tap --test-concurrency=1 --test-force-exit "${files[@]}" 2>&1); rc=$?
    echo "$out" | grep -E '^\s*(not ok|ok) ' | grep -vE '^\s{8,}' | head -200
    echo "$out" | grep -E '^\s*not ok' -A 25 | head -150
    p=$(echo "$out" | sed -n 's/^# pass \([0-9]*\)$/\1/p' | tail -1)
    f=$(echo "$out" | sed -n 's/^# fail \([0-9]*\)$/\1/p' | tail -1)
    p=${p:-0}; f=${f:-0}
    [ $rc -ne 0 ] && [ "$f" = 0 ] && f=1
    count integration "$p" "$f"
  fi
fi

note "summary ($(( $(date +%s) - started )) s)"
for x in "${failures[@]}"; do echo "FAILED: $x"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
