#!/usr/bin/env python3
# Achieved GFLOP/s of every run in a GPT-2 124M run_peers.py result (wall time), against an FMA peak (default 117,
# bench/fma_peak_bench on this Zen 4):  python3 gpt2_gflops.py peers.json [peak]
import json, sys
# GPT-2 124M FLOPs: matmuls 2*params per token; attention 4*C*ctx per layer per token; lm_head once per row at prefill.
L, C, I, V = 12, 768, 3072, 50257
mm_layers = L * (C * 3 * C + C * C + 2 * C * I)
def decode_flops(ctx): return 2 * (mm_layers + C * V) + L * 4 * C * ctx
def prefill_flops_tok(T): return 2 * mm_layers + L * 4 * C * (T + 1) / 2 + 2 * C * V / T
peak = float(sys.argv[2]) if len(sys.argv) > 2 else 117.0
d = json.load(open(sys.argv[1]))
for r in d["runs"]:
    B, T, n = r["batch"], r["prompt_len"], r["new_tokens"]
    dec = r.get("decode_tokens_per_s") or (B * (n - 1) / r["decode_s"] if r.get("decode_s") else None)
    pre = r.get("prefill_tokens_per_s") or (B * T / r["prefill_s"] if r.get("prefill_s") else None)
    ctx = T + n / 2
    dg = dec * decode_flops(ctx) / 1e9 if dec else float('nan')
    pg = pre * prefill_flops_tok(T) / 1e9 if pre else float('nan')
    print(f"{B:>3}x{T:<4} {r['system']:<22} decode {dec or 0:7.1f} tok/s {dg:6.1f} GFLOP/s ({100*dg/peak:4.1f}% peak) | "
          f"prefill {pre or 0:7.1f} tok/s {pg:6.1f} GFLOP/s ({100*pg/peak:4.1f}%)")
