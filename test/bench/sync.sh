#!/bin/bash
# sync.sh: the synchronizer end to end on a network-like load, each figure beside the machine's limit
# measured in the same run. Prints, never asserts on time.
#
# Load: N signed events that look like the network (test/bench/gen_events.c: content ~360 B, tags
# ~290 B with e/p/t/imeta/r values, thousands of authors, nine kinds; its averages are printed first),
# created_at spread over the SPAN seconds before now. R honest fixture relays per set, all served by
# one node process (test/fixtures/sync_relays.mjs --serve, GET /stats on each port for the bytes sent).
# The synchronizer runs with 2 worker processes (synchronizer_max_processes = 2, default max_parallel,
# stagger 0), each run being one cycle (the service is started and its first cycle waited for):
#   M  memory:   N/5 events split over R relays, fresh archive (worker peak RssAnon at N/5)
#   A  new:      N events split over R relays (disjoint), fresh archive: CPU per new event
#   B  known:    the same split on R other relay URLs, into A's archive: CPU per known sighting
#   C  overlap:  fresh archive, each event on ~COPIES of R relays (random subsets): events/s, sightings/s
#   C2 cycle 2:  C's relays again, unchanged: bytes the relays sent in cycle 2 / cycle 1
# Workers' CPU and peak private memory come from their "worker done" log lines (summed over workers).
# Then the machine's limit from its parts, on the same events: parse+verify per CPU-second
# (test/bench/verify.sh) and bigbrotr.insert_events per CPU-second of one backend at the
# synchronizer's batch size, one transaction per batch; limit = cores / (1/verify + 1/insert).
# Per-relay stats of the queue (events_known, bytes_received) are printed when the code reports them.
# Takes the machine-wide test lock and makes its own throwaway cluster.
#   usage: test/bench/sync.sh [N=50000] [R=8] [COPIES=4] [SPAN=345600]     (smoke: test/bench/sync.sh 2000)
set -euo pipefail
N=${1:-50000}
R=${2:-8}
COPIES=${3:-4}
SPAN=${4:-345600}
SMALL=$(( N / 5 ))
source "$(dirname "$0")/lib.sh"
make -s -C test/bench bin/gen_events >/dev/null
T_START=$(date +%s)

# ---------------------------------------------------------------- events and relay files
END=$(( $(date +%s) - 60 ))
GEN=$(test/bench/bin/gen_events "$N" "$END" 5000 "$SPAN" 2>&1 > "$WORK/all.jsonl")
IN_LOOKBACK=$(awk -v t=$(( END - 86400 )) -F'"created_at":' '{split($2, a, ","); if (a[1] + 0 >= t) n++} END {printf "%.1f", 100 * n / NR}' "$WORK/all.jsonl")
# disjoint split (M, A, B): line i to relay i mod R; overlap (C): each relay independently with
# probability COPIES/R, at least one
awk -v r="$R" -v d="$WORK" -v small="$SMALL" '{ f = d "/a" (NR % r) ".jsonl"; print > f; if (NR <= small) print > (d "/m" (NR % r) ".jsonl") }' "$WORK/all.jsonl"
awk -v r="$R" -v c="$COPIES" -v d="$WORK" 'BEGIN { srand(7) } {
  k = 0; for (i = 0; i < r; i++) if (rand() < c / r) { print > (d "/c" i ".jsonl"); k++ }
  if (k == 0) print > (d "/c" int(rand() * r) ".jsonl") }' "$WORK/all.jsonl"
for i in $(seq 0 $((R - 1))); do for s in a m c; do touch "$WORK/$s$i.jsonl"; done; done
chmod 644 "$WORK"/*.jsonl
C_SIGHTINGS=$(cat "$WORK"/c*.jsonl | wc -l)
FILES=()
for s in m a a c; do for i in $(seq 0 $((R - 1))); do FILES+=("$WORK/$s$i.jsonl"); done; done
bench_spawn "$WORK/relays.out" node test/fixtures/sync_relays.mjs --serve "${FILES[@]}"
RELAY_PID=$BENCH_PID
for _ in $(seq 1 1200); do grep -q '^ready' "$WORK/relays.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$WORK/relays.out" || { echo "the fixture relays did not start:"; cat "$WORK/relays.out"; exit 1; }
mapfile -t URLS < <(grep '^ws://' "$WORK/relays.out")
M_URLS=("${URLS[@]:0:R}"); A_URLS=("${URLS[@]:R:R}"); B_URLS=("${URLS[@]:2*R:R}"); C_URLS=("${URLS[@]:3*R:R}")

# BENCH_SETTINGS: extra postgresql.conf lines separated by ';' (e.g. "bigbrotr.synchronizer_verify_threads = 1")
IFS=';' read -r -a EXTRA <<< "${BENCH_SETTINGS:-}"
bench_cluster "bigbrotr.allow_private_addresses = on" "bigbrotr.synchronizer_stagger_delay = 0" "bigbrotr.synchronizer_negentropy = off" \
  "bigbrotr.synchronizer_max_processes = 2" "shared_buffers = 512MB" "${EXTRA[@]}"
BATCH=$(q -c "SHOW bigbrotr.synchronizer_batch_size")
LIMIT=$(q -c "SHOW bigbrotr.synchronizer_limit")
PARALLEL=$(q -c "SHOW bigbrotr.synchronizer_max_parallel")
LOOKBACK=$(q -c "SHOW bigbrotr.synchronizer_lookback_seconds")

echo "== synchronizer benchmark: $N events, $R relays a set, $(nproc) cores, 2 worker processes (max_parallel $PARALLEL), limit $LIMIT, batch $BATCH, lookback $LOOKBACK"
echo "load: $GEN"
echo "load: created_at over the last $SPAN s, $IN_LOOKBACK % of the events within the last 24 h; overlap run: $C_SIGHTINGS sightings = $(echo "scale=2; $C_SIGHTINGS / $N" | bc) relays per event"
echo "code: $(git log -1 --format='%h %s' | cut -c1-100)"

# ---------------------------------------------------------------- one cycle over a set of relays
stop_wait() {
  q -c "SELECT bigbrotr.bigbrotr_stop('synchronizer')" >/dev/null 2>&1 || true
  for _ in $(seq 1 300); do
    [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'bigbrotr synchronizer%'")" = 0 ] && return
    sleep 0.1
  done
  echo "WARNING: synchronizer workers still running after 30 s"
}

fresh() {
  stop_wait
  q -c "DROP EXTENSION bigbrotr CASCADE" -c "CREATE EXTENSION bigbrotr" >/dev/null
}

relay_bytes() { # sum of wireBytes over the relay URLs given
  local u sum=0 b
  for u in "$@"; do
    b=$(curl -s "${u/ws:/http:}/stats" | jq .wireBytes)
    sum=$((sum + b))
  done
  echo "$sum"
}

proc_cpu() { # CPU seconds (user + sys) of a process
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}

# run_cycle URL...: the synchronizer syncs exactly these relays in one cycle. Sets SECS WCPU WPRIV
# WORKERS SPREAD BYTES RELAY_CPU KNOWN RXBYTES RECEIVED NEW SIGHTINGS EVENTS REQS
run_cycle() {
  local urls=("$@") list before mark log b0 c0
  list=$(printf "'%s'," "${urls[@]}"); list=${list%,}
  stop_wait
  q -c "DELETE FROM bigbrotr.synchronizer_relays" -c "INSERT INTO bigbrotr.synchronizer_relays (relay_url) SELECT unnest(ARRAY[$list])" >/dev/null
  before=$(q -c "SELECT cycles_run FROM bigbrotr.bigbrotr_status() WHERE name = 'synchronizer'")
  mark=$(wc -c < "$BB_PGDATA/server.log")
  b0=$(relay_bytes "${urls[@]}"); c0=$(proc_cpu "$RELAY_PID")
  q -c "SELECT bigbrotr.bigbrotr_start('synchronizer')" >/dev/null
  for _ in $(seq 1 7200); do
    [ "$(q -c "SELECT cycles_run FROM bigbrotr.bigbrotr_status() WHERE name = 'synchronizer'")" -gt "$before" ] && break
    sleep 0.25
  done
  stop_wait
  BYTES=$(( $(relay_bytes "${urls[@]}") - b0 ))
  RELAY_CPU=$(echo "$(proc_cpu "$RELAY_PID") - $c0" | bc)
  SECS=$(q -c "SELECT extract(epoch FROM last_cycle_duration) FROM bigbrotr.bigbrotr_status() WHERE name = 'synchronizer'")
  log=$(tail -c +"$((mark + 1))" "$BB_PGDATA/server.log" | grep 'worker done' || true)
  WORKERS=$(echo "$log" | grep -c 'worker done' || true)
  WCPU=$(echo "$log" | sed -n 's/.*cpu user \([0-9.]*\) s sys \([0-9.]*\) s.*/\1 \2/p' | awk '{ s += $1 + $2 } END { printf "%.2f", s }')
  WPRIV=$(echo "$log" | sed -n 's/.*peak private (RssAnon) \([0-9]*\) kB.*/\1/p' | sort -n | tail -1)
  SPREAD=$(echo "$log" | sed -n 's/.*worker done: \([0-9]*\) relays.*/\1/p' | sort -rn | paste -sd/)
  read -r RECEIVED NEW KNOWN RXBYTES REQS < <(q -F' ' -c "SELECT coalesce(sum((stats->>'events_received')::bigint), 0),
      coalesce(sum((stats->>'events_new')::bigint), 0),
      coalesce(sum((stats->>'events_known')::bigint)::text, 'n/a'), coalesce(sum((stats->>'bytes_received')::bigint)::text, 'n/a'),
      coalesce(sum((stats->>'requests')::bigint), 0)
    FROM bigbrotr.synchronizer_queue WHERE relay_url = ANY(ARRAY[$list])")
  ENDS=$(q -c "SELECT string_agg(e || ' ' || n, ', ') FROM (SELECT coalesce(stats->>'end', 'unfinished') e, count(*) n
      FROM bigbrotr.synchronizer_queue WHERE relay_url = ANY(ARRAY[$list]) GROUP BY 1 ORDER BY 1) x")
  SIGHTINGS=$(q -c "SELECT count(*) FROM bigbrotr.events_relays WHERE relay_url = ANY(ARRAY[$list])")
  EVENTS=$(q -c "SELECT count(*) FROM bigbrotr.events")
  [ "$WORKERS" -gt 0 ] || echo "WARNING: no 'worker done' line in the log for this cycle"
}

line() { printf '  %-44s %s\n' "$1" "$2"; }
per() { echo "scale=6; $1 / $2" | bc; }
cycle_summary() { # LABEL
  line "cycle:" "$(printf '%.2f s, %s worker(s) (relays each: %s), %s requests, %s events received' "$SECS" "$WORKERS" "${SPREAD:-?}" "$REQS" "$RECEIVED")"
  line "workers' CPU (user + sys):" "$(printf '%.2f s (%.0f %% of one core over the cycle)' "$WCPU" "$(echo "100 * $WCPU / $SECS" | bc -l)")"
  line "relays' CPU (the node process):" "$(printf '%.2f s' "$RELAY_CPU")"
  line "relays sent:" "$(printf '%.1f MB' "$(echo "$BYTES / 1000000" | bc -l)")"
  line "queue stats: events_known, bytes_received:" "$KNOWN, $RXBYTES"
  line "relays' ends:" "$ENDS"
}

# ---------------------------------------------------------------- the runs
echo
echo "M: $SMALL events split over $R relays (memory at N/5)"
fresh; run_cycle "${M_URLS[@]}"
M_PRIV=$WPRIV
cycle_summary
line "worker peak private memory (RssAnon):" "${M_PRIV:-?} kB"

echo
echo "A: $N new events split over $R relays (disjoint), fresh archive"
fresh; run_cycle "${A_URLS[@]}"
A_SECS=$SECS A_CPU=$WCPU A_PRIV=$WPRIV A_EVENTS=$EVENTS
cycle_summary
[ "$A_EVENTS" = "$N" ] || echo "  WARNING: archived $A_EVENTS of $N events"
A_US=$(echo "1000000 * $A_CPU / $A_EVENTS" | bc -l)
line "new events/s:" "$(printf '%.0f' "$(per "$A_EVENTS" "$A_SECS")")"
line "CPU per new event:" "$(printf '%.1f µs' "$A_US")"
line "worker peak private memory (RssAnon):" "${A_PRIV:-?} kB (at N/5: ${M_PRIV:-?} kB)"

echo
echo "B: the same $N events on $R other relay URLs, into A's archive (every event known)"
run_cycle "${B_URLS[@]}"
B_CPU=$WCPU B_SIGHTINGS=$SIGHTINGS
cycle_summary
[ "$B_SIGHTINGS" = "$N" ] || echo "  WARNING: recorded $B_SIGHTINGS of $N sightings"
[ "$EVENTS" = "$N" ] || echo "  WARNING: the archive holds $EVENTS events, expected $N"
B_US=$(echo "1000000 * $B_CPU / $B_SIGHTINGS" | bc -l)
line "known sightings/s:" "$(printf '%.0f' "$(per "$B_SIGHTINGS" "$SECS")")"
line "CPU per known sighting:" "$(printf '%.1f µs' "$B_US")"

echo
echo "C: $N events on ~$COPIES of $R relays each ($C_SIGHTINGS sightings), fresh archive"
fresh; run_cycle "${C_URLS[@]}"
C_SECS=$SECS C_EVENTS=$EVENTS C_ROWS=$SIGHTINGS C_BYTES=$BYTES C_CPU=$WCPU C_RELAY_CPU=$RELAY_CPU
cycle_summary
[ "$C_EVENTS" = "$N" ] || echo "  WARNING: archived $C_EVENTS of $N events"
[ "$C_ROWS" = "$C_SIGHTINGS" ] || echo "  WARNING: recorded $C_ROWS of $C_SIGHTINGS sightings"
C_RATE=$(per "$C_EVENTS" "$C_SECS")
line "new events/s:" "$(printf '%.0f' "$C_RATE")"
line "sightings/s:" "$(printf '%.0f' "$(per "$C_ROWS" "$C_SECS")")"

echo
echo "C2: a second cycle over C's unchanged relays"
run_cycle "${C_URLS[@]}"
C2_BYTES=$BYTES
cycle_summary

# ---------------------------------------------------------------- the machine's limit from its parts
# insert: one backend, one transaction per batch of BATCH events, CPU of that backend (/proc/self/stat)
fresh
q -c "CREATE TABLE public.bench_stage (seq serial, doc jsonb)" \
  -c "\\copy public.bench_stage (doc) FROM '$WORK/all.jsonl' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')" >/dev/null
q -c "CREATE TABLE public.bench_typed AS SELECT seq, decode(doc->>'id','hex') id, decode(doc->>'pubkey','hex') pk,
        (doc->>'created_at')::bigint ca, (doc->>'kind')::int k, doc->'tags' tg, doc->>'content' ct, decode(doc->>'sig','hex') sg
      FROM public.bench_stage" -c "CREATE INDEX ON public.bench_typed (seq)" -c "ANALYZE public.bench_typed" \
  -c "CREATE FUNCTION public.bench_cpu() RETURNS float8 LANGUAGE sql AS \$\$
        SELECT (split_part(s, ' ', 12)::float8 + split_part(s, ' ', 13)::float8) / $(getconf CLK_TCK)
        FROM (SELECT regexp_replace(pg_read_file('/proc/self/stat'), '^.*\) ', '') s) x \$\$" >/dev/null
read -r INS_CPU INS_WALL < <(q -F' ' -c "CREATE TEMP TABLE t(cpu float8, wall float8)" -c "DO \$\$
DECLARE t0 timestamptz := clock_timestamp(); c0 float8 := public.bench_cpu(); total int;
BEGIN
  SELECT count(*) INTO total FROM public.bench_typed;
  FOR i IN 0..(total - 1) / $BATCH LOOP
    PERFORM bigbrotr.insert_events(array_agg(id), array_agg(pk), array_agg(ca), array_agg(k), array_agg(tg),
      array_agg(ct), array_agg(sg), array_fill('ws://bench.example'::text, ARRAY[count(*)::int]),
      array_fill('clearnet'::text, ARRAY[count(*)::int]), array_fill(1::bigint, ARRAY[count(*)::int]),
      array_fill(1::bigint, ARRAY[count(*)::int]))
    FROM public.bench_typed WHERE seq > i * $BATCH AND seq <= (i + 1) * $BATCH;
    COMMIT;
  END LOOP;
  INSERT INTO t VALUES (public.bench_cpu() - c0, extract(epoch FROM clock_timestamp() - t0));
END \$\$" -c "SELECT cpu, wall FROM t")
INS_EVENTS=$(q -c "SELECT count(*) FROM bigbrotr.events")
q -c "DROP TABLE public.bench_stage, public.bench_typed" -c "DROP FUNCTION public.bench_cpu()" >/dev/null
INS=$(echo "$INS_EVENTS / $INS_CPU" | bc -l)

VER_OUT=$(test/bench/verify.sh 2 "$WORK/all.jsonl")
VER=$(echo "$VER_OUT" | sed -n 's/^parse+hash+verify (pubkey cache): *\([0-9]*\).*/\1/p')
RAW=$(echo "$VER_OUT" | sed -n 's/^raw secp256k1_schnorrsig_verify: *\([0-9]*\).*/\1/p')
CORES=$(nproc)
LIM=$(echo "$CORES / (1 / $VER + 1 / $INS)" | bc -l)

echo
echo "machine's limit, from its parts on the same events"
line "parse+hash+verify (pubkey cache):" "$(printf '%.0f events per CPU-second (raw schnorrsig_verify: %s/s)' "$VER" "$RAW")"
line "bigbrotr.insert_events, batch $BATCH:" "$(printf '%.0f events per CPU-second (%s events, %.2f s CPU, %.2f s wall)' "$INS" "$INS_EVENTS" "$INS_CPU" "$INS_WALL")"
line "cores:" "$CORES"
line "limit = cores / (1/verify + 1/insert):" "$(printf '%.0f new events/s' "$LIM")"

echo
echo "== summary ($N events, $R relays, 2 worker processes; targets in brackets)"
line "end to end, new events (A):" "$(printf '%8.0f events/s = %5.1f %% of the limit %.0f  [>= 80 %%]' "$(per "$A_EVENTS" "$A_SECS")" "$(echo "100 * $A_EVENTS / $A_SECS / $LIM" | bc -l)" "$LIM")"
line "end to end, overlapping (C):" "$(printf '%8.0f events/s = %5.1f %% of the limit, %.0f sightings/s' "$C_RATE" "$(echo "100 * $C_RATE / $LIM" | bc -l)" "$(per "$C_ROWS" "$C_SECS")")"
line "CPU per new event (A):" "$(printf '%8.1f µs (verify + insert from the parts: %.1f µs)' "$A_US" "$(echo "1000000 * (1 / $VER + 1 / $INS)" | bc -l)")"
line "CPU per known sighting (B):" "$(printf '%8.1f µs = %.1fx cheaper than a new event  [>= 5x]' "$B_US" "$(echo "$A_US / $B_US" | bc -l)")"
line "CPU of the overlapping run (C):" "$(printf '%8.1f µs per sighting' "$(echo "1000000 * $C_CPU / $C_ROWS" | bc -l)")"
line "fixture relays' CPU during C:" "$(printf '%8.2f s = %.1f %% of the machine over the cycle (it shares the cores)' "$C_RELAY_CPU" "$(echo "100 * $C_RELAY_CPU / $C_SECS / $CORES" | bc -l)")"
line "worker peak private memory (RssAnon):" "$(printf '%8s kB at %s events, %s kB at %s' "${A_PRIV:-?}" "$N" "${M_PRIV:-?}" "$SMALL")"
line "second cycle, bytes sent (C2 / C):" "$(printf '%8.2f %% (%s of %s bytes)  [< 2 %%]' "$(echo "100 * $C2_BYTES / $C_BYTES" | bc -l)" "$C2_BYTES" "$C_BYTES")"
echo "  (run time $(( $(date +%s) - T_START )) s)"
