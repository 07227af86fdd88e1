"""POST /v1/chat/completions against a GPT-2 folder whose tokenizer_config.json carries a chat template: the
official openai client (streamed and not, n > 1, stop, logprobs, tools), streamed text = non-streamed text =
`jitgen generate` on the prompt Python jinja2 renders from the same template with transformers' settings; errors
(template raises, no template) are 400s that say why; chat and completion requests share the batch."""
from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from serverproc import Server, cli_generate, cli_tokenize, find_binary

TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}System: {{ m.content | trim }}\n"
    "{% else %}{{ m.role | capitalize }}: {{ m.content }}{{ eos_token if m.role == 'assistant' }}\n{% endif %}"
    "{% endfor %}{% if tools %}Tools: {% for t in tools %}{{ t.function.name }}{{ ', ' if not loop.last }}"
    "{% endfor %}\n{% endif %}{% if messages[-1].role == 'assistant' %}"
    "{{ raise_exception('the last message must not be the assistant') }}{% endif %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}")
EOT = "<|endoftext|>"
MAX_TOKENS = 12
CHATS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "  You are terse.  "}, {"role": "user", "content": "Name a colour."}],
    [{"role": "user", "content": "One"}, {"role": "assistant", "content": "Two"}, {"role": "user", "content": "Drei? ü"}],
]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}


def hf_render(messages, tools=None, add_generation_prompt=True):
    """The prompt as transformers' apply_chat_template renders it (same environment settings and globals)."""
    def raise_exception(msg):
        raise TemplateError(msg)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    return env.from_string(TEMPLATE).render(messages=messages, tools=tools, documents=None,
                                            add_generation_prompt=add_generation_prompt, bos_token=EOT, eos_token=EOT)


@pytest.fixture(scope="module")
def chat_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("chat-gpt2")
    subprocess.run([str(find_binary()), "make-model", "--out", str(d), "--config", "tiny", "--with-tokenizer"],
                   check=True, capture_output=True)
    (d / "tokenizer_config.json").write_text(json.dumps({"bos_token": EOT, "eos_token": EOT, "chat_template": TEMPLATE}))
    return d


@pytest.fixture(scope="module")
def chat_server(chat_dir):
    with Server("--model", str(chat_dir), "--max-batch", "8") as srv:
        yield srv


@pytest.fixture(scope="module")
def chat_client(chat_server):
    return openai.OpenAI(base_url=f"{chat_server.url}/v1", api_key="none", max_retries=0, timeout=120)


def reference(chat_dir, prompt: str, max_tokens: int) -> dict:
    seq = dict(cli_generate(prompt, max_tokens, "--model", str(chat_dir)))
    if 50256 in seq["ids"]:  # the model's generation_config eos ends the turn; the text excludes it
        seq["ids"] = seq["ids"][: seq["ids"].index(50256)]
        seq["text"] = seq["text"].split(EOT)[0]
    return seq


@pytest.mark.parametrize("chat", CHATS, ids=range(len(CHATS)))
def test_chat_equals_generate_on_rendered_prompt(chat_client, chat_dir, chat):
    prompt = hf_render(chat)
    ref = reference(chat_dir, prompt, MAX_TOKENS)
    r = chat_client.chat.completions.create(model=chat_dir.name, messages=chat,
                                            max_tokens=MAX_TOKENS, temperature=0)
    c = r.choices[0]
    assert r.object == "chat.completion" and c.message.role == "assistant"
    assert c.message.content == ref["text"]
    assert r.usage.prompt_tokens == ref["prompt_length"] == len(cli_tokenize(prompt))
    assert r.usage.completion_tokens == len(ref["ids"])
    assert c.finish_reason == ("length" if len(ref["ids"]) == MAX_TOKENS else "stop")
    stream = chat_client.chat.completions.create(model=chat_dir.name, messages=chat, max_completion_tokens=MAX_TOKENS,
                                                 temperature=0, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(ch.object == "chat.completion.chunk" for ch in chunks)
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == ref["text"]
    finals = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert finals == [c.finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(ref["ids"])


def test_text_content_parts_are_joined(chat_client, chat_dir):
    parts = [{"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "again"}]}]
    r = chat_client.chat.completions.create(model=chat_dir.name, messages=parts, max_tokens=4, temperature=0)
    assert r.usage.prompt_tokens == len(cli_tokenize(hf_render([{"role": "user", "content": "Hello\nagain"}])))


def test_tools_reach_the_template(chat_client, chat_dir):
    chat = CHATS[0]
    r = chat_client.chat.completions.create(model=chat_dir.name, messages=chat, tools=[WEATHER], max_tokens=3,
                                            temperature=0)
    with_tools = hf_render(chat, tools=[WEATHER])
    assert "Tools: get_weather" in with_tools
    assert r.usage.prompt_tokens == len(cli_tokenize(with_tools))
    assert r.choices[0].message.content == reference(chat_dir, with_tools, 3)["text"]


def test_n_seed_stop_and_logprobs(chat_client, chat_dir):
    r = chat_client.chat.completions.create(model=chat_dir.name, messages=CHATS[1], n=3, seed=7, temperature=1.0,
                                            max_tokens=8)
    assert [c.index for c in r.choices] == [0, 1, 2]
    again = chat_client.chat.completions.create(model=chat_dir.name, messages=CHATS[1], n=3, seed=7, temperature=1.0,
                                                max_tokens=8)
    assert [c.message.content for c in r.choices] == [c.message.content for c in again.choices]  # seeded
    full = chat_client.chat.completions.create(model=chat_dir.name, messages=CHATS[0], max_tokens=MAX_TOKENS,
                                               temperature=0).choices[0].message.content
    stop = full[3:6]
    cut = chat_client.chat.completions.create(model=chat_dir.name, messages=CHATS[0], max_tokens=MAX_TOKENS,
                                              temperature=0, stop=[stop]).choices[0]
    assert cut.message.content == full[: full.index(stop)] and cut.finish_reason == "stop"
    lp = chat_client.chat.completions.create(model=chat_dir.name, messages=CHATS[0], max_tokens=5, temperature=0,
                                             logprobs=True, top_logprobs=3).choices[0]
    assert len(lp.logprobs.content) == 5
    assert "".join(t.token for t in lp.logprobs.content) == lp.message.content
    for t in lp.logprobs.content:
        assert len(t.top_logprobs) == 3 and t.top_logprobs[0].token == t.token  # greedy: the best is chosen
        assert bytes(t.bytes).decode() == t.token and t.logprob <= 0


def test_template_errors_are_400s_that_say_why(chat_client, chat_dir):
    with pytest.raises(openai.BadRequestError) as e:
        chat_client.chat.completions.create(model=chat_dir.name, messages=[{"role": "assistant", "content": "x"}])
    assert "raise_exception: the last message must not be the assistant" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        chat_client.chat.completions.create(model=chat_dir.name,
                                            messages=[{"role": "user", "content": [{"type": "image_url"}]}])
    assert "only text content parts" in str(e.value)


def test_model_without_template_is_a_400(http):
    r = http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 400
    assert "has no chat template" in r.json()["error"]["message"]


def test_form_content_type_body_is_read_as_json(http):
    body = json.dumps({"prompt": "x " * 6000, "max_tokens": 1, "temperature": 0})  # > 8 KiB, as `curl -d` sends it
    assert len(body) > 8192
    r = http.post("/v1/completions", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and "maximum context length" in r.json()["error"]["message"]
    r = http.post("/v1/completions", content=json.dumps({"prompt": "Hi", "max_tokens": 2}),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 2


def test_oversized_body_names_the_limit(http):
    r = http.post("/v1/completions", content=b"x" * (8 * 1024 * 1024 + 1),
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert "8388608 bytes" in r.json()["error"]["message"]


def test_chat_and_completions_share_the_batch(chat_client, chat_dir):
    prompt = hf_render(CHATS[2])
    ref = reference(chat_dir, prompt, MAX_TOKENS)

    def chat(_):
        return chat_client.chat.completions.create(model=chat_dir.name, messages=CHATS[2], max_tokens=MAX_TOKENS,
                                                   temperature=0).choices[0].message.content

    def completion(_):
        return chat_client.completions.create(model=chat_dir.name, prompt=prompt, max_tokens=MAX_TOKENS,
                                              temperature=0).choices[0].text

    with ThreadPoolExecutor(16) as pool:
        outs = list(pool.map(lambda i: (chat if i % 2 else completion)(i), range(16)))
    assert outs == [ref["text"]] * 16


def test_cli_chat_keeps_history_and_resets(chat_dir):
    """`jitgen chat` with piped stdin: one turn per line, each reply = `jitgen generate` on the prompt jinja2 renders
    from the history so far; /reset drops the history but keeps --system."""
    turns = ["Hello!", "Second turn", "/reset", "Again"]
    out = subprocess.run([str(find_binary()), "chat", "--model", str(chat_dir), "--max-new-tokens", "6",
                          "--system", "Be terse."], input="\n".join(turns) + "\n", capture_output=True, text=True,
                         timeout=120, check=True).stdout
    system = {"role": "system", "content": "Be terse."}
    history, expected = [system], ""
    for t in turns:
        if t == "/reset":
            history = [system]
            continue
        history.append({"role": "user", "content": t})
        reply = reference(chat_dir, hf_render(history), 6)["text"]
        expected += reply + "\n"
        history.append({"role": "assistant", "content": reply})
    assert out == expected
