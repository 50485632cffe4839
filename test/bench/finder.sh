#!/bin/bash
# finder.sh: the finder's archive catch-up over a large archive. Builds EVENTS events (default
# 500,000) seen on 2 relays each (>= 1M sightings), 1 in 10 of them kind 3 or 10002 (queued for the
# finder by its trigger), then prints, measured in the same run:
#   - the machine baseline: 1000 primary-key probes of bigbrotr.events;
#   - the page query (bigbrotr.finder_archive_page, PAGE rows) at the start of the queue and at its
#     end, and the first page of a cycle after a whole catch-up (the queue's deleted head before it),
#     each as milliseconds and as a ratio to the baseline;
#   - the page query the finder ran before the queue (a keyset over events_relays joined to events)
#     at the start and at 90 % of the archive, for comparison;
#   - one real finder cycle over the whole queue: pages, seconds, ms per page.
# Takes the machine-wide test lock and makes its own throwaway cluster.
#   usage: test/bench/finder.sh [EVENTS=500000] [PAGE=1000]
set -euo pipefail
EVENTS=${1:-500000}
PAGE=${2:-1000}
source "$(dirname "$0")/lib.sh"

bench_cluster "bigbrotr.finder_events_batch_size = $PAGE" "bigbrotr.finder_delay_between_requests = 0" \
  "shared_buffers = 256MB" "autovacuum = off"

echo "== finder archive benchmark: $EVENTS events, $((EVENTS * 2)) sightings, page $PAGE, $(nproc) cores"
q -c "DELETE FROM bigbrotr.finder_sources" >/dev/null
q -c "INSERT INTO bigbrotr.relays VALUES ('wss://a.bench.example', 'clearnet', 1), ('wss://b.bench.example', 'clearnet', 1)" >/dev/null
start=$(date +%s)
for ((from = 0; from < EVENTS; from += 100000)); do
  to=$((from + 100000 < EVENTS ? from + 100000 : EVENTS))
  q -c "
    INSERT INTO bigbrotr.events (id, pubkey, created_at, kind, tags, content, sig)
    SELECT sha256(convert_to('e' || i, 'UTF8')), sha256(convert_to('p' || (i % 5000), 'UTF8')), 1700000000 + i,
           CASE WHEN i % 20 = 0 THEN 3 WHEN i % 20 = 10 THEN 10002 ELSE 1 END,
           CASE WHEN i % 20 = 10 THEN jsonb_build_array(jsonb_build_array('r', 'wss://r' || (i % 1000) || '.bench.example'),
                                                        jsonb_build_array('r', 'wss://s' || (i % 777) || '.bench.example'))
                ELSE '[]'::jsonb END,
           CASE WHEN i % 20 = 0 THEN jsonb_build_object('wss://c' || (i % 900) || '.bench.example', '{}'::jsonb)::text ELSE 'hello' END,
           decode(repeat('22', 64), 'hex')
    FROM generate_series($from, $((to - 1))) i;
    INSERT INTO bigbrotr.events_relays (event_id, relay_url, seen_at, event_created_at)
    SELECT sha256(convert_to('e' || i, 'UTF8')), r, 1700000000 + i + (r = 'wss://b.bench.example')::int * 7, 1700000000 + i
    FROM generate_series($from, $((to - 1))) i, unnest(ARRAY['wss://a.bench.example', 'wss://b.bench.example']) r;" >/dev/null
done
q -c "VACUUM ANALYZE" >/dev/null
echo "built in $(( $(date +%s) - start )) s: $(q -c "SELECT count(*) FROM bigbrotr.events_relays") sightings, $(q -c "SELECT count(*) FROM bigbrotr.finder_queue") queued"

# ms of the mean of 10 runs of a statement with one %s placeholder per run (the run number)
timed() {
  q -c "DO \$\$
    DECLARE t0 timestamptz; n bigint; BEGIN
      EXECUTE format('$1', 0) INTO n; -- warm
      t0 := clock_timestamp();
      FOR k IN 1..10 LOOP EXECUTE format('$1', k) INTO n; END LOOP;
      RAISE NOTICE '%', round(extract(epoch FROM clock_timestamp() - t0) * 100000) / 1000.0;
    END \$\$;" 2>&1 | sed -n 's/.*NOTICE: *//p'
}
ratio() { echo "scale=2; $1 / $2" | bc; }

BASE=$(timed "SELECT count(*) FROM (SELECT id FROM bigbrotr.events WHERE created_at >= 1700000000 + %s * 1000 ORDER BY created_at LIMIT 1000) x JOIN bigbrotr.events e ON e.id = x.id")
MIN=$(q -c "SELECT min(id) FROM bigbrotr.finder_queue")
MAX=$(q -c "SELECT max(id) FROM bigbrotr.finder_queue")
page() { timed "SELECT count(*) FROM bigbrotr.finder_archive_page($1 + %s * $PAGE, $PAGE)"; }
P_START=$(page "$MIN")
P_END=$(page "$((MAX - 11 * PAGE))")

old_page() { # the page query before the queue, from the sighting at row offset $1
  local wm; wm=$(q -c "SELECT seen_at || ',' || encode(event_id, 'hex') || ',' || relay_url FROM bigbrotr.events_relays ORDER BY seen_at, event_id, relay_url OFFSET $1 LIMIT 1")
  IFS=, read -r s e r <<< "$wm"
  timed "SELECT count(*) FROM (SELECT er.seen_at FROM bigbrotr.events_relays er JOIN bigbrotr.events e ON e.id = er.event_id WHERE (er.seen_at, er.event_id, er.relay_url) > ($s + %s, decode(''$e'', ''hex''), ''$r'') AND er.seen_at <= 2000000000 AND e.kind IN (3, 10002) AND NOT EXISTS (SELECT 1 FROM bigbrotr.events_relays f WHERE f.event_id = er.event_id AND (f.seen_at, f.relay_url) < (er.seen_at, er.relay_url)) ORDER BY er.seen_at, er.event_id, er.relay_url LIMIT $PAGE) x"
}
O_START=$(old_page 0)
O_END=$(old_page $((EVENTS * 2 * 9 / 10)))

echo "baseline (1000 primary-key probes of events): $BASE ms"
echo "page query, start of the queue:   $P_START ms  = $(ratio "$P_START" "$BASE") x baseline"
echo "page query, end of the queue:     $P_END ms  = $(ratio "$P_END" "$BASE") x baseline"
echo "old query, start of the archive:  $O_START ms  = $(ratio "$O_START" "$BASE") x baseline"
echo "old query, at 90 % of it:         $O_END ms  = $(ratio "$O_END" "$BASE") x baseline"

QUEUED=$(q -c "SELECT count(*) FROM bigbrotr.finder_queue")
q -c "SELECT bigbrotr_start('finder')" >/dev/null
for _ in $(seq 1 3600); do
  [ "$(q -c "SELECT cycles_run FROM bigbrotr_status() WHERE name = 'finder'")" -ge 1 ] && break
  sleep 0.5
done
q -c "SELECT bigbrotr_stop('finder')" >/dev/null
SECS=$(q -c "SELECT extract(epoch FROM last_cycle_duration) FROM bigbrotr_status() WHERE name = 'finder'")
SCANNED=$(q -c "SELECT last_cycle_stats->>'events_scanned' FROM bigbrotr_status() WHERE name = 'finder'")
PAGES=$(( (QUEUED + PAGE - 1) / PAGE ))
echo "finder cycle: $SCANNED of $QUEUED queued events in $SECS s, $PAGES pages, $(echo "scale=2; $SECS * 1000 / $PAGES" | bc) ms per page (relay inserts included)"
echo "queue left: $(q -c "SELECT count(*) FROM bigbrotr.finder_queue")"
# A cycle starts at the queue's head: after a whole catch-up (not vacuumed) that head is all deleted.
q -c "INSERT INTO bigbrotr.events (id, pubkey, created_at, kind, tags, content, sig)
      SELECT sha256(convert_to('late' || i, 'UTF8')), sha256(convert_to('p', 'UTF8')), 1, 10002, '[]', '', decode(repeat('22', 64), 'hex')
      FROM generate_series(1, $((PAGE * 12))) i" >/dev/null
P_NEXT=$(timed "SELECT count(*) FROM bigbrotr.finder_archive_page(0 * %s, $PAGE)")
echo "first page of the next cycle (deleted head before it, no vacuum): $P_NEXT ms = $(ratio "$P_NEXT" "$BASE") x baseline"
