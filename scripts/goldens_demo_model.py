#!/usr/bin/env python3
"""HF oracle for the built-in default model models/kjv-llama-5m (LlamaForCausalLM, fp32 compute on the committed
bf16 weights): tokenizer ids, logits at a few positions (one prompt and a left-padded batch), greedy tokens (single
prompts and a left-padded batch), beam search, and the held-out perplexity of two held-out chapters with the model
card's definition (scripts/train_demo_model.py held_out_perplexity).

Writes tests/fixtures/demo_model_goldens.json, which records the sha256 of the model.safetensors it was made from:
tests/demo_model_test.cc fails when the committed weights change and the goldens were not regenerated.

Also writes tests/fixtures/demo_model_sampling.json (tests/demo_sampling_test.cc): for each sampling config (HF
generate() kwargs) and prompt, the processed next-token distribution generate() samples from when do_sample=True,
softmax(scores[0]) with output_scores (HF's logits processors and warpers in HF's order), and for a few configs the
second step's distribution given the most probable first token (found by sampling HF with torch seeds 0, 1, ...
until that token comes first; the step-2 scores are then generate()'s own).

Usage: scripts/goldens_demo_model.py [--model models/kjv-llama-5m] [--out tests/fixtures/demo_model_goldens.json]
                                     [--sampling-out tests/fixtures/demo_model_sampling.json] [--only sampling]
       scripts/goldens_demo_model.py --write-held-out FILE.jsonl   # every held-out chapter, {"text": ...} per line
Needs: scripts/install-deps.sh --demo-model (Debian bible-kjv for the held-out chapters, and the PyPI oracle).
"""
import argparse
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_demo_model as tdm  # noqa: E402  (the card's text split and perplexity definition)

PROMPTS = [
    "In the beginning God",
    "And the LORD said unto Moses,",
    "Blessed are the",
    "Jesus wept.",
    "And it came to pass, when",
    "Thou shalt not",
    "For God so loved the world,",
    "The LORD is my shepherd;",
]
MAX_NEW = 40         # greedy
BEAMS, BEAM_RETURN, BEAM_NEW = 4, 2, 16
PPL_CHAPTERS = 2     # the first two held-out chapters (Genesis 20 and 40): a seconds-fast perplexity test
# Logit columns compared: a fixed spread over the vocabulary plus each position's 16 largest (the ones that decide
# tokens), so every op shows and the fixture stays small.
SPREAD = list(range(0, 8000, 41))
TOP = 16


def rounded(xs):
    return [float(f"{x:.7g}") for x in xs]


def columns(row):
    import torch
    top = torch.topk(row, TOP).indices.tolist()
    cols = sorted(set(SPREAD) | set(top))
    return {"cols": cols, "values": rounded(row[cols].tolist())}


def top_gap(scores):
    import torch
    top2 = torch.topk(scores, 2, dim=-1).values
    return float((top2[..., 0] - top2[..., 1]).min())


def left_pad(rows, pad):
    T = max(len(r) for r in rows)
    return ([[pad] * (T - len(r)) + r for r in rows], [[0] * (T - len(r)) + [1] * len(r) for r in rows])


def load(model_dir):
    import torch
    import transformers
    from transformers import AutoTokenizer, LlamaForCausalLM

    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    eos = model.config.eos_token_id
    with open(os.path.join(model_dir, "model.safetensors"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    doc = {"generator": "scripts/goldens_demo_model.py", "transformers": transformers.__version__,
           "torch": torch.__version__, "model_safetensors_sha256": sha, "eos_token_id": eos,
           "vocab_size": model.config.vocab_size}
    encoded = [tok(p)["input_ids"] for p in PROMPTS]  # <s> + ids (the tokenizer's own template)
    return tok, model, eos, doc, encoded


def write_json(doc, path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    os.replace(tmp, path)
    print(f"wrote {path} ({os.path.getsize(path) // 1024} KiB)", file=sys.stderr)


def make_sampling(model_dir):
    import torch
    _, model, eos, doc, encoded = load(model_dir)
    with torch.no_grad():
        doc.update(sampling(model, encoded, eos))
    return doc


def make(model_dir):
    import torch
    tok, model, eos, doc, encoded = load(model_dir)
    doc["tokenized"] = [{"text": p, "input_ids": ids} for p, ids in zip(PROMPTS, encoded)]

    with torch.no_grad():
        ids = encoded[4]
        out = model(torch.tensor([ids])).logits[0]
        doc["logits"] = {"input_ids": ids, "positions": [
            {"t": t, **columns(out[t])} for t in (0, len(ids) // 2, len(ids) - 1)]}
        batch, mask = left_pad(encoded[:4], eos)
        pos = (torch.tensor(mask).cumsum(-1) - 1).clamp(min=0)
        out = model(torch.tensor(batch), attention_mask=torch.tensor(mask), position_ids=pos).logits
        T = len(batch[0])
        doc["padded_logits"] = {"input_ids": batch, "attention_mask": mask, "positions": [
            {"b": b, "t": t, **columns(out[b, t])} for b in range(len(batch))
            for t in sorted({T - sum(mask[b]), T - 1})]}

        greedy, min_gap = [], float("inf")
        for ids in encoded:
            g = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                               max_new_tokens=MAX_NEW, do_sample=False, num_beams=1, pad_token_id=eos,
                               eos_token_id=eos, output_scores=True, return_dict_in_generate=True)
            min_gap = min(min_gap, min(top_gap(s) for s in g.scores))
            greedy.append({"input_ids": ids, "sequence": g.sequences[0].tolist(),
                           "text": tok.decode(g.sequences[0], skip_special_tokens=True)})
        doc["greedy"] = {"max_new_tokens": MAX_NEW, "runs": greedy, "min_top1_top2_gap": min_gap}
        batch, mask = left_pad(encoded[4:], eos)
        g = model.generate(torch.tensor(batch), attention_mask=torch.tensor(mask), max_new_tokens=MAX_NEW,
                           do_sample=False, num_beams=1, pad_token_id=eos, eos_token_id=eos)
        doc["greedy_batch"] = {"input_ids": batch, "attention_mask": mask, "sequences": g.tolist()}
        beams = []
        for ids in (encoded[1], encoded[6]):
            g = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                               max_new_tokens=BEAM_NEW, do_sample=False, num_beams=BEAMS,
                               num_return_sequences=BEAM_RETURN, pad_token_id=eos, eos_token_id=eos,
                               output_scores=True, return_dict_in_generate=True)
            beams.append({"input_ids": ids, "sequences": g.sequences.tolist(),
                          "sequences_scores": rounded(g.sequences_scores.tolist())})
        doc["beam"] = {"num_beams": BEAMS, "num_return_sequences": BEAM_RETURN, "max_new_tokens": BEAM_NEW,
                       "runs": beams}

    _, held = tdm.split(tdm.kjv_chapters())
    docs = held[:PPL_CHAPTERS]
    stream = tdm.encode_stream(tok, docs)
    ppl, n = tdm.held_out_perplexity(model, stream)
    doc["perplexity"] = {"documents": docs, "max_length": tdm.SEQ_LEN, "stream_ids": stream, "perplexity": ppl,
                         "predicted": n}
    return doc


# Sampling configs: HF generate() kwargs, applied on top of the model's generation_config.json as generate() does
# (so top_k=50 applies unless a config sets it). Each covers a warper or processor alone, then combinations; with
# the prompts (indices into PROMPTS) it runs on and whether the second step's distribution is recorded too.
# Full-support configs (top_k=0 without a filtering warper) run on one prompt: their records are the big ones.
P_BLESSED, P_MOSES, P_SHEPHERD = 2, 1, 7   # "Blessed are the", "And the LORD said unto Moses,", "The LORD is my shepherd;"
ALL = [P_BLESSED, P_MOSES, P_SHEPHERD]
SAMPLING_CONFIGS = [
    ({"do_sample": True, "top_k": 0}, [P_SHEPHERD], True),                     # plain softmax: full support
    ({"do_sample": True, "temperature": 0.7}, ALL, True),                       # + HF's default top_k=50
    ({"do_sample": True, "top_k": 10, "temperature": 1.3}, ALL, False),
    ({"do_sample": True, "top_k": 0, "top_p": 0.9}, ALL, False),
    ({"do_sample": True, "top_k": 0, "min_p": 0.05}, ALL, False),
    ({"do_sample": True, "top_k": 0, "typical_p": 0.8}, ALL, False),
    ({"do_sample": True, "repetition_penalty": 1.3}, ALL, False),
    ({"do_sample": True, "repetition_penalty": 1.2, "temperature": 0.8, "top_p": 0.95}, ALL, True),
    ({"do_sample": True, "temperature": 1.5, "top_k": 40, "top_p": 0.8, "min_p": 0.02}, ALL, True),
    ({"do_sample": True, "top_k": 0, "temperature": 0.6, "typical_p": 0.9, "repetition_penalty": 1.1}, ALL, False),
]
# Probabilities at or above this are listed; below it only their count (support_size) and total mass are kept.
# A test that requires jitgen's unlisted probabilities to be <= LISTED_FROM has then checked every entry within it.
LISTED_FROM = 1e-5


def distribution(scores):
    """softmax(scores) as generate() computes it before torch.multinomial, as a compact record."""
    import torch
    p = torch.softmax(scores.float(), dim=-1)
    support = (p > 0).nonzero().flatten().tolist()
    listed = (p >= LISTED_FROM).nonzero().flatten().tolist()
    rest = float(p[p < LISTED_FROM].double().sum())
    rec = {"support_size": len(support), "ids": listed, "probs": [float(f"{x:.6g}") for x in p[listed].tolist()],
           "unlisted_mass": float(f"{rest:.6g}")}
    if len(support) < p.numel():
        rec["support"] = support
    return rec


def sampling(model, encoded, eos):
    import torch
    cases = []
    for kwargs, prompts, second_step in SAMPLING_CONFIGS:
        for pi in prompts:
            ids = encoded[pi]
            args = dict(attention_mask=torch.ones(1, len(ids), dtype=torch.long), pad_token_id=eos,
                        eos_token_id=eos, output_scores=True, return_dict_in_generate=True, **kwargs)
            torch.manual_seed(0)
            g = model.generate(torch.tensor([ids]), max_new_tokens=1, **args)
            case = {"config": kwargs, "input_ids": ids, "step1": distribution(g.scores[0][0])}
            if second_step:
                p1 = torch.softmax(g.scores[0][0], dim=-1)
                p1[eos] = 0
                first = int(p1.argmax())
                for seed in range(1000):
                    torch.manual_seed(seed)
                    g2 = model.generate(torch.tensor([ids]), max_new_tokens=2, **args)
                    if int(g2.sequences[0, len(ids)]) == first:
                        case["step2"] = {"first_token": first, "torch_seed": seed, **distribution(g2.scores[1][0])}
                        break
                else:
                    sys.exit(f"no HF sample starts with token {first} for config {kwargs}")
            cases.append(case)
    return {"listed_from": LISTED_FROM, "cases": cases}


def write_held_out(path):
    _, held = tdm.split(tdm.kjv_chapters())
    with open(path, "w", encoding="utf-8") as f:
        for c in held:
            f.write(json.dumps({"text": c}) + "\n")
    print(f"wrote {len(held)} held-out chapters to {path}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/kjv-llama-5m")
    ap.add_argument("--out", default="tests/fixtures/demo_model_goldens.json")
    ap.add_argument("--sampling-out", default="tests/fixtures/demo_model_sampling.json")
    ap.add_argument("--only", choices=["sampling"], help="write only the sampling goldens")
    ap.add_argument("--write-held-out", metavar="FILE")
    a = ap.parse_args()
    if a.write_held_out:
        return write_held_out(a.write_held_out)
    sdoc = make_sampling(a.model)
    write_json(sdoc, a.sampling_out)
    if a.only == "sampling":
        return
    doc = make(a.model)
    write_json(doc, a.out)
    print(f"min top1-top2 logit gap along the greedy paths: {doc['greedy']['min_top1_top2_gap']:.4f}", file=sys.stderr)
    print(f"perplexity of {PPL_CHAPTERS} held-out chapters: {doc['perplexity']['perplexity']:.6f} over "
          f"{doc['perplexity']['predicted']} tokens", file=sys.stderr)
    for g in doc["greedy"]["runs"]:
        print(repr(g["text"]), file=sys.stderr)


if __name__ == "__main__":
    main()
