#!/usr/bin/env python3
# Achieved GFLOP/s and weight GB/s of every run in a GPT-2 124M run_peers.py result, against the core's FMA peak
# (bench/fma_peak_bench; 96-100 GFLOP/s on this Zen 3):  python3 gpt2_gflops.py peers.json [peak]
# Wall-time rates for every system; for jitgen rows also process-CPU-time rates (decode_cpu_s, call_cpu_s): at load
# 15 on 2 cores a process waits for a core about half its wall time, and only jitgen reports its CPU time.
# FLOPs as avx2-proxy-zen4/chunked-bf16/gpt2_gflops.py: matmuls 2 x params per token, attention 4 C ctx per layer per
# token, lm_head once per row at prefill. Weight bytes a decode step: 497 MB fp32, 250 MB bf16 / f16.
import json, sys
L, C, I, V = 12, 768, 3072, 50257
mm_layers = L * (C * 3 * C + C * C + 2 * C * I)
def decode_flops(ctx): return 2 * (mm_layers + C * V) + L * 4 * C * ctx
def prefill_flops_tok(T): return 2 * mm_layers + L * 4 * C * (T + 1) / 2 + 2 * C * V / T
peak = float(sys.argv[2]) if len(sys.argv) > 2 else 98.0
d = json.load(open(sys.argv[1]))
for r in d["runs"]:
    B, T, n = r["batch"], r["prompt_len"], r["new_tokens"]
    dec, pre = r.get("decode_tokens_per_s"), r.get("prefill_tokens_per_s")
    ctx = T + n / 2
    wb = 250e6 if ("bf16" in r["system"] or "f16" in r["system"]) else 497e6
    line = (f"{B:>3}x{T:<4} {r['system']:<21} decode {dec:6.1f} tok/s {dec * decode_flops(ctx) / 1e9:5.1f} GFLOP/s "
            f"({100 * dec * decode_flops(ctx) / 1e9 / peak:4.1f}%) {dec / B * wb / 1e9:5.1f} GB/s | prefill {pre:6.1f} "
            f"tok/s {pre * prefill_flops_tok(T) / 1e9:5.1f} GFLOP/s")
    if r.get("decode_cpu_s"):
        dc = B * (n - 1) / r["decode_cpu_s"]
        pc = B * T / (r["call_cpu_s"] - r["decode_cpu_s"])
        line += (f" || CPU time: decode {dc:6.1f} tok/s {dc * decode_flops(ctx) / 1e9:5.1f} GFLOP/s "
                 f"({100 * dc * decode_flops(ctx) / 1e9 / peak:4.1f}%) {dc / B * wb / 1e9:5.1f} GB/s, prefill {pc:6.1f} tok/s "
                 f"{pc * prefill_flops_tok(T) / 1e9:5.1f} GFLOP/s ({100 * pc * prefill_flops_tok(T) / 1e9 / peak:4.1f}%)")
    print(line)
