#!/usr/bin/env bash
# decision_log.sh CASE — the decision log under attack: a full file system (no accept without its
# record; afterwards every line still parses) and a certificate full of hostile SANs (one bounded,
# valid JSON line). Needs AUTHD_BIN and AUTHD_PKI (see lib.sh). `decision_log.sh --list`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# What a record can be at most (policy/decision.h DECISION_LINE_MAX).
LINE_MAX=16384
FULL_DIR=""

unmount_full() {
	[[ -z $FULL_DIR ]] || umount "$FULL_DIR" 2>/dev/null || umount -l "$FULL_DIR" 2>/dev/null || true
}

# mount_small_fs: a 64 KiB tmpfs at $HARNESS_DIR/full, and the decision log on it (authd_start
# writes to $HARNESS_DIR/decisions.jsonl, a link to it). Skips (77) unless root can mount.
mount_small_fs() {
	if ((EUID != 0)); then
		echo "SKIP: needs root to mount a small tmpfs"
		exit 77
	fi
	mkdir -p "$HARNESS_DIR/full"
	if ! mount -t tmpfs -o size=64k tmpfs "$HARNESS_DIR/full" 2>"$HARNESS_DIR/mount.err"; then
		echo "SKIP: cannot mount a tmpfs here: $(cat "$HARNESS_DIR/mount.err")"
		exit 77
	fi
	FULL_DIR=$HARNESS_DIR/full
	harness_on_exit unmount_full
	ln -s full/decisions.jsonl "$HARNESS_DIR/decisions.jsonl"
}

# expect_every_line_json: each line of the decision log is a JSON object on its own.
expect_every_line_json() {
	local n
	n=$(wc -l <"$AUTHD_DECISIONS")
	if ! jq -R -e 'fromjson | type == "object"' "$AUTHD_DECISIONS" >/dev/null 2>&1; then
		tail_file "decision log" "$AUTHD_DECISIONS"
		fail "the decision log has a line that is not a JSON object"
	fi
	[[ -z $(tail -c 1 "$AUTHD_DECISIONS") ]] || fail "the decision log ends mid-line"
	# jq reads bytes that are not UTF-8 as U+FFFD without complaint: iconv does not.
	iconv -f UTF-8 -t UTF-8 "$AUTHD_DECISIONS" >/dev/null 2>&1 || fail "the decision log is not valid UTF-8"
	harness_log "all $n lines of the decision log parse"
}

# fill_small_fs: pad the log with a valid JSON line so that the next record crosses a page
# boundary (tmpfs allocates by page: that record is then written short), then fill the rest.
fill_small_fs() {
	local size pad
	size=$(stat -c %s "$FULL_DIR/decisions.jsonl")
	pad=$(((size / 4096 + 1) * 4096 - size - 100 - 12))
	((pad > 0)) || pad=$((pad + 4096))
	printf '{"pad":"%s"}\n' "$(head -c "$pad" /dev/zero | tr '\0' x)" >>"$FULL_DIR/decisions.jsonl"
	dd if=/dev/zero of="$FULL_DIR/filler" bs=4096 >/dev/null 2>&1 || true
	[[ $(df --output=avail "$FULL_DIR" | tail -n 1) -eq 0 ]] || fail "could not fill $FULL_DIR"
}

# expect_reject_after_handshake: an Access-Reject (with EAP-Failure) and no Access-Accept. The
# supplicant's TLS handshake had completed, so wpa_supplicant discards the EAP-Failure (RFC 4137
# "DISCARD": its method already decided success); the NAS keeps the port closed on the reject.
expect_reject_after_handshake() {
	((EAPOL_RC != 0)) || fail "eapol_test exited 0 (success), expected a rejection"
	grep -q 'RADIUS message: code=3 (Access-Reject)' "$EAPOL_LOG" || fail "eapol_test received no Access-Reject"
	grep -q 'EAP: Received EAP-Failure' "$EAPOL_LOG" || fail "the Access-Reject carried no EAP-Failure"
	! grep -q 'RADIUS message: code=2 (Access-Accept)' "$EAPOL_LOG" || fail "eapol_test received an Access-Accept"
	expect_message_authenticator_first
}

laptop() {
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	eapol_run "$HARNESS_DIR/laptop.conf" "$1"
}

# No accept without its record: with the log's file system full, the laptop that is accepted
# otherwise gets an Access-Reject with EAP-Failure, and authd says why in its own log. The short
# write leaves no partial line: once there is room again the next record is whole, and every line
# of the log parses.
case_disk_full() {
	local before
	mount_small_fs
	authd_start
	laptop 02:00:00:0a:00:01
	expect_eapol_accept
	fill_small_fs
	before=$(stat -L -c %s "$AUTHD_DECISIONS")
	laptop 02:00:00:0a:00:02
	expect_reject_after_handshake
	grep -q "Value: 'the decision cannot be recorded" "$EAPOL_LOG" ||
		fail "the Access-Reject's Reply-Message does not say the decision cannot be recorded"
	grep -q 'cannot write the decision log: No space left on device: the accept becomes a reject' "$AUTHD_LOG" ||
		fail "authd did not log that the decision log is unwritable and the accept became a reject"
	grep -q 'reject identity=.* reason=decision_log_unwritable' "$AUTHD_LOG" ||
		fail "authd's summary line does not say reject with reason decision_log_unwritable"
	[[ $(stat -L -c %s "$AUTHD_DECISIONS") -eq $before ]] ||
		fail "the failed record left bytes in the decision log ($before bytes before, $(stat -L -c %s "$AUTHD_DECISIONS") after)"
	expect_every_line_json
	rm -f "$FULL_DIR/filler"
	laptop 02:00:00:0a:00:03
	expect_eapol_accept
	expect_decision 02:00:00:0a:00:03 '.outcome == "accept" and .reason == "ok"' 'the accept recorded'
	expect_every_line_json
	authd_stop
	[[ $(authd_counter reject) -eq 1 ]] || fail "expected counter reject=1 at exit, saw $(authd_counter reject)"
}

# log.on_write_failure = "accept": the device is accepted without a record, loudly.
case_disk_full_accept() {
	mount_small_fs
	# lib.sh writes the log section: start once for the config, add the setting to it, restart.
	authd_start
	authd_stop
	sed -i 's|^log = { \(.*\) };$|log = { \1 on_write_failure = "accept"; };|' "$AUTHD_CONF"
	grep -q 'on_write_failure = "accept"' "$AUTHD_CONF" || fail "could not set log.on_write_failure"
	authd_launch
	fill_small_fs
	laptop 02:00:00:0a:00:11
	expect_eapol_accept
	grep -q 'cannot write the decision log: No space left on device: accepted without a record' "$AUTHD_LOG" ||
		fail "authd did not log that it accepted without a record"
	rm -f "$FULL_DIR/filler"
	expect_every_line_json
}

# A device certificate from a rogue CA with 40 SANs of 200 bytes each, full of control bytes and
# bytes that are not UTF-8 (overlong forms, surrogates, 0xff): refused unknown_ca, and its record
# is one line, valid JSON, shorter than the cap, the san list cut and saying so.
case_hostile_sans() {
	local dir=$HARNESS_DIR/hostile i j len line
	mkdir -p "$dir"
	{
		printf '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = hostile-0001.corp.example\n'
		printf '[ext]\nextendedKeyUsage = clientAuth\nsubjectAltName = @alt\n[alt]\n'
		for ((i = 1; i <= 40; i++)); do
			printf 'DNS.%d = h%d' "$i" "$i"
			for ((j = 0; j < 20; j++)); do printf '\x01\x02\x1b\x7f\xff\xfe\xc0\x80\xed\xa0'; done
			printf '\n'
		done
	} >"$dir/hostile.cnf"
	openssl ecparam -name prime256v1 -genkey -noout -out "$dir/hostile.key" 2>/dev/null
	openssl req -new -key "$dir/hostile.key" -config "$dir/hostile.cnf" -out "$dir/hostile.csr" 2>/dev/null ||
		fail "openssl cannot make the hostile request"
	openssl x509 -req -in "$dir/hostile.csr" -CA "$AUTHD_PKI/rogue-ca.pem" -CAkey "$AUTHD_PKI/rogue-ca.key" \
		-set_serial 77 -days 30 -extfile "$dir/hostile.cnf" -extensions ext -out "$dir/hostile.pem" 2>/dev/null ||
		fail "openssl cannot sign the hostile certificate"
	authd_start
	AUTHD_PKI=$dir eapol_config hostile ca_cert="$AUTHD_PKI/root-only.pem" >"$HARNESS_DIR/hostile.conf"
	eapol_run "$HARNESS_DIR/hostile.conf" 02:00:00:0a:00:21
	expect_eapol_reject
	[[ $(wc -l <"$AUTHD_DECISIONS") -eq 1 ]] || fail "expected one decision line, found $(wc -l <"$AUTHD_DECISIONS")"
	expect_every_line_json
	len=$(wc -c <"$AUTHD_DECISIONS")
	((len < LINE_MAX)) || fail "the decision line is $len bytes, expected fewer than $LINE_MAX"
	harness_log "the hostile certificate's decision line: $len bytes"
	expect_decision 02:00:00:0a:00:21 '.outcome == "reject" and .reason == "unknown_ca"' 'reject unknown_ca'
	expect_decision 02:00:00:0a:00:21 '.serial == "4D"' 'the hostile certificate (serial 0x4D) in the record'
	expect_decision 02:00:00:0a:00:21 '(.san | length) > 0 and (.san | length) <= 16' 'between 1 and 16 SANs'
	expect_decision 02:00:00:0a:00:21 '.san[0] | startswith("DNS:h1\u0001\u0002\u001b\u007f\u00ff\u00fe\u00c0\u0080\u00ed\u00a0")' \
		'the first SAN, its control bytes and non-UTF-8 bytes escaped byte by byte'
	expect_decision 02:00:00:0a:00:21 'any(.truncated[]; . == "san")' '"san" listed in truncated'
	line=$(decision_for 02:00:00:0a:00:21)
	[[ $line != *$'\x01'* ]] || fail "a raw control byte is in the decision line"
}

list_cases() { declare -F | sed -n 's/^declare -f case_//p'; }

main() {
	[[ $# -eq 1 ]] || { echo "usage: decision_log.sh CASE | --list" >&2; exit 2; }
	if [[ $1 == --list ]]; then
		list_cases
		exit 0
	fi
	declare -F "case_$1" >/dev/null || { echo "decision_log.sh: no case '$1'; cases: $(list_cases | xargs)" >&2; exit 2; }
	harness_init
	"case_$1"
	echo "PASS: $1"
}

main "$@"
