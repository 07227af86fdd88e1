#!/bin/bash
# A/B of two builds' panel kernels at row counts with a remainder tile, 1 thread, alternating, 5 rounds.
#   BEFORE=<build dir> AFTER=<build dir> [ROWS=4,7,10] [LOCK=<file>] ./ab.sh   (outputs in raw/, then ./summarize.py)
: "${BEFORE:?}" "${AFTER:?}"
LOCK=${LOCK:-/tmp/jitgen-bench.lock}
cd "$(dirname "$0")" && mkdir -p raw
for round in 1 2 3 4 5; do
  for b in new="$AFTER" old="$BEFORE"; do
    name=${b%%=*}; dir=${b#*=}
    KERNELS_BENCH_ROWS=${ROWS:-4,7,10} flock "$LOCK" "$dir/bench/kernels_bench" 1 gemm > "raw/$name.$round.txt" 2>&1
  done
done
