#!/usr/bin/env python3
"""Runs jitgen and its peers on the same random checkpoint (GPT-2 124M by default, any make-model preset with
--model-config, e.g. smollm2-135m), same prompts, same forced number of new tokens, greedy, over a grid of batch x
prompt length; interleaves the systems (the order rotates per grid point) and measures the bandwidth roofline in
the same run. Writes <out>/peers.{json,md,png}.

    bench/install_peers.sh && python3 bench/run_peers.py            # full grid
    python3 bench/run_peers.py --batches 1 --prompt-lens 16 --new 16  # a quick look
    python3 bench/run_peers.py --model-config smollm2-135m --systems jitgen-compiled-f32,jitgen-compiled-bf16,hf-torch-eager \
        --out bench/results/llama-smollm2       # a Llama-family shape (peers that only read GPT-2 are left out)
    python3 bench/run_peers.py --model-dir models/kjv-llama-5m --points 1x16,8x16 \
        --systems jitgen-compiled-f32,jitgen-compiled-bf16,jitgen-compiled-int8,jitgen-compiled-int4,hf-torch-eager \
        --out bench/results/kjv-llama-5m        # an HF folder as it is (the trained default model)
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(HERE, ".venv", "bin", "python")  # bench/install_peers.sh; else this interpreter (--python)
VENV_TF = os.path.join(HERE, ".venv-tf", "bin", "python")
WORK = os.path.join(HERE, ".work")
BENCH = os.path.join(ROOT, "build", "bench", "generate_bench")
JITGEN = os.path.join(ROOT, "build", "jitgen")


def systems(args):
    peers = os.path.join(HERE, "peers")
    VENV = args.python  # noqa: N806 (the interpreter every Python peer runs under)
    s = {
        "jitgen-compiled-f32": ([BENCH, "--mode", "compiled"], {"JITGEN_WEIGHTS": "f32"}),
        "jitgen-compiled-bf16": ([BENCH, "--mode", "compiled"], {"JITGEN_WEIGHTS": "bf16"}),
        "jitgen-compiled-int8": ([BENCH, "--mode", "compiled"], {"JITGEN_WEIGHTS": "int8"}),
        "jitgen-compiled-int4": ([BENCH, "--mode", "compiled"], {"JITGEN_WEIGHTS": "int4"}),
        "hf-torch-eager": ([VENV, f"{peers}/hf_torch.py"], {}),
        # torch's OpenMP threads also stall when another process holds a core: the same on one thread.
        "hf-torch-eager-t1": ([VENV, f"{peers}/hf_torch.py", "--threads", "1"], {}),
        "ctranslate2-float32": ([VENV, f"{peers}/ctranslate2_peer.py"], {}),
        "llama.cpp-f32": ([VENV, f"{peers}/llama_cpp_peer.py", "--ftype", "f32"], {}),
        "llama.cpp-f16": ([VENV, f"{peers}/llama_cpp_peer.py", "--ftype", "f16"], {}),
        # llama.cpp's OpenMP barriers collapse when another process holds a core: also run it on one thread.
        "llama.cpp-f32-t1": ([VENV, f"{peers}/llama_cpp_peer.py", "--ftype", "f32", "--threads", "1"], {}),
        "llama.cpp-f16-t1": ([VENV, f"{peers}/llama_cpp_peer.py", "--ftype", "f16", "--threads", "1"], {}),
        "jitgen-compiled-f32-t1": ([BENCH, "--mode", "compiled"], {"JITGEN_WEIGHTS": "f32", "JITGEN_NUM_THREADS": "1"}),
    }
    if os.path.exists(VENV_TF):
        s["hf-tf-eager"] = ([VENV_TF, f"{peers}/hf_tf.py"], {})
        s["hf-tf-xla"] = ([VENV_TF, f"{peers}/hf_tf.py", "--xla"], {})
    if args.torch_compile:
        s["hf-torch-compile-static"] = ([VENV, f"{peers}/hf_torch.py", "--compile"], {})
    return {k: v for k, v in s.items() if not args.systems or k in args.systems.split(",")}


def prompts_file(B, T, vocab):
    path = os.path.join(WORK, f"prompts_{B}_{T}_{vocab}.txt")
    span = min(50000, vocab - 100)  # GPT-2's 50257: the ids every earlier run used
    with open(path, "w") as f:  # deterministic ids, the same for every system
        for b in range(B):
            f.write(" ".join(str((b * 7919 + t * 104729 + 12345) % span + 100) for t in range(T)) + "\n")
    return path


def run(cmd, env_extra, timeout):
    env = dict(os.environ, **env_extra)
    env.setdefault("PYTHONPATH", os.path.join(HERE, "peers"))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout}s"}
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"error": (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1][:300]}
    return json.loads(lines[-1])


def roofline():
    r = run([BENCH, "--roofline"], {}, 120)
    return {k: r.get(k) for k in ("triad_gbps", "read_gbps")}


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
    return {"cpu": cpu, "cores": os.cpu_count(), "avx512f": " avx512f" in flags, "avx512_bf16": "avx512_bf16" in flags,
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "os": platform.platform(), "load_avg_at_start": os.getloadavg()}


def derive(r):
    B, T, N = r["batch"], r["prompt_len"], r["new_tokens"]
    call = r["steady_call_s"]
    r["tokens_per_s"] = B * N / call
    if r.get("prefill_s"):
        r["prefill_tokens_per_s"] = B * T / r["prefill_s"]
        dec = (r["decode_s"] if "decode_s" in r else call - r["prefill_s"])
        r["decode_tokens_per_s"] = B * (N - 1) / dec if dec > 0 else None
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--prompt-lens", default="16,128")
    ap.add_argument("--points", default="", help="explicit grid points BxT,... (overrides batches x prompt-lens)")
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--systems", default="", help="comma list (default: all installed)")
    ap.add_argument("--torch-compile", action="store_true", help="add HF static cache + torch.compile")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--model-config", default="gpt2", help="jitgen make-model preset (gpt2, smollm2-135m, ...)")
    ap.add_argument("--model-dir", default="", help="an HF model folder to run instead of a random preset")
    ap.add_argument("--python", default=VENV if os.path.exists(VENV) else sys.executable,
                    help="interpreter of the Python peers (default: bench/.venv, else this one)")
    args = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    build = os.path.join(ROOT, "build")  # jitgen and generate_bench, built here if scripts/demo.sh did not
    if not os.path.exists(os.path.join(build, "build.ninja")):
        subprocess.run(["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"], check=True)
    subprocess.run(["cmake", "--build", build, "--target", "jitgen", "generate_bench"], check=True)
    model = os.path.abspath(args.model_dir) if args.model_dir else os.path.join(WORK, args.model_config)
    if not args.model_dir and not os.path.exists(os.path.join(model, "config.json")):
        subprocess.run([JITGEN, "make-model", "--out", model, "--config", args.model_config] +
                       (["--with-tokenizer"] if args.model_config == "gpt2" else []), check=True)
    with open(os.path.join(model, "config.json")) as f:
        config = json.load(f)
    sysmap = systems(args)
    name = "GPT-2 124M" if args.model_config == "gpt2" else f"{config['model_type']} {args.model_config} shape"
    described = (f"{os.path.relpath(model, ROOT)} ({config['model_type']}, trained weights as committed)"
                 if args.model_dir else f"random {name} (jitgen make-model --config {args.model_config})")
    result = {"machine": machine(), "new_tokens": args.new, "repeats": args.repeats, "model": described,
              "command": " ".join(["python3", "bench/run_peers.py"] + sys.argv[1:]), "roofline": [roofline()],
              "runs": []}
    print("roofline", result["roofline"][-1], file=sys.stderr)
    names = list(sysmap)
    k = 0
    points = ([tuple(map(int, p.split("x"))) for p in args.points.split(",")] if args.points else
              [(B, T) for T in map(int, args.prompt_lens.split(",")) for B in map(int, args.batches.split(","))])
    result["points"] = points
    for B, T in points:
        if True:
            pf = prompts_file(B, T, config["vocab_size"])
            order = names[k % len(names):] + names[:k % len(names)]  # rotate: nobody always runs first
            k += 1
            for name in order:
                cmd, env = sysmap[name]
                r = run(cmd + ["--model", model, "--prompts", pf, "--new", str(args.new), "--repeats",
                               str(args.repeats)] + ([] if name.startswith("jitgen") else ["--work", WORK]), env,
                        args.timeout)
                r.update(system=name, batch=B, prompt_len=T, new_tokens=args.new, finished_at=time.time())
                if "error" not in r:
                    derive(r)
                result["runs"].append(r)
                print(name, B, T, {x: r.get(x) for x in ("first_call_s", "steady_call_s", "tokens_per_s",
                                                         "decode_tokens_per_s", "prefill_tokens_per_s", "error")},
                      file=sys.stderr, flush=True)
            result["roofline"].append(roofline())
            with open(os.path.join(args.out, "peers.json"), "w") as f:
                json.dump(result, f, indent=1)
    report(result, args.out)


def report(result, out):
    runs = [r for r in result["runs"]]
    base = {(r["batch"], r["prompt_len"]): r for r in runs if r["system"] == "jitgen-compiled-f32" and "error" not in r}
    lines = ["# jitgen vs peers (CPU)", "",
             f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
             f"AVX-512: {result['machine']['avx512f']}, AVX-512 BF16: {result['machine']['avx512_bf16']}, "
             f"{result['machine']['mem_gib']} GiB, {result['machine']['os']}; load average at start "
             f"{result['machine']['load_avg_at_start']}.",
             f"Model: {result['model']}. Greedy, {result['new_tokens']} new tokens forced, first call + "
             f"{result['repeats']} steady calls (median). Command: `{result.get('command', '')}`. Bandwidth probes during the run (GB/s triad / read): " +
             ", ".join(f"{r['triad_gbps']:.0f}/{r['read_gbps']:.0f}" for r in result["roofline"] if r.get("triad_gbps")) + ".",
             "jitgen SIMD target (generate_bench): " + ", ".join(sorted({f"{r['system']}={r['simd']}" for r in runs
                                                                    if r.get("simd")})) + ".",
             "", "Ratios are jitgen-compiled-f32 over the system at the same grid point (>1: jitgen faster). "
             "`same` = rows whose greedy tokens equal jitgen-compiled-f32's.", "",
             "| batch | prompt | system | first call s | steady call s | tokens/s | decode tok/s | prefill tok/s | "
             "jitgen÷it (call) | same |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        if "error" in r:
            lines.append(f"| {r['batch']} | {r['prompt_len']} | {r['system']} | error: {r['error']} | | | | | | |")
            continue
        b = base.get((r["batch"], r["prompt_len"]))
        ratio = f"{r['steady_call_s'] / b['steady_call_s']:.2f}" if b else ""
        same = f"{sum(x == y for x, y in zip(r['tokens'], b['tokens']))}/{len(r['tokens'])}" if b else ""
        f = lambda v: f"{v:.1f}" if isinstance(v, (int, float)) and v is not None else ""
        lines.append(f"| {r['batch']} | {r['prompt_len']} | {r['system']} | {r['first_call_s']:.2f} | "
                     f"{r['steady_call_s']:.3f} | {f(r.get('tokens_per_s'))} | {f(r.get('decode_tokens_per_s'))} | "
                     f"{f(r.get('prefill_tokens_per_s'))} | {ratio} | {same} |")
    with open(os.path.join(out, "peers.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        Ts = sorted({r["prompt_len"] for r in runs})
        fig, axes = plt.subplots(1, len(Ts), figsize=(6 * len(Ts), 4.5), squeeze=False)
        for ax, T in zip(axes[0], Ts):
            for i, s in enumerate(sorted({r["system"] for r in runs})):
                pts = sorted((r["batch"], r.get("decode_tokens_per_s") or r["tokens_per_s"]) for r in runs
                             if r["system"] == s and r["prompt_len"] == T and "error" not in r)
                if pts:  # one colour per system (tab20), jitgen solid, peers dashed
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=s,
                            color=plt.cm.tab20.colors[i % 20], linestyle="-" if s.startswith("jitgen") else "--",
                            linewidth=2.2 if s.startswith("jitgen") else 1.3)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("batch")
            ax.set_ylabel("decode tokens/s (hf-tf: whole call)")
            ax.set_title(f"prompt {T} tokens, {result['new_tokens']} new")
            ax.grid(True, which="both", alpha=0.3)
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "peers.png"), dpi=110)
    except Exception as e:  # the table and JSON are the record; the plot is a view of them
        print("plot failed:", e, file=sys.stderr)


if __name__ == "__main__":
    main()
