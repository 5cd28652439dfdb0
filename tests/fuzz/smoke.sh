#!/bin/sh
# smoke.sh FUZZER SEEDS_FILE [LIBFUZZER_OPTION...]: the CTest smoke run of a
# seeded target, on a fresh corpus of its seeds in a temp dir (removed
# after), so the seeds' own directories are never written to.
set -eu
fuzzer=$1 seeds=$2
shift 2
corpus=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-smoke.XXXXXX")
trap 'rm -rf "$corpus"' EXIT
"$(dirname "$0")/seed.sh" "$seeds" "$corpus"
"$fuzzer" "$@" "$corpus"
