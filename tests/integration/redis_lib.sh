# redis_lib.sh — sourced by tests that need a throwaway redis-server (after lib.sh):
# redis_start, redis_stop, redis_section. The server listens on 127.0.0.1 at REDIS_PORT (a free
# port unless set), keeps nothing on disk and is stopped by stop_redis on exit.

REDIS_PORT=""
REDIS_PID=""

redis_start() {
	local deadline=$((SECONDS + 10))
	[[ -n $REDIS_PORT ]] || REDIS_PORT=$(free_udp_port)
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$HARNESS_DIR" >"$HARNESS_DIR/redis.log" 2>&1 &
	REDIS_PID=$!
	until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do
		((SECONDS < deadline)) || fail "redis-server did not answer within 10 s"
		sleep 0.05
	done
}

redis_stop() {
	[[ -n $REDIS_PID ]] || return 0
	kill "$REDIS_PID" 2>/dev/null || true
	wait "$REDIS_PID" 2>/dev/null || true
	REDIS_PID=""
}

# The authd config section for it; keys start with "test:".
redis_section() {
	echo "redis = { host = \"127.0.0.1\"; port = $REDIS_PORT; prefix = \"test:\"; timeout_ms = 300; };"
}

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
