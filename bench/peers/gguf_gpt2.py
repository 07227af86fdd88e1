"""Writes a GGUF (f32 or f16) of an HF GPT-2 folder with the `gguf` package, as llama.cpp's own
convert_hf_to_gguf.py does for GPT-2: Conv1D weights transposed to [out, in], tied lm_head omitted
(llama.cpp reuses token_embd), the byte-level BPE vocabulary and merges as tokenizer metadata."""
import json
import os
import sys

import gguf
import numpy as np
from safetensors.numpy import load_file


def convert(model_dir, out_path, ftype="f32"):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    st = load_file(os.path.join(model_dir, "model.safetensors"))
    st = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in st.items()}
    w = gguf.GGUFWriter(out_path, "gpt2")
    C, L = cfg["n_embd"], cfg["n_layer"]
    w.add_name("jitgen-random-gpt2")
    w.add_context_length(cfg["n_positions"])
    w.add_embedding_length(C)
    w.add_feed_forward_length(cfg.get("n_inner") or 4 * C)
    w.add_block_count(L)
    w.add_head_count(cfg["n_head"])
    w.add_layer_norm_eps(cfg["layer_norm_epsilon"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32 if ftype == "f32" else gguf.LlamaFileType.MOSTLY_F16)
    vocab = json.load(open(os.path.join(model_dir, "vocab.json")))
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    merges = [l.rstrip("\n") for l in open(os.path.join(model_dir, "merges.txt"), encoding="utf-8")
              if l.strip() and not l.startswith("#version")]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.NORMAL] * len(tokens))
    w.add_token_merges(merges)
    w.add_bos_token_id(cfg.get("bos_token_id", 50256))
    w.add_eos_token_id(cfg.get("eos_token_id", 50256))
    w.add_add_bos_token(False)

    def put(name, arr, big=True):
        arr = np.ascontiguousarray(arr.astype(np.float32))
        if ftype == "f16" and big and arr.ndim == 2:
            arr = arr.astype(np.float16)
        w.add_tensor(name, arr)

    put("token_embd.weight", st["wte.weight"])
    put("position_embd.weight", st["wpe.weight"])
    for i in range(L):
        p, q = f"h.{i}.", f"blk.{i}."
        put(q + "attn_norm.weight", st[p + "ln_1.weight"]); put(q + "attn_norm.bias", st[p + "ln_1.bias"])
        put(q + "attn_qkv.weight", st[p + "attn.c_attn.weight"].T); put(q + "attn_qkv.bias", st[p + "attn.c_attn.bias"])
        put(q + "attn_output.weight", st[p + "attn.c_proj.weight"].T)
        put(q + "attn_output.bias", st[p + "attn.c_proj.bias"])
        put(q + "ffn_norm.weight", st[p + "ln_2.weight"]); put(q + "ffn_norm.bias", st[p + "ln_2.bias"])
        put(q + "ffn_up.weight", st[p + "mlp.c_fc.weight"].T); put(q + "ffn_up.bias", st[p + "mlp.c_fc.bias"])
        put(q + "ffn_down.weight", st[p + "mlp.c_proj.weight"].T); put(q + "ffn_down.bias", st[p + "mlp.c_proj.bias"])
    put("output_norm.weight", st["ln_f.weight"]); put("output_norm.bias", st["ln_f.bias"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    convert(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "f32")
