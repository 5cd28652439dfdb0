#!/usr/bin/env bash
# metrics.sh — the metrics endpoint end to end: a real authd with metrics on a free port, real
# supplicants (eapol_test) for accepts, rejects and drops, scrapes with curl, the text checked by
# Prometheus's own promtool, and the decision counters checked against the decision log line by
# line; placements against the log's rules and VLANs, the device certificates' expiry horizon and
# the server's and CAs' expiry against what openssl reads in the files. Then hostile scrapers: an address outside the allow-list, oversized headers, a client
# that connects and says nothing, a path other than /metrics.
# Needs AUTHD_BIN and AUTHD_PKI (see lib.sh), curl and promtool (Debian package prometheus).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"

SLOW_PID=""

# scrape [PATH [curl options...]]: the HTTP status, the body in $HARNESS_DIR/scrape.txt.
scrape() {
	local path=${1:-/metrics}
	shift || true
	curl -sS --max-time 3 -o "$HARNESS_DIR/scrape.txt" -w '%{http_code}' "$@" \
		"http://127.0.0.1:$METRICS_PORT$path" || true
}

expect_scrape() {
	local want=$1 got
	shift
	got=$(scrape "$@")
	[[ $got == "$want" ]] || fail "scrape $*: HTTP status $got, expected $want"
}

# The decision log and the counters, as "outcome reason count" lines, sorted.
decisions_from_log() { jq -r '[.outcome, .reason] | @tsv' "$AUTHD_DECISIONS" | sort | uniq -c |
	awk '{ print $2, $3, $1 }'; }
decisions_from_metrics() {
	sed -n 's/^authd_decisions_total{outcome="\([a-z]*\)",reason="\([a-z_]*\)",nas="[^"]*"} \([0-9]*\)$/\1 \2 \3/p' \
		"$HARNESS_DIR/scrape.txt" | awk '{ n[$1 " " $2] += $3 } END { for (k in n) if (n[k]) print k, n[k] }' | sort
}

# series_value 'NAME{LABELS}': the same for a series whose label values hold spaces or backslashes
# (from the environment: awk -v would read the backslashes as escapes).
series_value() {
	SERIES=$1 awk 'index($0, ENVIRON["SERIES"] " ") == 1 { print substr($0, length(ENVIRON["SERIES"]) + 2) }' \
		"$HARNESS_DIR/scrape.txt"
}

# Accepts by rule and VLAN, from the log and from the counters, as "rule=R vlan=V count" lines.
placements_from_log() {
	jq -r 'select(.outcome == "accept") | "rule=\(.rule.name // "") vlan=\(.vlan // "")"' "$AUTHD_DECISIONS" |
		sort | uniq -c | awk '{ print $2, $3, $1 }'
}
placements_from_metrics() {
	sed -n 's/^authd_placements_total{rule="\([^"]*\)",vlan="\([^"]*\)"} \([0-9]*\)$/rule=\1 vlan=\2 \3/p' \
		"$HARNESS_DIR/scrape.txt" | sort
}

# not_after FILE: the first certificate's notAfter in Unix seconds, as openssl reads it.
not_after() { date -u -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s; }

stop_slow_client() { [[ -z $SLOW_PID ]] || kill "$SLOW_PID" 2>/dev/null || true; }

harness_init
need_command curl curl
need_command promtool prometheus
harness_on_exit stop_slow_client
metrics_enable
# A CRL file: a backend target whose lookups, failed reload and nextUpdate are counted.
CRL=$HARNESS_DIR/crl.pem
cp "$AUTHD_PKI/issuing-ca-empty.crl.pem" "$CRL"
# Placement by a static map: the laptop and in5days by rule employees, in60days by printers
# (contractors shares employees' VLAN), stranger by none: the quarantine fallback.
AUTHD_EXTRA_CONFIG="$METRICS_SECTION
revocation = { crl = [ \"$CRL\" ]; };
groups = ( { identity = \"laptop-*.corp.example\"; groups = [ \"employees\" ]; },
           { identity = \"in5days-*.corp.example\"; groups = [ \"employees\" ]; },
           { identity = \"in60days-*.corp.example\"; groups = [ \"printers\" ]; } );
policy = { rules = ( { name = \"employees\"; group = \"employees\"; vlan = 100; },
                     { name = \"printers\"; group = \"printers\"; vlan = 200; },
                     { name = \"contractors\"; group = \"contractors\"; vlan = 100; } );
           default = \"quarantine\"; quarantine_vlan = 999; };"
authd_start
"$AUTHD_BIN" -C -c "$AUTHD_CONF" >/dev/null || fail "authd -C refused a config with a metrics section"

# Decisions: two accepts and three kinds of reject.
for mac in 02:00:00:0c:00:01 02:00:00:0c:00:02; do
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	eapol_run "$HARNESS_DIR/laptop.conf" "$mac"
	expect_eapol_accept
done
n=3
for device in expired rogue-chain noeku; do
	eapol_config "$device" >"$HARNESS_DIR/$device.conf"
	eapol_run "$HARNESS_DIR/$device.conf" "02:00:00:0c:00:0$n"
	expect_eapol_reject
	n=$((n + 1))
done
# A drop: requests signed with the wrong secret (bad Message-Authenticator), unanswered.
EAPOL_SECRET=not-the-secret-of-this-nas eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:0c:00:09 -t 1
expect_eapol_no_reply

expect_scrape 200
grep -q '^# TYPE authd_decisions_total counter$' "$HARNESS_DIR/scrape.txt" ||
	fail "no TYPE line for authd_decisions_total in /metrics"
promtool check metrics <"$HARNESS_DIR/scrape.txt" >"$HARNESS_DIR/promtool.txt" 2>&1 ||
	fail "promtool check metrics: $(cat "$HARNESS_DIR/promtool.txt")"
[[ $(decisions_from_log | wc -l) -ge 4 ]] || fail "expected 4 outcome/reason pairs in the log: $(decisions_from_log)"
diff <(decisions_from_log) <(decisions_from_metrics) >"$HARNESS_DIR/diff.txt" ||
	fail "authd_decisions_total differs from the decision log (< log, > metrics): $(cat "$HARNESS_DIR/diff.txt")"
[[ $(metric_value 'authd_authentication_duration_seconds_count{outcome="accept"}') == 2 ]] ||
	fail "expected 2 accepts in authd_authentication_duration_seconds_count"
[[ $(metric_value 'authd_requests_dropped_total{cause="bad_message_authenticator",nas="lab-switch"}') -ge 1 ]] ||
	fail "the wrong secret's requests are not in authd_requests_dropped_total"
[[ $(metric_value 'authd_conversations_in_flight{nas="lab-switch"}') == 0 ]] ||
	fail "conversations still in flight after every decision"
grep -q '^authd_build_info{version="[0-9.]*"} 1$' "$HARNESS_DIR/scrape.txt" || fail "no authd_build_info"
# The backends' families: every backend's series, nothing queued at rest.
for backend in redis directory ocsp; do
	[[ $(metric_value "authd_backend_queue_depth{backend=\"$backend\"}") == 0 ]] ||
		fail "authd_backend_queue_depth of $backend is not 0 at rest"
	[[ -n $(metric_value "authd_backend_queue_wait_seconds_count{backend=\"$backend\"}") ]] ||
		fail "no authd_backend_queue_wait_seconds for $backend"
done
# The CRL file as a backend target: every lookup the decision log says the CRL answered, up,
# its nextUpdate as openssl reads it; none for the backends this config does not use.
crl_series="backend=\"crl\",target=\"$CRL\""
crl_lookups=$(jq -c 'select(.revocation_source == "crl")' "$AUTHD_DECISIONS" | wc -l)
((crl_lookups == 2)) || fail "expected 2 decisions answered by the CRL, the log has $crl_lookups"
[[ $(metric_value "authd_backend_requests_total{$crl_series,result=\"ok\"}") == "$crl_lookups" ]] ||
	fail "authd_backend_requests_total of the CRL is not $crl_lookups: $(grep '^authd_backend_requests' "$HARNESS_DIR/scrape.txt")"
[[ $(metric_value "authd_backend_request_duration_seconds_count{$crl_series}") == "$crl_lookups" ]] ||
	fail "authd_backend_request_duration_seconds of the CRL did not count $crl_lookups lookups"
[[ $(metric_value "authd_backend_up{$crl_series}") == 1 ]] || fail "authd_backend_up of the CRL is not 1"
next_update=$(date -d "$(openssl crl -in "$CRL" -noout -nextupdate | cut -d= -f2)" +%s)
[[ $(metric_value "authd_crl_next_update_timestamp_seconds{file=\"$CRL\"}") == "$next_update" ]] ||
	fail "authd_crl_next_update_timestamp_seconds is not the CRL's nextUpdate $next_update"
! grep -q '^authd_backend_up{backend="\(redis\|directory\|ocsp\)"' "$HARNESS_DIR/scrape.txt" ||
	fail "authd_backend_up has series of backends this config does not use"
# Thread pools: the two workers (threads = 2) worked, and no backend has threads here.
[[ $(metric_value 'authd_threads{pool="worker"}') == 2 ]] || fail "authd_threads of the workers is not 2"
awk '$1 == "authd_thread_busy_seconds_total{pool=\"worker\"}" && $2 > 0 { ok = 1 } END { exit !ok }' \
	"$HARNESS_DIR/scrape.txt" || fail "the workers' authd_thread_busy_seconds_total did not grow"
[[ $(metric_value 'authd_threads{pool="directory"}') == 0 ]] || fail "directory threads without a directory"
# A broken CRL file: the reload fails on it (an error of that file), the CRL in force stays up.
echo "not a CRL" >"$CRL.new" && mv "$CRL.new" "$CRL"
for ((i = 0; i < 50; i++)); do
	metrics_scrape
	[[ -z $(metric_value "authd_backend_requests_total{$crl_series,result=\"error\"}") ]] || break
	sleep 0.1
done
[[ $(metric_value "authd_backend_requests_total{$crl_series,result=\"error\"}") == 1 ]] ||
	fail "the failed reload of the CRL file is not one error in authd_backend_requests_total"
[[ $(metric_value "authd_backend_up{$crl_series}") == 1 ]] || fail "the CRL in force is no longer up"

# More scrapes, one after the other, than the listener serves at once: closed connections give
# their slot back.
for ((i = 0; i < 100; i++)); do
	expect_scrape 200
done

# Outside the allow-list (127.0.0.1/32 only): 403, and said in the log.
expect_scrape 403 /metrics --interface 127.0.0.2
grep -q 'metrics: refused 127.0.0.2: not in metrics.allow' "$AUTHD_LOG" ||
	fail "the refused scrape is not in the log"
# Any other path: 404.
expect_scrape 404 /
expect_scrape 404 /metrics/../admin
# Oversized headers: refused, and the next scrape is served.
big=$(head -c 12000 /dev/zero | tr '\0' a)
got=$(scrape /metrics -H "X-Padding: $big")
[[ $got != 200 ]] || fail "a request with 12 KB of headers was served"
expect_scrape 200
# A client that connects and sends nothing neither stops scrapes nor authentications, and is
# cut off after the timeout.
exec 3<>"/dev/tcp/127.0.0.1/$METRICS_PORT"
(
	timeout 10 cat <&3 >/dev/null
	echo $? >"$HARNESS_DIR/slow.rc"
) &
SLOW_PID=$!
start=$SECONDS
expect_scrape 200
eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:0c:00:0a
expect_eapol_accept
wait "$SLOW_PID" || true
SLOW_PID=""
exec 3<&-
[[ $(cat "$HARNESS_DIR/slow.rc") == 0 ]] || fail "the silent client was not cut off within 10 s"
((SECONDS - start <= 9)) || fail "the silent client was cut off only after $((SECONDS - start)) s"
# The last decision is counted too.
expect_scrape 200
diff <(decisions_from_log) <(decisions_from_metrics) >"$HARNESS_DIR/diff.txt" ||
	fail "authd_decisions_total differs from the decision log (< log, > metrics): $(cat "$HARNESS_DIR/diff.txt")"

# The expiry horizon: certificates expiring in 5 and 60 days (in5days twice: one certificate),
# and a stranger placed in quarantine, next to the laptop's three accepts of one certificate.
n=0
for device in in5days in5days in60days stranger; do
	eapol_config "$device" >"$HARNESS_DIR/$device.conf"
	eapol_run "$HARNESS_DIR/$device.conf" "02:00:00:0c:01:0$n"
	expect_eapol_accept
	n=$((n + 1))
done
expect_decision 02:00:00:0c:01:03 '.reason == "quarantine" and .vlan == "999"' "stranger in quarantine"
today=$(($(date -u +%s) / 86400))
expect_scrape 200
promtool check metrics <"$HARNESS_DIR/scrape.txt" >"$HARNESS_DIR/promtool.txt" 2>&1 ||
	fail "promtool check metrics: $(cat "$HARNESS_DIR/promtool.txt")"
[[ $(metric_value authd_device_certificates_seen) == 4 ]] ||
	fail "authd_device_certificates_seen is $(metric_value authd_device_certificates_seen), expected 4 (laptop, in5days, in60days, stranger)"
[[ $(metric_value authd_device_certificates_forgotten_total) == 0 ]] ||
	fail "device certificates forgotten although the table is far from full"
# Expected by horizon: the accepted certificates whose notAfter falls on or before the UTC day
# that many days from now, as openssl reads them.
for within in 7 30 90; do
	want=0
	for device in laptop in5days in60days stranger; do
		(($(not_after "$AUTHD_PKI/$device.pem") / 86400 <= today + within)) && want=$((want + 1))
	done
	got=$(metric_value "authd_device_certificates_expiring{within=\"${within}d\"}")
	[[ $got == "$want" ]] || fail "authd_device_certificates_expiring{within=\"${within}d\"} is '$got', expected $want"
done
[[ $(metric_value 'authd_device_certificates_expiring{within="7d"}') == 1 &&
	$(metric_value 'authd_device_certificates_expiring{within="90d"}') == 2 ]] ||
	fail "expected in5days within 7 days and in60days within 90 days"
# authd's own certificate and every CA of tls.ca, by its RFC 2253 subject.
[[ $(metric_value authd_server_certificate_expiry_timestamp_seconds) == "$(not_after "$AUTHD_PKI/server.pem")" ]] ||
	fail "authd_server_certificate_expiry_timestamp_seconds is not server.pem's notAfter"
awk -v dir="$HARNESS_DIR" '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (dir "/ca-" n ".pem") }' \
	"$AUTHD_PKI/ca-bundle.pem"
for ca in "$HARNESS_DIR"/ca-*.pem; do
	subject=$(openssl x509 -in "$ca" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
	got=$(series_value "authd_ca_certificate_expiry_timestamp_seconds{ca=\"$subject\"}")
	[[ $got == "$(not_after "$ca")" ]] || fail "CA $subject: expiry '$got', expected $(not_after "$ca")"
done
[[ $(grep -c '^authd_ca_certificate_expiry_timestamp_seconds{' "$HARNESS_DIR/scrape.txt") == 2 ]] ||
	fail "expected one expiry series per CA of ca-bundle.pem"
# Placements: the log's rule and VLAN of every accept, quarantine as rule "".
if ! grep -q '^authd_placements_total{rule="employees",vlan="100"} 5$' "$HARNESS_DIR/scrape.txt" ||
	! grep -q '^authd_placements_total{rule="",vlan="999"} 1$' "$HARNESS_DIR/scrape.txt"; then
	fail "expected 5 accepts by rule employees (laptop 3, in5days 2) and 1 in quarantine: $(grep '^authd_placements_total' "$HARNESS_DIR/scrape.txt")"
fi
diff <(placements_from_log) <(placements_from_metrics) >"$HARNESS_DIR/diff.txt" ||
	fail "authd_placements_total differs from the decision log (< log, > metrics): $(cat "$HARNESS_DIR/diff.txt")"

# HTTPS with client certificates required: a scraper without one gets no answer, one with a
# certificate of client_ca gets the metrics. tls.ca also holds a CA whose subject has quotes,
# backslashes and non-ASCII letters: its label is its RFC 2253 subject as openssl prints it.
authd_terminate || fail "$AUTHD_STOP_ERROR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$HARNESS_DIR/odd-ca.key" \
	-out "$HARNESS_DIR/odd-ca.pem" -days 30 -utf8 -subj '/O=Qu"ote\, Inc./CN=Back\\slash é ü' 2>/dev/null ||
	fail "openssl could not make a CA with an odd subject"
cat "$AUTHD_PKI/ca-bundle.pem" "$HARNESS_DIR/odd-ca.pem" >"$HARNESS_DIR/ca-odd-bundle.pem"
AUTHD_CA=$(realpath --relative-to="$AUTHD_PKI" "$HARNESS_DIR/ca-odd-bundle.pem")
METRICS_PORT=$(free_port tcp)
AUTHD_EXTRA_CONFIG="metrics = { listen = \"127.0.0.1:$METRICS_PORT\"; allow = [ \"127.0.0.1/32\" ];
  tls = { certificate = \"$AUTHD_PKI/server.pem\"; private_key = \"$AUTHD_PKI/server.key\";
          client_ca = \"$AUTHD_PKI/ca-bundle.pem\"; }; };"
authd_start
"$AUTHD_BIN" -C -c "$AUTHD_CONF" >/dev/null || fail "authd -C refused a config with metrics over TLS"
https_scrape() {
	curl -sS --max-time 3 -o "$HARNESS_DIR/scrape.txt" -w '%{http_code}' --cacert "$AUTHD_PKI/root-only.pem" \
		--resolve "authd.test:$METRICS_PORT:127.0.0.1" "$@" "https://authd.test:$METRICS_PORT/metrics" \
		2>/dev/null || true
}
got=$(https_scrape)
[[ $got != 200 ]] || fail "a scraper without a client certificate was served"
got=$(https_scrape --cert "$AUTHD_PKI/laptop.pem" --key "$AUTHD_PKI/laptop.key")
[[ $got == 200 ]] || fail "a scraper with a client certificate got HTTP status $got, expected 200"
grep -q '^authd_build_info{version=' "$HARNESS_DIR/scrape.txt" || fail "no metrics over HTTPS"
promtool check metrics <"$HARNESS_DIR/scrape.txt" >"$HARNESS_DIR/promtool.txt" 2>&1 ||
	fail "promtool check metrics with an odd CA subject: $(cat "$HARNESS_DIR/promtool.txt")"
subject=$(openssl x509 -in "$HARNESS_DIR/odd-ca.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
subject=${subject//\\/\\\\}
got=$(series_value "authd_ca_certificate_expiry_timestamp_seconds{ca=\"${subject//\"/\\\"}\"}")
[[ $got == "$(not_after "$HARNESS_DIR/odd-ca.pem")" ]] ||
	fail "no expiry series for the odd CA $subject: $(grep '^authd_ca_certificate' "$HARNESS_DIR/scrape.txt")"
harness_log "metrics: ok"
