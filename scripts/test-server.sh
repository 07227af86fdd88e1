#!/usr/bin/env bash
# Tests `jitgen serve` end to end: the pytest suite in tests/serve (official openai client, raw SSE, errors, metrics,
# CLI equality, headless-Chromium playground), then the bounded loopback load test, whose numbers it prints and
# writes to build-serve/load.json. Debian packages come from scripts/install-deps.sh (chromium, chromium-driver,
# cpp-httplib); openai, httpx, pytest, selenium, jinja2 and langchain-openai (a second real client) from PyPI into the
# venv build-serve/venv. Uses build/jitgen from scripts/test.sh and builds it if missing.
#   scripts/test-server.sh [pytest args...]       JITGEN_SCREENSHOT=1 also saves docs/playground.png
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

scripts/install-deps.sh
PY=${PYTHON:-python3}
if ! $PY -c 'import venv, ensurepip' 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv
fi
VENV=build-serve/venv
[ -x "$VENV/bin/python" ] || $PY -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check openai httpx pytest selenium jinja2 langchain-openai

if [ ! -x build/jitgen ] && [ ! -x build/apps/jitgen/jitgen ]; then
  source scripts/ccache-env.sh
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${JITGEN_CMAKE_LAUNCHER[@]}" >/dev/null
  cmake --build build --target jitgen
fi

rc=0
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/serve "$@" || rc=$?
echo "== load test: tests/serve/load_test.py --concurrency 64 --requests 300 --max-tokens 32"
"$VENV/bin/python" tests/serve/load_test.py --concurrency 64 --requests 300 --max-tokens 32 \
  --out build-serve/load.json || rc=$?
echo "== chat load test: tests/serve/load_test.py --chat --concurrency 64 --requests 192 --max-tokens 24"
"$VENV/bin/python" tests/serve/load_test.py --chat --concurrency 64 --requests 192 --max-tokens 24 \
  --out build-serve/load-chat.json || rc=$?
echo "scripts/test-server.sh: $(( $(date +%s) - start )) s"
exit $rc
