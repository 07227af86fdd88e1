#!/usr/bin/env python3
"""HF oracle for jitgen's logits processors, warpers and beam search.

Writes tests/fixtures/processors_goldens.json (processors, chains) and tests/fixtures/beam_goldens.json (beam search
on a table-driven fake model). Run: python3 scripts/goldens_processors.py  (needs torch + transformers).
-inf is stored as null; every other float is the float32 value printed with repr (exact round trip).
"""
import json
import math
import os

import torch
import transformers
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel
from transformers.generation import logits_process as lp
from transformers.modeling_outputs import CausalLMOutputWithPast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")


def floats(t):
    return [None if (math.isinf(x) and x < 0) else float(x) for x in t.reshape(-1).tolist()]


def make_inputs(V=200, rows=4, T=12, pad=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(rows, V, generator=g) * 3.0
    scores[2, 10:20] = 1.5  # ties (top-k boundary, sorting)
    scores[3, 50] = 9.0
    ids = torch.randint(1, V, (rows, T), generator=g)
    mask = torch.ones(rows, T, dtype=torch.long)
    ids[1, :3] = pad; mask[1, :3] = 0          # left padding
    ids[3, :5] = pad; mask[3, :5] = 0
    ids[2, 6] = pad                              # a pad id inside the row (penalized: after the first real token)
    ids[0, 4:7] = torch.tensor([7, 8, 9]); ids[0, 9:11] = torch.tensor([7, 8])  # repeated n-grams
    ids[2, 0:2] = torch.tensor([7, 8]); ids[2, -1] = 7
    return scores, ids, mask


def main():
    torch.manual_seed(0)
    V, T = 200, 12
    scores, ids, mask = make_inputs(V=V, T=T)
    pad_len = (mask != 0).int().argmax(dim=1)
    cases = []

    def add(name, proc, **params):
        out = proc(ids.clone(), scores.clone())
        cases.append({"name": name, "params": params, "scores": floats(out)})

    add("repetition_penalty", lp.RepetitionPenaltyLogitsProcessor(1.3, prompt_ignore_length=pad_len), penalty=1.3)
    add("repetition_penalty_reward", lp.RepetitionPenaltyLogitsProcessor(0.7, prompt_ignore_length=pad_len), penalty=0.7)
    add("no_repeat_ngram_2", lp.NoRepeatNGramLogitsProcessor(2), ngram_size=2)
    add("no_repeat_ngram_3", lp.NoRepeatNGramLogitsProcessor(3), ngram_size=3)
    add("no_repeat_ngram_1", lp.NoRepeatNGramLogitsProcessor(1), ngram_size=1)
    bw = [[5], [7, 8], [3], [ids[1, -2].item(), ids[1, -1].item(), 44], [ids[0, -1].item(), 45]]
    add("bad_words", lp.NoBadWordsLogitsProcessor(bw, eos_token_id=[3, 9]), bad_words_ids=bw, eos=[3, 9])
    add("min_length_active", lp.MinLengthLogitsProcessor(13, [3, 9]), min_length=13, eos=[3, 9])
    add("min_length_inactive", lp.MinLengthLogitsProcessor(12, [3, 9]), min_length=12, eos=[3, 9])
    add("min_new_tokens_active", lp.MinNewTokensLengthLogitsProcessor(10, 3, [3]), prompt_len=10, min_new_tokens=3, eos=[3])
    add("min_new_tokens_inactive", lp.MinNewTokensLengthLogitsProcessor(10, 2, [3]), prompt_len=10, min_new_tokens=2, eos=[3])
    add("temperature", lp.TemperatureLogitsWarper(0.7), t=0.7)
    add("top_k_10", lp.TopKLogitsWarper(10), k=10, min_keep=1)
    add("top_k_15_ties", lp.TopKLogitsWarper(15), k=15, min_keep=1)
    add("top_k_min_keep", lp.TopKLogitsWarper(2, min_tokens_to_keep=3), k=2, min_keep=3)
    add("top_p_0.9", lp.TopPLogitsWarper(0.9), p=0.9, min_keep=1)
    add("top_p_0.3", lp.TopPLogitsWarper(0.3), p=0.3, min_keep=1)
    add("top_p_min_keep", lp.TopPLogitsWarper(0.01, min_tokens_to_keep=4), p=0.01, min_keep=4)
    add("min_p_0.1", lp.MinPLogitsWarper(0.1), p=0.1, min_keep=1)
    add("min_p_0.9_min_keep", lp.MinPLogitsWarper(0.9, min_tokens_to_keep=3), p=0.9, min_keep=3)
    add("typical_0.9", lp.TypicalLogitsWarper(0.9), mass=0.9, min_keep=1)
    add("typical_0.2_min_keep", lp.TypicalLogitsWarper(0.2, min_tokens_to_keep=5), mass=0.2, min_keep=5)

    # Whole chains, built by generate()'s own _get_logits_processor on a tiny GPT-2.
    model = GPT2LMHeadModel(GPT2Config(vocab_size=V, n_positions=64, n_embd=8, n_layer=1, n_head=2))
    chains = []
    chain_cfgs = [
        ("greedy_all_processors", dict(do_sample=False, repetition_penalty=1.2, no_repeat_ngram_size=2,
                                       bad_words_ids=[[5], [7, 8]], min_new_tokens=2, eos_token_id=[3, 9])),
        ("sample_default", dict(do_sample=True, eos_token_id=3)),
        ("sample_all_warpers", dict(do_sample=True, temperature=0.8, top_k=40, top_p=0.9, min_p=0.05, typical_p=0.95,
                                    repetition_penalty=1.1, eos_token_id=3)),
        ("sample_topk0_topp", dict(do_sample=True, temperature=1.5, top_k=0, top_p=0.8, eos_token_id=3)),
        ("beam_sample_min_keep", dict(do_sample=True, num_beams=2, top_k=1, top_p=0.05, eos_token_id=[3, 9])),
        # The processors HF adds from generation_config.json fields beyond the classic ones (and their order).
        ("sequence_bias", dict(do_sample=False, eos_token_id=3, sequence_bias=[
            [[5], -2.5], [[7, 8], 4.0], [[ids[0, -1].item(), 45], 1.25], [[ids[1, -2].item(), ids[1, -1].item(), 44], -3.0],
            [[11], 0.5], [[5], 1.5], [[ids[2, -1].item(), 45], 0.75], [[60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73], 9.0]])),
        ("encoder_repetition_penalty", dict(do_sample=False, eos_token_id=3, encoder_repetition_penalty=1.7)),
        ("encoder_repetition_penalty_reward", dict(do_sample=False, eos_token_id=3, encoder_repetition_penalty=0.6,
                                                   repetition_penalty=1.3)),
        ("forced_eos_fires", dict(do_sample=False, eos_token_id=3, forced_eos_token_id=[9, 4], max_new_tokens=2)),
        ("forced_eos_not_yet", dict(do_sample=False, eos_token_id=3, forced_eos_token_id=9, max_new_tokens=3)),
        ("forced_bos_fires", dict(do_sample=False, eos_token_id=3, forced_bos_token_id=17), 1, 1),
        ("forced_bos_not_first", dict(do_sample=False, eos_token_id=3, forced_bos_token_id=17), 2, 2),
        ("begin_suppress_fires", dict(do_sample=False, eos_token_id=3, begin_suppress_tokens=[3, 50, 12, 199]), T),
        ("begin_suppress_after_bos", dict(do_sample=False, eos_token_id=3, forced_bos_token_id=17,
                                          begin_suppress_tokens=[3, 50]), 1, 2),
        ("begin_suppress_not_first", dict(do_sample=False, eos_token_id=3, begin_suppress_tokens=[3, 50])),
        ("suppress_tokens", dict(do_sample=False, eos_token_id=3, suppress_tokens=[3, 50, 12, 150, 250])),
        ("remove_invalid_values", dict(do_sample=False, eos_token_id=[3, 9], bad_words_ids=[[5], [7, 8]],
                                       remove_invalid_values=True, min_new_tokens=4)),
        ("exponential_decay", dict(do_sample=False, eos_token_id=[3, 9, 3, 50], exponential_decay_length_penalty=[-2, 1.5])),
        ("exponential_decay_not_yet", dict(do_sample=False, eos_token_id=[3, 9], exponential_decay_length_penalty=[1, 1.5])),
        ("exponential_decay_shrinks", dict(do_sample=False, eos_token_id=[3, 9], exponential_decay_length_penalty=[0, 0.5],
                                           min_new_tokens=4)),
        ("renormalize_greedy", dict(do_sample=False, eos_token_id=3, bad_words_ids=[[5]], renormalize_logits=True)),
        ("renormalize_sample", dict(do_sample=True, top_k=20, top_p=0.9, eos_token_id=3, renormalize_logits=True)),
        ("epsilon", dict(do_sample=True, top_k=0, epsilon_cutoff=0.01, eos_token_id=3)),
        ("epsilon_with_temperature_topk", dict(do_sample=True, temperature=0.7, top_k=30, epsilon_cutoff=0.02,
                                               eos_token_id=3)),
        ("epsilon_out_of_range_ignored", dict(do_sample=True, top_k=0, epsilon_cutoff=1.0, eta_cutoff=0.0,
                                              eos_token_id=3)),
        ("eta", dict(do_sample=True, top_k=0, eta_cutoff=0.05, eos_token_id=3)),
        ("eta_with_top_p", dict(do_sample=True, top_k=0, top_p=0.95, eta_cutoff=0.002, eos_token_id=3)),
        ("top_h", dict(do_sample=True, top_k=0, top_h=0.4, eos_token_id=3)),
        ("top_h_with_temperature_topk", dict(do_sample=True, temperature=1.3, top_k=50, top_h=0.8, eos_token_id=3)),
        ("beam_sample_eps_eta_min_keep", dict(do_sample=True, num_beams=2, top_k=0, epsilon_cutoff=0.2, eta_cutoff=0.3,
                                              eos_token_id=[3, 9])),
        ("every_new_processor", dict(do_sample=True, temperature=0.9, top_k=60, top_p=0.97, top_h=0.9,
                                     epsilon_cutoff=0.001, eta_cutoff=0.001, repetition_penalty=1.2,
                                     encoder_repetition_penalty=1.1, sequence_bias=[[[5], 1.0], [[7, 8], 2.0]],
                                     suppress_tokens=[12], begin_suppress_tokens=[13], min_new_tokens=2,
                                     exponential_decay_length_penalty=[0, 1.2], remove_invalid_values=True,
                                     renormalize_logits=True, eos_token_id=[3, 9])),
    ]
    for entry in chain_cfgs:
        name, kw = entry[0], entry[1]
        prompt_len = entry[2] if len(entry) > 2 else T - 1  # input_ids_seq_length HF's processors see
        cur = entry[3] if len(entry) > 3 else T             # the row length at this step
        gc = GenerationConfig(**kw)
        gc.update(**gc._get_default_generation_params(), defaults_only=True)
        model._prepare_special_tokens(gc, kwargs_has_attention_mask=True, device="cpu")
        # as generate() does: min_new_tokens also becomes min_length = prompt + min_new_tokens
        gc = model._prepare_generated_length(gc, has_default_max_length="max_new_tokens" not in kw,
                                             has_default_min_length=True, model_input_name="input_ids",
                                             input_ids_length=prompt_len, inputs_tensor=ids[:, :prompt_len])
        procs = model._get_logits_processor(gc, input_ids_seq_length=prompt_len, encoder_input_ids=ids[:, :prompt_len],
                                            model_kwargs={"attention_mask": mask[:, :prompt_len]}, device="cpu")
        out = procs(ids[:, :cur].clone(), scores.clone())
        chain = {"name": name, "config": kw, "prompt_len": prompt_len, "max_length": gc.max_length,
                 "processors": [type(p).__name__ for p in procs], "scores": floats(out)}
        if cur != T:
            chain["len"] = cur
        chains.append(chain)

    doc = {
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "V": V, "rows": int(scores.shape[0]), "T": T,
        "scores": floats(scores),
        "input_ids": ids.reshape(-1).tolist(),
        "attention_mask": mask.reshape(-1).tolist(),
        "cases": cases,
        "chains": chains,
        # every field of HF's GenerationConfig: jitgen must implement, ignore (with a reason) or refuse each one
        "generation_config_fields": sorted(GenerationConfig().__dict__.keys()),
    }
    with open(os.path.join(FIX, "processors_goldens.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))

    beam_goldens()


# ---- beam search -------------------------------------------------------------------------------------------------
class TableLM(GPT2LMHeadModel):
    """A GPT-2 shell whose next-token logits come from a table: logits = A[last token] + B[new-token index]."""

    def set_table(self, A, B, prompt_len):
        self.A, self.B, self.prompt_len = A, B, prompt_len

    def forward(self, input_ids=None, **kwargs):
        last = input_ids[:, -1]
        step = input_ids.shape[1] - self.prompt_len
        logits = (self.A[last] + self.B[min(step, self.B.shape[0] - 1)][None, :])[:, None, :]
        return CausalLMOutputWithPast(logits=logits)


def beam_goldens():
    V, P, steps = 12, 3, 10
    g = torch.Generator().manual_seed(1)
    A = torch.randn(V, V, generator=g) * 2.0
    B = torch.randn(steps + 1, V, generator=g)
    A[:, 3] += 2.5  # make EOS (3) frequent so finished hypotheses compete with running beams
    A[:, 8] += 1.0
    model = TableLM(GPT2Config(vocab_size=V, n_positions=64, n_embd=8, n_layer=1, n_head=2, bos_token_id=None,
                               eos_token_id=None))
    model.generation_config = GenerationConfig()
    model.set_table(A, B, P)
    prompts = torch.tensor([[1, 2, 4], [5, 6, 7]])
    runs = []
    configs = [
        dict(num_beams=3, max_new_tokens=6, eos_token_id=3, length_penalty=1.0, early_stopping=False),
        dict(num_beams=3, max_new_tokens=6, eos_token_id=3, length_penalty=1.0, early_stopping=True),
        dict(num_beams=3, max_new_tokens=6, eos_token_id=3, length_penalty=2.0, early_stopping="never"),
        dict(num_beams=4, max_new_tokens=7, eos_token_id=[3, 8], length_penalty=-0.5, early_stopping=False,
             num_return_sequences=3),
        dict(num_beams=2, max_new_tokens=5, eos_token_id=3, length_penalty=0.0, early_stopping="never",
             num_return_sequences=2),
        dict(num_beams=3, max_new_tokens=8, eos_token_id=[3, 8, 11], length_penalty=1.0, early_stopping=False,
             num_return_sequences=3, pad_token_id=0),
        dict(num_beams=2, max_new_tokens=4, length_penalty=1.0, early_stopping=False, num_return_sequences=2),
    ]
    for cfg in configs:
        out = model.generate(prompts, attention_mask=torch.ones_like(prompts), do_sample=False, use_cache=False,
                             return_dict_in_generate=True, output_scores=True, **cfg)
        runs.append({"config": cfg, "sequences": out.sequences.tolist(),
                     "sequences_scores": floats(out.sequences_scores),
                     "beam_indices": out.beam_indices.tolist()})
    doc = {"transformers_version": transformers.__version__, "V": V, "prompt_len": P,
           "A": floats(A), "B": floats(B), "prompts": prompts.tolist(), "runs": runs}
    with open(os.path.join(FIX, "beam_goldens.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
