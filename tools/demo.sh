#!/usr/bin/env bash
# tools/demo.sh — see authd work end to end on a fresh Debian 12 machine (run as root, or with sudo
# available). Installs the packages, builds into build/, makes a throwaway PKI, directory (slapd
# with sample devices and groups, tests/ldap/fixture.ldif) and config in demo/, starts authd on
# 127.0.0.1 and authenticates devices with the real 802.1X supplicant (eapol_test): an employee
# laptop on the corporate Wi-Fi and wired VLANs, a printer on the printer VLAN, a kiosk that is
# in no group and a device the directory does not know (both rejected), an expired certificate
# and one from an unknown CA (rejected); then the helpdesk revokes the laptop with authctl (a
# throwaway Redis holds the list), the laptop is rejected, unrevoked, and accepted again. Prints a
# verdict, the VLAN the switch was told, and the logged JSON decision for each, then stops authd,
# slapd and Redis. Exits 0 only if every outcome was the expected one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO=$ROOT/demo
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"

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

# The helpdesk's revocation list: a throwaway Redis in demo/redis.
REDIS_PID=""
start_redis() {
	local deadline=$((SECONDS + 10))
	mkdir -p "$DEMO/redis"
	REDIS_PORT=$(free_udp_port)
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$DEMO/redis" \
		>"$DEMO/redis/redis.log" 2>&1 &
	REDIS_PID=$!
	until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do
		((SECONDS < deadline)) || { echo "demo: redis-server did not start" >&2; exit 1; }
		sleep 0.05
	done
}

stop_redis() {
	[[ -z $REDIS_PID ]] || { kill "$REDIS_PID"; wait "$REDIS_PID"; }
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
	step "starting a throwaway Redis for the helpdesk's revocation list in demo/redis"
	harness_on_exit stop_redis
	start_redis
	AUTHD_EXTRA_CONFIG="$(placement_config)
redis = { host = \"127.0.0.1\"; port = $REDIS_PORT; };" AUTHD_LOG_LEVEL=info authd_start
	step "authd is running: pid $AUTHD_PID, 127.0.0.1:$AUTHD_PORT, config demo/authd.conf"

	step "authenticating devices with eapol_test (Wi-Fi: NAS-Port-Type 19 and SSID CORP; wired: 15)"
	local wifi=(-N61:d:19 -N30:s:02-00-00-de-00-ff:CORP) wired=(-N61:d:15)
	authenticate laptop 02:00:00:de:00:01 "accept 100" "${wifi[@]}" || failures=$((failures + 1))
	authenticate laptop 02:00:00:de:00:02 "accept 110" "${wired[@]}" || failures=$((failures + 1))
	authenticate printer 02:00:00:de:00:03 "accept 200" "${wired[@]}" || failures=$((failures + 1))
	authenticate kiosk 02:00:00:de:00:04 "reject no_matching_rule" "${wired[@]}" || failures=$((failures + 1))
	authenticate stranger 02:00:00:de:00:05 "reject unknown_device" "${wired[@]}" || failures=$((failures + 1))
	authenticate expired 02:00:00:de:00:06 "reject cert_expired" "${wired[@]}" || failures=$((failures + 1))
	authenticate rogue 02:00:00:de:00:07 "reject unknown_ca" "${wired[@]}" || failures=$((failures + 1))

	step "the helpdesk revokes the laptop (authctl revoke), then takes it back (authctl unrevoke)"
	"$ROOT/build/authd/authctl" -c "$AUTHD_CONF" revoke --cert "$AUTHD_PKI/laptop.pem" \
		--reason "reported stolen (demo)" | sed 's/^/         /'
	authenticate laptop 02:00:00:de:00:08 "reject revoked" "${wired[@]}" || failures=$((failures + 1))
	"$ROOT/build/authd/authctl" -c "$AUTHD_CONF" unrevoke --cert "$AUTHD_PKI/laptop.pem" | sed 's/^/         /'
	authenticate laptop 02:00:00:de:00:09 "accept 110" "${wired[@]}" || failures=$((failures + 1))

	step "stopping authd, the directory and Redis"
	authd_stop
	cat <<EOF
Files: demo/authd.conf (config), demo/decisions.jsonl (decision log), demo/authd.log (authd's log).
Run it again by hand:  tests/ldap/slapd.sh restart demo/slapd
                       redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" &
                       build/authd/authd -c demo/authd.conf
Ask what a device would get:  build/authd/authd --explain demo/pki/printer.pem -c demo/authd.conf
EOF
	if ((failures > 0)); then
		echo "demo: $failures of 9 outcomes were not the expected ones" >&2
		exit 1
	fi
	echo "demo: all 9 outcomes as expected"
}

main "$@"
