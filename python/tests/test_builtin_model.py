"""The built-in default model (kjv-llama-5m) as the Python package ships it: from_pretrained() without a path loads
the packaged folder after its SHA256SUMS check, and it reproduces HF's tokenizer ids and greedy tokens
(tests/fixtures/demo_model_goldens.json, scripts/goldens_demo_model.py)."""
import os
import shutil

import numpy as np
import pytest

import jitgen
from conftest import load_fixture


@pytest.fixture(scope="module")
def goldens():
    return load_fixture("demo_model_goldens.json")


def test_default_is_the_packaged_kjv_model_and_matches_hf(goldens):
    assert os.path.isfile(os.path.join(jitgen.BUILTIN_MODEL_DIR, "SHA256SUMS"))
    model = jitgen.AutoModelForCausalLM.from_pretrained()
    tok = jitgen.AutoTokenizer.from_pretrained()
    assert model.name_or_path == jitgen.BUILTIN_MODEL_DIR
    assert model.config["model_type"] == "llama"
    for t in goldens["tokenized"]:
        assert tok(t["text"])["input_ids"] == t["input_ids"], t["text"]
    g = goldens["greedy"]
    for run in g["runs"][:3]:
        ids = np.array([run["input_ids"]])
        out = model.generate(input_ids=ids, attention_mask=np.ones_like(ids), max_new_tokens=g["max_new_tokens"],
                             do_sample=False)
        assert out[0].tolist() == run["sequence"], run["text"]
        assert tok.decode(out[0], skip_special_tokens=True) == run["text"]
    by_name = jitgen.AutoModelForCausalLM.from_pretrained(jitgen.BUILTIN_MODEL, mode="eager")
    assert by_name.name_or_path == jitgen.BUILTIN_MODEL_DIR


def test_a_changed_file_is_refused_naming_it(tmp_path, monkeypatch):
    copy = tmp_path / "kjv-llama-5m"
    shutil.copytree(jitgen.BUILTIN_MODEL_DIR, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-7] ^= 1  # one weight byte: the file still parses
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(jitgen, "BUILTIN_MODEL_DIR", str(copy))
    with pytest.raises(jitgen.JitgenError, match=r"model\.safetensors: sha256 is [0-9a-f]{64}, expected") as e:
        jitgen.AutoModelForCausalLM.from_pretrained()
    assert "\n" not in str(e.value)
    with pytest.raises(jitgen.JitgenError, match=r"model\.safetensors: sha256 is"):
        jitgen.AutoTokenizer.from_pretrained(jitgen.BUILTIN_MODEL)
