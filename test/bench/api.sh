#!/bin/bash
# api.sh: issue 13's benchmark: requests/s and p50/p99 latency of the api service over an archive of
# N (default 1,000,000) realistic signed events, for
#   GET /v1/events?authors=<one>&limit=100     (the most active author: a full page)
#   GET /v1/events?%23t=<tag>&limit=100        (the most used hashtag)
#   the relay endpoint's REQ for the same two filters (REQ -> EVENTs -> EOSE, then CLOSE)
# each printed beside pgbench running the SQL the handler runs for that filter, in the transaction shape
# the api gives every request (BEGIN READ ONLY, SET LOCAL ROLE bigbrotr_api, the statement timeout),
# with the same number of clients. Prints, never asserts; results also go to test/bench/results/api.txt.
#
# Load: test/bench/gen_events.c (N events, 20,000 skewed authors, 30 days; cached in /tmp between runs,
# generated before the lock is taken), COPY into a staging table, one INSERT into bigbrotr.events with
# the events' secondary indexes dropped and re-created afterwards (their definitions read from the
# catalog, so the schema's own), one sighting per event on one relay, VACUUM ANALYZE.
# Clients: test/bench/api_load.mjs (node, keep-alive HTTP / one WebSocket per client).
# Takes the machine-wide test lock and makes its own throwaway cluster (lib.sh).
#   usage: test/bench/api.sh [N=1000000] [CLIENTS=8] [SECONDS=10]     (smoke: test/bench/api.sh 20000 4 3)
set -euo pipefail
N=${1:-1000000}
C=${2:-8}
D=${3:-10}
API_PORT=57780
HERE=$(cd "$(dirname "$0")" && pwd)
RESULTS=$HERE/results/api.txt

# ---------------------------------------------------------------- events (before the lock)
make -s -C "$HERE" bin/gen_events >/dev/null
CACHE=/tmp/bigbrotr-bench-cache
mkdir -p "$CACHE"
EVENTS=$CACHE/api-events-$N.jsonl
if [ ! -s "$EVENTS" ]; then
  END=$(( $(date +%s) / 86400 * 86400 ))
  "$HERE/bin/gen_events" "$N" "$END" 20000 $(( 30 * 86400 )) 13 > "$EVENTS.tmp" 2> "$EVENTS.summary"
  mv "$EVENTS.tmp" "$EVENTS"
fi
chmod 755 "$CACHE"; chmod 644 "$EVENTS"

source "$HERE/lib.sh"
T_START=$(date +%s)
exec > >(tee "$WORK/out.txt") 2>&1
bench_cluster "shared_buffers = 512MB" "work_mem = 16MB" "max_connections = 200"

echo "== api benchmark: $N events, $C clients, ${D} s per measurement, $(nproc) cores"
echo "load: $(cat "$EVENTS.summary" 2>/dev/null)"
echo "code: $(git log -1 --format='%h %s' | cut -c1-100)"

# ---------------------------------------------------------------- the archive
t=$(date +%s)
q -c "CREATE UNLOGGED TABLE public.bench_stage (doc jsonb)" \
  -c "\\copy public.bench_stage (doc) FROM '$EVENTS' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')" >/dev/null
mapfile -t IDX < <(q -c "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  WHERE i.indrelid = 'bigbrotr.events'::regclass AND NOT i.indisprimary ORDER BY c.relname")
for def in "${IDX[@]}"; do
  name=$(sed -E 's/^CREATE (UNIQUE )?INDEX ([^ ]+) ON .*/\2/' <<< "$def")
  q -c "DROP INDEX bigbrotr.$name" >/dev/null
done
q -c "INSERT INTO bigbrotr.relays (url, network, inserted_at) VALUES ('wss://bench.example.com', 'clearnet', 1)" \
  -c "INSERT INTO bigbrotr.events (id, pubkey, created_at, kind, tags, content, sig)
      SELECT decode(doc->>'id','hex'), decode(doc->>'pubkey','hex'), (doc->>'created_at')::bigint, (doc->>'kind')::int,
             doc->'tags', doc->>'content', decode(doc->>'sig','hex') FROM public.bench_stage ON CONFLICT DO NOTHING" \
  -c "INSERT INTO bigbrotr.events_relays (event_id, relay_url, seen_at, event_created_at)
      SELECT id, 'wss://bench.example.com', created_at + 1, created_at FROM bigbrotr.events" >/dev/null
for def in "${IDX[@]}"; do q -c "$def" >/dev/null; done
q -c "DROP TABLE public.bench_stage" -c "VACUUM ANALYZE" >/dev/null
# the statement-level stats deltas folded now, as the api coordinator would every cycle
q -c "SELECT bigbrotr.api_stats_fold()" >/dev/null 2>&1 || true
echo "archive: $(q -c "SELECT count(*) FROM bigbrotr.events") events, $(q -c "SELECT pg_size_pretty(pg_total_relation_size('bigbrotr.events'))") (loaded in $(( $(date +%s) - t )) s)"

AUTHOR=$(q -c "SELECT encode(pubkey, 'hex') FROM bigbrotr.events GROUP BY pubkey ORDER BY count(*) DESC LIMIT 1")
AUTHOR_N=$(q -c "SELECT count(*) FROM bigbrotr.events WHERE pubkey = decode('$AUTHOR', 'hex')")
TAG=$(q -c "SELECT t->>1 FROM bigbrotr.events, jsonb_array_elements(tags) t WHERE t->>0 = 't' AND t->>1 ~ '^[a-z0-9]+$'
            GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
TAG_N=$(q -c "SELECT count(*) FROM bigbrotr.events WHERE tags @> jsonb_build_array(jsonb_build_array('t', '$TAG'))")
echo "author $AUTHOR: $AUTHOR_N events; tag #t=$TAG: $TAG_N events"
EXPECT_A=$(( AUTHOR_N < 100 ? AUTHOR_N : 100 ))
EXPECT_T=$(( TAG_N < 100 ? TAG_N : 100 ))

# ---------------------------------------------------------------- the api
q -c "ALTER SYSTEM SET bigbrotr.api_port = $API_PORT" -c "ALTER SYSTEM SET bigbrotr.api_workers = 2" \
  -c "SELECT pg_reload_conf()" >/dev/null
q -c "SELECT bigbrotr_start('api')" >/dev/null
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$API_PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$API_PORT/health" >/dev/null || { echo "the api does not answer on $API_PORT"; tail -20 "$BB_PGDATA/server.log"; exit 1; }
TIMEOUT=$(q -c "SHOW bigbrotr.api_statement_timeout")
echo "api: $(curl -s "http://127.0.0.1:$API_PORT/health"), 2 workers"

# ---------------------------------------------------------------- the SQL the handlers run
# The events handler's statement for one filter (src/services/api/api_query_sql.c builds it with $n
# parameters; mirrored here with the values in their place): one author "e.pubkey = $1", one tag value
# "e.tagvalues && $entries" plus the exact recheck of the tag's letter, keyset order, one row past the
# page (REST: limit + 1 to know whether a next page exists; REQ: the limit itself).
SQL_AUTHOR="SELECT e.id, e.pubkey, e.created_at, e.kind, e.tags::text, e.content, e.sig FROM bigbrotr.events e
  WHERE e.pubkey = decode('$AUTHOR', 'hex') ORDER BY e.created_at DESC, e.id DESC LIMIT 101"
SQL_TAG="SELECT e.id, e.pubkey, e.created_at, e.kind, e.tags::text, e.content, e.sig FROM bigbrotr.events e
  WHERE e.tagvalues && ARRAY[bigbrotr.tagvalue_entry('$TAG')] AND EXISTS (SELECT 1 FROM jsonb_array_elements(e.tags) t
  WHERE t->>0 = 't' AND t->>1 = ANY(ARRAY['$TAG'])) ORDER BY e.created_at DESC, e.id DESC LIMIT 101"

pg_run() { # pg_run NAME SQL: pgbench in the api's transaction shape; sets PG_RPS PG_P50 PG_P99
  local name=$1 sql=$2
  printf 'BEGIN READ ONLY;\nSET LOCAL ROLE bigbrotr_api;\nSET LOCAL statement_timeout = %s;\n%s;\nCOMMIT;\n' \
    "'$TIMEOUT'" "$(tr '\n' ' ' <<< "$sql")" > "$WORK/$name.sql"
  chmod 644 "$WORK/$name.sql"
  (cd "$WORK" && pgbench -n -h 127.0.0.1 -p "$BB_PORT" -U postgres -f "$WORK/$name.sql" -c "$C" -j 2 -T "$D" \
     --log --log-prefix="$WORK/pgb_$name" "$BB_DB" > "$WORK/$name.pgbench" 2>&1 9>&-) || { cat "$WORK/$name.pgbench"; exit 1; }
  PG_RPS=$(printf "%.1f" "$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/$name.pgbench" | head -1)")
  cat "$WORK"/pgb_"$name"* | awk '{print $3 / 1000}' | sort -n > "$WORK/$name.lat"
  local n; n=$(wc -l < "$WORK/$name.lat")
  PG_P50=$(sed -n "$(( n / 2 + 1 ))p" "$WORK/$name.lat")
  PG_P99=$(sed -n "$(( n * 99 / 100 + 1 ))p" "$WORK/$name.lat")
}

load() { node "$HERE/api_load.mjs" "$@" 9>&-; }
j() { node -e "const r=JSON.parse(process.argv[1]); console.log(r[process.argv[2]])" "$1" "$2"; }
row() { printf '  %-44s %10s %10s %10s %s\n' "$@"; }

echo
echo "== results ($C concurrent clients, $D s each; latency in ms)"
row "" "req/s" "p50" "p99" ""
for which in author tag; do
  if [ $which = author ]; then
    path="/v1/events?authors=$AUTHOR&limit=100"; filter="{\"authors\":[\"$AUTHOR\"],\"limit\":100}"; sql=$SQL_AUTHOR; exp=$EXPECT_A
  else
    path="/v1/events?%23t=$TAG&limit=100"; filter="{\"#t\":[\"$TAG\"],\"limit\":100}"; sql=$SQL_TAG; exp=$EXPECT_T
  fi
  r=$(load http "http://127.0.0.1:$API_PORT$path" "$C" "$D" "$exp")
  row "GET ${path:0:38}" "$(j "$r" rps)" "$(j "$r" p50_ms)" "$(j "$r" p99_ms)" "errors $(j "$r" errors), client cpu $(j "$r" client_cpu_pct)% $(j "$r" first_error | sed 's/^null$//')"
  r=$(load ws "ws://127.0.0.1:$API_PORT" "$C" "$D" "$filter" "$exp")
  row "relay REQ ${filter:0:34}" "$(j "$r" rps)" "$(j "$r" p50_ms)" "$(j "$r" p99_ms)" "errors $(j "$r" errors), client cpu $(j "$r" client_cpu_pct)% $(j "$r" first_error | sed 's/^null$//')"
  pg_run "$which" "$sql"
  row "pgbench, the same SQL ($which)" "$PG_RPS" "$PG_P50" "$PG_P99" ""
done

echo
echo "plans (EXPLAIN ANALYZE, as bigbrotr_api):"
for which in author tag; do
  [ $which = author ] && sql=$SQL_AUTHOR || sql=$SQL_TAG
  q -c "SET ROLE bigbrotr_api" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $sql" | sed 's/^/    /' | grep -E 'Index|Scan|Limit|Execution|Sort' | head -8
done
echo "  (run time $(( $(date +%s) - T_START )) s)"
mkdir -p "$(dirname "$RESULTS")"
cp "$WORK/out.txt" "$RESULTS"
