#!/usr/bin/env bash
# bench-ab.sh OLD_AUTHD [NEW_AUTHD] [ROUNDS] — two authd builds side by side on the hot path:
# authbench closed loop (16 in flight, 3000 full TLS 1.2 handshakes of the laptop), each build in
# turn, certificate-only and with Redis (helpdesk list, status cache, live sessions), ROUNDS
# (default 2) times. Prints authbench's auths/s and p50/p99 per run, and the CPU time authd itself
# spent per authentication (user + system, from /proc). NEW_AUTHD defaults to
# build/authd/authd; a build older than redis.key_file gets its Redis section without it.
# Needs a build (build/, e.g. from tools/demo.sh) and the test packages (tools/install-deps.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
OLD=${1:?usage: bench-ab.sh OLD_AUTHD [NEW_AUTHD] [ROUNDS]}
NEW=${2:-$BUILD/authd/authd}
ROUNDS=${3:-2}
export AUTHD_BIN=$NEW AUTHD_PKI=$BUILD/test-pki
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
# shellcheck source=tests/integration/redis_lib.sh
source "$ROOT/tests/integration/redis_lib.sh"

# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run LABEL AUTHD EXTRA_CONFIG: one authbench run against a fresh authd.
run() {
	local label=$1 bin=$2 extra=$3 before summary
	AUTHD_BIN=$bin AUTHD_EXTRA_CONFIG="$extra" authd_start
	before=$(cpu_ticks "$AUTHD_PID")
	summary=$("$BUILD/tools/authbench/authbench" -s "127.0.0.1:$AUTHD_PORT" --secret "$AUTHD_SECRET" \
		--cert "$AUTHD_PKI/laptop.pem" --key "$AUTHD_PKI/laptop.key" --tls 1.2 -c 16 -n 3000 -q |
		sed -n "s/^summary: .*auths_per_s=\([0-9.]*\) p50_ms=\([0-9.]*\) .*p99_ms=\([0-9.]*\) .*/\1 auths\/s, p50 \2 ms, p99 \3 ms/p")
	echo "$label $summary, authd CPU $(( ($(cpu_ticks "$AUTHD_PID") - before) * 1000000 / $(getconf CLK_TCK) / 3000 )) us/auth"
	authd_stop
	rcli FLUSHALL >/dev/null
}

# redis_for AUTHD: the Redis section that build takes.
redis_for() {
	local section checked
	section=$(redis_section)
	AUTHD_PORT=$(free_udp_port) AUTHD_DECISIONS=$HARNESS_DIR/probe.jsonl AUTHD_EXTRA_CONFIG=$section \
		authd_write_config "$HARNESS_DIR/probe.conf"
	checked=$("$1" -C -c "$HARNESS_DIR/probe.conf" 2>&1 || true)
	if [[ $checked == *'unknown setting "key_file"'* ]]; then
		sed 's/key_file = "[^"]*"; //' <<<"$section"
	else
		echo "$section"
	fi
}

"$ROOT/tests/pki/make-pki.sh" "$AUTHD_PKI" >/dev/null
harness_init
redis_start
harness_on_exit redis_stop
for ((i = 1; i <= ROUNDS; i++)); do
	run "old cert-only:" "$OLD" ""
	run "new cert-only:" "$NEW" ""
	run "old redis:    " "$OLD" "$(redis_for "$OLD")"
	run "new redis:    " "$NEW" "$(redis_for "$NEW")"
done
