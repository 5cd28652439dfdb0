#!/usr/bin/env bash
# eapol.sh CASE — the benchmarks' comparison server, FreeRADIUS 3.2 as tools/bench/freeradius.sh
# configures it, against the real supplicant (hostapd's eapol_test): it must do EAP-TLS the way
# authd does, or comparing the two means nothing. `eapol.sh --list` prints the cases.
#
#   AUTHD_PKI=/path/to/test-pki (tests/pki/make-pki.sh)  FREERADIUS_SH=tools/bench/freeradius.sh
# The work directory is removed afterwards, or kept after a failure with AUTHD_KEEP_TMP=1.
set -euo pipefail

CASES=(tls12_accept tls13_accept reject_expired reject_expired_tls13 resume_tls12 resume_tls13
	resume_off)

WORK=""
FR_DIR=""
FR_PORT=""
FR_SECRET=""
EAPOL_LOG=""
EAPOL_RC=0

log() { printf '%s\n' "$*" >&2; }

tail_file() {
	[[ -s $2 ]] || return 0
	log "----- $1 (last 40 lines of $2) -----"
	tail -n 40 "$2" >&2
	log "----- end of $1 -----"
}

fail() {
	log "FAIL: $*"
	[[ -z $EAPOL_LOG ]] || tail_file "eapol_test output" "$EAPOL_LOG"
	[[ -z $FR_DIR ]] || tail_file "FreeRADIUS log" "$FR_DIR/radius.log"
	exit 1
}

# alive PID: the process runs (a zombie nobody has reaped yet does not count).
alive() {
	local state
	kill -0 "$1" 2>/dev/null || return 1
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
	[[ $state != Z ]]
}

cleanup() {
	local rc=$?
	trap - EXIT
	set +e
	if [[ -n $FR_DIR && -s $FR_DIR/env ]]; then
		local pid
		pid=$(sed -n 's/^FR_PID=//p' "$FR_DIR/env")
		"$FREERADIUS_SH" stop "$FR_DIR" || rc=1
		if [[ -n $pid ]] && alive "$pid"; then
			log "FAIL: freeradius (pid $pid) still runs after '$FREERADIUS_SH stop'"
			rc=1
		fi
	fi
	if ((rc != 0)) && [[ ${AUTHD_KEEP_TMP:-0} == 1 ]]; then
		log "kept $WORK"
	elif [[ -n $WORK ]]; then
		rm -rf "$WORK"
	fi
	exit "$rc"
}

# fr_start [freeradius.sh options...]: FreeRADIUS on a free port, two worker threads.
fr_start() {
	FR_DIR=$WORK/freeradius
	FR_PORT=$("$FREERADIUS_SH" start "$FR_DIR" "$AUTHD_PKI" --threads 2 "$@") ||
		fail "freeradius.sh start failed"
	[[ $FR_PORT =~ ^[0-9]+$ ]] || fail "freeradius.sh start printed '$FR_PORT', expected a port"
	grep -qx "FR_PORT=$FR_PORT" "$FR_DIR/env" || fail "$FR_DIR/env does not say FR_PORT=$FR_PORT"
	FR_SECRET=$(sed -n 's/^FR_SECRET=//p' "$FR_DIR/env")
	[[ -n $FR_SECRET ]] || fail "$FR_DIR/env names no FR_SECRET"
}

# eapol DEVICE TLS13(0|1) REAUTHS: one authentication (and REAUTHS re-authentications, where
# wpa_supplicant offers to resume its session) as DEVICE of the test PKI.
eapol() {
	local device=$1 tls13=$2 reauths=$3 conf
	conf=$WORK/$device-tls13-$tls13.conf
	cat >"$conf" <<EOF
network={
	key_mgmt=IEEE8021X
	eap=TLS
	eapol_flags=0
	identity="$device-0001.corp.example"
	ca_cert="$AUTHD_PKI/root-only.pem"
	client_cert="$AUTHD_PKI/$device.pem"
	private_key="$AUTHD_PKI/$device.key"
	phase1="tls_disable_tlsv1_3=$((1 - tls13))"
}
EOF
	EAPOL_LOG=$WORK/$device-tls13-$tls13.log
	EAPOL_RC=0
	timeout 60 eapol_test -c "$conf" -a 127.0.0.1 -p "$FR_PORT" -s "$FR_SECRET" \
		-r "$reauths" -t 10 -M 02:00:00:00:00:01 >"$EAPOL_LOG" 2>&1 || EAPOL_RC=$?
}

count() { grep -c -- "$1" "$EAPOL_LOG" || true; }

# expect_accept TLS_VERSION N: N authentications, each an Access-Accept with MPPE keys that
# match what the supplicant derived, over TLS_VERSION (TLSv1.2 or TLSv1.3).
expect_accept() {
	local version=$1 n=$2
	((EAPOL_RC == 0)) || fail "eapol_test exited $EAPOL_RC, expected 0 (authentication success)"
	(($(count 'RADIUS message: code=2 (Access-Accept)') == n)) ||
		fail "expected $n Access-Accept(s), got $(count 'RADIUS message: code=2 (Access-Accept)')"
	grep -Eq "MPPE keys OK: $n  mismatch: 0" "$EAPOL_LOG" ||
		fail "expected 'MPPE keys OK: $n  mismatch: 0', got '$(grep 'MPPE keys' "$EAPOL_LOG")'"
	grep -q "SSL: Using TLS version $version" "$EAPOL_LOG" || fail "the handshake did not use $version"
	if grep 'SSL: Using TLS version' "$EAPOL_LOG" | grep -vq "$version"; then
		fail "a handshake used another version than $version"
	fi
}

expect_reject() {
	((EAPOL_RC != 0)) || fail "eapol_test exited 0 (success), expected a rejection"
	grep -q 'RADIUS message: code=3 (Access-Reject)' "$EAPOL_LOG" || fail "no Access-Reject"
	grep -q 'CTRL-EVENT-EAP-FAILURE' "$EAPOL_LOG" || fail "no EAP-Failure"
	if grep -q 'RADIUS message: code=2 (Access-Accept)' "$EAPOL_LOG"; then
		fail "an Access-Accept came, expected only a rejection"
	fi
}

# expect_handshakes FULL RESUMED: of the authentications, FULL were full handshakes (the
# supplicant checked the server's certificate) and RESUMED resumed a session (it did not).
expect_handshakes() {
	local full=$1 resumed=$2 total got_full
	total=$(count 'RADIUS message: code=2 (Access-Accept)')
	got_full=$(count "tls_verify_cb - preverify_ok=1 .* depth=0 buf='/CN=authd.test'")
	((got_full == full && total - got_full == resumed)) ||
		fail "expected $full full and $resumed resumed handshake(s), saw $got_full full of $total"
}

run_case() {
	case $1 in
	tls12_accept)
		fr_start
		eapol laptop 0 0
		expect_accept TLSv1.2 1
		;;
	tls13_accept)
		fr_start
		eapol laptop 1 0
		expect_accept TLSv1.3 1
		;;
	reject_expired)
		fr_start
		eapol expired 0 0
		expect_reject
		;;
	reject_expired_tls13)
		fr_start
		eapol expired 1 0
		expect_reject
		;;
	resume_tls12)
		# The re-authentication resumes: no certificates, one round trip less.
		fr_start --resume
		eapol laptop 0 1
		expect_accept TLSv1.2 2
		expect_handshakes 1 1
		;;
	resume_tls13)
		fr_start --resume
		eapol laptop 1 1
		expect_accept TLSv1.3 2
		expect_handshakes 1 1
		;;
	resume_off)
		# Without --resume the supplicant's offer is refused: both handshakes are full.
		fr_start
		eapol laptop 0 1
		expect_accept TLSv1.2 2
		expect_handshakes 2 0
		;;
	*)
		fail "unknown case '$1' (cases: ${CASES[*]})"
		;;
	esac
}

main() {
	(($# == 1)) || fail "usage: eapol.sh CASE | --list"
	if [[ $1 == --list ]]; then
		printf '%s\n' "${CASES[@]}"
		exit 0
	fi
	[[ -n ${AUTHD_PKI:-} && -s ${AUTHD_PKI}/ca-bundle.pem ]] ||
		fail "AUTHD_PKI must name a directory made by tests/pki/make-pki.sh (got '${AUTHD_PKI:-}')"
	[[ -n ${FREERADIUS_SH:-} && -x ${FREERADIUS_SH} ]] ||
		fail "FREERADIUS_SH must name tools/bench/freeradius.sh (got '${FREERADIUS_SH:-}')"
	command -v eapol_test >/dev/null || fail "the command 'eapol_test' is needed (Debian package eapoltest)"
	AUTHD_PKI=$(cd "$AUTHD_PKI" && pwd)
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/authd-freeradius.XXXXXX")
	trap cleanup EXIT
	run_case "$1"
}

main "$@"
