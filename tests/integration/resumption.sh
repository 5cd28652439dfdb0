#!/usr/bin/env bash
# resumption.sh CASE — TLS session resumption with the real supplicant: eapol_test -r1
# authenticates the laptop and then re-authenticates at once, offering the session it got (TLS 1.2
# session ID, TLS 1.3 stateful ticket). authd keeps sessions in process, or in a real
# redis-server shared by every node, sealed under the node key. Needs AUTHD_BIN and AUTHD_PKI
# (see lib.sh); the sealed_* cases need TAMPER_BIN (redis_tamper, a Redis writer in the middle).
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

# ---- Redis is untrusted storage -------------------------------------------------------------

TAMPER_PID=""
TAMPER_PORT=""

stop_tamper() {
	[[ -z $TAMPER_PID ]] || { kill -TERM "$TAMPER_PID" 2>/dev/null; wait "$TAMPER_PID" 2>/dev/null; }
	TAMPER_PID=""
}

# tamper MODE: what redis_tamper does to the next session authd stores (pass, flip, replace FILE).
tamper() { echo "$1" >"$HARNESS_DIR/tamper.mode"; }

# tamper_start: redis_tamper between authd and redis-server, passing everything for now.
tamper_start() {
	[[ -x ${TAMPER_BIN:-} ]] || fail "TAMPER_BIN must name redis_tamper"
	tamper pass
	"$TAMPER_BIN" --port-file "$HARNESS_DIR/tamper.port" --redis "$REDIS_PORT" \
		--mode-file "$HARNESS_DIR/tamper.mode" 2>"$HARNESS_DIR/tamper.log" &
	TAMPER_PID=$!
	harness_on_exit stop_tamper
	TAMPER_PORT=$(wait_port_file "$HARNESS_DIR/tamper.port" "$TAMPER_PID" "$HARNESS_DIR/tamper.log")
}

# start_tampered: authd with resumption, its Redis reached through redis_tamper.
start_tampered() {
	tamper_start
	start "$(REDIS_PORT=$TAMPER_PORT redis_section)"
}

# session_value: the one session value in Redis (fails unless there is exactly one).
session_value() {
	local keys
	keys=$(rcli --scan --pattern 'test:tls-session:*')
	[[ $(wc -w <<<"$keys") == 1 ]] || fail "expected one session in Redis, found: $keys"
	rcli --raw GET "$keys" | tr -d '\n'
}

# expect_not_resumed REASON: both authentications of eapol_test -r1 were accepted, each after a
# full handshake; authd logged that it ignored the stored value for REASON and counted it.
expect_not_resumed() {
	local refused
	jq -s -e 'length == 2 and all(.outcome == "accept" and (.resumed | not))' "$AUTHD_DECISIONS" >/dev/null ||
		fail "expected two full handshakes, the decisions were: $(jq -c '{outcome, resumed, round_trips}' "$AUTHD_DECISIONS")"
	if grep -q 'Handshake finished - resumed=1' "$EAPOL_LOG"; then
		fail "the supplicant resumed a session whose stored value did not open"
	fi
	grep -q "tls session test:tls-session:[0-9a-f]* in Redis ignored: $1" "$AUTHD_LOG" ||
		fail "authd did not log 'tls session ... in Redis ignored: $1'"
	authd_stop
	refused=$(sed -n 's/.*tls session store: refused=\([0-9]*\).*/\1/p' "$AUTHD_LOG" | tail -n 1)
	[[ -n $refused ]] && ((refused >= 1)) ||
		fail "authd did not count the refused value at stop (tls session store: refused=N), got '$refused'"
}

# A session value altered in Redis (one character) does not open: full handshake.
case_sealed_altered() {
	redis_start
	start_tampered
	tamper flip
	reauth 02:00:00:80:00:11 tls_disable_tlsv1_3=1
	grep -q 'flip: SET test:tls-session:' "$HARNESS_DIR/tamper.log" || fail "redis_tamper altered no session"
	expect_not_resumed "authentication failed"
}

# The printer's session value, copied under the laptop's session id, does not open there.
case_sealed_copied() {
	redis_start
	start_tampered
	eapol_config printer >"$HARNESS_DIR/printer.conf"
	eapol_run "$HARNESS_DIR/printer.conf" 02:00:00:80:00:12
	expect_eapol_accept
	session_value >"$HARNESS_DIR/printer.session"
	: >"$AUTHD_DECISIONS"
	tamper "replace $HARNESS_DIR/printer.session"
	reauth 02:00:00:80:00:13 tls_disable_tlsv1_3=1
	expect_not_resumed "authentication failed"
}

# A value sealed by a node with another key (here: one this node does not list) does not open.
case_sealed_other_key() {
	redis_start
	node_key "$HARNESS_DIR/other.key" k-other
	start "$(NODE_KEY=$HARNESS_DIR/other.key redis_section)"
	eapol_config printer >"$HARNESS_DIR/printer.conf"
	eapol_run "$HARNESS_DIR/printer.conf" 02:00:00:80:00:14
	expect_eapol_accept
	session_value >"$HARNESS_DIR/other.session"
	[[ $(cat "$HARNESS_DIR/other.session") == v1:k-other:* ]] || fail "the session was not sealed by k-other"
	authd_stop
	rcli FLUSHALL >/dev/null
	: >"$AUTHD_DECISIONS"
	start_tampered
	tamper "replace $HARNESS_DIR/other.session"
	reauth 02:00:00:80:00:15 tls_disable_tlsv1_3=1
	expect_not_resumed "unknown key id"
}

# What a Redis reader gets is no SSL_SESSION: neither the value nor its hex or base64url
# decoding parses as DER, and the device's certificate is in none of them.
case_sealed_not_der() {
	local value cert_hex form
	redis_start
	start "$(redis_section)"
	reauth 02:00:00:80:00:16 tls_disable_tlsv1_3=1
	expect_resumed TLSv1.2
	value=$(session_value)
	printf '%s' "$value" >"$HARNESS_DIR/value.raw"
	# What an attacker would try: the bytes as they are, as hex, as base64url after the last ':'.
	perl -e 'local $/; $_ = <STDIN>; print pack("H*", $_) if /^[0-9a-fA-F]+$/' \
		<"$HARNESS_DIR/value.raw" >"$HARNESS_DIR/value.hex"
	perl -MMIME::Base64 -e 'local $/; $_ = <STDIN>; s/.*://s; tr{-_}{+/}; print decode_base64($_)' \
		<"$HARNESS_DIR/value.raw" >"$HARNESS_DIR/value.b64"
	cert_hex=$(openssl x509 -in "$AUTHD_PKI/laptop.pem" -outform DER | od -An -v -tx1 | tr -d ' \n')
	for form in raw hex b64; do
		if [[ -s $HARNESS_DIR/value.$form ]] &&
			openssl sess_id -inform DER -in "$HARNESS_DIR/value.$form" -noout 2>/dev/null; then
			fail "the session value in Redis ($form) is a DER SSL_SESSION: its master secret is readable"
		fi
		if od -An -v -tx1 "$HARNESS_DIR/value.$form" | tr -d ' \n' | grep -q "$cert_hex"; then
			fail "the session value in Redis ($form) holds the laptop's certificate"
		fi
	done
	[[ $value == v1:k1:* ]] || fail "the session value does not name its key (v1:k1:...): ${value:0:20}"
}

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
