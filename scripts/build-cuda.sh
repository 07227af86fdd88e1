#!/usr/bin/env bash
# CI: the CUDA backend compiles and links (-DJITGEN_CUDA=ON, sm_90 only) on a machine without a GPU, and its
# tests run (host logic passes, everything that needs a device reports skipped). build-cuda/ is kept between
# runs, so CI pays for what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
source scripts/ccache-env.sh  # with it, the files build/ compiled already come from the cache
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DJITGEN_CUDA=ON -DJITGEN_BUILD_BENCH=OFF \
  "${JITGEN_CMAKE_LAUNCHER[@]}" >/dev/null
# The CLI (the tests run it to make models) and the CUDA test binary: enough to prove the backend links.
cmake --build build-cuda --target jitgen cuda_test cuda_kernels_test device_test
ctest --test-dir build-cuda -R '^(Cuda|Device)' --output-on-failure
echo "scripts/build-cuda.sh: $(( $(date +%s) - start )) s"
