"""from_pretrained(..., quantize=...): int8 / int4 weights at load; scores stay near fp32's; bad formats raise."""
import numpy as np
import pytest

import jitgen


def test_quantized_models_generate_near_fp32(model_dirs):
    ids = np.array([[883, 971, 425]])
    kw = dict(max_new_tokens=4, eos_token_id=999, pad_token_id=0, return_dict_in_generate=True, output_scores=True)
    ref = jitgen.AutoModelForCausalLM.from_pretrained(model_dirs["small"]).generate(ids, **kw)
    scale = float(np.abs(ref.scores[0]).max())
    for fmt, tol in (("int8", 0.05), ("int4-g128-zp", 0.5)):
        model = jitgen.AutoModelForCausalLM.from_pretrained(model_dirs["small"], quantize=fmt)
        out = model.generate(ids, **kw)
        assert out.sequences.shape == (1, 7)
        err = float(np.abs(out.scores[0] - ref.scores[0]).max())
        assert 0 < err < tol * scale, (fmt, err, scale)


def test_bad_quantize_arguments_raise(model_dirs):
    with pytest.raises(jitgen.JitgenError, match='quantize: "int5" is not a weight format'):
        jitgen.AutoModelForCausalLM.from_pretrained(model_dirs["small"], quantize="int5")
    with pytest.raises(jitgen.JitgenError, match="quantize: 8 is not a weight format name"):
        jitgen.AutoModelForCausalLM.from_pretrained(model_dirs["small"], quantize=8)
    with pytest.raises(jitgen.JitgenError, match="quantize_lm_head=True: needs"):
        jitgen.AutoModelForCausalLM.from_pretrained(model_dirs["small"], quantize_lm_head=True)


def test_gptq_and_awq_folders_load_without_a_flag():
    """GPTQ / AWQ folders (tests/fixtures/quantized, scripts/make_quantized_checkpoints.py): the format comes from
    config.json; the first step's scores are HF's (on the dequantized weights) within the int8-activation error that
    tests/quant_checkpoint_test.cc bounds (2% of the largest logit); quantize= on them is refused."""
    import json
    import os
    root = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures")
    with open(os.path.join(root, "quantized_goldens.json")) as f:
        cases = {c["name"]: c for c in json.load(f)["cases"]}
    for name in ("gptq_g32_asym_descact_qwen2", "awq_g64_qwen2"):
        folder = os.path.join(root, "quantized", name)
        golden = cases[name]["logits"][1]
        hf_last = np.array(golden["logits"][-1], dtype=np.float32)
        model = jitgen.AutoModelForCausalLM.from_pretrained(folder)
        out = model.generate(np.array([golden["input_ids"]]), max_new_tokens=1, pad_token_id=2,
                             return_dict_in_generate=True, output_scores=True)
        err = float(np.abs(out.scores[0][0] - hf_last).max())
        assert 0 < err < 0.02 * float(np.abs(hf_last).max()), (name, err)
        with pytest.raises(jitgen.JitgenError, match="the checkpoint is already quantized"):
            jitgen.AutoModelForCausalLM.from_pretrained(folder, quantize="int4")
