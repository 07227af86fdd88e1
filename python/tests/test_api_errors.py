"""Tokenizer API, output objects and errors: JitgenError (a ValueError) with the engine's one-line message."""
import numpy as np
import pytest

import jitgen


def test_tokenizer_call_padding_truncation(tiny_dir):
    tok = jitgen.AutoTokenizer.from_pretrained(tiny_dir)
    assert tok.eos_token_id == 50256 and tok.pad_token_id is None and tok.padding_side == "right"
    assert tok("Hello, my name is")["input_ids"] == [15496, 11, 616, 1438, 318]
    assert tok.encode("Hello") == [15496]
    with pytest.raises(jitgen.JitgenError, match="padding token"):
        tok(["a", "b c"], padding=True)
    tok.pad_token = tok.eos_token
    enc = tok(["Hello", "Hello, my name is"], padding=True, return_tensors="np")
    assert enc.input_ids.dtype == np.int64 and enc.input_ids.shape == (2, 5)
    assert enc.attention_mask[0].tolist() == [1, 0, 0, 0, 0]  # right padding by default, as HF GPT-2
    enc = tok(["Hello", "Hello, my name is"], padding=True, padding_side="left", pad_to_multiple_of=8)
    assert enc["input_ids"][0] == [50256] * 7 + [15496] and enc["attention_mask"][1] == [0, 0, 0] + [1] * 5
    enc = tok(["Hello, my name is"], truncation=True, max_length=3, return_tensors="np")
    assert enc["input_ids"].tolist() == [[15496, 11, 616]]
    enc = tok(["Hello"], padding="max_length", max_length=4, return_tensors="np")
    assert enc["input_ids"].tolist() == [[15496, 50256, 50256, 50256]]
    with pytest.raises(jitgen.JitgenError, match="padding=True"):
        tok(["Hello", "Hello, my name is"], return_tensors="np")
    ids = tok(["Hello, my name is<|endoftext|>"], return_tensors="np")["input_ids"]
    assert tok.batch_decode(ids) == ["Hello, my name is<|endoftext|>"]
    assert tok.batch_decode(ids, skip_special_tokens=True) == ["Hello, my name is"]
    assert tok.decode(ids[0].tolist()) == tok.decode(ids[0])


def test_return_dict_and_scores(small_model):
    ids = np.array([[883, 971, 425]])
    out = small_model.generate(input_ids=ids, max_new_tokens=5, eos_token_id=999, pad_token_id=0,
                               return_dict_in_generate=True, output_scores=True)
    assert isinstance(out, jitgen.GenerateDecoderOnlyOutput)
    assert out.sequences.shape == (1, 8) and isinstance(out.scores, tuple) and len(out.scores) == 5
    assert out.scores[0].shape == (1, 1000) and out["sequences"] is out.sequences
    assert [int(s.argmax()) for s in out.scores] == out.sequences[0, 3:].tolist()
    plain = small_model.generate(ids, max_new_tokens=5, eos_token_id=999, pad_token_id=0)
    assert isinstance(plain, np.ndarray) and plain.tolist() == out.sequences.tolist()
    beam = small_model.generate(ids, max_new_tokens=5, num_beams=3, num_return_sequences=2, eos_token_id=999,
                                pad_token_id=0, return_dict_in_generate=True, output_scores=True)
    assert isinstance(beam, jitgen.GenerateBeamDecoderOnlyOutput)
    assert beam.sequences_scores.shape == (2,) and beam.scores[0].shape == (3, 1000)
    assert beam.beam_indices.shape[0] == 2


def test_errors_carry_the_engine_message(small_model, model_dirs, tmp_path):
    assert issubclass(jitgen.JitgenError, ValueError)
    ids = np.array([[883, 971, 425]])
    with pytest.raises(jitgen.JitgenError, match=r"top_p must be in \(0, 1\], got 2") as e:
        small_model.generate(ids, do_sample=True, top_p=2.0)
    assert e.value.exit_code == 2
    with pytest.raises(jitgen.JitgenError, match="num_return_sequences") as e:
        small_model.generate(ids, num_return_sequences=2)
    with pytest.raises(jitgen.JitgenError, match="exceeds the model's n_positions") as e:
        small_model.generate(ids, max_new_tokens=500)
    assert e.value.exit_code == 4
    with pytest.raises(jitgen.JitgenError, match="temperature"):
        small_model.generate(ids, do_sample=True, temperature="hot")
    with pytest.raises(jitgen.JitgenError, match=r"model_kwargs.*max_new_token'"):
        small_model.generate(ids, max_new_token=3)
    with pytest.raises(jitgen.JitgenError, match="2-D"):
        small_model.generate(np.array([883, 971]))
    with pytest.raises(jitgen.JitgenError, match="outside the vocabulary"):
        small_model.generate(np.array([[5000]]))
    with pytest.raises(jitgen.JitgenError, match="CUDA"):
        jitgen.AutoModelForCausalLM.from_pretrained(model_dirs["small"], device="cuda")
    with pytest.raises(jitgen.JitgenError, match="mode"):
        jitgen.AutoModelForCausalLM.from_pretrained(model_dirs["small"], mode="jit")
    (tmp_path / "empty").mkdir()
    with pytest.raises(jitgen.JitgenError) as e:
        jitgen.AutoModelForCausalLM.from_pretrained(tmp_path / "empty")
    assert e.value.exit_code == 3 and "config.json" in str(e.value)
    with pytest.raises(jitgen.JitgenError, match="not a folder"):
        jitgen.AutoTokenizer.from_pretrained(tmp_path / "missing")


def test_generation_config_and_defaults(small_model):
    ids = np.array([[883, 971, 425]])
    default = small_model.generate(ids, eos_token_id=999, pad_token_id=0)
    assert default.shape == (1, 3 + 20)  # HF: 20 new tokens by default
    out = small_model.generate(ids, generation_config={"max_new_tokens": 4}, eos_token_id=999, pad_token_id=0)
    assert out.shape == (1, 7)
    small_model.generation_config.max_new_tokens = 2
    try:
        assert small_model.generate(ids, eos_token_id=999, pad_token_id=0).shape == (1, 5)
    finally:
        del small_model.generation_config["max_new_tokens"]


def test_newer_hf_processor_options_and_refusals(small_model):
    """The HF processors beyond the classic ones reach the engine (kwargs, dict and HF's dict form of
    sequence_bias); HF options jitgen does not implement are refused by name, not ignored."""
    ids = np.array([[883, 971, 425]])
    base = dict(max_new_tokens=6, eos_token_id=999, pad_token_id=0)
    plain = small_model.generate(ids, **base)[0, 3:].tolist()
    sup = small_model.generate(ids, suppress_tokens=plain[:2], **base)[0, 3:].tolist()
    assert plain[0] not in sup and plain[1] not in sup
    bias = small_model.generate(ids, sequence_bias={(plain[0],): -1e30, (plain[1],): -1e30}, **base)[0, 3:].tolist()
    assert bias == sup
    assert small_model.generate(ids, generation_config={"suppress_tokens": plain[:2]}, **base)[0, 3:].tolist() == sup
    forced = small_model.generate(ids, forced_eos_token_id=7, renormalize_logits=True, **base)[0, 3:].tolist()
    assert forced[-1] == 7 and forced[:-1] == plain[:-1]
    with pytest.raises(jitgen.JitgenError, match="'penalty_alpha' = 0.6 is not supported") as e:
        small_model.generate(ids, penalty_alpha=0.6, top_k=4, **base)
    assert e.value.exit_code == 2
    with pytest.raises(jitgen.JitgenError, match="'num_beam_groups' = 2 is not supported"):
        small_model.generate(ids, generation_config={"num_beams": 4, "num_beam_groups": 2}, **base)
    small_model.generate(ids, penalty_alpha=0.6, top_k=4, do_sample=True, **base)  # plain sampling in HF too
