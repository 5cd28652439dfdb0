#!/usr/bin/env bash
# bench-revocation.sh [N] — what revocation costs, on loopback, with a throwaway redis-server, the
# Device CA's OCSP responder (openssl ocsp) and the test NAS (test_nas):
#   1. the revocation check per authentication (bench_revocation, N checks each): uncached (asks
#      the responder) and cached, with the cache in Redis and in process;
#   2. how fast a helpdesk revoke reaches the NAS: 20 rounds of laptop accepted (eapol_test),
#      Accounting-Start, `authctl revoke`: the time from the revocation being recorded in Redis to
#      the Disconnect-Request leaving (as authctl reports it) and authctl's whole wall time.
# Needs a build (build/, e.g. from tools/demo.sh) and the test packages (tools/install-deps.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
# shellcheck source=tests/integration/redis_lib.sh
source "$ROOT/tests/integration/redis_lib.sh"
N=${1:-500}
export AUTHD_BIN=$BUILD/authd/authd AUTHD_PKI=$BUILD/test-pki AUTHCTL_BIN=$BUILD/authd/authctl
NAS_BIN=$BUILD/tests/nas/test_nas
RESPONDER=$ROOT/tests/ocsp/ocsp_responder.sh
NAS_PID=""

# percentile P FILE: the P-th percentile (nearest rank) of the numbers in FILE, one per line.
percentile() {
	sort -g "$2" | awk -v p="$1" '{ v[NR] = $1 } END { r = int((p * NR + 99) / 100); if (r < 1) r = 1; print v[r] }'
}

stop_all() {
	"$RESPONDER" stop "$HARNESS_DIR/ocsp" >/dev/null 2>&1 || true
	[[ -z $NAS_PID ]] || { kill "$NAS_PID" 2>/dev/null; wait "$NAS_PID" 2>/dev/null || true; }
	redis_stop
}

main() {
	local port i out sent wall start
	"$ROOT/tests/pki/make-pki.sh" "$AUTHD_PKI"
	harness_init
	harness_on_exit stop_all
	redis_start
	port=$("$RESPONDER" start "$HARNESS_DIR/ocsp" "$AUTHD_PKI" --nmin 60)

	echo "== 1. the revocation check per authentication"
	"$BUILD/tests/ocsp/bench_revocation" "$AUTHD_PKI" "http://127.0.0.1:$port/" "$REDIS_PORT" "$N"
	"$BUILD/tests/ocsp/bench_revocation" "$AUTHD_PKI" "http://127.0.0.1:$port/" none "$N"

	echo "== 2. authctl revoke to Disconnect-Request, 20 rounds"
	"$NAS_BIN" listen --port-file "$HARNESS_DIR/nas.port" --secret "$AUTHD_SECRET" --mode ack \
		--log "$HARNESS_DIR/nas.log" >"$HARNESS_DIR/nas.out" 2>&1 &
	NAS_PID=$!
	AUTHD_ACCT_PORT=$(free_udp_port)
	AUTHD_CLIENT_EXTRA="coa_port = $(wait_port_file "$HARNESS_DIR/nas.port" "$NAS_PID" "$HARNESS_DIR/nas.out");"
	AUTHD_EXTRA_CONFIG="$(redis_section) revocation = { ocsp = { url = \"http://127.0.0.1:$port/\"; }; };"
	AUTHD_LOG_LEVEL=info authd_start
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	: >"$HARNESS_DIR/sent"
	: >"$HARNESS_DIR/wall"
	for ((i = 1; i <= 20; i++)); do
		eapol_run "$HARNESS_DIR/laptop.conf" "$(printf '02:00:00:b0:00:%02x' "$i")"
		expect_eapol_accept
		"$NAS_BIN" account --server "127.0.0.1:$AUTHD_ACCT_PORT" --secret "$AUTHD_SECRET" --status start \
			"Calling-Station-Id=$(printf '02-00-00-B0-00-%02X' "$i")" "Acct-Session-Id=BENCH-$i" >/dev/null
		start=$(date +%s%N)
		out=$(authctl_cmd revoke --cert "$AUTHD_PKI/laptop.pem" --reason bench)
		echo $((($(date +%s%N) - start) / 1000)) | awk '{ printf "%.1f\n", $1 / 1000 }' >>"$HARNESS_DIR/wall"
		sent=$(grep -o 'sent [0-9.]* ms after the revocation' <<<"$out" | head -n 1 | cut -d' ' -f2)
		[[ -n $sent ]] || fail "round $i: authctl reported no disconnect: $out"
		echo "$sent" >>"$HARNESS_DIR/sent"
		authctl_cmd unrevoke --cert "$AUTHD_PKI/laptop.pem" >/dev/null
	done
	authd_stop
	printf 'recorded -> Disconnect-Request sent (ms): median %s  max %s\n' \
		"$(percentile 50 "$HARNESS_DIR/sent")" "$(percentile 100 "$HARNESS_DIR/sent")"
	printf 'authctl revoke, whole command (ms):       median %s  max %s\n' \
		"$(percentile 50 "$HARNESS_DIR/wall")" "$(percentile 100 "$HARNESS_DIR/wall")"
}

main "$@"
