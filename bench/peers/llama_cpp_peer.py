"""llama.cpp through llama-cpp-python: the GGUF (f32 or f16) of the same folder, greedy, batched decode
with its batch API (one sequence id per prompt, one llama_decode per step for all rows)."""
import ctypes
import os
import time

import numpy as np
from llama_cpp import Llama, llama_cpp

from common import emit, parse_args, read_prompts, run_grid_point
from gguf_gpt2 import convert

args = parse_args([(("--ftype",), {"default": "f32"}), (("--flash-attn",), {"action": "store_true"})])
prompts = read_prompts(args.prompts)
B, T, N = len(prompts), len(prompts[0]), args.new
path = os.path.join(args.work, f"gpt2-{args.ftype}.gguf")
if not os.path.exists(path):
    convert(args.model, path, args.ftype)
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
if hasattr(params, "flash_attn_type"):  # -1 auto (llama.cpp's default), 0 off, 1 on
    params.flash_attn_type = 1 if args.flash_attn else -1
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


def argmax_rows(idx):
    out = []
    for i in idx:
        ptr = llama_cpp.llama_get_logits_ith(ctx, i)
        out.append(int(np.ctypeslib.as_array(ptr, shape=(n_vocab,)).argmax()))
    return out


def call():
    clear_cache()
    t = time.perf_counter()
    fill([(tok, pos, b, pos == T - 1) for b, p in enumerate(prompts) for pos, tok in enumerate(p)])
    nxt = argmax_rows([b * T + T - 1 for b in range(B)])
    pre = time.perf_counter() - t
    gen = [[x] for x in nxt]
    for step in range(1, N):
        fill([(nxt[b], T + step - 1, b, True) for b in range(B)])
        nxt = argmax_rows(range(B))
        for b in range(B):
            gen[b].append(nxt[b])
    return gen, pre


r = run_grid_point(f"llama.cpp-{args.ftype}" + ("-fa" if args.flash_attn else ""), args, prompts, call)
r["load_s"] = load_s
emit(r)
