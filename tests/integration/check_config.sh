#!/usr/bin/env bash
# check_config.sh — `authd -C -c FILE` as an admin uses it: exit 0 and "configuration OK" for a
# good file; for a bad one a non-zero exit and "FILE:LINE: what is wrong" on stderr.
# Needs AUTHD_BIN and AUTHD_PKI (see lib.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# expect_check_error FILE PATTERN: authd -C fails and its first line matches ^FILE:PATTERN.
expect_check_error() {
	local file=$1 pattern=$2 out rc=0
	out=$("$AUTHD_BIN" -C -c "$file" 2>&1) || rc=$?
	((rc != 0)) || fail "authd -C accepted $file, expected an error matching '$pattern'"
	grep -qE "^$file:$pattern" <<<"$out" || fail "authd -C said '$out', expected '$file:$pattern'"
}

harness_init
# The configs below hold an inline secret: authd reads them only if others cannot.
umask 077
AUTHD_PORT=1812
AUTHD_DECISIONS=$HARNESS_DIR/decisions.jsonl
good=$HARNESS_DIR/good.conf
authd_write_config "$good"

out=$("$AUTHD_BIN" -C -c "$good") || fail "authd -C rejected a good config: $out"
[[ $out == "$good: configuration OK" ]] || fail "authd -C printed '$out', expected '$good: configuration OK'"

sed "s|$AUTHD_PKI/server.key|$AUTHD_PKI/laptop.key|" "$good" >"$HARNESS_DIR/mismatch.conf"
expect_check_error "$HARNESS_DIR/mismatch.conf" "[0-9]+: tls: private key .*laptop.key does not match certificate"

sed "s|$AUTHD_PKI/ca-bundle.pem|$HARNESS_DIR/missing.pem|" "$good" >"$HARNESS_DIR/missing.conf"
expect_check_error "$HARNESS_DIR/missing.conf" "[0-9]+: ca: cannot read .*missing.pem: No such file or directory"

{ cat "$good"; echo 'tls_options = 1;'; } >"$HARNESS_DIR/unknown.conf"
expect_check_error "$HARNESS_DIR/unknown.conf" "$(($(wc -l <"$good") + 1)): unknown setting \"tls_options\""

# 16384 passed once, and every handshake whose server flight was over 4 KB then failed.
AUTHD_FRAGMENT_SIZE=16384 authd_write_config "$HARNESS_DIR/fragment.conf"
expect_check_error "$HARNESS_DIR/fragment.conf" \
	"$(grep -n '^eap = ' "$HARNESS_DIR/fragment.conf" | cut -d: -f1): eap.fragment_size is 16384, at most 3998"

sed 's|^log = { |log = {\n  decisions_syslog = "local9";\n  |' "$good" >"$HARNESS_DIR/facility.conf"
expect_check_error "$HARNESS_DIR/facility.conf" \
	"$(grep -n 'local9' "$HARNESS_DIR/facility.conf" | cut -d: -f1): log.decisions_syslog: unknown syslog facility \"local9\" \(one of user, mail, daemon, .*local0 ... local7\)"

{ head -n 1 "$good"; echo 'clients = ( { name = "x"; address = ; } );'; } >"$HARNESS_DIR/syntax.conf"
expect_check_error "$HARNESS_DIR/syntax.conf" "2: syntax error"

# Secrets at rest: an inline secret in a config others can read, a key others can read, a short
# shared secret, a directory password that would travel in the clear.
cp "$good" "$HARNESS_DIR/readable.conf"
chmod 644 "$HARNESS_DIR/readable.conf"
expect_check_error "$HARNESS_DIR/readable.conf" \
	"[0-9]+: clients.secret is written inline: .*readable.conf is readable by others \(mode 0644\)"
cp "$AUTHD_PKI/server.key" "$HARNESS_DIR/readable.key"
chmod 644 "$HARNESS_DIR/readable.key"
sed "s|$AUTHD_PKI/server.key|$HARNESS_DIR/readable.key|" "$good" >"$HARNESS_DIR/readable-key.conf"
expect_check_error "$HARNESS_DIR/readable-key.conf" \
	"[0-9]+: tls.private_key: .*readable.key is readable by others \(mode 0644\)"
sed "s|secret = \"$AUTHD_SECRET\"|secret = \"short-secret\"|" "$good" >"$HARNESS_DIR/short.conf"
expect_check_error "$HARNESS_DIR/short.conf" "[0-9]+: client \"lab-switch\": secret is 12 characters, at least 16"
{
	cat "$good"
	echo 'ldap = { uris = [ "ldap://127.0.0.1:1" ]; bind_dn = "cn=authd"; bind_password = "password";'
	echo '  base_dn = "dc=corp"; };'
	echo 'policy = { rules = ( { name = "all"; group = "employees"; vlan = 100; } ); };'
} >"$HARNESS_DIR/cleartext.conf"
expect_check_error "$HARNESS_DIR/cleartext.conf" \
	"[0-9]+: ldap.uris: \"ldap://127.0.0.1:1\" would send the bind password in the clear"
sed 's|bind_dn = "cn=authd";|bind_dn = "cn=authd"; start_tls = true;|' "$HARNESS_DIR/cleartext.conf" >"$HARNESS_DIR/starttls.conf"
out=$("$AUTHD_BIN" -C -c "$HARNESS_DIR/starttls.conf") || fail "authd -C rejected a bind with StartTLS: $out"

harness_log "authd -C: good config accepted; mismatched key, missing CA, unknown key, syntax error, readable secrets, short secret, cleartext bind, an oversized fragment and an unknown syslog facility reported with file:line"
