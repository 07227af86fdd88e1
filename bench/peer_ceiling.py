#!/usr/bin/env python3
"""Achieved GFLOP/s and weight GB/s of every run in a run_peers.py result, against the core's peaks (issue 16 §5).

    python3 bench/peer_ceiling.py PEERS_JSON CONFIG_JSON [--peak-f32 115] [--peak-16 230]

CONFIG_JSON: the Llama-family config.json the run used (bench/.work/<model>/config.json). For each run one markdown
row: decode GFLOP/s (FLOPs of the new - 1 decode steps over decode seconds), prefill GFLOP/s, decode weight GB/s (the
weights once per step), the share of the FMA peak of the run's precision, and for jitgen rows decode GFLOP/s by
process CPU time (on a loaded machine wall time includes waits for a core). FLOPs are counted from the shapes, the
same for every engine:
  - linear layers: 2 x (in x out) per token for q, k, v, o, gate, up, down in every layer; the lm_head (vocab x
    hidden) for every decode token and for one position per row of the prefill (both engines compute logits of the
    last prompt position only);
  - attention: 4 x heads x head_dim per (token, visible key) in every layer (q.k and p.v, causal).
Peaks: Zen 4, one core: ~115 GFLOP/s fp32 FMA (measured by the kernels helper: 12 independent FMA chains), ~230
bf16 through vdpbf16ps (twice the MACs per instruction); llama.cpp f16 on this CPU converts f16 weights and runs fp32
FMAs, so the f32 peak bounds it too. Single-core read bandwidth 29-39 GB/s (quiet machine, huge pages).
"""
import argparse
import json


def linear_params(c):
    C, I = c["hidden_size"], c["intermediate_size"]
    D = c.get("head_dim") or C // c["num_attention_heads"]
    Q, K = c["num_attention_heads"] * D, c.get("num_key_value_heads", c["num_attention_heads"]) * D
    per_layer = C * Q + 2 * C * K + Q * C + 3 * C * I
    return c["num_hidden_layers"] * per_layer, c["vocab_size"] * C


def attention_flops_per_key(c):
    C = c["hidden_size"]
    D = c.get("head_dim") or C // c["num_attention_heads"]
    return 4 * c["num_attention_heads"] * D * c["num_hidden_layers"]


def run_flops(c, batch, prompt, new):
    layers_p, head_p = linear_params(c)
    per_key = attention_flops_per_key(c)
    # Prefill: every prompt position through the layers, token t seeing keys 0..t; logits for the last position.
    prefill = batch * (prompt * 2 * layers_p + 2 * head_p + per_key * prompt * (prompt + 1) // 2)
    # Decode: new - 1 steps; step s feeds position prompt + s, which sees prompt + s + 1 keys.
    steps = new - 1
    decode = batch * sum(2 * (layers_p + head_p) + per_key * (prompt + s + 1) for s in range(steps))
    return prefill, decode, steps, layers_p + head_p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("peers_json")
    ap.add_argument("config_json")
    ap.add_argument("--peak-f32", type=float, default=115.0)
    ap.add_argument("--peak-16", type=float, default=230.0)
    args = ap.parse_args()
    d = json.load(open(args.peers_json))
    c = json.load(open(args.config_json))
    print("| batch x prompt | system | decode GFLOP/s | prefill GFLOP/s | decode weight GB/s | of the FMA peak (decode / "
          "prefill) | decode GFLOP/s by CPU time |")
    print("|---|---|---|---|---|---|---|")
    for r in d["runs"]:
        if "decode_tokens_per_s" not in r or not r.get("prefill_s"):
            continue
        b, p, n = r["batch"], r["prompt_len"], r["new_tokens"]
        prefill, decode, steps, params = run_flops(c, b, p, n)
        decode_s = b * steps / r["decode_tokens_per_s"]
        sysname = r["system"]
        two_byte = sysname.endswith("bf16") or sysname.endswith("f16")
        wbytes = params * (2 if two_byte else 4)
        dg, pg = decode / decode_s / 1e9, prefill / r["prefill_s"] / 1e9
        peak = args.peak_16 if sysname.endswith("bf16") else args.peak_f32
        # jitgen reports its process CPU seconds too: on a loaded machine wall time includes waits for a core.
        cpu = f"{decode / r['decode_cpu_s'] / 1e9:.1f}" if r.get("decode_cpu_s") else "-"
        print(f"| {b} x {p} | {sysname} | {dg:.1f} | {pg:.1f} | {wbytes * steps / decode_s / 1e9:.1f} | "
              f"{100 * dg / peak:.0f}% / {100 * pg / peak:.0f}% of {peak:.0f} | {cpu} |")


if __name__ == "__main__":
    main()
