#!/usr/bin/env bash
# tools/demo.sh — see authd work end to end on a fresh Debian 12 machine (run as root, or with sudo
# available). Installs the packages, builds into build/, makes a throwaway PKI, directory (slapd
# with sample devices and groups, tests/ldap/fixture.ldif) and config in demo/, starts authd on
# 127.0.0.1 and authenticates devices with the real 802.1X supplicant (eapol_test): an employee
# laptop on the corporate Wi-Fi and wired VLANs, a printer on the printer VLAN, a kiosk that is
# in no group and a device the directory does not know (both rejected), an expired certificate
# and one from an unknown CA (rejected), a certificate its CA revoked (rejected: the CA's OCSP
# responder, `openssl ocsp`, says so). Then the helpdesk revokes the laptop with authctl while it
# is on the network (a throwaway Redis holds the list and the live sessions, with the users of
# authd/redis-users.acl: authd and authctl each log in as its own user, and authctl reads its own
# config, demo/authctl.conf, not authd's): authctl sends the
# switch (test_nas, standing in for its RFC 5176 port) a Disconnect-Request for the laptop's
# session, the laptop's next attempt is rejected; it is unrevoked and accepted again. Prints a
# verdict, the VLAN the switch was told, and the logged JSON decision for each, then a few lines
# of authd's Prometheus metrics (/metrics), and stops everything it started. Exits 0 only if every
# outcome was the expected one and the metrics were served.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO=$ROOT/demo
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
# shellcheck source=tests/integration/redis_lib.sh
source "$ROOT/tests/integration/redis_lib.sh"

step() { printf '\n==> %s\n' "$*"; }

# quietly LOG COMMAND...: run COMMAND with its output in LOG; on failure show the tail and stop.
quietly() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 || {
		tail -n 40 "$log" >&2
		echo "demo: failed: $* (full output in ${log#"$ROOT"/})" >&2
		exit 1
	}
}

build() {
	step "installing packages (tools/install-deps.sh)"
	"$ROOT/tools/install-deps.sh"
	step "building into build/"
	mkdir -p "$DEMO"
	quietly "$DEMO/build.log" cmake -S "$ROOT" -B "$ROOT/build"
	quietly "$DEMO/build.log" cmake --build "$ROOT/build" -j"$(nproc)"
	AUTHD_BIN=$ROOT/build/authd/authd
	AUTHCTL_BIN=$ROOT/build/authd/authctl
	[[ -x $AUTHD_BIN ]] || { echo "demo: the build produced no $AUTHD_BIN" >&2; exit 1; }
}

# nas_vlan: the VLAN (Tunnel-Private-Group-Id, tag byte dropped) of the last Access-Accept the
# supplicant's side received, as the switch would apply it; empty if none.
nas_vlan() {
	local hex i c vlan=""
	hex=$(grep -A1 'Attribute 81 (Tunnel-Private-Group-Id)' "$EAPOL_LOG" | sed -n 's/^ *Value: 01//p' | tail -n 1)
	for ((i = 0; i < ${#hex}; i += 2)); do
		printf -v c '%b' "\\x${hex:i:2}"
		vlan+=$c
	done
	printf '%s' "$vlan"
}

# authenticate DEVICE MAC EXPECTED [eapol_test options]: one authentication, one verdict line,
# the JSON decision. EXPECTED is "accept VLAN" or "reject REASON". Returns 1 if the supplicant's
# result, the decision or the VLAN was not the expected one.
authenticate() {
	local device=$1 mac=$2 expected=$3 decision outcome reason subject vlan got mark
	shift 3
	eapol_config "$device" >"$HARNESS_DIR/$device.supplicant.conf"
	eapol_run "$HARNESS_DIR/$device.supplicant.conf" "$mac" "$@"
	decision=$(decision_for "$mac")
	outcome=$(jq -r .outcome <<<"$decision")
	reason=$(jq -r .reason <<<"$decision")
	subject=$(jq -r '.subject // "(no certificate)"' <<<"$decision")
	vlan=$(nas_vlan)
	if [[ $outcome == accept ]]; then
		got="accept $vlan"
		((EAPOL_RC == 0)) || got="$got (but the supplicant failed: exit status $EAPOL_RC)"
		printf -v outcome 'ACCEPT on VLAN %s (rule %s)' "${vlan:-none}" "$(jq -r '.rule.name // "none"' <<<"$decision")"
	else
		got="reject $reason"
		((EAPOL_RC != 0)) || got="$got (but the supplicant succeeded)"
		outcome="REJECT, reason $reason"
	fi
	if [[ $got == "$expected" ]]; then
		mark="as expected"
	else
		mark="UNEXPECTED: wanted $expected"
	fi
	printf '\n%-8s %s: %s — %s\n' "$device" "$subject" "$outcome" "$mark"
	jq -c . <<<"$decision" | sed 's/^/         /'
	[[ $mark == "as expected" ]]
}

# The demo directory goes when the demo ends, whatever happens.
stop_directory() {
	"$ROOT/tests/ldap/slapd.sh" stop "$DEMO/slapd"
}

placement_config() {
	# shellcheck source=/dev/null
	source "$DEMO/slapd/env"
	cat <<EOF
ldap = {
  uris = [ "$LDAP_URI" ];
  allow_cleartext_bind = true;   # the demo directory is on loopback
  bind_dn = "$LDAP_BIND_DN";
  bind_password = "$LDAP_BIND_PASSWORD";
  base_dn = "$LDAP_BASE_DN";
  group_base_dn = "$LDAP_GROUP_BASE_DN";
};
policy = {
  rules = (
    { name = "employees-wifi";  group = "employees"; nas_port_type = "Wireless-802.11"; ssid = "CORP"; vlan = 100; },
    { name = "employees-wired"; group = "employees"; nas_port_type = "Ethernet"; vlan = 110; },
    { name = "printers";        group = "printers"; vlan = 200; filter_id = "printers-acl"; }
  );
  default = "reject";
};
EOF
}

# The Device CA's OCSP responder, in demo/ocsp.
stop_ocsp() { "$ROOT/tests/ocsp/ocsp_responder.sh" stop "$DEMO/ocsp"; }

# The switch's dynamic authorization port (RFC 5176): test_nas acknowledges every
# Disconnect-Request and logs it in demo/nas/requests.log.
NAS_PID=""
NAS_BIN=$ROOT/build/tests/nas/test_nas
start_nas() {
	mkdir -p "$DEMO/nas"
	rm -f "$DEMO/nas/port" "$DEMO/nas/requests.log"
	"$NAS_BIN" listen --port-file "$DEMO/nas/port" --secret "$AUTHD_SECRET" --mode ack \
		--log "$DEMO/nas/requests.log" >"$DEMO/nas/nas.log" 2>&1 &
	NAS_PID=$!
	NAS_PORT=$(wait_port_file "$DEMO/nas/port" "$NAS_PID" "$DEMO/nas/nas.log")
}

stop_nas() {
	[[ -z $NAS_PID ]] || { kill "$NAS_PID"; wait "$NAS_PID" || true; }
}

# account_start MAC SESSION: the switch reports the session of the device at MAC (RFC 2866).
account_start() {
	"$NAS_BIN" account --server "127.0.0.1:$AUTHD_ACCT_PORT" --secret "$AUTHD_SECRET" --status start \
		"Calling-Station-Id=${1//:/-}" "Acct-Session-Id=$2" NAS-IP-Address=127.0.0.1 >/dev/null ||
		{ echo "demo: authd did not answer the Accounting-Start" >&2; exit 1; }
}

# The decisions, placements, revocation checks, backends and certificates so far, as Prometheus
# scrapes them; fails when the endpoint does not answer or its decisions do not add up to the
# decision log's lines.
show_metrics() {
	local text counted logged
	text=$(curl -sf "http://127.0.0.1:$METRICS_PORT/metrics") || {
		echo "         UNEXPECTED: the metrics endpoint did not answer"
		return 1
	}
	grep -E '^authd_(decisions_total|placements_total|revocation_checks_total|authentication_duration_seconds_(sum|count)|conversations_in_flight|backend_up|device_certificates_(seen|expiring)|config_generation)' \
		<<<"$text" | sed 's/^/         /'
	counted=$(awk '/^authd_decisions_total/ { n += $2 } END { print n + 0 }' <<<"$text")
	logged=$(wc -l <"$AUTHD_DECISIONS")
	echo "         authd_decisions_total adds up to $counted; the decision log has $logged lines"
	((counted == logged)) || { echo "         UNEXPECTED: they differ"; return 1; }
}

main() {
	local failures=0
	build

	step "making a throwaway PKI in demo/pki (tests/pki/make-pki.sh)"
	"$ROOT/tests/pki/make-pki.sh" "$DEMO/pki"
	export AUTHD_BIN AUTHD_PKI=$DEMO/pki

	harness_init "$DEMO"
	harness_on_exit stop_directory
	step "starting a throwaway directory (slapd) with sample devices and groups in demo/slapd"
	"$ROOT/tests/ldap/slapd.sh" stop "$DEMO/slapd"
	rm -rf "$DEMO/slapd"
	"$ROOT/tests/ldap/slapd.sh" start "$DEMO/slapd"
	step "starting a throwaway Redis for the helpdesk's list and the live sessions (demo/redis.log),"
	echo "     with the users of authd/redis-users.acl (demo/users.acl: authd, authctl, an admin)"
	harness_on_exit redis_stop
	redis_use_acl
	redis_start
	step "starting the Device CA's OCSP responder (openssl ocsp) in demo/ocsp"
	harness_on_exit stop_ocsp
	OCSP_PORT=$("$ROOT/tests/ocsp/ocsp_responder.sh" start "$DEMO/ocsp" "$AUTHD_PKI")
	step "starting the switch's dynamic authorization port (test_nas) in demo/nas"
	harness_on_exit stop_nas
	start_nas
	AUTHD_ACCT_PORT=$(free_udp_port)
	METRICS_PORT=$(free_port tcp)
	AUTHD_CLIENT_EXTRA="coa_port = $NAS_PORT;"
	AUTHD_EXTRA_CONFIG="$(placement_config)
$(NODE_KEY=$DEMO/node.key redis_section)
revocation = { ocsp = { url = \"http://127.0.0.1:$OCSP_PORT/\"; }; };
metrics = { listen = \"127.0.0.1:$METRICS_PORT\"; };" AUTHD_LOG_LEVEL=info authd_start
	step "authd is running: pid $AUTHD_PID, 127.0.0.1:$AUTHD_PORT (accounting $AUTHD_ACCT_PORT), config demo/authd.conf,"
	echo "     metrics on http://127.0.0.1:$METRICS_PORT/metrics"

	step "authenticating devices with eapol_test (Wi-Fi: NAS-Port-Type 19 and SSID CORP; wired: 15)"
	local wifi=(-N61:d:19 -N30:s:02-00-00-de-00-ff:CORP) wired=(-N61:d:15)
	authenticate laptop 02:00:00:de:00:01 "accept 100" "${wifi[@]}" || failures=$((failures + 1))
	authenticate laptop 02:00:00:de:00:02 "accept 110" "${wired[@]}" || failures=$((failures + 1))
	authenticate printer 02:00:00:de:00:03 "accept 200" "${wired[@]}" || failures=$((failures + 1))
	authenticate kiosk 02:00:00:de:00:04 "reject no_matching_rule" "${wired[@]}" || failures=$((failures + 1))
	authenticate stranger 02:00:00:de:00:05 "reject unknown_device" "${wired[@]}" || failures=$((failures + 1))
	authenticate expired 02:00:00:de:00:06 "reject cert_expired" "${wired[@]}" || failures=$((failures + 1))
	authenticate rogue 02:00:00:de:00:07 "reject unknown_ca" "${wired[@]}" || failures=$((failures + 1))
	authenticate revoked 02:00:00:de:00:0a "reject revoked" "${wired[@]}" || failures=$((failures + 1))

	step "the switch reports the wired laptop's session (Accounting-Start, session DEMO-0002)"
	account_start 02:00:00:de:00:02 DEMO-0002
	step "the helpdesk revokes the laptop (authctl revoke): its live session is disconnected at once"
	authctl_cmd revoke --cert "$AUTHD_PKI/laptop.pem" --reason "reported stolen (demo)" | sed 's/^/         /'
	echo "         the switch received: $(grep -m1 'Acct-Session-Id=DEMO-0002' "$DEMO/nas/requests.log" |
		tr ' ' '\n' | grep -E '^(code|authenticator|message_authenticator|User-Name|Acct-Session-Id|Calling-Station-Id)=' |
		tr '\n' ' ')"
	grep -q '^code=40 .*Acct-Session-Id=DEMO-0002' "$DEMO/nas/requests.log" || {
		echo "         UNEXPECTED: no Disconnect-Request for session DEMO-0002 reached the switch"
		failures=$((failures + 1))
	}
	authenticate laptop 02:00:00:de:00:08 "reject revoked" "${wired[@]}" || failures=$((failures + 1))
	step "the helpdesk takes it back (authctl unrevoke)"
	authctl_cmd unrevoke --cert "$AUTHD_PKI/laptop.pem" | sed 's/^/         /'
	authenticate laptop 02:00:00:de:00:09 "accept 110" "${wired[@]}" || failures=$((failures + 1))

	step "what authd's metrics say now (curl http://127.0.0.1:$METRICS_PORT/metrics, a few families)"
	show_metrics || failures=$((failures + 1))

	step "stopping authd, the directory, Redis, the OCSP responder and the switch"
	authd_stop
	cat <<EOF
Files: demo/authd.conf (config), demo/authctl.conf (the helpdesk's), demo/decisions.jsonl (decision
       log), demo/authd.log (authd's log), demo/users.acl (Redis users).
Run it again by hand:  tests/ldap/slapd.sh restart demo/slapd
                       redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --aclfile demo/users.acl &
                       tests/ocsp/ocsp_responder.sh start demo/ocsp demo/pki  (prints its new port:
                         put it in revocation.ocsp.url of demo/authd.conf)
                       build/authd/authd -c demo/authd.conf
Ask what a device would get:  build/authd/authd --explain demo/pki/printer.pem -c demo/authd.conf
The helpdesk's view:          build/authd/authctl -c demo/authctl.conf audit
EOF
	if ((failures > 0)); then
		echo "demo: $failures of 12 checks (11 outcomes, the metrics) were not as expected" >&2
		exit 1
	fi
	echo "demo: all 11 outcomes as expected, and the metrics count them"
}

main "$@"
