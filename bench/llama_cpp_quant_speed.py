#!/usr/bin/env python3
"""Decode speed of jitgen's int8 / int4 next to llama.cpp's Q8_0 / Q4_0 at the same bits on the same (random)
weights, same thread count, interleaved (issue 20's speed table).

    bench/install_peers.sh    # llama-cpp-python built from source + gguf, in bench/.venv
    python3 bench/llama_cpp_quant_speed.py --presets gpt2,smollm2-135m --points 1:1,8:1,32:1 --rounds 2 \
        --clock both --out bench/results/quant/decode_vs_llama_cpp.md

Systems at every point (batch:threads), in an order that rotates per point and round:
  jitgen int8+lm_head  (build/bench/generate_bench, JITGEN_WEIGHTS=int8 JITGEN_QUANTIZE_LM_HEAD=1, compiled)
  llama.cpp Q8_0       (bench/peers/llama_cpp_peer.py --ftype q8_0: llama_model_quantize, pure, tied lm_head Q8_0)
  jitgen int4+lm_head  (int4 = symmetric groups of 32, bf16 scales: 4.5 bits like Q4_0's fp16 scale per 32)
  llama.cpp Q4_0
Both quantize every linear weight and the tied lm_head at the same bits; both keep norms (and jitgen the embedding
lookup) in fp32. Decode tokens/s = batch * (new - 1) / decode seconds (the first new token comes from the prefill in
both); each process loads, runs one warm-up call and --repeats timed calls (median); the table is the median over
rounds. --clock cpu (or both) also times in process CPU seconds, which leave out the time a process waited for a
core on a loaded machine: jitgen's decode_cpu_s (a call minus a prefill-only call) and llama.cpp's peer run through
bench/peers/cpu_clock.py (its perf_counter replaced by process_time); at one thread that is the work itself.
The roofline is the read-bandwidth probe (generate_bench --roofline, run before each point of each round) over
jitgen's bytes per decode step at mid context (weights in the stored format + KV cache); the same bytes serve
llama.cpp's row (same bits, same tensors). The probe (src/runtime/roofline.h read_gbps / read_cpu_gbps) is the best
read of a buffer 4x the last-level cache (at least 256 MiB) on transparent huge pages, each thread reading its slice
as 1, 2, 4 or 8 concurrent forward streams with AVX-512 loads: the most this core was seen to read, so a ceiling for
the panels' one stream.
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
    ap.add_argument("--clock", choices=["wall", "cpu", "both"], default="wall",
                    help="llama.cpp's timing: wall, process CPU time (peer through cpu_clock.py), or both (two runs)")
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
    result = {"runs": [], "probes": [], "load_avg_start": os.getloadavg(), "simd": info.get("simd"),
              "quant_path": info.get("quant_path"), "llama_python": a.python,
              "llama_info": llama_system_info(a.python)}
    k = 0
    for rnd in range(a.rounds):
        for pr in presets:
            for B, th in points:
                names = list(SYSTEMS)
                order = names[k % len(names):] + names[:k % len(names)]
                k += 1
                pr_run = run([bench, "--roofline"], {"JITGEN_NUM_THREADS": str(th)})
                probe, probe_cpu = pr_run["read_gbps"], pr_run.get("read_cpu_gbps")
                result["probes"].append(probe)
                result.setdefault("probe_details", []).append(
                    {k: pr_run.get(k) for k in ("read_gbps", "read_cpu_gbps", "read_streams", "read_gbps_by_streams",
                                                "read_heap_gbps", "triad_gbps", "read_buffer_bytes",
                                                "llc_bytes")} | {"round": rnd, "preset": pr,
                                                                                   "batch": B, "threads": th})
                for name in order:
                    kind, fmt = SYSTEMS[name]
                    common = ["--model", models[pr], "--prompts", prompts[(pr, B)], "--new", str(a.new),
                              "--repeats", str(a.repeats)]
                    steps = B * (a.new - 1)
                    tps = cpu_tps = None
                    if kind == "jitgen":
                        r = run([bench] + common, {"JITGEN_WEIGHTS": fmt, "JITGEN_QUANTIZE_LM_HEAD": "1",
                                                   "JITGEN_NUM_THREADS": str(th)})
                        tps, cpu_tps = steps / r["decode_s"], steps / r["decode_cpu_s"]
                    else:
                        peer = [os.path.join(HERE, "peers", "llama_cpp_peer.py"), "--ftype", fmt, "--threads", str(th),
                                "--work", a.work] + common
                        env = {"PYTHONPATH": os.path.join(HERE, "peers")}
                        if a.clock != "cpu":
                            r = run([a.python] + peer, env)
                            tps = steps / (r["steady_call_s"] - r["prefill_s"])
                        if a.clock != "wall":
                            r = run([a.python, os.path.join(HERE, "peers", "cpu_clock.py")] + peer, env)
                            cpu_tps = steps / (r["steady_call_s"] - r["prefill_s"])
                    rec = {"round": rnd, "preset": pr, "batch": B, "threads": th, "system": name,
                           "decode_tps": tps, "decode_tps_cpu": cpu_tps, "read_gbps": probe,
                           "read_cpu_gbps": probe_cpu, "tokens": r["tokens"],
                           "bytes_per_step_mid": r.get("bytes_per_step_mid"), "weight_bytes": r.get("weight_bytes"),
                           "simd": r.get("simd")}
                    result["runs"].append(rec)
                    print(f"round {rnd} {pr} b{B} t{th} {name}: wall {tps or 0:.1f} tok/s, CPU time {cpu_tps or 0:.1f} "
                          f"tok/s (read probe {probe:.1f} GB/s, load {os.getloadavg()[0]:.1f})", file=sys.stderr,
                          flush=True)
                    result["load_avgs"] = result.get("load_avgs", []) + [os.getloadavg()[0]]
                with open(os.path.join(a.work, "speed.json"), "w") as f:
                    json.dump(result, f)
    report(result, a, presets, points)


def llama_system_info(python):
    """llama.cpp's CPU feature line (e.g. "AVX2 = 1 | FMA = 1 | ..."): what the peer was built for."""
    try:
        out = subprocess.run([python, "-c", "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"],
                             capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    line = next((l for l in out.splitlines() if l.startswith("CPU :")), "")
    return line.split(":", 1)[1].strip(" |") if line else ""


def report(result, a, presets, points):
    runs = result["runs"]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
    lines = [
        "# Decode speed: jitgen int8 / int4 vs llama.cpp Q8_0 / Q4_0 (same bits, same weights)", "",
        f"Machine: {cpu}, {os.cpu_count()} cores, AVX-512 {'avx512f' in flags}, VNNI {'avx512_vnni' in flags}; "
        f"jitgen SIMD {result['simd']} (quantized kernels: {result.get('quant_path') or 'vnni'} path), llama.cpp "
        + (f"built natively (GGML_NATIVE=ON, bench/install_peers.sh)" if result.get("llama_python", VENV) == VENV
           else f"from the llama-cpp-python of {result['llama_python']}")
        + (f" (its CPU features: {result['llama_info']})" if result.get("llama_info") else "")
        + f". Shared machine: other jobs ran at the same time (load average at start "
        f"{', '.join(f'{x:.1f}' for x in result['load_avg_start'])}; during the runs: below); ratios come from the "
        "same interleaved rounds.",
        f"Models: RANDOM weights (`jitgen make-model --config PRESET`; speed does not depend on the values), "
        f"prompt {a.prompt_len} tokens, {a.new} new tokens, greedy, {a.rounds} rounds x (warm-up + {a.repeats} timed "
        "call), medians over rounds. Every linear weight and the tied lm_head at the same bits in both engines.", "",
        "| model | batch | threads | system | decode tok/s (wall) | jitgen ÷ llama.cpp (wall) | "
        "decode tok/s (CPU time) | jitgen ÷ llama.cpp (CPU time) | % of read roofline | same tokens |",
        "|---|---|---|---|---|---|---|---|---|---|"]

    def med(rs, key):
        v = [r[key] for r in rs if r.get(key)]
        return statistics.median(v) if v else None

    def num(x, fmt):
        return format(x, fmt) if x else "—"

    for pr in presets:
        for B, th in points:
            sel = {s: [r for r in runs if (r["preset"], r["batch"], r["threads"], r["system"]) == (pr, B, th, s)]
                   for s in SYSTEMS}
            for jit, lc in PAIRS:
                if not sel[jit] or not sel[lc]:
                    lines.append(f"| {pr} | {B} | {th} | {jit} / {lc} | not measured (run cut short) | | | | | |")
                    continue
                wall = {x: med(sel[x], "decode_tps") for x in (jit, lc)}
                cpu_t = {x: med(sel[x], "decode_tps_cpu") for x in (jit, lc)}
                jr = sel[jit][0]
                def roof(key):  # tok/s at the read probe (wall or CPU time), median over the point's rounds
                    v = [r[key] * 1e9 / (jr["bytes_per_step_mid"] / B) for r in sel[jit] if r.get(key)]
                    return statistics.median(v) if v else None
                same = sum(x == y for x, y in zip(sel[jit][0]["tokens"], sel[lc][0]["tokens"]))
                for x in (jit, lc):
                    first = x == jit
                    rw = wall[jit] / wall[lc] if first and wall[jit] and wall[lc] else None
                    rc = cpu_t[jit] / cpu_t[lc] if first and cpu_t[jit] and cpu_t[lc] else None
                    # CPU-time rates against the CPU-time probe at 1 thread; wall rates (or probes without it) against
                    # the wall one. At T > 1 threads a CPU-time rate counts tokens per CPU second of all T threads
                    # while the probe's read_cpu_gbps is per thread (T x too high for it), so the wall pair is used.
                    basis, roof_tps = ((cpu_t[x], roof("read_cpu_gbps")) if th == 1 and cpu_t[x] and roof("read_cpu_gbps")
                                       else (wall[x] or cpu_t[x], roof("read_gbps")))
                    lines.append(f"| {pr} | {B} | {th} | {x} | {num(wall[x], '.1f')} | {num(rw, '.2f') if first else ''} | "
                                 f"{num(cpu_t[x], '.1f')} | {num(rc, '.2f') if first else ''} | "
                                 f"{100 * basis / roof_tps:.0f}% ({basis * jr['bytes_per_step_mid'] / B / 1e9:.1f} GB/s) | "
                                 f"{f'{same}/{B} rows' if first else ''} |")
    lines += ["", "Per-round ratios (jitgen ÷ llama.cpp, same round; wall / CPU time):", ""]
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
                        pair = [j[0].get(k) / l[0][k] if j[0].get(k) and l[0].get(k) else None
                                for k in ("decode_tps", "decode_tps_cpu")]
                        rs.append(" / ".join(num(x, ".2f") for x in pair))
                lines.append(f"- {pr} b{B} t{th} {jit.split()[1]} vs {lc.split()[1]}: {', '.join(rs)}")
    for key, clock in (("read_gbps", "wall clock"), ("read_cpu_gbps", "CPU time per thread")):
        probes = {}
        for r in runs:
            if r.get(key):
                probes.setdefault(r["threads"], {})[(r["round"], r["preset"], r["batch"])] = r[key]
        for th, by_point in sorted(probes.items()):
            v = sorted(by_point.values())
            sizes = {d.get("read_buffer_bytes") for d in result.get("probe_details", [])}
            mib = "/".join(str(int(b) >> 20) if b else "256" for b in sorted(sizes, key=lambda b: b or 0))
            lines += ["", f"Read probe (`generate_bench --roofline`, {th} thread{'s' if th > 1 else ''}, {clock}: best of 5 "
                          f"x {{1, 2, 4, 8}} concurrent {'AVX-512' if 'avx512f' in flags else 'AVX2'} streams over "
                          f"{mib} MiB on huge pages, run before each point "
                          f"of each round): {len(v)} probes, min {v[0]:.1f}, median {statistics.median(v):.1f}, "
                          f"max {v[-1]:.1f} GB/s."]
    details = result.get("probe_details", [])
    heap = sorted(d["read_heap_gbps"] for d in details if d.get("read_heap_gbps") and d["threads"] == 1)
    if heap:
        wins = {}
        for d in details:
            if d["threads"] == 1 and d.get("read_streams"):
                wins[d["read_streams"]] = wins.get(d["read_streams"], 0) + 1
        lines += ["", f"Stream count of the best 1-thread read: " +
                  ", ".join(f"{k} streams {v}x" for k, v in sorted(wins.items())) +
                  f". The older probe (one AVX2 stream over a 128 MiB heap array, 4 KiB pages), same runs, 1 thread: "
                  f"min {heap[0]:.1f}, median {statistics.median(heap):.1f}, max {heap[-1]:.1f} GB/s."]
    lines += ["", "`% of read roofline`: the row's median decode tok/s (CPU time where measured at 1 thread, wall clock "
                  "at more) over the tok/s the same point's read probe (CPU-time probe for CPU-time rates, when the run "
                  "has it; else the wall one) "
                  "allows for jitgen's bytes per decode step at mid context (weights in the stored format + fp32 norms "
                  "+ the KV cache at the model's KV width), median over rounds; llama.cpp's row uses the same bytes."]
    loads = result.get("load_avgs")
    if loads:
        lines += ["", f"1-minute load average during the runs: min {min(loads):.1f}, median "
                      f"{statistics.median(loads):.1f}, max {max(loads):.1f} (2 cores)."]
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
