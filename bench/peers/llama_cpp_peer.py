"""llama.cpp through llama-cpp-python: the GGUF of the same folder (GPT-2: bench/peers/gguf_gpt2.py, Llama:
bench/peers/gguf_llama.py; f32 or f16, or q8_0 / q4_0 quantized from the f32 GGUF by llama.cpp's own
llama_model_quantize with `pure`: every 2-D weight in that one type, the tied token_embd / lm_head included, as
jitgen's int8 / int4 with the lm_head quantized), greedy, batched decode with its batch API (one sequence id per
prompt, one llama_decode per step for all rows, each sequence in its own KV stream: kv_unified off).

--ftype f32 runs at jitgen fp32's precision: an F32 KV cache (llama.cpp's default F16 would round K and V) and
flash attention off (the plain softmax(QK^T)V path; with it on (llama.cpp's "auto" picks it on CPU) the greedy
tokens of a random SmolLM2-135M leave jitgen's / HF's after 8 tokens, with it off they are equal). Other ftypes keep
llama.cpp's defaults (F16 cache, flash attention auto). --kv-type / --flash-attn override. The GGUF is
converted once and cached in --work as <model folder name>-<ftype>.gguf (next to a make-model folder of
bench/run_peers.py); it is remade when the folder's weights or config.json are newer. --convert-only makes it and
exits (--prompts is then not read; run_peers.py does that before timing anything)."""
import ctypes
import json
import os
import time

import numpy as np
from llama_cpp import Llama, llama_cpp

from common import emit, parse_args, read_prompts, run_grid_point

QUANT_FTYPES = {"q8_0": 7, "q4_0": 2}  # llama_ftype LLAMA_FTYPE_MOSTLY_Q8_0 / _Q4_0

args = parse_args([(("--ftype",), {"default": "f32", "choices": ["f32", "f16", *QUANT_FTYPES]}),
                   (("--flash-attn",), {"default": "default", "choices": ["default", "auto", "on", "off"]}),
                   (("--kv-type",), {"default": "auto", "choices": ["auto", "f32", "f16"]}),
                   (("--convert-only",), {"action": "store_true"})])


def gguf_path(ftype):
    """The folder's GGUF in `ftype`, converted (or quantized) once into --work."""
    with open(os.path.join(args.model, "config.json")) as f:
        family = json.load(f)["model_type"]
    stem = "gpt2" if family == "gpt2" else os.path.basename(os.path.normpath(args.model))
    path = os.path.join(args.work, f"{stem}-{ftype}.gguf")
    sources = [os.path.join(args.model, f) for f in os.listdir(args.model)
               if f.endswith(".safetensors") or f == "config.json"]
    if os.path.exists(path) and os.path.getmtime(path) >= max(map(os.path.getmtime, sources)):
        return path
    tmp = path + ".part"  # a run killed mid-write leaves no truncated GGUF behind
    if ftype in QUANT_FTYPES:
        p = llama_cpp.llama_model_quantize_default_params()
        p.ftype, p.pure, p.nthread = QUANT_FTYPES[ftype], True, args.threads
        if llama_cpp.llama_model_quantize(gguf_path("f32").encode(), tmp.encode(), ctypes.byref(p)) != 0:
            raise RuntimeError(f"llama_model_quantize {ftype} failed")
    elif family == "gpt2":
        from gguf_gpt2 import convert
        convert(args.model, tmp, ftype)
    else:
        from gguf_llama import convert
        convert(args.model, tmp, ftype)
    os.replace(tmp, path)
    return path


path = gguf_path(args.ftype)
if args.convert_only:
    emit({"gguf": path})
    raise SystemExit(0)
prompts = read_prompts(args.prompts)
B, T, N = len(prompts), len(prompts[0]), args.new
KV_TYPES = {"f32": 0, "f16": 1}  # ggml_type GGML_TYPE_F32 / GGML_TYPE_F16
kv_type = args.kv_type if args.kv_type != "auto" else "f32" if args.ftype == "f32" else "f16"
flash_attn = args.flash_attn if args.flash_attn != "default" else "off" if args.ftype == "f32" else "auto"
per_seq = (T + N + 255) // 256 * 256
t0 = time.perf_counter()
llm = Llama(model_path=path, n_ctx=64, n_threads=args.threads, verbose=False)  # loads the weights
# Llama() only sets n_seq_max for embeddings: make the batched-decode context ourselves.
params = llama_cpp.llama_context_default_params()
params.n_ctx = per_seq * B
params.n_batch = max(512, B * T)
params.n_ubatch = 512
params.n_seq_max = B
params.n_threads = args.threads
params.n_threads_batch = args.threads
params.type_k = params.type_v = KV_TYPES[kv_type]
if hasattr(params, "kv_unified"):  # one KV stream per sequence, as jitgen's per-row cache
    params.kv_unified = False
if hasattr(params, "flash_attn_type"):
    params.flash_attn_type = {"auto": -1, "off": 0, "on": 1}[flash_attn]
ctx = llama_cpp.llama_init_from_model(llm._model.model, params)
load_s = time.perf_counter() - t0
n_vocab = llm.n_vocab()
batch = llama_cpp.llama_batch_init(max(B * T, B), 0, B)


def clear_cache():
    if hasattr(llama_cpp, "llama_memory_clear"):
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
    elif hasattr(llama_cpp, "llama_kv_self_clear"):
        llama_cpp.llama_kv_self_clear(ctx)
    else:
        llama_cpp.llama_kv_cache_clear(ctx)


def fill(entries):  # entries: (token, pos, seq, want_logits)
    batch.n_tokens = len(entries)
    for i, (tok, pos, seq, lg) in enumerate(entries):
        batch.token[i] = tok
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = 1 if lg else 0
    rc = llama_cpp.llama_decode(ctx, batch)
    if rc != 0:
        raise RuntimeError(f"llama_decode returned {rc}")


def argmax_rows(n):
    """Greedy ids of the n output rows of the last decode (in batch order): one numpy argmax over them all."""
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits(ctx), shape=(n, n_vocab)).argmax(axis=1).tolist()


def call():
    clear_cache()
    t = time.perf_counter()
    fill([(tok, pos, b, pos == T - 1) for b, p in enumerate(prompts) for pos, tok in enumerate(p)])
    nxt = argmax_rows(B)
    pre = time.perf_counter() - t
    gen = [[x] for x in nxt]
    for step in range(1, N):
        fill([(nxt[b], T + step - 1, b, True) for b in range(B)])
        nxt = argmax_rows(B)
        for b in range(B):
            gen[b].append(nxt[b])
    return gen, pre


r = run_grid_point(f"llama.cpp-{args.ftype}", args, prompts, call)
r.update(load_s=load_s, kv_type=kv_type, flash_attn=flash_attn, threads=args.threads, gguf=os.path.basename(path),
         system_info=llama_cpp.llama_print_system_info().decode().strip(" |"))
emit(r)
