#!/usr/bin/env bash
# Builds the library with ASan + UBSan (-DJITGEN_SANITIZE=ON) in build-asan/ and runs test binaries under it. Any
# sanitizer report fails the test that triggered it (UBSan is fatal: -fno-sanitize-recover).
#   scripts/sanitize.sh                the binaries JITGEN_SANITIZE_TESTS names (tests/CMakeLists.txt says which, why)
#   scripts/sanitize.sh --all          every test binary
#   scripts/sanitize.sh -R 'Tokenizer' other arguments go to ctest (e.g. a subset)
# Prints the build and test times (CI budgets them). On a 2-core CI machine compile time is what this costs, so:
#   -O1 -g1: what ASan documents for usable speed, and reports keep file:line; -O2 -g compiled 2.5x slower.
#   The tests' and the CLI's own code is not instrumented (the library they call is; tests/CMakeLists.txt).
#   The kernels are compiled for the Highway targets this CPU can run: on x86 without AVX-512 the AVX-512 copies
#     are left out (nothing here could execute them, and the AVX-512 copy of cpu/simd.cc alone costs minutes under
#     ASan). On an AVX-512 CPU they stay, so the kernels that machine runs in production, Highway's and the
#     intrinsics ones (cpu/avx512.cc, cpu/quant_vnni.cc, which run only when the target is AVX-512), are checked.
#   No forced-SIMD repeats: ops_test and backend_ops_test run every kernel at every compiled target themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=()
args=()
for a in "$@"; do
  if [ "$a" = --all ]; then tests=(-DJITGEN_SANITIZE_TESTS=all); else args+=("$a"); fi
done
[ ${#tests[@]} -eq 0 ] && tests=(-UJITGEN_SANITIZE_TESTS)  # back to tests/CMakeLists.txt's list
t0=$(date +%s)
source scripts/ccache-env.sh
hwy_disabled="HWY_SSSE3|HWY_SVE|HWY_SVE2|HWY_SVE_256|HWY_SVE2_128"  # as the top-level CMakeLists.txt's default
if [ "$(uname -m)" = x86_64 ] && ! grep -qw avx512f /proc/cpuinfo; then hwy_disabled+="|HWY_AVX3|HWY_AVX3_DL"; fi
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DJITGEN_SANITIZE=ON -DJITGEN_BUILD_BENCH=OFF -DJITGEN_TEST_SIMD_TARGETS= "${tests[@]}" \
  -DJITGEN_HWY_DISABLED_TARGETS="$hwy_disabled" \
  "${JITGEN_CMAKE_LAUNCHER[@]}" >/dev/null
nice cmake --build build-asan
t1=$(date +%s)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
ctest --test-dir build-asan --output-on-failure -j2 ${args[@]+"${args[@]}"} || status=$?
t2=$(date +%s)
echo "sanitize.sh: ASan+UBSan build $((t1 - t0)) s, tests $((t2 - t1)) s"
exit $status
