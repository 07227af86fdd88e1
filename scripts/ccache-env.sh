# Sourced by the build scripts (demo.sh, test.sh, test-python.sh, test-server.sh, sanitize.sh, build-cuda.sh,
# test-arm.sh):
# compile through ccache when it is installed (scripts/install-deps.sh installs it), so that CI's several build
# folders compile each file once and a rerun compiles only what changed. JITGEN_CCACHE=0 turns it off.
# Sets JITGEN_CMAKE_LAUNCHER, CMake arguments for the configure step (empty without ccache).
#   CCACHE_BASEDIR: paths under the checkout are hashed relative to the build folder, so two checkouts (or build
#     folders at the same depth: build/, build-cuda/, build-wheel-*/) share entries.
#   CCACHE_NOHASHDIR: debug info (the sanitizer build's -g1) does not tie an entry to its folder.
#   CXX=g++ for a new build folder: ccache hashes the compiler's name, and CMake alone picks c++ where scikit-build-core
#     (the wheel) picks g++, the same compiler under two names, so nothing would be shared.
#   Only when ccache's cache folder can be written: otherwise every compile would fail, not just miss.
JITGEN_CMAKE_LAUNCHER=()
jitgen_ccache_dir=$(command -v ccache >/dev/null 2>&1 && ccache -k cache_dir 2>/dev/null || true)
if [ "${JITGEN_CCACHE:-1}" != 0 ] && [ -n "$jitgen_ccache_dir" ] && mkdir -p "$jitgen_ccache_dir" 2>/dev/null &&
   [ -w "$jitgen_ccache_dir" ]; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1 CXX="${CXX:-g++}"
  JITGEN_CMAKE_LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
