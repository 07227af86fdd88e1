"""Token text on a SentencePiece (Llama, Metaspace + byte fallback) tokenizer: the built-in default kjv-llama-5m.

What an OpenAI-compatible server (vLLM) answers, and what these tests hold the server to:
- /v1/completions text continues the prompt: prompt + text = HF's decode of prompt + new ids (skip_special_tokens),
  so the first new token keeps its space (" same", not "same");
- echo shows HF's decode of the prompt ids with skip_special_tokens: no "<s> " in front;
- logprobs.tokens are each token's text in context, so they concatenate to the choice's text (echo included); the
  first prompt token <s> is "" (its text under skip_special_tokens); text_offset counts characters and is the
  length of the tokens before; top_logprobs keys are the text each alternative would add there (" be", not "be");
- the same through streaming and through beam search.
The reference texts come from `jitgen generate` without --model, whose printed text tests/demo_model_test.cc checks
against HF's decode of the whole greedy sequence (DemoModelCli.GenerateTextEqualsHfDecodeOfTheWholeSequence)."""
import json
import subprocess

import httpx
import pytest
from serverproc import find_binary

PROMPTS = ["Blessed are the", "And the LORD said unto Moses,", "The LORD is my shepherd;"]
# HF's decode(ids, skip_special_tokens=True) of this prompt's ids is the prompt itself (transformers 5.24; its
# ids use byte fallback for –, é, ☃ and 😀: <0xE2><0x80><0x93>, ...).
BYTE_FALLBACK = "Blessed are the meek – café ☃ 😀"
MAX_TOKENS = 12


@pytest.fixture(scope="module")
def url(default_server):  # conftest.py: `jitgen serve` without --model
    return default_server.url


def post(url, **body):
    body.setdefault("temperature", 0)
    r = httpx.post(f"{url}/v1/completions", json=dict(model="jitgen-default", **body), timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def stream(url, **body):
    body.setdefault("temperature", 0)
    with httpx.stream("POST", f"{url}/v1/completions", json=dict(model="jitgen-default", stream=True, **body),
                      timeout=120) as s:
        return [json.loads(line[6:]) for line in s.iter_lines() if line.startswith("data: {")]


def cli_text(prompt, *extra):
    """`jitgen generate` (default model) plain output: HF's decode of the whole sequence, skip_special_tokens."""
    out = subprocess.run([str(find_binary()), "generate", "--max-new-tokens", str(MAX_TOKENS), *extra, "--", prompt],
                         capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.endswith("\n")
    return out.stdout[:-1]


def expect_token_text(choice, prompt_tokens=0):
    lp = choice["logprobs"]
    assert "".join(lp["tokens"]) == choice["text"]
    offset = 0
    for i, tok in enumerate(lp["tokens"]):
        assert lp["text_offset"][i] == offset, (i, lp["text_offset"])
        offset += len(tok)  # characters
        top = lp["top_logprobs"][i]
        if i >= prompt_tokens and top:  # greedy: the chosen token is the best alternative, under the same text
            best = max(top, key=top.get)
            assert best == tok and abs(top[best] - lp["token_logprobs"][i]) < 1e-4, (i, tok, top)


@pytest.mark.parametrize("prompt", PROMPTS, ids=range(len(PROMPTS)))
def test_text_continues_the_prompt_and_echo_is_hf_decode(url, prompt):
    whole = cli_text(prompt)
    plain = post(url, prompt=prompt, max_tokens=MAX_TOKENS)["choices"][0]["text"]
    echoed = post(url, prompt=prompt, max_tokens=MAX_TOKENS, echo=True)["choices"][0]["text"]
    assert echoed == whole and not echoed.startswith("<s>")
    assert prompt + plain == whole and plain.startswith(" ")  # the first new token keeps its space
    chunks = stream(url, prompt=prompt, max_tokens=MAX_TOKENS)
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == plain


@pytest.mark.parametrize("prompt", PROMPTS, ids=range(len(PROMPTS)))
def test_logprob_tokens_concatenate_to_the_text(url, prompt):
    r = post(url, prompt=prompt, max_tokens=MAX_TOKENS, logprobs=3, ignore_eos=True)
    c = r["choices"][0]
    assert len(c["logprobs"]["tokens"]) == MAX_TOKENS
    assert c["logprobs"]["tokens"][0].startswith(" ")
    expect_token_text(c)
    # Streamed: the tokens of all chunks concatenate to the streamed text, offsets continue across chunks.
    chunks = [ch["choices"][0] for ch in stream(url, prompt=prompt, max_tokens=MAX_TOKENS, logprobs=3, ignore_eos=True)
              if ch["choices"]]
    merged = {"text": "".join(ch["text"] for ch in chunks), "logprobs": {k: sum(
        (ch["logprobs"][k] for ch in chunks if ch.get("logprobs")), []) for k in
        ("tokens", "token_logprobs", "top_logprobs", "text_offset")}}
    assert merged["text"] == c["text"]
    expect_token_text(merged)


@pytest.mark.parametrize("prompt", PROMPTS[:2], ids=range(2))
def test_echo_logprobs_cover_prompt_and_completion(url, prompt):
    r = post(url, prompt=prompt, max_tokens=MAX_TOKENS, echo=True, logprobs=2, ignore_eos=True)
    c = r["choices"][0]
    T = r["usage"]["prompt_tokens"]
    lp = c["logprobs"]
    assert c["text"] == cli_text(prompt, "--min-new-tokens", str(MAX_TOKENS))
    assert len(lp["tokens"]) == T + MAX_TOKENS
    assert lp["tokens"][0] == "" and lp["token_logprobs"][0] is None  # <s>: no text, nothing predicts it
    assert "".join(lp["tokens"][:T]) == prompt
    expect_token_text(c, prompt_tokens=T)


def test_byte_fallback_prompt_echoes_whole_characters(url):
    r = post(url, prompt=BYTE_FALLBACK, max_tokens=0, echo=True, logprobs=1)
    c = r["choices"][0]
    assert c["text"] == BYTE_FALLBACK
    lp = c["logprobs"]
    assert len(lp["tokens"]) == r["usage"]["prompt_tokens"] == 22
    assert "".join(lp["tokens"]) == BYTE_FALLBACK
    # A run of byte tokens adds nothing until the token after it ends the run (HF's ByteFallback decodes a run as a
    # whole: one more byte could still turn it into U+FFFDs); that token adds the run's characters and its own text.
    # ['<s>', '▁Blessed', '▁are', '▁the', '▁meek', '▁', '<0xE2>', '<0x80>', '<0x93>', '▁ca', ...]
    assert lp["tokens"][5:10] == [" ", "", "", "", "– ca"]
    assert lp["tokens"][-4:] == ["", "", "", "😀"]  # the run that ends the prompt is flushed with its last token
    assert all("\ufffd" not in t for t in lp["tokens"])
    offset = 0
    for tok, off in zip(lp["tokens"], lp["text_offset"]):
        assert off == offset
        offset += len(tok)


def test_text_after_a_prompt_ending_in_a_byte_run_continues_it(url):
    """The prompt ends in a byte run (😀: <0xF0><0x9F><0x98><0x80>), which the stream continuing the prompt still
    holds when the completion begins: the completion must not repeat it (it did: "😀, and ..."), with or without echo,
    streamed or not, and its first token's text and top_logprobs keys are the text each adds (",")."""
    whole = cli_text(BYTE_FALLBACK)
    plain = post(url, prompt=BYTE_FALLBACK, max_tokens=MAX_TOKENS)["choices"][0]["text"]
    assert BYTE_FALLBACK + plain == whole
    assert post(url, prompt=BYTE_FALLBACK, max_tokens=MAX_TOKENS, echo=True)["choices"][0]["text"] == whole
    chunks = stream(url, prompt=BYTE_FALLBACK, max_tokens=MAX_TOKENS)
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == plain
    r = post(url, prompt=BYTE_FALLBACK, max_tokens=MAX_TOKENS, logprobs=3, ignore_eos=True)
    expect_token_text(r["choices"][0])
    assert "😀" not in r["choices"][0]["text"]


def test_a_completion_finishing_the_prompts_byte_run_is_decode_of_its_ids(url):
    """Token ids ending in half of 😀's byte run (<0xF0><0x9F>), which the completion finishes (<0x98><0x80>, forced
    by sequence_bias): HF decodes the prompt's half run as two U+FFFD and the whole as 😀, so decode(prompt + new)
    does not start with decode(prompt), and the text falls back to decode(new ids) -- two U+FFFD -- as `generate`'s
    continuation text does (decoding::continuation_text), streamed or not."""
    ids = [int(t) for t in subprocess.run([str(find_binary()), "tokenize", "--", "Blessed are the 😀"],
                                          capture_output=True, text=True, timeout=60, check=True).stdout.split()]
    prompt, tail = ids[:-2], ids[-2:]  # [..., <0xF0>, <0x9F>], [<0x98>, <0x80>]
    body = dict(prompt=prompt, max_tokens=2, sequence_bias=[[[tail[0]], 50.0], [tail, 100.0]], logprobs=1)
    c = post(url, **body)["choices"][0]
    assert c["text"] == "\ufffd\ufffd"
    assert "".join(c["logprobs"]["tokens"]) == c["text"]
    chunks = stream(url, **body)
    assert "".join(ch["choices"][0]["text"] for ch in chunks if ch["choices"]) == c["text"]


def test_beam_search_text_continues_the_prompt(url):
    prompt = PROMPTS[1]
    body = dict(prompt=prompt, max_tokens=MAX_TOKENS, num_beams=3)
    whole = cli_text(prompt, "--num-beams", "3")
    assert post(url, echo=True, **body)["choices"][0]["text"] == whole
    plain = post(url, **body)["choices"][0]["text"]
    assert prompt + plain == whole and plain.startswith(" ")
