#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/fuzz_*.cc) in build-fuzz/ with clang + ASan + UBSan and runs each for
# SECONDS (default 60), one after another, starting from the committed seeds in fuzz/corpus/<harness>/ (new
# inputs go to build-fuzz/corpus/<harness>/, crashes to build-fuzz/crashes/). Prints the executions per harness.
#   scripts/fuzz.sh [SECONDS] [HARNESS...]      e.g. scripts/fuzz.sh 600 fuzz_safetensors
# Env: FUZZ_JOBS=N runs N harnesses at once (default 1), FUZZ_FLAGS adds libFuzzer flags.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
CXX=${CXX_FUZZ:-clang++}
command -v "$CXX" >/dev/null || { echo "fuzz.sh: $CXX not found (apt-get install clang)" >&2; exit 2; }

cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CXX" \
  -DJITGEN_FUZZ=ON -DJITGEN_BUILD_TESTS=OFF -DJITGEN_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
  >/dev/null
harnesses=("$@")
if ((${#harnesses[@]} == 0)); then
  for f in fuzz/fuzz_*.cc; do harnesses+=("$(basename "$f" .cc)"); done
fi
nice cmake --build build-fuzz --target "${harnesses[@]}"

mkdir -p build-fuzz/crashes build-fuzz/logs
status=0
run_one() {
  local h=$1
  mkdir -p "build-fuzz/corpus/$h"
  local seeds=()
  [ -d "fuzz/corpus/$h" ] && seeds+=("fuzz/corpus/$h")
  local dict=()
  [ "$h" != fuzz_tokenizer_codec ] && [ "$h" != fuzz_chat_template ] && [ "$h" != fuzz_tokenizer_model ] &&
    dict+=("-dict=fuzz/json.dict")
  [ "$h" = fuzz_chat_template ] && dict+=("-dict=fuzz/jinja.dict")
  # Input size cap per harness (fuzz/README.md says why): plans are ~11 KB; the codec has no size-dependent
  # path past 256 bytes (the BPE word cache limit), and long inputs only slow it down.
  local max_len=8192
  case $h in
    fuzz_plan_store) max_len=16384 ;;
    fuzz_tokenizer_codec) max_len=1024 ;;
  esac
  # -rss_limit_mb: an input that makes a parser allocate gigabytes is a finding (limits must be checked).
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
    nice "build-fuzz/fuzz/$h" "build-fuzz/corpus/$h" "${seeds[@]}" "${dict[@]}" -max_total_time="$SECONDS_EACH" \
    -max_len="$max_len" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/crashes/$h-" ${FUZZ_FLAGS:-} >"build-fuzz/logs/$h.log" 2>&1
}
pids=()
for h in "${harnesses[@]}"; do
  run_one "$h" &
  pids+=($!)
  while (($(jobs -rp | wc -l) >= ${FUZZ_JOBS:-1})); do sleep 1; done
done
for p in "${pids[@]}"; do wait "$p" || status=1; done

printf '%-28s %14s %10s  %s\n' harness executions exec/s result
for h in "${harnesses[@]}"; do
  log="build-fuzz/logs/$h.log"
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{print $2}' | tail -1)
  result=ok
  grep -q 'ERROR: libFuzzer\|==ERROR\|runtime error\|Test unit written' "$log" && result="CRASH (see $log)"
  printf '%-28s %14s %10s  %s\n' "$h" "${runs:-?}" "${speed:-?}" "$result"
done
exit $status
