#!/usr/bin/env bash
# bench-directory.sh [N] — what the directory lookup adds to an authentication, on loopback:
# N (default 200) sequential EAP-TLS authentications with eapol_test against authd placing
# devices from a throwaway slapd, then the same against the static group map. Prints median
# and p99 of the decision log's directory_ms and duration_ms for both. Needs a build in
# build/ (tools/demo.sh makes one) and the test packages (tools/install-deps.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
N=${1:-200}
export AUTHD_BIN=${AUTHD_BIN:-$ROOT/build/authd/authd}
RULES='policy = { rules = ( { name = "employees"; group = "employees"; vlan = 110; } ); };'

# percentiles FIELD: "median M, p99 P" of a numeric decision-log field.
percentiles() {
	jq -s --arg f "$1" 'map(.[$f]) | sort | "median \(.[length / 2 | floor]), p99 \(.[(length * 99 / 100) | floor])"' \
		-r "$AUTHD_DECISIONS"
}

run_series() {
	local label=$1 i
	AUTHD_LOG_LEVEL=info authd_start
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	for ((i = 0; i < N; i++)); do
		eapol_run "$HARNESS_DIR/laptop.conf" "$(printf '02:00:00:30:%02x:%02x' $((i / 256)) $((i % 256)))"
		expect_eapol_accept
	done
	printf '%-12s directory_ms: %s; duration_ms: %s (%d auths)\n' "$label" \
		"$(percentiles directory_ms)" "$(percentiles duration_ms)" "$N"
	authd_stop
}

stop_all() {
	local rc=$?
	"$ROOT/tests/ldap/slapd.sh" stop "$HARNESS_DIR/slapd" || true
	rm -rf "$AUTHD_PKI"
	# harness_cleanup reads the exit status from $?. Without set +e, errexit would end this
	# trap at "(exit 1)" itself, and authd would be left running after every failure.
	set +e
	(exit "$rc")
	harness_cleanup
}

AUTHD_PKI=$(mktemp -d)
"$ROOT/tests/pki/make-pki.sh" "$AUTHD_PKI"
harness_init
trap stop_all EXIT
"$ROOT/tests/ldap/slapd.sh" start "$HARNESS_DIR/slapd"
# shellcheck source=/dev/null
source "$HARNESS_DIR/slapd/env"
AUTHD_EXTRA_CONFIG="ldap = { uris = [ \"$LDAP_URI\" ]; bind_dn = \"$LDAP_BIND_DN\";
  bind_password = \"$LDAP_BIND_PASSWORD\"; base_dn = \"$LDAP_BASE_DN\";
  group_base_dn = \"$LDAP_GROUP_BASE_DN\"; };
$RULES" run_series "ldap"
AUTHD_EXTRA_CONFIG="groups = ( { identity = \"laptop-*\"; groups = [ \"employees\" ]; } );
$RULES" run_series "static map"
