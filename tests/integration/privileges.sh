#!/usr/bin/env bash
# privileges.sh CASE — least privilege: authd started as root becomes the configured user.
#   drop          user = "nobody": after startup no root uid or gid, no supplementary group, every
#                 capability set empty (bounding set included), no new privileges, not dumpable;
#                 it still answers, picks up a replaced CRL and reopens its decision log on SIGHUP
#   check_as_user authd -C started as root reads CRLs as the user: one it cannot read fails
#   unknown_user  a user that does not exist: authd refuses to start and says why
# Needs root (it is how authd is started in production); exit 77 (skipped) otherwise.
# Needs AUTHD_BIN and AUTHD_PKI (see lib.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# auth DEVICE MAC OUTCOME REASON: one authentication and its decision.
auth() {
	eapol_config "$1" >"$HARNESS_DIR/$1.conf"
	eapol_run "$HARNESS_DIR/$1.conf" "$2"
	if [[ $3 == accept ]]; then expect_eapol_accept; else expect_eapol_reject; fi
	expect_decision "$2" ".outcome == \"$3\" and .reason == \"$4\"" "$3 with reason $4"
}

# status_field PID NAME: the value of NAME in /proc/PID/status, whitespace squeezed.
status_field() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }

case_drop() {
	local uid gid want task field value
	uid=$(id -u nobody)
	gid=$(id -g nobody)
	# The user writes its decision log (and reopens it) here, and reads the CRL.
	chown nobody:"$gid" "$HARNESS_DIR"
	install -o nobody -g "$gid" -m 600 /dev/null "$HARNESS_DIR/decisions.jsonl"
	install -m 644 "$AUTHD_PKI/issuing-ca-empty.crl.pem" "$HARNESS_DIR/crl.pem"
	AUTHD_EXTRA_CONFIG="user = \"nobody\"; revocation = { crl = [ \"$HARNESS_DIR/crl.pem\" ]; };" authd_start
	grep -q "running as user nobody (uid $uid, gid $gid), no capabilities" "$AUTHD_LOG" ||
		fail "no line saying authd runs as nobody: $(cat "$AUTHD_LOG")"
	# The config and the key, root's alone (0600), were read as root; a reload could not read
	# them as nobody, and authd says so now.
	grep -q "$AUTHD_PKI/server.key: Permission denied for the user authd runs as (uid $uid)" "$AUTHD_LOG" ||
		fail "no warning that a reload could not read the key: $(cat "$AUTHD_LOG")"
	for task in "/proc/$AUTHD_PID/task/"*; do
		task=${task##*/}
		want="$uid	$uid	$uid	$uid"
		[[ $(awk '$1 == "Uid:" { print $2 "\t" $3 "\t" $4 "\t" $5 }' "/proc/$AUTHD_PID/task/$task/status") == "$want" ]] ||
			fail "thread $task: $(grep ^Uid: "/proc/$AUTHD_PID/task/$task/status"), expected uid $uid everywhere"
		[[ $(awk '$1 == "Gid:" { print $2 "\t" $3 "\t" $4 "\t" $5 }' "/proc/$AUTHD_PID/task/$task/status") == "${want//$uid/$gid}" ]] ||
			fail "thread $task: $(grep ^Gid: "/proc/$AUTHD_PID/task/$task/status"), expected gid $gid everywhere"
		for field in CapInh CapPrm CapEff CapBnd CapAmb; do
			value=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$AUTHD_PID/task/$task/status")
			[[ $value == 0000000000000000 ]] || fail "thread $task: $field is $value, expected no capability"
		done
	done
	[[ $(status_field "$AUTHD_PID" Groups) == "$gid" ]] ||
		fail "supplementary groups '$(status_field "$AUTHD_PID" Groups)', expected only $gid"
	[[ $(status_field "$AUTHD_PID" NoNewPrivs) == 1 ]] || fail "NoNewPrivs is not set"
	# A process that is not dumpable has its /proc entries owned by root whatever its uid.
	[[ $(stat -c %u "/proc/$AUTHD_PID/status") == 0 ]] ||
		fail "authd is dumpable: a crash could write its keys to a core file"

	auth revoked 02:00:00:50:00:01 accept ok
	# The user reads the replaced CRL (changes are looked for once a second).
	cp "$AUTHD_PKI/issuing-ca.crl.pem" "$HARNESS_DIR/crl.new" && chmod 644 "$HARNESS_DIR/crl.new" &&
		mv "$HARNESS_DIR/crl.new" "$HARNESS_DIR/crl.pem"
	sleep 1.2
	auth revoked 02:00:00:50:00:02 reject revoked
	# Log rotation: the file moved away, SIGHUP, a new file made by the user.
	mv "$AUTHD_DECISIONS" "$AUTHD_DECISIONS.1"
	kill -HUP "$AUTHD_PID"
	for _ in $(seq 50); do grep -q 'SIGHUP: decision log reopened' "$AUTHD_LOG" && break; sleep 0.1; done
	grep -q 'SIGHUP: decision log reopened' "$AUTHD_LOG" || fail "the decision log was not reopened: $(cat "$AUTHD_LOG")"
	auth laptop 02:00:00:50:00:03 accept ok
	[[ $(stat -c %U "$AUTHD_DECISIONS") == nobody ]] || fail "the reopened decision log is not nobody's"
	harness_log "privileges drop: ok (uid $uid, gid $gid, no capabilities, not dumpable)"
}

# config_only: a config at AUTHD_CONF (with AUTHD_EXTRA_CONFIG), for an authd started by hand.
config_only() {
	AUTHD_PORT=$(free_udp_port)
	AUTHD_CONF=$HARNESS_DIR/authd.conf
	AUTHD_DECISIONS=$HARNESS_DIR/decisions.jsonl
	authd_write_config "$AUTHD_CONF"
}

# authd -C started as root checks as the server will read: a CRL the user cannot read (the
# server reads CRLs as the user, when they change and at startup) fails the check.
case_check_as_user() {
	local out rc=0
	chmod 755 "$HARNESS_DIR"
	install -m 600 "$AUTHD_PKI/issuing-ca-empty.crl.pem" "$HARNESS_DIR/crl.pem"
	AUTHD_EXTRA_CONFIG="user = \"nobody\"; revocation = { crl = [ \"$HARNESS_DIR/crl.pem\" ]; };" config_only
	out=$("$AUTHD_BIN" -C -c "$AUTHD_CONF" 2>&1) || rc=$?
	((rc == 1)) || fail "authd -C passed a CRL that user nobody cannot read (exit $rc): $out"
	[[ $out == *"crl.pem"*"Permission denied"* ]] || fail "authd -C did not say which file: $out"
	chmod 644 "$HARNESS_DIR/crl.pem"
	out=$("$AUTHD_BIN" -C -c "$AUTHD_CONF" 2>&1) || fail "authd -C refused a CRL nobody can read: $out"
	harness_log "privileges check_as_user: ok"
}

case_unknown_user() {
	local out rc=0
	AUTHD_EXTRA_CONFIG='user = "no-such-user-here";' config_only
	out=$(timeout 10 "$AUTHD_BIN" -c "$AUTHD_CONF" 2>&1) || rc=$?
	((rc == 1)) || fail "authd exited $rc with an unknown user, expected 1: $out"
	[[ $out == *'user = "no-such-user-here": no such user'* ]] || fail "no clear error: $out"
	harness_log "privileges unknown_user: ok"
}

[[ $(id -u) == 0 ]] || { harness_log "privileges.sh needs root (authd starts as root to drop it)"; exit 77; }
harness_init
"case_$1"
