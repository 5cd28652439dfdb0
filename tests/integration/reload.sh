#!/usr/bin/env bash
# reload.sh CASE — live reload: the config read again on SIGHUP (or when the TLS files change on
# disk) and put in force as a whole, while devices authenticate.
#   under_load   authbench starts 40 authentications a second for 30 s while the config is changed
#                and reloaded 20 times (a client added, the rule's VLAN changed, the server
#                certificate swapped); after each reload a new conversation (eapol_test) gets the
#                new VLAN; a broken config reloaded mid-load is refused and the service goes on;
#                at the end not one authentication failed or went unanswered
#   tls_renewal  the server certificate and key replaced on disk (written to new files, renamed
#                over the old ones, as renewal clients do): without a signal, the next handshake
#                presents the new certificate
#   clients      a NAS added by a reload is answered at once, and no longer once removed again
#   restart_only a changed listen address is reported as needing a restart, and the rest of the
#                reload applies; then a broken config is refused, and the metrics count both
# Needs AUTHD_BIN, AUTHD_PKI (see lib.sh) and AUTHBENCH_BIN.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

LOAD_PID=""
stop_load() { [[ -z $LOAD_PID ]] || { kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null; } || true; }

# policy_section VLAN: laptops are employees, employees go to VLAN.
policy_section() {
	printf '%s\n' "groups = ( { identity = \"laptop-*.corp.example\"; groups = [ \"employees\" ]; } );" \
		"policy = { rules = ( { name = \"employees\"; group = \"employees\"; vlan = $1; } ); default = \"reject\"; };"
}

# reload_and_wait WHAT: SIGHUP, then the reload's log line (RELOAD_LINE) within 5 s; it must
# say WHAT ("in force" or "refused").
reload_and_wait() {
	local pattern='reload(: config generation [0-9]+ in force| refused)' before deadline=$((SECONDS + 5))
	before=$(grep -cE "$pattern" "$AUTHD_LOG" || true)
	kill -HUP "$AUTHD_PID"
	until (($(grep -cE "$pattern" "$AUTHD_LOG" || true) > before)); do
		((SECONDS < deadline)) || fail "no reload line within 5 s of SIGHUP: $(tail -n 5 "$AUTHD_LOG")"
		sleep 0.05
	done
	RELOAD_LINE=$(grep -E "$pattern" "$AUTHD_LOG" | tail -n 1)
	[[ $RELOAD_LINE == *"$1"* ]] || fail "the reload was not '$1': $RELOAD_LINE"
}

# private_tls: copies of the server's certificate and key that the test may replace.
private_tls() {
	cp "$AUTHD_PKI/server.pem" "$HARNESS_DIR/server.pem"
	install -m 600 "$AUTHD_PKI/server.key" "$HARNESS_DIR/server.key"
	AUTHD_CERTIFICATE=$HARNESS_DIR/server.pem
	AUTHD_PRIVATE_KEY=$HARNESS_DIR/server.key
}

# replace_tls PATH: PATH.pem and PATH.key over the server's private copies, written to new files
# and renamed into place as renewal clients do, the key first.
replace_tls() {
	install -m 600 "$1.key" "$HARNESS_DIR/new.key" && mv "$HARNESS_DIR/new.key" "$HARNESS_DIR/server.key"
	cp "$1.pem" "$HARNESS_DIR/new.pem" && mv "$HARNESS_DIR/new.pem" "$HARNESS_DIR/server.pem"
}

# issue_server_cert NAME: a second server certificate for authd.test from the test CA, NAME.pem
# (with the CA after it) and NAME.key in the temp dir.
issue_server_cert() {
	local dir=$HARNESS_DIR
	openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$1.key" 2>/dev/null
	chmod 600 "$dir/$1.key"
	openssl req -new -key "$dir/$1.key" -subj "/CN=authd.test" -out "$dir/$1.csr" 2>/dev/null
	printf '%s\n' "subjectAltName = DNS:authd.test" "extendedKeyUsage = serverAuth" \
		"keyUsage = critical, digitalSignature" >"$dir/$1.ext"
	openssl x509 -req -in "$dir/$1.csr" -CA "$AUTHD_PKI/issuing-ca.pem" -CAkey "$AUTHD_PKI/issuing-ca.key" \
		-CAcreateserial -CAserial "$dir/ca.srl" -days 30 -extfile "$dir/$1.ext" -out "$dir/$1.pem" 2>/dev/null
	cat "$AUTHD_PKI/issuing-ca.pem" >>"$dir/$1.pem"
}

# presented_cert MAC: the SHA-256 hash of the server certificate eapol_test saw in its last run.
presented_cert() { sed -n 's/.*CTRL-EVENT-EAP-PEER-CERT depth=0 .*hash=\([0-9a-f]*\).*/\1/p' "$EAPOL_LOG" | tail -n 1; }

case_under_load() {
	local i vlan=100 more="" summary mac generation
	need_command openssl openssl
	issue_server_cert server2
	private_tls
	AUTHD_EXTRA_CONFIG=$(policy_section "$vlan") authd_start
	harness_on_exit stop_load
	"$AUTHBENCH_BIN" -s "127.0.0.1:$AUTHD_PORT" --secret "$AUTHD_SECRET" --cert "$AUTHD_PKI/laptop.pem" \
		--key "$AUTHD_PKI/laptop.key" --rate 40 --duration 30 --timeout 1000 --retries 3 -q \
		>"$HARNESS_DIR/load.txt" 2>&1 &
	LOAD_PID=$!
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	for ((i = 1; i <= 20; i++)); do
		case $((i % 3)) in
		0) more+="${more:+, }{ name = \"nas-$i\"; address = \"10.9.0.$i/32\"; secret = \"$AUTHD_SECRET\"; }" ;;
		1) vlan=$((100 + i)) ;;
		2) if ((i % 2)); then replace_tls "$AUTHD_PKI/server"; else replace_tls "$HARNESS_DIR/server2"; fi ;;
		esac
		AUTHD_EXTRA_CONFIG=$(policy_section "$vlan") AUTHD_MORE_CLIENTS=$more authd_write_config "$AUTHD_CONF.new"
		mv "$AUTHD_CONF.new" "$AUTHD_CONF"
		reload_and_wait "in force"
		mac=$(printf '02:00:00:7e:00:%02x' "$i")
		eapol_run "$HARNESS_DIR/laptop.conf" "$mac"
		expect_eapol_accept
		expect_decision "$mac" ".vlan == \"$vlan\"" "VLAN $vlan after reload $i"
		if ((i == 10)); then
			# A broken config: refused as a whole, the running one stays.
			cp "$AUTHD_CONF" "$HARNESS_DIR/good.conf"
			printf 'policy = { rules = ( { name = "x"; vlan = 5; } ) }\nthis is not libconfig\n' >>"$AUTHD_CONF"
			reload_and_wait "refused"
			eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:7e:01:00
			expect_eapol_accept
			expect_decision 02:00:00:7e:01:00 ".vlan == \"$vlan\"" "VLAN $vlan after a refused reload"
			mv "$HARNESS_DIR/good.conf" "$AUTHD_CONF"
		fi
		sleep 0.5
	done
	wait "$LOAD_PID" || fail "authbench failed during the reloads: $(tail -n 5 "$HARNESS_DIR/load.txt")"
	LOAD_PID=""
	summary=$(grep '^summary:' "$HARNESS_DIR/load.txt")
	[[ $summary == *" failures=0 "* && $summary == *" rejects=0 "* ]] ||
		fail "authentications failed during the reloads: $summary"
	[[ $summary =~ auths=([0-9]+) ]] && ((BASH_REMATCH[1] >= 1000)) || fail "too few authentications: $summary"
	generation=$(grep -oE 'config generation [0-9]+ in force' "$AUTHD_LOG" | tail -n 1 | grep -oE '[0-9]+')
	((generation >= 21)) || fail "expected 20 reloads in force, the last generation is $generation"
	[[ $(grep -c 'reload refused' "$AUTHD_LOG") == 1 ]] || fail "reloads refused other than the broken config's"
	harness_log "reload under_load: ok (${summary#summary: })"
}

case_tls_renewal() {
	local before after deadline
	need_command openssl openssl
	issue_server_cert server2
	private_tls
	authd_start
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:7f:00:01
	expect_eapol_accept
	before=$(presented_cert)
	[[ -n $before ]] || fail "eapol_test printed no server certificate hash"
	replace_tls "$HARNESS_DIR/server2"
	deadline=$((SECONDS + 10))
	until grep -q 'config generation 2 in force' "$AUTHD_LOG"; do
		((SECONDS < deadline)) || fail "the renewed files were not loaded within 10 s: $(tail -n 5 "$AUTHD_LOG")"
		sleep 0.1
	done
	grep -q 'changed on disk: reloading' "$AUTHD_LOG" || fail "no log line saying why the config was reloaded"
	eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:7f:00:02
	expect_eapol_accept
	after=$(presented_cert)
	[[ -n $after && $after != "$before" ]] || fail "the server still presents the old certificate ($after)"
	harness_log "reload tls_renewal: ok"
}

case_restart_only() {
	metrics_enable
	AUTHD_EXTRA_CONFIG=$METRICS_SECTION authd_start
	AUTHD_PORT=$((AUTHD_PORT + 1)) AUTHD_EXTRA_CONFIG="$METRICS_SECTION $(policy_section 300)" \
		authd_write_config "$AUTHD_CONF.new"
	mv "$AUTHD_CONF.new" "$AUTHD_CONF"
	reload_and_wait "in force"
	grep -q 'take effect only at the next restart, the running ones stay: listen' "$AUTHD_LOG" ||
		fail "the changed listen address was not reported: $(tail -n 5 "$AUTHD_LOG")"
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:7d:00:01
	expect_eapol_accept
	expect_decision 02:00:00:7d:00:01 '.vlan == "300"' "the reloaded rule's VLAN"
	# A refused reload, and what the metrics say of both.
	echo "this is not libconfig" >>"$AUTHD_CONF"
	reload_and_wait "refused"
	metrics_scrape
	[[ $(metric_value 'authd_config_reloads_total{result="ok"}') == 1 &&
		$(metric_value 'authd_config_reloads_total{result="refused"}') == 1 &&
		$(metric_value authd_config_generation) == 2 ]] ||
		fail "reload metrics: $(grep '^authd_config' "$HARNESS_DIR/scrape.txt")"
	harness_log "reload restart_only: ok"
}

# A NAS added by a reload is served at once; one removed is not.
case_clients() {
	AUTHD_CLIENT_ADDRESS=127.0.0.1/32
	authd_start
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:7c:00:01 -A 127.0.0.2
	expect_eapol_no_reply
	AUTHD_CLIENT_ADDRESS=127.0.0.1/32 \
		AUTHD_MORE_CLIENTS="{ name = \"nas-b\"; address = \"127.0.0.2/32\"; secret = \"$AUTHD_SECRET\"; }" \
		authd_write_config "$AUTHD_CONF.new"
	mv "$AUTHD_CONF.new" "$AUTHD_CONF"
	reload_and_wait "in force"
	eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:7c:00:02 -A 127.0.0.2
	expect_eapol_accept
	expect_decision 02:00:00:7c:00:02 '.nas == "nas-b"' "the decision names the added NAS"
	AUTHD_CLIENT_ADDRESS=127.0.0.1/32 authd_write_config "$AUTHD_CONF.new"
	mv "$AUTHD_CONF.new" "$AUTHD_CONF"
	reload_and_wait "in force"
	eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:7c:00:03 -A 127.0.0.2
	expect_eapol_no_reply
	harness_log "reload clients: ok"
}

harness_init
[[ -x ${AUTHBENCH_BIN:-} ]] || fail "AUTHBENCH_BIN must name authbench"
"case_$1"
