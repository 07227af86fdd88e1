"""Shared by the peer runners: arguments, prompt files, timing, one JSON line out."""
import argparse
import json
import sys
import time


def parse_args(extra=None):
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="HF model folder (made by jitgen make-model)")
    p.add_argument("--prompts", required=True, help="one prompt per line: token ids separated by spaces")
    p.add_argument("--new", type=int, default=32, help="new tokens, forced (min = max)")
    p.add_argument("--repeats", type=int, default=2, help="steady-state calls after the first")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", default="bench/.work", help="where converted checkpoints are cached")
    for args, kw in extra or []:
        p.add_argument(*args, **kw)
    return p.parse_args()


def read_prompts(path):
    with open(path) as f:
        return [[int(t) for t in line.split()] for line in f if line.strip()]


def run_grid_point(system, args, prompts, call):
    """call() -> (generated ids [B][new], prefill_s or None). Times a first call and `repeats` more."""
    out = {"system": system, "batch": len(prompts), "prompt_len": len(prompts[0]), "new_tokens": args.new}
    t0 = time.perf_counter()
    tokens, _ = call()
    out["first_call_s"] = time.perf_counter() - t0
    calls, prefills = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        tokens, pre = call()
        calls.append(time.perf_counter() - t0)
        if pre is not None:
            prefills.append(pre)
    calls.sort()
    out["calls_s"] = calls
    out["steady_call_s"] = calls[len(calls) // 2]
    if prefills:
        prefills.sort()
        out["prefill_s"] = prefills[len(prefills) // 2]
    out["tokens"] = [list(map(int, r)) for r in tokens]
    return out


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def emit_table(text, out=None):
    """Prints a finished results table and, when `out` names a file, writes the same text there."""
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text)
