#!/usr/bin/env bash
# vlan.sh CASE — least-privilege placement end to end: the real supplicant (eapol_test), a real
# authd and a real directory (Debian's slapd, tests/ldap/slapd.sh, started for this case alone).
# Needs AUTHD_BIN and AUTHD_PKI (see lib.sh). `vlan.sh --list` prints the cases.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

SLAPD_DIR=""
WIRELESS="-N61:d:19"
ETHERNET="-N61:d:15"
SSID_CORP="-N30:s:02-00-00-00-00-01:CORP"

RULES='
    { name = "employees-wifi";  group = "employees"; nas_port_type = "Wireless-802.11";
      ssid = "CORP"; vlan = 100; session_timeout = 3600; termination_action = "RADIUS-Request"; },
    { name = "employees-wired"; group = "employees"; nas_port_type = "Ethernet"; vlan = 110; },
    { name = "printers"; group = "cn=printers,ou=groups,dc=corp,dc=example"; vlan = 200;
      filter_id = "printers-acl"; },
    { name = "contractors"; group = "contractors"; vlan = 300; }'

slapd_start() {
	SLAPD_DIR=$HARNESS_DIR/slapd
	"$HERE/../ldap/slapd.sh" start "$SLAPD_DIR" "$@" || fail "could not start slapd"
	# shellcheck source=/dev/null
	source "$SLAPD_DIR/env"
}

# On exit slapd goes too (lib.sh's trap stops authd).
stop_slapd_on_exit() {
	local rc=$?
	[[ -z $SLAPD_DIR ]] || "$HERE/../ldap/slapd.sh" stop "$SLAPD_DIR" || true
	(exit "$rc")
	harness_cleanup
}

# ldap_section [KEY = VALUE; ...]: an ldap group for the running slapd, extra settings appended.
ldap_section() {
	cat <<EOF
ldap = {
  uris = [ "$LDAP_URI" ];
  bind_dn = "$LDAP_BIND_DN";
  bind_password = "$LDAP_BIND_PASSWORD";
  base_dn = "$LDAP_BASE_DN";
  group_base_dn = "$LDAP_GROUP_BASE_DN";
  connect_timeout_ms = 1000;
  timeout_ms = 1500;
  $*
};
EOF
}

policy_section() {
	local rules=$1 extra=${2:-}
	printf 'policy = {\n  rules = ( %s\n  );\n  %s\n};\n' "$rules" "$extra"
}

start_with() {
	AUTHD_EXTRA_CONFIG=$1
	authd_start
}

# expect_vlan VLAN: the Access-Accept carried the three RFC 3580 attributes, tag 1.
expect_vlan() {
	local vlan=$1 hex
	hex=$(printf '%s' "$vlan" | od -An -tx1 | tr -d ' \n')
	grep -A1 'Attribute 64 (Tunnel-Type)' "$EAPOL_LOG" | grep -q 'Value: 0100000d' ||
		fail "no Tunnel-Type = VLAN (tag 1) in the Access-Accept"
	grep -A1 'Attribute 65 (Tunnel-Medium-Type)' "$EAPOL_LOG" | grep -q 'Value: 01000006' ||
		fail "no Tunnel-Medium-Type = IEEE-802 (tag 1) in the Access-Accept"
	grep -A1 'Attribute 81 (Tunnel-Private-Group-Id)' "$EAPOL_LOG" | grep -q "Value: 01$hex\$" ||
		fail "no Tunnel-Private-Group-Id = $vlan (tag 1, hex 01$hex) in the Access-Accept"
}

# placed DEVICE MAC VLAN RULE [eapol_test options]: accepted with keys, VLAN attributes and log.
placed() {
	local device=$1 mac=$2 vlan=$3 rule=$4
	shift 4
	eapol_config "$device" >"$HARNESS_DIR/$device.conf"
	eapol_run "$HARNESS_DIR/$device.conf" "$mac" "$@"
	expect_eapol_accept
	expect_vlan "$vlan"
	expect_decision "$mac" ".outcome == \"accept\" and .vlan == \"$vlan\" and .rule.name == \"$rule\"" \
		"accept on VLAN $vlan by rule $rule"
}

# refused DEVICE MAC REASON [eapol_test options]
refused() {
	local device=$1 mac=$2 reason=$3
	shift 3
	eapol_config "$device" >"$HARNESS_DIR/$device.conf"
	eapol_run "$HARNESS_DIR/$device.conf" "$mac" "$@"
	expect_eapol_reject
	expect_decision "$mac" ".outcome == \"reject\" and .reason == \"$reason\" and .vlan == null" \
		"reject with reason $reason"
}

case_placement() {
	slapd_start
	start_with "$(ldap_section)$(policy_section "$RULES")"
	placed laptop 02:00:00:20:00:01 100 employees-wifi $WIRELESS $SSID_CORP
	grep -A1 'Attribute 27 (Session-Timeout)' "$EAPOL_LOG" | grep -q 'Value: 3600$' ||
		fail "no Session-Timeout 3600 from rule employees-wifi"
	grep -A1 'Attribute 29 (Termination-Action)' "$EAPOL_LOG" | grep -q 'Value: 1$' ||
		fail "no Termination-Action RADIUS-Request from rule employees-wifi"
	expect_decision 02:00:00:20:00:01 \
		'any(.groups[]; . == "cn=employees,ou=groups,dc=corp,dc=example") and .dn == "cn=laptop-0001.corp.example,ou=devices,dc=corp,dc=example" and .cert_identity == "laptop-0001.corp.example" and (.directory_ms | type) == "number"' \
		"groups, dn, cert_identity and directory_ms of the laptop"
	placed laptop 02:00:00:20:00:02 110 employees-wired $ETHERNET
	placed printer 02:00:00:20:00:03 200 printers
	# eapol_test names no Filter-Id and prints no value: its length is 2 + len("printers-acl").
	grep -q 'Attribute 11 (.*) length=14' "$EAPOL_LOG" ||
		fail "no Filter-Id printers-acl for the printer"
	# Neither wired nor wireless: the laptop's other group decides.
	placed laptop 02:00:00:20:00:04 300 contractors
	refused kiosk 02:00:00:20:00:05 no_matching_rule
}

case_rule_order() {
	slapd_start
	start_with "$(ldap_section)$(policy_section '
    { name = "contractors"; group = "contractors"; vlan = 300; },
    { name = "employees"; group = "employees"; vlan = 110; }')"
	placed laptop 02:00:00:21:00:01 300 contractors $ETHERNET
}

case_ldap_injection() {
	local i=0 device
	slapd_start
	start_with "$(ldap_section)$(policy_section "$RULES")"
	for device in inj-star inj-or inj-suffix inj-backslash; do
		i=$((i + 1))
		refused "$device" "02:00:00:22:00:0$i" unknown_device $ETHERNET
	done
}

case_identity_binding() {
	slapd_start
	start_with "identity = { match_eap_identity = true; };
$(ldap_section)$(policy_section "$RULES")"
	placed laptop 02:00:00:23:00:01 110 employees-wired $ETHERNET
	EAPOL_IDENTITY=host/laptop-0001.corp.example eapol_config laptop >"$HARNESS_DIR/host.conf"
	eapol_run "$HARNESS_DIR/host.conf" 02:00:00:23:00:02 $ETHERNET
	expect_eapol_accept
	EAPOL_IDENTITY=printer-0042.corp.example eapol_config laptop >"$HARNESS_DIR/other.conf"
	eapol_run "$HARNESS_DIR/other.conf" 02:00:00:23:00:03 $ETHERNET
	expect_eapol_reject
	expect_decision 02:00:00:23:00:03 '.reason == "identity_mismatch"' "reason identity_mismatch"
}

case_nested_groups() {
	local rules='{ name = "everyone"; group = "all-devices"; vlan = 400; }'
	slapd_start
	start_with "$(ldap_section 'nested_depth = 2;')$(policy_section "$rules")"
	placed laptop 02:00:00:24:00:01 400 everyone
	authd_stop
	start_with "$(ldap_section 'nested_depth = 1;')$(policy_section "$rules")"
	refused laptop 02:00:00:24:00:02 no_matching_rule
}

case_group_search() {
	slapd_start
	start_with "$(ldap_section 'groups = "search";')$(policy_section "$RULES")"
	placed laptop 02:00:00:25:00:01 110 employees-wired $ETHERNET
	placed printer 02:00:00:25:00:02 200 printers
}

case_outage() {
	slapd_start
	start_with "$(ldap_section)$(policy_section "$RULES")"
	placed laptop 02:00:00:26:00:01 110 employees-wired $ETHERNET
	"$HERE/../ldap/slapd.sh" stop "$SLAPD_DIR"
	refused laptop 02:00:00:26:00:02 directory_unavailable $ETHERNET
	"$HERE/../ldap/slapd.sh" restart "$SLAPD_DIR" || fail "could not restart slapd"
	placed laptop 02:00:00:26:00:03 110 employees-wired $ETHERNET
	authd_stop
	start_with "$(ldap_section)$(policy_section "$RULES" 'directory_unavailable = "quarantine"; quarantine_vlan = 999;')"
	"$HERE/../ldap/slapd.sh" stop "$SLAPD_DIR"
	eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:26:00:04 $ETHERNET
	expect_eapol_accept
	expect_vlan 999
	expect_decision 02:00:00:26:00:04 '.reason == "quarantine" and .vlan == "999" and (.detail | startswith("directory_unavailable"))' \
		"quarantine on VLAN 999 because the directory is unavailable"
}

case_outage_cache() {
	slapd_start
	start_with "$(ldap_section 'cache_ttl = 60;')$(policy_section "$RULES")"
	placed laptop 02:00:00:2b:00:01 110 employees-wired $ETHERNET
	expect_decision 02:00:00:2b:00:01 '.directory_cached == false' "a fresh lookup"
	"$HERE/../ldap/slapd.sh" stop "$SLAPD_DIR"
	# The directory is down: the laptop's groups from a minute ago still place it, marked so.
	placed laptop 02:00:00:2b:00:02 110 employees-wired $ETHERNET
	expect_decision 02:00:00:2b:00:02 '.directory_cached == true' "groups served from the outage cache"
	# A device the cache never saw fails closed.
	refused printer 02:00:00:2b:00:03 directory_unavailable
}

case_frozen_directory() {
	local i pids=() start elapsed pid
	slapd_start
	start_with "$(ldap_section)$(policy_section "$RULES")"
	placed laptop 02:00:00:27:00:01 110 employees-wired $ETHERNET
	pid=$(cat "$SLAPD_DIR/slapd.pid")
	kill -STOP "$pid"
	start=$SECONDS
	for i in 1 2 3 4; do
		(eapol_run "$HARNESS_DIR/laptop.conf" "02:00:00:27:01:0$i" $ETHERNET -t 20) &
		pids+=($!)
	done
	# While four placements wait on the frozen directory, the server still answers.
	"$PROBE" "$AUTHD_PORT" "${AUTHD_SECRET:-testing123}" status-server >"$HARNESS_DIR/probe.log" 2>&1 ||
		{ kill -CONT "$pid"; fail "Status-Server went unanswered while the directory was frozen: $(cat "$HARNESS_DIR/probe.log")"; }
	wait "${pids[@]}" || true
	elapsed=$((SECONDS - start))
	kill -CONT "$pid"
	for i in 1 2 3 4; do
		expect_decision "02:00:00:27:01:0$i" '.reason == "directory_unavailable"' "directory_unavailable while frozen"
	done
	# Lookups run in parallel, each bounded by the 1.5 s timeout (and one reconnect).
	((elapsed <= 8)) || fail "four placements took ${elapsed} s with a frozen directory, expected well under 4x the timeout"
	placed laptop 02:00:00:27:00:02 110 employees-wired $ETHERNET
}

case_starttls() {
	slapd_start --tls "$AUTHD_PKI"
	start_with "$(ldap_section "start_tls = true; ca = \"$LDAP_CA\";")$(policy_section "$RULES")"
	placed laptop 02:00:00:28:00:01 110 employees-wired $ETHERNET
}

case_ldaps() {
	slapd_start --tls "$AUTHD_PKI"
	LDAP_URI=$LDAPS_URI
	start_with "$(ldap_section "ca = \"$LDAP_CA\";")$(policy_section "$RULES")"
	placed laptop 02:00:00:29:00:01 110 employees-wired $ETHERNET
	authd_stop
	# A directory whose certificate is not from the configured CA is no directory.
	start_with "$(ldap_section "ca = \"$AUTHD_PKI/rogue-ca.pem\";")$(policy_section "$RULES")"
	refused laptop 02:00:00:29:00:02 directory_unavailable $ETHERNET
}

case_static_map() {
	start_with 'groups = ( { identity = "laptop-*.corp.example"; groups = [ "employees" ]; } );
'"$(policy_section "$RULES")"
	placed laptop 02:00:00:2a:00:01 110 employees-wired $ETHERNET
	refused printer 02:00:00:2a:00:02 unknown_device
}

case_explain() {
	local out rc=0
	slapd_start
	AUTHD_PORT=1812 AUTHD_DECISIONS=$HARNESS_DIR/d.jsonl AUTHD_EXTRA_CONFIG="$(ldap_section)$(policy_section "$RULES")" \
		authd_write_config "$HARNESS_DIR/explain.conf"
	out=$("$AUTHD_BIN" --explain "$AUTHD_PKI/laptop.pem" --nas-port-type Wireless-802.11 --ssid CORP \
		-c "$HARNESS_DIR/explain.conf") || fail "--explain of the laptop exited $?: $out"
	for line in "identity: laptop-0001.corp.example" \
		"directory: cn=laptop-0001.corp.example,ou=devices,dc=corp,dc=example" \
		"rule: #0 employees-wifi" "result: accept, VLAN 100"; do
		grep -qF "$line" <<<"$out" || fail "--explain printed no '$line':
$out"
	done
	grep -q '^groups: .*cn=employees,ou=groups' <<<"$out" || fail "--explain listed no groups: $out"
	out=$("$AUTHD_BIN" --explain "$AUTHD_PKI/kiosk.pem" -c "$HARNESS_DIR/explain.conf") || rc=$?
	((rc == 3)) || fail "--explain of the kiosk exited $rc, expected 3 (reject)"
	grep -q '^result: reject (no_matching_rule)' <<<"$out" || fail "--explain of the kiosk: $out"
}

main() {
	local case=${1:-}
	if [[ $case == --list ]]; then
		declare -F | sed -n 's/^declare -f case_//p'
		exit 0
	fi
	declare -F "case_$case" >/dev/null || { echo "usage: vlan.sh CASE (vlan.sh --list)" >&2; exit 2; }
	PROBE=${AUTHD_PROBE:-}
	harness_init
	trap stop_slapd_on_exit EXIT
	"case_$case"
}

main "$@"
