#!/usr/bin/env bash
# vlan.sh CASE — least-privilege placement end to end: the real supplicant (eapol_test), a real
# authd and a real directory (Debian's slapd, tests/ldap/slapd.sh, started for this case alone).
# Needs AUTHD_BIN and AUTHD_PKI (see lib.sh); frozen_directory also AUTHD_PROBE (radius_probe).
# `vlan.sh --list` prints the cases.
#
# What eapol_test 2.10 sends and prints, which these checks rely on:
#  - by itself every Access-Request carries NAS-Port-Type = 19 (Wireless-802.11) and no
#    Called-Station-Id; `-N61:d:15` replaces its NAS-Port-Type (one attribute, not two) and
#    `-N30:s:MAC:SSID` adds the Called-Station-Id (case placement checks both);
#  - it prints each received attribute as "Attribute N (Name) length=L" and "Value: ..." (hex
#    for the tagged Tunnel-* attributes: tag byte first), except for attributes it has no name
#    for (Filter-Id), which it prints without a value, so only their length can be checked.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"

SLAPD_SH=$HERE/../ldap/slapd.sh
SLAPD_DIR=""
BACKGROUND_PIDS=() # supplicants run in the background, ended on exit if still there
WIRELESS=-N61:d:19
ETHERNET=-N61:d:15
SSID_CORP=-N30:s:02-00-00-00-00-01:CORP
SSID_GUEST=-N30:s:02-00-00-00-00-01:GUEST
GROUPS_DN=ou=groups,dc=corp,dc=example
LAPTOP_DN=cn=laptop-0001.corp.example,ou=devices,dc=corp,dc=example
LDAP_TIMEOUT_MS=1500
TLS13_ONLY="phase1=tls_disable_tlsv1_0=1 tls_disable_tlsv1_1=1 tls_disable_tlsv1_2=1 tls_disable_tlsv1_3=0"

# Rule indexes (0-based, config order): 0 employees-wifi, 1 employees-wired, 2 printers,
# 3 contractors. The laptop is in employees and contractors: contractors comes last here.
RULES='
    { name = "employees-wifi";  group = "employees"; nas_port_type = "Wireless-802.11";
      ssid = "CORP"; vlan = 100; session_timeout = 3600; termination_action = "RADIUS-Request"; },
    { name = "employees-wired"; group = "employees"; nas_port_type = "Ethernet"; vlan = 110; },
    { name = "printers"; group = "cn=printers,ou=groups,dc=corp,dc=example"; vlan = 200;
      filter_id = "printers-acl"; class = "corp"; },
    { name = "contractors"; group = "contractors"; vlan = 300; }'

now_ms() { date +%s%3N; }

# ---------------------------------------------------------------- the directory and authd

slapd_start() {
	SLAPD_DIR=$HARNESS_DIR/slapd
	"$SLAPD_SH" start "$SLAPD_DIR" "$@" || fail "could not start slapd (tests/ldap/slapd.sh start)"
	# shellcheck source=/dev/null
	source "$SLAPD_DIR/env"
}

slapd_stop() { "$SLAPD_SH" stop "$SLAPD_DIR" || fail "could not stop slapd"; }

# Same ports, same data: what a directory restart looks like to authd.
slapd_restart() {
	local uri=$LDAP_URI
	"$SLAPD_SH" restart "$SLAPD_DIR" || fail "could not restart slapd on its ports ($uri)"
	# shellcheck source=/dev/null
	source "$SLAPD_DIR/env"
	[[ $LDAP_URI == "$uri" ]] || fail "slapd came back on $LDAP_URI, expected the same address $uri"
}

slapd_pid() {
	[[ -s $SLAPD_DIR/slapd.pid ]] || fail "slapd wrote no pid file in $SLAPD_DIR"
	cat "$SLAPD_DIR/slapd.pid"
}

# At exit (harness_on_exit) background supplicants and slapd go too, even a frozen slapd
# (slapd.sh stop sends SIGCONT first); lib.sh then stops authd and requires its clean exit.
stop_servers() {
	local pid
	for pid in "${BACKGROUND_PIDS[@]}"; do
		pkill -TERM -P "$pid" 2>/dev/null || true
		kill -TERM "$pid" 2>/dev/null || true
	done
	[[ -z $SLAPD_DIR ]] || "$SLAPD_SH" stop "$SLAPD_DIR"
}

# ldap_section [SETTINGS]: an ldap group for the running slapd (bind as cn=authd, memberof),
# SETTINGS appended inside it. The bind over plain ldap:// stays on loopback, so the cases
# without StartTLS say allow_cleartext_bind.
ldap_section() {
	cat <<EOF
ldap = {
  uris = [ "$LDAP_URI" ];
  allow_cleartext_bind = true;
  bind_dn = "$LDAP_BIND_DN";
  bind_password = "$LDAP_BIND_PASSWORD";
  base_dn = "$LDAP_BASE_DN";
  group_base_dn = "$LDAP_GROUP_BASE_DN";
  connect_timeout_ms = 1000;
  timeout_ms = $LDAP_TIMEOUT_MS;
  $*
};
EOF
}

# policy_section RULES [SETTINGS]
policy_section() {
	local rules=$1 extra=${2:-}
	printf 'policy = {\n  rules = ( %s\n  );\n  %s\n};\n' "$rules" "$extra"
}

# start_with CONFIG: a fresh authd with CONFIG (identity, ldap, groups, policy sections).
start_with() {
	AUTHD_EXTRA_CONFIG=$1
	authd_start
}

restart_with() {
	authd_stop
	start_with "$1"
}

expect_authd_running() {
	if [[ -z $AUTHD_PID ]] || ! kill -0 "$AUTHD_PID" 2>/dev/null; then
		fail "authd (pid ${AUTHD_PID:-none}) is no longer running, expected it to ride out the directory outage"
	fi
}

# ---------------------------------------------------------------- what the supplicant saw

# radius_block CODE_NAME first|last: that Access-Request/-Accept/-Reject as eapol_test printed it
# (header line and attribute lines).
radius_block() {
	local code=$1 which=$2
	awk -v code="$code" -v which="$which" '
		index($0, "RADIUS message: code=") == 1 { inside = (index($0, "(" code ")") > 0)
			if (inside) { n++; if (which == "last" || n == 1) block = "" } }
		inside && (index($0, "RADIUS message: code=") == 1 || /^   Attribute / || /^      Value: /) {
			if (which == "last" || n == 1) block = block $0 "\n"; next }
		{ inside = 0 }
		END { printf "%s", block }' "$EAPOL_LOG"
}

# attr_values BLOCK NUMBER: the printed values of attribute NUMBER in BLOCK, one per line.
attr_values() {
	awk -v want="   Attribute $2 (" 'index($0, want) == 1 { grab = 1; next }
		grab && /^      Value: / { sub(/^      Value: /, ""); print } { grab = 0 }' <<<"$1"
}

# expect_sent NUMBER NAME VALUE: the first Access-Request carried attribute NUMBER exactly once,
# with VALUE (as eapol_test prints it).
expect_sent() {
	local number=$1 name=$2 value=$3 request values
	request=$(radius_block Access-Request first)
	values=$(attr_values "$request" "$number")
	[[ $values == "$value" ]] ||
		fail "expected the Access-Request to carry one $name = $value, it carried: '${values//$'\n'/, }'
$request"
}

# expect_reply_attr NUMBER NAME VALUE: the Access-Accept carried attribute NUMBER once, with VALUE.
expect_reply_attr() {
	local number=$1 name=$2 value=$3 accept values
	accept=$(radius_block Access-Accept last)
	values=$(attr_values "$accept" "$number")
	[[ $values == "$value" ]] ||
		fail "expected the Access-Accept to carry one $name = $value, it carried: '${values//$'\n'/, }'
$accept"
}

# expect_no_reply_attr CODE_NAME NUMBER NAME: the last CODE_NAME message had no attribute NUMBER.
expect_no_reply_attr() {
	local code=$1 number=$2 name=$3 block
	block=$(radius_block "$code" last)
	if grep -q "^   Attribute $number (" <<<"$block"; then
		fail "expected no $name in the $code, saw:
$block"
	fi
}

# expect_vlan VLAN: the Access-Accept carried the RFC 3580 attributes, each once with tag 1:
# Tunnel-Type = VLAN (13), Tunnel-Medium-Type = IEEE-802 (6), Tunnel-Private-Group-Id = VLAN.
expect_vlan() {
	local vlan=$1 hex
	hex=$(printf '%s' "$vlan" | od -An -tx1 | tr -d ' \n')
	expect_reply_attr 64 "Tunnel-Type (tag 1, VLAN)" 0100000d
	expect_reply_attr 65 "Tunnel-Medium-Type (tag 1, IEEE-802)" 01000006
	expect_reply_attr 81 "Tunnel-Private-Group-Id (tag 1, \"$vlan\")" "01$hex"
}

# expect_filter_id TEXT: a Filter-Id as long as TEXT (eapol_test does not print its value).
expect_filter_id() {
	local text=$1 accept lengths
	accept=$(radius_block Access-Accept last)
	lengths=$(sed -n 's/^   Attribute 11 (.*) length=\([0-9]*\)$/\1/p' <<<"$accept")
	[[ $lengths == "$((${#text} + 2))" ]] ||
		fail "expected one Filter-Id \"$text\" (attribute 11, length $((${#text} + 2))) in the Access-Accept, saw lengths '${lengths//$'\n'/, }'
$accept"
}

# ---------------------------------------------------------------- what authd logged

# expect_groups MAC GROUP...: the decision's groups include each GROUP (a DN or a name).
expect_groups() {
	local mac=$1 group
	shift
	for group in "$@"; do
		expect_decision "$mac" "(.groups | type) == \"array\" and any(.groups[]; ascii_downcase == \"${group,,}\")" \
			"groups including \"$group\""
	done
}

# expect_not_in_groups MAC GROUP...
expect_not_in_groups() {
	local mac=$1 group
	shift
	for group in "$@"; do
		expect_decision "$mac" "all(.groups[]; ascii_downcase != \"${group,,}\")" "groups without \"$group\""
	done
}

# decision_groups MAC: the decision's groups, lower case, sorted, one line.
decision_groups() {
	decision_for "$1" | jq -r '.groups | map(ascii_downcase) | sort | join(" ")'
}

# ---------------------------------------------------------------- one authentication

# authenticate DEVICE MAC [eapol_test options]: one run of the supplicant (EAPOL_IDENTITY
# overrides the EAP identity, EAPOL_PHASE1="phase1=..." the TLS versions it offers).
authenticate() {
	local device=$1 mac=$2 conf
	shift 2
	conf=$HARNESS_DIR/supplicant-$(mac_key "$mac").conf
	eapol_config "$device" ${EAPOL_PHASE1:+"$EAPOL_PHASE1"} >"$conf"
	eapol_run "$conf" "$mac" "$@"
}

# placed DEVICE MAC VLAN RULE_INDEX RULE_NAME [eapol_test options]: accepted with MPPE keys,
# the VLAN attributes, and a decision naming the VLAN, the rule and the directory's answer.
placed() {
	local device=$1 mac=$2 vlan=$3 index=$4 rule=$5
	shift 5
	authenticate "$device" "$mac" "$@"
	expect_eapol_accept
	expect_vlan "$vlan"
	expect_decision "$mac" ".outcome == \"accept\" and .reason == \"ok\"" "outcome accept, reason ok"
	expect_decision "$mac" ".vlan == \"$vlan\"" "vlan \"$vlan\""
	expect_decision "$mac" ".rule == {\"index\": $index, \"name\": \"$rule\"}" \
		"rule {\"index\": $index, \"name\": \"$rule\"}"
	expect_decision "$mac" '(.groups | type) == "array" and (.groups | length) > 0' "a non-empty groups array"
	expect_decision "$mac" '(.directory_ms | type) == "number" and (.directory_cached | type) == "boolean"' \
		"numeric directory_ms and boolean directory_cached"
}

# refused DEVICE MAC REASON [eapol_test options]: Access-Reject with EAP-Failure, no VLAN in it,
# and a decision with that reason, no rule and no VLAN.
refused() {
	local device=$1 mac=$2 reason=$3
	shift 3
	authenticate "$device" "$mac" "$@"
	expect_eapol_reject
	expect_no_reply_attr Access-Reject 81 Tunnel-Private-Group-Id
	expect_decision "$mac" ".outcome == \"reject\" and .reason == \"$reason\"" "outcome reject, reason $reason"
	expect_decision "$mac" '.vlan == null and .rule == null' "vlan null and rule null"
}

# unknown DEVICE MAC [eapol_test options]: refused as unknown_device: no entry, no groups.
unknown() {
	local device=$1 mac=$2
	shift 2
	refused "$device" "$mac" unknown_device "$@"
	expect_decision "$mac" '.dn == null and .groups == []' "dn null and no groups (no directory entry)"
}

# quarantined DEVICE MAC WHY [eapol_test options]: accepted on VLAN 999 by a fallback.
quarantined() {
	local device=$1 mac=$2 why=$3
	shift 3
	authenticate "$device" "$mac" "$@"
	expect_eapol_accept
	expect_vlan 999
	expect_decision "$mac" '.outcome == "accept" and .reason == "quarantine" and .vlan == "999" and .rule == null' \
		"accept, reason quarantine, vlan \"999\", no rule"
	expect_decision "$mac" "(.detail // \"\") | contains(\"$why\")" "detail naming $why"
}

# ---------------------------------------------------------------- cases

# The four rules, the RFC 3580 attributes, rule extras, the decision fields, and the two
# rejections a healthy directory gives (known but no rule; not there at all).
case_placement() {
	slapd_start
	start_with "$(ldap_section)$(policy_section "$RULES")"

	placed laptop 02:00:00:20:00:01 100 0 employees-wifi $WIRELESS $SSID_CORP
	expect_sent 61 NAS-Port-Type 19
	expect_sent 30 Called-Station-Id "'02-00-00-00-00-01:CORP'"
	expect_reply_attr 27 Session-Timeout 3600
	expect_reply_attr 29 "Termination-Action (RADIUS-Request)" 1
	expect_no_reply_attr Access-Accept 11 Filter-Id
	expect_decision 02:00:00:20:00:01 ".dn == \"$LAPTOP_DN\"" "dn $LAPTOP_DN"
	expect_decision 02:00:00:20:00:01 '.cert_identity == "laptop-0001.corp.example"' \
		"cert_identity laptop-0001.corp.example"
	expect_decision 02:00:00:20:00:01 '.directory_cached == false' "directory_cached false"
	expect_groups 02:00:00:20:00:01 "cn=employees,$GROUPS_DN" "cn=contractors,$GROUPS_DN"

	placed laptop 02:00:00:20:00:02 110 1 employees-wired $ETHERNET
	expect_sent 61 "NAS-Port-Type (-N replaces eapol_test's own)" 15
	expect_no_reply_attr Access-Accept 27 Session-Timeout

	# Wireless but another SSID: neither employees rule, so the laptop's other group decides.
	placed laptop 02:00:00:20:00:03 300 3 contractors $WIRELESS $SSID_GUEST

	placed printer 02:00:00:20:00:04 200 2 printers $ETHERNET
	expect_filter_id printers-acl
	expect_reply_attr 25 "Class (\"corp\")" 636f7270
	expect_groups 02:00:00:20:00:04 "cn=printers,$GROUPS_DN"

	refused kiosk 02:00:00:20:00:05 no_matching_rule $ETHERNET
	expect_decision 02:00:00:20:00:05 '.dn == "cn=kiosk-0007.corp.example,ou=devices,dc=corp,dc=example" and .groups == []' \
		"the kiosk's dn and no groups"
	unknown stranger 02:00:00:20:00:06 $ETHERNET

	# TLS 1.3: the same placement, and a refusal the supplicant sees as a failure.
	EAPOL_PHASE1=$TLS13_ONLY placed laptop 02:00:00:20:00:07 110 1 employees-wired $ETHERNET
	expect_decision 02:00:00:20:00:07 '.tls_version == "TLSv1.3"' "tls_version TLSv1.3"
	EAPOL_PHASE1=$TLS13_ONLY refused kiosk 02:00:00:20:00:08 no_matching_rule $ETHERNET
}

# The laptop is in contractors and employees: the first rule naming either decides.
case_rule_order() {
	local contractors_first='
    { name = "contractors"; group = "contractors"; vlan = 300; },
    { name = "employees-wifi"; group = "employees"; nas_port_type = "Wireless-802.11"; ssid = "CORP"; vlan = 100; },
    { name = "employees-wired"; group = "employees"; nas_port_type = "Ethernet"; vlan = 110; }'
	slapd_start
	start_with "$(ldap_section)$(policy_section "$contractors_first")"
	placed laptop 02:00:00:21:00:01 300 0 contractors $ETHERNET
	placed laptop 02:00:00:21:00:02 300 0 contractors $WIRELESS $SSID_CORP
	restart_with "$(ldap_section)$(policy_section "$RULES")"
	placed laptop 02:00:00:21:00:03 110 1 employees-wired $ETHERNET
	placed laptop 02:00:00:21:00:04 100 0 employees-wifi $WIRELESS $SSID_CORP
}

# policy.default = "quarantine": the devices a reject default would refuse land on VLAN 999.
case_quarantine_default() {
	slapd_start
	start_with "$(ldap_section)$(policy_section "$RULES" 'default = "quarantine"; quarantine_vlan = 999;')"
	quarantined kiosk 02:00:00:2c:00:01 no_matching_rule $ETHERNET
	quarantined stranger 02:00:00:2c:00:02 unknown_device $ETHERNET
	placed laptop 02:00:00:2c:00:03 110 1 employees-wired $ETHERNET
}

# Filter metacharacters in the certificate's name find nothing (RFC 4515 escaping): never the
# laptop's entry, never a VLAN; and the exact name that holds them is still found.
case_ldap_injection() {
	local i=0 device
	slapd_start
	start_with "$(ldap_section)$(policy_section "$RULES")"
	for device in inj-star inj-or inj-suffix inj-backslash; do
		i=$((i + 1))
		unknown "$device" "02:00:00:22:00:0$i" $ETHERNET
		expect_decision "02:00:00:22:00:0$i" '.cert_identity != "laptop-0001.corp.example"' \
			"a cert_identity other than the laptop's"
	done
	# Escaping still finds the one device whose name really is "weird*(device)" (in no group).
	refused inj-exact 02:00:00:22:00:06 no_matching_rule $ETHERNET
	expect_decision 02:00:00:22:00:06 '.cert_identity == "weird*(device)" and (.dn // "" | test(",ou=devices,dc=corp,dc=example$"))' \
		'cert_identity "weird*(device)" found in the directory'
	# The directory connections are still sound afterwards.
	placed laptop 02:00:00:22:00:05 110 1 employees-wired $ETHERNET
}

# identity.match_eap_identity: the EAP identity must name the certificate's identity.
case_identity_binding() {
	slapd_start
	start_with "identity = { match_eap_identity = true; };
$(ldap_section)$(policy_section "$RULES")"
	placed laptop 02:00:00:23:00:01 110 1 employees-wired $ETHERNET
	EAPOL_IDENTITY=host/laptop-0001.corp.example placed laptop 02:00:00:23:00:02 110 1 employees-wired $ETHERNET
	expect_decision 02:00:00:23:00:02 \
		'.identity == "host/laptop-0001.corp.example" and .cert_identity == "laptop-0001.corp.example"' \
		"identity host/laptop-0001.corp.example, cert_identity laptop-0001.corp.example"
	# The laptop's certificate claiming to be the printer gets neither VLAN.
	EAPOL_IDENTITY=printer-0042.corp.example refused laptop 02:00:00:23:00:03 identity_mismatch $ETHERNET
	expect_decision 02:00:00:23:00:03 '.cert_identity == "laptop-0001.corp.example"' \
		"cert_identity laptop-0001.corp.example"
}

# all-devices holds staff, staff holds employees: two levels above the laptop's own group.
# printers is directly in all-devices, and in the cycle cycle-a <-> cycle-b.
case_nested_groups() {
	local rules='{ name = "everyone"; group = "all-devices"; vlan = 400; }'
	slapd_start
	start_with "$(ldap_section 'nested_depth = 2;')$(policy_section "$rules")"
	placed laptop 02:00:00:24:00:01 400 0 everyone $ETHERNET
	expect_groups 02:00:00:24:00:01 "cn=staff,$GROUPS_DN" "cn=all-devices,$GROUPS_DN"

	restart_with "$(ldap_section 'nested_depth = 1;')$(policy_section "$rules")"
	refused laptop 02:00:00:24:00:02 no_matching_rule $ETHERNET
	expect_groups 02:00:00:24:00:02 "cn=employees,$GROUPS_DN" "cn=staff,$GROUPS_DN"
	expect_not_in_groups 02:00:00:24:00:02 "cn=all-devices,$GROUPS_DN"
	placed printer 02:00:00:24:00:03 400 0 everyone $ETHERNET

	# Deep nesting through a cycle ends, and lists each group once.
	restart_with "$(ldap_section 'nested_depth = 10;')$(policy_section "$rules")"
	placed printer 02:00:00:24:00:04 400 0 everyone $ETHERNET
	expect_groups 02:00:00:24:00:04 "cn=cycle-a,$GROUPS_DN" "cn=cycle-b,$GROUPS_DN"
	expect_decision 02:00:00:24:00:04 '(.groups | map(ascii_downcase) | length) == (.groups | map(ascii_downcase) | unique | length)' \
		"no group listed twice"
}

# groups = "search" finds the same groups, hence the same placements, as memberOf.
case_group_search() {
	local by_memberof by_search
	slapd_start
	start_with "$(ldap_section)$(policy_section "$RULES")"
	placed laptop 02:00:00:25:00:01 110 1 employees-wired $ETHERNET
	by_memberof=$(decision_groups 02:00:00:25:00:01)

	restart_with "$(ldap_section 'groups = "search";')$(policy_section "$RULES")"
	placed laptop 02:00:00:25:00:02 110 1 employees-wired $ETHERNET
	by_search=$(decision_groups 02:00:00:25:00:02)
	[[ $by_search == "$by_memberof" ]] ||
		fail "expected the same groups from search as from memberOf: memberOf '$by_memberof', search '$by_search'"
	placed laptop 02:00:00:25:00:03 100 0 employees-wifi $WIRELESS $SSID_CORP
	placed printer 02:00:00:25:00:04 200 2 printers $ETHERNET
	refused kiosk 02:00:00:25:00:05 no_matching_rule $ETHERNET
}

# The directory stops: fail closed (or quarantine), authd stays up and recovers by itself when
# the directory is back on the same port.
# directory_metric SERIES_SUFFIX: the value of an LDAP_URI series in a fresh scrape, "" when absent.
directory_metric() {
	metrics_scrape
	metric_value "authd_backend_$1"
}

case_outage() {
	local uri
	slapd_start
	metrics_enable
	start_with "$METRICS_SECTION$(ldap_section)$(policy_section "$RULES")"
	uri="backend=\"directory\",target=\"$LDAP_URI\""
	placed laptop 02:00:00:26:00:01 110 1 employees-wired $ETHERNET
	[[ $(directory_metric "up{$uri}") == 1 ]] || fail "the directory is not up while it answers"
	# The bind and the search, both answered.
	[[ $(directory_metric "requests_total{$uri,result=\"ok\"}") == 2 ]] ||
		fail "expected 2 calls counted ok: $(grep '^authd_backend_requests' "$HARNESS_DIR/scrape.txt")"
	slapd_stop
	refused laptop 02:00:00:26:00:02 directory_unavailable $ETHERNET
	expect_decision 02:00:00:26:00:02 '(.detail // "") != ""' "a detail saying why the directory failed"
	expect_authd_running
	# A stopped directory: its calls failed, and the URI is down.
	[[ $(directory_metric "up{$uri}") == 0 ]] || fail "the stopped directory's URI is not down in authd_backend_up"
	[[ $(directory_metric "requests_total{$uri,result=\"error\"}") -ge 1 ]] ||
		fail "the stopped directory's calls are not counted as errors: $(grep '^authd_backend_requests' "$HARNESS_DIR/scrape.txt")"
	slapd_restart
	placed laptop 02:00:00:26:00:03 110 1 employees-wired $ETHERNET
	[[ $(directory_metric "up{$uri}") == 1 ]] || fail "the restarted directory is not up again"

	restart_with "$(ldap_section)$(policy_section "$RULES" 'directory_unavailable = "quarantine"; quarantine_vlan = 999;')"
	slapd_stop
	quarantined laptop 02:00:00:26:00:04 directory_unavailable $ETHERNET
	expect_authd_running
	slapd_restart
	placed laptop 02:00:00:26:00:05 110 1 employees-wired $ETHERNET
}

# ldap.cache_ttl: a device seen recently is placed from its cached groups during an outage.
case_outage_cache() {
	slapd_start
	start_with "$(ldap_section 'cache_ttl = 60;')$(policy_section "$RULES")"
	placed laptop 02:00:00:2b:00:01 110 1 employees-wired $ETHERNET
	expect_decision 02:00:00:2b:00:01 '.directory_cached == false' "a fresh lookup"
	slapd_stop
	placed laptop 02:00:00:2b:00:02 110 1 employees-wired $ETHERNET
	expect_decision 02:00:00:2b:00:02 '.directory_cached == true' "groups served from the outage cache"
	# A device the cache never saw fails closed.
	refused printer 02:00:00:2b:00:03 directory_unavailable $ETHERNET
}

# wait_for_pending N LOG...: until each supplicant has sent its certificate flight (the request
# that makes authd ask the directory), at most 10 s.
wait_for_pending() {
	local log deadline=$((SECONDS + 10)) waiting
	while :; do
		waiting=0
		for log in "$@"; do
			awk '/content_type=22 \(handshake\/certificate\)/ { cert = 1 }
				cert && /^RADIUS message: code=1 \(Access-Request\)/ { sent = 1 }
				END { exit !sent }' "$log" 2>/dev/null || waiting=$((waiting + 1))
		done
		((waiting == 0)) && return 0
		((SECONDS < deadline)) || fail "$waiting supplicant(s) had not sent their certificate after 10 s"
		sleep 0.05
	done
}

# slapd frozen (SIGSTOP: the kernel still accepts TCP, nothing answers). Four devices at once
# end with directory_unavailable in parallel, bounded by the timeouts, while authd answers a
# Status-Server at once. Then the directory thaws and placement works again.
case_frozen_directory() {
	local i pid start elapsed probe_start probe_ms macs=() logs=() pids=() rc limit uri
	[[ -x ${AUTHD_PROBE:-} ]] || fail "AUTHD_PROBE must name the radius_probe binary (got '${AUTHD_PROBE:-}')"
	slapd_start
	metrics_enable
	start_with "$METRICS_SECTION$(ldap_section)$(policy_section "$RULES")"
	placed laptop 02:00:00:27:00:01 110 1 employees-wired $ETHERNET
	eapol_config laptop >"$HARNESS_DIR/frozen.conf"
	pid=$(slapd_pid)
	kill -STOP "$pid"
	start=$(now_ms)
	for i in 1 2 3 4; do
		macs+=("02:00:00:27:01:0$i")
		logs+=("$HARNESS_DIR/eapol-02000027010$i.log") # the name eapol_run gives it
		(
			eapol_run "$HARNESS_DIR/frozen.conf" "${macs[i - 1]}" $ETHERNET -t 20
			echo "$EAPOL_RC" >"$HARNESS_DIR/frozen-rc-$i"
		) &
		pids+=("$!")
		BACKGROUND_PIDS+=("$!")
	done
	wait_for_pending "${logs[@]}"
	sleep 0.2
	probe_start=$(now_ms)
	"$AUTHD_PROBE" "$AUTHD_PORT" "$AUTHD_SECRET" status-server >"$HARNESS_DIR/probe.log" 2>&1 ||
		fail "Status-Server went unanswered while the directory was frozen: $(cat "$HARNESS_DIR/probe.log")"
	probe_ms=$(($(now_ms) - probe_start))
	# All four were still waiting on the directory when the Status-Server was answered.
	for i in 0 1 2 3; do
		if jq -e --arg k "$(mac_key "${macs[i]}")" \
			'select((.calling_station_id | ascii_downcase | gsub("[^0-9a-f]"; "")) == $k)' \
			"$AUTHD_DECISIONS" >/dev/null 2>&1; then
			fail "${macs[i]} was decided before the Status-Server was answered ($(now_ms) ms); the directory was not holding it up"
		fi
	done
	((probe_ms < 500)) || fail "Status-Server took $probe_ms ms during the freeze, expected an answer at once (< 500 ms)"
	for i in 0 1 2 3; do wait "${pids[i]}" || true; done
	BACKGROUND_PIDS=()
	elapsed=$(($(now_ms) - start))
	kill -CONT "$pid"
	for i in 0 1 2 3; do
		EAPOL_LOG=${logs[i]}
		rc=$(cat "$HARNESS_DIR/frozen-rc-$((i + 1))")
		# shellcheck disable=SC2034 # read by expect_eapol_reject in lib.sh
		EAPOL_RC=$rc
		expect_eapol_reject
		expect_decision "${macs[i]}" '.outcome == "reject" and .reason == "directory_unavailable" and .vlan == null' \
			"reject, directory_unavailable, no VLAN while the directory is frozen"
	done
	# Serial lookups would need at least 4 x $LDAP_TIMEOUT_MS ms; parallel ones about one
	# timeout each (plus one reconnect attempt).
	limit=$((LDAP_TIMEOUT_MS * 3))
	((elapsed <= limit)) ||
		fail "four authentications took $elapsed ms with a frozen directory, expected <= $limit ms (timeout_ms $LDAP_TIMEOUT_MS, in parallel)"
	# A frozen directory lets its calls time out: timeouts, not errors, and the URI is down.
	uri="backend=\"directory\",target=\"$LDAP_URI\""
	[[ $(directory_metric "requests_total{$uri,result=\"timeout\"}") -ge 4 ]] ||
		fail "the frozen directory's calls are not counted as timeouts: $(grep '^authd_backend_requests' "$HARNESS_DIR/scrape.txt")"
	[[ $(directory_metric "up{$uri}") == 0 ]] || fail "the frozen directory's URI is not down in authd_backend_up"
	echo "frozen directory: 4 rejections in $elapsed ms, Status-Server answered in $probe_ms ms"
	# Timeouts in a row marked the directory down for 2 s (lookups skip it meanwhile).
	sleep 2.2
	placed laptop 02:00:00:27:00:02 110 1 employees-wired $ETHERNET
	slapd_stop
}

# StartTLS on ldap://, verified against ldap.ca: the test root works, a stranger CA does not
# (which shows StartTLS is really done and checked).
case_starttls() {
	slapd_start --tls "$AUTHD_PKI"
	start_with "$(ldap_section "start_tls = true; ca = \"$LDAP_CA\";")$(policy_section "$RULES")"
	placed laptop 02:00:00:28:00:01 110 1 employees-wired $ETHERNET
	restart_with "$(ldap_section "start_tls = true; ca = \"$AUTHD_PKI/rogue-ca.pem\";")$(policy_section "$RULES")"
	refused laptop 02:00:00:28:00:02 directory_unavailable $ETHERNET
}

case_ldaps() {
	slapd_start --tls "$AUTHD_PKI"
	# shellcheck disable=SC2153 # LDAPS_URI comes from slapd.sh's env file
	LDAP_URI=$LDAPS_URI
	start_with "$(ldap_section "ca = \"$LDAP_CA\";")$(policy_section "$RULES")"
	placed laptop 02:00:00:29:00:01 110 1 employees-wired $ETHERNET
	# A directory whose certificate is not from the configured CA is no directory.
	restart_with "$(ldap_section "ca = \"$AUTHD_PKI/rogue-ca.pem\";")$(policy_section "$RULES")"
	refused laptop 02:00:00:29:00:02 directory_unavailable $ETHERNET
}

# No ldap section: the static map; patterns are case-insensitive and every match adds groups.
case_static_map() {
	start_with 'groups = (
  { identity = "laptop-*.corp.example"; groups = [ "employees" ]; },
  { identity = "LAPTOP-0001.*"; groups = [ "contractors" ]; }
);
'"$(policy_section "$RULES")"
	placed laptop 02:00:00:2a:00:01 110 1 employees-wired $ETHERNET
	expect_decision 02:00:00:2a:00:01 '(.groups | sort) == ["contractors", "employees"]' \
		'groups ["employees", "contractors"] (names from the map)'
	expect_decision 02:00:00:2a:00:01 '.dn == null' "dn null (no directory)"
	placed laptop 02:00:00:2a:00:02 100 0 employees-wifi $WIRELESS $SSID_CORP
	unknown printer 02:00:00:2a:00:03 $ETHERNET
}

# explain_run EXPECTED_STATUS CERT [options]: `authd --explain` on the explain config; prints
# its output; fails unless it exits EXPECTED_STATUS.
explain_run() {
	local want=$1 cert=$2 out rc=0
	shift 2
	out=$("$AUTHD_BIN" --explain "$cert" "$@" -c "$HARNESS_DIR/explain.conf" 2>&1) || rc=$?
	((rc == want)) || fail "authd --explain ${cert##*/} $* exited $rc, expected $want; it printed:
$out"
	printf '%s\n' "$out"
}

# expect_lines OUTPUT LINE...: each LINE is a whole line of OUTPUT, or its beginning if it ends in '*'.
expect_lines() {
	local out=$1 line
	shift
	for line in "$@"; do
		if [[ $line == *'*' ]]; then
			awk -v p="${line%'*'}" 'index($0, p) == 1 { found = 1 } END { exit !found }' <<<"$out" ||
				fail "--explain printed no line starting '${line%'*'}':
$out"
		else
			grep -qxF -- "$line" <<<"$out" || fail "--explain printed no line '$line':
$out"
		fi
	done
}

write_explain_config() {
	AUTHD_PORT=1812 AUTHD_DECISIONS=$HARNESS_DIR/explain-decisions.jsonl AUTHD_EXTRA_CONFIG=$1 \
		authd_write_config "$HARNESS_DIR/explain.conf"
}

case_explain() {
	local out
	slapd_start
	write_explain_config "identity = { match_eap_identity = true; };
$(ldap_section)$(policy_section "$RULES")"

	out=$(explain_run 0 "$AUTHD_PKI/laptop.pem" --nas-port-type Wireless-802.11 --ssid CORP)
	expect_lines "$out" "identity: laptop-0001.corp.example*" "directory: $LAPTOP_DN*" \
		"groups: *" "rule: #0 employees-wifi" "result: accept, VLAN 100"
	grep -q "^groups: .*cn=employees,$GROUPS_DN" <<<"$out" || fail "--explain listed no employees group: $out"
	out=$(explain_run 0 "$AUTHD_PKI/laptop.pem" --nas-port-type Ethernet --identity host/laptop-0001.corp.example)
	expect_lines "$out" "rule: #1 employees-wired" "result: accept, VLAN 110"

	out=$(explain_run 3 "$AUTHD_PKI/kiosk.pem")
	expect_lines "$out" "identity: kiosk-0007.corp.example*" "rule: none" "result: reject (no_matching_rule)*"
	out=$(explain_run 3 "$AUTHD_PKI/stranger.pem")
	expect_lines "$out" "directory: not found*" "rule: none" "result: reject (unknown_device)*"
	out=$(explain_run 3 "$AUTHD_PKI/laptop.pem" --identity printer-0042.corp.example)
	expect_lines "$out" "result: reject (identity_mismatch)*"
	out=$(explain_run 3 "$AUTHD_PKI/expired.pem")
	expect_lines "$out" "result: reject (cert_expired)*"

	explain_run 2 "$AUTHD_PKI/laptop.pem" --nas-port-type Token-Ring >/dev/null
	explain_run 1 "$HARNESS_DIR/no-such-cert.pem" >/dev/null

	slapd_stop
	out=$(explain_run 3 "$AUTHD_PKI/laptop.pem" --nas-port-type Ethernet)
	expect_lines "$out" "directory: unavailable: *" "result: reject (directory_unavailable)*"

	write_explain_config "groups = ( { identity = \"laptop-*\"; groups = [ \"employees\" ]; } );
$(policy_section "$RULES")"
	out=$(explain_run 0 "$AUTHD_PKI/laptop.pem" --nas-port-type Ethernet)
	expect_lines "$out" "directory: static map*" "groups: employees" "rule: #1 employees-wired" \
		"result: accept, VLAN 110"
}

list_cases() { declare -F | sed -n 's/^declare -f case_//p'; }

main() {
	[[ $# -eq 1 ]] || { echo "usage: vlan.sh CASE | --list" >&2; exit 2; }
	if [[ $1 == --list ]]; then
		list_cases
		exit 0
	fi
	declare -F "case_$1" >/dev/null || { echo "vlan.sh: no case '$1'; cases: $(list_cases | xargs)" >&2; exit 2; }
	need_command slapd slapd
	need_command ldapmodify ldap-utils
	harness_init
	harness_on_exit stop_servers
	"case_$1"
	echo "PASS: $1"
}

main "$@"
