#!/usr/bin/env python3
"""Interleaved prefill A/B: generate_bench of several builds, same model, same prompts, rounds rotate order.
Prints one JSON line per run; prefill tok/s = B*T / median prefill_s over --repeats."""
import json, os, subprocess, sys, time
model = "/work/wt/simd/bench/.work/gpt2"
W = "/work/wt/simd/bench/.work"
points = {"1x16": f"{W}/prompts_1_16_50257.txt", "8x16": "/work/wt/simd/bench/results/simd-zen4/prompts_8_16.txt",
          "32x16": f"{W}/prompts_32_16_50257.txt", "8x128": f"{W}/prompts_8_128_50257.txt"}
builds = [b.split("=", 1) for b in sys.argv[1].split(",")]   # name=builddir,...
pts = sys.argv[2].split(",")
rounds = int(sys.argv[3]); threads = sys.argv[4]; repeats = sys.argv[5] if len(sys.argv) > 5 else "5"
for rnd in range(rounds):
    order = builds[rnd % len(builds):] + builds[:rnd % len(builds)]
    for p in pts:
        B, T = map(int, p.split("x"))
        for wts in ("f32", "bf16"):
            for name, bdir in order:
                env = dict(os.environ, JITGEN_WEIGHTS=wts, JITGEN_NUM_THREADS=threads)
                out = subprocess.run([f"{bdir}/bench/generate_bench", "--model", model, "--prompts", points[p],
                                      "--new", "2", "--repeats", repeats], env=env, capture_output=True, text=True,
                                     check=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                row = {"round": rnd, "build": name, "weights": wts, "point": p, "threads": r.get("threads"),
                       "simd": r.get("simd"), "prefill_s": r["prefill_s"], "prefill_tok_s": B * T / r["prefill_s"],
                       "load1": os.getloadavg()[0], "time": time.strftime("%H:%M:%S", time.gmtime())}
                print(json.dumps(row), flush=True)
