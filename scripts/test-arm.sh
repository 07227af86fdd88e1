#!/usr/bin/env bash
# Cross-builds jitgen and its test suite for 64-bit ARM (Debian's aarch64 toolchain, arm64 multiarch libraries) in
# build-arm/ and runs the whole CTest suite under qemu-user, so that the Highway kernels' ARM targets (NEON, which the
# kernels run by default, and the portable one, which the kernel tests repeat with) are proven correct on an x86
# machine. Speed under emulation means nothing; correctness is what this shows. CTest prints each test's time.
#   scripts/test-arm.sh                 install what is missing, build, run every test (qemu -cpu max)
#   JITGEN_ARM_CPU=cortex-a72 scripts/test-arm.sh   another emulated CPU (a72: NEON only, no SVE)
#   JITGEN_ARM_JOBS=N                   ctest -jN (default 2)
#   JITGEN_ARM_TESTS=REGEX              run only the CTest tests matching REGEX (ctest -R), keeping the reports of
#                                       earlier runs: under qemu the suite takes CPU-hours (every fused multiply-add
#                                       goes through qemu's soft-float code), so it can be finished in parts
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/install-deps.sh --arm

build=build-arm
cpu=${JITGEN_ARM_CPU:-max}
export JITGEN_ARM_EMULATOR="qemu-aarch64;-cpu;${cpu}"  # CMAKE_CROSSCOMPILING_EMULATOR (cmake/aarch64-linux-gnu.cmake)

# SentencePiece's arm64 packages cannot be installed beside the host's (no Multi-Arch: same), so they are unpacked
# here and found through a pkg-config file that points at the unpacked copy; the binaries find the library by
# their build RPATH.
deps=$PWD/$build/deps
if [ ! -f "$deps/pkgconfig/sentencepiece.pc" ]; then
  rm -rf "$deps" && mkdir -p "$deps/debs" "$deps/root" "$deps/pkgconfig"
  (cd "$deps/debs" && apt-get download -q libsentencepiece0:arm64 libsentencepiece-dev:arm64 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  for d in "$deps"/debs/*.deb; do dpkg-deb -x "$d" "$deps/root"; done
  sed "s|^prefix=.*|prefix=$deps/root/usr|" "$deps/root/usr/lib/aarch64-linux-gnu/pkgconfig/sentencepiece.pc" \
    >"$deps/pkgconfig/sentencepiece.pc"
fi
export PKG_CONFIG_PATH="$deps/pkgconfig"

source scripts/ccache-env.sh
cmake -S . -B "$build" -G Ninja --no-warn-unused-cli -DCMAKE_BUILD_TYPE=Release "${JITGEN_CMAKE_LAUNCHER[@]}" \
  -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake >/dev/null
nice -n 10 cmake --build "$build"
built=$(date +%s)

# Which Highway target the kernels run on under this emulated CPU, and what else it could run.
echo "test-arm.sh: emulated CPU '$cpu': $(qemu-aarch64 -cpu "$cpu" "$build/jitgen" --version)"

# Every test runs unless JITGEN_ARM_TESTS selects some. Cross-built, CTest runs each test binary whole
# (tests/CMakeLists.txt: one emulator start per binary and SIMD target, not per case), and each writes a GoogleTest
# XML report when it ends, counted below together with the CTest tests that have no report yet.
select=()
if [ -n "${JITGEN_ARM_TESTS:-}" ]; then
  select=(-R "$JITGEN_ARM_TESTS")
else
  rm -rf "$build/gtest-xml"
fi
status=0
nice -n 10 ctest --test-dir "$build" --output-on-failure -j"${JITGEN_ARM_JOBS:-2}" "${select[@]}" || status=$?
ctest --test-dir "$build" -N | sed -n 's/^ *Test *#[0-9]*: //p' >"$build/ctest-names.txt"
python3 - "$build/gtest-xml" "$build/ctest-names.txt" <<'PY' || status=1
import glob, os, sys, xml.etree.ElementTree as ET
runs = sorted(glob.glob(sys.argv[1] + "/*.xml"))
names = open(sys.argv[2]).read().split()
missing = [t for t in names if not os.path.exists(f"{sys.argv[1]}/{t.replace(':', '_')}.xml")]
n = {"run": 0, "passed": 0, "failed": 0, "skipped": 0, "not run": 0}
for f in runs:
    for case in ET.parse(f).getroot().iter("testcase"):
        if case.get("status") != "run":
            n["not run"] += 1
            continue
        n["run"] += 1
        if case.find("failure") is not None:
            n["failed"] += 1
        elif case.get("result") == "skipped":
            n["skipped"] += 1
        else:
            n["passed"] += 1
print(f"test-arm.sh: {len(runs)} test binary runs, {n['run']} test cases run: {n['passed']} passed, "
      f"{n['failed']} failed, {n['skipped']} skipped; {n['not run']} not run (disabled)")
print(f"test-arm.sh: {len(names) - len(missing)} of {len(names)} CTest tests have a report"
      + (f"; none yet (not run, timed out or killed): {' '.join(missing)}" if missing else ""))
sys.exit(1 if n["failed"] or missing else 0)
PY
echo "test-arm.sh: build $((built - start)) s, tests $(( $(date +%s) - built )) s, total $(( $(date +%s) - start )) s"
exit $status
