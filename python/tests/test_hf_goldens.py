"""generate() through the bindings equals HF transformers' outputs (committed goldens) for greedy and beam search,
in compiled and eager mode."""
import numpy as np
import pytest

import jitgen
from conftest import load_fixture, make_model_from_args

_GEN = load_fixture("generation_goldens.json")
_CASES = [c for c in _GEN["cases"]]


@pytest.fixture(scope="module", params=["compiled", "eager"])
def models(request, model_dirs):
    return {name: jitgen.AutoModelForCausalLM.from_pretrained(d, mode=request.param) for name, d in model_dirs.items()}


@pytest.fixture(scope="module")
def tiny_tokenizer(model_dirs):
    return jitgen.AutoTokenizer.from_pretrained(model_dirs["tiny"])


@pytest.mark.parametrize("case", _CASES, ids=[c["name"] for c in _CASES])
def test_generation_golden(case, models, tiny_tokenizer):
    model = models[case["model"]]
    beam = case["config"].get("num_beams", 1) > 1
    tok = tiny_tokenizer if "stop_strings" in case["config"] else None
    out = model.generate(input_ids=np.array(case["input_ids"]), attention_mask=np.array(case["attention_mask"]),
                         tokenizer=tok, return_dict_in_generate=True, output_scores=True, **case["config"])
    assert out.sequences.dtype == np.int64
    assert out.sequences.tolist() == case["sequences"]
    if beam and "sequences_scores" in case:
        np.testing.assert_allclose(out.sequences_scores, case["sequences_scores"], rtol=1e-4, atol=1e-4)
    if "transition_scores" in case:
        ts = model.compute_transition_scores(out.sequences, out.scores, out.get("beam_indices"))
        np.testing.assert_allclose(ts[:, :len(case["transition_scores"][0])], case["transition_scores"], rtol=1e-4,
                                   atol=1e-3)


def test_model_goldens_greedy_batch_torch_and_numpy(tmp_path):
    torch = pytest.importorskip("torch")
    case = load_fixture("model_goldens.json")["cases"][0]
    model = jitgen.AutoModelForCausalLM.from_pretrained(make_model_from_args(tmp_path / "m", case["make_model_args"]))
    gb, eos = case["greedy_batch"], case["eos_token_id"]
    kw = dict(max_new_tokens=64, do_sample=False, num_beams=1, pad_token_id=eos, eos_token_id=eos)
    out = model.generate(np.array(gb["input_ids"]), attention_mask=np.array(gb["attention_mask"]), **kw)
    assert out.tolist() == gb["sequences"]
    out_t = model.generate(torch.tensor(gb["input_ids"]), attention_mask=torch.tensor(gb["attention_mask"]), **kw)
    assert isinstance(out_t, torch.Tensor) and out_t.tolist() == gb["sequences"]
    out_l = model.generate(input_ids=gb["input_ids"], attention_mask=gb["attention_mask"], **kw)
    assert out_l.tolist() == gb["sequences"]
