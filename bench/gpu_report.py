#!/usr/bin/env python3
"""Merges `jitgen bench --device cuda --json` and the HF GPU peer lines (bench/peers/hf_torch_cuda.py) into one
JSON and a markdown table with the issue's targets (scripts/device-check.sh calls it).

    python3 bench/gpu_report.py OUTDIR   # reads OUTDIR/jitgen_cuda.json and OUTDIR/hf_*.jsonl
"""
import glob
import json
import os
import sys


def load(out):
    jit = json.load(open(os.path.join(out, "jitgen_cuda.json")))
    rows = []
    for r in jit["results"]:
        r = dict(r, system="jitgen-" + r["mode"])
        n = r["new_tokens"]
        dec = r.get("decode_ms")
        r["decode_tokens_per_s"] = r["batch"] * (n - 1) * 1e3 / dec if n > 1 and dec else None
        rows.append(r)
    for path in sorted(glob.glob(os.path.join(out, "hf_*.jsonl"))):
        model = os.path.basename(path)[3:].split("_")[0]
        for line in open(path):
            if line.startswith("{"):
                rows.append(dict(json.loads(line), model=model))
    return jit, rows


def main():
    out = sys.argv[1]
    jit, rows = load(out)
    by = {(r["model"], r["dtype"], r["batch"], r["new_tokens"], r["system"]): r for r in rows}
    lines = [f"# jitgen on {jit['device']}", "",
             f"Greedy, forced length, prompt {jit['prompt_len']} tokens, random GPT-2 weights (the same for every "
             f"system), best of {jit['reps']} calls after a first (compile/capture) call. jitgen calls reuse a pooled "
             f"runner (KV cache, plans, captured graphs), as generate() does. HBM copy bandwidth "
             f"{jit['hbm_copy_gbps']:.0f} GB/s.", "",
             "| model | dtype | batch | new | system | first ms | steady ms | tokens/s | decode tok/s | same tokens |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda v, p=2: "" if v is None else f"{v:.{p}f}"
    for r in sorted(rows, key=lambda r: (r["model"], r["dtype"], r["batch"], r["new_tokens"], r["system"])):
        if "error" in r:
            lines.append(f"| {r['model']} | {r['dtype']} | {r['batch']} | {r['new_tokens']} | {r['system']} | "
                         f"{r['error']} | | | | |")
            continue
        ref = by.get((r["model"], r["dtype"], r["batch"], r["new_tokens"], "jitgen-cuda-eager"))
        same = ""
        if ref and "tokens" in r and "tokens" in ref:
            same = f"{sum(a == b for a, b in zip(r['tokens'], ref['tokens']))}/{len(r['tokens'])}"
        lines.append(f"| {r['model']} | {r['dtype']} | {r['batch']} | {r['new_tokens']} | {r['system']} | "
                     f"{fmt(r.get('first_call_ms'))} | {fmt(r.get('steady_ms'), 3)} | {fmt(r.get('tokens_per_s'), 0)} | "
                     f"{fmt(r.get('decode_tokens_per_s'), 0)} | {same} |")

    targets = ["", "## Targets (issue 7)", ""]
    def steady(model, dtype, b, n, system):
        r = by.get((model, dtype, b, n, system))
        return r.get("steady_ms") if r and "error" not in r else None
    t = steady("gpt2", "f16", 1, 20, "jitgen-cuda-graph-loop") or steady("gpt2", "f32", 1, 20, "jitgen-cuda-graph-loop")
    targets.append(f"- GPT-2 124M greedy, 20 new tokens, batch 1, end to end <= 3 ms: {fmt(t, 3)} ms")
    for dtype in ("f32", "f16"):
        for b in (1, 8, 32):
            g = steady("gpt2", dtype, b, 20, "jitgen-cuda-graph-loop")
            e = steady("gpt2", dtype, b, 20, "jitgen-cuda-eager")
            hc = steady("gpt2", dtype, b, 20, "hf-torch-compile-static")
            he = steady("gpt2", dtype, b, 20, "hf-torch-eager")
            ratio = lambda a, c: f"{c / a:.2f}x" if a and c else "n/a"
            targets.append(f"- gpt2 {dtype} b{b} n20: graph loop vs our eager {ratio(g, e)} (target >= 3x at b1); "
                           f"vs HF static+compile {ratio(g, hc)} (target >= 2x); vs HF eager {ratio(g, he)}")
    first = [r["first_call_ms"] - r["steady_ms"] for r in rows
             if r["system"] in ("jitgen-cuda-graph-step", "jitgen-cuda-graph-loop") and "error" not in r]
    if first:
        targets.append(f"- first call minus steady call (fused plans + cuBLASLt heuristics + graph capture; the weights "
                       f"were uploaded by the eager run before), graph step/loop: max "
                       f"{max(first):.1f} ms (target <= 200 ms)")
    roof = jit.get("roofline_gpt2")
    dec = by.get(("gpt2", "f16", 1, 128, "jitgen-cuda-graph-loop"))
    if roof and dec and dec.get("decode_tokens_per_s"):
        targets.append(f"- decode fp16 batch 1 (n128): {dec['decode_tokens_per_s']:.0f} tokens/s = "
                       f"{100 * dec['decode_tokens_per_s'] / roof['limit_tokens_per_s_f16_b1']:.0f}% of the HBM "
                       f"roofline ({roof['limit_tokens_per_s_f16_b1']:.0f} tokens/s; target >= 50%)")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines + targets) + "\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"device": jit["device"], "jitgen": jit, "rows": rows}, f, indent=1)
    print("\n".join(targets))


if __name__ == "__main__":
    main()
