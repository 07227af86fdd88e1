#!/usr/bin/env python3
"""Decode speed of the weight formats on GPT-2 124M (random weights: speed does not depend on the values),
interleaved: every round runs every (batch, format) once, in order, so machine drift hits all formats alike.

    python3 bench/quant_speed.py [--build build] [--rounds 3] [--new 32] [--prompt-len 16] [--out FILE.md]

Per point: decode tokens/s (batch * (new - 1) / decode seconds: the first new token comes from the prefill;
median of the rounds), the weight bytes the step streams in that format (prepared panels: codes + scales, or fp32 /
bf16), and the read-bandwidth roofline on those bytes (read probe GB/s / bytes per generated token at mid context, KV cache included) measured in the same round.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
from common import emit_table  # noqa: E402

FORMATS = ["f32", "bf16", "int8", "int4", "int4-g128", "int8+lm_head", "int4+lm_head"]
BATCHES = [1, 8, 32]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)))
    ap.add_argument("--out")
    a = ap.parse_args()
    formats, batches = a.formats.split(","), [int(b) for b in a.batches.split(",")]
    tmp = tempfile.mkdtemp(prefix="quant_speed_")
    model = os.path.join(tmp, "gpt2")
    subprocess.run([os.path.join(a.build, "jitgen"), "make-model", "--out", model, "--config", "gpt2"], check=True,
                   stdout=subprocess.DEVNULL)
    prompts = {}
    for b in batches:
        prompts[b] = os.path.join(tmp, f"prompts_b{b}.txt")
        with open(prompts[b], "w") as f:
            for r in range(b):
                f.write(" ".join(str((r * 131 + t * 17 + 11) % 50000) for t in range(a.prompt_len)) + "\n")
    bench = os.path.join(a.build, "bench", "generate_bench")
    runs = {}
    header = None
    for rnd in range(a.rounds):
        for b in batches:
            for fmt in formats:
                # "+lm_head": the lm_head quantized too (JITGEN_QUANTIZE_LM_HEAD=1); by default it stays fp32
                env = dict(os.environ, JITGEN_WEIGHTS=fmt.split("+")[0],
                           JITGEN_QUANTIZE_LM_HEAD="1" if fmt.endswith("+lm_head") else "0")
                out = subprocess.run([bench, "--model", model, "--prompts", prompts[b], "--new", str(a.new),
                                      "--repeats", "1", "--roofline"], env=env, check=True, capture_output=True,
                                     text=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                header = header or r
                runs.setdefault((b, fmt), []).append(r)
                print(f"round {rnd} b{b} {fmt}: decode {b * (a.new - 1) / r['decode_s']:.1f} tok/s, "
                      f"read {r['read_gbps']:.1f} GB/s", flush=True)
    lines = [f"GPT-2 124M shape, RANDOM weights; prompt {a.prompt_len} tokens, {a.new} new tokens, greedy; "
             f"{header['threads']} threads, SIMD {header['simd']}; {a.rounds} interleaved rounds, medians. "
             "Machine shared with other jobs (loaded): absolute numbers are noisy, ratios within a round less so.",
             "",
             "| batch | format | weight MB | decode tok/s | vs f32 | read GB/s | roofline tok/s | % of roofline |",
             "|---|---|---|---|---|---|---|---|"]
    for b in batches:
        base = None
        for fmt in formats:
            rs = runs[(b, fmt)]
            tps = statistics.median(b * (a.new - 1) / r["decode_s"] for r in rs)
            roof = statistics.median(r["read_gbps"] * 1e9 / (r["bytes_per_step_mid"] / b) for r in rs)
            read = statistics.median(r["read_gbps"] for r in rs)
            base = base or tps
            lines.append(f"| {b} | {fmt} | {rs[0]['weight_bytes'] / 1e6:.1f} | {tps:.1f} | {tps / base:.2f}x | "
                         f"{read:.1f} | {roof:.1f} | {100 * tps / roof:.0f}% |")
    text = "\n".join(lines) + "\n"
    emit_table(text, a.out)


if __name__ == "__main__":
    main()
