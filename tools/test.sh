#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs dependencies, then builds and
# runs every CTest test twice: a gcc build, and a clang build under
# AddressSanitizer + UndefinedBehaviorSanitizer that also runs the fuzz smoke tests.
# Build trees: build-test/ and build-asan/ (both gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
jobs=$(nproc)

echo "== gcc build, warnings as errors"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAUTHD_WERROR=ON >/dev/null
cmake --build build-test -j "$jobs"
(cd build-test && ctest --output-on-failure -j "$jobs")

echo "== clang build, AddressSanitizer + UBSan, fuzz targets"
CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAUTHD_WERROR=ON \
  -DAUTHD_SANITIZE=ON -DAUTHD_FUZZ=ON >/dev/null
cmake --build build-asan -j "$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs")
