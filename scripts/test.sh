#!/usr/bin/env bash
# Installs dependencies, builds everything and runs the whole test suite (CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/ccache-env.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${JITGEN_CMAKE_LAUNCHER[@]}" >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j2
