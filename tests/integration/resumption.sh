#!/usr/bin/env bash
# resumption.sh CASE — TLS session resumption with the real supplicant: eapol_test -r1
# authenticates the laptop and then re-authenticates at once, offering the session it got (TLS 1.2
# session ID, TLS 1.3 stateful ticket). authd keeps sessions in process, or in a real
# redis-server shared by every node. Needs AUTHD_BIN and AUTHD_PKI (see lib.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=redis_lib.sh
source "$HERE/redis_lib.sh"

# start [EXTRA_CONFIG]: authd with sessions resumable for 10 minutes.
start() {
	AUTHD_EXTRA_CONFIG=${1:-} AUTHD_SESSION_LIFETIME=600 authd_start
}

# reauth MAC PHASE1: authentication then re-authentication; both accepted with matching keys.
reauth() {
	eapol_config laptop "phase1=$2" >"$HARNESS_DIR/laptop.conf"
	eapol_run "$HARNESS_DIR/laptop.conf" "$1" -r1
	expect_eapol_accept
	grep -q 'MPPE keys OK: 2  mismatch: 0' "$EAPOL_LOG" || fail "expected 'MPPE keys OK: 2  mismatch: 0'"
	sleep 0.2
}

# expect_resumed VERSION: the first decision was a full handshake, the second a resumption with
# fewer round trips; both accepted on the same terms.
expect_resumed() {
	jq -s -e --arg v "$1" 'length == 2 and all(.tls_version == $v and .outcome == "accept")
		and (.[0].resumed | not) and .[1].resumed and .[1].round_trips < .[0].round_trips
		and .[1].revocation == .[0].revocation' "$AUTHD_DECISIONS" >/dev/null ||
		fail "expected a full $1 handshake then a resumed one, the decisions were: $(jq -c '{tls_version, resumed, round_trips, outcome}' "$AUTHD_DECISIONS")"
	grep -q 'Handshake finished - resumed=1' "$EAPOL_LOG" || fail "the supplicant did not resume"
}

case_tls12() {
	start
	reauth 02:00:00:80:00:01 tls_disable_tlsv1_3=1
	expect_resumed TLSv1.2
}

case_tls13() {
	start
	reauth 02:00:00:80:00:02 tls_disable_tlsv1_3=0
	expect_resumed TLSv1.3
}

# Sessions in Redis, where every node finds them: one key per session, with the lifetime.
case_redis() {
	local keys ttl
	redis_start
	start "$(redis_section)"
	reauth 02:00:00:80:00:03 tls_disable_tlsv1_3=1
	expect_resumed TLSv1.2
	keys=$(rcli --scan --pattern 'test:tls-session:*' | wc -l)
	((keys >= 1)) || fail "no session was stored in Redis"
	ttl=$(rcli TTL "$(rcli --scan --pattern 'test:tls-session:*' | head -n 1)")
	((ttl > 0 && ttl <= 600)) || fail "the stored session has TTL $ttl, expected 1..600 s"
}

# Revoke, then resume: the device offering its session is checked again first, refused the
# resumption, and rejected in the full handshake that follows. The revocation comes from OCSP:
# `openssl ocsp` reads its index before waiting for a request, so an index edited now answers
# the first authentication with the old "good" and everything after with "revoked". With
# cache_max_ttl = 0 authd caches none of the answers.
case_revoked() {
	local ocsp_dir=$HARNESS_DIR/ocsp index=$HARNESS_DIR/issuing-ca.index port serial now
	cp "$AUTHD_PKI/issuing-ca.index" "$index"
	port=$("$OCSP_RESPONDER" start "$ocsp_dir" "$AUTHD_PKI" --index "$index") ||
		fail "could not start the OCSP responder"
	harness_on_exit "stop_responder $ocsp_dir"
	start "revocation = { ocsp = { url = \"http://127.0.0.1:$port/\"; }; cache_max_ttl = 0; };"
	serial=$(openssl x509 -in "$AUTHD_PKI/laptop.pem" -noout -serial | cut -d= -f2)
	now=$(date -u +%y%m%d%H%M%SZ)
	sed -i "s/^V\t\([0-9]*Z\)\t\t$serial\t/R\t\1\t$now,keyCompromise\t$serial\t/" "$index"
	eapol_config laptop phase1=tls_disable_tlsv1_3=1 >"$HARNESS_DIR/laptop.conf"
	eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:80:00:05 -r1
	sleep 0.2
	jq -s -e 'length == 2 and .[0].outcome == "accept" and .[1].outcome == "reject"
		and .[1].reason == "revoked" and .[1].revocation_source == "ocsp" and (.[1].resumed | not)' \
		"$AUTHD_DECISIONS" >/dev/null ||
		fail "expected an accept, then a revoked reject without resumption: $(jq -c '{outcome, reason, revocation_source, resumed}' "$AUTHD_DECISIONS")"
	grep -q 'session not resumed (revoked)' "$AUTHD_LOG" ||
		fail "authd did not log that it refused the resumption"
}

stop_responder() { "$OCSP_RESPONDER" stop "$1" >/dev/null 2>&1 || true; }

# A session offered to a node without resumption is simply not resumed.
case_off() {
	authd_start
	reauth 02:00:00:80:00:04 tls_disable_tlsv1_3=1
	jq -s -e 'length == 2 and all(.resumed | not)' "$AUTHD_DECISIONS" >/dev/null ||
		fail "a session was resumed with resumption off"
}

main() {
	local case=${1:-}
	if [[ $case == --list ]]; then
		declare -F | sed -n 's/^declare -f case_//p'
		exit 0
	fi
	declare -F "case_$case" >/dev/null || { echo "usage: resumption.sh CASE (resumption.sh --list)" >&2; exit 2; }
	harness_init
	harness_on_exit redis_stop
	"case_$case"
}

main "$@"
