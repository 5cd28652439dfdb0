#!/usr/bin/env bash
# revocation.sh CASE — certificate revocation by CRL, end to end with eapol_test against authd.
# Needs AUTHD_BIN and AUTHD_PKI (see lib.sh; the PKI holds the CRLs). `revocation.sh --list`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# start_with_crl CRL_FILE [REVOCATION_SETTINGS]: authd checking the CRL at $HARNESS_DIR/crl.pem.
start_with_crl() {
	cp "$AUTHD_PKI/$1" "$HARNESS_DIR/crl.pem"
	AUTHD_EXTRA_CONFIG="revocation = { crl = [ \"$HARNESS_DIR/crl.pem\" ]; ${2:-} };"
	authd_start
}

# auth DEVICE MAC OUTCOME REASON [REVOCATION]: one authentication and its decision.
auth() {
	local device=$1 mac=$2 outcome=$3 reason=$4 revocation=${5:-}
	eapol_config "$device" >"$HARNESS_DIR/$device.conf"
	eapol_run "$HARNESS_DIR/$device.conf" "$mac"
	if [[ $outcome == accept ]]; then expect_eapol_accept; else expect_eapol_reject; fi
	expect_decision "$mac" ".outcome == \"$outcome\" and .reason == \"$reason\"" "$outcome with reason $reason"
	if [[ -n $revocation ]]; then
		expect_decision "$mac" ".revocation == \"$revocation\" and .revocation_source == \"crl\"" \
			"revocation $revocation from the CRL"
	fi
}

case_crl_revoked() {
	start_with_crl issuing-ca.crl.pem
	auth laptop 02:00:00:40:00:01 accept ok good
	auth revoked 02:00:00:40:00:02 reject revoked revoked
}

# A CRL replaced on disk takes effect without a restart; so does one replaced before SIGHUP.
case_crl_reload() {
	local pid
	start_with_crl issuing-ca-empty.crl.pem
	pid=$AUTHD_PID
	auth revoked 02:00:00:41:00:01 accept ok good
	cp "$AUTHD_PKI/issuing-ca.crl.pem" "$HARNESS_DIR/crl.new" && mv "$HARNESS_DIR/crl.new" "$HARNESS_DIR/crl.pem"
	sleep 1.2   # changes are looked for at most once a second
	auth revoked 02:00:00:41:00:02 reject revoked revoked
	cp "$AUTHD_PKI/issuing-ca-empty.crl.pem" "$HARNESS_DIR/crl.new" && mv "$HARNESS_DIR/crl.new" "$HARNESS_DIR/crl.pem"
	kill -HUP "$AUTHD_PID"
	# SIGHUP reloads the whole config, the CRLs with it.
	for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q 'config generation 2 in force' "$AUTHD_LOG" && break; sleep 0.1; done
	grep -q 'config generation 2 in force' "$AUTHD_LOG" || fail "authd did not log 'config generation 2 in force'"
	auth revoked 02:00:00:41:00:03 accept ok good
	[[ $AUTHD_PID == "$pid" ]] && kill -0 "$pid" || fail "authd was restarted or died during the reloads"
	# A broken replacement is refused and the CRL in force stays.
	echo "not a CRL" >"$HARNESS_DIR/crl.pem"
	sleep 1.2
	auth laptop 02:00:00:41:00:04 accept ok good
}

case_crl_expired() {
	start_with_crl issuing-ca-expired.crl.pem
	auth laptop 02:00:00:42:00:01 reject revocation_unknown unknown
	authd_stop
	start_with_crl issuing-ca-expired.crl.pem 'crl_expired = "ignore";'
	auth laptop 02:00:00:42:00:02 accept ok good
	auth revoked 02:00:00:42:00:03 reject revoked revoked
}

case_crl_untrusted() {
	local out rc=0
	harness_log "a CRL signed by a CA outside tls.ca must not load"
	AUTHD_PORT=1812 AUTHD_DECISIONS=$HARNESS_DIR/d.jsonl \
		AUTHD_EXTRA_CONFIG="revocation = { crl = [ \"$AUTHD_PKI/rogue-ca.crl.pem\" ]; };" \
		authd_write_config "$HARNESS_DIR/rogue.conf"
	out=$("$AUTHD_BIN" -C -c "$HARNESS_DIR/rogue.conf" 2>&1) || rc=$?
	((rc != 0)) || fail "authd -C accepted a CRL signed by an untrusted CA"
	grep -q "no trusted CA (tls.ca) named CN=authd Rogue CA" <<<"$out" || fail "authd -C said: $out"
}

# check_intermediates: the Root CA's CRL revoking the Device CA refuses every device it issued,
# and says which certificate of the chain was revoked; without the setting only devices count.
case_crl_intermediate() {
	cp "$AUTHD_PKI/issuing-ca.crl.pem" "$HARNESS_DIR/device-ca.crl.pem"
	cp "$AUTHD_PKI/root-ca.crl.pem" "$HARNESS_DIR/root-ca.crl.pem"
	AUTHD_EXTRA_CONFIG="revocation = { crl = [ \"$HARNESS_DIR/device-ca.crl.pem\", \"$HARNESS_DIR/root-ca.crl.pem\" ];
		check_intermediates = true; };"
	authd_start
	auth laptop 02:00:00:44:00:01 accept ok good
	cp "$AUTHD_PKI/root-ca-revokes-device-ca.crl.pem" "$HARNESS_DIR/crl.new"
	mv "$HARNESS_DIR/crl.new" "$HARNESS_DIR/root-ca.crl.pem"
	sleep 1.2   # changes are looked for at most once a second
	auth laptop 02:00:00:44:00:02 reject revoked revoked
	expect_decision 02:00:00:44:00:02 '.detail | test("intermediate CA .*Device CA")' \
		"the detail to name the revoked intermediate"
	authd_stop
	AUTHD_EXTRA_CONFIG="revocation = { crl = [ \"$HARNESS_DIR/device-ca.crl.pem\", \"$HARNESS_DIR/root-ca.crl.pem\" ]; };"
	authd_start
	auth laptop 02:00:00:44:00:03 accept ok good
}

main() {
	local case=${1:-}
	if [[ $case == --list ]]; then
		declare -F | sed -n 's/^declare -f case_//p'
		exit 0
	fi
	declare -F "case_$case" >/dev/null || { echo "usage: revocation.sh CASE (revocation.sh --list)" >&2; exit 2; }
	harness_init
	"case_$case"
}

main "$@"
