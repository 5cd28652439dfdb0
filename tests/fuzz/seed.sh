#!/bin/sh
# seed.sh SEEDS_FILE CORPUS_DIR: copies into CORPUS_DIR (made if missing) the
# files named by the globs in SEEDS_FILE, one a line (written by
# tests/fuzz/CMakeLists.txt next to each seeded fuzz target, as NAME.seeds).
# Files already in the corpus are kept.
set -eu
seeds=$1 corpus=$2
mkdir -p "$corpus"
while IFS= read -r glob; do
	[ -n "$glob" ] || continue
	for f in $glob; do
		[ -f "$f" ] || continue
		# The parent's name too: seeds of one target may share base names.
		name=$(basename "$(dirname "$f")")-$(basename "$f")
		[ -e "$corpus/$name" ] || cp "$f" "$corpus/$name"
	done
done < "$seeds"
