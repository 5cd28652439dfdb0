#!/usr/bin/env bash
# tools/bench-metrics.sh — what the metrics endpoint costs: the time of one scrape with N NAS
# clients configured (after traffic, so the decision series are there), and the
# authentication p99 of a steady open-loop load alone and during a scrape flood (curl loops on
# /metrics). Needs a built tree: BUILD (default build) with authd, authbench and the test PKI.
#
#   tools/bench-metrics.sh            # prints both tables
#   BENCH_RATE=150 BENCH_SECONDS=20 BENCH_SCRAPERS=4 tools/bench-metrics.sh
# The flood runs twice: curl loops on /metrics, then the same loops on a port where nothing
# listens (the control: what forking curl costs a 2-core machine without any scrape).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
export AUTHD_BIN=$BUILD/authd/authd AUTHD_PKI=$BUILD/test-pki
AUTHBENCH=$BUILD/tools/authbench/authbench
RATE=${BENCH_RATE:-150}
SECONDS_RUN=${BENCH_SECONDS:-20}
SCRAPERS=${BENCH_SCRAPERS:-4}
AUTHD_LOG_LEVEL=info
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"

FLOOD_PIDS=()
stop_flood() {
	local pid
	for pid in "${FLOOD_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	FLOOD_PIDS=()
}

# more_clients N: N-1 more clients (one /32 each in 10.0.0.0/8) besides the test NAS.
more_clients() {
	local i out=""
	for ((i = 1; i < $1; i++)); do
		out+="${out:+, }{ name = \"nas-$i\"; address = \"10.$((i >> 16 & 255)).$((i >> 8 & 255)).$((i & 255))\"; secret = \"$AUTHD_SECRET\"; }"
	done
	printf '%s' "$out"
}

start() {
	METRICS_PORT=$(free_port tcp)
	AUTHD_EXTRA_CONFIG="metrics = { listen = \"127.0.0.1:$METRICS_PORT\"; };"
	authd_start
}

load() {
	"$AUTHBENCH" -s "127.0.0.1:$AUTHD_PORT" --secret "$AUTHD_SECRET" --cert "$AUTHD_PKI/laptop.pem" \
		--key "$AUTHD_PKI/laptop.key" "$@"
}

harness_init
harness_on_exit stop_flood

if [[ -z ${BENCH_SKIP_SCRAPE_COST:-} ]]; then
printf '%-8s %-10s %-12s %-12s\n' clients bytes "scrape p50" "scrape p99"
for n in 1 100 1000 10000; do
	AUTHD_MORE_CLIENTS=$(more_clients "$n")
	start
	load -c 16 -n 500 >/dev/null
	for ((i = 0; i < 200; i++)); do
		curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$METRICS_PORT/metrics"
	done | sort -n >"$HARNESS_DIR/scrapes.txt"
	printf '%-8s %-10s %-12s %-12s\n' "$n" "$(awk 'NR == 1 { print $2 }' "$HARNESS_DIR/scrapes.txt")" \
		"$(awk 'NR == 100 { printf "%.2f ms", $1 * 1000 }' "$HARNESS_DIR/scrapes.txt")" \
		"$(awk 'NR == 198 { printf "%.2f ms", $1 * 1000 }' "$HARNESS_DIR/scrapes.txt")"
	authd_terminate || fail "$AUTHD_STOP_ERROR"
done
fi

AUTHD_MORE_CLIENTS=""
start
printf '\nopen loop %s auths/s for %s s, full TLS handshakes:\n' "$RATE" "$SECONDS_RUN"
load -r "$RATE" -d "$SECONDS_RUN" >"$HARNESS_DIR/quiet.txt"
printf 'without scrapes:\n'
grep -Ei 'latency' "$HARNESS_DIR/quiet.txt"
# flood URL TITLE: the same load during SCRAPERS curl loops on URL.
flood() {
	local url=$1 title=$2 i
	for ((i = 0; i < SCRAPERS; i++)); do
		(while :; do curl -s -o /dev/null "$url" || true; done) &
		FLOOD_PIDS+=($!)
	done
	sleep 1
	load -r "$RATE" -d "$SECONDS_RUN" >"$HARNESS_DIR/flood.txt"
	stop_flood
	printf '%s:\n' "$title"
	grep -Ei 'latency' "$HARNESS_DIR/flood.txt"
}
flood "http://127.0.0.1:$METRICS_PORT/metrics" "during $SCRAPERS curl loops on /metrics"
flood "http://127.0.0.1:$(free_port tcp)/metrics" "during $SCRAPERS curl loops on a closed port (control)"
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | grep -E '^authd_decisions_total' | head -5
