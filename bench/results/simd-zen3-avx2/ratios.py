#!/usr/bin/env python3
# Issue 15's ratios (jitgen / llama.cpp at equal precision: f32 vs f32, bf16 vs f16) from run_peers.py results:
#   python3 ratios.py [--llama-suffix S] run1/peers.json repeat/peers.json
# The llama.cpp rows are llama.cpp-f32<S> / llama.cpp-f16<S>: S = -t1 (default; the 1-thread rows) or '' (its default
# threads, as run5's 2-thread grid).
import argparse, json
ap = argparse.ArgumentParser()
ap.add_argument("--llama-suffix", default="-t1")
ap.add_argument("results", nargs="+")
args = ap.parse_args()
S = args.llama_suffix
pairs = [("fp32 vs f32", "jitgen-compiled-f32", "llama.cpp-f32" + S), ("bf16 vs f16", "jitgen-compiled-bf16", "llama.cpp-f16" + S)]
runs = [{(r["system"], r["batch"], r["prompt_len"]): r for r in json.load(open(p))["runs"]} for p in args.results]
print("| point | precision | decode tok/s jitgen / llama.cpp (per run) | decode ratio | prefill tok/s jitgen / llama.cpp | prefill ratio |")
print("|---|---|---|---|---|---|")
for B, T in sorted({(k[1], k[2]) for k in runs[0]}):
    for label, j, l in pairs:
        cells = [[], [], [], []]
        for run in runs:
            a, b = run.get((j, B, T)), run.get((l, B, T))
            if not a or not b:
                continue
            for i, key in ((0, "decode_tokens_per_s"), (2, "prefill_tokens_per_s")):
                cells[i].append(f"{a[key]:.1f} / {b[key]:.1f}")
                cells[i + 1].append(f"{a[key] / b[key]:.2f}x")
        print(f"| {B}x{T} | {label} | {'; '.join(cells[0])} | {'; '.join(cells[1])} | {'; '.join(cells[2])} | {'; '.join(cells[3])} |")
