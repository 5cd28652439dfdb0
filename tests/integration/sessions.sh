#!/usr/bin/env bash
# sessions.sh CASE — live sessions and what a revocation does to them: authd records its
# Access-Accepts and RADIUS accounting in a real redis-server, and `authctl revoke` sends an
# RFC 5176 Disconnect-Request (or CoA-Request) to the NAS, here test_nas (tests/nas), which logs
# every request it receives. Needs AUTHD_BIN, AUTHD_PKI, AUTHCTL_BIN and NAS_BIN.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=redis_lib.sh
source "$HERE/redis_lib.sh"

NAS_PID=""
NAS_PORT=""
NAS_LOG=""

stop_servers() {
	[[ -z $NAS_PID ]] || { kill -TERM "$NAS_PID" 2>/dev/null; wait "$NAS_PID" 2>/dev/null; }
	redis_stop
}

# nas_start MODE: the test NAS's Dynamic Authorization Server (ack, nak, silent, ...), on
# NAS_ADDRESS (127.0.0.1).
nas_start() {
	NAS_LOG=$HARNESS_DIR/nas.log
	"$NAS_BIN" listen --port-file "$HARNESS_DIR/nas.port" --secret "$AUTHD_SECRET" --mode "$1" \
		--log "$NAS_LOG" --address "${NAS_ADDRESS:-127.0.0.1}" >"$HARNESS_DIR/nas.out" 2>&1 &
	NAS_PID=$!
	NAS_PORT=$(wait_port_file "$HARNESS_DIR/nas.port" "$NAS_PID" "$HARNESS_DIR/nas.out")
}

# start MODE [SESSIONS_SETTINGS]: Redis, the NAS in MODE, authd with an accounting port and
# metrics on METRICS_PORT.
start() {
	redis_start
	nas_start "$1"
	AUTHD_ACCT_PORT=$(free_udp_port)
	METRICS_PORT=$(free_port tcp)
	AUTHD_CLIENT_EXTRA="coa_port = $NAS_PORT;"
	AUTHCTL_EXTRA_CONFIG="sessions = { timeout_ms = 200; retries = 2; ${2:-} };"
	AUTHD_EXTRA_CONFIG="$(redis_section) $AUTHCTL_EXTRA_CONFIG
		metrics = { listen = \"127.0.0.1:$METRICS_PORT\"; allow = [ \"127.0.0.1/32\" ]; };"
	authd_start
}

scrape() { curl -sS --max-time 3 "http://127.0.0.1:$METRICS_PORT/metrics"; }
# The Disconnect/CoA and helpdesk series of authd's /metrics.
dynauth_series() { scrape | grep -E '^authd_(dynauth|revoke_to_disconnect|helpdesk)' || true; }

# expect_metric SERIES VALUE: /metrics shows the series with that value within 5 s (authd reads
# the figures authctl keeps in Redis once a second).
expect_metric() {
	local deadline=$((SECONDS + 5))
	until scrape | grep -qxF "$1 $2"; do
		((SECONDS < deadline)) || fail "expected \"$1 $2\" in /metrics, it shows: $(dynauth_series)"
		sleep 0.2
	done
}

# expect_dynauth OUTCOME: the laptop's one request, counted with that outcome, at lab-switch.
expect_dynauth() {
	expect_metric "authd_dynauth_requests_total{nas=\"lab-switch\",request=\"${2:-disconnect}\",outcome=\"$1\"}" 1
	expect_metric 'authd_helpdesk_changes_total{action="revoke"}' 1
	expect_metric authd_helpdesk_revoked_certificates 1
	[[ $(dynauth_series | grep -c '^authd_dynauth_requests_total') == 1 ]] ||
		fail "expected one series of authd_dynauth_requests_total: $(dynauth_series)"
}

authctl() { authctl_cmd "$@"; }

# accept MAC: the laptop authenticates (the Access-Accept starts a live session).
accept() {
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	eapol_run "$HARNESS_DIR/laptop.conf" "$1"
	expect_eapol_accept
}

# account STATUS [--source ADDR] ATTR=VALUE...: one Accounting-Request from the NAS; fails
# without a valid response.
account() {
	local status=$1 out source=()
	shift
	[[ ${1:-} != --source ]] || { source=(--source "$2"); shift 2; }
	out=$("$NAS_BIN" account --server "127.0.0.1:$AUTHD_ACCT_PORT" --secret "$AUTHD_SECRET" \
		--status "$status" "${source[@]}" "$@" 2>&1) || fail "Accounting-Request ($status) got no valid Accounting-Response: $out"
}

# The Class authd put in the Access-Accept that eapol_test received last, in hex.
accept_class_hex() {
	awk '/code=2 \(Access-Accept\)/ { accept = 1 } accept && /Attribute 25 \(Class\)/ { getline; print $2; exit }' \
		"$EAPOL_LOG"
}

# expect_nas_request PATTERN WHAT: the NAS logged a request matching the extended regex.
expect_nas_request() {
	grep -Eq "$1" "$NAS_LOG" || fail "expected the NAS to log $2, it logged: $(cat "$NAS_LOG" 2>/dev/null)"
}

# expect_audit JQ WHAT: the newest disconnect entry of the audit log satisfies JQ.
expect_audit() {
	authctl audit --count 50 | jq -s -e "map(select(.action == \"disconnect\" or .action == \"coa\")) | first | $1" \
		>/dev/null || fail "expected the audit log to record $2, it holds: $(authctl audit --count 5)"
}

revoke_laptop() {
	REVOKE_OUT=$(authctl revoke --cert "$AUTHD_PKI/laptop.pem" --reason "stolen, ticket 4711") ||
		fail "authctl revoke failed: $REVOKE_OUT"
	harness_log "$REVOKE_OUT"
}

# Access-Accept + Accounting-Start (matched by station, in another MAC notation) + a periodic
# re-authentication, then a revoke: the NAS receives a Disconnect-Request naming the session,
# signed, and its ACK ends the session in the table.
case_disconnect_ack() {
	start ack
	accept 02:00:00:60:00:01
	account start User-Name=laptop-0001.corp.example Calling-Station-Id=02:00:00:60:00:01 \
		Acct-Session-Id=SESSION-6001 NAS-IP-Address=127.0.0.1
	accept 02:00:00:60:00:01
	revoke_laptop
	[[ $REVOKE_OUT == *"disconnected (ACK"* ]] || fail "authctl revoke did not report the disconnect: $REVOKE_OUT"
	expect_nas_request '^code=40 .*authenticator=valid .*message_authenticator=valid first=yes' \
		"a Disconnect-Request with a valid Request Authenticator and Message-Authenticator first"
	expect_nas_request 'Acct-Session-Id=SESSION-6001' "the Acct-Session-Id of the session"
	expect_nas_request 'User-Name=laptop-0001.corp.example' "the User-Name of the session"
	expect_nas_request 'Calling-Station-Id=02-00-00-60-00-01' "the Calling-Station-Id of the session"
	expect_audit '.outcome == "ack" and .acct_session_id == "SESSION-6001"' "an ack for SESSION-6001"
	expect_dynauth ack
	expect_metric authd_revoke_to_disconnect_seconds_count 1
	expect_metric 'authd_revoke_to_disconnect_seconds_bucket{le="+Inf"}' 1
	! dynauth_series | grep -q '^authd_dynauth_naks_total' || fail "a NAK counted after an ACK: $(dynauth_series)"
	[[ $(rcli HLEN "test:sessions:$(session_ref)") == 0 ]] || fail "the acknowledged session is still in the table"
	# The device is refused from now on.
	eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:60:00:02
	expect_eapol_reject
}

# The certificate reference authd keeps for the laptop (from its station index).
# station_ref STATION: the certificate the station index names (its value is "REF:MAC").
station_ref() { rcli GET "test:station:lab-switch:$1" | sed 's/:[^:]*$//'; }
session_ref() { station_ref 02-00-00-60-00-01; }

case_disconnect_nak() {
	start nak
	accept 02:00:00:60:00:01
	revoke_laptop
	[[ $REVOKE_OUT == *"NAS refused"*"503"* ]] || fail "authctl revoke did not report the NAK: $REVOKE_OUT"
	expect_audit '.outcome == "nak" and .error_cause == 503' "a nak with Error-Cause 503"
	expect_dynauth nak
	expect_metric 'authd_dynauth_naks_total{nas="lab-switch",error_cause="503"}' 1
}

case_disconnect_timeout() {
	start silent
	accept 02:00:00:60:00:01
	revoke_laptop
	[[ $REVOKE_OUT == *"no answer"* ]] || fail "authctl revoke did not report the timeout: $REVOKE_OUT"
	expect_audit '.outcome == "timeout" and .tries == 3' "a timeout after 3 tries (retries = 2)"
	[[ $(grep -c '^code=40 ' "$NAS_LOG") == 3 ]] || fail "expected 3 Disconnect-Requests at the NAS"
	expect_dynauth timeout
	expect_metric authd_revoke_to_disconnect_seconds_count 1
}

# Accounting-Stop ends the session: a later revoke has nothing to disconnect.
case_accounting_stop() {
	start ack
	accept 02:00:00:60:00:01
	account start Calling-Station-Id=02-00-00-60-00-01 Acct-Session-Id=SESSION-6002
	account interim Calling-Station-Id=02-00-00-60-00-01 Acct-Session-Id=SESSION-6002 Acct-Session-Time=60
	account stop Calling-Station-Id=02-00-00-60-00-01 Acct-Session-Id=SESSION-6002 Acct-Session-Time=120
	revoke_laptop
	[[ $REVOKE_OUT == *"no live session"* ]] || fail "expected no live session after Accounting-Stop: $REVOKE_OUT"
	[[ ! -s $NAS_LOG ]] || fail "the NAS received a request for a session that had stopped"
}

# A NAS that echoes authd's Class names the certificate even for a station authd never saw.
case_accounting_class() {
	local class
	start ack
	accept 02:00:00:60:00:01
	class=$(accept_class_hex)
	# "authd-cert:" in hex
	[[ $class == 61757468642d636572743a* ]] || fail "the Access-Accept carried no authd Class: '$class'"
	account start "Class=$class" \
		Calling-Station-Id=02-00-00-60-00-99 Acct-Session-Id=SESSION-6003
	revoke_laptop
	expect_nas_request 'Acct-Session-Id=SESSION-6003' "the session named by Class"
}

# A Class is bound to the NAS it was issued to: the laptop's Class from lab-switch (127.0.0.1),
# echoed by nas-b (127.0.0.2) in an Accounting-Start, is answered but creates no session.
case_class_other_nas() {
	local class
	redis_start
	nas_start ack
	AUTHD_ACCT_PORT=$(free_udp_port)
	AUTHD_CLIENT_ADDRESS=127.0.0.1/32
	AUTHD_CLIENT_EXTRA="coa_port = $NAS_PORT;"
	AUTHD_MORE_CLIENTS="{ name = \"nas-b\"; address = \"127.0.0.2/32\"; secret = \"$AUTHD_SECRET\"; }"
	AUTHD_EXTRA_CONFIG="$(redis_section) sessions = { timeout_ms = 200; retries = 2; };"
	authd_start
	accept 02:00:00:60:00:21
	class=$(accept_class_hex)
	[[ $class == 61757468642d636572743a* ]] || fail "the Access-Accept carried no authd Class: '$class'"
	account start --source 127.0.0.2 "Class=$class" Calling-Station-Id=02-00-00-60-00-98 \
		Acct-Session-Id=SESSION-6021
	grep -q "nas=nas-b .*accounting ignored: its Class was not issued to this NAS" "$AUTHD_LOG" ||
		fail "authd did not log the Class copied to nas-b"
	[[ $(rcli --scan --pattern 'test:nas-sessions:nas-b') == "" ]] || fail "nas-b got a live session"
	[[ $(rcli HLEN "test:sessions:$(station_ref 02-00-00-60-00-21)") == 1 ]] ||
		fail "expected the laptop's one session (from its Access-Accept), found $(rcli HLEN "test:sessions:$(station_ref 02-00-00-60-00-21)")"
	# The same Class from the NAS it was issued to names the session.
	account start "Class=$class" Calling-Station-Id=02-00-00-60-00-97 Acct-Session-Id=SESSION-6022
	revoke_laptop
	expect_nas_request 'Acct-Session-Id=SESSION-6022' "the session lab-switch reported with its Class"
	if grep -q 'SESSION-6021' "$NAS_LOG"; then
		fail "the session nas-b made up with a copied Class was disconnected: it was recorded"
	fi
	authd_stop
	[[ $(authd_counter class_refused) == 1 ]] || fail "expected class_refused=1, got $(authd_counter class_refused)"
}

# sessions.max_per_nas: beyond the cap a new session of the NAS is not kept; the ones it holds
# still update, and an ended one makes room.
case_nas_cap() {
	local class ref
	start ack 'max_per_nas = 2;'
	accept 02:00:00:60:00:31
	class=$(accept_class_hex)
	ref=$(station_ref 02-00-00-60-00-31)
	account start "Class=$class" Calling-Station-Id=02-00-00-60-00-32 Acct-Session-Id=SESSION-6032
	account start "Class=$class" Calling-Station-Id=02-00-00-60-00-33 Acct-Session-Id=SESSION-6033
	[[ $(rcli HLEN "test:sessions:$ref") == 2 ]] || fail "expected 2 sessions (the cap), found $(rcli HLEN "test:sessions:$ref")"
	[[ $(rcli ZCARD test:nas-sessions:lab-switch) == 2 ]] || fail "expected 2 sessions indexed for lab-switch"
	grep -q "nas=lab-switch: new live session not kept (station 02-00-00-60-00-33.*max_per_nas is 2" "$AUTHD_LOG" ||
		fail "authd did not log the session beyond the cap"
	# An existing session still updates.
	account interim "Class=$class" Calling-Station-Id=02-00-00-60-00-32 Acct-Session-Id=SESSION-6032 \
		NAS-Port=7
	rcli HGET "test:sessions:$ref" "lab-switch|02-00-00-60-00-32" | grep -q '^nas_port=7$' ||
		fail "the session under the cap did not update: $(rcli HGET "test:sessions:$ref" "lab-switch|02-00-00-60-00-32")"
	# One ends: room for another.
	account stop "Class=$class" Calling-Station-Id=02-00-00-60-00-31
	account start "Class=$class" Calling-Station-Id=02-00-00-60-00-34 Acct-Session-Id=SESSION-6034
	rcli HEXISTS "test:sessions:$ref" "lab-switch|02-00-00-60-00-34" | grep -q 1 ||
		fail "a session after one ended was not kept"
	authd_stop
	grep -q 'live sessions: refused=1 ' "$AUTHD_LOG" || fail "authd did not count the refused session at stop"
}

# The station index is MACed under the node key: a value written by hand (a Redis writer pointing
# a station at a certificate) names no certificate, and accounting without authd's Class creates no
# session from it; the genuine index still serves.
case_station_forged() {
	local ref
	start ack
	accept 02:00:00:60:00:41
	ref=$(station_ref 02-00-00-60-00-41)
	[[ -n $ref ]] || fail "the Access-Accept left no station index"
	rcli SET test:station:lab-switch:02-00-00-60-00-42 "$ref" EX 3600 >/dev/null
	account start Calling-Station-Id=02-00-00-60-00-42 Acct-Session-Id=SESSION-6042
	[[ $(rcli HEXISTS "test:sessions:$ref" "lab-switch|02-00-00-60-00-42") == 0 ]] ||
		fail "accounting at a station whose index was forged created a session of the laptop"
	account start Calling-Station-Id=02-00-00-60-00-41 Acct-Session-Id=SESSION-6041
	rcli HGET "test:sessions:$ref" "lab-switch|02-00-00-60-00-41" | grep -q '^acct_session_id=SESSION-6041$' ||
		fail "accounting at the laptop's own station did not reach its session"
}

# Accounting signed with another secret is dropped, unanswered.
case_accounting_wrong_secret() {
	start ack
	if "$NAS_BIN" account --server "127.0.0.1:$AUTHD_ACCT_PORT" --secret wrong \
		--status start Calling-Station-Id=02-00-00-60-00-01 >/dev/null 2>&1; then
		fail "authd answered accounting signed with a wrong secret"
	fi
	grep -q "Request Authenticator" "$AUTHD_LOG" || fail "authd did not log why it dropped the request"
}

# on_revoke = "coa": a CoA-Request asking the NAS to re-authenticate (Service-Type Authorize-Only).
case_coa() {
	start ack 'on_revoke = "coa";'
	accept 02:00:00:60:00:01
	revoke_laptop
	expect_nas_request '^code=43 .*Service-Type=(17|Authorize-Only).*State=' "a CoA-Request with Authorize-Only and State"
	expect_audit '.action == "coa" and .outcome == "ack"' "an acknowledged CoA"
}

# A live-session record comes back from Redis: one rewritten to name an address outside its
# client's range (127.0.0.1/32) gets no Disconnect-Request there, though a NAS listens at that
# address with the client's secret; authctl says why and the audit log records the refusal.
case_disconnect_outside_range() {
	local key field record
	AUTHD_CLIENT_ADDRESS=127.0.0.1/32 NAS_ADDRESS=127.0.0.2
	start ack
	accept 02:00:00:60:00:01
	key=test:sessions:$(session_ref)
	field="lab-switch|02-00-00-60-00-01"
	record=$(rcli HGET "$key" "$field")
	[[ $record == *"nas_addr=127.0.0.1"* ]] || fail "no live session of the laptop from 127.0.0.1: '$record'"
	rcli HSET "$key" "$field" "${record//nas_addr=127.0.0.1/nas_addr=127.0.0.2}" >/dev/null
	revoke_laptop
	[[ $REVOKE_OUT == *"not sent: the session's NAS address 127.0.0.2 is outside client lab-switch's range 127.0.0.1/32"* ]] ||
		fail "authctl revoke did not say why nothing was sent: $REVOKE_OUT"
	sleep 0.5
	[[ ! -s $NAS_LOG ]] || fail "a request went to the address the record named: $(cat "$NAS_LOG")"
	expect_audit '.outcome == "refused" and .nas_addr == "127.0.0.2" and (.detail | test("outside client lab-switch"))' \
		"the refused Disconnect with its reason"
	[[ $(rcli HLEN "$key") == 1 ]] || fail "the session left the table although its NAS was not told"
	expect_dynauth refused
	expect_metric authd_revoke_to_disconnect_seconds_count 0
}

# The figures travel through Redis with the shipped ACL users: authctl may add to them, authd
# may only read them. Whoever else writes there cannot add a label value or a series: garbage in
# the hash is ignored (and said once), authd shows the same figures and keeps serving.
case_dynauth_stats_hostile() {
	local before after key=authd:dynauth:stats
	redis_use_acl
	start ack
	accept 02:00:00:60:00:01
	revoke_laptop
	expect_dynauth ack
	redis-cli -p "$REDIS_PORT" --no-auth-warning --user authd --pass "$REDIS_AUTHD_PASSWORD" \
		HINCRBY "$key" "req:lab-switch:disconnect:ack" 1 2>&1 | grep -q NOPERM ||
		fail "authd's Redis user may write the Disconnect/CoA figures"
	before=$(dynauth_series)
	rcli HSET "$key" "req:evil-nas:disconnect:ack" 5 "req:lab-switch:disconnect:bogus" 5 \
		"req:lab-switch:reboot:ack" 5 "nak:lab-switch:999" 1 "nak:evil:503" 1 "nak:lab-switch:503" -3 \
		"req:lab-switch:coa:nak" 12abc "req:lab-switch:coa:timeout" 99999999999999999999 \
		"req:lab-switch:coa:error" 1e3 "req:lab-switch:coa:ack" " 7" "wait:le:0.07" 4 "wait:le:+Inf " 1 \
		"$(printf 'req:lab-switch\n:disconnect:nak')" 2 "unknown" 1 >/dev/null
	sleep 2.5
	after=$(dynauth_series)
	[[ $after == "$before" ]] || fail "garbage in $key changed /metrics: $(diff <(echo "$before") <(echo "$after"))"
	[[ $(grep -c 'dynauth figures from Redis .*ignored 14 field' "$AUTHD_LOG") == 1 ]] ||
		fail "expected one warning about the 14 fields ignored: $(grep 'dynauth figures' "$AUTHD_LOG")"
	# Not a hash at all: the last figures stay.
	rcli DEL "$key" >/dev/null
	rcli SET "$key" garbage >/dev/null
	sleep 1.5
	[[ $(dynauth_series) == "$before" ]] || fail "a $key that is not a hash changed /metrics: $(dynauth_series)"
	# Redis gone: scrapes answer at once with the last figures.
	redis_stop
	sleep 2.5
	[[ $(dynauth_series) == "$before" ]] || fail "/metrics changed while Redis was down: $(dynauth_series)"
	kill -0 "$AUTHD_PID" || fail "authd stopped"
	promtool check metrics < <(scrape) >/dev/null 2>&1 || fail "promtool check metrics refused /metrics"
}

# NAS-IPv6-Address (RFC 3162) is recorded with the session, beside NAS-IP-Address.
case_nas_ipv6_address() {
	local ref
	start ack
	accept 02:00:00:60:00:51
	account start Calling-Station-Id=02-00-00-60-00-51 Acct-Session-Id=SESSION-6051 \
		NAS-IP-Address=192.0.2.51 NAS-IPv6-Address=2001:db8::51
	ref=$(station_ref 02-00-00-60-00-51)
	rcli HGET "test:sessions:$ref" "lab-switch|02-00-00-60-00-51" | grep -q '^nas_ipv6_address=2001:db8::51$' ||
		fail "the session does not record NAS-IPv6-Address: $(rcli HGET "test:sessions:$ref" "lab-switch|02-00-00-60-00-51")"
	rcli HGET "test:sessions:$ref" "lab-switch|02-00-00-60-00-51" | grep -q '^nas_ip_address=192.0.2.51$' ||
		fail "the session lost NAS-IP-Address"
}

# two_nases: lab-switch (127.0.0.1) and nas-b (127.0.0.2), whose Disconnect/CoA-Requests both go
# to the test NAS on 127.0.0.1, plus nas-c (127.0.0.3), which holds no session. The laptop is on
# the network at both: station 02-00-00-60-00-61 at lab-switch, 02-00-00-60-00-62 at nas-b.
# SESSIONS_SETTINGS: more sessions settings.
two_nases() {
	redis_start
	nas_start ack
	AUTHD_ACCT_PORT=$(free_udp_port)
	AUTHD_CLIENT_ADDRESS=127.0.0.1/32
	AUTHD_CLIENT_EXTRA="coa_port = $NAS_PORT;"
	AUTHD_MORE_CLIENTS="{ name = \"nas-b\"; address = \"127.0.0.2/32\"; secret = \"$AUTHD_SECRET\";
		coa_address = \"127.0.0.1\"; coa_port = $NAS_PORT; },
		{ name = \"nas-c\"; address = \"127.0.0.3/32\"; secret = \"$AUTHD_SECRET\"; }"
	AUTHCTL_EXTRA_CONFIG="sessions = { timeout_ms = 200; retries = 2; ${SESSIONS_SETTINGS:-} };"
	AUTHD_EXTRA_CONFIG="$(redis_section) $AUTHCTL_EXTRA_CONFIG"
	authd_start
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:60:00:61
	expect_eapol_accept
	eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:60:00:62 -A 127.0.0.2
	expect_eapol_accept
	[[ $(rcli ZCARD test:nas-sessions:lab-switch) == 1 && $(rcli ZCARD test:nas-sessions:nas-b) == 1 ]] ||
		fail "expected one live session at each NAS"
}

# Accounting-On (RFC 2866: the NAS rebooted) ends every live session of the NAS it comes from, and
# only those: one from nas-c naming lab-switch inside (NAS-Identifier, NAS-IP-Address) ends none.
# A later revoke sends a Disconnect-Request to nas-b's session only.
case_accounting_on() {
	two_nases
	account on --source 127.0.0.3 NAS-Identifier=lab-switch NAS-IP-Address=127.0.0.1
	grep -q "nas=nas-c .*Accounting-On: .*: 0 live session(s) ended" "$AUTHD_LOG" ||
		fail "authd did not log nas-c's Accounting-On with no session ended"
	[[ $(rcli ZCARD test:nas-sessions:lab-switch) == 1 ]] || fail "nas-c's Accounting-On ended lab-switch's session"
	account on NAS-Identifier=lab-switch
	grep -q "nas=lab-switch .*Accounting-On: .*: 1 live session(s) ended" "$AUTHD_LOG" ||
		fail "authd did not log lab-switch's Accounting-On with its one session ended"
	[[ $(rcli ZCARD test:nas-sessions:lab-switch) == 0 ]] || fail "lab-switch's index still holds its session"
	[[ $(rcli EXISTS test:station:lab-switch:02-00-00-60-00-61) == 0 ]] || fail "lab-switch's station index is left"
	revoke_laptop
	expect_nas_request 'Calling-Station-Id=02-00-00-60-00-62' "the Disconnect-Request for nas-b's session"
	if grep -q '02-00-00-60-00-61' "$NAS_LOG"; then
		fail "a Disconnect-Request went to the session lab-switch's Accounting-On ended: $(cat "$NAS_LOG")"
	fi
}

# Accounting-Off (the NAS is going down) does the same.
case_accounting_off() {
	two_nases
	account off --source 127.0.0.2
	grep -q "nas=nas-b .*Accounting-Off: .*: 1 live session(s) ended" "$AUTHD_LOG" ||
		fail "authd did not log nas-b's Accounting-Off with its one session ended"
	[[ $(rcli ZCARD test:nas-sessions:nas-b) == 0 && $(rcli ZCARD test:nas-sessions:lab-switch) == 1 ]] ||
		fail "expected nas-b's session ended and lab-switch's kept"
	# A member planted in the index that names another NAS's session is dropped, nothing else.
	rcli ZADD test:nas-sessions:nas-b 1 "$(station_ref 02-00-00-60-00-61)|lab-switch|02-00-00-60-00-61" >/dev/null
	account off --source 127.0.0.2
	[[ $(rcli ZCARD test:nas-sessions:nas-b) == 0 ]] || fail "the planted member stayed in nas-b's index"
	[[ $(rcli HLEN "test:sessions:$(station_ref 02-00-00-60-00-61)") == 1 ]] ||
		fail "a member planted in nas-b's index ended lab-switch's session"
}

# sessions.nas_silent_after: lab-switch falls silent and its session is ended; nas-b keeps talking
# (accounting that names no session) and keeps its own, though no accounting updated it. A time
# stored for lab-switch that is not a Unix time (a hostile Redis) ends nothing and is logged.
case_silent_nas() {
	local heard deadline
	SESSIONS_SETTINGS='nas_silent_after = 10;'
	heard=$(date +%s)
	two_nases
	sleep 3   # authd has written when it heard lab-switch (every 2 s)
	rcli HSET test:nas-heard lab-switch 12abc >/dev/null
	deadline=$((SECONDS + 25))
	until grep -q 'nas=lab-switch: its sessions stay: the time stored for it, "12abc", is not' "$AUTHD_LOG" &&
		(($(date +%s) > heard + 16)); do
		((SECONDS < deadline)) || fail "authd did not log the nonsense time stored for lab-switch"
		account interim --source 127.0.0.2 Calling-Station-Id=02-00-00-60-00-99
		sleep 1
	done
	[[ $(rcli ZCARD test:nas-sessions:lab-switch) == 1 ]] ||
		fail "lab-switch's session ended although the time stored for it is nonsense"
	# The real time again: lab-switch has been silent past the limit.
	rcli HSET test:nas-heard lab-switch "$heard" >/dev/null
	deadline=$((SECONDS + 15))
	until [[ $(rcli ZCARD test:nas-sessions:lab-switch) == 0 ]]; do
		((SECONDS < deadline)) || fail "lab-switch's session was not ended though it has been silent past the limit"
		account interim --source 127.0.0.2 Calling-Station-Id=02-00-00-60-00-99
		sleep 1
	done
	grep -Eq 'nas=lab-switch: silent for [0-9]+ s \(sessions.nas_silent_after is 10\): 1 live session\(s\) ended' \
		"$AUTHD_LOG" || fail "authd did not log the silent NAS's session ended"
	[[ $(rcli ZCARD test:nas-sessions:nas-b) == 1 ]] || fail "nas-b, which kept talking, lost its session"
	[[ $(rcli EXISTS test:station:lab-switch:02-00-00-60-00-61) == 0 ]] || fail "lab-switch's station index is left"
	# nas-c, never heard, had its clock started by a sweep.
	[[ $(rcli HGET test:nas-heard nas-c) =~ ^[0-9]+$ ]] || fail "no time stored for nas-c, which was never heard"
}

# sessions.source_address (authctl.conf): Disconnect-Requests leave from the configured address.
# One the host does not hold sends nothing, and authctl says why.
case_disconnect_source_address() {
	start ack
	accept 02:00:00:60:00:71
	AUTHCTL_EXTRA_CONFIG='sessions = { timeout_ms = 200; retries = 2; source_address = [ "::1", "192.0.2.71" ]; };'
	REVOKE_OUT=$(authctl revoke --cert "$AUTHD_PKI/laptop.pem" --reason "stolen, ticket 4771" 2>&1) || true
	[[ $REVOKE_OUT == *"socket from the configured source address: Cannot assign requested address"* ]] ||
		fail "authctl revoke did not say the source address cannot be used: $REVOKE_OUT"
	[[ ! -s $NAS_LOG ]] || fail "a request was sent though its source address cannot be used: $(cat "$NAS_LOG")"
	AUTHCTL_EXTRA_CONFIG='sessions = { timeout_ms = 200; retries = 2; source_address = "127.0.0.71"; };'
	revoke_laptop
	expect_nas_request '^code=40 .*from=127\.0\.0\.71 ' "a Disconnect-Request from 127.0.0.71"
	[[ $REVOKE_OUT == *"disconnected (ACK"* ]] || fail "authctl revoke did not report the disconnect: $REVOKE_OUT"
}

main() {
	local case=${1:-}
	if [[ $case == --list ]]; then
		declare -F | sed -n 's/^declare -f case_//p'
		exit 0
	fi
	declare -F "case_$case" >/dev/null || { echo "usage: sessions.sh CASE (sessions.sh --list)" >&2; exit 2; }
	[[ -x ${AUTHCTL_BIN:-} && -x ${NAS_BIN:-} ]] || { echo "sessions.sh: AUTHCTL_BIN and NAS_BIN must be set" >&2; exit 2; }
	need_command redis-server redis-server
	harness_init
	harness_on_exit stop_servers
	"case_$case"
}

main "$@"
