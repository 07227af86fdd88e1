#!/bin/bash
# old vs new generate_bench alternating: SmolLM2 int8 / int4 (lm_head quantized), batch 1 and 8, 1 thread.
cd /work/wt/quant
M=bench/.work/llama_cpp_speed/smollm2-135m
python3 -c "
for B in (1,8):
  open('bench/.work/ab/prompt_smollm2_%d.txt'%B,'w').write(''.join(' '.join(str((b*7919+t*104729+12345)%(49152-100)+100) for t in range(16))+'\n' for b in range(B)))"
for i in 1 2 3; do for B in 1 8; do for f in int8 int4; do for v in old new; do
  if [ $v = old ]; then b=bench/.work/old/generate_bench; else b=build/bench/generate_bench; fi
  r=$(JITGEN_WEIGHTS=$f JITGEN_QUANTIZE_LM_HEAD=1 JITGEN_NUM_THREADS=1 $b --model $M --prompts bench/.work/ab/prompt_smollm2_$B.txt --new 32 | tail -1)
  python3 -c "
import json,sys; r=json.loads(sys.argv[1]); import hashlib
print('$v', 'alt $i', 'B=$B', '$f', 'decode_cpu_s %.4f decode_s %.4f'%(r['decode_cpu_s'],r['decode_s']), 'tokens', hashlib.md5(json.dumps(r['tokens']).encode()).hexdigest()[:10], 'load $(cut -d' ' -f1 /proc/loadavg)')" "$r"
done; done; done; done
