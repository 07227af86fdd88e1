#!/usr/bin/env bash
# Installs dependencies, builds jitgen and continues a KJV-style prompt with the built-in default model
# kjv-llama-5m (models/kjv-llama-5m: a 5M-parameter Llama trained on the King James Bible by
# scripts/train_demo_model.py; sha256-checked at load), then prints the decode speed in tokens per second.
# Extra arguments replace the default prompt and options (they go to `jitgen generate`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
source scripts/ccache-env.sh  # the same build/ as scripts/test.sh, through ccache when installed
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${JITGEN_CMAKE_LAUNCHER[@]}" >/dev/null
cmake --build build --target jitgen >/dev/null
if [ $# -eq 0 ]; then
  # Seeded sampling (jitgen's Philox stream: the same text on every run and machine) reads better than greedy,
  # which a model this small drives into loops.
  set -- "And God said," --max-new-tokens 60 --do-sample --temperature 0.8 --top-k 40 --seed 1611
fi
# --verbose adds a timing line on stderr. Print the model note (or an error), then the text, then the speed.
err=$(mktemp)
trap 'rm -f "$err"' EXIT
rc=0
out=$(./build/jitgen generate --verbose "$@" 2>"$err") || rc=$?
grep -v '^jitgen: mode ' "$err" || true
[ $rc -eq 0 ] || exit $rc
printf '%s\n\n' "$out"
grep -o '[0-9.]* tokens/s' "$err" | sed 's|^|speed: |; s|$| (generated tokens / (prefill + decode) time)|'
