#!/usr/bin/env bash
# check_layers.sh: the source tree's layering rules (README "Layout"), checked on every run.
#   - src/nostr and src/sync include no PostgreSQL, libcurl or libwebsockets header; src/net no
#     PostgreSQL header; no header anywhere includes postgres.h (each .c does, first);
#   - includes run downwards only: services, sql -> core, sync -> net -> nostr; sql may use
#     services/common; core uses no service, sync or net header; nothing includes a service's
#     private folder but that service (and the registry);
#   - src/ root holds no source file.
# Prints one ok/not ok line per rule and file, then "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

passed=0
failed=0
check() { # check DESCRIPTION COMMAND-THAT-PRINTS-VIOLATIONS...
  local what=$1; shift
  local out
  out=$("$@")
  if [ -z "$out" ]; then
    passed=$((passed + 1)); echo "ok - $what"
  else
    failed=$((failed + 1)); echo "not ok - $what"; echo "$out" | sed 's/^/    /'
  fi
}

# Our own includes ("...") of a file, one per line.
includes() { sed -n 's/^#include "\(.*\)".*/\1/p' "$1"; }
# PostgreSQL server headers are included with quotes too; ours all sit under a layer folder.
ours='^(core|nostr|net|sync|services|sql)/'

layer_of() { # the layer a path (relative to src/) belongs to
  case "$1" in
    services/common/*) echo common ;;
    services/*) echo services ;;
    *) echo "${1%%/*}" ;;
  esac
}

# What each layer may include (besides itself).
allowed() {
  case "$1" in
    nostr) echo "nostr" ;;
    net) echo "net nostr" ;;
    sync) echo "sync net nostr" ;;
    core) echo "core" ;;
    common) echo "common core net nostr sync" ;;
    services) echo "services common core net nostr sync" ;;
    sql) echo "sql common core nostr" ;;
  esac
}

root_sources() { find src -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \); }
check "src/ root holds no source file" root_sources

header_includes_postgres() { grep -ln '#include "postgres.h"' $(find src -name '*.h'); }
check "no header includes postgres.h" header_includes_postgres

c_without_postgres_first() {
  local f
  for f in $(find src/core src/services src/sql -name '*.c'); do
    [ "$(grep -m1 '^#include' "$f")" = '#include "postgres.h"' ] || echo "$f: first include is not postgres.h"
  done
}
check "every PostgreSQL-side .c includes postgres.h first" c_without_postgres_first

foreign_in_pure() {
  local f inc
  for f in $(find src/nostr src/sync -name '*.[ch]'); do
    while read -r inc; do
      [[ "$inc" =~ $ours ]] || echo "$f: includes PostgreSQL header \"$inc\""
    done < <(includes "$f")
    grep -nE '#include <(curl/|libwebsockets|lws_)' "$f" | sed "s|^|$f: |"
  done
  for f in $(find src/net -name '*.[ch]'); do
    while read -r inc; do
      [[ "$inc" =~ $ours ]] || echo "$f: includes PostgreSQL header \"$inc\""
    done < <(includes "$f")
  done
}
check "src/nostr and src/sync include no PostgreSQL, libcurl or lws header; src/net no PostgreSQL header" foreign_in_pure

upward_includes() {
  local f rel layer inc target ok a service
  for f in $(find src -name '*.[ch]'); do
    rel=${f#src/}
    layer=$(layer_of "$rel")
    while read -r inc; do
      [[ "$inc" =~ $ours ]] || continue
      target=$(layer_of "$inc")
      ok=0
      for a in $(allowed "$layer"); do [ "$a" = "$target" ] && ok=1; done
      # A service's folder is its own: only that service and the registry (services/*.c) use it.
      if [ "$target" = services ] && [ "$layer" = services ]; then
        service=${inc#services/}; service=${service%%/*}
        # (in case patterns * also matches '/', so the registry is told apart by its depth)
        if [[ "$rel" != services/"$service"/* && "$rel" == services/*/* && "$inc" != services/services.h ]]; then
          ok=0
        fi
      fi
      [ $ok = 1 ] || echo "$f ($layer) includes $inc ($target)"
    done < <(includes "$f")
  done
}
check "includes run downwards only (services -> sync -> net -> nostr; core below services)" upward_includes

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
