"""POST /v1/completions through the official openai client: the response shape, usage, n, list and token prompts,
stop strings, logprobs, echo and seeds."""
import math

import pytest
from conftest import cli_greedy
from serverproc import cli_generate, cli_tokenize

PROMPT = "Hello, my name is"


def test_basic_completion_shape_and_usage(complete, model_id):
    r = complete(PROMPT, max_tokens=12)
    assert r.id.startswith("cmpl-")
    assert r.object == "text_completion"
    assert r.model == model_id
    assert isinstance(r.created, int) and r.created > 1_600_000_000
    assert len(r.choices) == 1
    c = r.choices[0]
    assert c.index == 0 and isinstance(c.text, str) and c.text
    assert c.finish_reason in ("stop", "length")
    assert c.logprobs is None
    ref = cli_greedy(PROMPT, 12)
    assert r.usage.prompt_tokens == ref["prompt_length"] == 5
    assert r.usage.completion_tokens == len(ref["ids"])
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    if len(ref["ids"]) == 12:
        assert c.finish_reason == "length"


def test_default_max_tokens_is_16(complete):
    r = complete(PROMPT, extra_body={"ignore_eos": True})
    assert r.usage.completion_tokens == 16
    assert r.choices[0].finish_reason == "length"


def test_ignore_eos_and_min_tokens_give_exact_lengths(complete):
    for n in (1, 7, 30):
        r = complete("The", max_tokens=n, extra_body={"ignore_eos": True})
        assert r.usage.completion_tokens == n, n
    r = complete("The", max_tokens=9, extra_body={"min_tokens": 9})
    assert r.usage.completion_tokens == 9


def test_n_choices_have_indexes(complete):
    r = complete(PROMPT, max_tokens=8, n=3, temperature=1.0, seed=7)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert all(c.text for c in r.choices)
    assert r.usage.completion_tokens > 0
    # Sampling with one seed still gives each of the n choices its own stream of random numbers.
    assert len({c.text for c in r.choices}) > 1


def test_list_prompt_index_is_prompt_times_n_plus_j(complete):
    prompts = ["Once upon a time", "The quick brown fox"]
    r = complete(prompts, max_tokens=8, n=2)
    assert sorted(c.index for c in r.choices) == [0, 1, 2, 3]
    by_index = {c.index: c.text for c in r.choices}
    for p, prompt in enumerate(prompts):
        for j in range(2):  # greedy: every choice of a prompt is that prompt's greedy text
            assert by_index[p * 2 + j] == cli_greedy(prompt, 8)["text"], (p, j)
    assert r.usage.prompt_tokens >= sum(cli_greedy(p, 8)["prompt_length"] for p in prompts)


def test_token_id_prompts_equal_text_prompts(complete):
    ids = cli_tokenize("The quick brown fox")
    text = complete("The quick brown fox", max_tokens=8).choices[0].text
    assert complete(ids, max_tokens=8).choices[0].text == text
    r = complete([ids, cli_tokenize(PROMPT)], max_tokens=8)
    by_index = {c.index: c.text for c in r.choices}
    assert by_index[0] == text
    assert by_index[1] == cli_greedy(PROMPT, 8)["text"]


def _stop_candidate(text: str) -> str:
    """A short piece from the middle of `text` (ASCII, no U+FFFD) to use as a stop string."""
    for start in range(len(text) // 3, len(text) - 3):
        piece = text[start:start + 3]
        if piece.isascii() and piece.strip():
            return piece
    pytest.skip(f"no usable stop string in {text!r}")


def test_stop_string_is_cut_and_finish_reason_stop(complete):
    full = complete(PROMPT, max_tokens=24, extra_body={"ignore_eos": True}).choices[0].text
    stop = _stop_candidate(full)
    r = complete(PROMPT, max_tokens=24, stop=stop, extra_body={"ignore_eos": True})
    c = r.choices[0]
    assert c.text == full[: full.index(stop)]
    assert c.finish_reason == "stop"
    assert r.usage.completion_tokens < 24


def test_stop_list_earliest_match_wins(complete):
    full = complete("The quick brown fox", max_tokens=24, extra_body={"ignore_eos": True}).choices[0].text
    late = _stop_candidate(full[len(full) // 2:])
    early = _stop_candidate(full)
    cut = min(full.index(late), full.index(early))
    r = complete("The quick brown fox", max_tokens=24, stop=[late, "never-in-output-zzz", early],
                 extra_body={"ignore_eos": True})
    assert r.choices[0].text == full[:cut]
    assert r.choices[0].finish_reason == "stop"


def test_stop_not_found_finishes_by_length(complete):
    r = complete(PROMPT, max_tokens=6, stop=["never-in-output-zzz"], extra_body={"ignore_eos": True})
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 6


def test_logprobs_shape(any_complete):
    r = any_complete(PROMPT, max_tokens=6, logprobs=3, extra_body={"ignore_eos": True})
    c = r.choices[0]
    lp = c.logprobs
    assert lp is not None
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 6
    assert "".join(lp.tokens) == c.text
    for tok, logp, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert isinstance(tok, str)
        assert logp <= 1e-6 and math.isfinite(logp)
        assert 3 <= len(top) <= 4  # OpenAI lists `logprobs` alternatives, sometimes plus the sampled token
        assert all(v <= 1e-6 for v in top.values())
        # Greedy: the chosen token is the most likely one.
        assert logp >= max(top.values()) - 1e-4
    # One character offset per token, increasing by each token's length. Servers differ on the origin: OpenAI and
    # llama.cpp count from the start of the prompt, vLLM from the start of the completion; both are accepted.
    assert lp.text_offset[0] in (0, len(PROMPT))
    for a, b, tok in zip(lp.text_offset, lp.text_offset[1:], lp.tokens):
        assert b - a == len(tok)


def test_logprobs_zero_lists_chosen_token_only(any_complete):
    lp = any_complete(PROMPT, max_tokens=4, logprobs=0).choices[0].logprobs
    assert lp is not None and len(lp.token_logprobs) == len(lp.tokens)
    assert all(len(top or {}) <= 1 for top in lp.top_logprobs)


def test_echo_prepends_prompt(any_complete):
    plain = any_complete(PROMPT, max_tokens=8).choices[0].text
    r = any_complete(PROMPT, max_tokens=8, echo=True)
    assert r.choices[0].text == PROMPT + plain


def test_seed_reproducible(complete):
    a = complete(PROMPT, max_tokens=12, temperature=1.0, seed=1234).choices[0].text
    b = complete(PROMPT, max_tokens=12, temperature=1.0, seed=1234).choices[0].text
    c = complete(PROMPT, max_tokens=12, temperature=1.0, seed=4321).choices[0].text
    assert a == b
    assert a != c  # 12 tokens sampled at temperature 1 from a 50257-token vocabulary: a collision is vanishingly rare


def test_sampling_parameters_accepted(complete):
    r = complete(PROMPT, max_tokens=8, temperature=0.8, top_p=0.9, seed=3,
                 extra_body={"top_k": 40, "min_p": 0.01, "typical_p": 0.95, "repetition_penalty": 1.2,
                             "no_repeat_ngram_size": 2})
    assert r.choices[0].text


def test_newer_hf_processor_fields_accepted(complete):
    greedy = complete(PROMPT, max_tokens=6, temperature=0)
    r = complete(PROMPT, max_tokens=6, temperature=0.8, seed=3,
                 extra_body={"epsilon_cutoff": 0.001, "eta_cutoff": 0.001, "top_h": 0.9, "suppress_tokens": [11],
                             "begin_suppress_tokens": [13], "encoder_repetition_penalty": 1.1,
                             "sequence_bias": [[[11, 13], -2.0]], "exponential_decay_length_penalty": [2, 1.1],
                             "remove_invalid_values": True, "renormalize_logits": True})
    assert r.choices[0].text
    # a bias that bans nothing in practice and renormalisation leave greedy decoding as it was
    same = complete(PROMPT, max_tokens=6, temperature=0,
                    extra_body={"renormalize_logits": True, "sequence_bias": [[[50256, 50256], -0.5]]})
    assert same.choices[0].text == greedy.choices[0].text


def test_beam_search(complete):
    r = complete(PROMPT, max_tokens=8, extra_body={"num_beams": 3, "length_penalty": 1.0, "early_stopping": True})
    assert r.choices[0].text and r.choices[0].finish_reason in ("stop", "length")


def test_neutral_openai_fields_accepted(complete):
    r = complete(PROMPT, max_tokens=4, presence_penalty=0, frequency_penalty=0, best_of=1, user="tests",
                 logit_bias={})
    assert r.choices[0].text == complete(PROMPT, max_tokens=4).choices[0].text


def test_absent_temperature_samples(client, model_id):
    # OpenAI's default temperature is 1: without a seed two requests almost surely differ.
    texts = {client.completions.create(model=model_id, prompt=PROMPT, max_tokens=12).choices[0].text for _ in range(3)}
    assert len(texts) > 1


def test_echo_with_logprobs_covers_prompt_and_completion(any_complete):
    r = any_complete("Hello world", max_tokens=3, echo=True, logprobs=1, extra_body={"ignore_eos": True})
    c = r.choices[0]
    lp = c.logprobs
    n = r.usage.prompt_tokens + 3
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.text_offset) == n
    assert "".join(lp.tokens) == c.text and c.text.startswith("Hello world")
    assert lp.token_logprobs[0] is None  # nothing predicts the first prompt token
    assert all(x is not None and x <= 1e-6 for x in lp.token_logprobs[1:])
    # One text, one origin: each offset is the previous one plus the previous token's length, across the seam.
    assert lp.text_offset[0] == 0
    for i in range(1, n):
        assert lp.text_offset[i] == lp.text_offset[i - 1] + len(lp.tokens[i - 1]), (i, lp.text_offset)


def test_echo_max_tokens_zero_scores_the_prompt(any_complete):
    # The lm-eval-harness loglikelihood call: echo the prompt with its logprobs, generate nothing.
    r = any_complete("The quick brown fox", max_tokens=0, echo=True, logprobs=0)
    c = r.choices[0]
    assert c.text == "The quick brown fox"
    assert r.usage.completion_tokens == 0
    assert len(c.logprobs.tokens) == r.usage.prompt_tokens
    assert c.logprobs.token_logprobs[0] is None


def test_model_folder_is_served_under_its_basename(tmp_path):
    """--model DIR: /v1/models lists the folder's basename, requests must name it, greedy equals the CLI's."""
    import subprocess

    import httpx
    from serverproc import Server, find_binary

    folder = tmp_path / "tiny-test-gpt2"
    subprocess.run([str(find_binary()), "make-model", "--out", str(folder), "--config", "tiny", "--seed", "7",
                    "--with-tokenizer"], check=True, capture_output=True, timeout=120)
    with Server("--model", str(folder)) as srv:
        assert [m["id"] for m in httpx.get(f"{srv.url}/v1/models").json()["data"]] == ["tiny-test-gpt2"]
        body = {"model": "tiny-test-gpt2", "prompt": "Hello", "max_tokens": 8, "temperature": 0}
        r = httpx.post(f"{srv.url}/v1/completions", json=body, timeout=60)
        assert r.status_code == 200, r.text
        ref = cli_generate("Hello", 8, "--model", str(folder))
        assert r.json()["choices"][0]["text"] == ref["text"].split("<|endoftext|>")[0]
        wrong = httpx.post(f"{srv.url}/v1/completions", json=dict(body, model="jitgen-default"), timeout=60)
        assert wrong.status_code == 404
