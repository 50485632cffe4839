#!/usr/bin/env bash
# monitor.sh: benchmark of one monitor cycle. 1000 responsive relays on loopback (paths of a few
# servers, test/bench/monitor_relays.mjs), each with NIP-11 and the open/read/write tests, checked
# with max_parallel 50; then the same plus one relay that accepts TCP and never answers, with a 5 s
# timeout, to show a dead relay costs no more than its own timeout. Prints the wall time and the
# worker's CPU time (getrusage, reported by the service) of each cycle, and the worker's peak RssAnon
# during the first one. Figures only, no asserts.
#
#   sudo test/bench/monitor.sh [relays=1000] [max_parallel=50]
set -euo pipefail
RELAYS=${1:-1000}
PARALLEL=${2:-50}
source "$(dirname "$0")/lib.sh"

bench_spawn "$WORK/fixture.json" node test/bench/monitor_relays.mjs 4
for _ in $(seq 100); do [ -s "$WORK/fixture.json" ] && break; sleep 0.1; done
PORTS=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$WORK/fixture.json','utf8')).ports.join(' '))")
DEAD=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$WORK/fixture.json','utf8')).dead)")
KEY=$(openssl rand -hex 32)

bench_cluster "bigbrotr.allow_private_addresses = on" "bigbrotr.log_level = warning"

# RELAYS paths spread over the fixture's ports.
read -r -a P <<< "$PORTS"
q -c "SELECT bigbrotr.insert_relays(array_agg(u), array_agg('clearnet'::text), array_agg(1::bigint))
   FROM (SELECT format('ws://127.0.0.1:%s/r%s', (ARRAY[${PORTS// /,}])[1 + i % ${#P[@]}], lpad(i::text, 4, '0')) AS u
         FROM generate_series(1, $RELAYS) i) s" >/dev/null
cluster_psql -d postgres -c "ALTER SYSTEM SET bigbrotr.monitor_max_parallel = $PARALLEL" \
  -c "ALTER SYSTEM SET bigbrotr.monitor_min_age_since_check = 0" \
  -c "ALTER SYSTEM SET bigbrotr.monitor_timeout = '5s'" \
  -c "ALTER SYSTEM SET bigbrotr.monitor_private_key = '$KEY'" \
  -c "SELECT pg_reload_conf()" >/dev/null

PEAK_FILE="$WORK/peak_rss"
run_cycle() { # prints the last cycle's stats once a new cycle finished; the worker's peak RssAnon in $PEAK_FILE
  local before pid rss peak=0
  before=$(q -c "SELECT cycles_run FROM bigbrotr.bigbrotr_status() WHERE name = 'monitor'")
  q -c "SELECT bigbrotr.bigbrotr_start('monitor')" >/dev/null
  for _ in $(seq 1200); do
    [ "$(q -c "SELECT cycles_run FROM bigbrotr.bigbrotr_status() WHERE name = 'monitor'")" -gt "$before" ] && break
    pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'bigbrotr monitor'")
    if [ -n "$pid" ]; then
      rss=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      [ "${rss:-0}" -gt "$peak" ] && peak=$rss
    fi
    sleep 0.25
  done
  echo "$peak" > "$PEAK_FILE"
  q -c "SELECT bigbrotr.bigbrotr_stop('monitor')" >/dev/null
  for _ in $(seq 100); do
    [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'bigbrotr monitor'")" = 0 ] && break
    sleep 0.1
  done
  q -c "SELECT last_cycle_stats FROM bigbrotr.bigbrotr_status() WHERE name = 'monitor'"
}

report() { # report LABEL STATS_JSON
  node -e "
    const s = JSON.parse(process.argv[2]);
    console.log(process.argv[1].padEnd(34) + ' wall ' + (s.cycle_wall_ms / 1000).toFixed(2) + ' s, worker CPU ' +
      (s.cycle_cpu_ms / 1000).toFixed(2) + ' s, checked ' + s.relays_checked + ', openable ' + (s.relays_openable || 0) +
      ', readable ' + (s.relays_readable || 0) + ', writable ' + (s.relays_writable || 0) + ', nip11 ' + (s.nip11_ok || 0) +
      ', snapshots ' + s.snapshots_written);" "$1" "$2"
}

echo "monitor benchmark: $RELAYS relays on ${#P[@]} ports, max_parallel $PARALLEL, timeout 5 s, write test on"
S1=$(run_cycle)
report "$RELAYS relays" "$S1"
echo "monitor worker peak RssAnon during the cycle: $(cat "$PEAK_FILE") kB (sampled every 0.25 s)"
sleep 1.1
q -c "SELECT bigbrotr.insert_relays(ARRAY['ws://127.0.0.1:$DEAD/dead'], ARRAY['clearnet'], ARRAY[1::bigint])" >/dev/null
S2=$(run_cycle)
report "$RELAYS relays + 1 that never answers" "$S2"
node -e "const a = JSON.parse(process.argv[1]), b = JSON.parse(process.argv[2]);
  console.log('the dead relay added ' + ((b.cycle_wall_ms - a.cycle_wall_ms) / 1000).toFixed(2) + ' s (its timeout: 5 s)');" "$S1" "$S2"
