"""Writes a GGUF (f32 or f16) of an HF Llama folder (LlamaForCausalLM: kjv-llama-5m, the make-model Llama presets)
with the `gguf` package, for llama.cpp's LLM_ARCH_LLAMA:

* q_proj / k_proj rows are permuted from HF's rotate-half RoPE layout (the two halves of a head) to llama.cpp's
  interleaved pairs: per head, row i of the first half and row i of the second half become rows 2i and 2i + 1.
  The attention scores are unchanged because q and k are permuted alike.
* tied lm_head: no output.weight (llama.cpp reuses token_embd); an untied one is written as output.weight.
* --pad-ffn 32 (the default) pads intermediate_size with zero rows of gate/up and zero columns of down to a
  multiple of 32. The model is the same function (silu(0) * 0 = 0 feeds zero columns), and llama.cpp's 32-wide
  blocks (Q8_0, Q4_0) then cover every linear weight: without it a ffn_down whose input width is not a multiple of
  32 (kjv-llama-5m: 688) is kept in F16 by llama-quantize. jitgen pads K to whole groups with zeros the same way
  (src/ops/quant.h), so both quantize the same real weights in the same groups of 32.
* vocabulary: the folder's SentencePiece tokenizer.model when present (pieces, scores, token types, as a llama.cpp
  "llama" vocabulary); otherwise (random make-model folders) a placeholder SentencePiece vocabulary of the model's
  size (bos / eos / unk from config.json, the 256 byte pieces, then "tokN"): the benches feed token ids, so the text
  of a piece never matters, only that llama.cpp loads the vocabulary.

    python3 bench/peers/gguf_llama.py MODEL_DIR OUT.gguf [f32|f16]
"""
import argparse
import json
import os

import gguf
import numpy as np


def load_tensors(model_dir):
    """name -> float32 numpy array, from every *.safetensors of the folder. Read straight from the file (8-byte
    header length, JSON header, raw little-endian data) with numpy, bf16 widened by hand: no torch needed (the
    AVX2 peers venv has none)."""
    dtypes = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64}
    out = {}
    for fn in sorted(os.listdir(model_dir)):
        if fn.endswith(".safetensors"):
            with open(os.path.join(model_dir, fn), "rb") as f:
                n = int.from_bytes(f.read(8), "little")
                header = json.loads(f.read(n))
                data = np.memmap(f, dtype=np.uint8, mode="r", offset=8 + n)
            for k, v in header.items():
                if k == "__metadata__":
                    continue
                if v["dtype"] not in dtypes:
                    raise SystemExit(f"{fn}: {k}: dtype {v['dtype']} not read here")
                a, b = v["data_offsets"]
                t = np.frombuffer(data[a:b], dtype=dtypes[v["dtype"]]).reshape(v["shape"])
                out[k] = ((t.astype(np.uint32) << 16).view(np.float32) if v["dtype"] == "BF16"
                          else t.astype(np.float32))
    if not out:
        raise SystemExit(f"{model_dir}: no *.safetensors file")
    return out


def rope_permute(w, n_head):
    """HF rotate-half rows -> llama.cpp interleaved rows, per head ([n_head * d, in])."""
    d = w.shape[0] // n_head
    return w.reshape(n_head, 2, d // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def add_vocab(w, model_dir, cfg):
    V = cfg["vocab_size"]
    tok_path = os.path.join(model_dir, "tokenizer.model")
    T = gguf.TokenType
    if os.path.exists(tok_path):
        from sentencepiece import SentencePieceProcessor
        sp = SentencePieceProcessor()
        sp.LoadFromFile(tok_path)
        tokens, scores, types = [f"[PAD{i}]".encode() for i in range(V)], [-10000.0] * V, [T.UNUSED] * V
        for i in range(min(V, sp.vocab_size())):
            tokens[i] = sp.IdToPiece(i).encode("utf-8")
            scores[i] = sp.GetScore(i)
            types[i] = (T.UNKNOWN if sp.IsUnknown(i) else T.CONTROL if sp.IsControl(i) else
                        T.UNUSED if sp.IsUnused(i) else T.BYTE if sp.IsByte(i) else T.NORMAL)
    else:
        special = {cfg.get("bos_token_id"): "<s>", cfg.get("eos_token_id"): "</s>"}
        special = {k: v for k, v in special.items() if isinstance(k, int) and 0 <= k < V}
        if not special:
            special = {1: "<s>", 2: "</s>"}
        unk = next(i for i in range(V) if i not in special)
        tokens, scores, types = [b""] * V, [0.0] * V, [T.NORMAL] * V
        for i, s in special.items():
            tokens[i], types[i] = s.encode(), T.CONTROL
        tokens[unk], types[unk] = b"<unk>", T.UNKNOWN
        free = (i for i in range(V) if i not in special and i != unk)
        for b in range(256):  # llama.cpp's SentencePiece loader looks up <0x0A> for the newline
            i = next(free)
            tokens[i], types[i] = f"<0x{b:02X}>".encode(), T.BYTE
        for n, i in enumerate(free):
            tokens[i], scores[i] = f"tok{n}".encode(), -float(n)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    for key, fn in (("bos_token_id", w.add_bos_token_id), ("eos_token_id", w.add_eos_token_id)):
        if isinstance(cfg.get(key), int):
            fn(cfg[key])
    w.add_add_bos_token(False)
    w.add_add_eos_token(False)


def convert(model_dir, out_path, ftype="f32", pad_ffn=32):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    if cfg.get("model_type") not in ("llama", "mistral") or cfg.get("attention_bias") or cfg.get("mlp_bias"):
        raise SystemExit(f"{model_dir}/config.json: model_type {cfg.get('model_type')!r} with biases is not a "
                         "plain Llama (this converter writes llama.cpp's LLM_ARCH_LLAMA)")
    if (cfg.get("rope_scaling") or {}).get("rope_type", "default") != "default":
        raise SystemExit(f"{model_dir}/config.json: rope_scaling {cfg['rope_scaling']} is not supported here")
    st = load_tensors(model_dir)
    C, L, H = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
    Hkv = cfg.get("num_key_value_heads") or H
    D = cfg.get("head_dim") or C // H
    F = cfg["intermediate_size"]
    Fp = (F + pad_ffn - 1) // pad_ffn * pad_ffn if pad_ffn else F
    theta = cfg.get("rope_theta") or (cfg.get("rope_parameters") or {}).get("rope_theta", 10000.0)
    w = gguf.GGUFWriter(out_path, "llama")
    w.add_name(os.path.basename(os.path.normpath(model_dir)))
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(C)
    w.add_feed_forward_length(Fp)
    w.add_block_count(L)
    w.add_head_count(H)
    w.add_head_count_kv(Hkv)
    w.add_key_length(D)
    w.add_value_length(D)
    w.add_rope_dimension_count(D)
    w.add_rope_freq_base(float(theta))
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_vocab_size(cfg["vocab_size"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32 if ftype == "f32" else gguf.LlamaFileType.MOSTLY_F16)
    add_vocab(w, model_dir, cfg)

    def put(name, arr):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        w.add_tensor(name, arr.astype(np.float16) if ftype == "f16" and arr.ndim == 2 else arr)

    def pad_rows(a):  # [F, C] -> [Fp, C]
        return np.concatenate([a, np.zeros((Fp - F, a.shape[1]), np.float32)]) if Fp > F else a

    put("token_embd.weight", st["model.embed_tokens.weight"])
    for i in range(L):
        p, q = f"model.layers.{i}.", f"blk.{i}."
        put(q + "attn_norm.weight", st[p + "input_layernorm.weight"])
        put(q + "attn_q.weight", rope_permute(st[p + "self_attn.q_proj.weight"], H))
        put(q + "attn_k.weight", rope_permute(st[p + "self_attn.k_proj.weight"], Hkv))
        put(q + "attn_v.weight", st[p + "self_attn.v_proj.weight"])
        put(q + "attn_output.weight", st[p + "self_attn.o_proj.weight"])
        put(q + "ffn_norm.weight", st[p + "post_attention_layernorm.weight"])
        put(q + "ffn_gate.weight", pad_rows(st[p + "mlp.gate_proj.weight"]))
        put(q + "ffn_up.weight", pad_rows(st[p + "mlp.up_proj.weight"]))
        put(q + "ffn_down.weight", pad_rows(st[p + "mlp.down_proj.weight"].T).T)
    put("output_norm.weight", st["model.norm.weight"])
    if not cfg.get("tie_word_embeddings", False):
        put("output.weight", st["lm_head.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("out")
    ap.add_argument("ftype", nargs="?", default="f32", choices=["f32", "f16"])
    ap.add_argument("--pad-ffn", type=int, default=32, help="pad intermediate_size to a multiple (0: no padding)")
    a = ap.parse_args()
    convert(a.model_dir, a.out, a.ftype, a.pad_ffn)
