#!/bin/bash
# TinyLlama-1.1B shape, batch 32 x prompt 16, 32 new tokens, compiled, 1 thread: two builds' generate_bench
# alternating call by call (decode seconds of the timed call, the greedy tokens' hash).
#   NEW=<build> OLD=<build> MODEL=<tinyllama folder> PROMPTS=<prompts file> ./e2e.sh <f32|bf16> <rounds>
: "${NEW:?}" "${OLD:?}" "${MODEL:?}" "${PROMPTS:?}"
for r in $(seq 1 "$2"); do
  for b in new="$NEW" old="$OLD"; do
    n=${b%%=*}; d=${b#*=}
    echo -n "$1 $n "
    JITGEN_WEIGHTS=$1 JITGEN_NUM_THREADS=1 "$d/bench/generate_bench" --mode compiled --model "$MODEL" --prompts "$PROMPTS" \
      --new 32 --repeats 1 2>/dev/null | python3 -c "import hashlib, json, sys
d = json.loads(sys.stdin.read().strip().splitlines()[-1])
print('decode_s %.3f decode_cpu_s %.3f prefill_s %.3f tokens %s' % (d['decode_s'], d['decode_cpu_s'], d['prefill_s'],
      hashlib.sha1(json.dumps(d.get('tokens')).encode()).hexdigest()[:10]))"
  done
done
