#!/bin/bash
# negentropy.sh: issue 12's benchmark: what one synchronizer cycle costs on a relay whose events are
# already archived, with NIP-77 negentropy (bigbrotr.synchronizer_negentropy = auto) beside the window
# algorithm (= off), in the same run, on the same relay and the same span. Prints, never asserts.
#
# Load: N + 1,000 realistic signed events (test/bench/gen_events.c, as sync.sh) over the SPAN seconds
# before now. N of them are the relay's archived events; 1,000 random others (spread over the whole span)
# are the "new" ones. Three fixture relays in one node process (test/fixtures/sync_relays.mjs --serve
# --options '{"negentropy":"on"}', GET /stats on each port): the N events plus 0, 100 or 1,000 new.
# Each run: a fresh archive (DROP/CREATE EXTENSION) holding the N events linked to that relay URL
# (bigbrotr.insert_events, one transaction per batch), no synchronizer state for the relay (so the cycle
# covers the relay's whole span, as a rescan does), the mode set with ALTER SYSTEM + reload, one cycle
# (the service is started and its first cycle waited for). Figures per run: bytes on the relay's socket
# both ways (its wireBytes out, wireBytesIn in: every EVENT, NEG-MSG/NEG-ERR sent, every byte received),
# the cycle's duration (bigbrotr_status), the queue's stats (neg_* keys when the code reports them), and
# a check that the archive then holds N + new events, each linked to the relay.
# Code without the GUC (main before negsync): only the window algorithm runs, and the script says so.
# Targets (issue 12): 0 new < 1 % of the window algorithm's bytes; 1,000 new < 10 %.
# Takes the machine-wide test lock and makes its own throwaway cluster.
#   usage: test/bench/negentropy.sh [N=100000] [SPAN=345600]       (smoke: test/bench/negentropy.sh 5000)
set -euo pipefail
N=${1:-100000}
SPAN=${2:-345600}
NEWMAX=1000
source "$(dirname "$0")/lib.sh"
make -s -C test/bench bin/gen_events >/dev/null
T_START=$(date +%s)

# ---------------------------------------------------------------- events and relay files
END=$(( $(date +%s) - 60 ))
TOTAL=$(( N + NEWMAX ))
GEN=$(test/bench/bin/gen_events "$TOTAL" "$END" 5000 "$SPAN" 2>&1 > "$WORK/all.jsonl")
# NEWMAX random lines are new (the first 100 of them chosen also make the 100-new relay), the rest archived
awk -v total="$TOTAL" -v k="$NEWMAX" -v d="$WORK" 'BEGIN { srand(12); while (n < k) { i = int(rand() * total) + 1; if (!(i in pick)) { pick[i] = ++n } } }
  { if (NR in pick) print > (d (pick[NR] <= 100 ? "/new100.jsonl" : "/new900.jsonl")); else print > (d "/base.jsonl") }' \
  "$WORK/all.jsonl"
cat "$WORK/base.jsonl" > "$WORK/r0.jsonl"
cat "$WORK/base.jsonl" "$WORK/new100.jsonl" > "$WORK/r100.jsonl"
cat "$WORK/base.jsonl" "$WORK/new100.jsonl" "$WORK/new900.jsonl" > "$WORK/r1000.jsonl"
chmod 644 "$WORK"/*.jsonl
[ "$(wc -l < "$WORK/base.jsonl")" = "$N" ] || { echo "split failed: $(wc -l < "$WORK/base.jsonl") archived lines, expected $N"; exit 1; }
bench_spawn "$WORK/relays.out" node test/fixtures/sync_relays.mjs --serve --options '{"negentropy":"on"}' \
  "$WORK/r0.jsonl" "$WORK/r100.jsonl" "$WORK/r1000.jsonl"
RELAY_PID=$BENCH_PID
for _ in $(seq 1 1200); do grep -q '^ready' "$WORK/relays.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$WORK/relays.out" || { echo "the fixture relays did not start:"; cat "$WORK/relays.out"; exit 1; }
mapfile -t URLS < <(grep '^ws://' "$WORK/relays.out")
declare -A URL_OF=([0]=${URLS[0]} [100]=${URLS[1]} [1000]=${URLS[2]})

# BENCH_SETTINGS: extra postgresql.conf lines separated by ';'
IFS=';' read -r -a EXTRA <<< "${BENCH_SETTINGS:-}"
bench_cluster "bigbrotr.allow_private_addresses = on" "bigbrotr.synchronizer_stagger_delay = 0" \
  "bigbrotr.synchronizer_max_processes = 2" "shared_buffers = 512MB" "${EXTRA[@]}"
BATCH=$(q -c "SHOW bigbrotr.synchronizer_batch_size")
LIMIT=$(q -c "SHOW bigbrotr.synchronizer_limit")
if NEG_DEFAULT=$(q -c "SHOW bigbrotr.synchronizer_negentropy" 2>/dev/null); then MODES=(off auto); else NEG_DEFAULT=; MODES=(off); fi

echo "== negentropy benchmark: $N archived events on the relay, + 0 / 100 / 1000 new, $(nproc) cores, limit $LIMIT, batch $BATCH"
echo "load: $GEN"
echo "code: $(git log -1 --format='%h %s' | cut -c1-100)"
if [ -n "$NEG_DEFAULT" ]; then
  echo "bigbrotr.synchronizer_negentropy exists (default $NEG_DEFAULT): runs with = off (window algorithm) and = auto"
else
  echo "bigbrotr.synchronizer_negentropy does not exist in this code: only the window algorithm runs"
fi

# the archived events, typed once (public schema: survives DROP EXTENSION bigbrotr)
q -c "CREATE TABLE public.bench_stage (seq serial, doc jsonb)" \
  -c "\\copy public.bench_stage (doc) FROM '$WORK/base.jsonl' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')" >/dev/null
q -c "CREATE TABLE public.bench_typed AS SELECT seq, decode(doc->>'id','hex') id, decode(doc->>'pubkey','hex') pk,
        (doc->>'created_at')::bigint ca, (doc->>'kind')::int k, doc->'tags' tg, doc->>'content' ct, decode(doc->>'sig','hex') sg
      FROM public.bench_stage" -c "CREATE INDEX ON public.bench_typed (seq)" -c "ANALYZE public.bench_typed" \
  -c "DROP TABLE public.bench_stage" >/dev/null

# ---------------------------------------------------------------- helpers
stop_wait() {
  q -c "SELECT bigbrotr.bigbrotr_stop('synchronizer')" >/dev/null 2>&1 || true
  for _ in $(seq 1 300); do
    [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'bigbrotr synchronizer%'")" = 0 ] && return
    sleep 0.1
  done
  echo "WARNING: synchronizer workers still running after 30 s"
}

# archive URL: a fresh extension holding the N archived events, each linked to URL (no relay state)
archive() {
  stop_wait
  q -c "DROP EXTENSION bigbrotr CASCADE" -c "CREATE EXTENSION bigbrotr" >/dev/null
  q -c "DO \$\$
BEGIN
  FOR i IN 0..(SELECT (max(seq) - 1) / $BATCH FROM public.bench_typed) LOOP
    PERFORM bigbrotr.insert_events(array_agg(id), array_agg(pk), array_agg(ca), array_agg(k), array_agg(tg),
      array_agg(ct), array_agg(sg), array_fill('$1'::text, ARRAY[count(*)::int]),
      array_fill('clearnet'::text, ARRAY[count(*)::int]), array_fill(1::bigint, ARRAY[count(*)::int]),
      array_fill(1::bigint, ARRAY[count(*)::int]))
    FROM public.bench_typed WHERE seq > i * $BATCH AND seq <= (i + 1) * $BATCH;
    COMMIT;
  END LOOP;
END \$\$" >/dev/null
  q -c "VACUUM ANALYZE" >/dev/null 2>&1 || true
}

stat_of() { curl -s "${1/ws:/http:}/stats" | jq ".$2"; }

# run_cycle MODE URL: one cycle over URL. Sets SECS OUT IN NEGOUT NEGIN NEGOPENS SENT EVENTS SIGHTINGS QSTATS ENDS
run_cycle() {
  local mode=$1 url=$2 before mark o0 i0 no0 ni0 op0 s0
  stop_wait
  if [ -n "$NEG_DEFAULT" ]; then
    q -c "ALTER SYSTEM SET bigbrotr.synchronizer_negentropy = '$mode'" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.2
  fi
  q -c "DELETE FROM bigbrotr.synchronizer_relays" -c "INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ('$url')" >/dev/null
  before=$(q -c "SELECT cycles_run FROM bigbrotr.bigbrotr_status() WHERE name = 'synchronizer'")
  o0=$(stat_of "$url" wireBytes); i0=$(stat_of "$url" wireBytesIn); no0=$(stat_of "$url" negBytesOut)
  ni0=$(stat_of "$url" negBytesIn); op0=$(stat_of "$url" negOpens); s0=$(stat_of "$url" eventsSent)
  mark=$(wc -c < "$BB_PGDATA/server.log")
  q -c "SELECT bigbrotr.bigbrotr_start('synchronizer')" >/dev/null
  # at most CYCLE_TIMEOUT s (600), and out at once when the worker exits with an error (the lock is shared)
  for _ in $(seq 1 $(( ${CYCLE_TIMEOUT:-600} * 4 ))); do
    [ "$(q -c "SELECT cycles_run FROM bigbrotr.bigbrotr_status() WHERE name = 'synchronizer'")" -gt "$before" ] && break
    if tail -c +"$((mark + 1))" "$BB_PGDATA/server.log" | grep -q 'synchronizer ERROR: .*exiting'; then
      echo "the synchronizer exits with an error:"; tail -c +"$((mark + 1))" "$BB_PGDATA/server.log" | grep -m3 ERROR; exit 1
    fi
    sleep 0.25
  done
  [ "$(q -c "SELECT cycles_run FROM bigbrotr.bigbrotr_status() WHERE name = 'synchronizer'")" -gt "$before" ] || echo "  WARNING: no cycle finished within ${CYCLE_TIMEOUT:-600} s"
  stop_wait
  OUT=$(( $(stat_of "$url" wireBytes) - o0 )); IN=$(( $(stat_of "$url" wireBytesIn) - i0 ))
  NEGOUT=$(( $(stat_of "$url" negBytesOut) - no0 )); NEGIN=$(( $(stat_of "$url" negBytesIn) - ni0 ))
  NEGOPENS=$(( $(stat_of "$url" negOpens) - op0 )); SENT=$(( $(stat_of "$url" eventsSent) - s0 ))
  SECS=$(q -c "SELECT extract(epoch FROM last_cycle_duration) FROM bigbrotr.bigbrotr_status() WHERE name = 'synchronizer'")
  EVENTS=$(q -c "SELECT count(*) FROM bigbrotr.events")
  SIGHTINGS=$(q -c "SELECT count(*) FROM bigbrotr.events_relays WHERE relay_url = '$url'")
  QSTATS=$(q -c "SELECT coalesce((SELECT string_agg(key || ' ' || value, ', ' ORDER BY key) FROM jsonb_each_text(stats)
      WHERE key ~ '^(neg|events_(received|new|known)$|requests$|bytes_received$|end$)'), 'no stats')
    FROM bigbrotr.synchronizer_queue WHERE relay_url = '$url'")
}

line() { printf '  %-34s %s\n' "$1" "$2"; }
declare -A BYTES SECS_OF

# ---------------------------------------------------------------- the runs
for k in 0 100 1000; do
  url=${URL_OF[$k]}
  for mode in "${MODES[@]}"; do
    echo
    echo "$k new events, synchronizer_negentropy = $mode ($url)"
    archive "$url"
    run_cycle "$mode" "$url"
    BYTES[$k,$mode]=$(( OUT + IN )); SECS_OF[$k,$mode]=$SECS
    line "cycle:" "$(printf '%.2f s' "$SECS")"
    line "relay sent / received:" "$OUT / $IN bytes (NEG: $NEGOUT / $NEGIN bytes, $NEGOPENS NEG-OPEN)"
    line "relay sent events:" "$SENT"
    line "queue stats:" "$QSTATS"
    [ "$EVENTS" = "$(( N + k ))" ] || echo "  WARNING: the archive holds $EVENTS events, expected $(( N + k ))"
    [ "$SIGHTINGS" = "$(( N + k ))" ] || echo "  WARNING: $SIGHTINGS events linked to the relay, expected $(( N + k ))"
  done
done
q -c "DROP TABLE public.bench_typed" >/dev/null

# ---------------------------------------------------------------- summary
echo
echo "== summary ($N archived events; bytes = the relay's socket both ways; targets in brackets)"
printf '  %-9s %16s %9s %16s %9s %9s\n' "new" "off: bytes" "s" "auto: bytes" "s" "auto/off"
for k in 0 100 1000; do
  target=""; [ "$k" = 0 ] && target="[< 1 %]"; [ "$k" = 1000 ] && target="[< 10 %]"
  if [ -n "$NEG_DEFAULT" ]; then
    printf '  %-9s %16s %9.2f %16s %9.2f %8.3f %% %s\n' "$k" "${BYTES[$k,off]}" "${SECS_OF[$k,off]}" \
      "${BYTES[$k,auto]}" "${SECS_OF[$k,auto]}" "$(echo "100 * ${BYTES[$k,auto]} / ${BYTES[$k,off]}" | bc -l)" "$target"
  else
    printf '  %-9s %16s %9.2f %16s %9s %9s\n' "$k" "${BYTES[$k,off]}" "${SECS_OF[$k,off]}" "n/a" "n/a" "n/a"
  fi
done
echo "  (the machine-limit line of sync.sh does not apply: at most 1,000 new events a cycle; bytes are the figure here)"
echo "  (run time $(( $(date +%s) - T_START )) s)"
