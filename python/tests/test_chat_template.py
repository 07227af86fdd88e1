"""tokenizer.apply_chat_template: every case of tests/fixtures/chat_template_goldens.json (rendered by transformers'
own apply_chat_template path, scripts/goldens_chat_templates.py) renders to the same text here, and its ids are the
tokenizer's ids of that text; the folder's template and special tokens are picked up by from_pretrained."""
import json
import re

import numpy as np
import pytest
from conftest import load_fixture

import jitgen


@pytest.fixture(scope="module")
def tok(tiny_dir):
    return jitgen.AutoTokenizer.from_pretrained(tiny_dir)


def split_context(case):
    ctx = dict(case["context"])
    args = {"conversation": ctx.pop("messages"), "tools": ctx.pop("tools"), "documents": ctx.pop("documents"),
            "add_generation_prompt": ctx.pop("add_generation_prompt")}
    if case["template"] == "llama31_tools" and "date_string" not in ctx:
        # the goldens' strftime_now clock reads 2024-07-26; the bindings use the real clock
        ctx["date_string"] = "26 Jul 2024"
    return args, ctx


def test_goldens_render_identically(tok):
    g = load_fixture("chat_template_goldens.json")
    checked = 0
    for case in g["cases"]:
        args, kwargs = split_context(case)
        template = g["templates"][case["template"]]
        if "error" in case:
            with pytest.raises(jitgen.JitgenError, match=re.escape(case["error"])):
                tok.apply_chat_template(chat_template=template, tokenize=False, **args, **kwargs)
            continue
        text = tok.apply_chat_template(chat_template=template, tokenize=False, **args, **kwargs)
        assert text == case["output"], (case["template"], case["chat"])
        ids = tok.apply_chat_template(chat_template=template, return_dict=False, **args, **kwargs)
        assert ids == tok.encode(case["output"])
        checked += 1
    assert checked > 300


def test_folder_template_and_special_tokens(tiny_dir, tmp_path):
    d = tmp_path / "chat"
    jitgen.make_random_model(str(d), "tiny", with_tokenizer=True)
    template = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}" \
               "{% if add_generation_prompt %}[assistant]{% endif %}{{ greeting | default('') }}"
    (d / "tokenizer_config.json").write_text(json.dumps({"eos_token": {"content": "<|endoftext|>"},
                                                         "chat_template": template}))
    tok = jitgen.AutoTokenizer.from_pretrained(d)
    assert tok.chat_template == template
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": None, "tool_calls": None}]
    text = tok.apply_chat_template(msgs[:1], add_generation_prompt=True, tokenize=False, greeting="!")
    assert text == "[user]Hi<|endoftext|>[assistant]!"
    assert tok.apply_chat_template(msgs, tokenize=False) == "[user]Hi<|endoftext|>[assistant]<|endoftext|>"
    enc = tok.apply_chat_template([msgs[:1], msgs[:1]], add_generation_prompt=True, return_tensors="np")
    assert isinstance(enc["input_ids"], np.ndarray) and enc["input_ids"].shape[0] == 2
    assert enc["input_ids"][0].tolist() == tok.encode("[user]Hi<|endoftext|>[assistant]")
    with pytest.raises(jitgen.JitgenError, match="has no chat_template"):
        jitgen.AutoTokenizer.from_pretrained(tiny_dir).apply_chat_template(msgs[:1])
