# cluster.sh: creates, starts, stops and removes a throwaway PostgreSQL 15 cluster with bigbrotr
# preloaded, for the test suites and benchmarks. Sourced by bash scripts. PostgreSQL refuses to run as
# root, so as root the cluster belongs to (and runs as) the postgres user.
PG_BIN=${PG_BIN:-$(pg_config --bindir)}
export BB_PORT=${BB_PORT:-54329}
export BB_DB=${BB_DB:-bigbrotr}

if [ "$(id -u)" = 0 ]; then
  BB_RUNAS=(runuser -u postgres --)
  export BB_OS_USER=postgres
else
  BB_RUNAS=()
  export BB_OS_USER=$(id -un)
fi

# cluster_create DIR [extra postgresql.conf lines...]
# fsync and full-page writes are off (only an OS crash could hurt a throwaway cluster), but commits
# stay synchronous: the tests SIGKILL workers, and the crash restart that follows would otherwise
# discard commits still in the WAL buffers.
cluster_create() {
  export BB_PGDATA=$1; shift
  local parent; parent=$(dirname "$BB_PGDATA")
  mkdir -p "$parent"
  if [ "$(id -u)" = 0 ]; then chown postgres "$parent"; fi
  "${BB_RUNAS[@]}" "$PG_BIN/initdb" -D "$BB_PGDATA" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >> "$BB_PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $BB_PORT
unix_socket_directories = '/tmp'
shared_preload_libraries = 'bigbrotr'
bigbrotr.database = '$BB_DB'
max_worker_processes = 32
fsync = off
full_page_writes = off
log_line_prefix = '%m [%p] %b '
CONF
  local line
  for line in "$@"; do echo "$line" >> "$BB_PGDATA/postgresql.conf"; done
}

cluster_start() {
  "${BB_RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$BB_PGDATA" -l "$BB_PGDATA/server.log" -w -t 60 start >/dev/null
}

cluster_stop() {
  if [ -n "${BB_PGDATA:-}" ] && [ -f "$BB_PGDATA/postmaster.pid" ]; then
    "${BB_RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$BB_PGDATA" -m fast -w -t 60 stop >/dev/null || true
  fi
}

cluster_psql() {
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$BB_PORT" -U postgres "$@"
}

# Creates the services' database with the extension installed.
cluster_create_db() {
  cluster_psql -d postgres -c "CREATE DATABASE $BB_DB" >/dev/null
  cluster_psql -d "$BB_DB" -c "CREATE EXTENSION bigbrotr" >/dev/null
}
