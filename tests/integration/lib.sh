# shellcheck shell=bash
# Harness for running a real authd in tests and the demo. Source it; do not execute it.
#
#   AUTHD_BIN=/path/to/authd AUTHD_PKI=/path/to/test-pki   (the layout of tests/pki/make-pki.sh)
#   source tests/integration/lib.sh
#   harness_init                 # temp dir + EXIT trap (stop authd, check its exit status, clean up)
#   authd_start                  # free port, config, start, wait for "ready"
#   eapol_config laptop >"$HARNESS_DIR/laptop.conf"
#   eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:00:00:01
#   expect_eapol_accept
#   expect_decision 02:00:00:00:00:01 '.outcome == "accept"' "outcome accept"
#
# Knobs read by authd_write_config (set them before authd_start):
#   AUTHD_SECRET (testing123-radius-secret: authd wants 16 characters or more; set here, so the
#   NAS side of every test uses "$AUTHD_SECRET" too)
#   AUTHD_CLIENT_NAME (lab-switch)  AUTHD_CLIENT_ADDRESS (127.0.0.0/8)
#   AUTHD_CA (ca-bundle.pem, relative to AUTHD_PKI)  AUTHD_MIN_VERSION (1.2)  AUTHD_MAX_VERSION (1.3)
#   AUTHD_FRAGMENT_SIZE (1014)  AUTHD_EAP_TIMEOUT (30)  AUTHD_LOG_LEVEL (debug)
#   AUTHD_MAX_CONVERSATIONS (20000)  AUTHD_MAX_BUFFERED_BYTES (authd's default)
#   AUTHD_EXTRA_CONFIG (more config sections, appended as is)
#   AUTHD_CERTIFICATE, AUTHD_PRIVATE_KEY (server.pem and server.key of AUTHD_PKI; private copies
#                where a test needs them)
# After a failure the temp dir is kept when AUTHD_KEEP_TMP=1.

AUTHD_SECRET=${AUTHD_SECRET:-testing123-radius-secret}
HARNESS_DIR=""
HARNESS_EXIT_HOOKS=()
HARNESS_KEEP_DIR=0
AUTHD_PID=""
AUTHD_PORT=""
AUTHD_CONF=""
AUTHD_LOG=""
AUTHD_DECISIONS=""
AUTHD_STOP_ERROR=""
EAPOL_LOG=""
EAPOL_RC=""

harness_log() { printf '%s\n' "$*" >&2; }

# tail_file TITLE FILE: the last lines of FILE, framed, on stderr.
tail_file() {
	local title=$1 file=$2
	[[ -n $file && -s $file ]] || return 0
	harness_log "----- $title (last 40 lines of $file) -----"
	tail -n 40 "$file" >&2
	harness_log "----- end of $title -----"
}

# fail MESSAGE: print what was expected and seen, the tails of the logs, and exit 1.
fail() {
	harness_log "FAIL: $*"
	tail_file "eapol_test output" "$EAPOL_LOG"
	tail_file "authd log" "$AUTHD_LOG"
	exit 1
}

need_command() {
	local cmd=$1 package=$2
	command -v "$cmd" >/dev/null || fail "the command '$cmd' is needed (Debian package $package)"
}

# harness_init [DIR]: work in DIR (kept afterwards) or in a fresh temp dir (removed afterwards).
# shellcheck disable=SC2120 # DIR is optional
harness_init() {
	[[ -n ${AUTHD_BIN:-} && -x ${AUTHD_BIN} ]] ||
		fail "AUTHD_BIN must name the authd binary (got '${AUTHD_BIN:-}')"
	[[ -n ${AUTHD_PKI:-} && -s ${AUTHD_PKI}/ca-bundle.pem ]] ||
		fail "AUTHD_PKI must name a directory made by tests/pki/make-pki.sh (got '${AUTHD_PKI:-}')"
	AUTHD_PKI=$(cd "$AUTHD_PKI" && pwd)
	need_command ss iproute2
	need_command jq jq
	if [[ -n ${1:-} ]]; then
		mkdir -p "$1"
		HARNESS_DIR=$(cd "$1" && pwd)
		HARNESS_KEEP_DIR=1
	else
		HARNESS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/authd-test.XXXXXX")
	fi
	trap harness_cleanup EXIT
}

# rss_kb PID: the resident memory of a process, in KB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# harness_on_exit FUNCTION: also run FUNCTION at exit (last registered first), before authd is
# stopped: for the servers a test starts besides authd (slapd, redis, a second node).
harness_on_exit() { HARNESS_EXIT_HOOKS+=("$1"); }

# On exit: stop authd (its exit status must be 0), then remove the temp dir.
harness_cleanup() {
	local rc=$? i
	trap - EXIT
	# Whatever happens below must run to the end, or authd would outlive a failed test.
	set +e
	for ((i = ${#HARNESS_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
		${HARNESS_EXIT_HOOKS[i]}
	done
	if [[ -n $AUTHD_PID ]] && ! authd_terminate; then
		harness_log "FAIL: $AUTHD_STOP_ERROR"
		tail_file "authd log" "$AUTHD_LOG"
		rc=1
	fi
	if ((rc != 0)) && [[ ${AUTHD_KEEP_TMP:-0} == 1 ]]; then
		harness_log "kept $HARNESS_DIR"
	elif ((HARNESS_KEEP_DIR == 0)) && [[ -n $HARNESS_DIR ]]; then
		rm -rf "$HARNESS_DIR"
	fi
	exit "$rc"
}

# wait_port_file FILE PID OUTPUT: the port a helper started in the background (PID) writes to FILE
# once it listens, within 10 s; fails with the helper's OUTPUT file if it does not.
wait_port_file() {
	local file=$1 pid=$2 output=$3 deadline=$((SECONDS + 10))
	until [[ -s $file ]]; do
		kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)) ||
			fail "$(basename "$output"): the helper did not start: $(cat "$output" 2>/dev/null)"
		sleep 0.05
	done
	cat "$file"
}

# free_port udp|tcp: a port on 127.0.0.1 nobody listens on right now, below the kernel's range
# of ephemeral ports (ip_local_port_range), so no outgoing connection of this machine can hold it.
# Another process may take it before ours binds; authd_start and redis_start retry with another
# port when that happens.
free_port() {
	local port i flag=u top
	[[ $1 == tcp ]] && flag=t
	read -r top _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || top=32768
	((top > 21000)) || top=32768
	for ((i = 0; i < 100; i++)); do
		port=$((20000 + RANDOM % (top - 20000)))
		if [[ -z $(ss -Hl${flag}n "sport = :$port") ]]; then
			echo "$port"
			return 0
		fi
	done
	fail "found no free $1 port in 100 tries"
}

free_udp_port() { free_port udp; }

# authd_clients_section: the NAS the tests play, for authd.conf and authctl.conf alike.
authd_clients_section() {
	cat <<EOF
clients = ( { name = "${AUTHD_CLIENT_NAME:-lab-switch}"; address = "${AUTHD_CLIENT_ADDRESS:-127.0.0.0/8}";
              secret = "$AUTHD_SECRET"; ${AUTHD_CLIENT_EXTRA:-} }${AUTHD_MORE_CLIENTS:+, $AUTHD_MORE_CLIENTS} );
EOF
}

# metrics_enable: a free METRICS_PORT and METRICS_SECTION, a metrics section listening on it
# (for AUTHD_EXTRA_CONFIG).
metrics_enable() {
	METRICS_PORT=$(free_port tcp)
	METRICS_SECTION="metrics = { listen = \"127.0.0.1:$METRICS_PORT\"; allow = [ \"127.0.0.1/32\" ]; };"
}

# metrics_scrape: authd's /metrics into $HARNESS_DIR/scrape.txt.
metrics_scrape() {
	curl -sS --max-time 3 -o "$HARNESS_DIR/scrape.txt" "http://127.0.0.1:$METRICS_PORT/metrics" ||
		fail "cannot scrape http://127.0.0.1:$METRICS_PORT/metrics"
}

# metric_value SERIES: its value in the last scrape, empty when it is absent.
metric_value() { awk -v name="$1" '$1 == name { print $2 }' "$HARNESS_DIR/scrape.txt"; }

# authd_write_config FILE: a complete authd config from the AUTHD_* knobs, absolute paths only.
# Mode 0600, as authd wants a config that holds inline secrets.
authd_write_config() {
	local file=$1
	local accounting="" listen="" address
	: >"$file"
	chmod 600 "$file"
	# AUTHD_LISTEN_ADDRESSES: where authentication is heard, all on AUTHD_PORT (default 127.0.0.1);
	# AUTHD_ACCT_PORT: an accounting listener too; AUTHD_CLIENT_EXTRA: more client settings;
	# AUTHD_MORE_CLIENTS: more entries of the clients list ("{ name = ...; }, { ... }").
	for address in ${AUTHD_LISTEN_ADDRESSES:-127.0.0.1}; do
		listen+="${listen:+, }{ address = \"$address\"; port = $AUTHD_PORT; }"
	done
	[[ -z ${AUTHD_ACCT_PORT:-} ]] ||
		accounting=", { address = \"127.0.0.1\"; port = $AUTHD_ACCT_PORT; type = \"accounting\"; }"
	cat >"$file" <<EOF
listen  = ( $listen$accounting );
$(authd_clients_section)
tls = {
  certificate = "${AUTHD_CERTIFICATE:-$AUTHD_PKI/server.pem}";
  private_key = "${AUTHD_PRIVATE_KEY:-$AUTHD_PKI/server.key}";
  ca          = "$AUTHD_PKI/${AUTHD_CA:-ca-bundle.pem}";
  min_version = "${AUTHD_MIN_VERSION:-1.2}";
  max_version = "${AUTHD_MAX_VERSION:-1.3}";
  require_client_eku = true;
  session_lifetime = ${AUTHD_SESSION_LIFETIME:-0};
};
eap = { fragment_size = ${AUTHD_FRAGMENT_SIZE:-1014}; timeout = ${AUTHD_EAP_TIMEOUT:-30};
        max_conversations = ${AUTHD_MAX_CONVERSATIONS:-20000};
        ${AUTHD_MAX_BUFFERED_BYTES:+max_buffered_bytes = $AUTHD_MAX_BUFFERED_BYTES;} };
log = { decisions = "$AUTHD_DECISIONS"; level = "${AUTHD_LOG_LEVEL:-debug}"; ${AUTHD_LOG_EXTRA:-} };
threads = 2;
EOF
	# AUTHD_EXTRA_CONFIG: more sections (identity, ldap, groups, policy) for the case at hand.
	printf '%s\n' "${AUTHD_EXTRA_CONFIG:-}" >>"$file"
}

# authd_launch: start authd once on AUTHD_PORT and wait for "ready" in its log (AUTHD_OPLOG
# when its log goes elsewhere than its stderr, AUTHD_LOG).
# Returns 0 when ready, 2 when the port was taken meanwhile; fails on anything else.
authd_launch() {
	local deadline=$((SECONDS + 10)) oplog=${AUTHD_OPLOG:-$AUTHD_LOG}
	: >"$AUTHD_LOG"
	"$AUTHD_BIN" -c "$AUTHD_CONF" >>"$AUTHD_LOG" 2>&1 &
	AUTHD_PID=$!
	while ! grep -qw ready "$oplog" 2>/dev/null; do
		if ! kill -0 "$AUTHD_PID" 2>/dev/null; then
			local status=0
			wait "$AUTHD_PID" || status=$?
			AUTHD_PID=""
			if grep -qi 'address already in use' "$AUTHD_LOG" "$oplog"; then
				return 2
			fi
			fail "authd exited with status $status before printing 'ready' (config $AUTHD_CONF)"
		fi
		if ((SECONDS >= deadline)); then
			fail "authd did not print 'ready' within 10 s"
		fi
		sleep 0.05
	done
}

# authd_start: write the config and start authd on a free port (retrying if the port is raced).
authd_start() {
	local attempt rc
	AUTHD_CONF=$HARNESS_DIR/authd.conf
	AUTHD_LOG=$HARNESS_DIR/authd.log
	AUTHD_DECISIONS=$HARNESS_DIR/decisions.jsonl
	: >"$AUTHD_DECISIONS"
	for attempt in 1 2 3 4 5; do
		AUTHD_PORT=$(free_udp_port)
		authd_write_config "$AUTHD_CONF"
		rc=0
		authd_launch || rc=$?
		((rc == 0)) && return 0
		harness_log "port $AUTHD_PORT was taken (attempt $attempt), trying another"
	done
	fail "could not start authd: every port tried was taken"
}

# authd_terminate: SIGTERM, wait up to 10 s for exit status 0. Otherwise returns 1 with the
# reason in AUTHD_STOP_ERROR. Call it in this shell, not in $(...): only this shell can wait.
authd_terminate() {
	local pid=$AUTHD_PID status=0 deadline=$((SECONDS + 10))
	[[ -n $pid ]] || return 0
	AUTHD_PID=""
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			AUTHD_STOP_ERROR="authd did not exit within 10 s of SIGTERM (killed)"
			return 1
		fi
		sleep 0.05
	done
	wait "$pid" || status=$?
	if ((status != 0)); then
		AUTHD_STOP_ERROR="authd exited with status $status after SIGTERM, expected 0"
		return 1
	fi
}

# authd_stop: stop authd now and require a clean exit (status 0).
authd_stop() {
	authd_terminate || fail "$AUTHD_STOP_ERROR"
}

# authd_counter NAME: a counter from the "counters:" line authd logs when it stops.
authd_counter() {
	local name=$1 value
	value=$(grep -o "counters:.*" "$AUTHD_LOG" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$name=//p")
	[[ -n $value ]] || fail "authd logged no counter '$name' (expected a 'counters: ... $name=N' line at exit)"
	echo "$value"
}

# eapol_config DEVICE [KEY=VALUE...]: a wpa_supplicant network block for EAP-TLS as DEVICE
# (a name from the test PKI, NAME-chain to send the intermediate too, or "none": no certificate
# and key, so wpa_supplicant refuses EAP-TLS with a Nak). Extra KEY=VALUE lines
# go into the block as written; the key "global" is a line placed before the block.
# By default TLS 1.3 is off (as in wpa_supplicant 2.10); phase1= overrides that. The server is
# checked against root-only.pem; ca_cert=FILE overrides that.
eapol_config() {
	local device=$1 identity kv phase1="tls_disable_tlsv1_3=1" lines=() globals=()
	local ca_cert=$AUTHD_PKI/root-only.pem
	local cert=${device%-chain}
	shift
	case $cert in
	laptop) identity=laptop-0001.corp.example ;;
	printer) identity=printer-0042.corp.example ;;
	kiosk) identity=kiosk-0007.corp.example ;;
	none) identity=anonymous-0001.corp.example ;;
	*) identity=$cert-0001.corp.example ;;
	esac
	for kv in "$@"; do
		case $kv in
		phase1=*) phase1=${kv#phase1=} ;;
		ca_cert=*) ca_cert=${kv#ca_cert=} ;;
		global=*) globals+=("${kv#global=}") ;;
		*) lines+=("	$kv") ;;
		esac
	done
	((${#globals[@]} == 0)) || printf '%s\n' "${globals[@]}"
	printf 'network={\n'
	printf '\tkey_mgmt=IEEE8021X\n\teap=TLS\n\teapol_flags=0\n'
	printf '\tidentity="%s"\n' "${EAPOL_IDENTITY:-$identity}"
	printf '\tca_cert="%s"\n' "$ca_cert"
	if [[ $device != none ]]; then
		printf '\tclient_cert="%s/%s.pem"\n' "$AUTHD_PKI" "$device"
		printf '\tprivate_key="%s/%s.key"\n' "$AUTHD_PKI" "$cert"
	fi
	printf '\tphase1="%s"\n' "$phase1"
	((${#lines[@]} == 0)) || printf '%s\n' "${lines[@]}"
	printf '}\n'
}

# eapol_run CONF MAC [eapol_test options...]: one authentication against the running authd.
# EAPOL_SECRET overrides the supplicant side's shared secret. Sets EAPOL_RC and EAPOL_LOG;
# never fails by itself (the expect_* functions judge).
eapol_run() {
	local conf=$1 mac=$2
	shift 2
	need_command eapol_test eapoltest
	EAPOL_LOG=$HARNESS_DIR/eapol-${mac//:/}.log
	EAPOL_RC=0
	timeout 60 eapol_test -c "$conf" -a 127.0.0.1 -p "$AUTHD_PORT" -s "${EAPOL_SECRET:-$AUTHD_SECRET}" \
		-r0 -t 10 -M "$mac" "$@" >"$EAPOL_LOG" 2>&1 || EAPOL_RC=$?
}

# Every reply the supplicant received starts with Message-Authenticator (BlastRADIUS hardening).
expect_message_authenticator_first() {
	local bad
	bad=$(awk '/^Received RADIUS message$/ { want = 2; next }
		want == 2 { header = $0; want = 1; next }
		want == 1 { if ($0 !~ /^   Attribute 80 \(Message-Authenticator\)/) print header " first: " $0; want = 0 }' \
		"$EAPOL_LOG")
	[[ -z $bad ]] || fail "expected Message-Authenticator as the first attribute of every reply, saw: $bad"
}

expect_eapol_accept() {
	((EAPOL_RC == 0)) || fail "eapol_test exited $EAPOL_RC, expected 0 (authentication success)"
	grep -q 'RADIUS message: code=2 (Access-Accept)' "$EAPOL_LOG" ||
		fail "eapol_test received no Access-Accept"
	grep -Eq 'MPPE keys OK: [1-9][0-9]*  mismatch: 0' "$EAPOL_LOG" ||
		fail "eapol_test did not print 'MPPE keys OK: N  mismatch: 0' (the MSK from authd does not match): $(grep 'MPPE keys' "$EAPOL_LOG")"
	expect_message_authenticator_first
}

expect_eapol_reject() {
	((EAPOL_RC != 0)) || fail "eapol_test exited 0 (success), expected a rejection"
	grep -q 'RADIUS message: code=3 (Access-Reject)' "$EAPOL_LOG" ||
		fail "eapol_test received no Access-Reject"
	grep -q 'CTRL-EVENT-EAP-FAILURE' "$EAPOL_LOG" ||
		fail "eapol_test saw no EAP-Failure"
	if grep -q 'RADIUS message: code=2 (Access-Accept)' "$EAPOL_LOG"; then
		fail "eapol_test received an Access-Accept, expected only a rejection"
	fi
	expect_message_authenticator_first
}

# expect_eapol_no_reply: the supplicant got nothing at all from authd and timed out.
expect_eapol_no_reply() {
	((EAPOL_RC != 0)) || fail "eapol_test exited 0 (success), expected a timeout"
	grep -q 'EAPOL test timed out' "$EAPOL_LOG" || fail "eapol_test did not time out"
	if grep -q 'Received RADIUS message' "$EAPOL_LOG"; then
		fail "eapol_test received a RADIUS reply, expected none: $(grep -A1 'Received RADIUS message' "$EAPOL_LOG" | tail -n 1)"
	fi
}

# MAC in a form comparable whatever the separators and case: 020000000001.
mac_key() { local m=${1//[^0-9a-fA-F]/}; echo "${m,,}"; }

# decision_for MAC: the last decision-log line for that Calling-Station-Id, waiting up to 5 s.
decision_for() {
	local key line deadline=$((SECONDS + 5))
	key=$(mac_key "$1")
	while :; do
		line=$(jq -c --arg k "$key" \
			'select(((.calling_station_id // "") | ascii_downcase | gsub("[^0-9a-f]"; "")) == $k)' \
			"$AUTHD_DECISIONS" 2>/dev/null | tail -n 1) || true
		if [[ -n $line ]]; then
			echo "$line"
			return 0
		fi
		((SECONDS < deadline)) || break
		sleep 0.1
	done
	tail_file "decision log" "$AUTHD_DECISIONS"
	fail "no decision-log line with calling_station_id $1 in $AUTHD_DECISIONS"
}

# expect_decision MAC JQ_CONDITION DESCRIPTION: the decision line for MAC satisfies the condition.
# Variables usable in the condition: $mac (normalised, as mac_key prints it).
expect_decision() {
	local mac=$1 condition=$2 what=$3 line
	line=$(decision_for "$mac")
	if ! jq -e --arg mac "$(mac_key "$mac")" "$condition" >/dev/null 2>&1 <<<"$line"; then
		harness_log "decision: $line"
		fail "decision log: expected $what ($condition)"
	fi
}

# expect_no_decision: authd wrote no decision at all.
expect_no_decision() {
	[[ ! -s $AUTHD_DECISIONS ]] || fail "expected no decision-log line, found: $(head -n 1 "$AUTHD_DECISIONS")"
}

# A certificate's serial as comparable hex: lower case, no colons, no leading zeros.
cert_serial() {
	local s
	s=$(openssl x509 -in "$1" -noout -serial) || fail "cannot read the serial of $1"
	s=${s#serial=}
	s=${s,,}
	[[ $s =~ ^0*(.*)$ ]] && s=${BASH_REMATCH[1]}
	echo "${s:-0}"
}
