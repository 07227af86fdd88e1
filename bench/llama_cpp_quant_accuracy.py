#!/usr/bin/env python3
"""Accuracy of jitgen's weight formats next to llama.cpp's at the same bits, on the same weights: logits against the
fp32 model on the golden prompts, and held-out perplexity on the same token windows (issue 20's accuracy table).

    bench/install_peers.sh    # llama-cpp-python built from source + gguf, in bench/.venv
    python3 scripts/goldens_demo_model.py --write-held-out /tmp/held.jsonl
    bench/.venv/bin/python bench/llama_cpp_quant_accuracy.py --held-out /tmp/held.jsonl \
        --out bench/results/quant/accuracy_vs_llama_cpp.md

The token stream is the model card's (scripts/train_demo_model.py encode_stream: <s> chapter </s> per held-out
chapter, HF's tokenizer), checked id for id against `jitgen tokenize` per chapter; both engines score it in
non-overlapping windows of --max-length tokens (jitgen/perplexity.h): jitgen through `jitgen perplexity
--quantize FMT`, llama.cpp by feeding the same ids (never text) to llama_decode, one window per call with every
position's logits, and the cross-entropy in float64 from fp32 logits. llama.cpp runs with an fp32 KV cache and
without flash attention so that only the weights differ from fp32.

The GGUF comes from our own converter (bench/peers/gguf_llama.py, f32, intermediate zero-padded to a multiple of
32), quantized with llama.cpp's own llama_model_quantize. "linear" rows quantize exactly the weights jitgen does
(every linear layer, token embedding / tied lm_head kept F32, `pure`); "pure" rows quantize the tied token_embd
(llama.cpp's lm_head and embedding lookup) in the same type too, next to jitgen's "+lm_head" (its lm_head quantized,
the embedding lookup fp32); "default" rows are what llama-quantize writes with its defaults (the tied token_embd
becomes Q8_0 for Q8_0 and Q6_K for Q4_0; Q4_K_M mixes Q4_K / Q6_K / Q5_0 fallbacks). bits/weight: stored bytes (codes + scales, whole blocks) * 8 over the real
elements of the linear layers (padding rows of gate/up not counted).

Logits (every row, both engines, against ONE reference: jitgen's fp32 logits, which equal HF's): the English prompts
of tests/fixtures/demo_model_goldens.json and the fp32 model's greedy continuation of --new tokens, as written by
build/bench/quant_accuracy_bench --json (which also measures jitgen's formats). Each llama.cpp GGUF scores the same
prompt + continuation ids teacher-forced (every position's logits): max-abs logit error, the same over the fp32 logit
range, mean KL(p_fp32 || p_format) per position, argmax agreement per position; then it decodes --new tokens greedily
from each prompt (argmax of its own logits, one llama_decode per token), and the table counts the prompts whose
continuation equals fp32's and the mean common prefix.
"""
import argparse
import ctypes
import json
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "peers"))
from common import emit_table  # noqa: E402


def token_stream(model_dir, held_out, jitgen):
    """The card's stream, and the same ids from jitgen's tokenizer (a mismatch stops the run)."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model_dir)
    docs = [json.loads(l)["text"] for l in open(held_out, encoding="utf-8") if l.strip()]
    stream = []
    for i, d in enumerate(docs):
        ids = tok.encode(d, add_special_tokens=False)
        j = json.loads(subprocess.run([jitgen, "tokenize", "--model", model_dir, "--json"], input=d.encode(),
                                      capture_output=True, check=True).stdout)
        if j[1:] != ids or j[0] != tok.bos_token_id:
            raise SystemExit(f"document {i}: jitgen's token ids differ from HF's")
        stream += [tok.bos_token_id] + ids + [tok.eos_token_id]
    return docs, stream


def windows(stream, n):
    return [stream[s:s + n] for s in range(0, len(stream), n) if len(stream[s:s + n]) >= 2]


def nll_rows(logits, targets):
    """sum over rows of -log softmax(row)[target], float64."""
    z = logits.astype(np.float64)
    mx = z.max(axis=1, keepdims=True)
    lse = mx[:, 0] + np.log(np.exp(z - mx).sum(axis=1))
    return float((lse - z[np.arange(len(targets)), targets]).sum())


_QUIET = []


def quiet_llama_cpp():
    """llama.cpp logs every tensor it loads to stderr: drop its log (the table says what was run)."""
    from llama_cpp import llama_cpp as L
    if not _QUIET:
        _QUIET.append(L.llama_log_callback(lambda level, text, user: None))  # kept alive for the C side
        L.llama_log_set(_QUIET[0], ctypes.c_void_p())


class LlamaCpp:
    """One GGUF in llama.cpp with a single sequence of up to n positions: fp32 KV cache, no flash attention."""

    def __init__(self, path, n, threads):
        from llama_cpp import llama_cpp as L
        quiet_llama_cpp()
        self.L = L
        self.model = L.llama_model_load_from_file(path.encode(), L.llama_model_default_params())
        if not self.model:
            raise SystemExit(f"{path}: llama.cpp could not load it")
        cp = L.llama_context_default_params()
        cp.n_ctx = cp.n_batch = cp.n_ubatch = n
        cp.n_seq_max = 1
        cp.n_threads = cp.n_threads_batch = threads
        cp.flash_attn_type = 0          # off: the plain softmax(QK^T)V path
        cp.type_k = cp.type_v = 0       # GGML_TYPE_F32 KV cache (the default F16 would round K and V)
        self.ctx = L.llama_init_from_model(self.model, cp)
        self.V = L.llama_vocab_n_tokens(L.llama_model_get_vocab(self.model))
        self.batch = L.llama_batch_init(n, 0, 1)

    def decode(self, ids, start, clear):
        """Feeds ids at positions start.. (after clearing the cache if asked); returns their logits [len(ids), V]."""
        L, b = self.L, self.batch
        if clear:
            L.llama_memory_clear(L.llama_get_memory(self.ctx), True)
        b.n_tokens = len(ids)
        for i, t in enumerate(ids):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = t, start + i, 1, 1
            b.seq_id[i][0] = 0
        if L.llama_decode(self.ctx, b) != 0:
            raise SystemExit("llama_decode failed")
        return np.ctypeslib.as_array(L.llama_get_logits(self.ctx), shape=(len(ids) * self.V,)).reshape(
            len(ids), self.V).copy()

    def close(self):
        self.L.llama_batch_free(self.batch)
        self.L.llama_free(self.ctx)
        self.L.llama_model_free(self.model)


def llama_cpp_perplexity(path, wins, threads):
    m = LlamaCpp(path, max(len(w) for w in wins), threads)
    total, count = 0.0, 0
    for w in wins:
        lg = m.decode(w, 0, True)
        total += nll_rows(lg[:-1], np.array(w[1:]))
        count += len(w) - 1
    m.close()
    return math.exp(total / count), count


def log_softmax(z):
    z = z.astype(np.float64)
    mx = z.max(axis=-1, keepdims=True)
    return z - (mx + np.log(np.exp(z - mx).sum(axis=-1, keepdims=True)))


def logit_metrics(acc, ref, logits_of, greedy_of):
    """quant_accuracy_bench's metrics for another engine: logits_of(ids) -> [len, V] teacher-forced,
    greedy_of(prompt, n) -> n greedy ids. ref: the fp32 logits of every prompt + continuation, row after row."""
    max_abs = rng = kl = 0.0
    agree = positions = off = equal = 0
    prefix = 0.0
    for p, c in zip(acc["prompts"], acc["continuations"]):
        ids = p + c
        r = ref[off:off + len(ids)]
        off += len(ids)
        q = logits_of(ids)
        max_abs = max(max_abs, float(np.abs(q.astype(np.float64) - r).max()))
        rng = max(rng, float((r.max(axis=1) - r.min(axis=1)).max()))
        lr, lq = log_softmax(r), log_softmax(q)
        kl += float((np.exp(lr) * (lr - lq)).sum())
        agree += int((r.argmax(axis=1) == q.argmax(axis=1)).sum())
        positions += len(ids)
        g = greedy_of(p, len(c))
        equal += g == c
        k = 0
        while k < len(c) and g[k] == c[k]:
            k += 1
        prefix += k
    if off != len(ref):
        raise SystemExit(f"reference logits hold {len(ref)} rows, the prompts + continuations {off}")
    n = len(acc["prompts"])
    return {"max_abs": max_abs, "max_abs_over_range": max_abs / rng, "mean_kl": kl / positions,
            "argmax_agree": agree / positions, "greedy_equal": equal, "greedy_prefix": prefix / n}


def llama_cpp_logit_metrics(path, acc, ref, threads):
    m = LlamaCpp(path, max(len(p) + len(c) for p, c in zip(acc["prompts"], acc["continuations"])), threads)

    def greedy(prompt, n):
        out, lg = [], m.decode(prompt, 0, True)[-1]
        for i in range(n):
            out.append(int(lg.argmax()))  # first maximum, as jitgen's greedy
            if i + 1 < n:
                lg = m.decode([out[-1]], len(prompt) + i, False)[0]
        return out
    r = logit_metrics(acc, ref, lambda ids: m.decode(ids, 0, True), greedy)
    m.close()
    return r


def jitgen_logit_metrics(bench, model_dir, formats, n, threads, out_json):
    """build/bench/quant_accuracy_bench --json: jitgen's metrics per format, the prompts, fp32 continuations and
    fp32 logits (the reference for llama.cpp too)."""
    subprocess.run([bench, "--model", model_dir, "--new", str(n), "--formats", ",".join(formats), "--json", out_json],
                   check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, JITGEN_NUM_THREADS=str(threads)))
    acc = json.load(open(out_json))
    V = json.load(open(os.path.join(model_dir, "config.json")))["vocab_size"]
    ref = np.fromfile(out_json + ".logits", dtype="<f4").reshape(-1, V)
    return acc, ref


# llama.cpp variants: name -> (llama_ftype, pure, embedding/output type or None for llama-quantize's default)
LLAMA_FTYPE = {"Q8_0": 7, "Q4_0": 2, "Q4_K_M": 15, "Q4_K_S": 14}
GGML_F32 = 0


def quantize(src, dst, ftype, mode):
    """mode: linear (pure, token_embd F32), pure (every 2-D weight, token_embd too), default (llama-quantize's mix)."""
    from llama_cpp import llama_cpp as L
    quiet_llama_cpp()
    p = L.llama_model_quantize_default_params()
    p.nthread = 2
    p.ftype = LLAMA_FTYPE[ftype]
    p.pure = mode in ("linear", "pure")                 # one type for every weight it touches, no mix
    if mode == "linear":
        p.token_embedding_type = p.output_tensor_type = GGML_F32
    if L.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p)) != 0:
        raise SystemExit(f"llama_model_quantize {ftype} failed")


def gguf_linear_bits(path, cfg, pad_ffn):
    """(bits per real linear weight, {type name: count}, embedding type) of a GGUF."""
    import gguf
    F = cfg["intermediate_size"]
    bits, elems, types, emb = 0.0, 0, {}, None
    for t in gguf.GGUFReader(path).tensors:
        if t.name == "token_embd.weight":
            emb = t.tensor_type.name
        if len(t.shape) != 2 or t.name in ("token_embd.weight", "output.weight"):
            continue
        cols, rows = int(t.shape[0]), int(t.shape[1])  # gguf shape is ne: [cols (k), rows (n)]
        real_rows = F if t.name.endswith(("ffn_gate.weight", "ffn_up.weight")) else rows
        real_cols = F if t.name.endswith("ffn_down.weight") else cols
        bs, ts = gguf.GGML_QUANT_SIZES[t.tensor_type]
        bits += 8.0 * real_rows * (cols // bs) * ts
        elems += real_rows * real_cols
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    return bits / elems, types, emb


def jitgen_linear_bits(cfg, fmt):
    """Bits per linear weight of a jitgen format (src/ops/quant.h: codes + one 16-bit scale per group)."""
    C, F, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    H = cfg["num_attention_heads"]
    D = cfg.get("head_dim") or C // H
    Hkv = cfg.get("num_key_value_heads") or H
    shapes = [(C, H * D), (C, Hkv * D), (C, Hkv * D), (H * D, C), (C, F), (C, F), (F, C)]  # (K, N) per layer
    fmt = fmt.split("+")[0]
    if fmt == "f32":
        return 32.0
    bitsw = 8 if fmt.startswith("int8") else 4
    G = 128 if "g128" in fmt else 32
    zp = fmt.endswith("-zp")
    bits = elems = 0
    for K, N in shapes:
        groups = 1 if fmt.startswith("int8-ch") else -(-K // G)
        gk = -(-K // 4) * 4 if fmt.startswith("int8-ch") else G
        bits += N * groups * (gk * bitsw + 16 + (8 if zp else 0))
        elems += K * N
    return bits / elems


def sha256(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def jitgen_perplexity(jitgen, model_dir, held_out, fmt, max_length, threads, cache):
    """`jitgen perplexity` (cached in `cache`, keyed by format, window, text, weights and the jitgen binary: a rerun
    that only changes the llama.cpp side does not score the jitgen formats again)."""
    key = "|".join([fmt, str(max_length), sha256(held_out), sha256(os.path.join(model_dir, "model.safetensors")),
                    sha256(jitgen)])
    memo = json.load(open(cache)) if os.path.exists(cache) else {}
    if key in memo:
        return tuple(memo[key])
    cmd = [jitgen, "perplexity", "--model", model_dir, "--max-length", str(max_length), "--json", held_out]
    if fmt != "f32":
        cmd += ["--quantize", fmt.split("+")[0]] + (["--quantize-lm-head"] if fmt.endswith("+lm_head") else [])
    env = dict(os.environ, JITGEN_NUM_THREADS=str(threads))
    r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout)
    memo[key] = [r["perplexity"], r["predicted"]]
    with open(cache, "w") as f:
        json.dump(memo, f, indent=1)
    return r["perplexity"], r["predicted"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "kjv-llama-5m"))
    ap.add_argument("--held-out", required=True, help="scripts/goldens_demo_model.py --write-held-out FILE.jsonl")
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--jitgen", default=os.path.join(ROOT, "build", "jitgen"))
    ap.add_argument("--jitgen-formats", default="int8,int4,int4-q40,int4-g128,int4-g128-q40,int8+lm_head,int4+lm_head")
    ap.add_argument("--llama-formats", default="Q8_0:linear,Q8_0:default,Q4_0:linear,Q4_0:pure,Q4_0:default,Q4_K_M:default",
                    help="FTYPE:MODE,... with MODE linear | pure | default (see quantize())")
    ap.add_argument("--new", type=int, default=32, help="greedy tokens per golden prompt (logit metrics)")
    ap.add_argument("--accuracy-bench", default=os.path.join(ROOT, "build", "bench", "quant_accuracy_bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=os.path.join(HERE, ".work", "llama_cpp_accuracy"))
    ap.add_argument("--out")
    a = ap.parse_args()
    from gguf_llama import convert
    os.makedirs(a.work, exist_ok=True)
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    cache = os.path.join(a.work, "jitgen_perplexity.json")
    docs, stream = token_stream(a.model, a.held_out, a.jitgen)
    wins = windows(stream, a.max_length)
    print(f"{len(docs)} documents, {len(stream)} tokens, {len(wins)} windows", file=sys.stderr)
    rows = []  # (engine, format, what, bits/weight, ppl, logit metrics)
    acc, ref = jitgen_logit_metrics(a.accuracy_bench, a.model, a.jitgen_formats.split(","), a.new, a.threads,
                                    os.path.join(a.work, "jitgen_accuracy.json"))
    jitgen_metrics = {r["format"]: r for r in acc["formats"]}

    ppl, pred = jitgen_perplexity(a.jitgen, a.model, a.held_out, "f32", a.max_length, a.threads, cache)
    rows.append(("jitgen", "f32", "", 32.0, ppl, jitgen_metrics["f32"]))
    f32_gguf = os.path.join(a.work, "model-f32.gguf")
    convert(a.model, f32_gguf, "f32", 32)
    lppl, lpred = llama_cpp_perplexity(f32_gguf, wins, a.threads)
    if lpred != pred:
        raise SystemExit(f"llama.cpp scored {lpred} positions, jitgen {pred}")
    rows.append(("llama.cpp", "F32", "our GGUF", 32.0, lppl, llama_cpp_logit_metrics(f32_gguf, acc, ref, a.threads)))
    print(f"f32: jitgen {ppl:.6f}, llama.cpp {lppl:.6f} ({(lppl / ppl - 1):+.2e} relative)", file=sys.stderr)
    for fmt in a.jitgen_formats.split(","):
        p, _ = jitgen_perplexity(a.jitgen, a.model, a.held_out, fmt, a.max_length, a.threads, cache)
        head = (f"lm_head {fmt.split('+')[0]} (embedding lookup F32)" if fmt.endswith("+lm_head") else
                "embedding / tied lm_head F32")
        rows.append(("jitgen", fmt, "linear layers; " + head, jitgen_linear_bits(cfg, fmt), p, jitgen_metrics[fmt]))
        print(rows[-1], file=sys.stderr, flush=True)
    for v in a.llama_formats.split(","):
        ft, mode = v.split(":")
        dst = os.path.join(a.work, f"model-{ft}-{mode}.gguf")
        quantize(f32_gguf, dst, ft, mode)
        bpw, types, emb = gguf_linear_bits(dst, cfg, 32)
        p, _ = llama_cpp_perplexity(dst, wins, a.threads)
        what = {"linear": "linear layers (pure); token_embd = tied lm_head F32",
                "pure": f"linear layers (pure); token_embd = tied lm_head {emb} too",
                "default": "llama-quantize default mix: " + ", ".join(f"{n} x{c}" for n, c in sorted(types.items())) +
                f" linear; token_embd = tied lm_head {emb}"}[mode]
        rows.append(("llama.cpp", ft, what, bpw, p, llama_cpp_logit_metrics(dst, acc, ref, a.threads)))
        print(rows[-1], file=sys.stderr, flush=True)

    base = {"jitgen": rows[0][4], "llama.cpp": rows[1][4]}
    lines = [f"# Accuracy: jitgen vs llama.cpp at the same bits ({os.path.basename(a.model)}): logits against fp32 "
             "and held-out perplexity", "",
             f"Model: {a.model} (trained; {cfg['num_hidden_layers']} layers, hidden {cfg['hidden_size']}, "
             f"intermediate {cfg['intermediate_size']}, vocab {cfg['vocab_size']}, tied embeddings). Text: "
             f"{len(docs)} held-out chapters ({a.held_out}), {len(stream)} tokens, {len(wins)} non-overlapping "
             f"windows of {a.max_length}, {pred} predicted positions; both engines score the same token ids.",
             f"llama.cpp: llama-cpp-python built from source (bench/install_peers.sh), fp32 KV cache, no flash "
             f"attention; our GGUF converter bench/peers/gguf_llama.py; quantized with llama_model_quantize. "
             f"{a.threads} threads; {platform.processor() or platform.machine()}.", "",
             f"Sanity check: f32 perplexity jitgen {rows[0][4]:.6f}, llama.cpp {rows[1][4]:.6f} "
             f"({rows[1][4] / rows[0][4] - 1:+.2e} relative); llama.cpp F32's logits on the golden prompts are within "
             f"{rows[1][5]['max_abs']:.1e} of jitgen's fp32 logits.",
             f"Logit columns: the {len(acc['prompts'])} English prompts of tests/fixtures/demo_model_goldens.json + the "
             f"fp32 model's {acc['new_tokens']} greedy tokens, {sum(len(p) + len(c) for p, c in zip(acc['prompts'], acc['continuations']))} "
             "positions, every engine and format against jitgen's fp32 logits (= HF's); mean KL(p_fp32 || p_format) "
             f"per position in nats; argmax agreement per position (teacher-forced); greedy: {acc['new_tokens']} "
             "free-running tokens per prompt, prompts whose continuation equals fp32's and the mean common prefix.", "",
             "| engine | format | what is quantized | bits / linear weight | max-abs logit err | max-abs / logit range | "
             "mean KL (nats) | argmax agree | greedy equal | greedy common prefix | perplexity | Δ vs its f32 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for eng, fmt, what, bpw, p, m in rows:
        lines.append(f"| {eng} | {fmt} | {what} | {bpw:.3f} | {m.get('max_abs', 0):.4f} | "
                     f"{m.get('max_abs_over_range', 0):.4f} | {m.get('mean_kl', 0):.2e} | "
                     f"{100 * m.get('argmax_agree', 1):.1f}% | {m.get('greedy_equal', len(acc['prompts']))}/"
                     f"{len(acc['prompts'])} | {m.get('greedy_prefix', acc['new_tokens']):.1f} | {p:.6f} | "
                     f"{100 * (p / base[eng] - 1):+.3f}% |")
    lines += ["", "Command: `bench/.venv/bin/python bench/llama_cpp_quant_accuracy.py " + " ".join(sys.argv[1:]) + "`",
              f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."]
    text = "\n".join(lines) + "\n"
    emit_table(text, a.out)


if __name__ == "__main__":
    main()
