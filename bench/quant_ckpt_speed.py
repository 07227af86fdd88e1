#!/usr/bin/env python3
"""Decode speed of a GPTQ checkpoint loaded as it is, next to the same weights quantized at load by --quantize at
the same bits, interleaved (every round runs every variant once, in order, so machine drift hits them alike).

    python3 bench/quant_ckpt_speed.py [--build build] [--preset smollm2-135m] [--rounds 3] [--new 32]
                                      [--batches 1,8] [--out FILE.md]

Variants, all on one random-weight fp16 Llama folder (`jitgen make-model --family llama --config PRESET`):
  quantize-int4-g128-f16   the fp16 folder with JITGEN_WEIGHTS=int4-g128-f16 (symmetric int4, groups of 128, fp16
                           scales: the panel format a GPTQ sym g128 checkpoint repacks into)
  gptq-g128-sym            the folder converted to GPTQ (bits 4, group_size 128, sym, desc_act false, v1) by the
                           round-to-nearest packer of scripts/make_quantized_checkpoints.py, loaded with no flag
  gptq-g128-asym-descact   the same with sym false and a shuffled act order (g_idx): the zero-point kernels plus
                           the activation gather of permuted rows
Speed does not depend on the weight values; the weights differ slightly between variants (different rounding).
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
from common import emit_table  # noqa: E402


def packer():
    spec = importlib.util.spec_from_file_location(
        "mqc", os.path.join(HERE, "..", "scripts", "make_quantized_checkpoints.py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def convert(src, dst, qc, seed=0):
    """src: an fp16 HF Llama folder (one model.safetensors); dst: its GPTQ form."""
    m = packer()
    sd = load_file(os.path.join(src, "model.safetensors"))
    out = {}
    g = torch.Generator().manual_seed(seed)
    for name, t in sd.items():
        if not name.endswith("_proj.weight"):
            out[name] = t
            continue
        module = name[:-len(".weight")]
        W = t.float()
        K = W.shape[1]
        G = K if qc["group_size"] == -1 else qc["group_size"]
        perm = torch.randperm(K, generator=g) if qc["desc_act"] else torch.arange(K)
        q, zeros, scales, g_idx = m.gptq_quantize(W, G, qc["sym"], perm)
        out[module + ".qweight"] = m.pack_rows(q)
        out[module + ".qzeros"] = m.pack_cols(zeros - 1, list(range(8)))
        out[module + ".scales"] = scales
        out[module + ".g_idx"] = g_idx
    os.makedirs(dst, exist_ok=True)
    save_file(out, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    cfg["quantization_config"] = qc
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--preset", default="smollm2-135m")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(2)
    tmp = tempfile.mkdtemp(prefix="quant_ckpt_speed_")
    fp16 = os.path.join(tmp, "fp16")
    subprocess.run([os.path.join(a.build, "jitgen"), "make-model", "--out", fp16, "--family", "llama", "--config",
                    a.preset, "--dtype", "F16"], check=True, stdout=subprocess.DEVNULL)
    base = {"quant_method": "gptq", "bits": 4, "group_size": 128, "checkpoint_format": "gptq"}
    folders = {"gptq-g128-sym": dict(base, sym=True, desc_act=False),
               "gptq-g128-asym-descact": dict(base, sym=False, desc_act=True)}
    for name, qc in folders.items():
        convert(fp16, os.path.join(tmp, name), qc)
    variants = [("quantize-int4-g128-f16", fp16, "int4-g128-f16")] + [(n, os.path.join(tmp, n), "") for n in folders]
    batches = [int(b) for b in a.batches.split(",")]
    prompts = {}
    for b in batches:
        prompts[b] = os.path.join(tmp, f"prompts_b{b}.txt")
        with open(prompts[b], "w") as f:
            for r in range(b):
                f.write(" ".join(str((r * 131 + t * 17 + 11) % 49000) for t in range(a.prompt_len)) + "\n")
    bench = os.path.join(a.build, "bench", "generate_bench")
    runs, loads, header = {}, {}, None
    for rnd in range(a.rounds):
        for b in batches:
            for name, folder, weights in variants:
                env = dict(os.environ, JITGEN_WEIGHTS=weights)
                out = subprocess.run([bench, "--model", folder, "--prompts", prompts[b], "--new", str(a.new),
                                      "--repeats", "1"], env=env, check=True, capture_output=True, text=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                header = header or r
                runs.setdefault((b, name), []).append(b * a.new / r["decode_s"])
                loads.setdefault(name, []).append(r["load_s"])
                print(f"round {rnd} b{b} {name}: decode {runs[(b, name)][-1]:.1f} tok/s", flush=True)
    lines = [f"{a.preset} shape (random weights), prompt {a.prompt_len} tokens, {a.new} new tokens, greedy, compiled; "
             f"{header['threads']} threads, SIMD {header['simd']}; {a.rounds} interleaved rounds, median.",
             "", "| batch | variant | decode tok/s (median) | rounds | vs quantize-int4-g128-f16 |", "|---|---|---|---|---|"]
    for b in batches:
        ref = statistics.median(runs[(b, variants[0][0])])
        for name, _, _ in variants:
            med = statistics.median(runs[(b, name)])
            lines.append(f"| {b} | {name} | {med:.1f} | {', '.join(f'{x:.1f}' for x in runs[(b, name)])} | "
                         f"{med / ref:.2f}x |")
    lines += ["", "| variant | load s (median; the GPTQ repack vs quantizing the fp16 weights) |", "|---|---|"]
    lines += [f"| {name} | {statistics.median(loads[name]):.2f} |" for name, _, _ in variants]
    text = "\n".join(lines) + "\n"
    emit_table(text, a.out)


if __name__ == "__main__":
    main()
