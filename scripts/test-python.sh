#!/usr/bin/env bash
# Builds and installs the Python package from this repo (`pip install .`: scikit-build-core + pybind11, both from
# PyPI) into the venv build-python/venv, installs numpy + pytest there, and runs python/tests. Idempotent: the venv
# and the CMake build folder build-wheel-<tag>/ are reused, so a rerun rebuilds only what changed.
#   scripts/test-python.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

scripts/install-deps.sh                     # the C++ build's Debian packages
PY=${PYTHON:-python3}
if ! $PY -c 'import venv, ensurepip, sysconfig, os; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"   # Debian's own python3: venv + headers
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv python3-dev
fi

VENV=build-python/venv
[ -x "$VENV/bin/python" ] || $PY -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check numpy pytest "scikit-build-core>=0.10" "pybind11>=2.11"
# --no-build-isolation: reuse the venv's build tools and the persistent build folder (incremental rebuilds).
# CMAKE_ARGS (read by scikit-build-core): ccache, which has the library's objects already after scripts/test.sh.
source scripts/ccache-env.sh
CMAKE_ARGS="${CMAKE_ARGS:-} ${JITGEN_CMAKE_LAUNCHER[*]}" \
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-build-isolation .

# Run from outside the source tree so `import jitgen` is the installed package, not python/jitgen.
cd build-python
rc=0
"$OLDPWD/$VENV/bin/python" -m pytest -q -p no:cacheprovider "$OLDPWD/python/tests" "$@" || rc=$?
echo "scripts/test-python.sh: $(( $(date +%s) - start )) s"
exit $rc
