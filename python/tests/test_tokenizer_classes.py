"""Folders whose tokenizer.json their tokenizer_class rebuilds in transformers 5 (docs/tokenizers.md): the Python
package gives AutoTokenizer's ids and decodes (goldens from scripts/make_tokenizer_fixtures.py), and streamed text
(the TextDecoder behind the streamers) equals decode."""
import gc
import os

import pytest

import jitgen
from conftest import FIXTURES, load_fixture


def stream(core, ids, skip):
    dec = jitgen._jitgen.TextDecoder(core, skip)
    return "".join(dec.put(int(i)) for i in ids) + dec.finish()


@pytest.mark.parametrize("name", ["kjv_llama_5m", "cls_llama_nonlegacy", "cls_qwen2_modeltype", "cls_gpt2", "cls_t5"])
def test_ids_decodes_and_stream_match_hf(name):
    if name == "kjv_llama_5m":  # the built-in default model's folder (LlamaTokenizer over an "always" Metaspace file)
        tok = jitgen.AutoTokenizer.from_pretrained()
        g = load_fixture("tokenizers/kjv-llama-5m.goldens.json")
    else:
        tok = jitgen.AutoTokenizer.from_pretrained(os.path.join(FIXTURES, "tokenizers", name))
        g = load_fixture(f"tokenizers/{name}/goldens.json")
    assert len(g["encode"]) >= 500
    for c in g["encode"]:
        assert tok(c["text"])["input_ids"] == c["ids"], c["text"]
        assert tok.decode(c["ids"]) == c.get("decode", c["text"])
        assert tok.decode(c["ids"], skip_special_tokens=True) == c.get("decode_skip", c["text"])
    for c in g["encode"][:200]:
        for skip in (False, True):
            assert stream(tok._core, c["ids"], skip) == tok.decode(c["ids"], skip_special_tokens=skip)


def test_default_model_separator_inside_text_as_hf():
    # transformers 5 builds Metaspace prepend_scheme "first" for this folder (its tokenizer.json says "always"), so
    # the text after </s> gets no "▁": HF's ids (kjv-llama-5m.goldens.json has them among its texts too).
    tok = jitgen.AutoTokenizer.from_pretrained()
    ids = tok("In the beginning</s>God said")["input_ids"]
    assert ids[-4:] == [2, 7963, 333, 394]


def test_text_decoder_keeps_its_tokenizer_alive():
    ids = jitgen.AutoTokenizer.from_pretrained()("And God said, Let there be light")["input_ids"]
    want = jitgen.AutoTokenizer.from_pretrained().decode(ids)
    dec = jitgen._jitgen.TextDecoder(jitgen.AutoTokenizer.from_pretrained()._core)  # the only reference
    gc.collect()
    assert "".join(dec.put(i) for i in ids) + dec.finish() == want
