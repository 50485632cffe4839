#!/usr/bin/env bash
# schema_insert_cost.sh: the insert cost of realistic events on the 0.1.0 schema against the 0.2.0
# one, through insert_events in batches of 500 as the synchronizer calls it, on a running cluster
# with bigbrotr installed (both versions' scripts). Prints times and their ratio (never asserts);
# also the per-row size of events_relays' primary key with the relay as URL text vs an integer key.
#   PGPORT=54329 test/bench/schema_insert_cost.sh [events=100000] [rounds=2]
set -euo pipefail
N=${1:-100000}
ROUNDS=${2:-2}
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PGPORT:-54329}" -U postgres)

# Realistic events, the same in every database (setseed): content ~360 B, tags ~290 B with e, p, p
# and t values of high cardinality, 2000 authors, 12 kinds.
GEN="SELECT setseed(0.5);
CREATE TABLE gen AS SELECT
  sha256(int8send(i)) AS id, sha256(int4send((random() * 2000)::int)) AS pubkey, 1700000000 + i / 4 AS created_at,
  (ARRAY[1, 1, 1, 1, 7, 6, 0, 3, 10002, 30023, 1111, 9735])[1 + (random() * 11)::int] AS kind,
  jsonb_build_array(jsonb_build_array('e', encode(sha256(int8send(i * 7)), 'hex'), 'wss://relay.example.com', 'reply'),
                    jsonb_build_array('p', encode(sha256(int8send(i * 11)), 'hex')),
                    jsonb_build_array('p', encode(sha256(int8send((random() * 5000)::int)), 'hex')),
                    jsonb_build_array('t', 'topic' || (random() * 3000)::int)) AS tags,
  left(repeat(md5(i::text) || ' ', 12), 340 + (random() * 40)::int) AS content,
  decode(repeat('ab', 64), 'hex') AS sig
FROM generate_series(1, $N) i;
-- The batches, prepared as arrays, so that the timed loop does nothing but call insert_events.
CREATE TABLE batches AS SELECT (row_number() OVER (ORDER BY created_at, id) - 1) / 500 AS b, * FROM gen;
CREATE TABLE batch_arrays AS SELECT b, array_agg(id) AS ids, array_agg(pubkey) AS pubkeys,
  array_agg(created_at::bigint) AS created_ats, array_agg(kind) AS kinds, array_agg(tags) AS tagss,
  array_agg(content) AS contents, array_agg(sig) AS sigs, count(*)::int AS n FROM batches GROUP BY b;
DROP TABLE batches;"
TIME_INSERT="DO \$\$
DECLARE t0 timestamptz := clock_timestamp(); r record;
BEGIN
  FOR r IN SELECT * FROM batch_arrays ORDER BY b LOOP
    PERFORM bigbrotr.insert_events(r.ids, r.pubkeys, r.created_ats, r.kinds, r.tagss, r.contents, r.sigs,
        array_fill('wss://relay.example.com'::text, ARRAY[r.n]), array_fill('clearnet'::text, ARRAY[r.n]),
        array_fill(1::bigint, ARRAY[r.n]), r.created_ats);
  END LOOP;
  RAISE NOTICE '%', extract(epoch FROM clock_timestamp() - t0);
END \$\$;"

for v in 0.1.0 0.2.0; do
  db=bb_cost_${v//./}
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  "${PSQL[@]}" -d "$db" -c "CREATE EXTENSION bigbrotr VERSION '$v'" -c "$GEN" >/dev/null
done
echo "avg sizes: $("${PSQL[@]}" -d bb_cost_020 -c "SELECT 'content ' || avg(octet_length(content))::int || ' B, tags ' || avg(octet_length(tags::text))::int || ' B' FROM gen")"
for r in $(seq 1 "$ROUNDS"); do
  for v in 0.1.0 0.2.0; do
    db=bb_cost_${v//./}
    "${PSQL[@]}" -d "$db" -c "TRUNCATE bigbrotr.events_relays, bigbrotr.events, bigbrotr.relays, bigbrotr.finder_queue CASCADE" -c "CHECKPOINT"
    s=$("${PSQL[@]}" -d "$db" -c "$TIME_INSERT" 2>&1 | sed -n 's/.*NOTICE: *//p')
    echo "round $r schema $v: $N events in $s s ($(awk -v n="$N" -v s="$s" 'BEGIN{printf "%.1f", s*1e6/n}') us/event)"
    eval "t_${v//./}_$r=$s"
  done
done
for r in $(seq 1 "$ROUNDS"); do
  eval "a=\$t_010_$r; b=\$t_020_$r"
  echo "round $r: 0.2.0 / 0.1.0 insert time = $(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", b/a}')"
done

# The primary key of events_relays per row: (event_id, relay_url text) vs (event_id, relay_id integer).
"${PSQL[@]}" -d bb_cost_020 -c "
CREATE TABLE pk_text (event_id bytea, relay_url text, seen_at bigint, PRIMARY KEY (event_id, relay_url));
CREATE TABLE pk_int (event_id bytea, relay_id integer, seen_at bigint, PRIMARY KEY (event_id, relay_id));
INSERT INTO pk_text SELECT sha256(int8send(i / 4)), 'wss://relay' || (i % 400) || '.example.com', i FROM generate_series(1, 1000000) i;
INSERT INTO pk_int SELECT sha256(int8send(i / 4)), i % 400, i FROM generate_series(1, 1000000) i;" >/dev/null
"${PSQL[@]}" -d bb_cost_020 -c "SELECT 'events_relays PK per row: text URL (avg ' || (SELECT avg(octet_length(relay_url))::int FROM pk_text)
  || ' B) ' || round(pg_relation_size('pk_text_pkey') / 1e6, 1) || ' B, integer relay id ' || round(pg_relation_size('pk_int_pkey') / 1e6, 1) || ' B'"
for v in 010 020; do "${PSQL[@]}" -d postgres -c "DROP DATABASE bb_cost_$v"; done
