"""SSE streaming: through the openai client and byte by byte with httpx (framing, [DONE], UTF-8 boundaries)."""
import json

import pytest

PROMPTS = ["Hello, my name is", "日本語のテキスト", "café"]


def read_sse(http, body: dict) -> tuple[list[dict], list[bytes]]:
    """POSTs a streaming request and returns (the JSON chunks, the raw `data:` payloads incl. b"[DONE]")."""
    chunks, raw = [], []
    with http.stream("POST", "/v1/completions", json=body) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        buf = b""
        for part in r.iter_bytes():
            buf += part
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                for line in event.split(b"\n"):
                    if not line or line.startswith(b":"):
                        continue  # blank line or SSE comment (keep-alive)
                    assert line.startswith(b"data: "), line
                    payload = line[len(b"data: "):]
                    raw.append(payload)
                    if payload != b"[DONE]":
                        chunks.append(json.loads(payload.decode("utf-8")))  # strict: every event is valid UTF-8
        assert buf.strip() == b"", f"bytes after the last event: {buf!r}"
    return chunks, raw


@pytest.mark.parametrize("prompt", PROMPTS)
def test_openai_stream_concatenates_to_greedy_text(complete, prompt):
    want = complete(prompt, max_tokens=24)
    stream = complete(prompt, max_tokens=24, stream=True)
    text, finish = "", None
    for chunk in stream:
        assert chunk.object == "text_completion"
        for c in chunk.choices:
            assert c.index == 0
            assert finish is None, "a delta after finish_reason"
            text += c.text
            finish = c.finish_reason or finish
    assert text == want.choices[0].text
    assert finish == want.choices[0].finish_reason


@pytest.mark.parametrize("prompt", PROMPTS)
def test_raw_sse_framing_and_utf8_boundaries(http, model_id, complete, prompt):
    want = complete(prompt, max_tokens=24).choices[0].text
    chunks, raw = read_sse(http, {"model": model_id, "prompt": prompt, "max_tokens": 24, "temperature": 0,
                                  "stream": True})
    assert raw[-1] == b"[DONE]" and raw.count(b"[DONE]") == 1
    assert chunks, "no chunks before [DONE]"
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1 and ids.pop().startswith("cmpl-")
    deltas = []
    for c in chunks:
        assert c["object"] == "text_completion"
        for ch in c["choices"]:
            assert set(ch) >= {"index", "text", "logprobs", "finish_reason"}, ch
            deltas.append(ch)
    assert all(d["finish_reason"] is None for d in deltas[:-1])
    assert deltas[-1]["finish_reason"] in ("stop", "length")
    assert "".join(d["text"] for d in deltas) == want
    # A delta never splits a UTF-8 character: no delta brings a U+FFFD that the whole text does not have.
    if "\ufffd" not in want:
        assert all("\ufffd" not in d["text"] for d in deltas), [d["text"] for d in deltas]


def test_stream_n_and_list_prompts_interleave_by_index(http, model_id, complete):
    prompts = ["Once upon a time", "The quick brown fox"]
    want = {c.index: c.text for c in complete(prompts, max_tokens=10, n=2).choices}
    chunks, raw = read_sse(http, {"model": model_id, "prompt": prompts, "max_tokens": 10, "n": 2,
                                  "temperature": 0, "stream": True})
    got, finished = {}, {}
    for c in chunks:
        for ch in c["choices"]:
            assert ch["index"] not in finished, "a delta after this choice finished"
            got[ch["index"]] = got.get(ch["index"], "") + ch["text"]
            if ch["finish_reason"]:
                finished[ch["index"]] = ch["finish_reason"]
    assert got == want
    assert sorted(finished) == [0, 1, 2, 3]


def test_stream_include_usage(http, model_id, complete):
    want = complete("Hello", max_tokens=8)
    chunks, raw = read_sse(http, {"model": model_id, "prompt": "Hello", "max_tokens": 8, "temperature": 0,
                                  "stream": True, "stream_options": {"include_usage": True}})
    # OpenAI: one more chunk before [DONE] whose usage covers the request and whose choices list is empty.
    last = chunks[-1]
    u = want.usage
    assert last.get("usage") == {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                                 "total_tokens": u.total_tokens}, last
    assert last["choices"] == []
    assert all(not c.get("usage") for c in chunks[:-1])


def test_stream_with_logprobs(http, model_id):
    chunks, _ = read_sse(http, {"model": model_id, "prompt": "Hello", "max_tokens": 6, "temperature": 0,
                                "stream": True, "logprobs": 2, "ignore_eos": True})
    tokens = []
    for c in chunks:
        for ch in c["choices"]:
            if ch["logprobs"]:
                lp = ch["logprobs"]
                assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"])
                tokens += lp["tokens"]
    assert len(tokens) == 6


def test_stream_stop_string(http, model_id, complete):
    full = complete("Hello", max_tokens=24, extra_body={"ignore_eos": True}).choices[0].text
    stop = next((full[i:i + 2] for i in range(len(full) // 2, len(full) - 2)
                 if full[i:i + 2].isascii() and full[i:i + 2].strip()), None)
    if stop is None:
        pytest.skip(f"no stop string in {full!r}")
    chunks, _ = read_sse(http, {"model": model_id, "prompt": "Hello", "max_tokens": 24, "temperature": 0,
                                "stream": True, "stop": stop, "ignore_eos": True})
    deltas = [ch for c in chunks for ch in c["choices"]]
    assert "".join(d["text"] for d in deltas) == full[: full.index(stop)]  # a stop string never leaks, even partly
    assert deltas[-1]["finish_reason"] == "stop"
