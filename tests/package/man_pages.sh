#!/usr/bin/env bash
# man_pages.sh DIR — every man page built in DIR renders without a groff warning (as lintian
# checks them), and authd.conf(5) holds every setting of README.md's Configuration table.
# Needs man (man-db). README as the second argument.
set -euo pipefail
dir=$1 readme=$2
command -v man >/dev/null || { echo "FAIL: the command 'man' is needed (Debian package man-db)" >&2; exit 1; }
status=0
pages=("$dir"/*.[158])
((${#pages[@]} == 4)) || { echo "FAIL: expected 4 man pages in $dir, found: ${pages[*]}" >&2; exit 1; }
for page in "${pages[@]}"; do
	warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null) || true
	if [[ -n $warnings ]]; then
		echo "FAIL: $page: $warnings" >&2
		status=1
	fi
done
# The settings: the first cell of each row of the README's tables in "## Configuration".
text=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$dir/authd.conf.5" 2>/dev/null)
while IFS= read -r setting; do
	grep -qF -- "$setting" <<<"$text" || { echo "FAIL: authd.conf(5) lacks $setting" >&2; status=1; }
done < <(awk '/^## Configuration/ { f = 1; next } /^## / { f = 0 }
	f && /^\| `/ { split($0, c, "|"); s = c[2]; gsub(/^ +| +$/, "", s); gsub(/`/, "", s); print s }' "$readme")
exit "$status"
