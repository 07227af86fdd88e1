"""Shared by the HF-oracle golden scripts (goldens_model.py, goldens_families.py): building a random folder with
`jitgen make-model`, left-padded batches, rounding, the top-1 / top-2 gap report and writing a fixture atomically,
plus the whole case (logits, padded logits, greedy, padded greedy batch, beam) every model family records."""
import json
import os
import subprocess
import sys
import tempfile

import torch


def rounded(xs):
    return [float(f"{x:.7g}") for x in xs]


def top_gap(logits):
    top2 = torch.topk(logits, 2, dim=-1).values
    return float((top2[..., 0] - top2[..., 1]).min())


def make_model(jitgen, args, out):
    subprocess.run([jitgen, "make-model", "--out", out, *args], check=True, capture_output=True)


def left_padded(prompts, pad):
    """ids and attention_mask of a left-padded batch, as a tokenizer with padding_side="left" makes it."""
    T = max(len(p) for p in prompts)
    return ([[pad] * (T - len(p)) + p for p in prompts], [[0] * (T - len(p)) + [1] * len(p) for p in prompts])


def write_goldens(path, generator, cases, **extra):
    import transformers
    doc = {"generator": generator, "transformers": transformers.__version__, "torch": torch.__version__, **extra,
           "cases": cases}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    os.replace(tmp, path)
    for c in cases:
        print(f"{c['name']}: min top1-top2 logit gap along greedy paths = {c['greedy_min_top1_top2_gap']:.4f}",
              file=sys.stderr)
    print(f"wrote {path} ({os.path.getsize(path) // 1024} KiB)", file=sys.stderr)


def family_case(name, family, cls, args, jitgen, rng, *, cols, max_new, n_greedy, n_beam, beam_new,
                max_prompt=24, explicit_positions=True):
    """One model family case: HF logits at every position (single prompts and a left-padded batch, real positions
    only), greedy tokens, a left-padded greedy batch and beam search of the folder `make-model --family F args`.
    explicit_positions: the padded forward passes position_ids = cumsum(mask) - 1 (what generate passes; rotary
    families need it); False lets the model derive them from the attention mask itself (OPT does, HF's way)."""
    from transformers import AutoModelForCausalLM
    d = tempfile.mkdtemp()
    make_model(jitgen, ["--family", family, *args], d)

    def fresh():
        # A new model per call: dynamic RoPE keeps state across forwards (max_seq_len_cached) inside HF.
        m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
        assert type(m).__name__ == cls, type(m).__name__
        return m

    c = fresh().config
    V, eos = c.vocab_size, c.eos_token_id
    case = {"name": name, "family": family, "make_model_args": ["--family", family, *args], "vocab_size": V,
            "eos_token_id": eos, "logit_cols": cols, "max_new_tokens": max_new}
    prompts = [[rng.randrange(3, V) for _ in range(n)] for n in (1, 5, 11)]
    case["logits"] = []
    with torch.no_grad():
        for p in prompts:
            out = fresh()(torch.tensor([p])).logits[0]
            case["logits"].append({"input_ids": p, "logits": [rounded(row[:cols].tolist()) for row in out]})
        ids, mask = left_padded(prompts, eos)
        kw = {"position_ids": (torch.tensor(mask).cumsum(-1) - 1).clamp(min=0)} if explicit_positions else {}
        out = fresh()(torch.tensor(ids), attention_mask=torch.tensor(mask), **kw).logits
        # Every real position of the padded batch (pads' rows are unspecified).
        case["padded_logits"] = {"input_ids": ids, "attention_mask": mask,
                                 "logits": [[rounded(out[b, t, :cols].tolist()) if mask[b][t] else []
                                             for t in range(len(ids[b]))] for b in range(len(ids))]}
    greedy, min_gap = [], float("inf")
    with torch.no_grad():
        for _ in range(n_greedy):
            p = [rng.randrange(3, V) for _ in range(rng.randint(1, max_prompt))]
            out = fresh().generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long),
                                   max_new_tokens=max_new, do_sample=False, num_beams=1, pad_token_id=eos,
                                   eos_token_id=eos, output_scores=True, return_dict_in_generate=True)
            min_gap = min(min_gap, min(top_gap(s) for s in out.scores))
            greedy.append({"input_ids": p, "sequence": out.sequences[0].tolist()})
        ids, mask = left_padded([g["input_ids"] for g in greedy[:4]], eos)
        out = fresh().generate(torch.tensor(ids), attention_mask=torch.tensor(mask), max_new_tokens=max_new,
                               do_sample=False, num_beams=1, pad_token_id=eos, eos_token_id=eos)
        case["greedy_batch"] = {"input_ids": ids, "attention_mask": mask, "sequences": out.tolist()}
        beams = []
        for p in [g["input_ids"] for g in greedy[4:6]]:
            out = fresh().generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long),
                                   max_new_tokens=beam_new, do_sample=False, num_beams=n_beam,
                                   num_return_sequences=n_beam, pad_token_id=eos, eos_token_id=eos)
            beams.append({"input_ids": p, "sequences": out.tolist()})
        case["beam"] = {"num_beams": n_beam, "max_new_tokens": beam_new, "runs": beams}
    case["greedy"] = greedy
    case["greedy_min_top1_top2_gap"] = min_gap
    return case
