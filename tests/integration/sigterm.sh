#!/usr/bin/env bash
# sigterm.sh CASE — SIGTERM at any instant of authd's start (config load, binding, backends,
# worker threads, serving) ends it within 1 s with exit status 0.
#   startup            a minimal config (no backends): SIGTERM 0, 5, 10, 50 and 100 ms after the
#                      launch, 20 times each
#   startup_backends   Redis (live sessions, TLS sessions) and OCSP configured: the same delays,
#                      4 times each
# Prints, per delay, how many runs stopped cleanly and the slowest exit (ms after the SIGTERM).
#
# A SIGTERM that arrives before any code of authd runs (while the shell forks, or while the
# dynamic loader maps its libraries) takes the default action, whatever authd does: the process
# dies of the signal. So authd is launched the way a careful supervisor can launch it, through
# `env --block-signal=TERM,INT`, and the signal is sent once the launched process holds it blocked
# (the launch time counts from before the fork). From then on a pending SIGTERM is authd's to
# take, and it must take it whatever it is doing.
# Needs AUTHD_BIN and AUTHD_PKI (see lib.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=redis_lib.sh
source "$HERE/redis_lib.sh"

DELAYS_MS=(0 5 10 50 100)
LIMIT_MS=1000
PAUSE_FD=""

now_us() { local t=${EPOCHREALTIME//[^0-9]/}; echo $((10#$t)); }

# pause_ms N: sleep N ms without forking (a read that times out on a FIFO nobody writes to),
# so short delays are not swallowed by the cost of starting /bin/sleep.
pause_ms() {
	(($1 > 0)) || return 0
	read -r -t "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))" -u "$PAUSE_FD" _ || true
}

# holds_sigterm PID: PID is env or authd (no longer the shell's child) and blocks SIGTERM.
holds_sigterm() {
	local key value name="" blocked=0
	{
		while read -r key value; do
			case $key in
			Name:) name=$value ;;
			SigBlk:) blocked=$(((16#$value >> 14) & 1)) && break ;;
			esac
		done </proc/"$1"/status
	} 2>/dev/null || return 1
	[[ ($name == env || $name == "${AUTHD_BIN##*/}") && $blocked == 1 ]]
}

# process_state PID: the State letter of /proc/PID/status (R, S, Z...), empty once PID is gone.
process_state() { awk '$1 == "State:" { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

# run_once DELAY_MS: launch authd, SIGTERM it DELAY_MS after the launch (or as soon as it holds
# the signal, if later), and wait up to LIMIT_MS. Sets RUN_MS (ms from the SIGTERM to the exit)
# and RUN_RESULT: ok, hang, or "status N".
run_once() {
	local delay=$1 pid t_launch t_kill left status=0
	: >"$AUTHD_LOG"
	t_launch=$(now_us)
	env --block-signal=TERM,INT "$AUTHD_BIN" -c "$AUTHD_CONF" >>"$AUTHD_LOG" 2>&1 &
	pid=$!
	# Bounded: a process that ends by itself before it is seen holding the signal stays a
	# zombie (kill -0 still succeeds) until bash reaps it, which a loop of builtins may delay.
	until holds_sigterm "$pid"; do
		if ! kill -0 "$pid" 2>/dev/null || [[ $(process_state "$pid") == Z ]] ||
			(($(now_us) - t_launch > 5000000)); then
			break
		fi
	done
	left=$((delay - ($(now_us) - t_launch) / 1000))
	pause_ms "$left"
	kill -TERM "$pid" 2>/dev/null || true
	t_kill=$(now_us)
	# Bash reaps its children as they exit, so kill -0 fails once authd is gone.
	while kill -0 "$pid" 2>/dev/null; do
		if (($(now_us) - t_kill > LIMIT_MS * 1000)); then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			RUN_MS=$LIMIT_MS
			RUN_RESULT=hang
			return 0
		fi
		pause_ms 2
	done
	RUN_MS=$((($(now_us) - t_kill) / 1000))
	wait "$pid" || status=$?
	if ((status == 0)); then RUN_RESULT=ok; else RUN_RESULT="status $status"; fi
}

# run_delays ROUNDS: every delay ROUNDS times; fails after all runs if any was not a clean stop.
run_delays() {
	local rounds=$1 delay i ok worst worst_all=0 failures=0 first_log=""
	for delay in "${DELAYS_MS[@]}"; do
		ok=0 worst=0
		for ((i = 0; i < rounds; i++)); do
			run_once "$delay"
			((RUN_MS <= worst)) || worst=$RUN_MS
			if [[ $RUN_RESULT == ok ]]; then
				((++ok))
			else
				((++failures))
				harness_log "SIGTERM at $delay ms (run $((i + 1))): $RUN_RESULT"
				if [[ -z $first_log ]]; then
					first_log=$HARNESS_DIR/failed-$delay-$i.log
					cp "$AUTHD_LOG" "$first_log"
				fi
			fi
		done
		((worst <= worst_all)) || worst_all=$worst
		harness_log "SIGTERM at $delay ms after launch: $ok/$rounds exited 0 within $LIMIT_MS ms, slowest exit $worst ms"
	done
	harness_log "slowest exit after SIGTERM: $worst_all ms"
	if ((failures > 0)); then
		AUTHD_LOG=$first_log
		fail "$failures of $((rounds * ${#DELAYS_MS[@]})) runs did not exit 0 within $LIMIT_MS ms of SIGTERM"
	fi
}

setup() {
	local fifo=$HARNESS_DIR/pause.fifo
	mkfifo "$fifo"
	exec {PAUSE_FD}<>"$fifo"
	AUTHD_CONF=$HARNESS_DIR/authd.conf
	AUTHD_LOG=$HARNESS_DIR/authd.log
	AUTHD_DECISIONS=$HARNESS_DIR/decisions.jsonl
	AUTHD_PORT=$(free_udp_port)
	# Debug logging costs time at every step; the stop is what is measured.
	AUTHD_LOG_LEVEL=info
}

case_startup() {
	setup
	authd_write_config "$AUTHD_CONF"
	run_delays 20
}

case_startup_backends() {
	setup
	harness_on_exit redis_stop
	redis_start
	# Nothing answers at the OCSP port: authd only asks when a device authenticates.
	AUTHD_ACCT_PORT=$(free_udp_port)
	AUTHD_SESSION_LIFETIME=300
	AUTHD_EXTRA_CONFIG="$(redis_section)
revocation = { ocsp = { url = \"http://127.0.0.1:$(free_port tcp)/\"; timeout_ms = 500; }; };"
	authd_write_config "$AUTHD_CONF"
	run_delays 4
}

case=${1:-}
[[ $(type -t "case_$case") == function ]] || fail "usage: sigterm.sh startup|startup_backends"
harness_init
"case_$case"
