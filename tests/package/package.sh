#!/usr/bin/env bash
# package.sh — the Debian package as an operator gets it: tools/build-package.sh builds it from
# this tree, lintian finds no error in it, `dpkg -i` installs it (apt-get brings any runtime
# dependency missing), its files, the authd user and the enabled unit are in place,
# `systemd-analyze verify` passes on the installed unit, and the installed /usr/sbin/authd,
# run as the authd user (no systemd as PID 1 here: setpriv), gives eapol_test an Access-Accept.
# At the end the package is purged and an authd user this test made is deleted, so the
# machine is left as it was. Root only: exit 77 (skipped) otherwise, or when a package authd
# is already installed (its purge would not leave the machine as it was).
# Needs AUTHD_PKI (see tests/integration/lib.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
UNIT=/lib/systemd/system/authd.service

skip() { echo "SKIP: $*" >&2; exit 77; }
(($(id -u) == 0)) || skip "needs root (dpkg -i, a system user)"
if dpkg-query -W -f='${Status}' authd 2>/dev/null | grep -q 'installed'; then
	skip "a package authd is installed already"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/authd-package.XXXXXX")
chmod 711 "$WORK"
# authd, run as the authd user, reads its config and the PKI in WORK and writes its log there.
cat >"$WORK/authd-as-authd" <<WRAPPER
#!/bin/sh
chown -R authd:authd "$WORK/run"
exec setpriv --reuid=authd --regid=authd --init-groups /usr/sbin/authd "\$@"
WRAPPER
chmod 755 "$WORK/authd-as-authd"
AUTHD_BIN=$WORK/authd-as-authd
# shellcheck source=../integration/lib.sh
source "$ROOT/tests/integration/lib.sh"

INSTALLED=0
USER_BEFORE=$(getent passwd authd || true)
GROUP_BEFORE=$(getent group authd || true)

# Whatever happened: authd stopped, the package purged, the user this test made deleted.
package_cleanup() {
	authd_terminate || harness_log "authd: $AUTHD_STOP_ERROR"
	if ((INSTALLED)); then
		dpkg --purge authd >"$WORK/purge.log" 2>&1 || cat "$WORK/purge.log" >&2
	fi
	if [[ -z $USER_BEFORE ]] && getent passwd authd >/dev/null; then
		userdel authd || true
	fi
	if [[ -z $GROUP_BEFORE ]] && getent group authd >/dev/null; then
		groupdel authd || true
	fi
	rm -rf "$WORK"
}

harness_init "$WORK/run"
harness_on_exit package_cleanup
need_command dpkg-buildpackage dpkg-dev
need_command dh debhelper
need_command lintian lintian
need_command systemd-analyze systemd
need_command setpriv util-linux

# Build. The unit tests run in this same ctest, so the package build skips them.
DEB=$(DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" "$ROOT/tools/build-package.sh" "$WORK/out") ||
	fail "tools/build-package.sh failed"
harness_log "built $(basename "$DEB")"

# lintian: no error (warnings are printed, not fatal).
lintian --info "$WORK"/out/authd_*.changes >"$WORK/lintian.txt" 2>&1 || true
grep -v '^N:' "$WORK/lintian.txt" | grep -v 'running with root privileges' >&2 || true
! grep -q '^E:' "$WORK/lintian.txt" || fail "lintian reports errors: $(grep '^E:' "$WORK/lintian.txt")"

# Install, with any runtime dependency this machine lacks.
INSTALLED=1
if ! dpkg -i "$DEB" >"$WORK/install.log" 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -f -y -q --no-install-recommends >>"$WORK/install.log" 2>&1 ||
		fail "dpkg -i and apt-get -f install failed: $(tail -n 20 "$WORK/install.log")"
fi
dpkg-query -W -f='${Status}' authd | grep -q 'install ok installed' || fail "authd is not installed: $(tail -n 20 "$WORK/install.log")"

for f in /usr/sbin/authd /usr/bin/authctl /usr/bin/authbench "$UNIT" \
	/etc/authd/authd.conf.example /etc/authd/authctl.conf.example /etc/logrotate.d/authd \
	/usr/share/authd/redis-users.acl /usr/share/authd/dashboards/grafana/authd-overview.json \
	/usr/share/authd/dashboards/prometheus/authd-alerts.yml \
	/usr/share/man/man8/authd.8.gz /usr/share/man/man8/authctl.8.gz \
	/usr/share/man/man5/authd.conf.5.gz /usr/share/man/man1/authbench.1.gz; do
	[[ -s $f ]] || fail "the package did not install $f"
done
[[ ! -e /etc/authd/authd.conf ]] || fail "the package installed a live /etc/authd/authd.conf"
# authd.conf(5) was made from README.md's Configuration section, its last setting included.
zcat /usr/share/man/man5/authd.conf.5.gz | grep -q 'sessions\.timeout_ms' ||
	fail "authd.conf(5) lacks the settings of README.md's Configuration section"
! ldd /usr/sbin/authd /usr/bin/authctl | grep -q 'not found' ||
	fail "a library of authd or authctl is missing: $(ldd /usr/sbin/authd /usr/bin/authctl | grep 'not found')"
[[ -L /etc/systemd/system/multi-user.target.wants/authd.service ]] ||
	fail "the package did not enable authd.service (no multi-user.target.wants link)"

# The system user: no login shell, its home the unit's StateDirectory.
IFS=: read -r _ _ _ _ _ home shell <<<"$(getent passwd authd)" || fail "no authd user after the install"
[[ $home == /var/lib/authd ]] || fail "the authd user's home is '$home', expected /var/lib/authd"
[[ $shell == */nologin ]] || fail "the authd user's shell is '$shell', expected nologin"

# The installed unit, as installed (the man pages it names are installed too).
systemd-analyze verify "$UNIT" >"$WORK/verify.txt" 2>&1 || true
! grep -q 'authd\.service' "$WORK/verify.txt" || fail "systemd-analyze verify $UNIT: $(cat "$WORK/verify.txt")"
if command -v logrotate >/dev/null; then
	logrotate --debug /etc/logrotate.d/authd >"$WORK/logrotate.txt" 2>&1 ||
		fail "logrotate rejects /etc/logrotate.d/authd: $(cat "$WORK/logrotate.txt")"
fi

# Serve: the installed binary as the authd user, a config and a copy of the PKI it can read.
mkdir -p "$HARNESS_DIR/pki"
cp -p "$AUTHD_PKI"/* "$HARNESS_DIR/pki/"
AUTHD_PKI=$HARNESS_DIR/pki
authd_start
uid=$(id -u authd)
grep -Eq "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid$" "/proc/$AUTHD_PID/status" ||
	fail "authd does not run as the authd user: $(grep -E '^(Uid|Gid):' "/proc/$AUTHD_PID/status")"
grep -Eq '^CapEff:[[:space:]]+0+$' "/proc/$AUTHD_PID/status" ||
	fail "authd has capabilities: $(grep '^CapEff:' "/proc/$AUTHD_PID/status")"
eapol_config laptop >"$HARNESS_DIR/laptop.conf"
eapol_run "$HARNESS_DIR/laptop.conf" 02:00:00:00:13:01
expect_eapol_accept
expect_decision 02:00:00:00:13:01 '.outcome == "accept"' "outcome accept"
authd_stop

# Purge: nothing of the package is left.
dpkg-query -L authd >"$WORK/files.txt"
dpkg --purge authd >"$WORK/purge.log" 2>&1 || fail "dpkg --purge authd: $(cat "$WORK/purge.log")"
INSTALLED=0
left=""
# (Its files; the directories it listed are shared: /lib, /usr/share/man ...)
while IFS= read -r f; do
	[[ ! -d $f ]] && [[ -e $f || -L $f ]] && left+=" $f"
done <"$WORK/files.txt"
for f in /etc/authd /var/log/authd /var/lib/authd /etc/systemd/system/multi-user.target.wants/authd.service; do
	[[ -e $f || -L $f ]] && left+=" $f"
done
[[ -z $left ]] || fail "left after dpkg --purge:$left"
harness_log "package: built, lintian without errors, installed, served an Access-Accept as authd, purged"
