#!/bin/bash
# The same GPT-2 grid point by three builds, alternating call by call (generate_bench, compiled, 32 new tokens):
#   HEAD=<build> S13=<build> RUN5=<build> MODEL=<gpt2 folder> ./builds_ab.sh <prompts file> <threads> <f32|bf16> <rounds>
# Prints each call's decode seconds (decode_cpu_s where the build reports it) and its steady call.
: "${HEAD:?}" "${S13:?}" "${RUN5:?}" "${MODEL:?}"
for r in $(seq 1 "$4"); do
  for b in head="$HEAD" s13="$S13" run5="$RUN5"; do
    n=${b%%=*}; d=${b#*=}
    echo -n "$2t $3 $n "
    JITGEN_WEIGHTS=$3 JITGEN_NUM_THREADS=$2 "$d/bench/generate_bench" --mode compiled --model "$MODEL" --prompts "$1" \
      --new 32 --repeats 2 2>/dev/null | python3 -c "import json, sys
d = json.loads(sys.stdin.read().strip().splitlines()[-1])
print('decode_s %.3f cpu %s steady %.3f' % (d['decode_s'], d.get('decode_cpu_s', '-'), d['steady_call_s']))"
  done
done
