#!/usr/bin/env bash
# authbench.sh CASE — authbench (tools/authbench) against a real authd, or against FreeRADIUS 3.2
# as tools/bench/freeradius.sh configures it: short fixed counts, correctness only (no timing).
# `authbench.sh --list` prints the cases.
#
#   AUTHD_BIN, AUTHD_PKI (tests/integration/lib.sh), AUTHBENCH_BIN=/path/to/authbench,
#   FREERADIUS_SH=tools/bench/freeradius.sh (the freeradius_* cases only)
#
# What every passing run shows: authbench's summary says ok=1, no failures, every Access-Accept's
# MS-MPPE keys equal to the client's MSK (mppe_ok = accepts), the TLS version asked for; and on
# the server's side (authd's decision log) one accept per auth, each with its own
# Calling-Station-Id. The *_detects_* cases show that authbench notices what it claims to.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../integration/lib.sh
source "$HERE/../integration/lib.sh"
# shellcheck source=../integration/redis_lib.sh
source "$HERE/../integration/redis_lib.sh"

CASES=(authd_tls12 authd_tls13 authd_threads authd_half_open authd_resume_tls12 authd_resume_tls13
	authd_resume_two_nodes
	authd_detects_wrong_secret authd_detects_untrusted_server authd_reject_expired
	freeradius_tls12 freeradius_tls13 freeradius_resume)

AB_OUT=""
AB_RC=0
AB_SUMMARY=""
FR_DIR=""
FR_SECRET=""

# authbench_run PORT SECRET [authbench options...]: runs authbench with the laptop and printer
# certificates, the server checked against the root CA; sets AB_RC, AB_OUT, AB_SUMMARY.
authbench_run() {
	local port=$1 secret=$2
	shift 2
	AB_OUT=$HARNESS_DIR/authbench-$((++AB_RUNS)).out
	AB_RC=0
	timeout 120 "$AUTHBENCH_BIN" -s "127.0.0.1:$port" --secret "$secret" --ca "$AUTHD_PKI/root-only.pem" \
		--cert "$AUTHD_PKI/laptop.pem" --key "$AUTHD_PKI/laptop.key" \
		--cert "$AUTHD_PKI/printer.pem" --key "$AUTHD_PKI/printer.key" \
		--csv "$HARNESS_DIR/authbench-$AB_RUNS.csv" "$@" >"$AB_OUT" 2>&1 || AB_RC=$?
	AB_SUMMARY=$(grep '^summary: ' "$AB_OUT" | tail -n 1) || true
	[[ -n $AB_SUMMARY ]] || ab_fail "authbench printed no summary line (exit status $AB_RC)"
	harness_log "authbench $*: $AB_SUMMARY"
}
AB_RUNS=0

ab_fail() {
	tail_file "authbench output" "$AB_OUT"
	[[ -z $FR_DIR ]] || tail_file "FreeRADIUS log" "$FR_DIR/radius.log"
	fail "$*"
}

# ab KEY: a value of the summary line.
ab() {
	local v
	v=$(tr ' ' '\n' <<<"$AB_SUMMARY" | sed -n "s/^$1=//p")
	[[ -n $v ]] || ab_fail "the summary line has no '$1'"
	echo "$v"
}

# expect_ab KEY OP VALUE: e.g. expect_ab failures -eq 0 (test's integer operators) or
# expect_ab rt_full '>' 3.9 (numbers with decimals).
expect_ab() {
	local key=$1 op=$2 want=$3 got
	got=$(ab "$key")
	case $op in
	'<' | '>')
		awk -v a="$got" -v b="$want" -v op="$op" 'BEGIN { exit !(op == "<" ? a + 0 < b + 0 : a + 0 > b + 0) }' ||
			ab_fail "expected $key $op $want, authbench says $key=$got"
		;;
	*)
		[ "${got%.*}" "$op" "$want" ] || ab_fail "expected $key $op $want, authbench says $key=$got"
		;;
	esac
}

# All N auths accepted with matching keys, nothing retried into a failure, exit status 0.
expect_all_accepted() {
	local n=$1
	((AB_RC == 0)) || ab_fail "authbench exited $AB_RC, expected 0 (every auth accepted)"
	expect_ab ok -eq 1
	expect_ab auths -eq "$n"
	expect_ab accepts -eq "$n"
	expect_ab failures -eq 0
	expect_ab rejects -eq 0
	expect_ab mppe_ok -eq "$n"
	expect_ab mppe_mismatch -eq 0
	expect_ab mppe_missing -eq 0
	local lines
	lines=$(($(wc -l <"$HARNESS_DIR/authbench-$AB_RUNS.csv") - 1))
	((lines == n)) || ab_fail "the CSV has $lines auth lines, expected $n"
}

# authd's decision log holds N accepts since the last mark, each with its own Calling-Station-Id.
DECISIONS_SEEN=0
expect_authd_decisions() {
	local n=$1 resumed=${2:-} new accepts stations r deadline=$((SECONDS + 5))
	while :; do
		new=$(tail -n +$((DECISIONS_SEEN + 1)) "$AUTHD_DECISIONS" | wc -l)
		((new >= n || SECONDS >= deadline)) && break
		sleep 0.1
	done
	accepts=$(tail -n +$((DECISIONS_SEEN + 1)) "$AUTHD_DECISIONS" | jq -s '[.[] | select(.outcome == "accept")] | length')
	stations=$(tail -n +$((DECISIONS_SEEN + 1)) "$AUTHD_DECISIONS" | jq -s '[.[].calling_station_id] | unique | length')
	((accepts == n)) || ab_fail "authd logged $accepts accepts, expected $n"
	((stations == n)) || ab_fail "authd saw $stations distinct Calling-Station-Ids in $n auths, expected one each"
	if [[ -n $resumed ]]; then
		r=$(tail -n +$((DECISIONS_SEEN + 1)) "$AUTHD_DECISIONS" | jq -s '[.[] | select(.resumed == true)] | length')
		((r == resumed)) || ab_fail "authd logged $r resumed auths, authbench counted $resumed"
	fi
	DECISIONS_SEEN=$(wc -l <"$AUTHD_DECISIONS")
}

start_authd() {
	[[ -n ${AUTHBENCH_BIN:-} && -x $AUTHBENCH_BIN ]] || fail "AUTHBENCH_BIN must name the authbench binary"
	harness_init
	AUTHD_LOG_LEVEL=info
	authd_start
}

case_authd_version() {
	local version=$1 want=$2
	start_authd
	authbench_run "$AUTHD_PORT" "$AUTHD_SECRET" --tls "$version" --count 200 --concurrency 16 --quiet
	expect_all_accepted 200
	expect_ab "$want" -eq 200
	expect_ab resumed -eq 0
	expect_authd_decisions 200
	# Identity (1), ClientHello (2), ... Accept: a full handshake is never shorter than 4.
	expect_ab rt_full '>' 3.9
}

case_authd_tls12() { case_authd_version 1.2 tls12; }
case_authd_tls13() { case_authd_version 1.3 tls13; }

# Two event loops, small socket pool: Identifiers are shared out without a clash.
case_authd_threads() {
	start_authd
	authbench_run "$AUTHD_PORT" "$AUTHD_SECRET" --threads 2 --count 300 --concurrency 40 --sockets 2 --quiet
	expect_all_accepted 300
	expect_authd_decisions 300
}

# Half-open conversations are opened (challenge received) and held while other auths run.
case_authd_half_open() {
	start_authd
	authbench_run "$AUTHD_PORT" "$AUTHD_SECRET" --half-open 50 --count 100 --concurrency 10 --quiet
	expect_all_accepted 100
	expect_ab half_open -eq 50
	expect_ab half_open_failed -eq 0
	expect_authd_decisions 100
}

case_authd_resume() {
	local version=$1
	AUTHD_SESSION_LIFETIME=3600
	start_authd
	authbench_run "$AUTHD_PORT" "$AUTHD_SECRET" --tls "$version" --resume 50 --devices 20 --count 200 \
		--concurrency 8 --quiet
	expect_all_accepted 200
	expect_ab resumed -gt 0
	expect_ab rt_resumed_n -gt 0
	expect_ab rt_full_n -gt 0
	local full resumed
	full=$(ab rt_full)
	resumed=$(ab rt_resumed)
	awk -v f="$full" -v r="$resumed" 'BEGIN { exit !(r + 0 < f + 0) }' ||
		ab_fail "resumed auths took $resumed round trips on average, full ones $full: expected fewer"
	expect_authd_decisions 200 "$(ab resumed)"
}

case_authd_resume_tls12() { case_authd_resume 1.2; }
case_authd_resume_tls13() { case_authd_resume 1.3; }

# Two authd nodes sharing Redis, auths alternating between them: a device resumes on the node it
# did not get its session from, and no offered session is refused.
case_authd_resume_two_nodes() {
	local port2 conf2=$HARNESS_DIR/node2.conf log2=$HARNESS_DIR/node2.jsonl deadline n1 n2
	AUTHD_SESSION_LIFETIME=3600
	harness_init
	harness_on_exit stop_node2
	redis_start
	AUTHD_EXTRA_CONFIG=$(redis_section)
	AUTHD_LOG_LEVEL=info
	authd_start
	port2=$(free_udp_port)
	AUTHD_PORT=$port2 AUTHD_DECISIONS=$log2 authd_write_config "$conf2"
	"$AUTHD_BIN" -c "$conf2" >"$HARNESS_DIR/node2.log" 2>&1 &
	NODE2_PID=$!
	deadline=$((SECONDS + 10))
	until grep -qw ready "$HARNESS_DIR/node2.log"; do
		((SECONDS < deadline)) || fail "the second authd did not start: $(tail -n 3 "$HARNESS_DIR/node2.log")"
		sleep 0.05
	done
	authbench_run "$AUTHD_PORT" "$AUTHD_SECRET" -s "127.0.0.1:$port2" --tls 1.2 --resume 100 --devices 10 \
		--count 100 --concurrency 4 --quiet
	expect_all_accepted 100
	expect_ab resumed -gt 0
	[[ $(ab resumed) == "$(ab resume_offered)" ]] ||
		ab_fail "$(ab resume_offered) sessions offered, only $(ab resumed) resumed: one node did not find the other's"
	n1=$(jq -s '[.[] | select(.resumed)] | length' "$AUTHD_DECISIONS")
	n2=$(jq -s '[.[] | select(.resumed)] | length' "$log2")
	((n1 > 0 && n2 > 0)) || fail "resumed auths per node: $n1 and $n2, expected some on both"
}

NODE2_PID=""
stop_node2() {
	[[ -z $NODE2_PID ]] || { kill -TERM "$NODE2_PID" 2>/dev/null; wait "$NODE2_PID" 2>/dev/null || true; }
	redis_stop
}

# authd drops requests whose Message-Authenticator is wrong: every auth times out.
case_authd_detects_wrong_secret() {
	start_authd
	authbench_run "$AUTHD_PORT" not-the-secret --count 4 --concurrency 4 --timeout 200 --retries 1 --quiet
	((AB_RC == 1)) || ab_fail "authbench exited $AB_RC, expected 1 (failures)"
	expect_ab ok -eq 0
	expect_ab timeout -eq 4
	expect_ab retransmissions -eq 4
	expect_ab accepts -eq 0
}

# A server certificate the client does not trust fails the client's handshake: tls_error.
case_authd_detects_untrusted_server() {
	start_authd
	AB_RUNS=$((AB_RUNS + 1))
	AB_OUT=$HARNESS_DIR/authbench-$AB_RUNS.out
	AB_RC=0
	"$AUTHBENCH_BIN" -s "127.0.0.1:$AUTHD_PORT" --secret "$AUTHD_SECRET" --ca "$AUTHD_PKI/rogue-ca.pem" \
		--cert "$AUTHD_PKI/laptop.pem" --key "$AUTHD_PKI/laptop.key" --count 5 --concurrency 5 \
		--quiet >"$AB_OUT" 2>&1 || AB_RC=$?
	AB_SUMMARY=$(grep '^summary: ' "$AB_OUT" | tail -n 1) || true
	((AB_RC == 1)) || ab_fail "authbench exited $AB_RC, expected 1 (failures)"
	expect_ab tls_error -eq 5
	expect_ab accepts -eq 0
}

# Rejects are counted as rejects, and --allow-reject keeps the exit status 0.
case_authd_reject_expired() {
	start_authd
	AB_RUNS=$((AB_RUNS + 1))
	AB_OUT=$HARNESS_DIR/authbench-$AB_RUNS.out
	AB_RC=0
	"$AUTHBENCH_BIN" -s "127.0.0.1:$AUTHD_PORT" --secret "$AUTHD_SECRET" --ca "$AUTHD_PKI/root-only.pem" \
		--cert "$AUTHD_PKI/expired.pem" --key "$AUTHD_PKI/expired.key" --count 6 --concurrency 3 \
		--allow-reject --quiet >"$AB_OUT" 2>&1 || AB_RC=$?
	AB_SUMMARY=$(grep '^summary: ' "$AB_OUT" | tail -n 1) || true
	((AB_RC == 0)) || ab_fail "authbench --allow-reject exited $AB_RC, expected 0"
	expect_ab rejects -eq 6
	expect_ab reject -eq 6
	expect_ab failures -eq 0
	expect_ab accepts -eq 0
}

# FreeRADIUS 3.2 (tools/bench/freeradius.sh): the same protocol, another implementation.
fr_stop() {
	[[ -n $FR_DIR && -s $FR_DIR/env ]] || return 0
	"$FREERADIUS_SH" stop "$FR_DIR" || harness_log "freeradius.sh stop failed"
}

fr_start() {
	[[ -n ${AUTHBENCH_BIN:-} && -x $AUTHBENCH_BIN ]] || fail "AUTHBENCH_BIN must name the authbench binary"
	[[ -n ${FREERADIUS_SH:-} && -x $FREERADIUS_SH ]] || fail "FREERADIUS_SH must name tools/bench/freeradius.sh"
	harness_init
	harness_on_exit fr_stop
	FR_DIR=$HARNESS_DIR/freeradius
	FR_PORT=$("$FREERADIUS_SH" start "$FR_DIR" "$AUTHD_PKI" --threads 2 "$@") || fail "freeradius.sh start failed"
	FR_SECRET=$(sed -n 's/^FR_SECRET=//p' "$FR_DIR/env")
	[[ -n $FR_SECRET ]] || fail "$FR_DIR/env names no FR_SECRET"
	[[ $FR_PORT =~ ^[0-9]+$ ]] || fail "freeradius.sh start printed '$FR_PORT', expected a port"
}

case_freeradius_version() {
	local version=$1 want=$2
	fr_start
	authbench_run "$FR_PORT" "$FR_SECRET" --tls "$version" --count 100 --concurrency 8 --quiet
	expect_all_accepted 100
	expect_ab "$want" -eq 100
}

case_freeradius_tls12() { case_freeradius_version 1.2 tls12; }
case_freeradius_tls13() { case_freeradius_version 1.3 tls13; }

case_freeradius_resume() {
	fr_start --resume
	authbench_run "$FR_PORT" "$FR_SECRET" --tls 1.2 --resume 50 --devices 10 --count 60 --concurrency 4 --quiet
	expect_all_accepted 60
	expect_ab resumed -gt 0
	local full resumed
	full=$(ab rt_full)
	resumed=$(ab rt_resumed)
	awk -v f="$full" -v r="$resumed" 'BEGIN { exit !(r + 0 < f + 0) }' ||
		ab_fail "resumed auths took $resumed round trips on average, full ones $full: expected fewer"
}

if [[ ${1:-} == --list ]]; then
	printf '%s\n' "${CASES[@]}"
	exit 0
fi
(($# == 1)) || fail "usage: authbench.sh CASE (authbench.sh --list)"
for c in "${CASES[@]}"; do
	if [[ $c == "$1" ]]; then
		"case_$1"
		harness_log "ok: $1"
		exit 0
	fi
done
fail "unknown case '$1' (authbench.sh --list)"
