#!/bin/bash
# GPT-2 124M, compiled, 1 thread: generate_bench of be05630 (old) and 445edc9 (new = 2615aa4 + its review) alternating.
W=/work/main/bench/.work
for pt in 32x16 8x128; do B=${pt%x*}; T=${pt#*x}
 for fmt in bf16 f32; do
  for r in 1 2 3; do
   if [ $((r % 2)) = 1 ]; then order="old new"; else order="new old"; fi
   for n in $order; do
    [ $n = old ] && bin=/work/wt/rowold/build/bench/generate_bench || bin=/tmp/gb_base
    JITGEN_WEIGHTS=$fmt JITGEN_NUM_THREADS=1 $bin --mode compiled --model $W/gpt2 --prompts $W/prompts_${B}_${T}_50257.txt --new 32 --repeats 3 2>/dev/null | python3 -c "import hashlib, json, sys
d = json.loads([l for l in sys.stdin.read().splitlines() if l.startswith('{')][-1])
print('$pt $fmt $r $n decode_cpu_s %.3f prefill_s %.4f tokens %s load %s' % (d['decode_cpu_s'], d['prefill_s'], hashlib.sha1(json.dumps(d.get('tokens')).encode()).hexdigest()[:10], open('/proc/loadavg').read().split()[0]))"
   done
  done
 done
done
