#!/bin/bash
# int8 decode with the lm_head as fp32 panels (A: main 2069853) vs bf16 panels of a BF16 checkpoint's values (B: this
# change), alternating, 1 thread, same process settings. Prints one JSON line per run.
P=/work/wt/loadpeak/bench/.work/prompt16.txt
for round in 1 2 3; do
  for model in /work/main/bench/.work/qwen05-bf16 /work/wt/loadpeak/bench/.work/sm-bf16; do
    for sys in A=/tmp/after-bin B=/tmp/new-bin; do
      name=${sys%%=*}; dir=${sys#*=}
      out=$(JITGEN_WEIGHTS=int8 JITGEN_NUM_THREADS=1 flock /work/wt/notes/BENCH.lock $dir/bench/generate_bench --model $model --prompts $P --new 32 --repeats 2 2>/dev/null)
      echo "$out" | python3 -c "
import json,sys; d=json.load(sys.stdin)
print(json.dumps({'round': $round, 'model': '$(basename $model)', 'build': '$name', 'load': open('/proc/loadavg').read().split()[0], **{k: d.get(k) for k in ('decode_s','decode_cpu_s','panels_mib','weight_bytes','tokens')}}))"
    done
  done
done
