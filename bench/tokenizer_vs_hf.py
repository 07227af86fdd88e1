#!/usr/bin/env python3
"""jitgen tokenizer vs HF `tokenizers` (Rust, fast) on the same ~4 MB corpus, single thread.

  python3 bench/tokenizer_vs_hf.py [--bench build/bench/tokenizer_bench]

The corpus is dumped by the C++ bench binary (JITGEN_TOKENIZER_CORPUS_OUT), so both sides tokenize the
same documents. HF is timed with TOKENIZERS_PARALLELISM=false, as `encode_batch` over all documents and
as one `encode` per document, best of --repeats, warm (the first pass fills its BPE cache, as ours).
Times are CPU seconds of this process (time.process_time) to match Google Benchmark's CPU-time rates,
which keeps the table meaningful on a shared machine. The ids are also checked to be identical.
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


def best_of(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "tokenizer_bench"))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    from tokenizers import Tokenizer
    from tokenizers.models import BPE
    from tokenizers import pre_tokenizers, decoders, AddedToken

    tok_dir = os.path.join(ROOT, "third_party", "gpt2-tokenizer")
    hf = Tokenizer(BPE.from_file(os.path.join(tok_dir, "vocab.json"), os.path.join(tok_dir, "merges.txt")))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    hf.add_special_tokens([AddedToken("<|endoftext|>", special=True)])

    with tempfile.TemporaryDirectory() as td:
        path = os.path.join(td, "corpus.json")
        ids_path = os.path.join(td, "ids.json")
        subprocess.run([args.bench], env={**os.environ, "JITGEN_TOKENIZER_CORPUS_OUT": path,
                                          "JITGEN_TOKENIZER_IDS_OUT": ids_path}, check=True)
        with open(path, encoding="utf-8") as f:
            docs = json.load(f)
        with open(ids_path, encoding="utf-8") as f:
            our_ids = json.load(f)
        nbytes = sum(len(d.encode("utf-8")) for d in docs)

        res = subprocess.run([args.bench, "--benchmark_format=json", "--benchmark_filter=BM_Encode|BM_Decode"],
                             check=True, capture_output=True, text=True)
        ours = {b["name"].split("/")[0]: b["bytes_per_second"] for b in json.loads(res.stdout)["benchmarks"]}

    hf.encode_batch(docs[:50])
    batch_s = best_of(lambda: hf.encode_batch(docs, add_special_tokens=False), args.repeats)
    single_s = best_of(lambda: [hf.encode(d, add_special_tokens=False) for d in docs], args.repeats)
    ids = [e.ids for e in hf.encode_batch(docs, add_special_tokens=False)]
    dec_s = best_of(lambda: hf.decode_batch(ids, skip_special_tokens=False), args.repeats)
    cold = Tokenizer.from_str(hf.to_str())
    t0 = time.process_time()
    cold.encode_batch(docs, add_special_tokens=False)
    cold_s = time.process_time() - t0
    ntok = sum(len(i) for i in ids)
    diff = sum(1 for a, b in zip(ids, our_ids) if a != b)
    print(f"ids identical to HF on {len(docs) - diff}/{len(docs)} documents")
    if diff:
        print("MISMATCH: jitgen and HF tokenizers disagree", file=sys.stderr)
        return 1

    mb = 1e6
    print(f"corpus: {len(docs)} documents, {nbytes / mb:.2f} MB, {ntok} tokens (single thread, CPU time)")
    rows = [
        ("encode, warm cache", ours["BM_EncodeDocs"], nbytes / single_s, "encode() per doc"),
        ("encode, warm cache", ours["BM_EncodeDocs"], nbytes / batch_s, "encode_batch(all)"),
        ("encode, cold cache", ours["BM_EncodeDocsColdCache"], nbytes / cold_s, "encode_batch, fresh tokenizer"),
        ("encode_batch + padding", ours["BM_EncodeBatchPadded"], nbytes / batch_s, "encode_batch(all)"),
        ("decode", ours["BM_Decode"], nbytes / dec_s, "decode_batch(all)"),
    ]
    print(f"{'case':<24} {'jitgen MB/s':>12} {'HF MB/s':>10} {'ratio':>7}  HF call")
    for name, a, b, how in rows:
        print(f"{name:<24} {a / mb:>12.1f} {b / mb:>10.1f} {a / b:>6.2f}x  {how}")


if __name__ == "__main__":
    sys.exit(main())
