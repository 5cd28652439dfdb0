#!/usr/bin/env bash
# helpdesk.sh CASE — the helpdesk's revocation list in a real redis-server, written by authctl and
# read by authd nodes on every authentication, and each node's mirror of it. Needs AUTHD_BIN,
# AUTHD_PKI, AUTHCTL_BIN and OCSP_RESPONDER (tests/ocsp/ocsp_responder.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=redis_lib.sh
source "$HERE/redis_lib.sh"

# Nobody listens at the test NAS's Disconnect port: authctl's attempt there (every revoke of a
# device with a live session) gives up at once instead of retrying for 15 s.
AUTHCTL_EXTRA_CONFIG="sessions = { timeout_ms = 100; retries = 0; };"

NODE2_PID=""
NODE2_PORT=""
OCSP_DIR=""

stop_servers() {
	[[ -z $NODE2_PID ]] || { kill -TERM "$NODE2_PID" 2>/dev/null; wait "$NODE2_PID" 2>/dev/null; }
	[[ -z $OCSP_DIR ]] || "$OCSP_RESPONDER" stop "$OCSP_DIR" >/dev/null 2>&1 || true
	redis_stop
}

# A node with every other revocation source that says the laptop is fine: the Device CA's CRL
# (which lists only the revoked device) and an OCSP responder that answers good.
every_source_section() {
	local port
	OCSP_DIR=$HARNESS_DIR/ocsp
	port=$("$OCSP_RESPONDER" start "$OCSP_DIR" "$AUTHD_PKI") || fail "could not start the OCSP responder"
	cp "$AUTHD_PKI/issuing-ca.crl.pem" "$HARNESS_DIR/crl.pem"
	echo "revocation = { crl = [ \"$HARNESS_DIR/crl.pem\" ]; ocsp = { url = \"http://127.0.0.1:$port/\"; }; };"
}

# wait_log PATTERN [SECONDS] [FROM_LINE]: authd logs a line matching PATTERN (after FROM_LINE).
wait_log() {
	local pattern=$1 deadline=$((SECONDS + ${2:-10})) from=${3:-0}
	until tail -n +"$((from + 1))" "$AUTHD_LOG" | grep -Eq -- "$pattern"; do
		((SECONDS < deadline)) || fail "authd did not log '$pattern' within ${2:-10} s"
		sleep 0.05
	done
}

log_lines() { wc -l <"$AUTHD_LOG"; }

# The reference under which Redis keeps a device that authenticated: "issuerkeyhash:SERIAL".
cert_ref_of() {
	local ref
	ref=$(rcli GET "test:identity:$1")
	[[ $ref =~ ^[0-9a-f]{40}:[0-9A-F]+$ ]] || fail "no certificate reference recorded for $1: '$ref'"
	echo "$ref"
}

# A second authd node on its own port, sharing the Redis of the first.
node2_start() {
	local conf=$HARNESS_DIR/node2.conf port=$AUTHD_PORT log=$AUTHD_DECISIONS deadline=$((SECONDS + 10))
	NODE2_PORT=$(free_udp_port)
	AUTHD_PORT=$NODE2_PORT AUTHD_DECISIONS=$HARNESS_DIR/node2.jsonl authd_write_config "$conf"
	AUTHD_PORT=$port AUTHD_DECISIONS=$log
	"$AUTHD_BIN" -c "$conf" >"$HARNESS_DIR/node2.log" 2>&1 &
	NODE2_PID=$!
	until grep -qw ready "$HARNESS_DIR/node2.log"; do
		((SECONDS < deadline)) || fail "the second authd did not start: $(tail -n 5 "$HARNESS_DIR/node2.log")"
		sleep 0.05
	done
}

authctl() { authctl_cmd "$@"; }

# auth DEVICE MAC OUTCOME REASON SOURCE [PORT DECISIONS]: one authentication on a node
# (SOURCE null: no revocation source answered).
auth() {
	local device=$1 mac=$2 outcome=$3 reason=$4 source=$5 port=${6:-$AUTHD_PORT} log=${7:-$AUTHD_DECISIONS}
	local saved_port=$AUTHD_PORT saved_log=$AUTHD_DECISIONS
	eapol_config "$device" >"$HARNESS_DIR/$device.conf"
	AUTHD_PORT=$port AUTHD_DECISIONS=$log
	eapol_run "$HARNESS_DIR/$device.conf" "$mac"
	if [[ $outcome == accept ]]; then expect_eapol_accept; else expect_eapol_reject; fi
	[[ $source == null ]] || source="\"$source\""
	expect_decision "$mac" ".outcome == \"$outcome\" and .reason == \"$reason\" and .revocation_source == $source" \
		"$outcome, reason $reason, revocation_source $source"
	AUTHD_PORT=$saved_port AUTHD_DECISIONS=$saved_log
}

case_revoke_two_nodes() {
	local out
	redis_start
	AUTHD_EXTRA_CONFIG=$(redis_section)
	authd_start
	node2_start
	auth laptop 02:00:00:50:00:01 accept ok helpdesk
	out=$(authctl revoke --cert "$AUTHD_PKI/laptop.pem" --reason "stolen, ticket 4711") ||
		fail "authctl revoke failed: $out"
	auth laptop 02:00:00:50:00:02 reject revoked helpdesk
	auth laptop 02:00:00:50:00:03 reject revoked helpdesk "$NODE2_PORT" "$HARNESS_DIR/node2.jsonl"
	out=$(authctl revocations --json)
	jq -e --arg me "$(id -un)" 'select(.subject == "CN=laptop-0001.corp.example") |
		.reason == "stolen, ticket 4711" and .by == $me and (.at | test("^20[0-9-]+T"))' <<<"$out" >/dev/null ||
		fail "authctl revocations --json has no audit record for the laptop: $out"
	authctl unrevoke --cert "$AUTHD_PKI/laptop.pem" >/dev/null || fail "authctl unrevoke failed"
	auth laptop 02:00:00:50:00:04 accept ok helpdesk
	auth laptop 02:00:00:50:00:05 accept ok helpdesk "$NODE2_PORT" "$HARNESS_DIR/node2.jsonl"
}

case_revoke_by_serial() {
	local serial
	redis_start
	AUTHD_EXTRA_CONFIG=$(redis_section)
	authd_start
	# As a helpdesk might type it: lower case, a leading zero byte. It must still match.
	serial=00$(openssl x509 -in "$AUTHD_PKI/printer.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
	authctl revoke --serial "$serial" --issuer "$AUTHD_PKI/issuing-ca.pem" --reason "decommissioned" >/dev/null ||
		fail "authctl revoke by serial failed"
	auth printer 02:00:00:51:00:01 reject revoked helpdesk
	auth laptop 02:00:00:51:00:02 accept ok helpdesk
}

# Redis down: authd keeps working on the CRL, and picks Redis up again when it returns.
# SIGTERM while Redis accepts and never answers (SIGSTOPped) and each command may wait 5 s: authd
# ends within a second with status 0, leaving the calls behind instead of waiting them out.
case_stop_while_redis_silent() {
	local start ms bg
	redis_start
	AUTHD_EXTRA_CONFIG=$(REDIS_TIMEOUT_MS=5000 redis_section)
	authd_start
	auth laptop 02:00:00:59:00:01 accept ok helpdesk
	kill -STOP "$REDIS_PID"
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	( eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:59:00:02 -t 3 ) &
	bg=$!
	sleep 1
	start=$(date +%s%3N)
	authd_stop
	ms=$(($(date +%s%3N) - start))
	kill -CONT "$REDIS_PID"
	wait "$bg" || true
	((ms < 1000)) || fail "authd took $ms ms to stop with Redis silent, expected < 1000 ms"
	grep -q "backend calls still running" "$AUTHD_LOG" ||
		fail "authd did not say it left a Redis call behind (was the device not waiting on Redis?)"
	echo "stopped in $ms ms with a Redis call in flight"
}

case_redis_down() {
	redis_start
	cp "$AUTHD_PKI/issuing-ca.crl.pem" "$HARNESS_DIR/crl.pem"
	AUTHD_EXTRA_CONFIG="$(redis_section) revocation = { crl = [ \"$HARNESS_DIR/crl.pem\" ]; };"
	authd_start
	redis_stop
	auth laptop 02:00:00:52:00:01 accept ok crl
	expect_decision 02:00:00:52:00:01 '.detail | test("redis")' "the Redis outage noted in detail"
	auth revoked 02:00:00:52:00:02 reject revoked crl
	redis_start
	authctl revoke --cert "$AUTHD_PKI/laptop.pem" --reason "lost" >/dev/null || fail "authctl revoke failed"
	auth laptop 02:00:00:52:00:03 reject revoked helpdesk
}

case_revoke_by_identity() {
	redis_start
	AUTHD_EXTRA_CONFIG=$(redis_section)
	authd_start
	authctl revoke --identity laptop-0001.corp.example --reason x >/dev/null 2>&1 &&
		fail "authctl revoked an identity that never authenticated"
	auth laptop 02:00:00:53:00:01 accept ok helpdesk
	authctl revoke --identity laptop-0001.corp.example --reason "left the company" >/dev/null ||
		fail "authctl revoke --identity failed for a device that authenticated"
	auth laptop 02:00:00:53:00:02 reject revoked helpdesk
	auth printer 02:00:00:53:00:03 accept ok helpdesk
}

# import-crl: the serials of a CA's fresh CRL are refused on a node that has no CRL file, and the
# import is audited; a CRL no trusted CA signed, or one past its nextUpdate, is refused.
case_import_crl() {
	local out
	redis_start
	AUTHD_EXTRA_CONFIG=$(redis_section)
	authd_start
	out=$(authctl import-crl "$AUTHD_PKI/issuing-ca.crl.pem") || fail "authctl import-crl failed: $out"
	[[ $out == "imported 1 revoked serial(s) of "* ]] || fail "unexpected import-crl output: $out"
	auth revoked 02:00:00:54:00:01 reject revoked cache
	auth laptop 02:00:00:54:00:02 accept ok helpdesk
	authctl audit | jq -e -s 'map(select(.action == "import-crl")) | length == 1' >/dev/null ||
		fail "the import is not in the audit log: $(authctl audit)"
	if out=$(authctl import-crl "$AUTHD_PKI/rogue-ca.crl.pem" 2>&1); then
		fail "authctl imported a CRL signed by an untrusted CA"
	fi
	[[ $out == *"no trusted CA"* ]] || fail "the refusal does not say why: $out"
	if out=$(authctl import-crl "$AUTHD_PKI/issuing-ca-expired.crl.pem" 2>&1); then
		fail "authctl imported an expired CRL"
	fi
	[[ $out == *"nextUpdate"* ]] || fail "the refusal does not say why: $out"
}

HELPDESK_USER=authd-helpdesk-test
HELPDESK_CREATED=""

remove_helpdesk_user() {
	[[ -z $HELPDESK_CREATED ]] || userdel "$HELPDESK_USER" 2>/dev/null || true
}

# as_helpdesk COMMAND...: COMMAND as the unprivileged helpdesk user, with only its own group and an
# environment that lies about who is at the keyboard.
as_helpdesk() {
	env SUDO_USER=mallory SUDO_UID=0 USER=mallory LOGNAME=mallory \
		setpriv --reuid="$HELPDESK_USER" --regid="$HELPDESK_USER" --clear-groups -- "$@"
}

# authctl as an unprivileged user of a helpdesk group: it reads only authctl.conf (0640 root:group) and
# its Redis password file, not authd.conf nor the server's key; it logs in to Redis as the authctl
# ACL user; the revocation takes effect, and the record names the OS user, not $SUDO_USER.
case_unprivileged_helpdesk() {
	local desk=$HARNESS_DIR/helpdesk out uid
	if ((EUID != 0)); then
		echo "SKIP: needs root to create the helpdesk user"
		exit 77
	fi
	if ! id "$HELPDESK_USER" >/dev/null 2>&1; then
		useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$HELPDESK_USER" ||
			fail "cannot create the user $HELPDESK_USER"
		HELPDESK_CREATED=yes
	fi
	uid=$(id -u "$HELPDESK_USER")
	# authd's files: the temp dir may be entered, its files are root's alone.
	chmod 0711 "$HARNESS_DIR"
	install -m 0600 "$AUTHD_PKI/server.key" "$HARNESS_DIR/server.key"
	AUTHD_PRIVATE_KEY=$HARNESS_DIR/server.key
	redis_use_acl
	redis_start
	AUTHD_EXTRA_CONFIG=$(redis_section)
	authd_start
	chmod 0600 "$AUTHD_CONF"
	# The helpdesk's: a directory of its group, its config and password file readable by the group.
	install -d -m 0750 -g "$HELPDESK_USER" "$desk"
	printf '%s\n' "$REDIS_AUTHCTL_PASSWORD" >"$desk/redis.password"
	authctl_write_config "$desk/authctl.conf" 'username = "authctl"; password_file = "redis.password";'
	chgrp "$HELPDESK_USER" "$desk/authctl.conf" "$desk/redis.password"
	chmod 0640 "$desk/authctl.conf" "$desk/redis.password"
	for f in "$AUTHD_CONF" "$HARNESS_DIR/server.key"; do
		if as_helpdesk cat "$f" >/dev/null 2>&1; then fail "the helpdesk user can read $f"; fi
	done
	if out=$(as_helpdesk "$AUTHCTL_BIN" -c "$AUTHD_CONF" revocations 2>&1); then
		fail "authctl ran as the helpdesk user with authd.conf: $out"
	fi
	auth laptop 02:00:00:55:00:01 accept ok helpdesk
	out=$(as_helpdesk "$AUTHCTL_BIN" -c "$desk/authctl.conf" revoke --cert "$AUTHD_PKI/laptop.pem" \
		--reason "stolen, ticket 4712" 2>&1) || fail "authctl revoke as $HELPDESK_USER failed: $out"
	[[ $out == *"by $HELPDESK_USER at"* ]] || fail "authctl did not name $HELPDESK_USER as the revoker: $out"
	auth laptop 02:00:00:55:00:02 reject revoked helpdesk
	out=$(as_helpdesk "$AUTHCTL_BIN" -c "$desk/authctl.conf" revocations --json) || fail "authctl revocations failed"
	jq -e --arg me "$HELPDESK_USER" 'select(.subject == "CN=laptop-0001.corp.example") | .by == $me' \
		<<<"$out" >/dev/null || fail "the revocation does not name $HELPDESK_USER: $out"
	# The revocation and the Disconnect-Request to the laptop's NAS (nobody listens: a timeout).
	out=$(rcli LRANGE "${REDIS_PREFIX}audit" 0 -1)
	jq -e -s --arg me "$HELPDESK_USER" --argjson uid "$uid" \
		'map(select(.action == "revoke" or .action == "disconnect")) | length == 2 and all(.by == $me and .uid == $uid)' \
		<<<"$out" >/dev/null || fail "the audit entries do not name $HELPDESK_USER (uid $uid): $out"
}

# authd logs in as the authd ACL user of authd/redis-users.acl and still works (accept, the helpdesk
# list, revoke by identity), but that user cannot delete or trim the audit log.
case_acl_audit() {
	local out
	redis_use_acl
	redis_start
	AUTHD_EXTRA_CONFIG=$(redis_section)
	authd_start
	auth laptop 02:00:00:56:00:01 accept ok helpdesk
	out=$(authctl revoke --identity laptop-0001.corp.example --reason "lost") || fail "authctl revoke failed: $out"
	auth laptop 02:00:00:56:00:02 reject revoked helpdesk
	auth printer 02:00:00:56:00:03 accept ok helpdesk
	rcli LRANGE "${REDIS_PREFIX}audit" 0 -1 | jq -e -s 'map(select(.action == "revoke")) | length == 1' >/dev/null ||
		fail "the revocation is not in the audit log"
	for cmd in "DEL ${REDIS_PREFIX}audit" "LTRIM ${REDIS_PREFIX}audit 1 0" "DEL ${REDIS_PREFIX}revoked:x" \
		"LPUSH ${REDIS_PREFIX}audit forged"; do
		# shellcheck disable=SC2086 # the command's words
		out=$(redis-cli -p "$REDIS_PORT" --no-auth-warning --user authd --pass "$REDIS_AUTHD_PASSWORD" $cmd 2>&1)
		[[ $out == *NOPERM* ]] || fail "the authd Redis user was allowed '$cmd': $out"
	done
	[[ $(rcli LLEN "${REDIS_PREFIX}audit") == 2 ]] || fail "the audit log changed: $(rcli LRANGE "${REDIS_PREFIX}audit" 0 -1)"
	if grep -q NOPERM "$AUTHD_LOG"; then
		fail "authd was refused a Redis command it needs: $(grep NOPERM "$AUTHD_LOG" | head -n 3)"
	fi
}

# A device the helpdesk revoked stays refused when Redis dies, on a node whose CRL and OCSP
# responder both call it good: the node's mirror of the list decides.
case_mirror_redis_down() {
	local from
	redis_start
	AUTHD_EXTRA_CONFIG="$(redis_section) $(every_source_section)"
	authd_start
	auth laptop 02:00:00:55:00:01 accept ok ocsp
	from=$(log_lines)
	authctl revoke --cert "$AUTHD_PKI/laptop.pem" --reason "stolen" >/dev/null || fail "authctl revoke failed"
	wait_log "revocation mirror: 1 revoke" 10 "$from"
	redis_stop
	auth laptop 02:00:00:55:00:02 reject revoked helpdesk
	expect_decision 02:00:00:55:00:02 '.revocation == "revoked" and (.detail | test("stolen.*from this node.s mirror, synchronised [0-9]+ s ago"))' \
		"the revocation from the mirror, with its age, in detail"
	auth printer 02:00:00:55:00:03 accept ok ocsp
	expect_decision 02:00:00:55:00:03 '.detail | test("not on the helpdesk list \\(this node.s mirror")' \
		"the mirror consulted for the printer too"
}

# A node started while Redis is down has no mirror: it refuses, whatever OCSP and the CRL say,
# and names no revocation source; once Redis answers the mirror loads and the device gets in.
# A reload while Redis is down: the new config generation consults the same mirror, so the
# revocation is not forgotten, and other devices are still answered.
case_mirror_after_reload() {
	local from
	redis_start
	AUTHD_EXTRA_CONFIG="$(redis_section) $(every_source_section)"
	authd_start
	from=$(log_lines)
	authctl revoke --cert "$AUTHD_PKI/laptop.pem" --reason "stolen" >/dev/null || fail "authctl revoke failed"
	wait_log "revocation mirror: 1 revoke" 10 "$from"
	redis_stop
	kill -HUP "$AUTHD_PID"
	wait_log "config generation 2 in force" 10 "$from"
	auth laptop 02:00:00:56:00:01 reject revoked helpdesk
	expect_decision 02:00:00:56:00:01 '.detail | test("stolen.*from this node.s mirror")' \
		"the revocation from the mirror after the reload"
	auth printer 02:00:00:56:00:02 accept ok ocsp
}

case_mirror_never_loaded() {
	REDIS_PORT=$(free_port tcp)   # nobody listens there yet
	AUTHD_EXTRA_CONFIG="$(redis_section) $(every_source_section)"
	authd_start
	auth laptop 02:00:00:56:00:01 reject revocation_unknown null
	expect_decision 02:00:00:56:00:01 '.revocation == "unknown" and (.detail | test("no mirror of the helpdesk list"))' \
		"revocation unknown, and why, in detail"
	redis_start
	wait_log "revocation mirror: synchronised" 15
	auth laptop 02:00:00:56:00:02 accept ok ocsp
}

# Changes the node's subscription never delivered are found: one written without a notice (the
# periodic look at revocations:seq), one made while Redis was restarting (the full
# re-synchronisation after the reconnect). Both then hold with Redis gone.
case_mirror_missed_notice() {
	local ref seq from
	redis_start
	AUTHD_EXTRA_CONFIG=$(redis_section)
	authd_start
	auth laptop 02:00:00:57:00:01 accept ok helpdesk
	auth printer 02:00:00:57:00:02 accept ok helpdesk
	ref=$(cert_ref_of laptop-0001.corp.example)
	from=$(log_lines)
	# What helpdesk_revoke does, but the notice is never published: as if it were lost.
	rcli HSET "test:revoked:$ref" by tester at 2026-01-01T00:00:00Z reason "notice lost" >/dev/null
	seq=$(rcli INCR test:revocations:seq)
	rcli LPUSH test:revocations:log "$seq revoke $ref" >/dev/null
	wait_log "re-synchronising" 15 "$from"
	wait_log "revocation mirror: synchronised at sequence $seq" 5 "$from"
	# Redis restarts empty (no persistence) and the printer is revoked before the node is back
	# on the channel; the laptop, lost with Redis's data, stays refused with a warning.
	from=$(log_lines)
	redis_stop
	wait_log "revocation mirror: .*reconnecting" 10 "$from"
	redis_start
	authctl revoke --cert "$AUTHD_PKI/printer.pem" --reason "revoked during the restart" >/dev/null ||
		fail "authctl revoke failed"
	wait_log "revocation mirror: (synchronised at sequence 1 |1 revoke)" 15 "$from"
	wait_log "$ref is no longer in Redis" 1 "$from"
	redis_stop
	auth laptop 02:00:00:57:00:03 reject revoked helpdesk
	auth printer 02:00:00:57:00:04 reject revoked helpdesk
	expect_decision 02:00:00:57:00:04 '.detail | test("revoked during the restart")' "the printer's record in detail"
}

# A DEL of the revocation behind the helpdesk's back undoes nothing on a running node, and is
# reported; `authctl unrevoke` is what lifts it.
case_mirror_direct_del() {
	local ref
	redis_start
	AUTHD_EXTRA_CONFIG=$(redis_section)
	authd_start
	auth laptop 02:00:00:58:00:01 accept ok helpdesk
	ref=$(cert_ref_of laptop-0001.corp.example)
	authctl revoke --cert "$AUTHD_PKI/laptop.pem" --reason "stolen" >/dev/null || fail "authctl revoke failed"
	wait_log "revocation mirror: 1 revoke $ref"
	[[ $(rcli DEL "test:revoked:$ref") == 1 ]] || fail "the revocation was not in Redis to delete"
	auth laptop 02:00:00:58:00:02 reject revoked helpdesk
	expect_decision 02:00:00:58:00:02 '.detail | test("stolen.*gone from Redis without an unrevoke")' \
		"the kept revocation explained in detail"
	wait_log "warning.*$ref is no longer in Redis but no unrevoke was published" 5
	auth laptop 02:00:00:58:00:03 reject revoked helpdesk
	authctl unrevoke --cert "$AUTHD_PKI/laptop.pem" >/dev/null || fail "authctl unrevoke failed"
	wait_log "revocation mirror: 2 unrevoke $ref"
	auth laptop 02:00:00:58:00:04 accept ok helpdesk
	# The unrevoke had no entry to remove in Redis, yet it changed what nodes do: audited.
	rcli LRANGE "${REDIS_PREFIX}audit" 0 0 | jq -e '.action == "unrevoke" and .reason == "not on the list in Redis"' \
		>/dev/null || fail "the unrevoke of an entry deleted behind the helpdesk's back is not audited"
}

# authd --explain is a dry run: Redis holds exactly what it held before (no cached status, no
# identity remembered), while the same check by the server writes both.
case_explain_writes_nothing() {
	local before after out
	redis_start
	AUTHD_EXTRA_CONFIG="$(redis_section) $(every_source_section)"
	AUTHD_PORT=$(free_udp_port) AUTHD_DECISIONS=$HARNESS_DIR/explain.jsonl authd_write_config "$HARNESS_DIR/explain.conf"
	authctl revoke --cert "$AUTHD_PKI/printer.pem" --reason "x" >/dev/null || fail "authctl revoke failed"
	before=$(rcli --scan | sort; rcli DBSIZE)
	out=$("$AUTHD_BIN" --explain "$AUTHD_PKI/laptop.pem" -c "$HARNESS_DIR/explain.conf" 2>&1) ||
		fail "authd --explain did not accept the laptop: $out"
	grep -q "revocation: good (ocsp)" <<<"$out" || fail "authd --explain did not ask OCSP: $out"
	after=$(rcli --scan | sort; rcli DBSIZE)
	[[ $after == "$before" ]] || fail "authd --explain changed Redis: before [$before] after [$after]"
	out=$("$AUTHD_BIN" --explain "$AUTHD_PKI/printer.pem" -c "$HARNESS_DIR/explain.conf" 2>&1) &&
		fail "authd --explain accepted the revoked printer: $out"
	grep -q "revocation: revoked (helpdesk)" <<<"$out" || fail "authd --explain: $out"
	redis_stop
	out=$("$AUTHD_BIN" --explain "$AUTHD_PKI/laptop.pem" -c "$HARNESS_DIR/explain.conf" 2>&1) &&
		fail "authd --explain accepted with the helpdesk list unreadable: $out"
	grep -q "revocation: unknown (no source answered)" <<<"$out" || fail "authd --explain: $out"
}

main() {
	local case=${1:-}
	if [[ $case == --list ]]; then
		declare -F | sed -n 's/^declare -f case_//p'
		exit 0
	fi
	declare -F "case_$case" >/dev/null || { echo "usage: helpdesk.sh CASE (helpdesk.sh --list)" >&2; exit 2; }
	[[ -x ${AUTHCTL_BIN:-} ]] || { echo "helpdesk.sh: AUTHCTL_BIN must name authctl" >&2; exit 2; }
	[[ -x ${OCSP_RESPONDER:-} ]] || { echo "helpdesk.sh: OCSP_RESPONDER must name tests/ocsp/ocsp_responder.sh" >&2; exit 2; }
	need_command redis-server redis-server
	harness_init
	harness_on_exit stop_servers
	harness_on_exit remove_helpdesk_user
	"case_$case"
}

main "$@"
