#!/usr/bin/env bash
# Installs the Debian 12 packages authd needs to build, test and run its demo.
# Idempotent: does nothing when everything is present. Run as root (or with sudo).
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libssl-dev libfreeradius-dev libtalloc-dev libpcre3-dev libconfig-dev libevent-dev libldap-dev
  libhiredis-dev
  # tests and demo: the real supplicant, PKI tooling, JSON checks, port probing
  libcmocka-dev openssl eapoltest jq iproute2 procps
  # the metrics endpoint's tests: a scraper, and Prometheus's own checker (promtool)
  curl prometheus
  # the test directory: a throwaway OpenLDAP server and its client tools
  slapd ldap-utils
  # the shared revocation list: a throwaway Redis
  redis-server
  # the logs to syslog: a throwaway rsyslogd
  rsyslog
  # the benchmarks' comparison server (FreeRADIUS 3.2) and its radclient
  freeradius freeradius-utils
  # the Debian package (tools/build-package.sh) and its test: the build, its checker, the
  # man pages' renderer, and logrotate to read the package's snippet
  debhelper lintian man-db logrotate
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
