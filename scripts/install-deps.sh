#!/usr/bin/env bash
# Installs everything jitgen needs on a fresh Debian 12 machine. Idempotent.
#   scripts/install-deps.sh            build + test dependencies (Debian packages)
#   scripts/install-deps.sh --oracle   also the HF oracle (PyPI: torch CPU, transformers, tokenizers)
#   scripts/install-deps.sh --demo-model   the oracle plus what scripts/train_demo_model.py reads: the KJV
#                                      text and its `bible` printer (Debian bible-kjv, bible-kjv-text). Not CI.
#   scripts/install-deps.sh --arm      also the aarch64 cross toolchain, qemu-user and the arm64 -dev packages
#                                      (multiarch: adds dpkg's arm64 architecture) for scripts/test-arm.sh
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache
  nlohmann-json3-dev libcli11-dev libfmt-dev libpcre2-dev libutf8proc-dev
  libgtest-dev libgmock-dev libbenchmark-dev libopenblas-dev libssl-dev libhwy-dev libsentencepiece-dev
  python3 python3-pip
  libcpp-httplib-dev chromium chromium-driver
)

# Only for retraining the built-in demo model (scripts/train_demo_model.py); the committed model needs none.
DEMO_MODEL_APT_PACKAGES=(bible-kjv bible-kjv-text)
# --arm: cross-build for aarch64 and run the suite under qemu-user (scripts/test-arm.sh). The arm64 libraries install
# beside the host's (Multi-Arch: same). SentencePiece's arm64 packages are not co-installable with the host's, so
# test-arm.sh unpacks them into its build folder instead (apt-get download, no install).
ARM_APT_PACKAGES=(
  g++-aarch64-linux-gnu qemu-user
  libfmt-dev:arm64 libpcre2-dev:arm64 libutf8proc-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64
  libbenchmark-dev:arm64 libopenblas-dev:arm64 libssl-dev:arm64 libhwy-dev:arm64 libcpp-httplib-dev:arm64
)
want_oracle=0
want_arm=0
for arg in "$@"; do
  case "$arg" in
    # --oracle also installs the KJV (bible-kjv prints bible-kjv-text): scripts/make_tokenizer_fixtures.py trains
    # its tokenizers on it. Oracle-only: CI does not need them.
    --oracle) want_oracle=1; APT_PACKAGES+=("${DEMO_MODEL_APT_PACKAGES[@]}") ;;
    --demo-model) want_oracle=1; APT_PACKAGES+=("${DEMO_MODEL_APT_PACKAGES[@]}") ;;
    --arm) want_arm=1; APT_PACKAGES+=("${ARM_APT_PACKAGES[@]}") ;;
    *) echo "install-deps.sh: unknown option '$arg' (expected --oracle, --demo-model or --arm)" >&2; exit 2 ;;
  esac
done

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ((want_arm)) && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ((want_oracle)); then
  PY=${PYTHON:-python3}
  $PY -m pip install -q -r "$(dirname "$0")/requirements-oracle.txt"
fi
