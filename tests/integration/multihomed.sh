#!/usr/bin/env bash
# multihomed.sh CASE — on a multi-homed host, a reply leaves from the address its request arrived
# at. authd runs in a network namespace of its own, bound to 0.0.0.0 and ::, whose interface holds
# two addresses of each family; eapol_test, in the same namespace, sends from the first address to
# the second and takes only replies from the address it sent to (without IP_PKTINFO and
# IPV6_RECVPKTINFO the kernel would answer from the first). Needs root for `ip netns`: exits 77
# (skipped) without it. The namespace is removed at exit. Needs AUTHD_BIN and AUTHD_PKI.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

NETNS=""

remove_netns() {
	[[ -z $NETNS ]] || ip netns delete "$NETNS" 2>/dev/null || true
}

# make_netns: the namespace, its loopback, and an interface with 10.99.0.1, 10.99.0.2,
# fd00:99::1 and fd00:99::2 (a dummy interface, or one end of a veth pair where the kernel has no
# dummy driver).
make_netns() {
	NETNS=authd-mh-$$
	ip netns add "$NETNS" || fail "cannot create network namespace $NETNS"
	ip -n "$NETNS" link set lo up
	if ! ip -n "$NETNS" link add mh0 type dummy 2>/dev/null; then
		ip -n "$NETNS" link add mh0 type veth peer name mh0peer || fail "cannot create an interface in $NETNS"
		ip -n "$NETNS" link set mh0peer up
	fi
	ip -n "$NETNS" link set mh0 up
	ip -n "$NETNS" addr add 10.99.0.1/24 dev mh0
	ip -n "$NETNS" addr add 10.99.0.2/24 dev mh0
	ip -n "$NETNS" addr add fd00:99::1/64 dev mh0 nodad
	ip -n "$NETNS" addr add fd00:99::2/64 dev mh0 nodad
	# authd runs inside it: the harness starts and stops this wrapper, which becomes authd.
	printf '#!/bin/sh\nexec ip netns exec %s %q "$@"\n' "$NETNS" "$AUTHD_BIN" >"$HARNESS_DIR/authd-in-netns"
	chmod +x "$HARNESS_DIR/authd-in-netns"
	AUTHD_BIN=$HARNESS_DIR/authd-in-netns
}

# eapol_from FROM TO MAC: one authentication in the namespace, sent from FROM to TO.
eapol_from() {
	EAPOL_LOG=$HARNESS_DIR/eapol-${3//:/}.log
	EAPOL_RC=0
	ip netns exec "$NETNS" timeout 60 eapol_test -c "$HARNESS_DIR/laptop.conf" -A "$1" -a "$2" \
		-p "$AUTHD_PORT" -s "$AUTHD_SECRET" -r0 -t 5 -M "$3" >"$EAPOL_LOG" 2>&1 || EAPOL_RC=$?
}

case_secondary_address() {
	make_netns
	AUTHD_LISTEN_ADDRESSES="0.0.0.0 ::"
	AUTHD_CLIENT_ADDRESS=10.99.0.0/24
	AUTHD_MORE_CLIENTS="{ name = \"lab-switch-v6\"; address = \"fd00:99::/64\"; secret = \"$AUTHD_SECRET\"; }"
	authd_start
	eapol_config laptop >"$HARNESS_DIR/laptop.conf"
	eapol_from 10.99.0.1 10.99.0.2 02:00:00:70:00:01
	expect_eapol_accept
	eapol_from fd00:99::1 fd00:99::2 02:00:00:70:00:02
	expect_eapol_accept
	# And to the primary address, from it, as before.
	eapol_from 10.99.0.1 10.99.0.1 02:00:00:70:00:03
	expect_eapol_accept
}

main() {
	local case=${1:-}
	if [[ $case == --list ]]; then
		declare -F | sed -n 's/^declare -f case_//p'
		exit 0
	fi
	declare -F "case_$case" >/dev/null || { echo "usage: multihomed.sh CASE (multihomed.sh --list)" >&2; exit 2; }
	if ((EUID != 0)) || ! command -v ip >/dev/null; then
		echo "multihomed.sh: needs root and ip (iproute2) for a network namespace: skipped" >&2
		exit 77
	fi
	need_command eapol_test eapoltest
	harness_init
	harness_on_exit remove_netns
	"case_$case"
}

main "$@"
