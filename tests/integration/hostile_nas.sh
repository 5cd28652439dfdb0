#!/usr/bin/env bash
# hostile_nas.sh CASE — what one NAS (or what comes through it) can make authd hold, tried as an
# attacker would, against the real authd with authbench as the flooding NAS and eapol_test as
# the devices of another NAS. Needs AUTHD_BIN, AUTHD_PKI and AUTHBENCH_BIN (see lib.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

FLOOD_PID=""

stop_flood() {
	[[ -z $FLOOD_PID ]] || { kill "$FLOOD_PID" 2>/dev/null; wait "$FLOOD_PID" 2>/dev/null || true; }
	FLOOD_PID=""
}

# rss_kb PID: the resident memory of a process.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# One NAS (lab-switch, 127.0.0.1) floods half-open conversations, five times what the table holds,
# while the devices of a second NAS (nas-b, 127.0.0.2) authenticate: they all succeed, the flood
# costs only the flooding NAS its own oldest conversations, and authd's memory stays bounded.
case_flood_half_open() {
	local i rss
	AUTHD_CLIENT_ADDRESS=127.0.0.1/32
	AUTHD_MORE_CLIENTS="{ name = \"nas-b\"; address = \"127.0.0.2/32\"; secret = \"$AUTHD_SECRET\"; }"
	AUTHD_MAX_CONVERSATIONS=200
	authd_start
	harness_on_exit stop_flood
	"$AUTHBENCH_BIN" -s "127.0.0.1:$AUTHD_PORT" --secret "$AUTHD_SECRET" --cert "$AUTHD_PKI/laptop.pem" \
		--key "$AUTHD_PKI/laptop.key" --half-open 1000 -q >"$HARNESS_DIR/flood.log" 2>&1 &
	FLOOD_PID=$!
	sleep 2
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	for i in 1 2 3 4 5; do
		eapol_run "$HARNESS_DIR/laptop.conf" "02:00:00:a0:00:0$i" -A 127.0.0.2
		expect_eapol_accept
		expect_decision "02:00:00:a0:00:0$i" '.outcome == "accept" and .nas == "nas-b"' "nas-b's device accepted"
	done
	rss=$(rss_kb "$AUTHD_PID")
	stop_flood
	authd_stop
	echo "5 of 5 devices of nas-b accepted while lab-switch held 1000 half-open conversations; authd RSS ${rss} KB"
	# 200 conversations of a few KB each: far below this, whatever the flood.
	((rss < 100 * 1024)) || fail "authd's resident memory reached $rss KB under the flood"
	(($(authd_counter evicted) >= 800)) || fail "expected >= 800 conversations of the flooding NAS ended, counted $(authd_counter evicted)"
	grep -q "nas=lab-switch: [0-9]* idle conversations ended to make room" "$AUTHD_LOG" ||
		fail "authd did not say, per NAS, what the quota cost the flooding NAS"
	if grep -q "nas=nas-b: [0-9]* idle conversations ended" "$AUTHD_LOG"; then
		fail "the flood cost nas-b conversations"
	fi
}

# One NAS (lab-switch) capped at 20 requests a second sends far more; what is over the cap is
# dropped before any work and counted for that NAS, while a second NAS's devices authenticate.
case_request_flood() {
	local i
	AUTHD_CLIENT_ADDRESS=127.0.0.1/32
	AUTHD_CLIENT_EXTRA="max_requests_per_second = 20;"
	AUTHD_MORE_CLIENTS="{ name = \"nas-b\"; address = \"127.0.0.2/32\"; secret = \"$AUTHD_SECRET\"; }"
	authd_start
	harness_on_exit stop_flood
	"$AUTHBENCH_BIN" -s "127.0.0.1:$AUTHD_PORT" --secret "$AUTHD_SECRET" --cert "$AUTHD_PKI/laptop.pem" \
		--key "$AUTHD_PKI/laptop.key" -c 32 -d 4 --timeout 300 --retries 0 --allow-reject -q \
		>"$HARNESS_DIR/flood.log" 2>&1 &
	FLOOD_PID=$!
	sleep 1
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	for i in 1 2 3; do
		eapol_run "$HARNESS_DIR/laptop.conf" "02:00:00:a1:00:0$i" -A 127.0.0.2
		expect_eapol_accept
	done
	wait "$FLOOD_PID" || true
	FLOOD_PID=""
	authd_stop
	(($(authd_counter nas_rate) > 100)) || fail "expected many requests of lab-switch dropped over its cap, counted $(authd_counter nas_rate)"
	grep -q "nas=lab-switch: [0-9]* requests dropped over max_requests_per_second" "$AUTHD_LOG" ||
		fail "authd did not sum the drops of lab-switch at stop"
	if grep -q "nas=nas-b: [0-9]* requests dropped" "$AUTHD_LOG"; then
		fail "nas-b, under no cap, lost requests"
	fi
	echo "3 of 3 devices of nas-b accepted; $(authd_counter nas_rate) requests of lab-switch dropped over its cap of 20/s"
}

list_cases() { declare -F | sed -n 's/^declare -f case_//p'; }

main() {
	[[ $# -eq 1 ]] || { echo "usage: hostile_nas.sh CASE | --list" >&2; exit 2; }
	if [[ $1 == --list ]]; then
		list_cases
		exit 0
	fi
	declare -F "case_$1" >/dev/null || { echo "hostile_nas.sh: no case '$1'" >&2; exit 2; }
	[[ -x ${AUTHBENCH_BIN:-} ]] || fail "AUTHBENCH_BIN must name authbench"
	harness_init
	"case_$1"
	echo "PASS: $1"
}

main "$@"
