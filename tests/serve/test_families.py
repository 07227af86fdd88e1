"""`jitgen serve` over folders of the families beside GPT-2 (a Llama with grouped-query attention, an OPT-350m-shaped
post-LN model with project_in / project_out): greedy completions, one at a time and several in flight on the
continuous batch, equal `jitgen generate --model DIR`; streamed text equals the non-streamed text."""
import subprocess
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from serverproc import Server, cli_generate, find_binary

FAMILIES = {
    "llama": ["--family", "llama", "--config", "llama-tiny", "--n-layer", "2", "--n-head", "4", "--n-kv-head", "2",
              "--vocab-size", "50257", "--with-tokenizer", "--seed", "3"],
    "opt": ["--family", "opt", "--config", "opt-tiny-postln", "--vocab-size", "50257", "--with-tokenizer",
            "--seed", "4"],
}
PROMPTS = ["Hello, my name is", "The", "Once upon a time, in a land far away, there lived a"]
MAX_TOKENS = 16
EOS = 2  # both presets' eos_token_id


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(request.param)
    subprocess.run([str(find_binary()), "make-model", "--out", str(d), *FAMILIES[request.param]], check=True,
                   capture_output=True, timeout=120)
    refs = {p: cli_generate(p, MAX_TOKENS, "--model", str(d)) for p in PROMPTS}
    for p, ref in refs.items():  # the prompts are chosen so that no row stops early: full-length texts compare
        assert EOS not in ref["ids"], f"{request.param}: the CLI generated eos for {p!r}; pick another prompt"
    with Server("--model", str(d)) as srv:
        client = openai.OpenAI(base_url=f"{srv.url}/v1", api_key="none", max_retries=0, timeout=120)
        yield request.param, client, client.models.list().data[0].id, refs


def test_greedy_completions_equal_cli(family):
    name, client, model_id, refs = family
    for p in PROMPTS:
        r = client.completions.create(model=model_id, prompt=p, max_tokens=MAX_TOKENS, temperature=0)
        assert r.choices[0].text == refs[p]["text"], f"{name}: {p!r}"
        assert r.usage.prompt_tokens == refs[p]["prompt_length"]
        assert r.usage.completion_tokens == MAX_TOKENS


def test_concurrent_greedy_completions_equal_cli(family):
    name, client, model_id, refs = family
    jobs = PROMPTS * 4
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(lambda p: client.completions.create(model=model_id, prompt=p, max_tokens=MAX_TOKENS,
                                                                    temperature=0), jobs))
    for p, r in zip(jobs, results):
        assert r.choices[0].text == refs[p]["text"], f"{name}: {p!r} in a batch of {len(jobs)}"


def test_streamed_text_equals_cli(family):
    name, client, model_id, refs = family
    p = PROMPTS[2]
    chunks = client.completions.create(model=model_id, prompt=p, max_tokens=MAX_TOKENS, temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == refs[p]["text"], name
