#!/bin/sh
# perf profiles (cpu-clock) of generate_bench at the misses, avx2, 1 thread; decode = (--new 32) - (--new 1).
cd /work/wt/avx2
W=bench/.work
P=$W/prof
for i in 1 2 3; do JITGEN_NUM_THREADS=1 build/bench/generate_bench --roofline; done
uptime
for spec in f32:8_128 bf16:8_128 bf16:32_16; do
  fmt=${spec%%:*}; pt=${spec#*:}
  for n in 1 32; do
    JITGEN_WEIGHTS=$fmt JITGEN_NUM_THREADS=1 perf record -q -e cpu-clock -F 1000 -g -o $P/$fmt-$pt-$n.data \
      build/bench/generate_bench --mode compiled --model $W/gpt2 --prompts $W/prompts_${pt}_50257.txt --new $n --repeats 1 \
      > $P/$fmt-$pt-$n.json 2>/dev/null
    perf report -q -i $P/$fmt-$pt-$n.data --no-children -g none --sort sym 2>/dev/null | head -25 > $P/$fmt-$pt-$n.txt
  done
done
uptime
for i in 1 2 3; do JITGEN_NUM_THREADS=1 build/bench/generate_bench --roofline; done
build/bench/fma_peak_bench
