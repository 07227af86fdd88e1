#!/usr/bin/env python3
"""HF oracle for the built-in default model models/kjv-llama-5m (LlamaForCausalLM, fp32 compute on the committed
bf16 weights): tokenizer ids, logits at a few positions (one prompt and a left-padded batch), greedy tokens (single
prompts and a left-padded batch), beam search, and the held-out perplexity of two held-out chapters with the model
card's definition (scripts/train_demo_model.py held_out_perplexity).

Writes tests/fixtures/demo_model_goldens.json, which records the sha256 of the model.safetensors it was made from:
tests/demo_model_test.cc fails when the committed weights change and the goldens were not regenerated.

Usage: scripts/goldens_demo_model.py [--model models/kjv-llama-5m] [--out tests/fixtures/demo_model_goldens.json]
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


def make(model_dir):
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
    ap.add_argument("--write-held-out", metavar="FILE")
    a = ap.parse_args()
    if a.write_held_out:
        return write_held_out(a.write_held_out)
    doc = make(a.model)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    os.replace(tmp, a.out)
    print(f"min top1-top2 logit gap along the greedy paths: {doc['greedy']['min_top1_top2_gap']:.4f}", file=sys.stderr)
    print(f"perplexity of {PPL_CHAPTERS} held-out chapters: {doc['perplexity']['perplexity']:.6f} over "
          f"{doc['perplexity']['predicted']} tokens", file=sys.stderr)
    for g in doc["greedy"]["runs"]:
        print(repr(g["text"]), file=sys.stderr)
    print(f"wrote {a.out} ({os.path.getsize(a.out) // 1024} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
