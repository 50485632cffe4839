#!/usr/bin/env bash
# schema_insert_cost.sh: what a schema version costs the writers, 0.3.0 against 0.4.0 (or the versions
# given in VERSIONS, e.g. VERSIONS="0.2.0 0.3.0"), in the same run, on the same realistic events, in one
# throwaway cluster:
#   new     bigbrotr.insert_events in batches of 500 (the synchronizer's new events): us per event
#   known   bigbrotr.insert_sightings of the same events on a second relay, batches of 500 (the
#           synchronizer's known events): us per sighting
#   items   (with 0.3.0) a relay's (created_at, id) items of N events, sorted, as negentropy needs them:
#           0.3.0's bigbrotr.relay_items (index-only scan) against the join 0.2.0 would need; ms per scan
#   update  ALTER EXTENSION bigbrotr UPDATE from 0.2.0 on an archive of N events and 10 N sightings
#           (it rewrites events_relays), and from 0.3.0 to 0.4.0 on N events (one scan of events to
#           fill event_stats): seconds
#   stats   (with 0.4.0) the delta rows N new events left, the time of bigbrotr.api_stats_fold() over
#           them, and of bigbrotr.api_stats(30) before and after the fold (best of 5)
# and, as before, the per-row size of events_relays' primary key with the relay as URL text vs an
# integer key. Prints times and ratios, never asserts. Takes the machine-wide test lock.
#   test/bench/schema_insert_cost.sh [events=100000] [rounds=2]
set -euo pipefail
N=${1:-100000}
ROUNDS=${2:-2}
VERSIONS=${VERSIONS:-"0.3.0 0.4.0"}
source "$(dirname "$0")/lib.sh"
bench_cluster
P() { cluster_psql -At "$@"; }
us() { awk -v n="$1" -v s="$2" 'BEGIN{printf "%.1f", s*1e6/n}'; }

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
-- The batches, prepared as arrays, so that the timed loops do nothing but call the procedures.
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
# Known events seen on another relay (:relay), as the synchronizer records them.
TIME_SIGHT="DO \$\$
DECLARE t0 timestamptz := clock_timestamp(); r record;
BEGIN
  FOR r IN SELECT * FROM batch_arrays ORDER BY b LOOP
    PERFORM bigbrotr.insert_sightings(r.ids, current_setting('bench.relay'), 'clearnet', 1, 2);
  END LOOP;
  RAISE NOTICE '%', extract(epoch FROM clock_timestamp() - t0);
END \$\$;"
notice() { sed -n 's/.*NOTICE: *//p'; }

for v in $VERSIONS; do
  db=bb_cost_${v//./}
  P -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  P -d "$db" -c "CREATE EXTENSION bigbrotr VERSION '$v'" -c "$GEN" >/dev/null
done
first=${VERSIONS%% *}
echo "avg sizes: $(P -d bb_cost_${first//./} -c "SELECT 'content ' || avg(octet_length(content))::int || ' B, tags ' || avg(octet_length(tags::text))::int || ' B' FROM gen")"
for r in $(seq 1 "$ROUNDS"); do
  for v in $VERSIONS; do
    db=bb_cost_${v//./}; k=${v//./}
    P -d "$db" -c "TRUNCATE bigbrotr.events_relays, bigbrotr.events, bigbrotr.relays, bigbrotr.finder_queue CASCADE" -c "CHECKPOINT"
    s=$(P -d "$db" -c "$TIME_INSERT" 2>&1 | notice)
    P -d "$db" -c "CHECKPOINT"
    k2=$(P -d "$db" -c "SET bench.relay = 'wss://known.example.com'" -c "$TIME_SIGHT" 2>&1 | notice)
    echo "round $r schema $v: $N new events in $s s ($(us "$N" "$s") us/event), $N known sightings in $k2 s ($(us "$N" "$k2") us/sighting)"
    eval "new_${k}_$r=$s; known_${k}_$r=$k2"
  done
done
set -- $VERSIONS
a=${1//./}; b=${2//./}
for r in $(seq 1 "$ROUNDS"); do
  eval "n1=\$new_${a}_$r; n2=\$new_${b}_$r; k1=\$known_${a}_$r; k2=\$known_${b}_$r"
  echo "round $r: $2 / $1 time: new events $(awk -v a="$n1" -v b="$n2" 'BEGIN{printf "%.2f", b/a}'), known sightings $(awk -v a="$k1" -v b="$k2" 'BEGIN{printf "%.2f", b/a}')"
done

# A relay's items (N of them), sorted by (created_at, id), five scans each after VACUUM.
if [[ " $VERSIONS " == *" 0.3.0 "* ]]; then
  P -d bb_cost_030 -c "VACUUM ANALYZE bigbrotr.events_relays" -c "VACUUM ANALYZE bigbrotr.events"
  [[ " $VERSIONS " == *" 0.2.0 "* ]] && P -d bb_cost_020 -c "VACUUM ANALYZE bigbrotr.events_relays" -c "VACUUM ANALYZE bigbrotr.events"
  scan() { # db query
    P -d "$1" -c "DO \$\$ DECLARE t0 timestamptz; n bigint; best float8 := 1e9; BEGIN
      FOR i IN 1..5 LOOP t0 := clock_timestamp(); EXECUTE '$2' INTO n;
        best := least(best, extract(epoch FROM clock_timestamp() - t0)); END LOOP;
      RAISE NOTICE '% % ms', n, round((best * 1000)::numeric, 1); END \$\$;" 2>&1 | notice
  }
  echo "items of a relay, 0.3.0 relay_items (best of 5): $(scan bb_cost_030 "SELECT count(*) FROM (SELECT * FROM bigbrotr.relay_items(''wss://relay.example.com'', NULL, NULL, NULL)) s")"
  P -d bb_cost_030 -At -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM bigbrotr.relay_items('wss://relay.example.com', NULL, NULL, NULL)" | sed 's/^/    /'
  if [[ " $VERSIONS " == *" 0.2.0 "* ]]; then
    echo "items of a relay, 0.2.0 join events (best of 5): $(scan bb_cost_020 "SELECT count(*) FROM (SELECT e.created_at, e.id FROM bigbrotr.events_relays er JOIN bigbrotr.events e ON e.id = er.event_id WHERE er.relay_url = ''wss://relay.example.com'' ORDER BY 1, 2) s")"
  fi
fi

# The update's cost: 0.2.0 archive with N events and 10 N sightings (8 more relays of known events).
if [[ " $VERSIONS " == *" 0.2.0 "* && " $VERSIONS " == *" 0.3.0 "* ]]; then
  for i in $(seq 1 8); do P -d bb_cost_020 -c "SET bench.relay = 'wss://more$i.example.com'" -c "$TIME_SIGHT" >/dev/null 2>&1; done
  P -d bb_cost_020 -c "VACUUM ANALYZE bigbrotr.events_relays" -c "CHECKPOINT"
  rows=$(P -d bb_cost_020 -c "SELECT count(*) FROM bigbrotr.events_relays")
  size=$(P -d bb_cost_020 -c "SELECT pg_size_pretty(pg_total_relation_size('bigbrotr.events_relays'))")
  t0=$(date +%s.%N)
  P -d bb_cost_020 -c "ALTER EXTENSION bigbrotr UPDATE TO '0.3.0'"
  t1=$(date +%s.%N)
  size2=$(P -d bb_cost_020 -c "SELECT pg_size_pretty(pg_total_relation_size('bigbrotr.events_relays'))")
  echo "update 0.2.0 -> 0.3.0: $rows sightings ($size with indexes; after: $size2) in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s ($(awk -v a="$t0" -v b="$t1" -v n="$rows" 'BEGIN{printf "%.1f", (b-a)*1e6/n}') s per million sightings)"
fi

# 0.4.0's stats: the deltas N new events left (one row per (day, kind) per statement), the fold, and
# api_stats over them before and after it. Then the update 0.3.0 -> 0.4.0 on the 0.3.0 archive of N events.
if [[ " $VERSIONS " == *" 0.4.0 "* ]]; then
  best() { # db query: best of 5, ms
    P -d "$1" -c "DO \$\$ DECLARE t0 timestamptz; best float8 := 1e9; BEGIN
      FOR i IN 1..5 LOOP t0 := clock_timestamp(); PERFORM $2;
        best := least(best, extract(epoch FROM clock_timestamp() - t0)); END LOOP;
      RAISE NOTICE '% ms', round((best * 1000)::numeric, 2); END \$\$;" 2>&1 | notice
  }
  # The triggers' own cost, paired in one database: each round inserts the N events with the stats
  # triggers disabled, then enabled (TRUNCATE in between), so both see the same tables and load.
  for r in $(seq 1 "$ROUNDS"); do
    for mode in DISABLE ENABLE; do
      P -d bb_cost_040 -c "TRUNCATE bigbrotr.events_relays, bigbrotr.events, bigbrotr.relays, bigbrotr.finder_queue CASCADE" \
        -c "ALTER TABLE bigbrotr.events $mode TRIGGER events_stats_insert" -c "CHECKPOINT" >/dev/null 2>&1
      t=$(P -d bb_cost_040 -c "$TIME_INSERT" 2>&1 | notice)
      if [ "$mode" = DISABLE ]; then t_off=$t; else t_on=$t; fi
    done
    echo "round $r stats triggers: $N new events without them $t_off s, with them $t_on s (ratio $(awk -v a="$t_off" -v b="$t_on" 'BEGIN{printf "%.3f", b/a}'))"
  done
  deltas=$(P -d bb_cost_040 -c "SELECT count(*) FROM bigbrotr.event_stats_delta")
  s1=$(best bb_cost_040 "bigbrotr.api_stats(30)")
  t0=$(date +%s.%N)
  folded=$(P -d bb_cost_040 -c "SELECT bigbrotr.api_stats_fold()")
  t1=$(date +%s.%N)
  s2=$(best bb_cost_040 "bigbrotr.api_stats(30)")
  cells=$(P -d bb_cost_040 -c "SELECT count(*) || ' (day, kind) rows, ' || sum(events) || ' events' FROM bigbrotr.event_stats")
  echo "stats 0.4.0: $N new events left $deltas delta rows; api_stats_fold folded $folded in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}') s into $cells"
  echo "stats 0.4.0: api_stats(30) with the deltas unfolded $s1, folded $s2"
  if [[ " $VERSIONS " == *" 0.3.0 "* ]]; then
    P -d bb_cost_030 -c "VACUUM ANALYZE bigbrotr.events" -c "CHECKPOINT"
    t0=$(date +%s.%N)
    P -d bb_cost_030 -c "ALTER EXTENSION bigbrotr UPDATE TO '0.4.0'"
    t1=$(date +%s.%N)
    echo "update 0.3.0 -> 0.4.0: $N events counted into $(P -d bb_cost_030 -c "SELECT count(*) FROM bigbrotr.event_stats") (day, kind) rows in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s"
  fi
fi

# The primary key of events_relays per row: (event_id, relay_url text) vs (event_id, relay_id integer).
P -d bb_cost_${first//./} -c "
CREATE TABLE pk_text (event_id bytea, relay_url text, seen_at bigint, PRIMARY KEY (event_id, relay_url));
CREATE TABLE pk_int (event_id bytea, relay_id integer, seen_at bigint, PRIMARY KEY (event_id, relay_id));
INSERT INTO pk_text SELECT sha256(int8send(i / 4)), 'wss://relay' || (i % 400) || '.example.com', i FROM generate_series(1, 1000000) i;
INSERT INTO pk_int SELECT sha256(int8send(i / 4)), i % 400, i FROM generate_series(1, 1000000) i;" >/dev/null
P -d bb_cost_${first//./} -c "SELECT 'events_relays PK per row: text URL (avg ' || (SELECT avg(octet_length(relay_url))::int FROM pk_text)
  || ' B) ' || round(pg_relation_size('pk_text_pkey') / 1e6, 1) || ' B, integer relay id ' || round(pg_relation_size('pk_int_pkey') / 1e6, 1) || ' B'"
