#!/usr/bin/env bash
# Builds tests/concurrency_test and tests/serve_test with ThreadSanitizer in build-tsan/ and runs them: one Model
# used from several threads at once (generate() eager and compiled, forward_logits, the tokenizer) must give exactly
# the sequential results, and the server's scheduler thread with its submitting/cancelling threads must show no data
# race. Extra arguments go to the test binaries (e.g. --gtest_filter=...).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJITGEN_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" \
  >/dev/null
nice cmake --build build-tsan --target concurrency_test serve_test
t1=$(date +%s)
# OpenBLAS is not TSan-instrumented and synchronises its own worker threads with spin-waits TSan cannot see: keep
# it single-threaded so every report is about jitgen's own threads.
export OPENBLAS_NUM_THREADS=1
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
status=0
build-tsan/tests/concurrency_test "$@" || status=$?
build-tsan/tests/serve_test "$@" || status=$?
t2=$(date +%s)
echo "tsan.sh: TSan build $((t1 - t0)) s, test $((t2 - t1)) s, exit $status"
exit $status
