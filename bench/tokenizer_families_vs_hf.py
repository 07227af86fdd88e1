#!/usr/bin/env python3
"""Encode throughput per tokenizer family: jitgen vs HF `tokenizers` (Rust) on the same ~4 MB corpus.

  python3 bench/tokenizer_families_vs_hf.py [--bench build/bench/tokenizer_bench] [--rounds 2]

For each folder of tests/fixtures/tokenizers/ (made by scripts/make_tokenizer_fixtures.py; spm_llama and spm_t5,
tokenizer.model only, by scripts/make_spm_fixtures.py, whose HF side is the tokenizers pipeline transformers
converts them to): jitgen's BM_EncodeDocs (warm word cache, single thread, CPU-time rate) with
JITGEN_TOKENIZER_DIR=<folder>, and HF `Tokenizer.from_file(<folder>/tokenizer.json).encode_batch(docs,
add_special_tokens=False)` (TOKENIZERS_PARALLELISM=false, CPU seconds, best of --repeats, warm). The two
sides alternate per family and the whole table is repeated --rounds times (the machine is shared), the best
of each side is kept. The ids of every document are checked to be identical first.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES = ["llama2_legacy", "llama2", "llama3", "qwen2", "smollm", "t5", "spm_llama", "spm_t5"]


def best_of(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def ours(bench, folder):
    env = dict(os.environ, JITGEN_TOKENIZER_DIR=folder)
    res = subprocess.run([bench, "--benchmark_format=json", "--benchmark_filter=BM_EncodeDocs/|BM_EncodeDocs$"], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(res.stdout)["benchmarks"][0]["bytes_per_second"]


def hf_backend(folder):
    """tokenizer.json as HF tokenizers loads it; a SentencePiece-only folder (spm_*) as transformers converts it."""
    from tokenizers import Tokenizer
    if os.path.exists(os.path.join(folder, "tokenizer.json")):
        return Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(folder).backend_tokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "tokenizer_bench"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as td:
        corpus = os.path.join(td, "corpus.json")
        subprocess.run([a.bench], env=dict(os.environ, JITGEN_TOKENIZER_CORPUS_OUT=corpus), check=True)
        docs = json.load(open(corpus, encoding="utf-8"))
        nbytes = sum(len(d.encode("utf-8")) for d in docs)
        folders = {f: os.path.join(ROOT, "tests", "fixtures", "tokenizers", f) for f in FAMILIES}
        hf = {f: hf_backend(p) for f, p in folders.items()}
        for f, p in folders.items():  # identical ids first
            ids_path = os.path.join(td, f + ".ids.json")
            subprocess.run([a.bench], env=dict(os.environ, JITGEN_TOKENIZER_DIR=p, JITGEN_TOKENIZER_CORPUS_OUT=corpus,
                                               JITGEN_TOKENIZER_IDS_OUT=ids_path), check=True)
            mine = json.load(open(ids_path))
            theirs = [e.ids for e in hf[f].encode_batch(docs, add_special_tokens=False)]
            bad = sum(1 for x, y in zip(mine, theirs) if x != y)
            print(f"{f}: ids identical on {len(docs) - bad}/{len(docs)} documents")
            if bad:
                return 1
    best = {f: [0.0, 0.0] for f in FAMILIES}
    for r in range(a.rounds):
        for f in FAMILIES:
            best[f][0] = max(best[f][0], ours(a.bench, folders[f]))
            hf[f].encode_batch(docs[:50], add_special_tokens=False)
            s = best_of(lambda: hf[f].encode_batch(docs, add_special_tokens=False), a.repeats)
            best[f][1] = max(best[f][1], nbytes / s)
    mb = 1e6
    print(f"corpus: {len(docs)} documents, {nbytes / mb:.2f} MB; single thread, CPU time, best of {a.rounds} rounds")
    print(f"{'family':<14} {'jitgen MB/s':>12} {'HF MB/s':>10} {'ratio':>7}")
    for f in FAMILIES:
        o, h = best[f]
        print(f"{f:<14} {o / mb:>12.2f} {h / mb:>10.2f} {o / h:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
