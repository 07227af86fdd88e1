#!/usr/bin/env bash
# Installs the peer systems for bench/run_peers.py from PyPI into venvs under bench/ (gitignored).
#   bench/.venv     : torch + transformers (system site packages), ctranslate2, llama-cpp-python, gguf
#   bench/.venv-tf  : tensorflow-cpu + tf-keras + the last transformers release with TF support
# llama-cpp-python builds llama.cpp from its sdist (10-30 min on 2 cores). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py=${PYTHON:-python3}
if [[ ! -x "$here/.venv/bin/python" ]]; then "$py" -m venv --system-site-packages "$here/.venv"; fi
"$here/.venv/bin/pip" install -q numpy matplotlib safetensors ctranslate2 gguf sentencepiece
# Native CPU build (AVX-512, bf16) of llama.cpp, like a user building it on this machine; without the multimodal
# (llava / mtmd) library, which no peer uses (a third of the build).
CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-2} \
  "$here/.venv/bin/pip" install -q --no-binary llama-cpp-python llama-cpp-python
if [[ "${WITH_TF:-1}" == 1 ]]; then
  # No torch here: torch and TF in one process clash (LLVM options registered twice); hf_tf.py maps the
  # safetensors into the TF model itself.
  if [[ ! -x "$here/.venv-tf/bin/python" ]]; then "$py" -m venv "$here/.venv-tf"; fi
  "$here/.venv-tf/bin/pip" install -q "tensorflow-cpu" "tf-keras" "transformers>=4.44,<4.58" safetensors numpy
fi
