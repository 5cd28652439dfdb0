#!/usr/bin/env bash
# syslog.sh CASE — authd's logs to a real syslog daemon: a test-started rsyslogd whose socket is
# /dev/log for authd only (authd runs in a mount namespace of its own with a private /dev), and
# which writes each message as "facility|severity|program|pid|text" to a file. Needs root (for
# the namespace; 77 = skipped otherwise), rsyslogd, AUTHD_BIN and AUTHD_PKI (see lib.sh).
# `syslog.sh --list`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

RSYSLOG_PID=""

# syslog_init: the daemon's files, and authd started through a wrapper that gives it its /dev.
syslog_init() {
	if ((EUID != 0)); then
		echo "SKIP: needs root for a mount namespace with its own /dev/log"
		exit 77
	fi
	need_command rsyslogd rsyslog
	need_command unshare util-linux
	SYSLOG_SOCKET=$HARNESS_DIR/log.sock
	SYSLOG_OUT=$HARNESS_DIR/syslog.out
	mkdir -p "$HARNESS_DIR/rsyslog" "$HARNESS_DIR/hostdev"
	cat >"$HARNESS_DIR/rsyslog.conf" <<EOF
global(workDirectory="$HARNESS_DIR/rsyslog" maxMessageSize="20k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$SYSLOG_SOCKET" RateLimit.Interval="0")
template(name="fields" type="string"
         string="%syslogfacility-text%|%syslogseverity-text%|%programname%|%procid%|%msg:2:\$%\n")
if \$programname startswith "authd" then action(type="omfile" file="$SYSLOG_OUT" template="fields")
EOF
	# The wrapper keeps authd's PID (unshare and sh exec): /dev is a tmpfs there with the host's
	# few device nodes linked in and /dev/log the test daemon's socket. The mounts end with authd.
	cat >"$HARNESS_DIR/authd-ns.sh" <<EOF
#!/bin/sh
exec unshare --mount --propagation private sh -ec '
mount --bind /dev "$HARNESS_DIR/hostdev"
mount -t tmpfs -o size=64k,mode=755 authd-test-dev /dev
for node in null zero full random urandom tty; do ln -s "$HARNESS_DIR/hostdev/\$node" /dev/\$node; done
ln -s /proc/self/fd /dev/fd
ln -s "$SYSLOG_SOCKET" /dev/log
exec "\$0" "\$@"' "$AUTHD_BIN" "\$@"
EOF
	chmod 755 "$HARNESS_DIR/authd-ns.sh"
	unshare --mount true 2>/dev/null || { echo "SKIP: cannot make a mount namespace here"; exit 77; }
	AUTHD_BIN=$HARNESS_DIR/authd-ns.sh
	AUTHD_OPLOG=$SYSLOG_OUT
	harness_on_exit rsyslog_stop
	rsyslog_start
}

rsyslog_start() {
	: >>"$SYSLOG_OUT"
	rsyslogd -n -f "$HARNESS_DIR/rsyslog.conf" -i "$HARNESS_DIR/rsyslog.pid" >>"$HARNESS_DIR/rsyslog.log" 2>&1 &
	RSYSLOG_PID=$!
	local deadline=$((SECONDS + 10))
	until [[ -S $SYSLOG_SOCKET ]]; do
		kill -0 "$RSYSLOG_PID" 2>/dev/null && ((SECONDS < deadline)) ||
			fail "rsyslogd did not start: $(cat "$HARNESS_DIR/rsyslog.log")"
		sleep 0.05
	done
}

# rsyslog_stop: the daemon ends (after a pause too), its socket with it.
rsyslog_stop() {
	[[ -n $RSYSLOG_PID ]] || return 0
	kill -TERM "$RSYSLOG_PID" 2>/dev/null || true
	kill -CONT "$RSYSLOG_PID" 2>/dev/null || true
	wait "$RSYSLOG_PID" 2>/dev/null || true
	RSYSLOG_PID=""
}

# expect_line FILE PATTERN DESCRIPTION: a line of FILE matches (grep -E), within 5 s.
expect_line() {
	local deadline=$((SECONDS + 5))
	until grep -Eq -- "$2" "$1"; do
		if ((SECONDS >= deadline)); then
			tail_file "$(basename "$1")" "$1"
			fail "$(basename "$1"): expected $3 (a line matching $2)"
		fi
		sleep 0.1
	done
}

expect_syslog() { expect_line "$SYSLOG_OUT" "$@"; }

laptop() {
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	eapol_run "$HARNESS_DIR/laptop.conf" "$1"
	expect_eapol_accept
}

# The operational log to syslog: facility daemon, ident authd with authd's PID, each level at its
# severity; nothing on stderr while the daemon takes every line.
case_operational() {
	syslog_init
	AUTHD_LOG_EXTRA='syslog = "daemon";'
	# A warning at startup: a client that does not require Message-Authenticator.
	AUTHD_CLIENT_EXTRA='require_message_authenticator = false;'
	# A debug line: the service manager named here is not there.
	NOTIFY_SOCKET=$HARNESS_DIR/no-manager authd_start
	local pid="[|]$AUTHD_PID[|]"
	expect_syslog "^daemon[|]info[|]authd${pid}info: ready: " 'info: ready'
	expect_syslog "^daemon[|]warning[|]authd${pid}warning: client lab-switch: require_message_authenticator is off" \
		'the warning at its severity'
	laptop 02:00:00:0c:00:01
	expect_syslog "^daemon[|]info[|]authd${pid}info: nas=lab-switch conv=[0-9]+: accept identity=\"laptop-0001.corp.example\"" \
		'the accept summary'
	expect_syslog "^daemon[|]debug[|]authd${pid}debug: service manager notification failed" \
		'the debug line at severity debug'
	# An error: SIGHUP cannot reopen the decision log, its path now a directory.
	mv "$AUTHD_DECISIONS" "$AUTHD_DECISIONS.old"
	mkdir "$AUTHD_DECISIONS"
	kill -HUP "$AUTHD_PID"
	expect_syslog "^daemon[|]err[|]authd${pid}error: SIGHUP: cannot reopen decision log .*: Is a directory" \
		'the error at severity err'
	rmdir "$AUTHD_DECISIONS"
	mv "$AUTHD_DECISIONS.old" "$AUTHD_DECISIONS"
	! grep -q 'authd: ' "$AUTHD_LOG" || fail "authd wrote to stderr with syslog working: $(head -n 3 "$AUTHD_LOG")"
	! grep -q '|authd-decisions|' "$SYSLOG_OUT" || fail "decisions went to syslog without log.decisions_syslog"
	authd_stop
}

# expect_decision_message MAC SEVERITY: the decision for MAC arrived once as a local0 message of
# that severity from authd-decisions, its JSON the same object as the file's line.
expect_decision_message() {
	local mac=$1 severity=$2 file_line n deadline=$((SECONDS + 5))
	file_line=$(decision_for "$mac")
	while :; do
		n=$(grep "^local0|$severity|authd-decisions|$AUTHD_PID|{" "$SYSLOG_OUT" | cut -d '|' -f 5- |
			jq -c --argjson file "$file_line" 'select(. == $file)' | wc -l)
		((n == 0 && SECONDS < deadline)) || break
		sleep 0.1
	done
	if ((n != 1)); then
		tail_file "syslog" "$SYSLOG_OUT"
		fail "expected the decision for $mac once as a local0.$severity message from authd-decisions with the file's JSON object ($file_line), found it $n times"
	fi
}

# The decision log to syslog too: an accept at info, a reject at notice, facility local0, ident
# authd-decisions, the JSON intact; the operational log stays on stderr.
case_decisions() {
	syslog_init
	AUTHD_LOG_EXTRA='decisions_syslog = "local0";'
	AUTHD_OPLOG=""
	authd_start
	laptop 02:00:00:0c:00:11
	eapol_config expired >"$HARNESS_DIR/expired.conf"
	eapol_run "$HARNESS_DIR/expired.conf" 02:00:00:0c:00:12
	expect_eapol_reject
	expect_decision 02:00:00:0c:00:12 '.outcome == "reject" and .reason == "cert_expired"' 'the expired reject'
	expect_decision_message 02:00:00:0c:00:11 info
	expect_decision_message 02:00:00:0c:00:12 notice
	! grep -q '|authd|' "$SYSLOG_OUT" || fail "operational lines went to syslog without log.syslog"
	grep -q 'authd: info: ready' "$AUTHD_LOG" || fail "the operational log is not on stderr"
	authd_stop
}

# A stalled daemon (SIGSTOP: its queue fills after a few messages), then none at all: authd keeps
# answering at once, the decision file gets every line, the operational lines syslog cannot take
# go to stderr; a daemon started again gets the messages again.
case_daemon_stopped() {
	local i n=0
	syslog_init
	AUTHD_LOG_EXTRA='syslog = "daemon"; decisions_syslog = "local0";'
	authd_start
	laptop 02:00:00:0c:00:20
	expect_decision_message 02:00:00:0c:00:20 info
	kill -STOP "$RSYSLOG_PID"
	# Each authentication is two messages or more: far past the socket's queue of 10.
	for i in 1 2 3 4 5 6 7 8 9; do
		laptop "02:00:00:0c:00:3$i"
		n=$((n + 1))
	done
	expect_line "$AUTHD_LOG" 'authd: info: nas=lab-switch conv=[0-9]+: accept identity' \
		'the lines the stalled daemon could not take, on stderr'
	expect_line "$AUTHD_LOG" 'the syslog daemon did not take the decision: Resource temporarily unavailable' \
		'a warning that syslog did not take a decision'
	rsyslog_stop
	for i in 1 2 3; do
		laptop "02:00:00:0c:00:4$i"
		n=$((n + 1))
	done
	[[ $(wc -l <"$AUTHD_DECISIONS") -eq $((n + 1)) ]] ||
		fail "expected $((n + 1)) lines in the decision file, found $(wc -l <"$AUTHD_DECISIONS")"
	for i in 31 32 33 34 35 36 37 38 39 41 42 43; do
		expect_decision "02:00:00:0c:00:$i" '.outcome == "accept"' "the accept of 02:00:00:0c:00:$i in the file"
	done
	rsyslog_start
	# authd looks for a daemon again at most once a second.
	sleep 1.1
	laptop 02:00:00:0c:00:50
	expect_decision_message 02:00:00:0c:00:50 info
	authd_stop
}

list_cases() { declare -F | sed -n 's/^declare -f case_//p'; }

main() {
	[[ $# -eq 1 ]] || { echo "usage: syslog.sh CASE | --list" >&2; exit 2; }
	if [[ $1 == --list ]]; then
		list_cases
		exit 0
	fi
	declare -F "case_$1" >/dev/null || { echo "syslog.sh: no case '$1'; cases: $(list_cases | xargs)" >&2; exit 2; }
	harness_init
	"case_$1"
	echo "PASS: $1"
}

main "$@"
