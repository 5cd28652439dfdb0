# redis_lib.sh — sourced by tests that need a throwaway redis-server (after lib.sh):
# redis_start, redis_stop, redis_section, node_key, rcli, and authctl's side: authctl_write_config,
# authctl_cmd. The server listens on 127.0.0.1 at REDIS_PORT (a free port unless set), keeps nothing
# on disk and is stopped by stop_redis on exit. After redis_use_acl it runs with the users of the
# shipped authd/redis-users.acl, authd and authctl each logging in as its own user.

REDIS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REDIS_PORT=""
REDIS_PID=""
REDIS_PREFIX="test:"
REDIS_ACLFILE=""
REDIS_ADMIN_PASSWORD=""
REDIS_AUTHD_PASSWORD=""
REDIS_AUTHCTL_PASSWORD=""

# redis_use_acl: the next redis_start loads authd/redis-users.acl as shipped, with a password
# given to its users authd and authctl, plus an admin user for the test's own rcli. Keys then
# use the prefix the file names ("authd:").
redis_use_acl() {
	local src=$REDIS_LIB_DIR/../../authd/redis-users.acl
	[[ -s $src ]] || fail "no ACL file at $src"
	REDIS_ADMIN_PASSWORD=$(openssl rand -hex 16)
	REDIS_AUTHD_PASSWORD=$(openssl rand -hex 16)
	REDIS_AUTHCTL_PASSWORD=$(openssl rand -hex 16)
	REDIS_ACLFILE=$HARNESS_DIR/users.acl
	sed -e "/^user authd /s/\$/ >$REDIS_AUTHD_PASSWORD/" \
		-e "/^user authctl /s/\$/ >$REDIS_AUTHCTL_PASSWORD/" "$src" >"$REDIS_ACLFILE"
	echo "user test-admin on >$REDIS_ADMIN_PASSWORD ~* &* +@all" >>"$REDIS_ACLFILE"
	REDIS_PREFIX="authd:"
}

# redis_start: on REDIS_PORT if set (a restart), else on a free port, retried if another
# process takes it first.
redis_start() {
	local deadline attempt fixed=${REDIS_PORT:+yes} acl=()
	[[ -z $REDIS_ACLFILE ]] || acl=(--aclfile "$REDIS_ACLFILE")
	for attempt in 1 2 3 4 5; do
		[[ -n $fixed ]] || REDIS_PORT=$(free_port tcp)
		redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
			--dir "$HARNESS_DIR" "${acl[@]}" >"$HARNESS_DIR/redis.log" 2>&1 &
		REDIS_PID=$!
		deadline=$((SECONDS + 10))
		until rcli ping 2>/dev/null | grep -q PONG; do
			if ! kill -0 "$REDIS_PID" 2>/dev/null; then
				wait "$REDIS_PID" 2>/dev/null || true
				REDIS_PID=""
				[[ -z $fixed ]] || fail "redis-server could not start again on port $REDIS_PORT: $(tail -n 3 "$HARNESS_DIR/redis.log")"
				grep -q "ACL" "$HARNESS_DIR/redis.log" && fail "redis-server refused the ACL file: $(grep ACL "$HARNESS_DIR/redis.log")"
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

# redis_login USER PASSWORD: the config lines of a Redis ACL user (none without the ACL file).
redis_login() {
	[[ -z $REDIS_ACLFILE ]] || echo "username = \"$1\"; password = \"$2\";"
}

# node_key FILE [KEYID]: a node key file (redis.key_file) holding one fresh key, mode 0600.
node_key() {
	local file=$1 id=${2:-k1}
	(umask 077 && printf '# authd node key (test)\n%s %s\n' "$id" "$(openssl rand -hex 32)" >"$file") ||
		fail "cannot write the node key $file"
}

# The authd config section for it; keys start with REDIS_PREFIX. The node key is NODE_KEY (default
# HARNESS_DIR/node.key, made on first use): every node of a test shares it. REDIS_TIMEOUT_MS
# bounds each command (default 300).
redis_section() {
	local key=${NODE_KEY:-$HARNESS_DIR/node.key}
	[[ -s $key ]] || node_key "$key"
	echo "redis = { host = \"127.0.0.1\"; port = $REDIS_PORT; prefix = \"$REDIS_PREFIX\";" \
		"timeout_ms = ${REDIS_TIMEOUT_MS:-300};" \
		"key_file = \"$key\"; $(redis_login authd "$REDIS_AUTHD_PASSWORD") };"
}

# rcli ARGS...: redis-cli as the test's admin (the default user without the ACL file).
rcli() {
	if [[ -n $REDIS_ACLFILE ]]; then
		redis-cli -p "$REDIS_PORT" --no-auth-warning --user test-admin --pass "$REDIS_ADMIN_PASSWORD" "$@"
	else
		redis-cli -p "$REDIS_PORT" "$@"
	fi
}

# authctl_write_config FILE [REDIS_LOGIN]: authctl's own config: this Redis (as the authctl user
# with the ACL file, or REDIS_LOGIN's settings), the trusted CAs, the clients of authd.conf and
# AUTHCTL_EXTRA_CONFIG (e.g. a sessions section).
authctl_write_config() {
	local file=$1 login=${2:-$(redis_login authctl "$REDIS_AUTHCTL_PASSWORD")}
	# It holds the NAS's secret inline: not for others' eyes (authctl checks).
	: >"$file"
	chmod 600 "$file"
	cat >"$file" <<EOF
redis = { host = "127.0.0.1"; port = $REDIS_PORT; prefix = "$REDIS_PREFIX"; timeout_ms = 300; $login };
ca = "$AUTHD_PKI/${AUTHD_CA:-ca-bundle.pem}";
$(authd_clients_section)
${AUTHCTL_EXTRA_CONFIG:-}
EOF
}

# authctl_cmd ARGS...: authctl (AUTHCTL_BIN) with its own config, written afresh for this Redis.
authctl_cmd() {
	authctl_write_config "$HARNESS_DIR/authctl.conf"
	"$AUTHCTL_BIN" -c "$HARNESS_DIR/authctl.conf" "$@"
}
