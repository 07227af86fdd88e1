#!/usr/bin/env python3
"""HF oracle for generate(): token-exact decoding cases and processed sampling scores.

Writes tests/fixtures/generation_goldens.json. Models are random GPT-2 folders written by `jitgen make-model`
(deterministic), rebuilt by the C++ tests from the recorded arguments. Every case records the HF generate()
keyword arguments (HF names, also what jitgen's GenerationConfig reads), the inputs and HF's outputs:
  cases:    greedy / beam search / processors / eos lists / stop strings / left-padded batches:
            sequences (+ beam sequences_scores, + transition scores where output_scores is set)
  sampling: HF's sampled sequence and HF's processed (warped) scores at every step (output_scores=True), stored
            sparsely (finite entries only). The C++ test recomputes them on the same prefix.
EOS ids are picked from each prompt's own greedy path, so rows really finish at different steps.

Usage: scripts/goldens_generation.py [--jitgen build/jitgen] [--out tests/fixtures/generation_goldens.json]
       scripts/goldens_generation.py --live   # also run build/jitgen generate --json on a few cases and compare
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import torch
from transformers import AutoTokenizer, GPT2LMHeadModel

MODELS = {
    "small": ["--config", "tiny", "--n-layer", "2", "--n-head", "4", "--n-embd", "64",
              "--n-positions", "128", "--vocab-size", "1000", "--seed", "1"],
    "tiny": ["--config", "tiny", "--seed", "5", "--with-tokenizer"],
}


def r7(x):
    return float(f"{x:.7g}")


def load(jitgen, name, d):
    subprocess.run([jitgen, "make-model", "--out", d, *MODELS[name]], check=True, capture_output=True)
    model = GPT2LMHeadModel.from_pretrained(d, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(d) if name == "tiny" else None
    return model, tok


def left_pad(prompts, pad, multiple=0):
    T = max(len(p) for p in prompts)
    if multiple:
        T = (T + multiple - 1) // multiple * multiple
    ids = [[pad] * (T - len(p)) + p for p in prompts]
    mask = [[0] * (T - len(p)) + [1] * len(p) for p in prompts]
    return ids, mask


def hf_generate(model, ids, mask, kw, tok=None):
    extra = {"tokenizer": tok} if "stop_strings" in kw else {}
    with torch.no_grad():
        out = model.generate(torch.tensor(ids), attention_mask=torch.tensor(mask), return_dict_in_generate=True,
                             output_scores=True, **kw, **extra)
    return out


def greedy_path(model, prompt, n, pad):
    out = hf_generate(model, [prompt], [[1] * len(prompt)], {"max_new_tokens": n, "do_sample": False,
                                                             "eos_token_id": None, "pad_token_id": pad})
    seq = out.sequences[0, len(prompt):].tolist()
    ranks = [torch.argsort(s[0], descending=True)[:5].tolist() for s in out.scores]
    return seq, ranks


def make_case(model, name, mname, prompts, kw, tok=None, transition=False, multiple=0):
    pad = kw.get("pad_token_id", 0)
    ids, mask = left_pad(prompts, pad, multiple)
    out = hf_generate(model, ids, mask, kw, tok)
    case = {"name": name, "model": mname, "config": kw, "input_ids": ids, "attention_mask": mask,
            "sequences": out.sequences.tolist()}
    if kw.get("num_beams", 1) > 1:
        case["sequences_scores"] = [r7(x) for x in out.sequences_scores.tolist()]
    if transition:
        bi = out.beam_indices if kw.get("num_beams", 1) > 1 else None
        ts = model.compute_transition_scores(out.sequences, out.scores, bi, normalize_logits=False)
        case["transition_scores"] = [[r7(x) if x != float("-inf") else None for x in row] for row in ts.tolist()]
    # Smallest top1-top2 gap of the processed scores along the path: how close HF came to a tie.
    gaps = [float((lambda t: t[:, 0] - t[:, 1])(torch.topk(s.float(), 2, dim=-1).values).min()) for s in out.scores]
    case["min_gap"] = r7(min(gaps))
    return case


def small_cases(model, rng):
    V, pad = model.config.vocab_size, 0
    cases = []
    prompts = [[rng.randrange(V) for _ in range(n)] for n in (3, 7, 12, 1, 5, 9)]
    base = {"do_sample": False, "pad_token_id": pad}
    paths = [greedy_path(model, p, 24, pad) for p in prompts]

    def eos_for(i, picks=((1, 1), (4, 2))):  # (step, rank) along prompt i's greedy path
        return [paths[i][1][s][r] for s, r in picks]

    # Greedy with eos lists (each prompt alone and as one left-padded batch).
    for i, p in enumerate(prompts):
        kw = dict(base, max_new_tokens=16, eos_token_id=[paths[i][0][5], paths[i][0][9]])
        cases.append(make_case(model, f"greedy_eos_list_p{i}", "small", [p], kw, transition=(i == 0)))
    kw = dict(base, max_new_tokens=16, eos_token_id=[paths[0][0][5], paths[2][0][3], paths[4][0][7]])
    cases.append(make_case(model, "greedy_batch_mixed_lengths", "small", prompts[:5], kw, transition=True))
    for i in range(5):
        cases.append(make_case(model, f"greedy_batch_member_p{i}", "small", [prompts[i]], kw))
    cases.append(make_case(model, "greedy_pad_to_multiple", "small", prompts[:3],
                           dict(base, max_new_tokens=10, eos_token_id=[999]), multiple=8))

    # Processors.
    for pen in (1.5, 0.7):
        kw = dict(base, max_new_tokens=20, repetition_penalty=pen, eos_token_id=[999])
        cases.append(make_case(model, f"repetition_penalty_{pen}_batch", "small", prompts[:4], kw))
    for n in (2, 3):
        kw = dict(base, max_new_tokens=24, no_repeat_ngram_size=n, eos_token_id=[999])
        cases.append(make_case(model, f"no_repeat_ngram_{n}_batch", "small", prompts[1:5], kw))
    first = paths[0][0][0]
    kw = dict(base, max_new_tokens=12, eos_token_id=[first], min_new_tokens=4)
    cases.append(make_case(model, "min_new_tokens_4", "small", [prompts[0]], kw))
    kw = dict(base, max_new_tokens=12, eos_token_id=[first])
    cases.append(make_case(model, "eos_first_token", "small", [prompts[0]], kw))
    kw = dict(base, max_new_tokens=12, eos_token_id=[999], min_length=8)
    cases.append(make_case(model, "min_length_8", "small", [prompts[1]], kw))
    g = paths[1][0]
    kw = dict(base, max_new_tokens=16, eos_token_id=[999], bad_words_ids=[[g[0]], [g[2], g[3]], [g[6], g[7], g[8]]])
    cases.append(make_case(model, "bad_words", "small", [prompts[1]], kw))
    kw = dict(base, max_new_tokens=16, eos_token_id=[999], bad_words_ids=[[g[0]], [g[2], g[3]]],
              repetition_penalty=1.2, no_repeat_ngram_size=2, min_new_tokens=3)
    cases.append(make_case(model, "all_processors_batch", "small", prompts[:3], kw))

    # Beam search: num_beams 2-8, length_penalty < 0, 0, > 0, every early_stopping value, num_return_sequences.
    combos = [(2, 1.0, True, 1), (2, -1.5, False, 2), (3, 0.0, "never", 3), (4, 2.0, True, 2),
              (4, -1.5, "never", 4), (4, 0.0, False, 1), (5, 1.0, "never", 2), (6, 2.0, False, 3),
              (8, 1.0, True, 8), (8, -1.5, False, 4), (8, 0.0, "never", 2), (3, 2.0, "never", 1)]
    for k, (nb, lp, es, nrs) in enumerate(combos):
        i = k % len(prompts)
        kw = dict(base, max_new_tokens=10, num_beams=nb, length_penalty=lp, early_stopping=es,
                  num_return_sequences=nrs, eos_token_id=eos_for(i))
        cases.append(make_case(model, f"beam_nb{nb}_lp{lp}_es{es}_nrs{nrs}", "small", [prompts[i]], kw,
                               transition=(k < 3)))
    kw = dict(base, max_new_tokens=10, num_beams=4, length_penalty=1.0, early_stopping=False,
              num_return_sequences=2, eos_token_id=eos_for(0) + eos_for(2))
    cases.append(make_case(model, "beam_batch_mixed_lengths", "small", [prompts[0], prompts[2], prompts[3]], kw))
    kw = dict(base, max_new_tokens=10, num_beams=3, eos_token_id=eos_for(1), repetition_penalty=1.3,
              no_repeat_ngram_size=2)
    cases.append(make_case(model, "beam_with_processors", "small", [prompts[1]], kw))
    cases += option_cases(model, prompts, paths, eos_for)
    return cases, prompts


def option_cases(model, prompts, paths, eos_for):
    """The generation_config.json processors beyond the classic ones, greedy and beam, left-padded batches."""
    base = {"do_sample": False, "pad_token_id": 0}
    cases = []
    g0, g1 = paths[0][0], paths[1][0]
    batch = prompts[:4]  # lengths 3, 7, 12, 1: left padding up to 12
    opts = [
        ("sequence_bias", dict(sequence_bias=[[[g0[0]], -30.0], [[g1[2], g1[3]], -30.0], [[g0[4]], 2.5],
                                              [[g1[5], g1[6], g1[7]], 8.0]])),
        ("suppress_tokens", dict(suppress_tokens=[g0[0], g0[1], g1[0], paths[2][0][0], paths[3][0][0], 5000])),
        ("begin_suppress_tokens", dict(begin_suppress_tokens=[paths[i][0][0] for i in range(4)])),
        ("forced_eos_token_id", dict(forced_eos_token_id=[g0[3], 7], max_new_tokens=6)),
        ("exponential_decay", dict(exponential_decay_length_penalty=[2, 1.6], eos_token_id=eos_for(0) + eos_for(1))),
        ("encoder_repetition_penalty_1.6", dict(encoder_repetition_penalty=1.6)),
        ("encoder_repetition_penalty_0.5", dict(encoder_repetition_penalty=0.5, repetition_penalty=1.2)),
        ("remove_invalid_values", dict(remove_invalid_values=True, bad_words_ids=[[g0[0]], [g1[1]]], min_new_tokens=3,
                                       eos_token_id=[g0[2], g1[4]])),
        ("renormalize_logits", dict(renormalize_logits=True, bad_words_ids=[[g0[0]]], suppress_tokens=[g1[0]])),
    ]
    for name, kw in opts:
        kw = dict(base, **{"max_new_tokens": 12, "eos_token_id": [999], **kw})
        cases.append(make_case(model, f"opt_{name}_batch", "small", batch, kw, transition=True))
    # a one-token prompt: forced_bos_token_id takes the first step, begin_suppress_tokens the second (HF begin_index)
    kw = dict(base, max_new_tokens=8, eos_token_id=[999], forced_bos_token_id=17,
              begin_suppress_tokens=[paths[3][0][0], paths[3][0][1]])
    cases.append(make_case(model, "opt_forced_bos_begin_suppress", "small", [prompts[3]], kw, transition=True))
    kw = dict(base, max_new_tokens=8, eos_token_id=[999], forced_bos_token_id=17)
    cases.append(make_case(model, "opt_forced_bos_longer_prompt_batch", "small", batch, kw))
    # beam search: processors on log-probs, renormalize_logits changes the beam scores, expanded rows
    beams = [
        ("renormalize", dict(renormalize_logits=True, bad_words_ids=[[g0[0]]], suppress_tokens=[g1[0]])),
        ("all_options", dict(sequence_bias=[[[g0[0]], -5.0], [[g1[2], g1[3]], 3.0]], suppress_tokens=[g1[1]],
                             begin_suppress_tokens=[g0[0]], encoder_repetition_penalty=1.3,
                             exponential_decay_length_penalty=[1, 1.3], renormalize_logits=True,
                             remove_invalid_values=True, forced_eos_token_id=eos_for(0)[:1])),
        ("encoder_repetition_penalty", dict(encoder_repetition_penalty=0.7)),
    ]
    for name, kw in beams:
        kw = dict(base, **{"max_new_tokens": 8, "num_beams": 3, "num_return_sequences": 2, "length_penalty": 1.0,
                           "early_stopping": False, "eos_token_id": eos_for(0) + eos_for(2), **kw})
        cases.append(make_case(model, f"opt_beam_{name}", "small", [prompts[0], prompts[2]], kw, transition=True))
    return cases


def tiny_cases(model, tok):
    cases = []
    eos = model.config.eos_token_id
    texts = ["Hello, my name is", "The quick brown fox", "In 1999,"]
    base = {"do_sample": False, "pad_token_id": eos, "eos_token_id": [eos]}
    for i, t in enumerate(texts):
        p = tok(t).input_ids
        seq, _ = greedy_path(model, p, 20, eos)
        pieces = [tok.decode([x]) for x in seq]
        # A stop string starting inside token 4 and ending inside token 6 (straddles two boundaries).
        a, b = pieces[4], pieces[6]
        stop = a[len(a) // 2:] + pieces[5] + b[:max(1, len(b) // 2)]
        kw = dict(base, max_new_tokens=20, stop_strings=[stop, "zzzzqqq"])
        c = make_case(model, f"stop_string_p{i}", "tiny", [p], kw, tok)
        assert len(c["sequences"][0]) == len(p) + 7, (t, stop)  # stopped on the token that ends the string
        cases.append(c)
    ps = [tok(t).input_ids for t in texts]
    kw = dict(base, max_new_tokens=12, stop_strings=[" the", "."])
    cases.append(make_case(model, "stop_strings_batch", "tiny", ps, kw, tok))
    kw = dict(base, max_new_tokens=8, num_beams=3, num_return_sequences=2, early_stopping=True)
    cases.append(make_case(model, "beam_tiny", "tiny", ps[:2], kw))
    kw = dict(base, max_new_tokens=10, num_beams=3, num_return_sequences=2, stop_strings=[" the", ",", "."])
    cases.append(make_case(model, "beam_stop_strings_tiny", "tiny", ps, kw, tok))
    return cases


SAMPLING = [
    {"temperature": 0.7},
    {"top_k": 10},
    {"top_k": 0, "top_p": 0.9},
    {"top_k": 0, "min_p": 0.05},
    {"top_k": 0, "typical_p": 0.9},
    {"temperature": 1.3, "top_k": 20, "top_p": 0.8},
    {"temperature": 0.8, "top_k": 30, "repetition_penalty": 1.3, "no_repeat_ngram_size": 2},
    {"temperature": 0.9, "top_k": 0, "top_p": 0.95, "min_p": 0.02, "typical_p": 0.95},
    # the warpers HF adds beyond the classic ones (appended: the cases above keep their seeds)
    {"top_k": 0, "epsilon_cutoff": 0.003},
    {"top_k": 0, "eta_cutoff": 0.003},
    {"top_k": 0, "top_h": 0.6},
    {"temperature": 0.8, "top_k": 40, "top_h": 0.9, "epsilon_cutoff": 0.001, "eta_cutoff": 0.0005,
     "renormalize_logits": True},
    {"top_k": 20, "top_p": 0.9, "sequence_bias": [[[5], 2.0]], "suppress_tokens": [7, 8],
     "encoder_repetition_penalty": 1.4, "remove_invalid_values": True},
]


def sampling_cases(model, prompts):
    out = []
    for k, w in enumerate(SAMPLING):
        torch.manual_seed(100 + k)
        p = prompts[k % len(prompts)]
        kw = dict(w, do_sample=True, max_new_tokens=6, pad_token_id=0, eos_token_id=[999])
        o = hf_generate(model, [p], [[1] * len(p)], kw)
        steps = []
        for s in o.scores:
            row = s[0]
            idx = torch.nonzero(torch.isfinite(row)).flatten().tolist()
            steps.append({"idx": idx, "val": [r7(row[i].item()) for i in idx]})
        out.append({"name": f"sampling_{k}", "model": "small", "config": kw, "input_ids": [p],
                    "sequence": o.sequences[0].tolist(), "steps": steps})
    return out


def live_check(jitgen, d, tok, cases):
    """Runs `jitgen generate --json` on every tiny-model case and compares its ids with HF's."""
    flags = {"max_new_tokens": "--max-new-tokens", "num_beams": "--num-beams", "early_stopping": "--early-stopping",
             "num_return_sequences": "--num-return-sequences", "pad_token_id": "--pad-token-id",
             "eos_token_id": "--eos-token-id", "length_penalty": "--length-penalty"}
    equal = 0
    for c in cases:
        if c["model"] != "tiny":
            continue
        cmd = [jitgen, "generate", "--model", d, "--json"]
        for k, v in c["config"].items():
            if k == "stop_strings":
                for x in v:
                    cmd += ["--stop", x]
            elif k in flags:
                v = ",".join(map(str, v)) if isinstance(v, list) else str(v).lower() if isinstance(v, bool) else str(v)
                cmd += [flags[k], v]
        prompts = [tok.decode([t for t, m in zip(ids, mask) if m]) for ids, mask in zip(c["input_ids"], c["attention_mask"])]
        out = json.loads(subprocess.run(cmd + prompts, check=True, capture_output=True, text=True).stdout)
        T = len(c["input_ids"][0])
        want = [row[T:] for row in c["sequences"]]
        got = [s["ids"] for s in out["sequences"]]
        ok = got == want
        equal += ok
        print(f"live {c['name']}: {'equal' if ok else 'DIFFERENT'}", file=sys.stderr)
    return equal


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jitgen", default="build/jitgen")
    ap.add_argument("--out", default="tests/fixtures/generation_goldens.json")
    ap.add_argument("--live", action="store_true", help="also compare build/jitgen generate --json with HF")
    a = ap.parse_args()
    torch.set_num_threads(2)
    rng = random.Random(4242)
    import transformers
    with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
        small, _ = load(a.jitgen, "small", d1)
        cases, prompts = small_cases(small, rng)
        sampling = sampling_cases(small, prompts)
        tiny, tok = load(a.jitgen, "tiny", d2)
        cases += tiny_cases(tiny, tok)
        if a.live:
            live_check(a.jitgen, d2, tok, cases)
    doc = {"generator": "scripts/goldens_generation.py", "transformers": transformers.__version__,
           "torch": torch.__version__, "models": MODELS, "cases": cases, "sampling": sampling}
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    os.replace(tmp, a.out)
    for c in cases:
        print(f"{c['name']}: min top1-top2 gap {c['min_gap']:.5f}", file=sys.stderr)
    print(f"wrote {a.out}: {len(cases)} token cases, {len(sampling)} sampling cases "
          f"({os.path.getsize(a.out) // 1024} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
