#!/usr/bin/env bash
# radius.sh PROBE CHECK — starts authd for this case alone and runs `radius_probe PORT SECRET CHECK`
# (raw RADIUS packets, see radius_probe.c), then checks the counter authd logs at exit.
# Needs AUTHD_BIN and AUTHD_PKI (see lib.sh). CHECK "unknown-client" starts authd with a client
# list that excludes 127.0.0.1 and expects silence. CHECK "abandoned" starts a conversation,
# never continues it, and expects authd to log it as timed out. CHECK "refused-attributes" also
# expects the drop of the Tunnel-Password request in authd's log, naming the attribute.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"

main() {
	[[ $# -eq 2 ]] || { echo "usage: radius.sh PROBE CHECK" >&2; exit 2; }
	local probe=$1 check=$2 probe_check=$2 counter="" value rc=0 rss_before rss_after
	[[ -x $probe ]] || { echo "radius.sh: no probe binary at '$probe'" >&2; exit 2; }

	case $check in
	no-message-authenticator) counter=no_message_authenticator ;;
	wrong-message-authenticator) counter=bad_message_authenticator ;;
	challenge) ;;
	refused-attributes) counter=refused_attribute ;;
	tunnel-password-flood) counter=refused_attribute ;;
	tunnel-password-flood-unsigned)
		# shellcheck disable=SC2034 # read by authd_write_config in lib.sh
		AUTHD_CLIENT_EXTRA="require_message_authenticator = false;"
		counter=refused_attribute
		;;
	user-password) counter=not_eap ;;
	retransmit) counter=retransmission ;;
	status-server) counter=status_server ;;
	status-server-no-message-authenticator) counter=no_message_authenticator ;;
	unknown-client)
		# shellcheck disable=SC2034 # read by authd_write_config in lib.sh
		AUTHD_CLIENT_ADDRESS=127.0.0.2/32
		probe_check=silent
		counter=unknown_client
		;;
	abandoned)
		# shellcheck disable=SC2034 # read by authd_write_config in lib.sh
		AUTHD_EAP_TIMEOUT=1
		probe_check=challenge
		counter=timeout
		;;
	*) echo "radius.sh: unknown check '$check'" >&2; exit 2 ;;
	esac

	harness_init
	authd_start
	rss_before=$(rss_kb "$AUTHD_PID")
	EAPOL_LOG=$HARNESS_DIR/probe.log # shown by fail() like the supplicant's output
	"$probe" "$AUTHD_PORT" "$AUTHD_SECRET" "$probe_check" >"$EAPOL_LOG" 2>&1 || rc=$?
	if [[ $check == tunnel-password-flood* ]]; then
		rss_after=$(rss_kb "$AUTHD_PID")
		echo "authd RSS ${rss_before} KB before the flood, ${rss_after} KB after"
		# authd grew by 1.9 GB on it when it decoded these attributes (libfreeradius 3.2.1 leaks).
		((rss_after - rss_before < 200 * 1024)) || fail "authd grew by $((rss_after - rss_before)) KB"
	fi
	((rc == 0)) || fail "radius_probe $probe_check exited $rc, expected 0"
	cat "$EAPOL_LOG"
	if [[ $check == abandoned ]]; then
		# radius_probe's Calling-Station-Id; the conversation expires after 1 s (+1 s sweep).
		expect_decision 02:00:00:07:00:01 '.outcome == "reject" and .reason == "timeout"' \
			'outcome "reject", reason "timeout" for the abandoned conversation'
		echo "ok: the abandoned conversation was logged as timeout"
	fi
	authd_stop
	if [[ $check == refused-attributes ]]; then
		grep -q 'dropped: attribute authd never decodes in a request: Tunnel-Password (69)' \
			"$AUTHD_LOG" || fail "expected authd to log the drop of the Tunnel-Password request"
		echo "ok: authd logged the Tunnel-Password request as dropped"
	fi
	if [[ -n $counter ]]; then
		value=$(authd_counter "$counter")
		((value >= 1)) || fail "expected authd's counter $counter >= 1 at exit, saw $value"
		echo "ok: authd counted $counter=$value"
	fi
	# Unanswered packets start no conversation, so nothing can have been decided.
	[[ $check != unknown-client ]] || expect_no_decision
	echo "PASS: $check"
}

main "$@"
