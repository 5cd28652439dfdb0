#!/usr/bin/env bash
# dashboards.sh CASE — dashboards/ checked against a real authd.
#   lint        the Grafana JSON's shape (well-formed, a query in every panel, the datasource
#               always the ${datasource} variable, the instance variable in every query), and every
#               metric name of every panel query and alert expression among the families a real
#               authd serves on /metrics (a histogram's _bucket, _sum and _count included), or up
#   prometheus  a real Prometheus scrapes a real authd every second while eapol_test drives an
#               accept, a reject and a
#               drop; then every panel query returns data and every alert
#               expression evaluates, through Prometheus's HTTP API, and every rule is healthy
# Needs AUTHD_BIN and AUTHD_PKI (see tests/integration/lib.sh), curl; prometheus for the second.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"

DASHBOARD=$ROOT/dashboards/grafana/authd-overview.json
RULES=$ROOT/dashboards/prometheus/authd-alerts.yml
PROM_PID=""

# The queries of every dashboard panel, one a line.
panel_exprs() { jq -r '[.panels[], (.panels[].panels[]?)] | .[].targets[]?.expr // empty' "$DASHBOARD"; }

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

stop_prometheus() { [[ -z $PROM_PID ]] || { kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null; } || true; }

# start_authd_with_metrics [CONFIG]: authd with metrics on a free port (METRICS_PORT) and CONFIG.
start_authd_with_metrics() {
	METRICS_PORT=$(free_port tcp)
	AUTHD_EXTRA_CONFIG="metrics = { listen = \"127.0.0.1:$METRICS_PORT\"; allow = [ \"127.0.0.1/32\" ]; }; ${1:-}"
	authd_start
}

case_lint() {
	local bad exprs names exported unknown
	jq -e . "$DASHBOARD" >/dev/null || fail "$DASHBOARD is not well-formed JSON"
	jq -e '.schemaVersion >= 36 and (.uid | length > 0)' "$DASHBOARD" >/dev/null ||
		fail "the dashboard needs a uid and the schema of a current Grafana (schemaVersion 36 or later)"
	jq -e '.templating.list | any(.name == "datasource" and .type == "datasource" and .query == "prometheus")' \
		"$DASHBOARD" >/dev/null || fail "no datasource variable of type prometheus"
	jq -e '.templating.list | any(.name == "instance" and .definition == "label_values(authd_build_info, instance)")' \
		"$DASHBOARD" >/dev/null || fail "no instance variable from label_values(authd_build_info, instance)"
	bad=$(jq -r '[.panels[], (.panels[].panels[]?)] | .[] | select(.type != "row")
		| select([.targets[]? | select((.expr // "") != "")] | length == 0) | .title' "$DASHBOARD")
	[[ -z $bad ]] || fail "panels without a query: $bad"
	bad=$(jq -r '[.panels[], (.panels[].panels[]?)] | .[] | select(.type != "row" and .datasource == null) | .title' \
		"$DASHBOARD")
	[[ -z $bad ]] || fail "panels without a datasource: $bad"
	bad=$(jq -c '.. | objects | select(has("datasource")) | .datasource
		| select(. != "${datasource}" and . != {"type": "prometheus", "uid": "${datasource}"})' "$DASHBOARD")
	[[ -z $bad ]] || fail "datasource references other than the \${datasource} variable: $bad"
	# shellcheck disable=SC2016 # Grafana's variable, literally
	bad=$(panel_exprs | grep -vF 'instance=~"$instance"' || true)
	[[ -z $bad ]] || fail "queries that ignore the instance variable: $bad"

	exprs=$( (panel_exprs; alert_exprs; jq -r '.templating.list[].definition // empty' "$DASHBOARD"))
	names=$(metric_names <<<"$exprs")
	[[ $(alert_exprs | wc -l) -ge 7 ]] || fail "found $(alert_exprs | wc -l) alert expressions, expected 7 or more"
	grep -qx authd_decisions_total <<<"$names" || fail "the name extraction found no authd_decisions_total: $names"
	[[ $(metric_names <<<'sum by (x) (rate(made_up_total{a="b"}[5m])) / on (y) group_left up' | tr '\n' ' ') == \
		'made_up_total up ' ]] || fail "the name extraction is broken"

	start_authd_with_metrics
	curl -sS --max-time 3 -o "$HARNESS_DIR/scrape.txt" "http://127.0.0.1:$METRICS_PORT/metrics" ||
		fail "no scrape of authd's /metrics"
	exported=$(awk '$1 == "#" && $2 == "TYPE" { print $3
		if ($4 == "histogram") { print $3 "_bucket"; print $3 "_sum"; print $3 "_count" } }
		END { print "up" }' "$HARNESS_DIR/scrape.txt" | sort -u)
	[[ $(wc -l <<<"$exported") -ge 13 ]] || fail "authd's /metrics has too few families: $exported"
	unknown=$(comm -23 <(printf '%s\n' "$names") <(printf '%s\n' "$exported"))
	[[ -z $unknown ]] || fail "metric names that authd does not export: $unknown"
	harness_log "dashboards lint: ok ($(wc -l <<<"$names") names, all exported)"
}

# prom_query EXPR: the JSON answer of an instant query.
prom_query() {
	curl -sS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" || true
}

case_prometheus() {
	local deadline expr answer n=0
	need_command prometheus prometheus
	# A CRL (revoking nobody), so that decisions are checked for revocation and counted.
	start_authd_with_metrics "revocation = { crl = [ \"$AUTHD_PKI/issuing-ca-empty.crl.pem\" ]; };"
	PROM_PORT=$(free_port tcp)
	cat >"$HARNESS_DIR/prometheus.yml" <<EOF2
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [ "$RULES" ]
scrape_configs:
  - job_name: authd
    static_configs: [ { targets: [ "127.0.0.1:$METRICS_PORT" ] } ]
EOF2
	harness_on_exit stop_prometheus
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

	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:0d:00:01
	expect_eapol_accept
	eapol_config expired >"$HARNESS_DIR/expired.conf"
	eapol_run "$HARNESS_DIR/expired.conf" 02:00:00:0d:00:02
	expect_eapol_reject
	# A drop: a NAS with the wrong secret (bad Message-Authenticator), unanswered. Families with
	# two labels or more show only the series that moved, and the per-NAS table asks for drops.
	EAPOL_SECRET=not-the-secret-of-this-nas eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:0d:00:03 -t 1
	expect_eapol_no_reply
	# Both decisions scraped, then a few more scrapes so that every rate has two samples after them.
	deadline=$((SECONDS + 20))
	until [[ $(prom_query 'sum(authd_decisions_total{job="authd"})' | jq -r '.data.result[0].value[1] // 0') == 2 ]]; do
		((SECONDS < deadline)) || fail "Prometheus never saw the 2 decisions: $(prom_query 'authd_decisions_total')"
		sleep 0.5
	done
	sleep 3

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
	while IFS= read -r expr; do
		answer=$(prom_query "$expr")
		[[ $(jq -r .status <<<"$answer") == success ]] || fail "alert expression failed: $expr: $answer"
		n=$((n + 1))
	done < <(alert_exprs)
	# Prometheus evaluated every rule itself too: all loaded, none in error.
	answer=$(curl -sS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/rules")
	[[ $(jq '[.data.groups[].rules[]] | length' <<<"$answer") -ge 7 ]] || fail "rules not loaded: $answer"
	[[ $(jq -r '[.data.groups[].rules[] | select(.health != "ok") | .name] | join(" ")' <<<"$answer") == "" ]] ||
		fail "rules in error: $(jq -c '[.data.groups[].rules[] | select(.health != "ok") | {name, lastError}]' <<<"$answer")"
	harness_log "dashboards prometheus: ok ($n queries evaluated)"
}

[[ $# == 1 ]] || { echo "usage: $0 lint|prometheus" >&2; exit 2; }
harness_init
need_command curl curl
case $1 in
lint) case_lint ;;
prometheus) case_prometheus ;;
*) fail "unknown case $1" ;;
esac
