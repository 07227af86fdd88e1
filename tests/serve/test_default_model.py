"""`jitgen serve` without --model serves the built-in default kjv-llama-5m as `jitgen-default`: greedy completions
(plain and streamed) equal `jitgen generate` without --model (whose greedy tokens tests/demo_model_test.cc checks
against HF), cut at the model's </s>."""
import json
import subprocess

import httpx
import pytest
from serverproc import REPO, find_binary

MAX_TOKENS = 24
PROMPTS = ["In the beginning God", "And the LORD said unto Moses,", "Blessed are the"]
EOS_ID = json.loads((REPO / "models" / "kjv-llama-5m" / "generation_config.json").read_text())["eos_token_id"]


def cli_default(prompt):
    out = subprocess.run([str(find_binary()), "generate", "--json", "--max-new-tokens", str(MAX_TOKENS), "--", prompt],
                         capture_output=True, text=True, timeout=120, check=True)
    doc = json.loads(out.stdout)
    assert "kjv-llama-5m" in doc["model"] and "using the built-in kjv-llama-5m" in out.stderr
    return doc


def test_default_model_is_listed_as_jitgen_default(default_server):
    models = httpx.get(f"{default_server.url}/v1/models", timeout=30).json()["data"]
    assert [m["id"] for m in models] == ["jitgen-default"]


@pytest.mark.parametrize("prompt", PROMPTS, ids=range(len(PROMPTS)))
def test_greedy_completion_equals_cli_default(default_server, prompt):
    doc = cli_default(prompt)
    ids = doc["sequences"][0]["ids"]
    cut = ids.index(EOS_ID) if EOS_ID in ids else len(ids)
    body = {"model": "jitgen-default", "prompt": prompt, "max_tokens": MAX_TOKENS, "temperature": 0}
    r = httpx.post(f"{default_server.url}/v1/completions", json=body, timeout=120).json()
    assert r["usage"]["prompt_tokens"] == doc["prompt_length"]
    assert r["usage"]["completion_tokens"] == cut
    text = r["choices"][0]["text"]
    # The new tokens' text in the prompt's context: HF's decode of them alone (the CLI's "text") loses the space
    # the SentencePiece decoder strips from a first token, which prompt + text keeps (tests/serve/test_spm_token_text.py).
    assert text == " " + doc["sequences"][0]["text"]
    with httpx.stream("POST", f"{default_server.url}/v1/completions", json=dict(body, stream=True), timeout=120) as s:
        chunks = [json.loads(line[6:]) for line in s.iter_lines() if line.startswith("data: {")]
    assert text and "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == text
