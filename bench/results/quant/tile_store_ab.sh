#!/bin/bash
# generate_bench built at 4bcac92 (scalar tile store) = /tmp/q7/gb_old and at ec408e4 (AVX-512 store) = /tmp/q7/gb_cur.
# before (4bcac92: scalar tile store, per-16 horizontal sums) / after (ec408e4), alternating, batch 1, 1 thread.
cd /work/wt/quant
W=bench/.work
for rnd in 1 2 3; do
 for m in smollm2-135m:llama_cpp_speed:32 tinyllama-1.1b:llama_cpp_speed_tiny:16; do
  IFS=: read pr d n <<< "$m"
  for fmt in int8 int4; do
   if [ $((rnd % 2)) = 1 ]; then order="old cur"; else order="cur old"; fi
   for b in $order; do
    out=$(JITGEN_WEIGHTS=$fmt JITGEN_QUANTIZE_LM_HEAD=1 JITGEN_NUM_THREADS=1 /tmp/q7/gb_$b --mode compiled --model $W/$d/$pr --prompts $W/$d/prompts_${pr}_1_16.txt --new $n --repeats 3 | grep '^{')
    echo "{\"round\":$rnd,\"bin\":\"$b\",\"preset\":\"$pr\",\"fmt\":\"$fmt\",\"load\":$(cut -d' ' -f1 /proc/loadavg),\"r\":$out}"
   done
  done
 done
done
