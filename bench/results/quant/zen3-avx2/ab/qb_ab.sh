#!/bin/bash
# old vs new quant_bench alternating; args: shape rounds_per_run alternations
cd /work/wt/quant
shape=$1; r=$2; n=$3
for i in $(seq 1 $n); do
  for v in old new; do
    if [ $v = old ]; then b=bench/.work/old/quant_bench; else b=build/bench/quant_bench; fi
    echo "=== $v alt $i $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
    JITGEN_NUM_THREADS=1 $b 1 $r $shape int8,int4
  done
done
