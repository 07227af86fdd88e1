"""HF transformers PyTorch generate() on a GPU, the peer of `jitgen bench --device cuda`: eager (dynamic cache) or
static cache + torch.compile (--compile). Runs a grid of points in one process (one model load, one compile
per shape) and prints one JSON line per point, like the CPU peers (bench/peers/common.py).

    python3 bench/peers/hf_torch_cuda.py --model DIR --dtype f16 --points 1x20,8x20 [--compile]
"""
import argparse
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM

DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def prompts(B, T, V):
    # The same ids as jitgen's cmd_bench_cuda.cc (peer_prompts) and bench/run_peers.py.
    return [[((b * 7919 + t * 104729 + 12345) % 50000 + 100) % V for t in range(T)] for b in range(B)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--dtype", default="f32", choices=list(DTYPES))
    ap.add_argument("--points", default="1x20", help="BxN,... (batch x new tokens)")
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="static cache + torch.compile(mode=reduce-overhead)")
    ap.add_argument("--deadline", type=float, default=0, help="unix time after which remaining points are skipped")
    args = ap.parse_args()
    system = "hf-torch-compile-static" if args.compile else "hf-torch-eager"
    dev = torch.device("cuda")
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=DTYPES[args.dtype]).to(dev).eval()
    load_s = time.perf_counter() - t0
    if args.compile:
        model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
    V = model.config.vocab_size
    for point in args.points.split(","):
        B, N = map(int, point.split("x"))
        out = {"system": system, "dtype": args.dtype, "batch": B, "prompt_len": args.prompt_len, "new_tokens": N,
               "device": torch.cuda.get_device_name(), "load_s": load_s}
        if args.deadline and time.time() > args.deadline:
            out["error"] = "skipped: device-check time budget spent"
            print(json.dumps(out), flush=True)
            continue
        ids = torch.tensor(prompts(B, args.prompt_len, V), dtype=torch.long, device=dev)
        kw = dict(attention_mask=torch.ones_like(ids), max_new_tokens=N, min_new_tokens=N, do_sample=False,
                  pad_token_id=model.config.eos_token_id)
        if args.compile:
            kw["cache_implementation"] = "static"

        def call():
            torch.cuda.synchronize()
            t = time.perf_counter()
            with torch.inference_mode():
                seq = model.generate(ids, **kw)
            torch.cuda.synchronize()
            return time.perf_counter() - t, seq[:, args.prompt_len:].tolist()

        try:
            out["first_call_ms"], _ = call()
            out["first_call_ms"] *= 1e3
            calls = []
            for _ in range(args.repeats):
                s, tokens = call()
                calls.append(s * 1e3)
            out["steady_ms"] = min(calls)
            out["calls_ms"] = calls
            out["tokens_per_s"] = B * N * 1e3 / out["steady_ms"]
            out["tokens"] = tokens
        except Exception as e:  # a peer that fails at one shape still reports the others
            out["error"] = f"{type(e).__name__}: {str(e)[:300]}"
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
