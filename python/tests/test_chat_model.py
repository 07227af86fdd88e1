"""An unmodified HF chat-model folder (tests/fixtures/chat_model/qwen2-chat, written by transformers' save_pretrained:
Qwen2ForCausalLM, Qwen2.5's chat template with tools, generation_config eos list [<|im_end|>, <|endoftext|>]) through
the HF-shaped Python API, against the HF goldens of scripts/make_chat_model.py: apply_chat_template text and ids
are HF's, and generate() on them gives HF's greedy tokens, ending on the end-of-turn id where HF's generate does."""
import json
import os

import numpy as np
import pytest
from conftest import FIXTURES

import jitgen

FOLDER = os.path.join(FIXTURES, "chat_model", "qwen2-chat")


@pytest.fixture(scope="module")
def goldens():
    with open(os.path.join(FIXTURES, "chat_model", "goldens.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def tok():
    return jitgen.AutoTokenizer.from_pretrained(FOLDER)


def test_apply_chat_template_is_hf(tok, goldens):
    for c in goldens["cases"]:
        kw = dict(tools=c.get("tools"), add_generation_prompt=c["add_generation_prompt"])
        assert tok.apply_chat_template(c["messages"], tokenize=False, **kw) == c["text"], c["name"]
        assert tok.apply_chat_template(c["messages"], return_dict=False, **kw) == c["ids"], c["name"]
        enc = tok.apply_chat_template(c["messages"], return_tensors="np", **kw)
        assert enc["input_ids"][0].tolist() == c["ids"] and enc["attention_mask"].all()
    with pytest.raises(jitgen.JitgenError, match=goldens["unrenderable"]["error"]):
        tok.apply_chat_template(goldens["unrenderable"]["messages"], add_generation_prompt=True)


@pytest.mark.parametrize("mode", ["compiled", "eager"])
def test_generate_on_the_rendered_chat_is_hf(tok, goldens, mode):
    model = jitgen.AutoModelForCausalLM.from_pretrained(FOLDER, mode=mode)
    eos = goldens["eos_token_id"]
    with open(os.path.join(FOLDER, "generation_config.json")) as f:
        pad = json.load(f)["pad_token_id"]
    stopped = 0
    for c in goldens["cases"]:
        enc = tok.apply_chat_template(c["messages"], tools=c.get("tools"),
                                      add_generation_prompt=c["add_generation_prompt"], return_tensors="np")
        out = model.generate(**enc, max_new_tokens=goldens["max_new_tokens"], do_sample=False)  # folder's eos list
        fresh = out[0, enc["input_ids"].shape[1]:].tolist()
        hf = c["generated"]
        assert fresh[: len(hf)] == hf, c["name"]
        assert all(t == pad for t in fresh[len(hf):])  # HF fills a finished row with pad_token_id
        reply = tok.decode(np.array(hf), skip_special_tokens=True)
        assert reply == c["reply"], c["name"]
        stopped += hf[-1] in eos
    assert stopped >= 2  # ends_im_end on <|im_end|>, ends_endoftext on <|endoftext|>
