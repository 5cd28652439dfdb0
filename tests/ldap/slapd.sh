#!/usr/bin/env bash
# slapd.sh start DIR [--tls PKI_DIR] | stop DIR | restart DIR — a throwaway OpenLDAP server
# (Debian's slapd) on 127.0.0.1 for tests and the demo, with tests/ldap/fixture.ldif loaded.
#
# start writes DIR/env, which callers source:
#   LDAP_URI=ldap://127.0.0.1:PORT   LDAPS_URI=ldaps://127.0.0.1:TLSPORT (with --tls)
#   LDAP_PORT, LDAPS_PORT, LDAP_BIND_DN, LDAP_BIND_PASSWORD, LDAP_BASE_DN, LDAP_GROUP_BASE_DN,
#   LDAP_CA (with --tls), LDAP_ROOT_DN, LDAP_ROOT_PASSWORD (to change the data), SLAPD_PID
# start on a DIR that holds an earlier instance stops it and starts afresh (new data, new ports).
# With --tls the server uses PKI_DIR/ldap-server.pem (tests/pki/make-pki.sh) for ldaps:// and
# StartTLS; clients verify it with PKI_DIR/root-ca.pem. restart stops slapd and starts it again
# on the same ports with the same data (for outage tests). Everything lives in DIR.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOTDN="cn=admin,dc=corp,dc=example"
ROOTPW="admin-secret"
# SLAPD_CERT=NAME serves PKI_DIR/NAME.pem instead (e.g. "server", which names authd.test and not
# 127.0.0.1: a client must refuse it).
CERT=${SLAPD_CERT:-ldap-server}

die() { printf 'slapd.sh: %s\n' "$*" >&2; exit 1; }

# Below the kernel's ephemeral ports, so no outgoing connection holds the one picked.
free_tcp_port() {
	local port i top
	read -r top _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || top=32768
	((top > 21000)) || top=32768
	for ((i = 0; i < 100; i++)); do
		port=$((20000 + RANDOM % (top - 20000)))
		[[ -z $(ss -Hltn "sport = :$port") ]] && { echo "$port"; return 0; }
	done
	die "no free TCP port found"
}

write_config() {
	local dir=$1 pki=$2
	{
		cat <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
CONF
		if [[ -n $pki ]]; then
			cat <<CONF
TLSCertificateFile $pki/$CERT.pem
TLSCertificateKeyFile $pki/$CERT.key
TLSCACertificateFile $pki/root-ca.pem
CONF
		fi
		cat <<CONF
database mdb
maxsize 104857600
suffix "dc=corp,dc=example"
rootdn "$ROOTDN"
rootpw $ROOTPW
directory $dir/db
index objectClass,cn,member eq
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="cn=authd,ou=services,dc=corp,dc=example" read by * none
CONF
	} >"$dir/slapd.conf"
}

# launch DIR: start slapd with the ports recorded in DIR/env and wait until it answers.
# Returns 2 when slapd exited at once (its port was taken meanwhile), so start can pick others.
launch() {
	local dir=$1 urls pid deadline=$((SECONDS + 30))
	# shellcheck source=/dev/null
	source "$dir/env"
	# shellcheck disable=SC2153 # LDAP_PORT comes from DIR/env
	urls="ldap://127.0.0.1:$LDAP_PORT/"
	[[ -n ${LDAPS_PORT:-} ]] && urls="$urls ldaps://127.0.0.1:$LDAPS_PORT/"
	slapd -f "$dir/slapd.conf" -h "$urls" -d 0 >>"$dir/slapd.log" 2>&1 &
	pid=$!
	until ldapsearch -x -LLL -H "$LDAP_URI" -D "$ROOTDN" -w "$ROOTPW" -b "" -s base \
		namingContexts >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null || return 2
		# A loaded machine (CI under sanitizers) can be slow to start it: wait generously.
		((SECONDS < deadline)) || { tail -n 20 "$dir/slapd.log" >&2; die "slapd did not answer within 30 s"; }
		sleep 0.1
	done
	# slapd runs in the foreground (-d): $! is slapd itself, known before its pid file is.
	echo "SLAPD_PID=$pid" >"$dir/pid"
	# restart gives a new PID: env keeps naming the running one.
	sed -i '/^SLAPD_PID=/d' "$dir/env"
	cat "$dir/pid" >>"$dir/env"
}

# write_env DIR PKI: fresh random ports for slapd, recorded in DIR/env.
write_env() {
	local dir=$1 pki=$2 port tls_port=""
	port=$(free_tcp_port)
	[[ -n $pki ]] && tls_port=$(free_tcp_port)
	cat >"$dir/env" <<ENV
LDAP_PORT=$port
LDAPS_PORT=$tls_port
LDAP_URI=ldap://127.0.0.1:$port
LDAPS_URI=${tls_port:+ldaps://127.0.0.1:$tls_port}
LDAP_BIND_DN="cn=authd,ou=services,dc=corp,dc=example"
LDAP_BIND_PASSWORD=authd-bind-secret
LDAP_BASE_DN="ou=devices,dc=corp,dc=example"
LDAP_GROUP_BASE_DN="ou=groups,dc=corp,dc=example"
LDAP_CA=${pki:+$pki/root-ca.pem}
LDAP_ROOT_DN="$ROOTDN"
LDAP_ROOT_PASSWORD=$ROOTPW
ENV
}

start() {
	local dir=$1 pki="" attempt rc
	shift
	if [[ ${1:-} == --tls ]]; then
		[[ -s ${2:-}/$CERT.pem ]] || die "--tls needs a PKI dir made by tests/pki/make-pki.sh"
		pki=$(cd "$2" && pwd)
	fi
	command -v slapd >/dev/null || die "slapd is needed (Debian packages slapd, ldap-utils)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	# A leftover instance (an interrupted run) would hold the database: replace it.
	stop "$dir"
	rm -rf "$dir/db" "$dir/slapd.log"
	mkdir -p "$dir/db"
	write_config "$dir" "$pki"
	for attempt in 1 2 3 4 5; do
		write_env "$dir" "$pki"
		rc=0
		launch "$dir" || rc=$?
		((rc == 0)) && break
		echo "slapd.sh: slapd exited at once (attempt $attempt; port taken?), trying other ports" >&2
	done
	((rc == 0)) || { tail -n 20 "$dir/slapd.log" >&2; die "slapd would not start"; }
	ldapmodify -x -a -H "$LDAP_URI" -D "$ROOTDN" -w "$ROOTPW" -f "$HERE/fixture.ldif" \
		>"$dir/load.log" 2>&1 || { cat "$dir/load.log" >&2; die "loading fixture.ldif failed"; }
}

stop() {
	local dir=$1 pid deadline=$((SECONDS + 10))
	[[ -s $dir/slapd.pid ]] || return 0
	dir=$(cd "$dir" && pwd)
	pid=$(cat "$dir/slapd.pid")
	# A pid file left by a crash may name an unrelated process by now: only our slapd is stopped.
	if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-f $dir/slapd.conf"; then
		rm -f "$dir/slapd.pid"
		return 0
	fi
	kill -CONT "$pid" 2>/dev/null || true
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do
		((SECONDS < deadline)) || { kill -KILL "$pid" 2>/dev/null; break; }
		sleep 0.05
	done
	rm -f "$dir/slapd.pid"
}

case ${1:-} in
start) [[ $# -ge 2 ]] || die "usage: slapd.sh start DIR [--tls PKI_DIR]"; shift; start "$@" ;;
stop) [[ $# -eq 2 ]] || die "usage: slapd.sh stop DIR"; stop "$2" ;;
restart) [[ $# -eq 2 ]] || die "usage: slapd.sh restart DIR"; stop "$2"; launch "$(cd "$2" && pwd)" ;;
*) die "usage: slapd.sh start DIR [--tls PKI_DIR] | stop DIR | restart DIR" ;;
esac
