"""An unmodified HF chat-model folder (tests/fixtures/chat_model/qwen2-chat: a Qwen2ForCausalLM saved by transformers,
Qwen2.5's chat template with tools, generation_config eos list [<|im_end|>, <|endoftext|>]) served by `jitgen serve`
and driven by the official openai client, against the HF goldens of scripts/make_chat_model.py (apply_chat_template
text and ids, HF greedy generate): reply = HF's reply = streamed reply = `jitgen generate` on HF's rendered prompt;
the turn ends on either end-of-turn id of the eos list (two conversations are built to reach them); n > 1, stop,
logprobs / top_logprobs, tools, a conversation the template cannot render (400 with jinja2's reason), and
`jitgen chat --model` (piped turns, /reset, /exit) printing HF's replies."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import openai
import pytest
from serverproc import REPO, Server, cli_generate, find_binary

FIXTURES = REPO / "tests" / "fixtures" / "chat_model"
FOLDER = FIXTURES / "qwen2-chat"
GOLDENS = json.loads((FIXTURES / "goldens.json").read_text())
MAX = GOLDENS["max_new_tokens"]
IM_END, EOT = GOLDENS["eos_token_id"]
CASES = {c["name"]: c for c in GOLDENS["cases"]}
CHAT_CASES = [c for c in GOLDENS["cases"] if c["add_generation_prompt"]]  # what a chat request renders


def ended_on_eos(case) -> bool:
    return case["generated"][-1] in (IM_END, EOT)


def request(case) -> dict:
    kw = {"messages": case["messages"]}
    if "tools" in case:
        kw["tools"] = case["tools"]
    return kw


@pytest.fixture(scope="module")
def srv():
    with Server("--model", str(FOLDER), "--max-batch", "8") as s:
        yield s


@pytest.fixture(scope="module")
def client(srv):
    return openai.OpenAI(base_url=f"{srv.url}/v1", api_key="none", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def model_id(client):
    return client.models.list().data[0].id


@pytest.mark.parametrize("name", [c["name"] for c in CHAT_CASES])
def test_reply_is_hf_streamed_or_not_and_equals_generate(client, model_id, name):
    case = CASES[name]
    r = client.chat.completions.create(model=model_id, max_tokens=MAX, temperature=0, **request(case))
    c = r.choices[0]
    assert c.message.role == "assistant"
    assert c.message.content == case["reply"]
    assert r.usage.prompt_tokens == len(case["ids"])  # HF's apply_chat_template ids, tools included
    # completion_tokens counts every generated token, the end-of-turn one included (as vLLM counts them)
    assert r.usage.completion_tokens == len(case["generated"])
    assert c.finish_reason == ("stop" if ended_on_eos(case) else "length")

    stream = client.chat.completions.create(model=model_id, max_completion_tokens=MAX, temperature=0, stream=True,
                                            stream_options={"include_usage": True}, **request(case))
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == case["reply"]
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason] == \
        [c.finish_reason]
    assert chunks[-1].usage.completion_tokens == len(case["generated"])

    # `jitgen generate` on HF's rendered prompt: the same prompt ids and the same tokens (eos included).
    ref = cli_generate(case["text"], MAX, "--model", str(FOLDER))
    assert ref["prompt_length"] == len(case["ids"])
    assert ref["ids"][: len(case["generated"])] == case["generated"]
    assert ref["text"] == case["reply"]


def test_turn_ends_on_each_eos_of_generation_config(client, model_id):
    """ends_im_end / ends_endoftext reach <|im_end|> / <|endoftext|> by construction (make_chat_model.py): the server
    stops there with finish_reason "stop" and leaves the id out; with ignore_eos it runs on to max_tokens."""
    assert GOLDENS["eos_token_id"] == json.loads((FOLDER / "generation_config.json").read_text())["eos_token_id"]
    for name, eos in (("ends_im_end", IM_END), ("ends_endoftext", EOT)):
        case = CASES[name]
        assert case["generated"][-1] == eos and len(case["generated"]) < MAX
        r = client.chat.completions.create(model=model_id, max_tokens=MAX, temperature=0, **request(case))
        assert r.choices[0].finish_reason == "stop"
        assert r.usage.completion_tokens == len(case["generated"])  # the reply's tokens + the end-of-turn id
        assert r.choices[0].message.content == case["reply"] and "<|" not in r.choices[0].message.content
        on = client.chat.completions.create(model=model_id, max_tokens=MAX, temperature=0, extra_body={"ignore_eos": True},
                                            **request(case))
        assert on.choices[0].finish_reason == "length" and on.usage.completion_tokens == MAX
        assert on.choices[0].message.content.startswith(case["reply"])


def test_n_seed_stop_and_logprobs(client, model_id):
    case = CASES["multi_turn"]
    greedy = client.chat.completions.create(model=model_id, max_tokens=MAX, temperature=0, n=2, **request(case))
    assert [c.message.content for c in greedy.choices] == [case["reply"]] * 2
    sampled = client.chat.completions.create(model=model_id, max_tokens=MAX, temperature=1.0, n=3, seed=11,
                                             **request(case))
    again = client.chat.completions.create(model=model_id, max_tokens=MAX, temperature=1.0, n=3, seed=11,
                                           **request(case))
    assert [c.index for c in sampled.choices] == [0, 1, 2]
    assert [c.message.content for c in sampled.choices] == [c.message.content for c in again.choices]
    assert len({c.message.content for c in sampled.choices}) > 1  # three independent rows, not one copied

    reply = CASES["tools"]["reply"]
    stop = reply[6:10]
    cut = client.chat.completions.create(model=model_id, max_tokens=MAX, temperature=0, stop=[stop],
                                         **request(CASES["tools"])).choices[0]
    assert cut.message.content == reply[: reply.index(stop)] and cut.finish_reason == "stop"

    case = CASES["ends_im_end"]
    lp = client.chat.completions.create(model=model_id, max_tokens=MAX, temperature=0, logprobs=True, top_logprobs=3,
                                        **request(case)).choices[0]
    assert lp.message.content == case["reply"]
    # One entry per generated token: the reply's, then the end-of-turn token's, whose text in the reply is "" (special
    # tokens add nothing under skip_special_tokens), so the tokens concatenate to the content (docs/server.md).
    assert len(lp.logprobs.content) == len(case["generated"])
    assert lp.logprobs.content[-1].token == "" and lp.logprobs.content[-1].bytes == []
    assert "".join(t.token for t in lp.logprobs.content) == case["reply"]
    assert b"".join(bytes(t.bytes) for t in lp.logprobs.content) == case["reply"].encode()
    for t in lp.logprobs.content:
        assert len(t.top_logprobs) == 3 and t.top_logprobs[0].token == t.token and t.logprob <= 0


def test_tools_reach_the_template(client, model_id):
    with_tools, without = CASES["tools"], {"messages": CASES["tools"]["messages"]}
    a = client.chat.completions.create(model=model_id, max_tokens=1, temperature=0, **request(with_tools))
    b = client.chat.completions.create(model=model_id, max_tokens=1, temperature=0, **without)
    assert a.usage.prompt_tokens == len(with_tools["ids"]) > b.usage.prompt_tokens
    none = client.chat.completions.create(model=model_id, max_tokens=1, temperature=0, tool_choice="none",
                                          **request(with_tools))
    assert none.usage.prompt_tokens == b.usage.prompt_tokens  # tool_choice "none": the template gets no tools


def test_unrenderable_conversation_is_a_400_that_says_why(client, model_id):
    u = GOLDENS["unrenderable"]
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=model_id, messages=u["messages"], max_tokens=2)
    msg = e.value.body["message"] if isinstance(e.value.body, dict) else str(e.value)
    assert "chat template cannot render these messages" in msg and u["error"] in msg  # jinja2's own reason


def test_cli_chat_prints_hf_replies_with_history_reset_and_exit():
    cli = GOLDENS["cli"]
    out = subprocess.run([str(find_binary()), "chat", "--model", str(FOLDER), "--max-new-tokens",
                          str(cli["max_new_tokens"])], input="\n".join(cli["turns"]) + "\n", capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert out == "".join(r + "\n" for r in cli["replies"])
    assert len(cli["replies"]) == 3  # "never read" after /exit produced nothing
