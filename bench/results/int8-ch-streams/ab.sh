#!/bin/bash
# A/B of two builds' decode, int8-ch and int8, SmolLM2-135M BF16, 1 thread, alternating, 3 rounds; one JSON line each.
#   BEFORE=<build dir> AFTER=<build dir> W=<folder with sm-bf16/ and prompt16.txt> [LOCK=<file>] ./ab.sh > ab.jsonl
# sm-bf16: jitgen make-model --family llama --config smollm2-135m --dtype BF16 --out sm-bf16
: "${BEFORE:?}" "${AFTER:?}" "${W:?}"
LOCK=${LOCK:-/tmp/jitgen-bench.lock}
for round in 1 2 3; do
  for fmt in int8-ch int8; do
    for b in before="$BEFORE" after="$AFTER"; do
      name=${b%%=*}; dir=${b#*=}
      out=$(JITGEN_WEIGHTS=$fmt JITGEN_NUM_THREADS=1 flock "$LOCK" "$dir/bench/generate_bench" --model "$W/sm-bf16" \
              --prompts "$W/prompt16.txt" --new 32 --repeats 2 2>/dev/null | tail -1)
      echo "{\"round\": $round, \"format\": \"$fmt\", \"build\": \"$name\", \"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"result\": $out}"
    done
  done
done
