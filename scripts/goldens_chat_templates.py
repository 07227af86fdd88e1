#!/usr/bin/env python3
"""Chat-template goldens: renders every template of tests/fixtures/chat_templates/ with many message lists
through transformers' own rendering path (utils/chat_template_utils.py: _normalize_chat_messages, then
render_jinja_template, which compiles with ImmutableSandboxedEnvironment(trim_blocks, lstrip_blocks,
loopcontrols) and adds raise_exception / strftime_now / namespace / dict / tojson), with bos_token and
eos_token passed as apply_chat_template passes the tokenizer's special tokens. strftime_now reads a fixed
clock (NOW) so the goldens are stable; tests/chat_template_test.cc gives the C++ renderer the same clock.

Writes tests/fixtures/chat_template_goldens.json:
  {"now": [Y, M, D, h, m, s], "templates": {name: source},
   "cases": [{"template": name, "context": {...}, "output": str} | {..., "error": str}]}

    python3 scripts/goldens_chat_templates.py
"""
import datetime
import json
import pathlib

import jinja2
import transformers
from transformers.utils import chat_template_utils as ctu

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "tests" / "fixtures" / "chat_templates"
OUT = ROOT / "tests" / "fixtures" / "chat_template_goldens.json"
NOW = (2024, 7, 26, 12, 5, 9)


class _FixedClock(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime.datetime(*NOW)


ctu.datetime = _FixedClock  # strftime_now() = datetime.now().strftime(format)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}
SEARCH_TOOL = {"type": "function", "function": {"name": "search", "description": "Search the web (ünïcode ✓)",
                                                 "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}

CHATS = {
    "single": [{"role": "user", "content": "Hello!"}],
    "system": [{"role": "system", "content": "You are a helpful assistant."},
               {"role": "user", "content": "Hi there"},
               {"role": "assistant", "content": "Hello! How can I help?"},
               {"role": "user", "content": "What's 2+2?"}],
    "multi": [{"role": "user", "content": "One"}, {"role": "assistant", "content": "Two"},
              {"role": "user", "content": "Three"}, {"role": "assistant", "content": "Four"},
              {"role": "user", "content": "Five?"}],
    "empty": [{"role": "user", "content": ""}],
    "empty_turn": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""},
                   {"role": "user", "content": "again"}],
    "unicode": [{"role": "system", "content": "Tu es un assistant. 日本語 ✓"},
                {"role": "user", "content": "Héllo wörld — «quotes» 😀 'single' \"double\""},
                {"role": "assistant", "content": "Ça va?\n\tTab\\ back"},
                {"role": "user", "content": "  padded  \n"}],
    "think": [{"role": "user", "content": "Why?"},
              {"role": "assistant", "content": "<think>\nLet me reason.\nStep 2.\n</think>\n\nBecause."},
              {"role": "user", "content": "And then?"}],
    "tools": [{"role": "user", "content": "What's the weather in Paris?"},
              {"role": "assistant", "tool_calls": [{"id": "call12345", "type": "function", "function": {
                  "name": "get_current_weather", "arguments": {"location": "Paris, France", "unit": "celsius"}}}]},
              {"role": "tool", "tool_call_id": "call12345", "content": "22 degrees"},
              {"role": "assistant", "content": "It is 22 °C in Paris."},
              {"role": "user", "content": "Thanks"}],
    "none_content": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": None, "tool_calls": None},
                     {"role": "user", "content": "Yo"}],
    "parts": [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
              {"role": "user", "content": [{"type": "text", "text": "Look: "}, {"type": "image", "image": "x.png"},
                                           {"type": "text", "text": " what?"}]}],
    "alternation_error": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
    "bad_role": [{"role": "critic", "content": "meh"}],
}
DOCS = [{"title": "Paris", "text": "Paris is the capital\nof France."}, {"text": "  No title here.  "}]

# Which chats each template is rendered with, and extra keyword arguments (tools, documents, template kwargs).
PLAN = {
    "llama3": (["single", "system", "multi", "empty", "empty_turn", "unicode"], [{}]),
    "llama31_tools": (["single", "system", "multi", "unicode", "tools", "empty"],
                      [{}, {"tools": [WEATHER_TOOL, SEARCH_TOOL]},
                       {"tools": [WEATHER_TOOL], "tools_in_user_message": False},
                       {"date_string": "01 Jan 2025"}, {"builtin_tools": ["brave_search", "code_interpreter"]}]),
    "mistral_v1": (["single", "multi", "empty_turn", "unicode", "alternation_error", "system"], [{}]),
    "mistral_v2_system": (["single", "system", "multi", "unicode", "alternation_error", "bad_role"], [{}]),
    "mistral_v3_tools": (["single", "system", "multi", "tools", "alternation_error", "empty"],
                         [{}, {"tools": [WEATHER_TOOL, SEARCH_TOOL]}]),
    "qwen25_tools": (["single", "system", "multi", "tools", "unicode", "empty_turn", "none_content"],
                     [{}, {"tools": [WEATHER_TOOL, SEARCH_TOOL]}]),
    "qwen3_like": (["single", "system", "multi", "tools", "think", "parts", "unicode"],
                   [{}, {"tools": [WEATHER_TOOL]}, {"enable_thinking": False}]),
    "gemma": (["single", "multi", "empty_turn", "unicode", "system", "alternation_error"], [{}]),
    "phi3": (["single", "system", "multi", "empty", "unicode"], [{}]),
    "smollm2": (["single", "system", "multi", "unicode", "empty"], [{}]),
    "zephyr": (["single", "system", "multi", "unicode", "empty_turn"], [{}]),
    "reasoning_think": (["single", "system", "think", "multi", "unicode"], [{}]),
    "documents_rag": (["single", "system", "bad_role"], [{}, {"documents": DOCS}]),
    "constructs": (["single", "system", "multi", "empty_turn", "unicode", "think"], [{}]),
}
SPECIAL = [{"bos_token": "<s>", "eos_token": "</s>"},
           {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}]


def render(source, messages, add_generation_prompt, special, kwargs):
    kwargs = dict(kwargs)
    tools = kwargs.pop("tools", None)
    documents = kwargs.pop("documents", None)
    chat = ctu._normalize_chat_messages(messages)
    template_kwargs = {**special, **kwargs}
    rendered, _ = ctu.render_jinja_template(conversations=[chat], tools=tools, documents=documents,
                                            chat_template=source, add_generation_prompt=add_generation_prompt,
                                            **template_kwargs)
    context = {"messages": chat, "tools": tools, "documents": documents,
               "add_generation_prompt": add_generation_prompt, **template_kwargs}
    return context, rendered[0]


def main():
    templates = {p.stem: p.read_text() for p in sorted(TEMPLATES.glob("*.jinja"))}
    assert set(templates) == set(PLAN), set(templates) ^ set(PLAN)
    cases = []
    for name, (chats, kwarg_sets) in PLAN.items():
        for chat_name in chats:
            for kw in kwarg_sets:
                for agp in (False, True):
                    for special in SPECIAL[: 2 if chat_name in ("single", "system") else 1]:
                        case = {"template": name, "chat": chat_name}
                        try:
                            context, out = render(templates[name], CHATS[chat_name], agp, special, kw)
                            case.update(context=context, output=out)
                        except jinja2.exceptions.TemplateError as e:
                            context = {"messages": ctu._normalize_chat_messages(CHATS[chat_name]),
                                       "tools": kw.get("tools"), "documents": kw.get("documents"),
                                       "add_generation_prompt": agp, **special,
                                       **{k: v for k, v in kw.items() if k not in ("tools", "documents")}}
                            case.update(context=context, error=str(e))
                        cases.append(case)
    doc = {"generator": f"transformers {transformers.__version__}, jinja2 {jinja2.__version__}",
           "now": list(NOW), "templates": templates, "cases": cases}
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    errors = sum("error" in c for c in cases)
    print(f"{OUT.relative_to(ROOT)}: {len(cases)} cases ({errors} raise) over {len(templates)} templates")


if __name__ == "__main__":
    main()
