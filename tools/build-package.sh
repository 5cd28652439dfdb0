#!/usr/bin/env bash
# build-package.sh [OUTDIR]: the Debian package of this tree, built from a clean copy of it.
#
# Copies the files of the tree (those git tracks and untracked ones it does not ignore: no
# build directories), runs `dpkg-buildpackage -b` on the copy in OUTDIR (default build-package/
# in the repository) and prints the path of the .deb it made there. Needs the Build-Depends of
# debian/control (tools/install-deps.sh installs them). DEB_BUILD_OPTIONS is passed on
# (nocheck: skip the unit tests; parallel=N); it defaults to parallel=<cores>.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/build-package}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
VERSION=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
SRC=$OUT/authd-$VERSION

rm -rf "$SRC"
mkdir -p "$SRC"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Files deleted in the work tree are still listed by git; copy only those that exist.
	git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
		(cd "$ROOT" && while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done) |
		tar -C "$ROOT" --null -T - -cf - | tar -C "$SRC" -xf -
else
	tar -C "$ROOT" --exclude='./build*' --exclude=./demo -cf - . | tar -C "$SRC" -xf -
fi

export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=$(nproc)}
(cd "$SRC" && dpkg-buildpackage -us -uc -b) >"$OUT/build.log" 2>&1 || {
	tail -n 60 "$OUT/build.log" >&2
	echo "build-package.sh: dpkg-buildpackage failed; the whole log is $OUT/build.log" >&2
	exit 1
}
rm -rf "$SRC"
DEB=$OUT/authd_${VERSION}_$(dpkg --print-architecture).deb
[[ -s $DEB ]] || { echo "build-package.sh: no $DEB after the build" >&2; exit 1; }
echo "$DEB"
