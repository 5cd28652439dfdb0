#!/usr/bin/env bash
# bench-hostile.sh — what a hostile NAS (or what comes through one) makes authd hold: authd's
# resident memory before and during each attack, and the conversations it ended to stay within
# its bounds. Attacks, each against a fresh authd with the test harness's config:
#   tunnel-password   25,000 signed EAP Access-Requests with 180 Tunnel-Password attributes each
#                     (radius_probe tunnel-password-flood)
#   unsigned          the same as plain requests without Message-Authenticator, to a client that
#                     does not require it: no secret needed (tunnel-password-flood-unsigned)
#   half-open         HALF_OPEN (default 20000) conversations opened up to the EAP-TLS Start, held
#   filled            FILLED (default 5000) conversations each holding 16,000 declared bytes in
#                     reassembly (authbench --half-open-fill), with authd's default byte budget
#   filled-budget     the same with eap.max_buffered_bytes = 16 MiB
#   filled-60k        FILLED conversations each declaring 60,000 bytes: more than one flight
# AUTHD_BIN (default: this build's) may name an older authd to compare with: an attack whose
# settings it does not know is reported as such. The attackers (radius_probe, authbench) are
# this build's. Needs a build (build/, e.g. from tools/demo.sh) and the test packages.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
export AUTHD_BIN=${AUTHD_BIN:-$BUILD/authd/authd} AUTHD_PKI=$BUILD/test-pki
PROBE=$BUILD/tests/integration/radius_probe
AUTHBENCH=$BUILD/tools/authbench/authbench
HALF_OPEN=${HALF_OPEN:-20000}
FILLED=${FILLED:-5000}
FLOOD_PID=""

stop_flood() {
	[[ -z $FLOOD_PID ]] || { kill "$FLOOD_PID" 2>/dev/null; wait "$FLOOD_PID" 2>/dev/null || true; }
}

# authbench_flood SECONDS OPTIONS...: authbench from the NAS, held for SECONDS.
authbench_flood() {
	local seconds=$1
	shift
	"$AUTHBENCH" -s "127.0.0.1:$AUTHD_PORT" --secret "$AUTHD_SECRET" --cert "$AUTHD_PKI/laptop.pem" \
		--key "$AUTHD_PKI/laptop.key" -q "$@" >"$HARNESS_DIR/flood.log" 2>&1 &
	FLOOD_PID=$!
	sleep "$seconds"
}

# attack NAME: runs one attack against a fresh authd; prints its table line.
attack() {
	local name=$1 before after evicted
	harness_init
	harness_on_exit stop_flood
	case $name in
	unsigned) AUTHD_CLIENT_EXTRA="require_message_authenticator = false;" ;;
	filled-budget) AUTHD_MAX_BUFFERED_BYTES=$((16 << 20)) ;;
	esac
	AUTHD_PORT=1812 AUTHD_DECISIONS=$HARNESS_DIR/check.jsonl authd_write_config "$HARNESS_DIR/check.conf"
	if ! "$AUTHD_BIN" -C -c "$HARNESS_DIR/check.conf" >/dev/null 2>&1; then
		printf '%-16s %s\n' "$name" "not run: this authd refuses the settings it needs"
		return 0
	fi
	authd_start >/dev/null
	before=$(rss_kb "$AUTHD_PID")
	case $name in
	tunnel-password) "$PROBE" "$AUTHD_PORT" "$AUTHD_SECRET" tunnel-password-flood >/dev/null 2>&1 || true ;;
	unsigned) "$PROBE" "$AUTHD_PORT" "$AUTHD_SECRET" tunnel-password-flood-unsigned >/dev/null 2>&1 || true ;;
	half-open) authbench_flood 10 --half-open "$HALF_OPEN" ;;
	filled | filled-budget) authbench_flood 20 --half-open "$FILLED" --half-open-fill 16000 --fragment 1000 -c 256 ;;
	filled-60k) authbench_flood 30 --half-open "$FILLED" --half-open-fill 60000 --fragment 1000 -c 256 ;;
	esac
	after=$(rss_kb "$AUTHD_PID")
	stop_flood
	FLOOD_PID=""
	authd_stop
	evicted=$(grep -o "counters:.*" "$AUTHD_LOG" | tr ' ' '\n' | sed -n 's/^evicted=//p')
	printf '%-16s %12s %12s %10s\n' "$name" "$before" "$after" "${evicted:-0}"
}

"$ROOT/tests/pki/make-pki.sh" "$AUTHD_PKI" >/dev/null
printf '%-16s %12s %12s %10s\n' attack "rss_before_kb" "rss_during_kb" evicted
for name in tunnel-password unsigned half-open filled filled-budget filled-60k; do
	(attack "$name")
done
