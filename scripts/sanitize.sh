#!/usr/bin/env bash
# Builds everything with ASan + UBSan (-DJITGEN_SANITIZE=ON) in build-asan/ and runs the CTest suite under it.
# Any sanitizer report fails the test that triggered it (UBSan is fatal: -fno-sanitize-recover).
#   scripts/sanitize.sh               the whole suite
#   scripts/sanitize.sh -R 'Tokenizer' extra arguments go to ctest (e.g. a subset)
# Prints the build and test times (CI budgets them).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJITGEN_SANITIZE=ON -DJITGEN_BUILD_BENCH=OFF \
  >/dev/null
nice cmake --build build-asan
t1=$(date +%s)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
ctest --test-dir build-asan --output-on-failure -j2 "$@" || status=$?
t2=$(date +%s)
echo "sanitize.sh: ASan+UBSan build $((t1 - t0)) s, tests $((t2 - t1)) s"
exit $status
