#!/usr/bin/env bash
# ocsp_responder.sh — a throwaway OCSP responder (`openssl ocsp`, OpenSSL 3.0) for tests and the demo,
# answering for the Device CA of a PKI made by tests/pki/make-pki.sh.
#
#   ocsp_responder.sh start STATE_DIR PKI_DIR [--signer ca|responder|rogue|NAME] [--nmin N]
#                                             [--index FILE]
#       Starts the responder on a port the kernel picks, waits until it answers a real OCSP
#       request, prints the port on stdout and writes STATE_DIR/env, which callers may source:
#         OCSP_PORT=PORT  OCSP_URL=http://127.0.0.1:PORT/  OCSP_PID=PID
#       --signer  who signs the responses: "responder" (default: PKI_DIR/ocsp-responder.pem, the
#                 Device CA's delegated responder, EKU OCSPSigning), "ca" (the Device CA itself),
#                 "rogue" (rogue-ca, which no client trusts), or NAME for PKI_DIR/NAME.pem + .key
#                 (e.g. "server": trusted, but not authorized to sign OCSP responses).
#       --nmin N  responses carry nextUpdate = thisUpdate + N minutes; without it they carry no
#                 nextUpdate at all (a client then judges them by their age).
#       --index   the `openssl ca` database to answer from (default PKI_DIR/issuing-ca.index,
#                 which every test shares: pass a copy to change it at run time).
#       start on a STATE_DIR that holds a running instance stops it first.
#   ocsp_responder.sh stop STATE_DIR
#       Stops it (only if the recorded pid is still this responder).
#   ocsp_responder.sh count STATE_DIR
#       Prints how many OCSP requests it has received since start (its own probes excluded).
#   ocsp_responder.sh revoke STATE_DIR CERT.pem [REASON]
#       Marks CERT revoked now (REASON default keyCompromise) in the index given with --index,
#       and makes the responder use it before returning.
#   ocsp_responder.sh reload STATE_DIR
#       Makes the responder use an index edited by the caller before returning.
#
# STATE_DIR also keeps pid, port, base (requests that were our probes), index (the index
# served), responder.log (stderr: one "Received request" line per request, errors) and
# responder.text (-text: every request and response in full, from a buffered stdout, so it lags).
#
# Caveats of `openssl ocsp -port` in OpenSSL 3.0, which matter to anyone reusing this:
# - It is single-threaded, and a client that connects and closes without sending a request line
#   (a bare TCP port probe, `exec 3<>/dev/tcp/...`) leaves it spinning at 100% CPU, never serving
#   anyone again (openssl/openssl#31129, #23934). Readiness is therefore checked with a real OCSP
#   request, and nothing should ever probe its port otherwise.
# - It listens on [::] (all interfaces, dual-stack); there is no option to bind 127.0.0.1 only.
#   Clients should use OCSP_URL (127.0.0.1). The PKI is worthless, so nothing is exposed.
# - It re-reads a changed index (new inode or mtime) only at the top of its loop, before it
#   waits for the next connection: the first request after an edit still gets the old answer.
#   revoke and reload therefore send one probe request of their own.
set -euo pipefail

die() { printf 'ocsp_responder.sh: %s\n' "$*" >&2; exit 1; }

usage() {
	die "usage: ocsp_responder.sh start STATE_DIR PKI_DIR [--signer ca|responder|rogue|NAME] [--nmin N] [--index FILE] | stop STATE_DIR | count STATE_DIR | revoke STATE_DIR CERT [REASON] | reload STATE_DIR"
}

# The pid in STATE_DIR if that process is still our responder (its command line names STATE_DIR).
our_pid() {
	local dir=$1 pid
	[[ -s $dir/pid ]] || return 1
	pid=$(cat "$dir/pid")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "-out $dir/responder.text" || return 1
	echo "$pid"
}

# Running, and not a zombie: an exited responder re-parented to a container's init may stay
# unreaped for a while, and kill -0 would still find it.
alive() {
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && ${st%% *} != Z ]]
}

received() {
	local n
	n=$(grep -c 'Received request' "$1/responder.log" 2>/dev/null) || true
	echo "${n:-0}"
}

# probe DIR PKI PORT: one real OCSP request (about the laptop); 0 when it was answered.
probe() {
	openssl ocsp -issuer "$2/issuing-ca.pem" -cert "$2/laptop.pem" -url "http://127.0.0.1:$3/" \
		-noverify -timeout 5 >/dev/null 2>&1
}

# Sends a probe so that an edited index is in force; the probe is not counted.
reload() {
	local dir=$1 before after
	[[ -s $dir/base && -s $dir/port ]] || die "$dir: no responder is running there"
	before=$(received "$dir")
	probe "$dir" "$(cat "$dir/pki")" "$(cat "$dir/port")" || die "the responder in $dir did not answer"
	after=$(received "$dir")
	echo $(($(cat "$dir/base") + after - before)) >"$dir/base"
}

revoke() {
	local dir=$1 cert=$2 reason=${3:-keyCompromise} index serial now
	[[ -s $dir/index && -s $dir/pki ]] || die "$dir: no responder was started there"
	index=$(cat "$dir/index")
	[[ $index != "$(cat "$dir/pki")/issuing-ca.index" ]] ||
		die "the PKI's own index is shared by every test: start with --index A_COPY to revoke"
	serial=$(openssl x509 -in "$cert" -noout -serial 2>/dev/null) || die "$cert: not a certificate"
	serial=${serial#serial=}
	grep -q "^V	[0-9]*Z		$serial	" "$index" || die "$cert: serial $serial is not valid in $index"
	now=$(date -u +%y%m%d%H%M%SZ)
	sed -i "s/^V\t\([0-9]*Z\)\t\t$serial\t/R\t\1\t$now,$reason\t$serial\t/" "$index"
	reload "$dir"
}

stop() {
	local dir=$1 pid deadline=$((SECONDS + 10))
	[[ -d $dir ]] || return 0
	dir=$(cd "$dir" && pwd)
	if pid=$(our_pid "$dir"); then
		kill -TERM "$pid" 2>/dev/null || true
		while alive "$pid"; do
			((SECONDS < deadline)) || { kill -KILL "$pid" 2>/dev/null; break; }
			sleep 0.05
		done
	fi
	rm -f "$dir/pid" "$dir/port" "$dir/env"
}

start() {
	local dir=$1 pki=$2 signer=responder nmin="" index="" cert key pid port="" deadline
	shift 2
	while (($#)); do
		case $1 in
		--signer) [[ $# -ge 2 ]] || usage; signer=$2; shift 2 ;;
		--nmin) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; nmin=$2; shift 2 ;;
		--index) [[ $# -ge 2 ]] || usage; index=$2; shift 2 ;;
		*) usage ;;
		esac
	done
	command -v openssl >/dev/null || die "the openssl command is needed (Debian package openssl)"
	[[ -s $pki/issuing-ca.pem && -s $pki/ocsp-responder.pem ]] ||
		die "$pki: not a PKI made by tests/pki/make-pki.sh (no issuing-ca.pem or ocsp-responder.pem)"
	pki=$(cd "$pki" && pwd)
	case $signer in
	ca) cert=$pki/issuing-ca.pem key=$pki/issuing-ca.key ;;
	responder) cert=$pki/ocsp-responder.pem key=$pki/ocsp-responder.key ;;
	rogue) cert=$pki/rogue-ca.pem key=$pki/rogue-ca.key ;;
	*) cert=$pki/$signer.pem key=$pki/$signer.key ;;
	esac
	[[ -s $cert && -s $key ]] || die "--signer $signer: no $cert or $key"
	index=${index:-$pki/issuing-ca.index}
	[[ -s $index ]] || die "$index: no such index"
	index=$(cd "$(dirname "$index")" && pwd)/$(basename "$index")

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	stop "$dir"
	rm -f "$dir/responder.text" "$dir/base"
	# Made here, not by the redirection below: that happens in the child, which may run after
	# the first read of the log (a missing file would end this script under set -e).
	: >"$dir/responder.log"
	echo "$index" >"$dir/index"
	echo "$pki" >"$dir/pki"

	# -port 0: the kernel picks a free port (no race with other tests), reported on stdout as
	# "ACCEPT [::]:PORT PID=N". -ignore_err: a malformed request is answered and forgotten
	# instead of ending the responder. stdout (the ACCEPT line) goes to the log too.
	openssl ocsp -port 0 -index "$index" -CA "$pki/issuing-ca.pem" -rsigner "$cert" -rkey "$key" \
		${nmin:+-nmin "$nmin"} -ignore_err -text -out "$dir/responder.text" \
		>>"$dir/responder.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/pid"

	deadline=$((SECONDS + 30))
	until [[ -n $port ]]; do
		alive "$pid" || { cat "$dir/responder.log" >&2; rm -f "$dir/pid"; die "openssl ocsp exited at once"; }
		((SECONDS < deadline)) || { stop "$dir"; die "openssl ocsp reported no port within 30 s"; }
		port=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\) PID=.*/\1/p' "$dir/responder.log" | head -n 1)
		[[ -n $port ]] || sleep 0.05
	done

	# Ready when it answers a real request (see the caveat above about bare connections).
	until probe "$dir" "$pki" "$port"; do
		alive "$pid" || { cat "$dir/responder.log" >&2; rm -f "$dir/pid"; die "openssl ocsp died"; }
		((SECONDS < deadline)) || { stop "$dir"; die "openssl ocsp did not answer within 30 s"; }
		sleep 0.1
	done
	received "$dir" >"$dir/base"
	echo "$port" >"$dir/port"
	cat >"$dir/env" <<ENV
OCSP_PORT=$port
OCSP_URL=http://127.0.0.1:$port/
OCSP_PID=$pid
ENV
	echo "$port"
}

count() {
	local dir=$1 total base
	[[ -s $dir/base ]] || die "$dir: no responder was started there"
	total=$(received "$dir")
	base=$(cat "$dir/base")
	echo $((total - base))
}

case ${1:-} in
start) [[ $# -ge 3 ]] || usage; shift; start "$@" ;;
stop) [[ $# -eq 2 ]] || usage; stop "$2" ;;
count) [[ $# -eq 2 ]] || usage; count "$2" ;;
revoke) [[ $# -eq 3 || $# -eq 4 ]] || usage; revoke "$2" "$3" "${4:-keyCompromise}" ;;
reload) [[ $# -eq 2 ]] || usage; reload "$2" ;;
*) usage ;;
esac
