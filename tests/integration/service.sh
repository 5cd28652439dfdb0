#!/usr/bin/env bash
# service.sh CASE — authd as a systemd service, with the pieces systemd can be replaced by here
# (it cannot run as PID 1 in a test): the notify socket read by notify_listen, the journal's
# stream named by JOURNAL_STREAM, and systemd-analyze on the unit file.
#   notify   READY=1 once serving, WATCHDOG=1 at the interval asked for, RELOADING=1 (with
#            MONOTONIC_USEC) then READY=1 around a SIGHUP, STOPPING=1 on SIGTERM
#   journal  with stderr being the stream JOURNAL_STREAM names, each line carries its
#            sd-daemon priority (<6> info, <4> warning); with another stderr, none does
#   unit     systemd-analyze verify passes on authd/authd.service, and its offline
#            `systemd-analyze security` exposure is at most 2.0
# Needs AUTHD_BIN, AUTHD_PKI (see lib.sh), NOTIFY_BIN (notify_listen) and UNIT (the unit file).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

LISTEN_PID=""
stop_listener() { [[ -z $LISTEN_PID ]] || { kill "$LISTEN_PID" 2>/dev/null; wait "$LISTEN_PID" 2>/dev/null; } || true; }

# wait_notify COUNT PATTERN: the notify log holds COUNT lines matching PATTERN within 5 s.
wait_notify() {
	local deadline=$((SECONDS + 5))
	until (($(grep -cE "$2" "$HARNESS_DIR/notify.log" || true) >= $1)); do
		((SECONDS < deadline)) || fail "expected $1 notification(s) matching '$2': $(cat "$HARNESS_DIR/notify.log")"
		sleep 0.05
	done
}

case_notify() {
	local lines
	"$NOTIFY_BIN" "$HARNESS_DIR/notify.sock" >"$HARNESS_DIR/notify.log" 2>&1 &
	LISTEN_PID=$!
	harness_on_exit stop_listener
	while [[ ! -S $HARNESS_DIR/notify.sock ]]; do sleep 0.02; done
	NOTIFY_SOCKET=$HARNESS_DIR/notify.sock WATCHDOG_USEC=400000 authd_start
	wait_notify 1 '^READY=1 STATUS=serving 1 socket\(s\) for 1 client\(s\)$'
	# Two pings a watchdog interval: 8 or so in 2 s.
	wait_notify 5 '^WATCHDOG=1$'
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:00:00:01
	expect_eapol_accept
	kill -HUP "$AUTHD_PID"
	wait_notify 1 '^RELOADING=1 MONOTONIC_USEC=[0-9]+$'
	wait_notify 2 '^READY=1'
	authd_terminate || fail "$AUTHD_STOP_ERROR"
	wait_notify 1 '^STOPPING=1$'
	lines=$(grep -vE '^(READY=1.*|WATCHDOG=1|RELOADING=1 MONOTONIC_USEC=[0-9]+|STOPPING=1)$' \
		"$HARNESS_DIR/notify.log" || true)
	[[ -z $lines ]] || fail "unexpected notifications: $lines"
	harness_log "service notify: ok ($(grep -c '^WATCHDOG=1$' "$HARNESS_DIR/notify.log") watchdog pings)"
}

case_journal() {
	local stream
	AUTHD_LOG=$HARNESS_DIR/authd.log
	: >"$AUTHD_LOG"
	stream=$(stat -c '%d:%i' "$AUTHD_LOG")
	# authd_start writes its log to AUTHD_LOG: JOURNAL_STREAM names that very file.
	AUTHD_CLIENT_EXTRA="require_message_authenticator = false;" JOURNAL_STREAM=$stream authd_start
	grep -q '^<6>authd: info: ready' "$AUTHD_LOG" || fail "no <6> priority on the ready line: $(cat "$AUTHD_LOG")"
	grep -q '^<4>authd: warning: client .*require_message_authenticator' "$AUTHD_LOG" ||
		fail "no <4> priority on a warning: $(cat "$AUTHD_LOG")"
	authd_terminate || fail "$AUTHD_STOP_ERROR"
	# A stream of another file: not the journal, no prefixes.
	JOURNAL_STREAM=0:0 authd_start
	grep -q '^authd: info: ready' "$AUTHD_LOG" || fail "a prefix without the journal: $(cat "$AUTHD_LOG")"
	authd_terminate || fail "$AUTHD_STOP_ERROR"
	harness_log "service journal: ok"
}

case_unit() {
	local score
	need_command systemd-analyze systemd
	# The unit as installed, its binary taken from the build tree. Other units' complaints
	# (verify loads the units this one names) are not authd's.
	sed "s#/usr/sbin/authd#$AUTHD_BIN#g" "$UNIT" >"$HARNESS_DIR/authd.service"
	systemd-analyze verify --man=no "$HARNESS_DIR/authd.service" >"$HARNESS_DIR/verify.txt" 2>&1 || true
	! grep -q 'authd\.service' "$HARNESS_DIR/verify.txt" ||
		fail "systemd-analyze verify: $(cat "$HARNESS_DIR/verify.txt")"
	score=$(systemd-analyze security --offline=true "$UNIT" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	[[ -n $score ]] || fail "no exposure level from systemd-analyze security"
	awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure level $score, expected 2.0 or less"
	harness_log "service unit: ok (exposure $score)"
}

harness_init
"case_$1"
