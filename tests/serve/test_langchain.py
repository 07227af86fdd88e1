"""A second real client of the ecosystem: LangChain's ChatOpenAI (langchain-openai from PyPI, installed by
scripts/test-server.sh) against `jitgen serve` on the HF chat-model folder tests/fixtures/chat_model/qwen2-chat.
invoke() and stream() give HF's greedy reply (goldens of scripts/make_chat_model.py) with LangChain's own message
types, bind_tools() reaches the template (HF's prompt length with the tool), and the finish reason and token usage
LangChain reports are the server's."""
from __future__ import annotations

import json

import langchain_openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from serverproc import REPO, Server

FIXTURES = REPO / "tests" / "fixtures" / "chat_model"
GOLDENS = json.loads((FIXTURES / "goldens.json").read_text())
CASES = {c["name"]: c for c in GOLDENS["cases"]}
EOS = GOLDENS["eos_token_id"]
MESSAGE = {"user": HumanMessage, "system": SystemMessage, "assistant": AIMessage}


@pytest.fixture(scope="module")
def llm():
    with Server("--model", str(FIXTURES / "qwen2-chat"), "--max-batch", "4") as srv:
        yield langchain_openai.ChatOpenAI(base_url=f"{srv.url}/v1", api_key="none", model="qwen2-chat",
                                          temperature=0, max_tokens=GOLDENS["max_new_tokens"], max_retries=0)


@pytest.mark.parametrize("name", ["ends_im_end", "ends_endoftext", "multi_turn", "tools"])
def test_invoke_and_stream_give_hf_reply(llm, name):
    case = CASES[name]
    messages = [MESSAGE[m["role"]](content=m["content"]) for m in case["messages"]]
    model = llm.bind_tools(case["tools"]) if "tools" in case else llm
    r = model.invoke(messages)
    assert r.content == case["reply"]
    assert r.usage_metadata["input_tokens"] == len(case["ids"])  # HF's apply_chat_template ids (tools included)
    assert r.usage_metadata["output_tokens"] == len(case["generated"])
    assert r.response_metadata["finish_reason"] == ("stop" if case["generated"][-1] in EOS else "length")
    chunks = list(model.stream(messages))
    assert "".join(c.content for c in chunks) == case["reply"]
    assert len([c for c in chunks if c.content]) > 1  # streamed in pieces, not one block
