#!/usr/bin/env python3
"""jitgen's SIMD targets against each other on this CPU: generate_bench (decode and prefill tok/s, greedy, forced
length) on one random GPT-2 124M checkpoint, f32 and bf16 weights, and kernels_bench (GEMV / GEMM GFLOP/s), with
the targets interleaved round by round (the order rotates) so that load from other processes hits all of them.

    python3 bench/simd_compare.py --model DIR --out bench/results/simd-zen4 \\
        --system avx512=build --system avx2=build --system portable=build \\
        --system scalar-before-highway:portable=/tmp/old/build [--points 1x16,8x128] [--new 32] [--rounds 2]

--system NAME[:TARGET]=BUILD_DIR runs BUILD_DIR/bench/generate_bench and kernels_bench with JITGEN_SIMD=TARGET
(TARGET defaults to NAME). Writes OUT/simd.json (every run) and OUT/simd.md (medians over rounds, ratios).
"""
import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import time


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def prompts_file(work, B, T):
    path = os.path.join(work, f"prompts_{B}_{T}.txt")
    rng = random.Random(B * 1000 + T)
    with open(path, "w") as f:
        for _ in range(B):
            f.write(" ".join(str(rng.randrange(50257)) for _ in range(T)) + "\n")
    return path


def run_json(cmd, env):
    out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=1800, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--system", action="append", required=True)
    ap.add_argument("--points", default="1x16,8x128")
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--kernels", action="store_true", help="also run kernels_bench once per system and round")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    systems = []
    for s in args.system:
        name, build = s.split("=", 1)
        name, _, target = name.partition(":")
        systems.append((name, target or name, build))
    points = [tuple(int(v) for v in p.split("x")) for p in args.points.split(",")]
    files = {p: prompts_file(args.out, *p) for p in points}
    result = {"cpu": cpu_model(), "cores": os.cpu_count(), "model": "random GPT-2 124M (jitgen make-model --config gpt2)",
              "new_tokens": args.new, "repeats": args.repeats, "runs": [], "kernels": [],
              "note": "machine shared with other jobs (load average in each run); targets interleaved per round"}
    for rnd in range(args.rounds):
        order = systems[rnd % len(systems):] + systems[:rnd % len(systems)]
        for (B, T) in points:
            for weights in ("f32", "bf16"):
                for name, target, build in order:
                    env = {"JITGEN_SIMD": target, "JITGEN_WEIGHTS": weights}
                    r = run_json([os.path.join(build, "bench", "generate_bench"), "--model", args.model, "--prompts",
                                  files[(B, T)], "--new", str(args.new), "--repeats", str(args.repeats)], env)
                    decode_tps = B * (args.new - 1) / r["decode_s"]
                    prefill_tps = B * T / r["prefill_s"]
                    row = {"round": rnd, "system": name, "target_env": target, "simd": r.get("simd"),
                           "weights": weights, "batch": B, "prompt_len": T, "decode_tok_s": decode_tps,
                           "prefill_tok_s": prefill_tps, "load1": os.getloadavg()[0], "tokens": r["tokens"]}
                    result["runs"].append(row)
                    print(f"round {rnd} {name:<24} {weights} b{B}x{T}: decode {decode_tps:8.1f} tok/s, prefill "
                          f"{prefill_tps:8.1f} tok/s (simd {r.get('simd')}, load {row['load1']:.1f})", flush=True)
        if args.kernels:
            for name, target, build in order:
                out = subprocess.run([os.path.join(build, "bench", "kernels_bench")], env={**os.environ,
                                     "JITGEN_SIMD": target}, capture_output=True, text=True, timeout=1800).stdout
                result["kernels"].append({"round": rnd, "system": name, "output": out})
                print(f"== kernels_bench {name}\n{out}", flush=True)
    with open(os.path.join(args.out, "simd.json"), "w") as f:
        json.dump(result, f, indent=1)

    def med(name, weights, B, T, key):
        v = [r[key] for r in result["runs"] if (r["system"], r["weights"], r["batch"], r["prompt_len"]) ==
             (name, weights, B, T)]
        return statistics.median(v) if v else float("nan")

    base = systems[0][0]
    lines = [f"# jitgen SIMD targets on {result['cpu']} ({result['cores']} cores)", "",
             f"{result['model']}, greedy, {args.new} new tokens forced, median of {args.rounds} interleaved rounds "
             f"(each: first call + {args.repeats} timed). {result['note']}.", "",
             "| system | simd | weights | point | decode tok/s | prefill tok/s | decode vs " + base + " | same tokens as "
             + base + " |",
             "|---|---|---|---|---|---|---|---|"]
    for (B, T) in points:
        for weights in ("f32", "bf16"):
            for name, target, _ in systems:
                simd = next((r["simd"] for r in result["runs"] if r["system"] == name), "?")
                d, p = med(name, weights, B, T, "decode_tok_s"), med(name, weights, B, T, "prefill_tok_s")
                ratio = d / med(base, weights, B, T, "decode_tok_s")
                toks = {json.dumps(r["tokens"]) for r in result["runs"] if (r["system"] in (name, base) and
                        (r["weights"], r["batch"], r["prompt_len"]) == (weights, B, T))}
                lines.append(f"| {name} | {simd} | {weights} | b{B}x{T} | {d:.1f} | {p:.1f} | {ratio:.2f}x | "
                             f"{'yes' if len(toks) == 1 else 'no'} |")
    with open(os.path.join(args.out, "simd.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
