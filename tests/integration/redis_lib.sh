# redis_lib.sh — sourced by tests that need a throwaway redis-server (after lib.sh):
# redis_start, redis_stop, redis_section, node_key. The server listens on 127.0.0.1 at
# REDIS_PORT (a free port unless set), keeps nothing on disk and is stopped by stop_redis on exit.

REDIS_PORT=""
REDIS_PID=""

# redis_start: on REDIS_PORT if set (a restart), else on a free port, retried if another
# process takes it first.
redis_start() {
	local deadline attempt fixed=${REDIS_PORT:+yes}
	for attempt in 1 2 3 4 5; do
		[[ -n $fixed ]] || REDIS_PORT=$(free_port tcp)
		redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
			--dir "$HARNESS_DIR" >"$HARNESS_DIR/redis.log" 2>&1 &
		REDIS_PID=$!
		deadline=$((SECONDS + 10))
		until redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; do
			if ! kill -0 "$REDIS_PID" 2>/dev/null; then
				wait "$REDIS_PID" 2>/dev/null || true
				REDIS_PID=""
				[[ -z $fixed ]] || fail "redis-server could not start again on port $REDIS_PORT: $(tail -n 3 "$HARNESS_DIR/redis.log")"
				harness_log "redis port $REDIS_PORT was taken (attempt $attempt), trying another"
				continue 2
			fi
			((SECONDS < deadline)) || fail "redis-server did not answer within 10 s"
			sleep 0.05
		done
		return 0
	done
	fail "could not start redis-server: every port tried was taken"
}

redis_stop() {
	[[ -n $REDIS_PID ]] || return 0
	kill "$REDIS_PID" 2>/dev/null || true
	wait "$REDIS_PID" 2>/dev/null || true
	REDIS_PID=""
}

# node_key FILE [KEYID]: a node key file (redis.key_file) holding one fresh key, mode 0600.
node_key() {
	local file=$1 id=${2:-k1}
	(umask 077 && printf '# authd node key (test)\n%s %s\n' "$id" "$(openssl rand -hex 32)" >"$file") ||
		fail "cannot write the node key $file"
}

# The authd config section for it; keys start with "test:". The node key is NODE_KEY (default
# HARNESS_DIR/node.key, made on first use): every node of a test shares it.
redis_section() {
	local key=${NODE_KEY:-$HARNESS_DIR/node.key}
	[[ -s $key ]] || node_key "$key"
	echo "redis = { host = \"127.0.0.1\"; port = $REDIS_PORT; prefix = \"test:\"; timeout_ms = 300; key_file = \"$key\"; };"
}

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
