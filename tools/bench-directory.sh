#!/usr/bin/env bash
# bench-directory.sh [N] — what the directory lookup adds to an authentication, on loopback:
# N (default 200) sequential EAP-TLS authentications of the laptop with eapol_test against authd
# placing it from a throwaway slapd (memberOf, then group search), then the same against the
# static group map. For each series: median and p99 of the decision log's directory_ms and
# duration_ms, and of the supplicant's wall-clock time per run (eapol_test start to exit, in
# 0.1 ms); then what the directory adds over the static map. Needs a build (AUTHD_BIN, default
# build/authd/authd; tools/demo.sh makes one) and the test packages (tools/install-deps.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
N=${1:-200}
export AUTHD_BIN=${AUTHD_BIN:-$ROOT/build/authd/authd}
RULES='policy = { rules = ( { name = "employees"; group = "employees"; nas_port_type = "Ethernet"; vlan = 110; } ); };'
declare -A MEDIAN P99

# percentile P FILE: the P-th percentile (nearest rank) of the numbers in FILE, one per line.
percentile() {
	sort -g "$2" | awk -v p="$1" '{ v[NR] = $1 } END { r = int((p * NR + 99) / 100); if (r < 1) r = 1; print v[r] }'
}

# summarise SERIES WHAT FILE: "median M, p99 P" of FILE; kept for the comparison at the end.
summarise() {
	local series=$1 what=$2 file=$3
	MEDIAN[$series/$what]=$(percentile 50 "$file")
	P99[$series/$what]=$(percentile 99 "$file")
	printf '  %-13s median %8s  p99 %8s\n' "$what" "${MEDIAN[$series/$what]}" "${P99[$series/$what]}"
}

# run_series NAME: N authentications against a fresh authd with AUTHD_EXTRA_CONFIG.
run_series() {
	local series=$1 i start mac wall=$HARNESS_DIR/wall-$1
	AUTHD_LOG_LEVEL=info authd_start
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	: >"$wall"
	for ((i = 0; i < N; i++)); do
		mac=$(printf '02:00:00:30:%02x:%02x' $((i / 256)) $((i % 256)))
		start=$(date +%s%N)
		eapol_run "$HARNESS_DIR/laptop.conf" "$mac" -N61:d:15
		awk -v ns=$(($(date +%s%N) - start)) 'BEGIN { printf "%.1f\n", ns / 1e6 }' >>"$wall"
		expect_eapol_accept
	done
	authd_stop
	[[ $(jq -c 'select(.outcome == "accept" and .vlan == "110")' "$AUTHD_DECISIONS" | wc -l) -eq $N ]] ||
		fail "expected $N accepts on VLAN 110 in the decision log"
	echo "$series ($N authentications, ms):"
	jq '.directory_ms' "$AUTHD_DECISIONS" >"$HARNESS_DIR/directory_ms"
	jq '.duration_ms' "$AUTHD_DECISIONS" >"$HARNESS_DIR/duration_ms"
	summarise "$series" directory_ms "$HARNESS_DIR/directory_ms"
	summarise "$series" duration_ms "$HARNESS_DIR/duration_ms"
	summarise "$series" wall_ms "$wall"
}

# added SERIES: what SERIES costs over the static map, per statistic.
added() {
	local series=$1 what
	echo "$series adds over the static map (ms):"
	for what in duration_ms wall_ms; do
		printf '  %-13s median %8s  p99 %8s\n' "$what" \
			"$(awk -v a="${MEDIAN[$series/$what]}" -v b="${MEDIAN[static/$what]}" 'BEGIN { printf "%+.1f", a - b }')" \
			"$(awk -v a="${P99[$series/$what]}" -v b="${P99[static/$what]}" 'BEGIN { printf "%+.1f", a - b }')"
	done
}

stop_all() {
	"$ROOT/tests/ldap/slapd.sh" stop "$HARNESS_DIR/slapd"
	rm -rf "$AUTHD_PKI"
}

ldap_config() {
	cat <<EOF
ldap = { uris = [ "$LDAP_URI" ]; allow_cleartext_bind = true; bind_dn = "$LDAP_BIND_DN"; bind_password = "$LDAP_BIND_PASSWORD";
  base_dn = "$LDAP_BASE_DN"; group_base_dn = "$LDAP_GROUP_BASE_DN"; $1 };
$RULES
EOF
}

main() {
	[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "usage: bench-directory.sh [N]" >&2; exit 2; }
	AUTHD_PKI=$(mktemp -d)
	"$ROOT/tests/pki/make-pki.sh" "$AUTHD_PKI"
	harness_init
	harness_on_exit stop_all
	"$ROOT/tests/ldap/slapd.sh" start "$HARNESS_DIR/slapd"
	# shellcheck source=/dev/null
	source "$HARNESS_DIR/slapd/env"

	AUTHD_EXTRA_CONFIG=$(ldap_config 'groups = "memberof";') run_series memberof
	AUTHD_EXTRA_CONFIG=$(ldap_config 'groups = "search";') run_series search
	AUTHD_EXTRA_CONFIG="groups = ( { identity = \"laptop-*\"; groups = [ \"employees\" ]; } );
$RULES" run_series static
	added memberof
	added search
}

main "$@"
