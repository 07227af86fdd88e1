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
    with pytest.raises(jitgen.JitgenError, match="quantize_lm_head=True: needs"):
        jitgen.AutoModelForCausalLM.from_pretrained(model_dirs["small"], quantize_lm_head=True)
