#!/usr/bin/env bash
# Installs everything jitgen needs on a fresh Debian 12 machine. Idempotent.
#   scripts/install-deps.sh            build + test dependencies (Debian packages)
#   scripts/install-deps.sh --oracle   also the HF oracle (PyPI: torch CPU, transformers, tokenizers)
#   scripts/install-deps.sh --demo-model   the oracle plus what scripts/train_demo_model.py reads: the KJV
#                                      text and its `bible` printer (Debian bible-kjv, bible-kjv-text). Not CI.
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  nlohmann-json3-dev libcli11-dev libfmt-dev libpcre2-dev libutf8proc-dev
  libgtest-dev libgmock-dev libbenchmark-dev libopenblas-dev libssl-dev libhwy-dev libsentencepiece-dev
  python3 python3-pip
  libcpp-httplib-dev chromium chromium-driver
)

# Only for retraining the built-in demo model (scripts/train_demo_model.py); the committed model needs none.
DEMO_MODEL_APT_PACKAGES=(bible-kjv bible-kjv-text)
want_oracle=0
for arg in "$@"; do
  case "$arg" in
    # --oracle also installs the KJV (bible-kjv prints bible-kjv-text): scripts/make_tokenizer_fixtures.py trains
    # its tokenizers on it. Oracle-only: CI does not need them.
    --oracle) want_oracle=1; APT_PACKAGES+=("${DEMO_MODEL_APT_PACKAGES[@]}") ;;
    --demo-model) want_oracle=1; APT_PACKAGES+=("${DEMO_MODEL_APT_PACKAGES[@]}") ;;
    *) echo "install-deps.sh: unknown option '$arg' (expected --oracle or --demo-model)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ((want_oracle)); then
  PY=${PYTHON:-python3}
  $PY -m pip install -q -r "$(dirname "$0")/requirements-oracle.txt"
fi
