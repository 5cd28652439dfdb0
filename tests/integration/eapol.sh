#!/usr/bin/env bash
# eapol.sh CASE — one EAP-TLS integration case: a real supplicant (hostapd's eapol_test)
# against a real authd started for this case alone. Needs AUTHD_BIN and AUTHD_PKI (see lib.sh).
# `eapol.sh --list` prints the cases.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"

TLS12_ONLY="tls_disable_tlsv1_0=1 tls_disable_tlsv1_1=1 tls_disable_tlsv1_2=0 tls_disable_tlsv1_3=1"
TLS13_ONLY="tls_disable_tlsv1_0=1 tls_disable_tlsv1_1=1 tls_disable_tlsv1_2=1 tls_disable_tlsv1_3=0"
TLS12_OR_13="tls_disable_tlsv1_0=1 tls_disable_tlsv1_1=1 tls_disable_tlsv1_2=0 tls_disable_tlsv1_3=0"
# The supplicant's own OpenSSL refuses to load SHA-1-signed or RSA-1024 certificates at its
# default security level; lower it so that authd is the one who has to say no.
WEAK_CLIENT="global=openssl_ciphers=DEFAULT@SECLEVEL=0"

# expect_laptop_accept MAC TLS_VERSION: the full decision record of an accepted laptop.
expect_laptop_accept() {
	local mac=$1 version=$2 serial
	serial=$(cert_serial "$AUTHD_PKI/laptop.pem")
	expect_decision "$mac" '.outcome == "accept"' 'outcome "accept"'
	expect_decision "$mac" '.reason == "ok"' 'reason "ok"'
	expect_decision "$mac" ".tls_version == \"$version\"" "tls_version $version"
	expect_decision "$mac" '.identity == "laptop-0001.corp.example"' 'identity laptop-0001.corp.example'
	expect_decision "$mac" '.subject | test("CN ?= ?laptop-0001\\.corp\\.example")' \
		'subject with CN=laptop-0001.corp.example'
	expect_decision "$mac" '.issuer | test("CN ?= ?authd Test Device CA")' \
		'issuer with CN=authd Test Device CA'
	expect_decision "$mac" \
		"(.serial | ascii_downcase | gsub(\"[^0-9a-f]\"; \"\") | sub(\"^0+\"; \"\")) == \"$serial\"" \
		"serial $serial (hex) of laptop.pem"
	expect_decision "$mac" '(.san | type) == "array" and any(.san[]; test("laptop-0001\\.corp\\.example"))' \
		'san containing laptop-0001.corp.example'
	expect_decision "$mac" '.nas == "lab-switch"' 'nas "lab-switch" (the client name)'
	expect_decision "$mac" \
		'(.calling_station_id | ascii_downcase | gsub("[^0-9a-f]"; "")) == $mac' \
		"calling_station_id $mac"
	expect_decision "$mac" '(.round_trips | type) == "number" and .round_trips > 0' 'round_trips > 0'
	expect_decision "$mac" '(.duration_ms | type) == "number" and .duration_ms >= 0' \
		'numeric duration_ms'
}

# expect_reject_decision MAC REASON
expect_reject_decision() {
	local mac=$1 reason=$2
	expect_decision "$mac" '.outcome == "reject"' 'outcome "reject"'
	expect_decision "$mac" ".reason == \"$reason\"" "reason \"$reason\""
	expect_decision "$mac" '.nas == "lab-switch"' 'nas "lab-switch"'
}

# accept_case DEVICE MAC TLS_VERSION [eapol_config args...]
accept_case() {
	local device=$1 mac=$2 version=$3
	shift 3
	eapol_config "$device" "$@" >"$HARNESS_DIR/$device.conf"
	eapol_run "$HARNESS_DIR/$device.conf" "$mac"
	expect_eapol_accept
	expect_laptop_accept "$mac" "$version"
}

# reject_case DEVICE MAC REASON [eapol_config args...]
reject_case() {
	local device=$1 mac=$2 reason=$3
	shift 3
	eapol_config "$device" "$@" >"$HARNESS_DIR/$device.conf"
	eapol_run "$HARNESS_DIR/$device.conf" "$mac"
	expect_eapol_reject
	expect_reject_decision "$mac" "$reason"
}

case_tls12_accept() {
	authd_start
	accept_case laptop 02:00:00:01:00:01 TLSv1.2 phase1="$TLS12_ONLY"
}

case_tls13_accept() {
	authd_start
	accept_case laptop 02:00:00:01:00:02 TLSv1.3 phase1="$TLS13_ONLY"
}

# received_user_name: the User-Name of the Access-Accept eapol_test received.
received_user_name() {
	sed -n "/Attribute 1 (User-Name)/{n;s/^ *Value: '\(.*\)'$/\1/p}" "$EAPOL_LOG" | tail -n 1
}

# The Access-Accept names the device by its verified certificate identity, never by the EAP
# identity it typed (which nothing checked), unless identity.reply_user_name = "eap".
case_user_name_from_certificate() {
	local got
	authd_start
	EAPOL_IDENTITY=someone-else.corp.example eapol_config laptop >"$HARNESS_DIR/other.conf"
	eapol_run "$HARNESS_DIR/other.conf" 02:00:00:01:00:05
	expect_eapol_accept
	got=$(received_user_name)
	[[ $got == laptop-0001.corp.example ]] ||
		fail "the Access-Accept's User-Name is '$got', expected the certificate's laptop-0001.corp.example"
	authd_stop
	AUTHD_EXTRA_CONFIG='identity = { reply_user_name = "eap"; };' authd_start
	eapol_run "$HARNESS_DIR/other.conf" 02:00:00:01:00:06
	expect_eapol_accept
	got=$(received_user_name)
	[[ $got == someone-else.corp.example ]] ||
		fail "with reply_user_name = \"eap\" the User-Name is '$got', expected the EAP identity"
}

case_reject_expired() {
	authd_start
	reject_case expired 02:00:00:02:00:01 cert_expired
}

# TLS 1.3 checks the client certificate after the server's Finished: the failure path differs.
case_reject_expired_tls13() {
	authd_start
	reject_case expired 02:00:00:02:00:02 cert_expired phase1="$TLS13_ONLY"
}

case_reject_future() {
	authd_start
	reject_case future 02:00:00:02:00:03 cert_not_yet_valid
}

case_reject_rogue() {
	authd_start
	reject_case rogue-chain 02:00:00:02:00:04 unknown_ca
}

case_reject_selfsigned() {
	authd_start
	reject_case selfsigned 02:00:00:02:00:05 unknown_ca
}

case_reject_noeku() {
	authd_start
	reject_case noeku 02:00:00:02:00:06 no_client_eku
}

# wpa_supplicant will not start EAP-TLS without a certificate and key, so give it the laptop's
# and forbid (in its OpenSSL config) the only signature algorithms that ECDSA key can make: it
# then answers the CertificateRequest with an empty Certificate message.
case_reject_no_client_cert() {
	local conf=$HARNESS_DIR/no-client-cert-openssl.cnf
	cat >"$conf" <<'EOF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
ClientSignatureAlgorithms = RSA+SHA256:RSA-PSS+SHA256
EOF
	authd_start
	OPENSSL_CONF=$conf reject_case laptop 02:00:00:02:00:07 no_client_cert
	grep -q 'OpenSSL: TX ver=0x303 content_type=22 (handshake/certificate)' "$EAPOL_LOG" ||
		fail "expected the supplicant to send a (empty) Certificate message"
}

# A device not set up for EAP-TLS (no certificate) refuses the method with a Nak.
case_reject_eap_nak() {
	authd_start
	reject_case none 02:00:00:02:00:0a eap_nak
}

case_reject_sha1() {
	authd_start
	reject_case sha1 02:00:00:02:00:08 weak_signature "$WEAK_CLIENT"
}

case_reject_weakkey() {
	authd_start
	reject_case weakkey 02:00:00:02:00:09 weak_key "$WEAK_CLIENT"
}

# authd trusts only the root; the device supplies the intermediate in its Certificate message.
case_client_sent_intermediate() {
	AUTHD_CA=root-only.pem authd_start
	accept_case laptop-chain 02:00:00:03:00:01 TLSv1.2
}

# The counterpart: same trust, but the device sends its leaf alone, so no chain can be built.
case_missing_intermediate_reject() {
	AUTHD_CA=root-only.pem authd_start
	reject_case laptop 02:00:00:03:00:02 unknown_ca
}

# Framed-MTU 300 from the NAS and 300-byte fragments from the supplicant: many round trips,
# and no EAP-Request from authd may exceed the MTU.
small_fragments_case() {
	local mac=$1 version=$2 phase1=$3 challenges biggest
	authd_start
	eapol_config laptop fragment_size=300 phase1="$phase1" >"$HARNESS_DIR/frag.conf"
	eapol_run "$HARNESS_DIR/frag.conf" "$mac" -N12:d:300
	expect_eapol_accept
	expect_laptop_accept "$mac" "$version"
	challenges=$(grep -c 'RADIUS message: code=11 (Access-Challenge)' "$EAPOL_LOG" || true)
	((challenges >= 6)) ||
		fail "expected the handshake to be split into >= 6 Access-Challenges at MTU 300, saw $challenges"
	biggest=$(sed -n 's/.*decapsulated EAP packet (code=1 id=[0-9]* len=\([0-9]*\)).*/\1/p' "$EAPOL_LOG" |
		sort -n | tail -n 1)
	[[ -n $biggest ]] || fail "found no 'decapsulated EAP packet' lines in the eapol_test output"
	((biggest <= 300)) || fail "expected every EAP-Request to fit Framed-MTU 300, the largest was $biggest bytes"
}

case_small_fragments() {
	small_fragments_case 02:00:00:04:00:01 TLSv1.2 "$TLS12_ONLY"
}

case_small_fragments_tls13() {
	small_fragments_case 02:00:00:04:00:02 TLSv1.3 "$TLS13_ONLY"
}

# The server caps TLS at 1.2 while the client would take 1.3.
case_server_max_tls12() {
	AUTHD_MAX_VERSION=1.2 authd_start
	accept_case laptop 02:00:00:05:00:01 TLSv1.2 phase1="$TLS12_OR_13"
}

# Three authentications in one supplicant run (-r2): each is a full, separately logged decision.
case_reauthentication() {
	local mac=02:00:00:05:00:02 accepts lines
	authd_start
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	eapol_run "$HARNESS_DIR/laptop.conf" "$mac" -r2
	expect_eapol_accept
	accepts=$(grep -c 'RADIUS message: code=2 (Access-Accept)' "$EAPOL_LOG" || true)
	((accepts == 3)) || fail "expected 3 Access-Accepts for -r2, saw $accepts"
	grep -q 'MPPE keys OK: 3  mismatch: 0' "$EAPOL_LOG" || fail "expected 'MPPE keys OK: 3  mismatch: 0'"
	sleep 0.2
	lines=$(jq -c 'select(.outcome == "accept" and .reason == "ok"
		and (.subject | test("laptop-0001")))' "$AUTHD_DECISIONS" | wc -l)
	((lines == 3)) || fail "expected 3 accept decisions naming the laptop, saw $lines"
}

# The supplicant does not trust authd's certificate and aborts with an alert: authd must
# answer with a rejection, not wait for the timeout.
case_supplicant_distrusts_server() {
	authd_start
	reject_case laptop 02:00:00:05:00:03 tls_failed ca_cert="$AUTHD_PKI/rogue-ca.pem"
	grep -q 'local TLS alert' "$EAPOL_LOG" || fail "expected the supplicant to send a TLS alert"
}

# 30 supplicants at once against one authd (2 worker threads): laptops over TLS 1.2 and 1.3
# and expired certificates interleaved. Every one gets its own correct answer and decision.
case_parallel_devices() {
	local i mac device pids=() rcs=() conf want reason n=30
	authd_start
	eapol_config laptop phase1="$TLS12_ONLY" >"$HARNESS_DIR/laptop12.conf"
	eapol_config laptop phase1="$TLS13_ONLY" >"$HARNESS_DIR/laptop13.conf"
	eapol_config expired >"$HARNESS_DIR/expired.conf"
	for ((i = 0; i < n; i++)); do
		mac=$(printf '02:00:00:08:00:%02x' "$i")
		case $((i % 3)) in
		0) conf=laptop12 ;;
		1) conf=laptop13 ;;
		2) conf=expired ;;
		esac
		timeout 60 eapol_test -c "$HARNESS_DIR/$conf.conf" -a 127.0.0.1 -p "$AUTHD_PORT" \
			-s "$AUTHD_SECRET" -r0 -t 20 -M "$mac" >"$HARNESS_DIR/parallel-$i.log" 2>&1 &
		pids+=("$!")
	done
	for ((i = 0; i < n; i++)); do
		rcs[i]=0
		wait "${pids[i]}" || rcs[i]=$?
	done
	for ((i = 0; i < n; i++)); do
		mac=$(printf '02:00:00:08:00:%02x' "$i")
		EAPOL_LOG=$HARNESS_DIR/parallel-$i.log
		# shellcheck disable=SC2034 # read by the expect_* functions of lib.sh
		EAPOL_RC=${rcs[i]}
		if ((i % 3 == 2)); then
			expect_eapol_reject
			expect_reject_decision "$mac" cert_expired
		else
			want=$([[ $((i % 3)) == 0 ]] && echo TLSv1.2 || echo TLSv1.3)
			expect_eapol_accept
			expect_laptop_accept "$mac" "$want"
		fi
	done
	reason=$(jq -r .reason "$AUTHD_DECISIONS" | sort | uniq -c | xargs)
	[[ $(wc -l <"$AUTHD_DECISIONS") -eq $n ]] ||
		fail "expected exactly $n decisions, saw $(wc -l <"$AUTHD_DECISIONS") ($reason)"
}

# Wrong shared secret: authd must stay silent (no reply at all), count and log the drop.
case_wrong_secret() {
	local mac=02:00:00:06:00:01 dropped
	authd_start
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	EAPOL_SECRET=not-the-secret eapol_run "$HARNESS_DIR/laptop.conf" "$mac" -t 3
	expect_eapol_no_reply
	grep -q 'dropped:' "$AUTHD_LOG" || fail "authd logged no 'dropped:' line for the bad packet"
	authd_stop
	dropped=$(authd_counter bad_message_authenticator)
	((dropped >= 1)) || fail "expected counter bad_message_authenticator >= 1 at exit, saw $dropped"
	expect_no_decision
}

list_cases() { declare -F | sed -n 's/^declare -f case_//p'; }

main() {
	[[ $# -eq 1 ]] || { echo "usage: eapol.sh CASE | --list" >&2; exit 2; }
	if [[ $1 == --list ]]; then
		list_cases
		exit 0
	fi
	declare -F "case_$1" >/dev/null || { echo "eapol.sh: no case '$1'; cases: $(list_cases | xargs)" >&2; exit 2; }
	harness_init
	"case_$1"
	echo "PASS: $1"
}

main "$@"
