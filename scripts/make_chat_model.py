#!/usr/bin/env python3
"""A small Qwen2 chat-model folder, written by HF transformers' save_pretrained, and its HF goldens.

Real chat models cannot be downloaded here, so this builds one the way a Hub folder is built: a random-weight
Qwen2ForCausalLM (small shapes, bf16 safetensors, untied lm_head as Qwen2.5-7B) saved with save_pretrained; the
byte-level BPE of tests/fixtures/tokenizers/qwen2 (made by scripts/make_tokenizer_fixtures.py) shaped like
Qwen2.5's tokenizer (ByteLevel post-processor that adds no BOS, `<tool_call>` / `</tool_call>` as non-special
added tokens, eos_token <|im_end|>, pad_token <|endoftext|>, no bos_token) saved by transformers; Qwen2.5's own
chat template with tools (tests/fixtures/chat_templates/qwen25_tools.jinja); generation_config.json with the
eos list Qwen2.5-Instruct has ([<|im_end|>, <|endoftext|>]). Unlike the real Qwen2.5 generation_config it sets no
sampling defaults, so `jitgen generate` on the folder is greedy as the tests need.

End of turn by construction, not by luck: two residual-stream coordinates (0 and 1) are reserved. No layer
writes them (those rows of every o_proj and down_proj are zero) and every embedding is 0 there, except that
token T_a has 100 in coordinate 0 and token T_b 100 in coordinate 1. lm_head's row of <|im_end|> reads only
coordinate 0 (weight 10) and the row of <|endoftext|> only coordinate 1; every other row is 0 there. So
whenever the model has just produced T_a (T_b), the final norm makes that coordinate dominate (~sqrt(hidden))
and the next token is <|im_end|> (<|endoftext|>) with a logit of ~50 against < 2 for any other; anywhere else
both logits are exactly 0 while the best other logit is positive. T_a / T_b are picked as the first token new to
the sequence at or after the 4th / 6th step of what the trigger-free model generates for two of the
conversations, and the script asserts with HF generate that those conversations then end on exactly that eos
right after it.

Writes
  tests/fixtures/chat_model/qwen2-chat/     the folder (config.json, generation_config.json, model.safetensors,
                                            tokenizer.json, tokenizer_config.json, chat_template.jinja, ...)
  tests/fixtures/chat_model/goldens.json    per conversation: apply_chat_template text and ids (HF), HF greedy
                                            generate ids (eos included when reached, as HF returns them), the
                                            reply text (decode with skip_special_tokens) and the smallest top-1 /
                                            top-2 logit gap on the way; the jinja2 error for a conversation the
                                            template cannot render; the replies `jitgen chat` must print for
                                            piped turns (history, /reset, /exit), computed with HF.

    python3 scripts/make_chat_model.py            (needs torch, transformers, tokenizers: requirements-oracle)
"""
import json
import pathlib
import shutil
import tempfile

import torch
import transformers
from tokenizers import AddedToken, Tokenizer, processors

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "chat_model"
FOLDER = OUT / "qwen2-chat"
TOKENIZER_FIXTURE = ROOT / "tests" / "fixtures" / "tokenizers" / "qwen2" / "tokenizer.json"
TEMPLATE = ROOT / "tests" / "fixtures" / "chat_templates" / "qwen25_tools.jinja"
SEED = 1234
MAX_NEW_TOKENS = 12
TRIGGER_SCALE, READ_SCALE = 100.0, 10.0
MIN_GAP = 1e-3  # top-1 minus top-2 logit at every greedy step: jitgen agrees with HF to 1e-4

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                   "required": ["city"]}}}
CONVERSATIONS = {
    # end on <|im_end|> / <|endoftext|> after >= 4 / >= 6 tokens (the triggers are chosen from these two)
    "ends_im_end": {"messages": [{"role": "user", "content": "Hello!"}]},
    "ends_endoftext": {"messages": [{"role": "system", "content": "You are terse."},
                                    {"role": "user", "content": "Name a colour."}]},
    "multi_turn": {"messages": [{"role": "user", "content": "One"}, {"role": "assistant", "content": "Two"},
                                {"role": "user", "content": "Drei? ü 漢字 😀"}]},
    "tools": {"messages": [{"role": "user", "content": "What is the weather in Paris?"}], "tools": [WEATHER]},
    "tool_call": {"messages": [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
            "name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "22 degrees and sunny"}], "tools": [WEATHER]},
    "no_generation_prompt": {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}],
                             "add_generation_prompt": False},
}
# A user message without content: the template's `message.content` is undefined and jinja2 raises.
UNRENDERABLE = {"messages": [{"role": "user"}]}
# `jitgen chat --model FOLDER --max-new-tokens CLI_MAX` fed these lines on stdin.
CLI_TURNS = ["Hello!", "Tell me more.", "/reset", "Hello!", "/exit", "never read"]
CLI_MAX = 8


def build_tokenizer(tmp: pathlib.Path) -> transformers.PreTrainedTokenizerBase:
    tok = Tokenizer.from_file(str(TOKENIZER_FIXTURE))
    tok.post_processor = processors.ByteLevel(trim_offsets=False)  # Qwen2's: adds no BOS
    tok.add_tokens([AddedToken("<tool_call>", special=False, normalized=False),
                    AddedToken("</tool_call>", special=False, normalized=False)])
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        model_max_length=2048, clean_up_tokenization_spaces=False, errors="replace", split_special_tokens=False)
    fast.chat_template = TEMPLATE.read_text()
    fast.save_pretrained(tmp)
    return transformers.AutoTokenizer.from_pretrained(tmp)


def build_model(tok, triggers: dict[int, int]) -> transformers.Qwen2ForCausalLM:
    """triggers: {coordinate: token id}; coordinate 0 leads to <|im_end|>, 1 to <|endoftext|>."""
    im_end, eot = tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")
    cfg = transformers.Qwen2Config(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=2048, rope_theta=1000000.0, rms_norm_eps=1e-6,
        initializer_range=0.1, tie_word_embeddings=False, use_sliding_window=False, sliding_window=2048,
        max_window_layers=2, hidden_act="silu", bos_token_id=eot, eos_token_id=im_end, pad_token_id=eot)
    torch.manual_seed(SEED)
    model = transformers.Qwen2ForCausalLM(cfg).eval()
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight[0:2, :] = 0
            layer.mlp.down_proj.weight[0:2, :] = 0
        model.model.embed_tokens.weight[:, 0:2] = 0
        model.lm_head.weight[:, 0:2] = 0
        model.lm_head.weight[im_end] = 0
        model.lm_head.weight[eot] = 0
        model.lm_head.weight[im_end, 0] = READ_SCALE
        model.lm_head.weight[eot, 1] = READ_SCALE
        for coord, token in triggers.items():
            model.model.embed_tokens.weight[token, coord] = TRIGGER_SCALE
        model.to(torch.bfloat16).to(torch.float32)  # the weights as saved (bf16), computed in fp32 as jitgen does
    model.generation_config = transformers.GenerationConfig(bos_token_id=eot, pad_token_id=eot,
                                                            eos_token_id=[im_end, eot])
    return model


def render(tok, conv: dict, tokenize: bool):
    return tok.apply_chat_template(conv["messages"], tools=conv.get("tools"), tokenize=tokenize,
                                   add_generation_prompt=conv.get("add_generation_prompt", True),
                                   return_dict=False)


def greedy(model, ids: list[int], max_new_tokens: int) -> tuple[list[int], float]:
    out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                         max_new_tokens=max_new_tokens, do_sample=False, output_scores=True,
                         return_dict_in_generate=True)
    new = out.sequences[0, len(ids):].tolist()
    gap = min(float((s[0].topk(2).values[0] - s[0].topk(2).values[1])) for s in out.scores)
    return new, gap


def pick_trigger(model, tok, conv: dict, step: int, taken: set[int]) -> tuple[int, int]:
    """The first token the model generates for conv at or after `step` (1-based) that is new to the sequence
    (so the trigger-free forward up to it is unchanged): (its step, token id)."""
    ids = render(tok, conv, True)
    new, _ = greedy(model, ids, MAX_NEW_TOKENS)
    for k in range(step, MAX_NEW_TOKENS):
        t = new[k - 1]
        if t not in ids and t not in new[: k - 1] and t not in taken and t not in tok.all_special_ids:
            return k, t
    raise AssertionError(f"no fresh token among {new}; change SEED")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = pathlib.Path(tmp_name)
        tok = build_tokenizer(tmp / "tok")
        im_end, eot = tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")
        base = build_model(tok, {})
        k_a, t_a = pick_trigger(base, tok, CONVERSATIONS["ends_im_end"], 4, set())
        k_b, t_b = pick_trigger(base, tok, CONVERSATIONS["ends_endoftext"], 6, {t_a})
        model = build_model(tok, {0: t_a, 1: t_b})

        if FOLDER.exists():
            shutil.rmtree(FOLDER)
        model.to(torch.bfloat16).save_pretrained(FOLDER)
        model.to(torch.float32)
        for f in (tmp / "tok").iterdir():
            shutil.copy(f, FOLDER / f.name)
        # Reload as a user would: the saved folder is the oracle's input from here on.
        tok = transformers.AutoTokenizer.from_pretrained(FOLDER)
        model = transformers.AutoModelForCausalLM.from_pretrained(FOLDER, dtype=torch.float32).eval()
        assert tok.apply_chat_template(CONVERSATIONS["ends_im_end"]["messages"], tokenize=False,
                                       add_generation_prompt=True).endswith("<|im_start|>assistant\n")

        cases = []
        for name, conv in CONVERSATIONS.items():
            text, ids = render(tok, conv, False), render(tok, conv, True)
            assert ids == tok(text, add_special_tokens=False)["input_ids"]
            new, gap = greedy(model, ids, MAX_NEW_TOKENS)
            assert gap >= MIN_GAP, f"{name}: top-2 logit gap {gap} too small to compare greedy tokens; change SEED"
            reply = [t for t in new if t not in (im_end, eot)]
            cases.append({"name": name, **conv, "add_generation_prompt": conv.get("add_generation_prompt", True),
                          "text": text, "ids": ids, "generated": new,
                          "reply": tok.decode(reply, skip_special_tokens=True), "min_top2_gap": gap})
        by_name = {c["name"]: c for c in cases}
        assert by_name["ends_im_end"]["generated"][-1] == im_end and len(by_name["ends_im_end"]["generated"]) == k_a + 1
        assert by_name["ends_endoftext"]["generated"][-1] == eot and len(by_name["ends_endoftext"]["generated"]) == k_b + 1

        try:
            render(tok, UNRENDERABLE, False)
            raise AssertionError("the unrenderable conversation rendered")
        except Exception as e:  # jinja2.exceptions.UndefinedError
            error = {"messages": UNRENDERABLE["messages"], "error": str(e), "type": type(e).__name__}

        history, transcript = [], []
        for line in CLI_TURNS:
            if line == "/exit":
                break
            if line == "/reset":
                history = []
                continue
            history.append({"role": "user", "content": line})
            new, gap = greedy(model, render(tok, {"messages": history}, True), CLI_MAX)
            assert gap >= MIN_GAP
            reply = tok.decode([t for t in new if t not in (im_end, eot)], skip_special_tokens=True)
            transcript.append(reply)
            history.append({"role": "assistant", "content": reply})

    goldens = {
        "source": "scripts/make_chat_model.py", "transformers": transformers.__version__, "torch": torch.__version__,
        "folder": FOLDER.name, "max_new_tokens": MAX_NEW_TOKENS, "eos_token_id": [im_end, eot],
        "triggers": {"im_end_after": t_a, "endoftext_after": t_b},
        "cases": cases, "unrenderable": error,
        "cli": {"turns": CLI_TURNS, "max_new_tokens": CLI_MAX, "replies": transcript},
    }
    (OUT / "goldens.json").write_text(json.dumps(goldens, indent=1, ensure_ascii=False) + "\n")
    size = sum(f.stat().st_size for f in FOLDER.iterdir())
    print(f"wrote {FOLDER} ({size} bytes: {', '.join(sorted(f.name for f in FOLDER.iterdir()))}) and goldens.json "
          f"({len(cases)} conversations; triggers {t_a} -> <|im_end|>, {t_b} -> <|endoftext|>)")


if __name__ == "__main__":
    main()
