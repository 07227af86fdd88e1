#!/bin/bash
# generate_bench at main 1579d0b = /tmp/quantab/gb_base and with 71369c0 (activation memo + find_packed memo) on the
# same base = /tmp/quantab/gb_new; alternating, batch 1, 1 thread, SmolLM2 shape, int8 / int4 + lm_head. Two runs
# (acts_memo_ab.jsonl: rounds 1-3 run 1, then 1-3 run 2), 05:08 and 05:29 UTC, load 8.1-9.4 on 2 cores.
cd /work/wt/quant
W=bench/.work
for rnd in 1 2 3; do
 pr=smollm2-135m; d=llama_cpp_speed; n=32
 for fmt in int8 int4; do
  if [ $((rnd % 2)) = 1 ]; then order="base new"; else order="new base"; fi
  for b in $order; do
   out=$(JITGEN_WEIGHTS=$fmt JITGEN_QUANTIZE_LM_HEAD=1 JITGEN_NUM_THREADS=1 /tmp/quantab/gb_$b --mode compiled --model $W/$d/$pr --prompts $W/$d/prompts_${pr}_1_16.txt --new $n --repeats 3 | grep '^{')
   echo "{\"round\":$rnd,\"bin\":\"$b\",\"preset\":\"$pr\",\"fmt\":\"$fmt\",\"load\":$(cut -d' ' -f1 /proc/loadavg),\"r\":$out}"
  done
 done
done
