#!/bin/bash
# A/B of two builds' panel kernels at row counts with a remainder tile, 1 thread, alternating, 5 rounds.
#   BEFORE=<build dir> AFTER=<build dir> [ROWS=4,7,10] [RAW=raw] [LOCK=<file>] ./ab.sh   (outputs in $RAW/, then
#   ./summarize.py $RAW)
: "${BEFORE:?}" "${AFTER:?}"
LOCK=${LOCK:-/tmp/jitgen-bench.lock}
RAW=${RAW:-raw}
cd "$(dirname "$0")" && mkdir -p "$RAW"
for round in 1 2 3 4 5; do
  for b in new="$AFTER" old="$BEFORE"; do
    name=${b%%=*}; dir=${b#*=}
    KERNELS_BENCH_ROWS=${ROWS:-4,7,10} flock "$LOCK" "$dir/bench/kernels_bench" 1 gemm > "$RAW/$name.$round.txt" 2>&1
  done
done
