#!/usr/bin/env python3
"""HF oracle for the model: logits and greedy tokens of random GPT-2 folders written by `jitgen make-model`.

Writes tests/fixtures/model_goldens.json. Each case records the make-model arguments, so the C++ tests
rebuild the exact same folder (the maker is deterministic) and compare against what HF computed here.

Usage: scripts/goldens_model.py [--jitgen build/jitgen] [--out tests/fixtures/model_goldens.json]
"""
import argparse
import random
import tempfile

import torch
from transformers import GPT2LMHeadModel

from oracle_common import left_padded, make_model, rounded, top_gap, write_goldens

# (name, make-model args). Three shapes: small vocab with gelu_new, an odd head count, and the
# built-in default shape with the real 50257 vocabulary (stored as BF16 to test conversion too).
CONFIGS = [
    ("small", ["--config", "tiny", "--n-layer", "2", "--n-head", "4", "--n-embd", "64",
               "--n-positions", "128", "--vocab-size", "1000", "--seed", "1"]),
    ("odd_heads", ["--config", "tiny", "--n-layer", "3", "--n-head", "3", "--n-embd", "48",
                   "--n-positions", "96", "--vocab-size", "777", "--seed", "2"]),
    ("tiny_bf16", ["--config", "tiny", "--seed", "3", "--dtype", "BF16", "--shards", "2"]),
]
N_GREEDY_PROMPTS = 20
MAX_NEW = 64


def case_for(name, args, jitgen, rng):
    with tempfile.TemporaryDirectory() as d:
        make_model(jitgen, args, d)
        model = GPT2LMHeadModel.from_pretrained(d, torch_dtype=torch.float32).eval()
    cfg = model.config
    V, eos = cfg.vocab_size, cfg.eos_token_id
    # Logit rows keep their first `cols` columns: enough to check every op, small enough to commit.
    cols = min(V, 1024)
    case = {"name": name, "make_model_args": args, "vocab_size": V, "eos_token_id": eos, "logit_cols": cols}

    # Logits: three prompts, every position, plus a left-padded batch of the same prompts.
    logit_prompts = [[rng.randrange(V) for _ in range(n)] for n in (1, 5, 11)]
    case["logits"] = []
    with torch.no_grad():
        for p in logit_prompts:
            out = model(torch.tensor([p])).logits[0]  # [T, V]
            case["logits"].append({"input_ids": p, "logits": [rounded(row[:cols].tolist()) for row in out]})
        ids, mask = left_padded(logit_prompts, eos)
        pos = (torch.tensor(mask).cumsum(-1) - 1).clamp(min=0)
        out = model(torch.tensor(ids), attention_mask=torch.tensor(mask), position_ids=pos).logits
        case["padded_logits"] = {"input_ids": ids, "attention_mask": mask,
                                 "last_logits": [rounded(out[b, -1, :cols].tolist()) for b in range(len(ids))]}

    # Greedy: prompts of varied lengths; tokens up to MAX_NEW new ones, eos stops a row.
    greedy, min_gap = [], float("inf")
    with torch.no_grad():
        for i in range(N_GREEDY_PROMPTS):
            p = [rng.randrange(V) for _ in range(rng.randint(1, 24))]
            out = model.generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long),
                                 max_new_tokens=MAX_NEW, do_sample=False, num_beams=1,
                                 pad_token_id=eos, eos_token_id=eos, output_scores=True,
                                 return_dict_in_generate=True)
            min_gap = min(min_gap, min(top_gap(s) for s in out.scores))
            greedy.append({"input_ids": p, "sequence": out.sequences[0].tolist()})
        # One left-padded batch of mixed lengths: must give each prompt's own tokens.
        batch = [g["input_ids"] for g in greedy[:6]]
        ids, mask = left_padded(batch, eos)
        out = model.generate(torch.tensor(ids), attention_mask=torch.tensor(mask), max_new_tokens=MAX_NEW,
                             do_sample=False, num_beams=1, pad_token_id=eos, eos_token_id=eos)
        case["greedy_batch"] = {"input_ids": ids, "attention_mask": mask, "sequences": out.tolist()}
    case["greedy"] = greedy
    case["greedy_min_top1_top2_gap"] = min_gap
    return case


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jitgen", default="build/jitgen")
    ap.add_argument("--out", default="tests/fixtures/model_goldens.json")
    a = ap.parse_args()
    torch.set_num_threads(2)
    rng = random.Random(1234)
    cases = [case_for(name, args, a.jitgen, rng) for name, args in CONFIGS]
    write_goldens(a.out, "scripts/goldens_model.py", cases, max_new_tokens=MAX_NEW)

if __name__ == "__main__":
    main()
