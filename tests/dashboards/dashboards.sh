#!/usr/bin/env bash
# dashboards.sh CASE — dashboards/ checked against a real authd.
#   lint        every Grafana dashboard's shape (well-formed, a uid of its own, a query in every
#               panel, the datasource always the ${datasource} variable, the instance variable in
#               every query), and every metric name of every panel query and alert expression
#               among the families a real authd serves on /metrics (a histogram's _bucket, _sum and
#               _count included), or up
#   prometheus  a real Prometheus scrapes a real authd every second while the test drives what
#               the dashboards show: accepts, the rejects a test can cause (expired, not yet valid,
#               unknown CA, no clientAuth EKU, EAP-TLS refused, revoked by CRL, revoked by the helpdesk, unknown
#               device, no matching rule, directory unavailable, revocation unknown), a drop, an
#               LDAP outage (slapd stopped), an OCSP outage (the responder stopped) and revokes
#               with Disconnect-Requests to a test NAS that ACKs and one that NAKs. Then, through
#               Prometheus's HTTP API: every panel query of every dashboard returns data, every
#               alert expression evaluates and every family it reads has data, every rule is
#               healthy, authd_decisions_total by outcome and reason equals the decision log's
#               line counts, and AuthdBackendDown became active during the LDAP outage.
# Needs AUTHD_BIN and AUTHD_PKI (see tests/integration/lib.sh) and curl; the second case also
# prometheus, redis-server, slapd, AUTHCTL_BIN (authctl), NAS_BIN (test_nas) and OCSP_RESPONDER
# (tests/ocsp/ocsp_responder.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
# shellcheck source=tests/integration/redis_lib.sh
source "$ROOT/tests/integration/redis_lib.sh"

DASHBOARDS=("$ROOT"/dashboards/grafana/*.json)
RULES=$ROOT/dashboards/prometheus/authd-alerts.yml
SLAPD_SH=$ROOT/tests/ldap/slapd.sh
PROM_PID=""
SLAPD_DIR=""
OCSP_DIR=""
NAS_PIDS=()

# The queries of every panel of the dashboards named (all of them by default), one a line.
panel_exprs() {
	jq -r '[.panels[], (.panels[].panels[]?)] | .[].targets[]?.expr // empty' "${@:-${DASHBOARDS[@]}}"
}

# The alert expressions of the rules file, one a line ("expr: |" blocks joined).
alert_exprs() {
	awk '/^ *expr: *\|/ { block = 1; indent = -1; if (e != "") print e; e = ""; next }
	     /^ *expr: / { sub(/^ *expr: */, ""); print; next }
	     block { match($0, /^ */)
	             if (indent < 0) indent = RLENGTH
	             if (RLENGTH < indent || $0 ~ /^ *$/) { block = 0; print e; e = ""; next }
	             e = e " " substr($0, RLENGTH + 1) }
	     END { if (block && e != "") print e }' "$RULES"
}

# Metric names in PromQL read on stdin, one a line: identifiers left once strings, label
# matchers, ranges, grouping lists and Grafana variables are gone, less functions (followed by
# "(") and keywords. label_values(METRIC, LABEL) keeps its METRIC.
metric_names() {
	sed -E -e 's/label_values\(([^,)]*)(,[^)]*)?\)/\1/g' -e 's/"[^"]*"//g' -e 's/\{[^}]*\}//g' \
		-e 's/\[[^]]*\]//g' -e 's/(by|without|on|ignoring|group_left|group_right) *\([^)]*\)/ /g' \
		-e 's/\$\{?[A-Za-z_]+\}?//g' |
		grep -oE '[A-Za-z_:][A-Za-z0-9_:]* *\(?' | grep -v '($' | sed 's/ *$//' |
		grep -vxE 'by|without|on|ignoring|group_left|group_right|bool|and|or|unless|offset|inf|nan|Inf|NaN' |
		sort -u
}

stop_servers() {
	local pid
	[[ -z $PROM_PID ]] || { kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null; }
	for pid in "${NAS_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	[[ -z $OCSP_DIR ]] || "$OCSP_RESPONDER" stop "$OCSP_DIR" >/dev/null 2>&1
	[[ -z $SLAPD_DIR ]] || "$SLAPD_SH" stop "$SLAPD_DIR" >/dev/null 2>&1
	redis_stop
	return 0
}

# The metrics section of authd.conf, on METRICS_PORT.
metrics_section() {
	echo "metrics = { listen = \"127.0.0.1:$METRICS_PORT\"; allow = [ \"127.0.0.1/32\" ]; };"
}

# lint_dashboard FILE: the shape checks of one dashboard.
lint_dashboard() {
	local file=$1 name bad
	name=$(basename "$file")
	jq -e . "$file" >/dev/null || fail "$name is not well-formed JSON"
	jq -e '.schemaVersion >= 36 and (.uid | length > 0)' "$file" >/dev/null ||
		fail "$name needs a uid and the schema of a current Grafana (schemaVersion 36 or later)"
	jq -e '.templating.list | any(.name == "datasource" and .type == "datasource" and .query == "prometheus")' \
		"$file" >/dev/null || fail "$name: no datasource variable of type prometheus"
	jq -e '.templating.list | any(.name == "instance" and .definition == "label_values(authd_build_info, instance)")' \
		"$file" >/dev/null || fail "$name: no instance variable from label_values(authd_build_info, instance)"
	bad=$(jq -r '[.panels[], (.panels[].panels[]?)] | .[] | select(.type != "row")
		| select([.targets[]? | select((.expr // "") != "")] | length == 0) | .title' "$file")
	[[ -z $bad ]] || fail "$name: panels without a query: $bad"
	bad=$(jq -r '[.panels[], (.panels[].panels[]?)] | .[] | select(.type != "row" and .datasource == null) | .title' \
		"$file")
	[[ -z $bad ]] || fail "$name: panels without a datasource: $bad"
	bad=$(jq -c '.. | objects | select(has("datasource")) | .datasource
		| select(. != "${datasource}" and . != {"type": "prometheus", "uid": "${datasource}"})' "$file")
	[[ -z $bad ]] || fail "$name: datasource references other than the \${datasource} variable: $bad"
	bad=$(jq -r '[.panels[], (.panels[].panels[]?)] | map(.id) | group_by(.) | map(select(length > 1) | .[0]) | .[]' \
		"$file")
	[[ -z $bad ]] || fail "$name: panel ids used twice: $bad"
	# shellcheck disable=SC2016 # Grafana's variable, literally
	bad=$(panel_exprs "$file" | grep -vF 'instance=~"$instance"' || true)
	[[ -z $bad ]] || fail "$name: queries that ignore the instance variable: $bad"
}

case_lint() {
	local file bad exprs names exported unknown
	((${#DASHBOARDS[@]} >= 4)) || fail "expected 4 dashboards or more in dashboards/grafana, found: ${DASHBOARDS[*]}"
	for file in "${DASHBOARDS[@]}"; do
		lint_dashboard "$file"
	done
	bad=$(jq -r .uid "${DASHBOARDS[@]}" | sort | uniq -d)
	[[ -z $bad ]] || fail "dashboard uids used twice: $bad"

	exprs=$( (panel_exprs; alert_exprs; jq -r '.templating.list[].definition // empty' "${DASHBOARDS[@]}"))
	names=$(metric_names <<<"$exprs")
	[[ $(alert_exprs | wc -l) -ge 15 ]] || fail "found $(alert_exprs | wc -l) alert expressions, expected 15 or more"
	grep -qx authd_decisions_total <<<"$names" || fail "the name extraction found no authd_decisions_total: $names"
	[[ $(metric_names <<<'sum by (x) (rate(made_up_total{a="b"}[5m])) / on (y) group_left up' | tr '\n' ' ') == \
		'made_up_total up ' ]] || fail "the name extraction is broken"

	# A CRL, so that the families labelled by CRL file have a series to declare.
	METRICS_PORT=$(free_port tcp)
	AUTHD_EXTRA_CONFIG="$(metrics_section) revocation = { crl = [ \"$AUTHD_PKI/issuing-ca-empty.crl.pem\" ]; };"
	authd_start
	curl -sS --max-time 3 -o "$HARNESS_DIR/scrape.txt" "http://127.0.0.1:$METRICS_PORT/metrics" ||
		fail "no scrape of authd's /metrics"
	exported=$(awk '$1 == "#" && $2 == "TYPE" { print $3
		if ($4 == "histogram") { print $3 "_bucket"; print $3 "_sum"; print $3 "_count" } }
		END { print "up" }' "$HARNESS_DIR/scrape.txt" | sort -u)
	[[ $(wc -l <<<"$exported") -ge 13 ]] || fail "authd's /metrics has too few families: $exported"
	unknown=$(comm -23 <(printf '%s\n' "$names") <(printf '%s\n' "$exported"))
	[[ -z $unknown ]] || fail "metric names that authd does not export: $unknown"
	harness_log "dashboards lint: ok (${#DASHBOARDS[@]} dashboards, $(wc -l <<<"$names") names, all exported)"
}

# prom_query EXPR: the JSON answer of an instant query.
prom_query() {
	curl -sS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" || true
}

# prom_wait EXPR WHAT: until EXPR has a result (a comparison holds), at most 20 s.
prom_wait() {
	local deadline=$((SECONDS + 20))
	until [[ $(prom_query "$1" | jq -r '.data.result | length') -gt 0 ]]; do
		((SECONDS < deadline)) || fail "Prometheus never saw $2 ($1)"
		sleep 0.5
	done
}

# prom_value EXPR: the value of an instant query's first series, or 0 without one.
prom_value() { prom_query "$1" | jq -r '.data.result[0].value[1] // 0'; }

prometheus_start() {
	local deadline
	PROM_PORT=$(free_port tcp)
	cat >"$HARNESS_DIR/prometheus.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [ "$RULES" ]
scrape_configs:
  - job_name: authd
    static_configs: [ { targets: [ "127.0.0.1:$METRICS_PORT" ] } ]
EOF
	prometheus --config.file="$HARNESS_DIR/prometheus.yml" --storage.tsdb.path="$HARNESS_DIR/tsdb" \
		--web.listen-address="127.0.0.1:$PROM_PORT" >"$HARNESS_DIR/prometheus.log" 2>&1 &
	PROM_PID=$!
	deadline=$((SECONDS + 20))
	until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PROM_PORT/-/ready") == 200 ]]; do
		if ! kill -0 "$PROM_PID" 2>/dev/null || ((SECONDS >= deadline)); then
			fail "prometheus did not start: $(tail -n 20 "$HARNESS_DIR/prometheus.log")"
		fi
		sleep 0.2
	done
}

# nas_start MODE: a test NAS (Dynamic Authorization Server) answering in MODE; prints its port.
nas_start() {
	local port_file=$HARNESS_DIR/nas-$1.port
	"$NAS_BIN" listen --port-file "$port_file" --secret "$AUTHD_SECRET" --mode "$1" \
		--log "$HARNESS_DIR/nas-$1.log" >"$HARNESS_DIR/nas-$1.out" 2>&1 &
	NAS_PIDS+=($!)
	NAS_PORT=$(wait_port_file "$port_file" "$!" "$HARNESS_DIR/nas-$1.out")
}

# auth DEVICE MAC OUTCOME REASON: one authentication, the supplicant's view and the decision.
auth() {
	local device=$1 mac=$2 outcome=$3 reason=$4
	eapol_config "$device" >"$HARNESS_DIR/$device.conf"
	eapol_run "$HARNESS_DIR/$device.conf" "$mac"
	if [[ $outcome == accept ]]; then expect_eapol_accept; else expect_eapol_reject; fi
	expect_decision "$mac" ".outcome == \"$outcome\" and .reason == \"$reason\"" "$outcome, reason $reason"
}

# revoke DEVICE COA_PORT EXPECTED: authctl revokes DEVICE's certificate and sends the
# Disconnect-Request to the NAS at COA_PORT; its report must contain EXPECTED.
revoke() {
	local out
	out=$(AUTHD_CLIENT_EXTRA="coa_port = $2;" authctl_cmd revoke --cert "$AUTHD_PKI/$1.pem" --reason "test") ||
		fail "authctl revoke $1 failed: $out"
	[[ $out == *"$3"* ]] || fail "authctl revoke $1: expected '$3' in its report: $out"
}

# alert_active NAME JQ: the alert NAME is pending or firing in Prometheus with labels matching JQ.
alert_active() {
	curl -sS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/alerts" | jq -e --arg name "$1" \
		"[.data.alerts[] | select(.labels.alertname == \$name and (.state == \"pending\" or .state == \"firing\"))
		  | .labels | select($2)] | length > 0" >/dev/null
}

# The decision log and Prometheus's authd_decisions_total, as "outcome reason count" lines.
decisions_from_log() { jq -r '[.outcome, .reason] | @tsv' "$AUTHD_DECISIONS" | sort | uniq -c | awk '{ print $2, $3, $1 }'; }
decisions_from_prometheus() {
	prom_query 'sum by (outcome, reason) (authd_decisions_total{job="authd"}) > 0' |
		jq -r '.data.result[] | "\(.metric.outcome) \(.metric.reason) \(.value[1])"' | sort
}

case_prometheus() {
	local deadline expr answer name n=0 ldap_rules
	need_command prometheus prometheus
	need_command redis-server redis-server
	[[ -x ${AUTHCTL_BIN:-} && -x ${NAS_BIN:-} && -x ${OCSP_RESPONDER:-} ]] ||
		fail "AUTHCTL_BIN, NAS_BIN and OCSP_RESPONDER must be set"
	harness_on_exit stop_servers

	# The backends: Redis (helpdesk list, status cache, sessions), a directory, an OCSP responder,
	# a CRL that revokes `revoked`, and two NASes for the Disconnect-Requests.
	redis_start
	SLAPD_DIR=$HARNESS_DIR/slapd
	"$SLAPD_SH" start "$SLAPD_DIR" >/dev/null || fail "could not start slapd (tests/ldap/slapd.sh)"
	# shellcheck source=/dev/null
	source "$SLAPD_DIR/env"
	OCSP_DIR=$HARNESS_DIR/ocsp
	OCSP_PORT=$("$OCSP_RESPONDER" start "$OCSP_DIR" "$AUTHD_PKI") || fail "could not start the OCSP responder"
	cp "$AUTHD_PKI/issuing-ca.crl.pem" "$HARNESS_DIR/crl.pem"
	nas_start ack
	NAS_ACK_PORT=$NAS_PORT
	nas_start nak
	NAS_NAK_PORT=$NAS_PORT

	ldap_rules='{ name = "employees"; group = "employees"; vlan = 100; },
		{ name = "printers"; group = "cn=printers,ou=groups,dc=corp,dc=example"; vlan = 200; }'
	AUTHCTL_EXTRA_CONFIG="sessions = { timeout_ms = 200; retries = 1; };"
	AUTHD_CLIENT_EXTRA="coa_port = $NAS_ACK_PORT;"
	METRICS_PORT=$(free_port tcp)
	AUTHD_EXTRA_CONFIG="$(metrics_section) $(redis_section) $AUTHCTL_EXTRA_CONFIG
ldap = { uris = [ \"$LDAP_URI\" ]; allow_cleartext_bind = true; bind_dn = \"$LDAP_BIND_DN\";
         bind_password = \"$LDAP_BIND_PASSWORD\"; base_dn = \"$LDAP_BASE_DN\";
         group_base_dn = \"$LDAP_GROUP_BASE_DN\"; connect_timeout_ms = 500; timeout_ms = 1000; };
policy = { rules = ( $ldap_rules ); };
revocation = { ocsp = { url = \"http://127.0.0.1:$OCSP_PORT/\"; timeout_ms = 1000; };
               crl = [ \"$HARNESS_DIR/crl.pem\" ]; };"
	authd_start
	prometheus_start

	# Accepts (the second one from the status cache), and the rejects a test causes easily.
	auth laptop 02:00:00:0d:00:01 accept ok
	auth laptop 02:00:00:0d:00:02 accept ok
	auth printer 02:00:00:0d:00:03 accept ok
	auth expired 02:00:00:0d:00:04 reject cert_expired
	auth rogue-chain 02:00:00:0d:00:05 reject unknown_ca
	auth noeku 02:00:00:0d:00:06 reject no_client_eku
	auth future 02:00:00:0d:00:07 reject cert_not_yet_valid
	auth none 02:00:00:0d:00:10 reject eap_nak
	auth revoked 02:00:00:0d:00:08 reject revoked
	auth kiosk 02:00:00:0d:00:09 reject no_matching_rule
	auth stranger 02:00:00:0d:00:0a reject unknown_device
	# A drop: requests signed with the wrong secret (bad Message-Authenticator), unanswered.
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	EAPOL_SECRET=not-the-secret-of-this-nas eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:0d:00:0b -t 1
	expect_eapol_no_reply

	# An LDAP outage: the directory is down for authd, and AuthdBackendDown becomes active.
	"$SLAPD_SH" stop "$SLAPD_DIR" || fail "could not stop slapd"
	auth laptop 02:00:00:0d:00:0c reject directory_unavailable
	deadline=$((SECONDS + 15))
	until alert_active AuthdBackendDown '.backend == "directory"'; do
		((SECONDS < deadline)) || fail "AuthdBackendDown did not become active during the LDAP outage: $(
			curl -sS "http://127.0.0.1:$PROM_PORT/api/v1/alerts"; prom_query authd_backend_up)"
		sleep 0.5
	done
	"$SLAPD_SH" restart "$SLAPD_DIR" >/dev/null || fail "could not restart slapd"
	auth laptop 02:00:00:0d:00:0d accept ok

	# An OCSP outage: a device whose status nobody cached is refused.
	"$OCSP_RESPONDER" stop "$OCSP_DIR" || fail "could not stop the OCSP responder"
	auth inj-exact 02:00:00:0d:00:0e reject revocation_unknown

	# Revokes: the laptop's sessions are disconnected (ACK), the printer's NAKed (Error-Cause 503).
	revoke laptop "$NAS_ACK_PORT" "disconnected (ACK"
	auth laptop 02:00:00:0d:00:0f reject revoked
	revoke printer "$NAS_NAK_PORT" "NAS refused"

	# Every decision, the revokes and their Disconnect-Requests scraped, then a few more scrapes
	# so that every rate has two samples after them.
	prom_wait "sum(authd_decisions_total{job=\"authd\"}) == $(wc -l <"$AUTHD_DECISIONS")" "every decision"
	prom_wait 'sum(authd_helpdesk_changes_total{job="authd", action="revoke"}) >= 2' "the 2 revokes"
	prom_wait 'sum(authd_dynauth_naks_total{job="authd"}) >= 1' "the Disconnect-NAK"
	sleep 3
	diff <(decisions_from_log) <(decisions_from_prometheus) >"$HARNESS_DIR/diff.txt" ||
		fail "authd_decisions_total by outcome and reason differs from the decision log (< log, > Prometheus): $(cat "$HARNESS_DIR/diff.txt")"

	# Grafana's variables as Grafana would fill them: every instance, a 1 minute rate window, the
	# last 5 minutes as the range.
	while IFS= read -r expr; do
		expr=${expr//\$instance/.*}
		expr=${expr//\$__rate_interval/1m}
		expr=${expr//\$__range/5m}
		answer=$(prom_query "$expr")
		[[ $(jq -r .status <<<"$answer") == success ]] || fail "panel query failed: $expr: $answer"
		[[ $(jq -r '.data.result | length' <<<"$answer") -gt 0 ]] || fail "panel query returned no data: $expr"
		n=$((n + 1))
	done < <(panel_exprs)
	answer=$(prom_query 'authd_build_info')
	[[ $(jq -r '.data.result[0].metric.instance' <<<"$answer") == "127.0.0.1:$METRICS_PORT" ]] ||
		fail "the instance variable's query finds no instance: $answer"
	# Alert expressions: each evaluates; the thresholds keep most quiet here, so what must have
	# data is every family each one reads.
	while IFS= read -r expr; do
		answer=$(prom_query "$expr")
		[[ $(jq -r .status <<<"$answer") == success ]] || fail "alert expression failed: $expr: $answer"
		n=$((n + 1))
	done < <(alert_exprs)
	while IFS= read -r name; do
		[[ $(prom_value "count($name{job=\"authd\"})") -gt 0 ]] || fail "an alert reads $name, which has no data"
	done < <(alert_exprs | metric_names)
	# Prometheus evaluated every rule itself too: all loaded, none in error.
	answer=$(curl -sS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/rules")
	[[ $(jq '[.data.groups[].rules[]] | length' <<<"$answer") -ge 15 ]] || fail "rules not loaded: $answer"
	[[ $(jq -r '[.data.groups[].rules[] | select(.health != "ok") | .name] | join(" ")' <<<"$answer") == "" ]] ||
		fail "rules in error: $(jq -c '[.data.groups[].rules[] | select(.health != "ok") | {name, lastError}]' <<<"$answer")"
	harness_log "dashboards prometheus: ok ($n queries evaluated, $(wc -l <"$AUTHD_DECISIONS") decisions, ${SECONDS}s)"
}

[[ $# == 1 ]] || { echo "usage: $0 lint|prometheus" >&2; exit 2; }
harness_init
need_command curl curl
case $1 in
lint) case_lint ;;
prometheus) case_prometheus ;;
*) fail "unknown case $1" ;;
esac
