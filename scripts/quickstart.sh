#!/usr/bin/env bash
# quickstart.sh: the main job on a fresh Debian 12 machine, as root. Installs the dependencies,
# builds and installs bigbrotr, creates (or reuses) a PostgreSQL 15 cluster named "bigbrotr" with the
# extension preloaded, installs the extension in database "bigbrotr" and starts every service.
#
#   sudo scripts/quickstart.sh            port 5433 by default (BIGBROTR_PORT to change)
#   BIGBROTR_TOR=on sudo scripts/quickstart.sh   also start Tor and let the workers use it
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${BIGBROTR_PORT:-5433}
CLUSTER=bigbrotr
TOR=${BIGBROTR_TOR:-off}

[ "$(id -u)" = 0 ] || { echo "quickstart: run as root (it installs packages and creates a cluster)"; exit 1; }

scripts/install-deps.sh
make -s -j"$(nproc)"
make -s install

if ! pg_lsclusters -h | awk '{print $1"/"$2}' | grep -qx "15/$CLUSTER"; then
  pg_createcluster 15 "$CLUSTER" --port "$PORT" >/dev/null
fi
conf_dir=/etc/postgresql/15/$CLUSTER/conf.d
mkdir -p "$conf_dir"
cat > "$conf_dir/bigbrotr.conf" <<CONF
# Written by bigbrotr's scripts/quickstart.sh
shared_preload_libraries = 'bigbrotr'
bigbrotr.database = 'bigbrotr'
max_worker_processes = 32
bigbrotr.tor_enabled = $TOR
CONF

if [ "$TOR" = on ]; then
  # Tor's SOCKS port (HTTP) and HTTPTunnelPort (WebSockets through HTTP CONNECT) on loopback.
  grep -q '^HTTPTunnelPort 127.0.0.1:9080' /etc/tor/torrc || echo 'HTTPTunnelPort 127.0.0.1:9080' >> /etc/tor/torrc
  (service tor restart || (pgrep -x tor >/dev/null || runuser -u debian-tor -- tor --runasdaemon 1)) >/dev/null 2>&1 || true
fi

pg_ctlcluster 15 "$CLUSTER" restart
psqlc() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" "$@"; }
psqlc -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'bigbrotr'" | grep -q 1 || psqlc -d postgres -c "CREATE DATABASE bigbrotr TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
psqlc -d bigbrotr -c "CREATE EXTENSION IF NOT EXISTS bigbrotr"
psqlc -d bigbrotr -c "SELECT name, bigbrotr_start(name) AS started FROM bigbrotr_services() ORDER BY name"
sleep 3
psqlc -d bigbrotr -c "SELECT name, lifecycle, enabled, running, pid, cycles_run, cycles_failed FROM bigbrotr_status()"
cat <<MSG

bigbrotr runs in cluster 15/$CLUSTER on port $PORT, database "bigbrotr".
  sudo -u postgres psql -p $PORT bigbrotr -c 'SELECT * FROM bigbrotr_status()'
  server log: /var/log/postgresql/postgresql-15-$CLUSTER.log
  the api (read-only, loopback): curl -s http://127.0.0.1:7780/v1/stats   (docs/api.md)
MSG
