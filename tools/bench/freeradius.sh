#!/usr/bin/env bash
# freeradius.sh — FreeRADIUS 3.2 (Debian package `freeradius`) as the comparison server for
# benchmarks of authd: EAP-TLS only, on 127.0.0.1, configured like authd.
#
#   freeradius.sh start DIR PKI_DIR [--threads N] [--resume] [--port PORT]
#       Writes a self-contained configuration into DIR (created if missing), starts
#       `freeradius -f -d DIR` in the background, waits until it answers a Status-Server
#       (radclient, package freeradius-utils), prints the port on stdout and writes DIR/env:
#           FR_PORT=1812x  FR_PID=4242  FR_DIR=...  FR_SECRET=testing123-radius-secret
#       Its log is DIR/radius.log (what it logs itself) and DIR/freeradius.out (stdout/stderr).
#       PKI_DIR has the layout of tests/pki/make-pki.sh.
#         --threads N  worker threads (default: one per CPU core, like authd's `threads = 0`)
#         --resume     TLS session resumption: FreeRADIUS's session cache (`cache` section)
#         --port PORT  this UDP port instead of a free one picked at random
#   freeradius.sh stop DIR
#       SIGTERM to the server of DIR/env, waits for it to exit (SIGKILL after 10 s).
#
# The configuration is the stock /etc/freeradius/3.0 stripped to what EAP-TLS needs:
#   - one client, 127.0.0.1, secret testing123-radius-secret, require_message_authenticator = yes;
#   - one listener (auth, 127.0.0.1:PORT); no accounting, proxying, IPv6 or control socket;
#   - virtual server: authorize { eap }, authenticate { eap }, post-auth REJECT { eap }:
#     no files/sql/ldap/detail/linelog/exec/preprocess, no attribute filters, nothing logged
#     per request (log auth = no), because authd does none of that either when no directory
#     or decision log is in play, and every module costs time on each round trip;
#   - EAP module: EAP-TLS only (no md5/gtc/peap/ttls/mschapv2), default_eap_type = tls;
#     server.pem (leaf + intermediate) + server.key, ca-bundle.pem as the trusted issuers of
#     devices, TLS 1.2 and 1.3, cipher_list DEFAULT with server preference, OpenSSL's
#     default groups, 1014 TLS bytes per EAP packet as authd's default (fragment_size 1024:
#     FreeRADIUS counts the EAP-TLS header in it), no CRL, OCSP or external verify command,
#     max_sessions 20000 (authd's max_conversations);
#   - reject_delay = 0: the stock 1 s delay of every Access-Reject would only distort reject
#     latencies (authd answers at once);
#   - the session cache only with --resume. FreeRADIUS 3.2.1 has switched OpenSSL's in-memory
#     cache off for good and resumes only sessions it wrote to persist_dir (two files per
#     session: the session in DER and its cached attributes), so --resume means a file write
#     per full handshake and two reads per resumption, in DIR/tlscache. Put DIR on a tmpfs
#     (/dev/shm, /run/user/...) to keep the disk out of the measurement.
# What still differs from authd, none of it a cost worth counting: FreeRADIUS accepts a device
# certificate with no extendedKeyUsage at all (OpenSSL's ssl_client purpose refuses only an EKU
# without clientAuth; authd requires clientAuth), and 3.2.1 puts Message-Authenticator after
# EAP-Message in its replies (authd puts it first).
# As root the server keeps running as root (no user/group: the PKI may sit where the freerad
# user cannot read); as any other user it runs as that user. DIR must not be writable by
# others (FreeRADIUS refuses such a config directory): it is made mode 0700.
set -euo pipefail

PROG=freeradius.sh
SECRET=testing123-radius-secret

die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
usage() {
	die "usage: $PROG start DIR PKI_DIR [--threads N] [--resume] [--port PORT] | $PROG stop DIR"
}

need_command() {
	command -v "$1" >/dev/null || die "the command '$1' is needed (Debian package $2)"
}

# A UDP port on 127.0.0.1 nobody listens on right now (it may be taken before FreeRADIUS
# binds it: start retries then).
free_udp_port() {
	local port i
	for ((i = 0; i < 100; i++)); do
		port=$((20000 + RANDOM % 40000))
		if [[ -z $(ss -Hlun "sport = :$port") ]]; then
			echo "$port"
			return 0
		fi
	done
	die "found no free UDP port in 100 tries"
}

# write_config DIR PKI_DIR PORT THREADS RESUME
write_config() {
	local dir=$1 pki=$2 port=$3 threads=$4 resume=$5 cache_enable=no
	((resume == 0)) || cache_enable=yes
	mkdir -p "$dir/mods-enabled" "$dir/sites-enabled"
	rm -rf "$dir/tlscache"
	mkdir -m 0700 "$dir/tlscache"

	cat >"$dir/radiusd.conf" <<EOF
# Written by tools/bench/freeradius.sh: a minimal EAP-TLS server for benchmarks.
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = $dir
sbindir = /usr/sbin
logdir = $dir
raddbdir = $dir
confdir = $dir
run_dir = $dir
db_dir = $dir
libdir = /usr/lib/freeradius
pidfile = $dir/radiusd.pid
name = freeradius

# Requests remembered for retransmissions (cleanup_delay) and in flight; a benchmark at
# thousands of round trips per second needs more than the stock 16384.
max_request_time = 30
cleanup_delay = 5
max_requests = 262144
hostname_lookups = no

log {
	destination = files
	colourise = no
	file = $dir/radius.log
	stripped_names = no
	auth = no
	auth_badpass = no
	auth_goodpass = no
}

security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = yes
}

proxy_requests = no
\$INCLUDE clients.conf

thread pool {
	start_servers = $threads
	max_servers = $threads
	min_spare_servers = 0
	max_spare_servers = $threads
	max_requests_per_server = 0
	max_queue_size = 65536
	auto_limit_acct = no
}

modules {
	\$INCLUDE mods-enabled/
}

instantiate {
}

\$INCLUDE sites-enabled/
EOF

	cat >"$dir/clients.conf" <<EOF
client localhost {
	ipaddr = 127.0.0.1
	proto = udp
	secret = $SECRET
	require_message_authenticator = yes
	nas_type = other
}
EOF

	# FreeRADIUS reads its dictionaries from /usr/share/freeradius, then this local one.
	printf '# No local attributes.\n' >"$dir/dictionary"

	cat >"$dir/mods-enabled/eap" <<EOF
eap {
	default_eap_type = tls
	timer_expire = 60
	ignore_unknown_eap_types = no
	cisco_accounting_username_bug = no
	max_sessions = 20000

	tls-config tls-common {
		certificate_file = $pki/server.pem
		private_key_file = $pki/server.key
		ca_file = $pki/ca-bundle.pem
		# server.pem holds the leaf and the intermediate: send exactly that, as authd does.
		auto_chain = no
		cipher_list = "DEFAULT"
		cipher_server_preference = yes
		tls_min_version = "1.2"
		tls_max_version = "1.3"
		ecdh_curve = ""
		# FreeRADIUS counts the EAP-TLS header (10 bytes with the length) in fragment_size,
		# authd's eap.fragment_size (1014) only the TLS bytes: 1024 makes the packets alike.
		fragment_size = 1024
		include_length = yes
		check_crl = no
		check_all_crl = no

		# 3.2.1 keeps no sessions in memory: without persist_dir nothing is ever resumed.
		cache {
			enable = $cache_enable
			lifetime = 24 # hours
			name = "authd-bench"
			persist_dir = "$dir/tlscache"
		}

		ocsp {
			enable = no
		}
	}

	tls {
		tls = tls-common
	}
}
EOF

	cat >"$dir/sites-enabled/default" <<EOF
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $port
	}

	authorize {
		eap {
			ok = return
		}
	}

	authenticate {
		eap
	}

	post-auth {
		Post-Auth-Type REJECT {
			eap
		}
	}
}
EOF
}

# alive PID: the process runs (a zombie nobody has reaped yet does not count).
alive() {
	local state
	kill -0 "$1" 2>/dev/null || return 1
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
	[[ $state != Z ]]
}

# status_server PORT: one Status-Server answered (Access-Accept) within a second.
status_server() {
	printf 'Message-Authenticator = 0x00\n' |
		radclient -q -r 1 -t 1 "127.0.0.1:$1" status "$SECRET" >/dev/null 2>&1
}

# launch DIR PORT: start the server and wait until it answers. 0 when ready, 2 when the
# port was taken meanwhile; dies on anything else.
launch() {
	local dir=$1 port=$2 pid deadline=$((SECONDS + 20))
	: >"$dir/radius.log"
	: >"$dir/freeradius.out"
	freeradius -f -d "$dir" >>"$dir/freeradius.out" 2>&1 </dev/null &
	pid=$!
	# It logs "Ready" once its sockets are bound; then a Status-Server proves it answers.
	while ! grep -q 'Ready to process requests' "$dir/radius.log" || ! status_server "$port"; do
		if ! alive "$pid"; then
			wait "$pid" || true
			if grep -qi 'address already in use' "$dir/radius.log" "$dir/freeradius.out"; then
				return 2
			fi
			tail -n 30 "$dir/radius.log" "$dir/freeradius.out" >&2
			die "freeradius exited before answering (config in $dir; debug with: freeradius -X -d $dir)"
		fi
		if ((SECONDS >= deadline)); then
			kill -TERM "$pid" 2>/dev/null || true
			tail -n 30 "$dir/radius.log" "$dir/freeradius.out" >&2
			die "freeradius did not answer a Status-Server within 20 s"
		fi
		sleep 0.05
	done
	printf 'FR_PORT=%s\nFR_PID=%s\nFR_DIR=%s\nFR_SECRET=%s\n' "$port" "$pid" "$dir" "$SECRET" >"$dir/env"
	echo "$port"
}

cmd_start() {
	local dir="" pki="" threads="" resume=0 port="" fixed_port=0 attempt rc
	while (($# > 0)); do
		case $1 in
		--threads) (($# >= 2)) || usage; threads=$2; shift ;;
		--resume) resume=1 ;;
		--port) (($# >= 2)) || usage; port=$2; fixed_port=1; shift ;;
		-*) usage ;;
		*)
			if [[ -z $dir ]]; then dir=$1
			elif [[ -z $pki ]]; then pki=$1
			else usage
			fi
			;;
		esac
		shift
	done
	[[ -n $dir && -n $pki ]] || usage
	[[ -z $threads || $threads =~ ^[1-9][0-9]*$ ]] || die "--threads needs a positive number"
	[[ -z $port || $port =~ ^[1-9][0-9]*$ ]] || die "--port needs a port number"
	[[ -n $threads ]] || threads=$(nproc)
	need_command freeradius freeradius
	need_command radclient freeradius-utils
	need_command ss iproute2
	local f
	for f in server.pem server.key ca-bundle.pem; do
		[[ -s $pki/$f ]] || die "$pki/$f is missing (make a PKI with tests/pki/make-pki.sh)"
	done
	pki=$(cd "$pki" && pwd)

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local running
	running=$(sed -n 's/^FR_PID=//p' "$dir/env" 2>/dev/null) || true
	if [[ -n $running ]] && alive "$running"; then
		die "a server started in $dir is still running (stop it first: $PROG stop $dir)"
	fi
	chmod 0700 "$dir"
	rm -f "$dir/env"
	for attempt in 1 2 3 4 5; do
		[[ -n $port ]] || port=$(free_udp_port)
		write_config "$dir" "$pki" "$port" "$threads" "$resume"
		rc=0
		launch "$dir" "$port" || rc=$?
		((rc == 0)) && return 0
		((fixed_port == 0)) || die "port $port is taken"
		echo "$PROG: port $port was taken (attempt $attempt), trying another" >&2
		port=""
	done
	die "could not start freeradius: every port tried was taken"
}

cmd_stop() {
	(($# == 1)) || usage
	local dir=$1 deadline=$((SECONDS + 10))
	[[ -s $dir/env ]] || die "no $dir/env: nothing was started there"
	local FR_PID
	FR_PID=$(sed -n 's/^FR_PID=//p' "$dir/env")
	[[ $FR_PID =~ ^[0-9]+$ ]] || die "$dir/env names no FR_PID"
	if kill -TERM "$FR_PID" 2>/dev/null; then
		while alive "$FR_PID"; do
			if ((SECONDS >= deadline)); then
				kill -KILL "$FR_PID" 2>/dev/null || true
				echo "$PROG: freeradius (pid $FR_PID) ignored SIGTERM for 10 s; killed" >&2
				break
			fi
			sleep 0.05
		done
	fi
	rm -f "$dir/env"
}

(($# >= 1)) || usage
command=$1
shift
case $command in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
*) usage ;;
esac
