#!/bin/sh
cd /work/wt/avx2
W=bench/.work; P=$W/prof
uptime
for fmt in f32 bf16; do for n in 1 32; do
  JITGEN_WEIGHTS=$fmt JITGEN_NUM_THREADS=1 perf record -q -e cpu-clock -F 1000 -g -o $P/$fmt-1_16-$n.data \
    build/bench/generate_bench --mode compiled --model $W/gpt2 --prompts $W/prompts_1_16_50257.txt --new $n --repeats 1 > $P/$fmt-1_16-$n.json 2>/dev/null
done; done
JITGEN_NUM_THREADS=1 build/bench/generate_bench --roofline
uptime
