#!/usr/bin/env bash
# bench-isolation.sh [ROUNDS] — how long a device whose revocation status is cached waits while
# BULK (default 50) uncached devices wait on an OCSP responder that accepts and never answers
# (timeout 4000 ms), against the same authentication with nobody waiting. Each round is
# tests/integration/ocsp.sh responder_silent_many (real redis-server, openssl ocsp SIGSTOPped,
# authbench holding the uncached devices, eapol_test for the cached one); ROUNDS (default 5) of
# each, the status cached in Redis and in process. Prints the median and the maximum in ms.
# Needs a build (build/, e.g. from tools/demo.sh) and the test packages (tools/install-deps.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
ROUNDS=${1:-5}
BULK=${BULK:-50}
export AUTHD_BIN=$BUILD/authd/authd AUTHD_PKI=$BUILD/test-pki
export AUTHBENCH_BIN=$BUILD/tools/authbench/authbench OCSP_RESPONDER=$ROOT/tests/ocsp/ocsp_responder.sh

# measure CACHE BULK: the cached device's time in ms over ROUNDS rounds, "median max".
measure() {
	local cache=$1 bulk=$2 i out times=()
	for ((i = 0; i < ROUNDS; i++)); do
		out=$(CACHE=$cache BULK=$bulk "$ROOT/tests/integration/ocsp.sh" responder_silent_many 2>&1) ||
			{ echo "round $i failed:" >&2; tail -n 20 <<<"$out" >&2; exit 1; }
		times+=("$(sed -n 's/^cached device accepted in \([0-9]*\) ms.*/\1/p' <<<"$out")")
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[NR] }'
}

"$ROOT/tests/pki/make-pki.sh" "$AUTHD_PKI" >/dev/null
printf '%-10s %-28s %8s %8s\n' cache "uncached devices waiting" "median" "max"
for cache in redis process; do
	for bulk in 0 "$BULK"; do
		read -r median max < <(measure "$cache" "$bulk")
		printf '%-10s %-28s %6s ms %6s ms\n' "$cache" "$bulk" "$median" "$max"
	done
done
