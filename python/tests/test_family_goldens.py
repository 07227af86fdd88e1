"""The model families beside GPT-2 through the bindings: every Llama / Mistral / Qwen2 / OPT HF golden
(tests/fixtures/llama_goldens.json, opt_goldens.json; scripts/goldens_families.py) gives HF's greedy tokens, HF's
left-padded greedy batch and HF's beams, compiled and eager (logits are checked by tests/family_goldens_test.cc)."""
import numpy as np
import pytest

import jitgen
from conftest import load_fixture, make_model_from_args

_CASES = load_fixture("llama_goldens.json")["cases"] + load_fixture("opt_goldens.json")["cases"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    return {c["name"]: make_model_from_args(root / c["name"], c["make_model_args"]) for c in _CASES}


@pytest.mark.parametrize("mode", ["compiled", "eager"])
@pytest.mark.parametrize("case", _CASES, ids=[c["name"] for c in _CASES])
def test_family_golden_tokens(case, mode, folders):
    model = jitgen.AutoModelForCausalLM.from_pretrained(folders[case["name"]], mode=mode)
    assert model.info()["model_type"] == case["family"]
    eos = case["eos_token_id"]
    kw = dict(do_sample=False, pad_token_id=eos, eos_token_id=eos)
    for g in case["greedy"][:4]:
        out = model.generate(np.array([g["input_ids"]]), max_new_tokens=case["max_new_tokens"], **kw)
        assert out.tolist() == [g["sequence"]]
    gb = case["greedy_batch"]
    out = model.generate(np.array(gb["input_ids"]), attention_mask=np.array(gb["attention_mask"]),
                         max_new_tokens=case["max_new_tokens"], **kw)
    assert out.tolist() == gb["sequences"]
    beam = case["beam"]
    run = beam["runs"][0]
    out = model.generate(np.array([run["input_ids"]]), max_new_tokens=beam["max_new_tokens"],
                         num_beams=beam["num_beams"], num_return_sequences=beam["num_beams"], **kw)
    assert out.tolist() == run["sequences"]

