#!/usr/bin/env bash
# A/B of decode: OLD and NEW generate_bench binaries alternating, on the prompts of PROMPTS_FILE (one row per line),
# NEW new tokens (default 32), compiled, f32 and bf16 weights, 1 and 2 threads, ROUNDS rounds. One JSON line per run.
#   ab.sh OLD_BIN NEW_BIN MODEL_DIR PROMPTS_FILE [ROUNDS] [NEW]
set -euo pipefail
old=$1 new=$2 model=$3 prompts=$4 rounds=${5:-3} tokens=${6:-32}
for r in $(seq "$rounds"); do
  for threads in 1 2; do
    for weights in f32 bf16; do
      for side in old new; do
        bin=$old; [ "$side" = new ] && bin=$new
        line=$(JITGEN_NUM_THREADS=$threads JITGEN_WEIGHTS=$weights "$bin" --model "$model" --prompts "$prompts" \
               --new "$tokens" --mode compiled --repeats 2)
        echo "{\"round\": $r, \"side\": \"$side\", \"threads\": $threads, \"weights\": \"$weights\", \"run\": $line}"
      done
    done
  done
done
