#!/usr/bin/env bash
# hostile_nas.sh CASE — what one NAS (or what comes through it) can make authd hold, tried as an
# attacker would, against the real authd with authbench as the flooding NAS and eapol_test as
# the devices of another NAS. Needs AUTHD_BIN, AUTHD_PKI and AUTHBENCH_BIN (see lib.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

FLOOD_PID=""
FLOOD_RSS=""

stop_flood() {
	[[ -z $FLOOD_PID ]] || { kill "$FLOOD_PID" 2>/dev/null; wait "$FLOOD_PID" 2>/dev/null || true; }
	FLOOD_PID=""
}

# flood_while_nas_b MAC_BYTE SETTLE AUTHBENCH_OPTIONS...: authd with two NASes, lab-switch
# (127.0.0.1) and nas-b (127.0.0.2); authbench floods from lab-switch with the options given while,
# SETTLE seconds later, five devices of nas-b authenticate with eapol_test: each must be accepted.
# Then the flood and authd stop; FLOOD_RSS holds authd's resident KB while the flood was on.
flood_while_nas_b() {
	local mac_byte=$1 settle=$2 i
	shift 2
	AUTHD_CLIENT_ADDRESS=127.0.0.1/32
	AUTHD_MORE_CLIENTS="{ name = \"nas-b\"; address = \"127.0.0.2/32\"; secret = \"$AUTHD_SECRET\"; }"
	authd_start
	harness_on_exit stop_flood
	"$AUTHBENCH_BIN" -s "127.0.0.1:$AUTHD_PORT" --secret "$AUTHD_SECRET" --cert "$AUTHD_PKI/laptop.pem" \
		--key "$AUTHD_PKI/laptop.key" -q "$@" >"$HARNESS_DIR/flood.log" 2>&1 &
	FLOOD_PID=$!
	sleep "$settle"
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	for i in 1 2 3 4 5; do
		eapol_run "$HARNESS_DIR/laptop.conf" "02:00:00:$mac_byte:00:0$i" -A 127.0.0.2
		expect_eapol_accept
		expect_decision "02:00:00:$mac_byte:00:0$i" '.outcome == "accept" and .nas == "nas-b"' \
			"nas-b's device accepted"
	done
	FLOOD_RSS=$(rss_kb "$AUTHD_PID")
	stop_flood
	authd_stop
}

# expect_flood_cost_lab_switch MIN_EVICTED: lab-switch, and it alone, gave up at least MIN_EVICTED
# conversations, said so per NAS at stop, and authd's memory stayed bounded.
expect_flood_cost_lab_switch() {
	local min=$1
	# Far above what the bounded tables hold (tens of MB), and above what AddressSanitizer's
	# quarantine of freed memory adds in the sanitizer build; tools/bench-hostile.sh measures.
	((FLOOD_RSS < 300 * 1024)) || fail "authd's resident memory reached $FLOOD_RSS KB under the flood"
	(($(authd_counter evicted) >= min)) ||
		fail "expected >= $min conversations of the flooding NAS ended, counted $(authd_counter evicted)"
	grep -q "nas=lab-switch: [0-9]* idle conversations ended to make room" "$AUTHD_LOG" ||
		fail "authd did not say, per NAS, what the quota cost the flooding NAS"
	if grep -q "nas=nas-b: [0-9]* idle conversations ended" "$AUTHD_LOG"; then
		fail "the flood cost nas-b conversations"
	fi
}

# One NAS floods half-open conversations, five times what the table holds (200): nas-b's devices
# all succeed, and the flood costs only the flooding NAS its own oldest conversations.
case_flood_half_open() {
	AUTHD_MAX_CONVERSATIONS=200
	flood_while_nas_b a0 2 --half-open 1000
	echo "5 of 5 devices of nas-b accepted while lab-switch held 1000 half-open conversations; authd RSS ${FLOOD_RSS} KB"
	expect_flood_cost_lab_switch 800
}

# lab-switch opens 300 conversations and fills each one's reassembly buffer with 16,000 declared
# bytes (all but the last sent): about 4.8 MB held if nothing bounded it. 1 MiB holds about 60 such
# conversations: most of the 300 must go.
flood_buffers() {
	flood_while_nas_b a2 3 --half-open 300 --half-open-fill 16000 --fragment 1000 -c 64
	echo "5 of 5 devices of nas-b accepted while lab-switch filled 300 reassembly buffers; $(authd_counter evicted) of its conversations ended; authd RSS ${FLOOD_RSS} KB"
	expect_flood_cost_lab_switch 150
}

# lab-switch's own byte quota (clients.max_buffered_bytes = 1 MiB): its oldest go first.
case_flood_buffers_nas_quota() {
	AUTHD_CLIENT_EXTRA="max_buffered_bytes = 1048576;"
	flood_buffers
	grep -q "ended to make room: its NAS buffered more than clients.max_buffered_bytes" "$AUTHD_LOG" ||
		fail "no conversation was said to have ended for lab-switch's byte quota"
}

# No quota per NAS, a global budget of 1 MiB (eap.max_buffered_bytes): the NAS buffering the most,
# lab-switch, gives way; nas-b's devices are unaffected.
case_flood_buffers_budget() {
	AUTHD_MAX_BUFFERED_BYTES=1048576
	flood_buffers
	grep -q "ended to make room: all buffered more than eap.max_buffered_bytes, its NAS the most" "$AUTHD_LOG" ||
		fail "no conversation was said to have ended for the byte budget"
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
