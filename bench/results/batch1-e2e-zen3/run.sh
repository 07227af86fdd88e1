#!/bin/bash
# GPT-2 124M batch 1 (16-token prompt, 64 new tokens), compiled, 1 thread: generate_bench --roofline (probe in the same
# process, before the model loads) for f32 and bf16 weights, alternating, then quant_bench's M = 1 rows (best and median).
W=/work/wt/avx2/bench/.work
for r in 1 2 3; do
  for wt in bf16 f32; do
    echo "{\"round\": $r, \"load\": \"$(cut -d' ' -f1 /proc/loadavg)\", \"run\": $(JITGEN_NUM_THREADS=1 JITGEN_WEIGHTS=$wt flock /work/wt/notes/BENCH.lock build/bench/generate_bench --model $W/gpt2 --prompts $W/prompts_1_16_50257.txt --new 64 --repeats 3 --roofline 2>/dev/null | tail -1)}" >> /tmp/e2e/generate.jsonl
  done
  QUANT_BENCH_M=1 flock /work/wt/notes/BENCH.lock build/bench/quant_bench 1 1 gpt2 f32,bf16 >> /tmp/e2e/quant_bench.txt 2>&1
done
