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
    python3 bench/run_peers.py --model-config smollm2-135m --threads 1 --python PY_WITH_LLAMA_CPP \
        --systems jitgen-compiled-f32,jitgen-compiled-bf16,llama.cpp-f32,llama.cpp-f16,hf-torch-eager \
        --points 1x16,8x16,32x16,1x128,8x128,32x128 --out bench/results/llama-smollm2   # issue 16 section 5

--threads N gives every system N threads (jitgen: JITGEN_NUM_THREADS, the Python peers: --threads); without it the
peers take their default (2) and jitgen every CPU. llama.cpp systems read a GGUF converted once before the grid
(bench/peers/llama_cpp_peer.py --convert-only: bench/peers/gguf_llama.py for Llama folders, gguf_gpt2.py for
GPT-2). peers.md ends with the issue's target ratios: jitgen fp32 / llama.cpp f32 and jitgen bf16 / llama.cpp f16
(decode, prefill and whole-call speed), jitgen / HF torch eager.
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
    s = {k: v for k, v in s.items() if not args.systems or k in args.systems.split(",")}
    if args.threads:  # the same thread count for every system
        s = {k: (cmd + ([] if k.startswith("jitgen") or "--threads" in cmd else ["--threads", str(args.threads)]),
                 dict(env, JITGEN_NUM_THREADS=str(args.threads)) if k.startswith("jitgen") else env)
             for k, (cmd, env) in s.items()}
    return s


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
    first = open("/proc/cpuinfo").read().split("\n\n")[0]  # the first CPU's block
    info = {k.strip(): v.strip() for k, v in (l.split(":", 1) for l in first.splitlines() if ":" in l)}
    cpu, flags = info.get("model name", "?"), f" {info.get('flags', '')} "
    fam, model = int(info.get("cpu family", 0)), int(info.get("model", 0))
    arch = ""  # the model name of a VM often says only "AMD EPYC": name the core from family / model
    if info.get("vendor_id") == "AuthenticAMD" and fam == 25:  # family 19h
        arch = "Zen 4" if 0x10 <= model <= 0x1F or 0x60 <= model <= 0xAF else "Zen 3"
    elif info.get("vendor_id") == "AuthenticAMD" and fam == 26:
        arch = "Zen 5"
    return {"cpu": cpu, "cpu_family_model": {"cpu family": fam, "model": model}, "microarchitecture": arch,
            "simd_flags": [x for x in ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx512_fp16")
                           if f" {x} " in flags],
            "cores": os.cpu_count(), "avx512f": " avx512f " in flags, "avx512_bf16": " avx512_bf16 " in flags,
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
    ap.add_argument("--threads", type=int, default=0, help="threads of every system (default: each its own)")
    ap.add_argument("--from-json", help="only rewrite peers.md / peers.png from this peers.json (an earlier run)")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            return report(json.load(f), os.path.dirname(os.path.abspath(args.from_json)))
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
    for name, (cmd, env) in sysmap.items():  # convert the GGUFs now, not inside a timed grid point
        if name.startswith("llama.cpp"):
            r = run(cmd + ["--model", model, "--prompts", os.devnull, "--work", WORK, "--convert-only"], env, 3600)
            if "error" in r:
                raise SystemExit(f"{name}: GGUF conversion failed: {r['error']}")
    result = {"machine": machine(), "new_tokens": args.new, "repeats": args.repeats, "model": described,
              "threads": args.threads or "each system's default", "python": args.python,
              "command": " ".join([sys.executable, "bench/run_peers.py"] + sys.argv[1:]), "roofline": [roofline()],
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
            result["load_avg_at_end"] = os.getloadavg()
            with open(os.path.join(args.out, "peers.json"), "w") as f:
                json.dump(result, f, indent=1)
    report(result, args.out)


PAIRS = [("jitgen-compiled-f32", "llama.cpp-f32"), ("jitgen-compiled-bf16", "llama.cpp-f16"),
         ("jitgen-compiled-f32", "hf-torch-eager"), ("jitgen-compiled-bf16", "hf-torch-eager")]


def targets(runs):
    """Issue 16 section 5: batch 1 >= 1.0x llama.cpp at equal precision, batch 8 / 32 >= 2x, prefill >= 1.0x."""
    got = {(r["system"], r["batch"], r["prompt_len"]): r for r in runs if "error" not in r}
    rows = []
    for B, T in sorted({(r["batch"], r["prompt_len"]) for r in runs}, key=lambda p: (p[1], p[0])):
        for a, b in PAIRS:
            x, y = got.get((a, B, T)), got.get((b, B, T))
            if not x or not y:
                continue
            dec = (x.get("decode_tokens_per_s") or 0) / (y.get("decode_tokens_per_s") or float("inf"))
            pre = (x.get("prefill_tokens_per_s") or 0) / (y.get("prefill_tokens_per_s") or float("inf"))
            call = y["steady_call_s"] / x["steady_call_s"]
            need = 1.0 if B == 1 else 2.0
            met = ("" if not b.startswith("llama.cpp") else
                   f"decode {'yes' if dec >= need else 'NO'}, prefill {'yes' if pre >= 1.0 else 'NO'}")
            rows.append(f"| {B} | {T} | {a} ÷ {b} | {dec:.2f} | {pre:.2f} | {call:.2f} | "
                        f"{'' if not b.startswith('llama.cpp') else f'{need:.1f}x / 1.0x'} | {met} |")
    if not rows:
        return []
    return ["", "## Ratios and the issue's targets", "",
            "Speed of the first system over the second's (>1: the first is faster): decode tokens/s (batch x (new - 1) "
            "/ decode seconds), prefill tokens/s (batch x prompt / prefill seconds), whole call (the second's steady "
            "call time over the first's). Targets (issue 16 section 5, against llama.cpp at equal precision): "
            "decode >= 1.0x at batch 1 and >= 2x at batch 8 and 32, prefill >= 1.0x.", "",
            "| batch | prompt | pair | decode ratio | prefill ratio | call ratio | target decode / prefill | met |",
            "|---|---|---|---|---|---|---|---|"] + rows


def report(result, out):
    runs = [r for r in result["runs"]]
    base = {(r["batch"], r["prompt_len"]): r for r in runs if r["system"] == "jitgen-compiled-f32" and "error" not in r}
    m = result["machine"]
    cpu = m["cpu"] + (f" ({m['microarchitecture']}, family {m['cpu_family_model'].get('cpu family')} model "
                      f"{m['cpu_family_model'].get('model')})" if m.get("microarchitecture") else "")
    lines = ["# jitgen vs peers (CPU)", "",
             f"Machine: {cpu}, {m['cores']} cores, "
             f"SIMD: {' '.join(m.get('simd_flags', [])) or ('AVX-512' if m['avx512f'] else 'no AVX-512')}, "
             f"{m['mem_gib']} GiB, {m['os']}; load average at start {[round(x, 1) for x in m['load_avg_at_start']]}"
             + (f", at end {[round(x, 1) for x in result['load_avg_at_end']]}" if result.get("load_avg_at_end") else "")
             + f". Threads: {result.get('threads', 'each system its default')}.",
             f"Model: {result['model']}. Greedy, {result['new_tokens']} new tokens forced, first call + "
             f"{result['repeats']} steady calls (median). Command: `{result.get('command', '')}`. Bandwidth probes during the run (GB/s triad / read): " +
             ", ".join(f"{r['triad_gbps']:.0f}/{r['read_gbps']:.0f}" for r in result["roofline"] if r.get("triad_gbps")) + ".",
             "jitgen SIMD target (generate_bench): " + ", ".join(sorted({f"{r['system']}={r['simd']}" for r in runs
                                                                    if r.get("simd")})) + ".",
             "llama.cpp: " + "; ".join(sorted({f"{r['system']}: KV cache {r['kv_type']}, flash attention "
                                                f"{r['flash_attn']}" for r in runs if r.get("kv_type")})) +
             "; ggml CPU features: " + ", ".join(sorted({" ".join(x.split(" = ")[0].strip() for x in
                                                                   r["system_info"].split("CPU :")[-1].split("|")
                                                                   if x.strip().endswith("= 1"))
                                                          for r in runs if r.get("system_info")})) + ".",
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
    lines += targets(runs)
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
