#!/bin/bash
for i in 1 2; do for pf in 0 1024 2048 4096; do
  echo "=== pf $pf alt $i load $(cut -d' ' -f1 /proc/loadavg)"
  PF=$pf JITGEN_NUM_THREADS=1 /tmp/pf_quant_bench 1 2 smollm2-135m int8,int4 | grep "M=1 "
done; done
