#!/bin/bash
# sync.sh: the synchronizer end to end. One in-memory fixture relay (test/fixtures/sync_relays.mjs,
# honours since/until/limit) serves N signed events over a year; one worker syncs it in one cycle.
# Prints events archived per second end to end (the cycle's duration), the worker's CPU time and peak
# memory (VmHWM, also for a SMALL run to show it does not grow with N), beside, measured in the same
# run: (a) the raw verify rate per core (test/bench/verify.sh) and (b) bigbrotr.insert_events at the
# same batch size in the same cluster; then the ratio end-to-end / min(a * cores, b).
# Takes the machine-wide test lock and makes its own throwaway cluster.
#   usage: test/bench/sync.sh [N=100000] [SMALL=20000]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-100000}
SMALL=${2:-20000}
BATCH=500

exec 9>/tmp/bigbrotr-test.lock
flock 9
make -s -j2 >/dev/null && make -s install >/dev/null
make -s -C test/bench bin/gen_events >/dev/null
source test/lib/cluster.sh
WORK=$(mktemp -d /tmp/bigbrotr-bench.XXXXXX)
chmod 755 "$WORK"
RELAYS=()
cleanup() { for p in "${RELAYS[@]}"; do kill "$p" 2>/dev/null || true; done; cluster_stop; rm -rf "$WORK"; }
trap cleanup EXIT

END=$(( $(date +%s) - 3600 ))
test/bench/bin/gen_events "$N" "$END" > "$WORK/big.jsonl"
test/bench/bin/gen_events "$SMALL" "$END" 3 > "$WORK/small.jsonl"
chmod 644 "$WORK"/*.jsonl

cluster_create "$WORK/data" "bigbrotr.allow_private_addresses = on" "bigbrotr.synchronizer_stagger_delay = 0" \
  "bigbrotr.synchronizer_max_processes = 1" "bigbrotr.synchronizer_batch_size = $BATCH" \
  "bigbrotr.synchronizer_limit = 500"
cluster_start 9>&-   # the postmaster must not keep the lock
cluster_create_db
q() { cluster_psql -d "$BB_DB" -At "$@"; }

start_relay() { # file var: starts a relay serving the file, sets var to its URL (no subshell, so
  # RELAYS keeps the pid for cleanup; the relay must not inherit the lock's descriptor)
  local out="$WORK/relay.$RANDOM"
  node test/fixtures/sync_relays.mjs "$1" > "$out" 2>&1 9>&- &
  RELAYS+=($!)
  for _ in $(seq 1 300); do grep -q '^ws://' "$out" 2>/dev/null && break; sleep 0.1; done
  printf -v "$2" '%s' "$(head -1 "$out")"
}

fresh() {
  q -c "UPDATE bigbrotr.service_control SET enabled = false" >/dev/null
  for _ in $(seq 1 100); do
    [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'bigbrotr s%'")" = 0 ] && break; sleep 0.2
  done
  q -c "DROP EXTENSION bigbrotr CASCADE" -c "CREATE EXTENSION bigbrotr" >/dev/null
}

# sync_once url expected -> sets SECS EVENTS CPU HWM
sync_once() {
  fresh
  q -c "INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ('$1')" >/dev/null
  local mark; mark=$(wc -c < "$BB_PGDATA/server.log")
  q -c "SELECT bigbrotr.bigbrotr_start('synchronizer')" >/dev/null
  for _ in $(seq 1 1200); do
    [ "$(q -c "SELECT cycles_run FROM bigbrotr.bigbrotr_status() WHERE name = 'synchronizer'")" -ge 1 ] && break
    sleep 0.5
  done
  q -c "SELECT bigbrotr.bigbrotr_stop('synchronizer')" >/dev/null
  SECS=$(q -c "SELECT extract(epoch FROM last_cycle_duration) FROM bigbrotr.bigbrotr_status() WHERE name = 'synchronizer'")
  EVENTS=$(q -c "SELECT count(*) FROM bigbrotr.events_relays WHERE relay_url = '$1'")
  local line; line=$(tail -c +"$((mark + 1))" "$BB_PGDATA/server.log" | grep 'worker done' | tail -1)
  CPU=$(echo "$line" | sed -n 's/.*cpu user \([0-9.]*\) s sys \([0-9.]*\) s.*/\1 + \2/p' | bc)
  HWM=$(echo "$line" | sed -n 's/.*VmHWM \([0-9]*\) kB.*/\1/p')
  PRIV=$(echo "$line" | sed -n 's/.*peak private (RssAnon) \([0-9]*\) kB.*/\1/p')
  RECEIVED=$(q -c "SELECT stats->>'events_received' || ' received in ' || (stats->>'requests') || ' requests' FROM bigbrotr.synchronizer_queue")
  [ "$EVENTS" = "$2" ] || echo "WARNING: archived $EVENTS of $2 events"
}

echo "== synchronizer benchmark: $N events (and $SMALL for memory), limit 500, batch $BATCH, $(nproc) cores"
start_relay "$WORK/small.jsonl" small_url
start_relay "$WORK/big.jsonl" big_url
sync_once "$small_url" "$SMALL"; SMALL_HWM=$HWM; SMALL_PRIV=$PRIV
sync_once "$big_url" "$N"
E2E=$(echo "$EVENTS / $SECS" | bc -l)
big_pid=${RELAYS[1]}
RELAY_CPU=$(awk '{printf "%.2f", ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$big_pid/stat" 2>/dev/null || echo "?")

# (b) insert_events alone, same batch size, same cluster, one transaction per batch
fresh
q -c "CREATE TABLE public.bench_stage (seq serial, doc jsonb)" -c "\\copy public.bench_stage (doc) FROM '$WORK/big.jsonl'" >/dev/null
q -c "CREATE TABLE public.bench_typed AS SELECT seq, decode(doc->>'id','hex') id, decode(doc->>'pubkey','hex') pk,
        (doc->>'created_at')::bigint ca, (doc->>'kind')::int k, doc->'tags' tg, doc->>'content' ct, decode(doc->>'sig','hex') sg
      FROM public.bench_stage" -c "CREATE INDEX ON public.bench_typed (seq)" -c "ANALYZE public.bench_typed" >/dev/null
INS=$(q -c "CREATE TEMP TABLE t(x float8)" -c "DO \$\$
DECLARE t0 timestamptz := clock_timestamp(); n int; total int;
BEGIN
  SELECT count(*) INTO total FROM public.bench_typed;
  FOR i IN 0..(total - 1) / $BATCH LOOP
    PERFORM bigbrotr.insert_events(array_agg(id), array_agg(pk), array_agg(ca), array_agg(k), array_agg(tg),
      array_agg(ct), array_agg(sg), array_fill('ws://bench'::text, ARRAY[count(*)::int]),
      array_fill('clearnet'::text, ARRAY[count(*)::int]), array_fill(1::bigint, ARRAY[count(*)::int]),
      array_fill(1::bigint, ARRAY[count(*)::int]))
    FROM public.bench_typed WHERE seq > i * $BATCH AND seq <= (i + 1) * $BATCH;
    COMMIT;
  END LOOP;
  INSERT INTO t VALUES (total / extract(epoch FROM clock_timestamp() - t0));
END \$\$" -c "SELECT round(x) FROM t")
q -c "DROP TABLE public.bench_stage, public.bench_typed" >/dev/null

# (a) raw verification rate per core
VER=$(test/bench/verify.sh 2)
RAW=$(echo "$VER" | sed -n 's/^raw secp256k1_schnorrsig_verify: *\([0-9]*\).*/\1/p')
FULL=$(echo "$VER" | sed -n 's/^parse+hash+verify (pubkey cache): *\([0-9]*\).*/\1/p')
CORES=$(nproc)
BOUND=$(echo "m = $RAW * $CORES; if ($INS < m) m = $INS; m" | bc -l)

printf '%-52s %10.0f events/s  (%s events in %.2f s)\n' "end to end (one worker, one relay):" "$E2E" "$EVENTS" "$SECS"
printf '%-52s %10.2f s\n' "worker CPU time (user + sys), $N events:" "$CPU"
printf '%-52s %10s kB   (%s events: %s kB)\n' "worker peak private memory (RssAnon), $N events:" "$PRIV" "$SMALL" "$SMALL_PRIV"
printf '%-52s %10s kB   (%s events: %s kB; includes shared buffers touched)\n' "worker VmHWM, $N events:" "$HWM" "$SMALL" "$SMALL_HWM"
printf '%-52s %s (relay process CPU, both runs: %s s)\n' "relay answers:" "$RECEIVED" "$RELAY_CPU"
printf '%-52s %10.0f verifies/s per core (parse+hash+verify: %s events/s)\n' "(a) raw secp256k1 verify:" "$RAW" "$FULL"
printf '%-52s %10.0f events/s\n' "(b) bigbrotr.insert_events, batch $BATCH:" "$INS"
printf '%-52s %10.1f %%  (bound min(a x %d cores, b) = %.0f events/s)\n' "ratio end to end / bound:" \
  "$(echo "100 * $E2E / $BOUND" | bc -l)" "$CORES" "$BOUND"
