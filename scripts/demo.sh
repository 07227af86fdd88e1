#!/usr/bin/env bash
# Installs dependencies, builds jitgen and runs the main job on the built-in default model
# (a small random-weight GPT-2 with the real GPT-2 tokenizer). Extra arguments go to `jitgen generate`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target jitgen
if [ $# -eq 0 ]; then set -- "Hello, my name is" --max-new-tokens 20; fi
./build/jitgen generate "$@"
