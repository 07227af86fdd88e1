#!/usr/bin/env python3
"""Decode speed of jitgen's int8 / int4 next to llama.cpp's Q8_0 / Q4_0 at the same bits on the same (random)
weights, same thread count, interleaved (issue 20's speed table).

    bench/install_peers.sh    # llama-cpp-python built from source + gguf, in bench/.venv
    python3 bench/llama_cpp_quant_speed.py --presets gpt2,smollm2-135m --points 1:2,1:1,8:2,32:2 --rounds 2 \
        --out bench/results/quant/decode_vs_llama_cpp.md

Systems at every point (batch:threads), in an order that rotates per point and round:
  jitgen int8+lm_head  (build/bench/generate_bench, JITGEN_WEIGHTS=int8 JITGEN_QUANTIZE_LM_HEAD=1, compiled)
  llama.cpp Q8_0       (bench/peers/llama_cpp_peer.py --ftype q8_0: llama_model_quantize, pure, tied lm_head Q8_0)
  jitgen int4+lm_head  (int4 = symmetric groups of 32, bf16 scales: 4.5 bits like Q4_0's fp16 scale per 32)
  llama.cpp Q4_0
Both quantize every linear weight and the tied lm_head at the same bits; both keep norms (and jitgen the embedding
lookup) in fp32. Decode tokens/s = batch * (new - 1) / decode seconds (the first new token comes from the prefill in
both); each process loads, runs one warm-up call and --repeats timed calls (median); the table is the median over
rounds. The roofline is the read-bandwidth probe (generate_bench --roofline) of the same round over jitgen's bytes
per decode step at mid context (weights in the stored format + KV cache); the same bytes serve llama.cpp's row
(same bits, same tensors).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(HERE, ".venv", "bin", "python")
sys.path.insert(0, os.path.join(HERE, "peers"))
from common import emit_table  # noqa: E402
SYSTEMS = {  # name -> (jitgen format | llama.cpp ftype)
    "jitgen int8+lm_head": ("jitgen", "int8"),
    "llama.cpp Q8_0": ("llama", "q8_0"),
    "jitgen int4+lm_head": ("jitgen", "int4"),
    "llama.cpp Q4_0": ("llama", "q4_0"),
}
PAIRS = [("jitgen int8+lm_head", "llama.cpp Q8_0"), ("jitgen int4+lm_head", "llama.cpp Q4_0")]


def run(cmd, env, timeout=1200):
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **env), timeout=timeout, cwd=ROOT)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()[-500:]}")
    return json.loads(lines[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", default="gpt2,smollm2-135m")
    ap.add_argument("--points", default="1:2,1:1,8:2,32:2", help="batch:threads,...")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--python", default=VENV)
    ap.add_argument("--work", default=os.path.join(HERE, ".work", "llama_cpp_speed"))
    ap.add_argument("--out")
    ap.add_argument("--from-json", help="only write the table from a speed.json of an earlier (maybe cut short) run")
    a = ap.parse_args()
    points = [tuple(map(int, p.split(":"))) for p in a.points.split(",")]
    presets = a.presets.split(",")
    if a.from_json:
        return report(json.load(open(a.from_json)), a, presets, points)
    os.makedirs(a.work, exist_ok=True)
    jitgen, bench = os.path.join(a.build, "jitgen"), os.path.join(a.build, "bench", "generate_bench")
    models, prompts = {}, {}
    for pr in presets:
        models[pr] = os.path.join(a.work, pr)
        if not os.path.exists(os.path.join(models[pr], "config.json")):
            subprocess.run([jitgen, "make-model", "--out", models[pr], "--config", pr] +
                           (["--with-tokenizer"] if pr == "gpt2" else []), check=True, stdout=subprocess.DEVNULL)
        V = json.load(open(os.path.join(models[pr], "config.json")))["vocab_size"]
        for B, _ in points:
            path = os.path.join(a.work, f"prompts_{pr}_{B}_{a.prompt_len}.txt")
            with open(path, "w") as f:  # deterministic ids, the same for every system
                for b in range(B):
                    f.write(" ".join(str((b * 7919 + t * 104729 + 12345) % (min(50000, V) - 100) + 100)
                                     for t in range(a.prompt_len)) + "\n")
            prompts[(pr, B)] = path
    info = run([bench, "--roofline"], {})
    result = {"runs": [], "probes": [], "load_avg_start": os.getloadavg(), "simd": info.get("simd")}
    k = 0
    for rnd in range(a.rounds):
        for pr in presets:
            for B, th in points:
                names = list(SYSTEMS)
                order = names[k % len(names):] + names[:k % len(names)]
                k += 1
                probe = run([bench, "--roofline"], {"JITGEN_NUM_THREADS": str(th)})["read_gbps"]
                result["probes"].append(probe)
                for name in order:
                    kind, fmt = SYSTEMS[name]
                    common = ["--model", models[pr], "--prompts", prompts[(pr, B)], "--new", str(a.new),
                              "--repeats", str(a.repeats)]
                    if kind == "jitgen":
                        r = run([bench] + common, {"JITGEN_WEIGHTS": fmt, "JITGEN_QUANTIZE_LM_HEAD": "1",
                                                   "JITGEN_NUM_THREADS": str(th)})
                        dec = r["decode_s"]
                    else:
                        r = run([a.python, os.path.join(HERE, "peers", "llama_cpp_peer.py"), "--ftype", fmt,
                                 "--threads", str(th), "--work", a.work] + common,
                                {"PYTHONPATH": os.path.join(HERE, "peers")})
                        dec = r["steady_call_s"] - r["prefill_s"]
                    tps = B * (a.new - 1) / dec
                    rec = {"round": rnd, "preset": pr, "batch": B, "threads": th, "system": name,
                           "decode_tps": tps, "read_gbps": probe, "tokens": r["tokens"],
                           "bytes_per_step_mid": r.get("bytes_per_step_mid"), "weight_bytes": r.get("weight_bytes"),
                           "simd": r.get("simd")}
                    result["runs"].append(rec)
                    print(f"round {rnd} {pr} b{B} t{th} {name}: {tps:.1f} tok/s (read probe {probe:.1f} GB/s)",
                          file=sys.stderr, flush=True)
                with open(os.path.join(a.work, "speed.json"), "w") as f:
                    json.dump(result, f)
    report(result, a, presets, points)


def report(result, a, presets, points):
    runs = result["runs"]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
    lines = [
        "# Decode speed: jitgen int8 / int4 vs llama.cpp Q8_0 / Q4_0 (same bits, same weights)", "",
        f"Machine: {cpu}, {os.cpu_count()} cores, AVX-512 {'avx512f' in flags}, VNNI {'avx512_vnni' in flags}; "
        f"jitgen SIMD {result['simd']} (quantized kernels: vnni path), llama.cpp built natively (GGML_NATIVE=ON, "
        f"bench/install_peers.sh). LOADED machine: other jobs compiled and tested at the same time (load average at "
        f"start {', '.join(f'{x:.1f}' for x in result['load_avg_start'])}); absolute numbers are noisy, ratios come "
        "from the same interleaved rounds.",
        f"Models: RANDOM weights (`jitgen make-model --config PRESET`; speed does not depend on the values), "
        f"prompt {a.prompt_len} tokens, {a.new} new tokens, greedy, {a.rounds} rounds x (warm-up + {a.repeats} timed "
        "call), medians over rounds. Every linear weight and the tied lm_head at the same bits in both engines.", "",
        "| model | batch | threads | system | decode tok/s | ratio jitgen ÷ llama.cpp | % of read roofline | "
        "same tokens |", "|---|---|---|---|---|---|---|---|"]
    for pr in presets:
        for B, th in points:
            sel = {s: [r for r in runs if (r["preset"], r["batch"], r["threads"], r["system"]) == (pr, B, th, s)]
                   for s in SYSTEMS}
            med = {s: statistics.median(r["decode_tps"] for r in v) for s, v in sel.items() if v}
            for jit, lc in PAIRS:
                if jit not in med or lc not in med:
                    lines.append(f"| {pr} | {B} | {th} | {jit} / {lc} | not measured (run cut short) | | | |")
                    continue
                jr = sel[jit][0]
                roof = [r["read_gbps"] * 1e9 / (jr["bytes_per_step_mid"] / B) for r in sel[jit]]
                roof_tps = statistics.median(roof)
                same = sum(x == y for x, y in zip(sel[jit][0]["tokens"], sel[lc][0]["tokens"]))
                for s in (jit, lc):
                    lines.append(f"| {pr} | {B} | {th} | {s} | {med[s]:.1f} | "
                                 f"{med[jit] / med[lc]:.2f}x | {100 * med[s] / roof_tps:.0f}% | "
                                 f"{same}/{B} rows |" if s == jit else
                                 f"| {pr} | {B} | {th} | {s} | {med[s]:.1f} | | {100 * med[s] / roof_tps:.0f}% | |")
    lines += ["", "Per-round ratios (jitgen ÷ llama.cpp, same round):", ""]
    for pr in presets:
        for B, th in points:
            for jit, lc in PAIRS:
                rs = []
                for rnd in range(a.rounds):
                    j = [r for r in runs if (r["round"], r["preset"], r["batch"], r["threads"], r["system"]) ==
                         (rnd, pr, B, th, jit)]
                    l = [r for r in runs if (r["round"], r["preset"], r["batch"], r["threads"], r["system"]) ==
                         (rnd, pr, B, th, lc)]
                    if j and l:
                        rs.append(f"{j[0]['decode_tps'] / l[0]['decode_tps']:.2f}")
                lines.append(f"- {pr} b{B} t{th} {jit.split()[1]} vs {lc.split()[1]}: {', '.join(rs)}")
    lines += ["", "`same tokens`: random weights give near-flat logits, so greedy rows diverge at the first near-tie "
              "between any two numerics (quantization rounding differs: jitgen quantizes activations per row, "
              "llama.cpp per block of 32); it is printed as a check that both ran the same model, not as accuracy "
              "(see accuracy_vs_llama_cpp.md for that).", "",
              "Command: `python3 bench/llama_cpp_quant_speed.py " + " ".join(sys.argv[1:]) + "`; run "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.platform()}."]
    text = "\n".join(lines) + "\n"
    emit_table(text, a.out)


if __name__ == "__main__":
    main()
