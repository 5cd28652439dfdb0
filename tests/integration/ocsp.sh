#!/usr/bin/env bash
# ocsp.sh CASE — revocation by OCSP against a real `openssl ocsp` responder
# (tests/ocsp/ocsp_responder.sh), with the status cached in a real redis-server or in process.
# Needs AUTHD_BIN and AUTHD_PKI (see lib.sh) and OCSP_RESPONDER (the responder script).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=redis_lib.sh
source "$HERE/redis_lib.sh"

OCSP_DIR=""
OCSP_PORT=""
OCSP_B=""
BULK_PID=""

now_ms() { date +%s%3N; }

stop_servers() {
	[[ -z $OCSP_DIR ]] || "$OCSP_RESPONDER" stop "$OCSP_DIR" >/dev/null 2>&1 || true
	redis_stop
}

# Exit hooks: a second responder, the authbench run of bulk devices.
stop_responder_b() { [[ -z $OCSP_B ]] || "$OCSP_RESPONDER" stop "$OCSP_B" >/dev/null 2>&1 || true; }
stop_bulk() { [[ -z $BULK_PID ]] || kill "$BULK_PID" 2>/dev/null || true; }

responder_start() {
	OCSP_DIR=$HARNESS_DIR/ocsp
	OCSP_PORT=$("$OCSP_RESPONDER" start "$OCSP_DIR" "$AUTHD_PKI" "$@") || fail "could not start the OCSP responder"
}

# How many requests the responder has answered.
responder_count() { "$OCSP_RESPONDER" count "$OCSP_DIR"; }

# start_authd [REVOCATION_SETTINGS] [--no-redis]: authd asking the responder, the status cached
# in Redis unless --no-redis; with metrics after metrics_enable.
start_authd() {
	local settings=${1:-} redis=""
	[[ ${2:-} == --no-redis ]] || { redis_start; redis=$(redis_section); }
	AUTHD_EXTRA_CONFIG="$redis
${METRICS_SECTION:-}
revocation = { ocsp = { url = \"http://127.0.0.1:$OCSP_PORT/\"; timeout_ms = ${OCSP_TIMEOUT_MS:-3000}; }; $settings };"
	authd_start
}

# auth DEVICE MAC OUTCOME REASON REVOCATION SOURCE: one authentication and its decision record
# (SOURCE null: no source answered).
auth() {
	local device=$1 mac=$2 outcome=$3 reason=$4 revocation=$5 source=$6
	eapol_config "$device" >"$HARNESS_DIR/$device.conf"
	eapol_run "$HARNESS_DIR/$device.conf" "$mac"
	if [[ $outcome == accept ]]; then expect_eapol_accept; else expect_eapol_reject; fi
	[[ $source == null ]] || source="\"$source\""
	expect_decision "$mac" ".outcome == \"$outcome\" and .reason == \"$reason\" and
		.revocation == \"$revocation\" and .revocation_source == $source" \
		"$outcome, reason $reason, revocation $revocation from $source"
}

# expect_metric SERIES VALUE: SERIES has VALUE in the last scrape.
expect_metric() {
	[[ $(metric_value "$1") == "$2" ]] ||
		fail "$1 is '$(metric_value "$1")', expected $2: $(grep '^authd_backend_\(requests_total\|up\)' "$HARNESS_DIR/scrape.txt")"
}

# good → accept; the status lands in Redis with a TTL; the second authentication is answered
# from the cache without asking the responder. The metrics count the responder's answer under
# its URL, and Redis's commands under its address.
case_good_cached() {
	local keys ttl ocsp
	responder_start
	metrics_enable
	start_authd
	auth laptop 02:00:00:70:00:01 accept ok good ocsp
	[[ $(responder_count) == 1 ]] || fail "expected 1 request at the responder, it counted $(responder_count)"
	metrics_scrape
	ocsp="backend=\"ocsp\",target=\"http://127.0.0.1:$OCSP_PORT/\""
	expect_metric "authd_backend_requests_total{$ocsp,result=\"ok\"}" 1
	expect_metric "authd_backend_request_duration_seconds_count{$ocsp}" 1
	expect_metric "authd_backend_up{$ocsp}" 1
	expect_metric "authd_backend_up{backend=\"redis\",target=\"127.0.0.1:$REDIS_PORT\"}" 1
	[[ $(metric_value "authd_backend_requests_total{backend=\"redis\",target=\"127.0.0.1:$REDIS_PORT\",result=\"ok\"}") -ge 1 ]] ||
		fail "no Redis command counted ok"
	expect_metric 'authd_threads{pool="ocsp"}' 8
	awk '$1 == "authd_thread_busy_seconds_total{pool=\"ocsp\"}" && $2 > 0 { ok = 1 } END { exit !ok }' \
		"$HARNESS_DIR/scrape.txt" || fail "the OCSP threads' busy seconds did not grow"
	keys=$(rcli --scan --pattern 'test:status:*')
	[[ $(wc -w <<<"$keys") == 1 ]] || fail "expected one status key in Redis, found: $keys"
	[[ $(rcli GET "$keys") == "good ocsp "* ]] || fail "the cached status is '$(rcli GET "$keys")'"
	ttl=$(rcli TTL "$keys")
	((ttl > 0 && ttl <= 3600)) || fail "the cached status has TTL $ttl, expected 1..3600 s"
	auth laptop 02:00:00:70:00:02 accept ok good cache
	[[ $(responder_count) == 1 ]] || fail "the second authentication asked the responder again ($(responder_count) requests)"
}

# Without Redis the cache is in process: same effect on one node.
case_good_cached_in_process() {
	responder_start
	start_authd "" --no-redis
	auth laptop 02:00:00:71:00:01 accept ok good ocsp
	auth laptop 02:00:00:71:00:02 accept ok good cache
	[[ $(responder_count) == 1 ]] || fail "the responder was asked $(responder_count) times, expected once"
}

case_revoked() {
	responder_start
	start_authd
	auth revoked 02:00:00:72:00:01 reject revoked revoked ocsp
	expect_decision 02:00:00:72:00:01 '.detail | test("revoked"; "i")' "the revocation in detail"
	# A revoked status is cached too: the next attempt is refused from the cache.
	auth revoked 02:00:00:72:00:02 reject revoked revoked cache
}

# Responder down: reject by default, or the CRL, or accept (soft fail) as configured.
case_responder_down() {
	OCSP_PORT=$(free_udp_port)   # nobody listens there
	cp "$AUTHD_PKI/issuing-ca.crl.pem" "$HARNESS_DIR/crl.pem"
	start_authd
	auth laptop 02:00:00:73:00:01 reject revocation_unknown unknown null
	expect_decision 02:00:00:73:00:01 '.detail | test("OCSP")' "the OCSP failure in detail"
	authd_stop
	redis_stop
	start_authd "unknown = \"crl\"; crl = [ \"$HARNESS_DIR/crl.pem\" ];"
	auth laptop 02:00:00:73:00:02 accept ok good crl
	auth revoked 02:00:00:73:00:03 reject revoked revoked crl
	authd_stop
	redis_stop
	start_authd 'unknown = "accept";'
	auth laptop 02:00:00:73:00:04 accept ok unknown null
}

# A responder that accepts TCP and never answers (SIGSTOPped): the authentication waiting on it
# ends within the timeout with revocation_unknown, and a device whose status is cached is
# accepted meanwhile without waiting.
case_responder_hangs() {
	local pid start ms bg
	responder_start
	metrics_enable
	start_authd
	auth printer 02:00:00:74:00:01 accept ok good ocsp
	pid=$(cat "$OCSP_DIR/pid")
	kill -STOP "$pid"
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	start=$(now_ms)
	( eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:74:00:02 ) &
	bg=$!
	sleep 0.3
	auth printer 02:00:00:74:00:03 accept ok good cache
	ms=$(($(now_ms) - start))
	if jq -e 'select(.calling_station_id == "02-00-00-74-00-02")' "$AUTHD_DECISIONS" >/dev/null 2>&1; then
		fail "the laptop was decided before the cached printer (${ms} ms): nothing waited on the responder"
	fi
	wait "$bg" || true
	kill -CONT "$pid"
	expect_decision 02:00:00:74:00:02 '.reason == "revocation_unknown" and .duration_ms < 8000' \
		"revocation_unknown within the 3000 ms timeout (plus the handshake)"
	# The silence is a timeout of that responder, not an error.
	metrics_scrape
	expect_metric "authd_backend_requests_total{backend=\"ocsp\",target=\"http://127.0.0.1:$OCSP_PORT/\",result=\"timeout\"}" 1
	expect_metric "authd_backend_requests_total{backend=\"ocsp\",target=\"http://127.0.0.1:$OCSP_PORT/\",result=\"error\"}" ""
}

# bulk_devices N DIR [NAME [OCSP_URL]]: N more certificates of the Device CA (NAME-i.pem +
# NAME-i.key in DIR, NAME default bulk), none of whose status anybody has cached; with OCSP_URL,
# their AIA names that responder.
bulk_devices() {
	local n=$1 dir=$2 name=${3:-bulk} url=${4:-} i
	mkdir -p "$dir"
	printf '%s\n' 'basicConstraints = CA:FALSE' 'keyUsage = critical, digitalSignature' \
		'extendedKeyUsage = clientAuth' ${url:+"authorityInfoAccess = OCSP;URI:$url"} >"$dir/ext.cnf"
	for ((i = 1; i <= n; i++)); do
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/$name-$i.key" \
			-subj "/CN=$name-$i.corp.example" -out "$dir/$name-$i.csr" 2>/dev/null ||
			fail "cannot make a key for $name-$i"
		openssl x509 -req -in "$dir/$name-$i.csr" -CA "$AUTHD_PKI/issuing-ca.pem" \
			-CAkey "$AUTHD_PKI/issuing-ca.key" -set_serial "0x$(openssl rand -hex 12)" -days 30 \
			-sha256 -extfile "$dir/ext.cnf" -out "$dir/$name-$i.pem" 2>/dev/null || fail "cannot issue $name-$i"
		rm -f "$dir/$name-$i.csr"
	done
	rm -f "$dir/ext.cnf"
}

# A responder that accepts and never answers, with BULK (default 50) uncached devices waiting on
# it: a device whose status is cached does not queue behind them. The OCSP queries have threads
# of their own; the cached device's check needs only Redis (or, with CACHE=process, nothing). Prints
# how long the cached device's authentication took (tools/bench-isolation.sh collects it).
case_responder_silent_many() {
	local pid n=${BULK:-50} start ms cache=()
	[[ ${CACHE:-redis} == process ]] && cache=("" --no-redis)
	responder_start
	OCSP_TIMEOUT_MS=4000 start_authd "${cache[@]}"
	auth printer 02:00:00:76:00:01 accept ok good ocsp
	pid=$(cat "$OCSP_DIR/pid")
	kill -STOP "$pid"
	if ((n > 0)); then
		bulk_devices "$n" "$HARNESS_DIR/bulk"
		"$AUTHBENCH_BIN" -s "127.0.0.1:$AUTHD_PORT" --secret "$AUTHD_SECRET" \
			--cert-dir "$HARNESS_DIR/bulk" --devices "$n" -c "$n" -n "$n" --timeout 20000 --retries 0 \
			--allow-reject -q >"$HARNESS_DIR/bulk.log" 2>&1 &
		BULK_PID=$!
		harness_on_exit stop_bulk
		# Their handshakes take a few ms each; then they all wait on the responder.
		sleep 1.5
	fi
	start=$(now_ms)
	auth printer 02:00:00:76:00:02 accept ok good cache
	ms=$(($(now_ms) - start))
	echo "cached device accepted in $ms ms while $n uncached devices waited on a silent responder"
	if jq -e 'select(.identity | startswith("host/bulk-"))' "$AUTHD_DECISIONS" >/dev/null 2>&1; then
		fail "an uncached device was decided before the cached printer (${ms} ms): nothing waited on the responder"
	fi
	((n > 0)) || return 0
	wait "$BULK_PID" || true
	kill -CONT "$pid"
	[[ $(jq -c 'select(.identity | startswith("host/bulk-")) | .reason' "$AUTHD_DECISIONS" | sort -u) == '"revocation_unknown"' ]] ||
		fail "the uncached devices were not all refused revocation_unknown: $(jq -c 'select(.identity | startswith("host/bulk-")) | .reason' "$AUTHD_DECISIONS" | sort | uniq -c)"
	[[ $(jq -c 'select(.identity | startswith("host/bulk-"))' "$AUTHD_DECISIONS" | wc -l) == "$n" ]] ||
		fail "expected $n decisions of uncached devices: $(cat "$HARNESS_DIR/bulk.log")"
}

# Two responders, named by the certificates' AIA: BULK (default 50) uncached devices wait on one
# that accepts and never answers, and a device whose CA record points at the other one is asked
# about and decided meanwhile. Each responder has threads of its own; with one pool shared by
# all responders, the device waited until the first silent queries had timed out.
case_responders_apart() {
	local n=${BULK:-50} serial port_b fresh
	cp "$AUTHD_PKI/issuing-ca.index" "$HARNESS_DIR/a.index"
	responder_start --index "$HARNESS_DIR/a.index"
	OCSP_B=$HARNESS_DIR/ocsp-b
	harness_on_exit stop_responder_b
	port_b=$("$OCSP_RESPONDER" start "$OCSP_B" "$AUTHD_PKI") || fail "could not start the second responder"
	bulk_devices 1 "$HARNESS_DIR/fresh" fresh "http://127.0.0.1:$OCSP_PORT/"
	serial=$(openssl x509 -in "$HARNESS_DIR/fresh/fresh-1.pem" -noout -serial)
	# A new file, not an append: the responder notices a new inode (or a new mtime second).
	{
		cat "$HARNESS_DIR/a.index"
		printf 'V\t%s\t\t%s\tunknown\t/CN=fresh-1.corp.example\n' \
			"$(date -u -d '+30 days' +%y%m%d%H%M%SZ)" "${serial#serial=}"
	} >"$HARNESS_DIR/a.index.new"
	mv "$HARNESS_DIR/a.index.new" "$HARNESS_DIR/a.index"
	"$OCSP_RESPONDER" reload "$OCSP_DIR" || fail "responder A did not take its new index"
	bulk_devices "$n" "$HARNESS_DIR/bulk" bulk "http://127.0.0.1:$port_b/"
	AUTHD_EXTRA_CONFIG="revocation = { ocsp = { timeout_ms = 4000; }; };"
	authd_start
	kill -STOP "$(cat "$OCSP_B/pid")"
	"$AUTHBENCH_BIN" -s "127.0.0.1:$AUTHD_PORT" --secret "$AUTHD_SECRET" --cert-dir "$HARNESS_DIR/bulk" \
		--devices "$n" -c "$n" -n "$n" --timeout 20000 --retries 0 --allow-reject -q \
		>"$HARNESS_DIR/bulk.log" 2>&1 &
	BULK_PID=$!
	harness_on_exit stop_bulk
	# Their handshakes take a few ms each; then they all wait on responder B.
	sleep 1.5
	"$AUTHBENCH_BIN" -s "127.0.0.1:$AUTHD_PORT" --secret "$AUTHD_SECRET" --cert-dir "$HARNESS_DIR/fresh" \
		--devices 1 -c 1 -n 1 --timeout 20000 --retries 0 --allow-reject -q >"$HARNESS_DIR/fresh.log" 2>&1 ||
		fail "the device of the answering responder got no answer: $(cat "$HARNESS_DIR/fresh.log")"
	fresh=$(jq -c 'select(.identity | startswith("host/fresh-"))' "$AUTHD_DECISIONS")
	jq -e '.revocation == "good" and .revocation_source == "ocsp"' >/dev/null 2>&1 <<<"$fresh" ||
		fail "expected the device to be found good by its own responder: $fresh"
	echo "device of the answering responder decided in $(jq -r .duration_ms <<<"$fresh") ms while $n devices waited on a silent one"
	if jq -e 'select(.identity | startswith("host/bulk-"))' "$AUTHD_DECISIONS" >/dev/null 2>&1; then
		fail "a device waiting on the silent responder was decided first: the responders share threads"
	fi
	wait "$BULK_PID" || true
	kill -CONT "$(cat "$OCSP_B/pid")"
	[[ $(jq -c 'select(.identity | startswith("host/bulk-")) | .reason' "$AUTHD_DECISIONS" | sort -u) == '"revocation_unknown"' ]] ||
		fail "the devices of the silent responder were not all refused revocation_unknown: $(cat "$HARNESS_DIR/bulk.log")"
}

# SIGTERM while a conversation waits on a responder that never answers: authd ends within a
# second, with status 0, instead of waiting out the query's timeout.
case_stop_while_waiting() {
	local pid start ms bg
	responder_start
	OCSP_TIMEOUT_MS=10000 start_authd
	pid=$(cat "$OCSP_DIR/pid")
	kill -STOP "$pid"
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	( eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:77:00:01 -t 3 ) &
	bg=$!
	sleep 1
	start=$(now_ms)
	authd_stop
	ms=$(($(now_ms) - start))
	kill -CONT "$pid"
	wait "$bg" || true
	((ms < 1000)) || fail "authd took $ms ms to stop with a query in flight, expected < 1000 ms"
	grep -q "backend calls still running" "$AUTHD_LOG" ||
		fail "authd did not say it left a backend call behind (was the device not waiting on OCSP?)"
	echo "stopped in $ms ms with an OCSP query in flight"
}

# Redis killed: every check goes to the responder, decisions stay right, and caching resumes
# when Redis is back.
case_redis_down() {
	responder_start
	start_authd
	redis_stop
	auth laptop 02:00:00:75:00:01 accept ok good ocsp
	auth laptop 02:00:00:75:00:02 accept ok good ocsp
	expect_decision 02:00:00:75:00:02 '.detail | test("redis"; "i")' "the Redis outage in detail"
	[[ $(responder_count) == 2 ]] || fail "expected 2 responder requests with Redis down, saw $(responder_count)"
	redis_start
	auth laptop 02:00:00:75:00:03 accept ok good ocsp
	auth laptop 02:00:00:75:00:04 accept ok good cache
}

# Redis is untrusted storage: a "good" written into the status cache by hand (a Redis writer
# hiding a revocation) carries no MAC under the node key and is ignored: authd asks the
# responder, which now says revoked, and the device is refused.
case_forged_good() {
	local key
	cp "$AUTHD_PKI/issuing-ca.index" "$HARNESS_DIR/index"
	responder_start --index "$HARNESS_DIR/index"
	start_authd
	auth laptop 02:00:00:76:00:01 accept ok good ocsp
	key=$(rcli --scan --pattern 'test:status:*')
	[[ $(wc -w <<<"$key") == 1 ]] || fail "expected one status key in Redis, found: $key"
	[[ $(rcli GET "$key") =~ ^good\ ocsp\ [0-9]+\ [0-9]+\ [A-Za-z0-9_-]{22}$ ]] ||
		fail "the cached status carries no MAC: '$(rcli GET "$key")'"
	"$OCSP_RESPONDER" revoke "$OCSP_DIR" "$AUTHD_PKI/laptop.pem" >/dev/null || fail "could not revoke at the responder"
	# Forged: the format authd wrote before, and the current one with the tag cut off or altered.
	rcli SET "$key" "good ocsp $(date +%s)" EX 3600 >/dev/null
	auth laptop 02:00:00:76:00:02 reject revoked revoked ocsp
	[[ $(responder_count) == 2 ]] || fail "expected the responder asked again (2 requests), it counted $(responder_count)"
	grep -q "status cache: $key ignored: \"good\" without a valid MAC" "$AUTHD_LOG" ||
		fail "authd did not log that it ignored the forged status"
	rcli SET "$key" "good ocsp $(date +%s) $(($(date +%s) + 3600)) AAAAAAAAAAAAAAAAAAAAAA" EX 3600 >/dev/null
	auth laptop 02:00:00:76:00:03 reject revoked revoked ocsp
	[[ $(responder_count) == 3 ]] || fail "expected 3 responder requests, it counted $(responder_count)"
	# A revoked value needs no MAC: forging one only refuses a device, and authctl writes them.
	rcli SET "$key" "revoked crl $(date +%s)" EX 3600 >/dev/null
	auth laptop 02:00:00:76:00:04 reject revoked revoked cache
}

# A status cached as good (by authd itself, from OCSP) does not outlive the CRL: once the local
# CRL lists the device it is refused, the CRL named as the source.
case_crl_beats_cache() {
	# The responder's own index, in which the revoked device is still valid.
	awk -F'\t' -v OFS='\t' '$6 ~ /revoked-0001/ { $1 = "V"; $3 = "" } 1' "$AUTHD_PKI/issuing-ca.index" \
		>"$HARNESS_DIR/index"
	responder_start --index "$HARNESS_DIR/index"
	cp "$AUTHD_PKI/issuing-ca-empty.crl.pem" "$HARNESS_DIR/crl.pem"
	start_authd "crl = [ \"$HARNESS_DIR/crl.pem\" ];"
	auth revoked 02:00:00:76:00:01 accept ok good ocsp
	auth revoked 02:00:00:76:00:02 accept ok good cache
	cp "$AUTHD_PKI/issuing-ca.crl.pem" "$HARNESS_DIR/crl.new" && mv "$HARNESS_DIR/crl.new" "$HARNESS_DIR/crl.pem"
	sleep 1.2   # changes are looked for at most once a second
	auth revoked 02:00:00:76:00:03 reject revoked revoked crl
	expect_decision 02:00:00:76:00:03 '.detail | test("good by ocsp .*cached.*overruled by the CRL")' \
		"the cached status and the CRL that overruled it in detail"
	auth laptop 02:00:00:76:00:04 accept ok good ocsp
}

main() {
	local case=${1:-}
	if [[ $case == --list ]]; then
		declare -F | sed -n 's/^declare -f case_//p'
		exit 0
	fi
	declare -F "case_$case" >/dev/null || { echo "usage: ocsp.sh CASE (ocsp.sh --list)" >&2; exit 2; }
	[[ -x ${OCSP_RESPONDER:-} ]] || { echo "ocsp.sh: OCSP_RESPONDER must name tests/ocsp/ocsp_responder.sh" >&2; exit 2; }
	need_command redis-server redis-server
	harness_init
	harness_on_exit stop_servers
	"case_$case"
}

main "$@"
