#!/usr/bin/env bash
# Installs what bigbrotr needs to build, run and be tested on Debian 12 (run as root). Idempotent:
# packages already present are left alone, so a second run costs a few seconds.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config ca-certificates
  postgresql-15 postgresql-server-dev-15 postgresql-contrib postgresql-15-pgtap
  libwebsockets-dev libsecp256k1-dev libcurl4-openssl-dev libssl-dev libidn2-dev
  tor tinyproxy-bin
)
# Only the test suites and the fuzzers need these.
TEST_PACKAGES=(clang libclang-rt-14-dev valgrind)

want=("${PACKAGES[@]}")
if [ "${1:-}" = "--with-test-tools" ]; then
  want+=("${TEST_PACKAGES[@]}")
fi

# Node.js (fixtures, test relays): Debian's packages unless a node with npm is already there
# (a nodesource build bundles npm and conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || want+=(nodejs)
command -v npm >/dev/null 2>&1 || want+=(npm)

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The distribution's default cluster is not wanted: bigbrotr's scripts create their own.
  mkdir -p /etc/postgresql-common
  [ -f /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all packages present"
