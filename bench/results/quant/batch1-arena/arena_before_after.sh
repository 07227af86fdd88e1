#!/bin/bash
# before/after batch-1 decode: old binary (separate heap panels) vs new (arena, interleaved blocks), alternating.
W=/work/wt/quant/bench/.work
cd /work/wt/quant
for rnd in 1 2 3; do
 for m in smollm2-135m:llama_cpp_speed tinyllama-1.1b:llama_cpp_speed_tiny; do
  pr=${m%%:*}; d=${m##*:}
  for fmt in int8 int4; do
   if [ $((rnd % 2)) = 1 ]; then order="before after"; else order="after before"; fi
   for b in $order; do
    out=$(JITGEN_WEIGHTS=$fmt JITGEN_QUANTIZE_LM_HEAD=1 JITGEN_NUM_THREADS=1 /tmp/quant6/gb_$b --mode compiled --model $W/$d/$pr --prompts $W/$d/prompts_${pr}_1_16.txt --new 32 --repeats 3 | grep '^{')
    echo "{\"round\":$rnd,\"bin\":\"$b\",\"preset\":\"$pr\",\"fmt\":\"$fmt\",\"load\":$(cut -d' ' -f1 /proc/loadavg),\"r\":$out}"
   done
  done
 done
done
