#!/usr/bin/env python3
"""HF oracle for the model families beside GPT-2: logits, greedy and beam tokens of random folders written by
`jitgen make-model --family F`, from LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM (set "llama") and
OPTForCausalLM (set "opt").

Writes tests/fixtures/<set>_goldens.json. Each case records the make-model arguments, so the C++ tests rebuild the
same folder (the maker is deterministic) and compare against what HF computed here.
- llama: GQA ratios 1, 2, 4 and MQA, head_dim != hidden / heads, every supported rope_type (default, linear,
  dynamic, llama3, yarn), tied and untied heads, Qwen2's q/k/v biases and sliding windows shorter than prompt +
  generation, F32 / F16 / BF16 and sharded checkpoints.
- opt: pre-LN (OPT-125m's layout) and post-LN with project_in / project_out (OPT-350m's), no biases with
  affine-free layer norms and an untied head, F32 / F16 / BF16, sharded; the padded forward lets OPT derive its
  positions from the attention mask (HF OPTLearnedPositionalEmbedding), offset 2 included.

Usage: scripts/goldens_families.py [--set llama|opt|all] [--jitgen build/jitgen]
"""
import argparse
import json
import os
import random

import torch

from oracle_common import family_case, write_goldens

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cfg(**kw):
    return ["--config-json", json.dumps(kw, sort_keys=True)]


BASE = ["--n-layer", "2", "--n-embd", "64", "--vocab-size", "1000"]
# (name, family, expected HF class, make-model args) per set of goldens
LLAMA_CONFIGS = [
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
OPT_BASE = ["--n-layer", "2", "--n-embd", "64", "--vocab-size", "1000"]
OPT_CONFIGS = [
    ("opt_preln", "opt", "OPTForCausalLM", ["--config", "opt-tiny", *OPT_BASE, "--n-head", "4", "--seed", "41"]),
    ("opt_postln_project_bf16_sharded", "opt", "OPTForCausalLM",
     ["--config", "opt-tiny-postln", *OPT_BASE, "--n-head", "4", "--seed", "42", "--dtype", "BF16", "--shards", "2"]),
    ("opt_nobias_noaffine_untied_f16", "opt", "OPTForCausalLM",
     ["--config", "opt-tiny", *OPT_BASE, "--n-head", "8", "--seed", "43", "--dtype", "F16", "--shards", "3",
      *cfg(enable_bias=False, layer_norm_elementwise_affine=False, tie_word_embeddings=False)]),
    ("opt_preln_project_no_final_ln_gelu", "opt", "OPTForCausalLM",
     ["--config", "opt-tiny", *OPT_BASE, "--n-head", "2", "--seed", "44",
      *cfg(word_embed_proj_dim=48, _remove_final_layer_norm=True, activation_function="gelu")]),
]
SETS = {"llama": (LLAMA_CONFIGS, 4321), "opt": (OPT_CONFIGS, 8765)}
N_GREEDY_PROMPTS = 8
COLS = 128  # logit columns kept per row: every op shows in any column, and the fixture stays small
MAX_NEW = 24
N_BEAM = 3
BEAM_NEW = 12


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=[*SETS, "all"], default="all")
    ap.add_argument("--jitgen", default="build/jitgen")
    a = ap.parse_args()
    torch.set_num_threads(2)
    for name in SETS if a.set == "all" else [a.set]:
        configs, seed = SETS[name]
        rng = random.Random(seed)
        cases = [family_case(*c, a.jitgen, rng, cols=COLS, max_new=MAX_NEW, n_greedy=N_GREEDY_PROMPTS, n_beam=N_BEAM,
                             beam_new=BEAM_NEW, max_prompt=16 if "dynamic" in c[0] else 24,
                             explicit_positions=c[1] != "opt")
                 for c in configs]
        write_goldens(os.path.join(ROOT, f"tests/fixtures/{name}_goldens.json"), "scripts/goldens_families.py", cases)


if __name__ == "__main__":
    main()
