#!/usr/bin/env python3
"""HF oracle for the Llama family (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM): logits, greedy and beam
tokens of random folders written by `jitgen make-model --family F`.

Writes tests/fixtures/llama_goldens.json. Each case records the make-model arguments, so the C++ tests rebuild the
same folder (the maker is deterministic) and compare against what HF computed here. The configs cover GQA ratios 1,
2, 4 and MQA, head_dim != hidden / heads, every supported rope_type (default, linear, dynamic, llama3, yarn), tied
and untied heads, Qwen2's q/k/v biases and sliding windows shorter than prompt + generation, F32 / F16 / BF16 and
sharded checkpoints.

Usage: scripts/goldens_llama.py [--jitgen build/jitgen] [--out tests/fixtures/llama_goldens.json]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import torch
from transformers import AutoModelForCausalLM


def cfg(**kw):
    return ["--config-json", json.dumps(kw, sort_keys=True)]


BASE = ["--n-layer", "2", "--n-embd", "64", "--vocab-size", "1000"]
# (name, family, expected HF class, make-model args)
CONFIGS = [
    # llama
    ("llama_gqa2", "llama", "LlamaForCausalLM",
     ["--config", "llama-tiny", *BASE, "--n-head", "4", "--n-kv-head", "2", "--seed", "11"]),
    ("llama_mha_linear_tied_bf16", "llama", "LlamaForCausalLM",
     ["--config", "llama-tiny", *BASE, "--n-head", "4", "--n-kv-head", "4", "--seed", "12", "--dtype", "BF16",
      "--shards", "2", *cfg(tie_word_embeddings=True, rope_scaling={"rope_type": "linear", "factor": 2.0})]),
    ("llama_gqa4_headdim_llama3_bias_f16", "llama", "LlamaForCausalLM",
     ["--config", "llama-tiny", *BASE, "--n-head", "8", "--n-kv-head", "2", "--seed", "13", "--dtype", "F16",
      *cfg(head_dim=16, attention_bias=True, mlp_bias=True, rope_theta=500000.0,
           rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 64})]),
    ("llama_mqa_yarn", "llama", "LlamaForCausalLM",
     ["--config", "llama-tiny", *BASE, "--n-head", "4", "--n-kv-head", "1", "--seed", "14",
      *cfg(rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64})]),
    ("llama_dynamic_gelu", "llama", "LlamaForCausalLM",
     ["--config", "llama-tiny", *BASE, "--n-head", "4", "--n-kv-head", "2", "--seed", "15", "--n-positions", "20",
      *cfg(hidden_act="gelu_pytorch_tanh", rope_scaling={"rope_type": "dynamic", "factor": 3.0})]),
    # mistral: a window shorter than prompt + generation
    ("mistral_window8", "mistral", "MistralForCausalLM",
     ["--config", "mistral-tiny", *BASE, "--n-head", "4", "--n-kv-head", "2", "--seed", "21",
      *cfg(sliding_window=8)]),
    ("mistral_mqa_headdim_tied_bf16", "mistral", "MistralForCausalLM",
     ["--config", "mistral-tiny", *BASE, "--n-head", "4", "--n-kv-head", "1", "--seed", "22", "--dtype", "BF16",
      *cfg(sliding_window=5, head_dim=32, tie_word_embeddings=True)]),
    ("mistral_gqa4_nowindow_f16_sharded", "mistral", "MistralForCausalLM",
     ["--config", "mistral-tiny", *BASE, "--n-head", "8", "--n-kv-head", "2", "--seed", "23", "--dtype", "F16",
      "--shards", "3", *cfg(sliding_window=None)]),
    # qwen2: q/k/v biases always
    ("qwen2_gqa2", "qwen2", "Qwen2ForCausalLM",
     ["--config", "qwen2-tiny", *BASE, "--n-head", "4", "--n-kv-head", "2", "--seed", "31"]),
    ("qwen2_mha_window_tied", "qwen2", "Qwen2ForCausalLM",
     ["--config", "qwen2-tiny", *BASE, "--n-head", "4", "--n-kv-head", "4", "--seed", "32",
      *cfg(use_sliding_window=True, sliding_window=6, max_window_layers=1, tie_word_embeddings=True)]),
    ("qwen2_mqa_headdim_yarn_f16", "qwen2", "Qwen2ForCausalLM",
     ["--config", "qwen2-tiny", *BASE, "--n-head", "4", "--n-kv-head", "1", "--seed", "33", "--dtype", "F16",
      *cfg(head_dim=24, rope_theta=1000000.0,
           rope_scaling={"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 32,
                         "beta_fast": 16.0, "mscale": 0.8, "mscale_all_dim": 0.5})]),
]
N_GREEDY_PROMPTS = 8
COLS = 128  # logit columns kept per row: every op shows in any column, and the fixture stays small
MAX_NEW = 24
N_BEAM = 3
BEAM_NEW = 12


def rounded(xs):
    return [float(f"{x:.7g}") for x in xs]


def top_gap(logits):
    top2 = torch.topk(logits, 2, dim=-1).values
    return float((top2[..., 0] - top2[..., 1]).min())


def case_for(name, family, cls, args, jitgen, rng):
    d = tempfile.mkdtemp()
    subprocess.run([jitgen, "make-model", "--out", d, "--family", family, *args], check=True, capture_output=True)

    def fresh():
        # A new model per call: dynamic RoPE keeps state across forwards (max_seq_len_cached) inside HF.
        m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
        assert type(m).__name__ == cls, type(m).__name__
        return m

    model = fresh()
    c = model.config
    V = c.vocab_size
    eos = c.eos_token_id
    max_prompt = 16 if "dynamic" in name else 24
    case = {"name": name, "family": family, "make_model_args": ["--family", family, *args], "vocab_size": V,
            "eos_token_id": eos, "logit_cols": COLS, "max_new_tokens": MAX_NEW}
    prompts = [[rng.randrange(3, V) for _ in range(n)] for n in (1, 5, 11)]
    case["logits"] = []
    with torch.no_grad():
        for p in prompts:
            out = fresh()(torch.tensor([p])).logits[0]
            case["logits"].append({"input_ids": p, "logits": [rounded(row[:COLS].tolist()) for row in out]})
        T = max(len(p) for p in prompts)
        ids = [[eos] * (T - len(p)) + p for p in prompts]
        mask = [[0] * (T - len(p)) + [1] * len(p) for p in prompts]
        pos = (torch.tensor(mask).cumsum(-1) - 1).clamp(min=0)
        out = fresh()(torch.tensor(ids), attention_mask=torch.tensor(mask), position_ids=pos).logits
        # Every real position of the padded batch (pads' rows are unspecified).
        case["padded_logits"] = {"input_ids": ids, "attention_mask": mask,
                                 "logits": [[rounded(out[b, t, :COLS].tolist()) if mask[b][t] else [] for t in range(T)]
                                            for b in range(len(ids))]}
    greedy, min_gap = [], float("inf")
    with torch.no_grad():
        for _ in range(N_GREEDY_PROMPTS):
            p = [rng.randrange(3, V) for _ in range(rng.randint(1, max_prompt))]
            out = fresh().generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long),
                                   max_new_tokens=MAX_NEW, do_sample=False, num_beams=1, pad_token_id=eos,
                                   eos_token_id=eos, output_scores=True, return_dict_in_generate=True)
            min_gap = min(min_gap, min(top_gap(s) for s in out.scores))
            greedy.append({"input_ids": p, "sequence": out.sequences[0].tolist()})
        batch = [g["input_ids"] for g in greedy[:4]]
        T = max(len(p) for p in batch)
        ids = [[eos] * (T - len(p)) + p for p in batch]
        mask = [[0] * (T - len(p)) + [1] * len(p) for p in batch]
        out = fresh().generate(torch.tensor(ids), attention_mask=torch.tensor(mask), max_new_tokens=MAX_NEW,
                               do_sample=False, num_beams=1, pad_token_id=eos, eos_token_id=eos)
        case["greedy_batch"] = {"input_ids": ids, "attention_mask": mask, "sequences": out.tolist()}
        beams = []
        for p in [g["input_ids"] for g in greedy[4:6]]:
            out = fresh().generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long),
                                   max_new_tokens=BEAM_NEW, do_sample=False, num_beams=N_BEAM,
                                   num_return_sequences=N_BEAM, pad_token_id=eos, eos_token_id=eos)
            beams.append({"input_ids": p, "sequences": out.tolist()})
        case["beam"] = {"num_beams": N_BEAM, "max_new_tokens": BEAM_NEW, "runs": beams}
    case["greedy"] = greedy
    case["greedy_min_top1_top2_gap"] = min_gap
    return case


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jitgen", default="build/jitgen")
    ap.add_argument("--out", default="tests/fixtures/llama_goldens.json")
    a = ap.parse_args()
    torch.set_num_threads(2)
    rng = random.Random(4321)
    import transformers
    cases = [case_for(*c, a.jitgen, rng) for c in CONFIGS]
    doc = {"generator": "scripts/goldens_llama.py", "transformers": transformers.__version__,
           "torch": torch.__version__, "cases": cases}
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    os.replace(tmp, a.out)
    for c in cases:
        print(f"{c['name']}: min top1-top2 logit gap along greedy paths = {c['greedy_min_top1_top2_gap']:.4f}",
              file=sys.stderr)
    print(f"wrote {a.out} ({os.path.getsize(a.out) // 1024} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
