#!/bin/sh
# fuzz-all.sh [SECONDS [TARGET...]]: runs every fuzz target (or only the
# named ones) for SECONDS each (default 600) under ASan+UBSan with leak
# detection, and prints one line per target: executions, seconds, findings
# (crash-*, leak-*, timeout-*, oom-* files).
#
# Builds build-asan (clang, -DAUTHD_SANITIZE=ON -DAUTHD_FUZZ=ON) if needed
# and the test PKI some targets read. Targets are found, not listed: every
# executable named fuzz_* in build-asan. Each keeps its corpus in
# build-asan/fuzz-corpus/NAME (seeded from its smoke seeds, NAME.seeds next
# to the binary; it grows from run to run) and its findings in
# build-asan/fuzz-findings/NAME; the full output in build-asan/fuzz-logs/NAME.log.
# Exit status: 1 if any target found something.
set -eu

seconds=${1:-600}
[ $# -eq 0 ] || shift
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-asan
pki=$build/test-pki

case $seconds in
''|*[!0-9]*) echo "usage: $0 [SECONDS [TARGET...]]" >&2; exit 2 ;;
esac

if [ ! -f "$build/CMakeCache.txt" ]; then
	CC=clang cmake -S "$root" -B "$build" -DAUTHD_SANITIZE=ON -DAUTHD_FUZZ=ON \
		-DCMAKE_BUILD_TYPE=Debug >/dev/null
fi
cmake --build "$build" -j"$(nproc)" >/dev/null
[ -f "$pki/ca-bundle.pem" ] || "$root/tests/pki/make-pki.sh" "$pki" >/dev/null

export AUTHD_TEST_PKI_DIR="$pki"
export ASAN_OPTIONS=detect_leaks=1
export LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

targets=$(find "$build" -type f -perm -u+x -name 'fuzz_*' ! -path '*/CMakeFiles/*' | sort)
if [ -z "$targets" ]; then
	echo "no fuzz targets in $build (configure it with -DAUTHD_FUZZ=ON)" >&2
	exit 2
fi
if [ $# -gt 0 ]; then
	chosen=""
	for name in "$@"; do
		bin=$(printf '%s\n' $targets | grep "/$name\$") || { echo "no fuzz target $name" >&2; exit 2; }
		chosen="$chosen $bin"
	done
	targets=$chosen
fi

found=0
printf '%-24s %14s %8s %9s\n' target executions seconds findings
for bin in $targets; do
	name=$(basename "$bin")
	corpus=$build/fuzz-corpus/$name
	findings=$build/fuzz-findings/$name
	log=$build/fuzz-logs/$name.log
	mkdir -p "$corpus" "$findings" "$(dirname "$log")"
	[ ! -f "$bin.seeds" ] || "$root/tests/fuzz/seed.sh" "$bin.seeds" "$corpus"
	before=$(find "$findings" -type f | wc -l)
	start=$(date +%s)
	# -fork keeps going after a finding, so one bug does not hide the rest of
	# the time; each finding is a file in $findings.
	(cd "$findings" && "$bin" -max_total_time="$seconds" -fork=1 -ignore_crashes=1 \
		-ignore_ooms=1 -ignore_timeouts=1 -print_final_stats=1 \
		-artifact_prefix="$findings/" "$corpus") >"$log" 2>&1 || true
	elapsed=$(( $(date +%s) - start ))
	# Fork mode sums its jobs' runs in "stat::number_of_executed_units" lines
	# and in its periodic "#N" status lines: the last is the total.
	execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
	new=$(( $(find "$findings" -type f | wc -l) - before ))
	[ "$new" -eq 0 ] || found=1
	printf '%-24s %14s %8s %9s\n' "$name" "${execs:-0}" "$elapsed" "$new"
done
exit $found
