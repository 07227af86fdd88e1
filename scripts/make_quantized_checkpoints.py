#!/usr/bin/env python3
"""Pre-quantized HF checkpoints (GPTQ and AWQ GEMM, 4 bits) and their oracle, for tests/quant_checkpoint_test.cc.

transformers cannot run GPTQ / AWQ checkpoints on a CPU without the gptqmodel / autoawq kernels, so the oracle is
built here from first principles:
  1. a random-weight HF model (LlamaForCausalLM / Qwen2ForCausalLM, small shapes, deterministic in the seed; weights
     scaled as jitgen's make-model scales them so that next-token distributions are peaked), its non-linear
     parameters rounded to fp16 as a real checkpoint stores them;
  2. every decoder linear quantized round-to-nearest per group (GPTQ's Quantizer formulas: sym / asym, min and max
     including 0; AWQ's pseudo_quantize_tensor: min / max of the group), with a shuffled act-order (desc_act)
     permutation where the case asks for one;
  3. packed exactly as the formats are published: GPTQ (AutoGPTQ QuantLinear.pack / GPTQModel): qweight int32
     [in / 8, out], 8 input rows per word, row 8r + j in bits 4j..4j+3; qzeros int32 [groups, out / 8], column
     8c + j in bits 4j, storing zero - 1 in checkpoint_format "gptq" (v1) and zero in "gptq_v2"; scales fp16
     [groups, out]; g_idx int32 [in] (the group of each input row). AWQ GEMM (AutoAWQ WQLinear_GEMM.from_linear):
     qweight int32 [in, out / 8] with the columns of each word in the order [0, 2, 4, 6, 1, 3, 5, 7] (nibble i holds
     column 8c + order[i]), qzeros int32 [groups, out / 8] in the same order, scales fp16 [groups, out];
  4. dequantized from the packed tensors with the published formula, written here independently of the C++ loader:
     W[k][n] = scale[g][n] * (q[k][n] - zero[g][n]) in fp32, g = g_idx[k] (GPTQ; v1 zero = stored + 1) or k / G
     (AWQ). AWQ is also dequantized by AutoAWQ's own dequantize_gemm (when the autoawq package is installed: it is
     pure torch) and must agree to the last bit of its fp16 result;
  5. the HF model with those dequantized weights runs in fp32: logits of every position of 3 prompts and greedy
     continuations. A hash of each dequantized weight (FNV-1a 64 of its fp32 bytes, [out, in] row-major) lets the
     test check the C++ loader's dequantization bit for bit without committing fp32 weights.

Writes tests/fixtures/quantized/<case>/ (config.json with quantization_config, model.safetensors) and
tests/fixtures/quantized_goldens.json. Deterministic: rerunning writes the same bytes.

Usage: scripts/make_quantized_checkpoints.py [--out-dir tests/fixtures]
(for the AutoAWQ check: pip install --no-deps --no-build-isolation autoawq==0.2.9; without it the script says so)
"""
import argparse
import importlib.metadata
import importlib.util
import json
import os
import random
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]  # nibble i of a word holds column 8c + AWQ_ORDER[i]
LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
           "mlp.up_proj", "mlp.down_proj"]
MAX_NEW = 16

# name, model_type, layers, hidden_size, intermediate_size, quantization_config. Shapes are as small as keeps every
# case meaningful: at least two groups along some input dimension (g_idx shuffles across groups), AWQ's
# in_features % group_size == 0, one two-layer model, untied heads (qwen2) and tied ones (llama).
CASES = [
    ("gptq_g32_sym", "llama", 2, 64, 64,
     {"quant_method": "gptq", "bits": 4, "group_size": 32, "desc_act": False, "sym": True,
      "checkpoint_format": "gptq", "damp_percent": 0.01, "true_sequential": True, "static_groups": False}),
    ("gptq_g32_asym_descact_qwen2", "qwen2", 1, 64, 64,
     {"quant_method": "gptq", "bits": 4, "group_size": 32, "desc_act": True, "sym": False,
      "checkpoint_format": "gptq", "damp_percent": 0.01}),
    ("gptq_g128_asym_descact_v2", "llama", 1, 32, 256,
     {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": True, "sym": False,
      "checkpoint_format": "gptq_v2"}),
    ("gptq_perchannel_sym", "llama", 1, 32, 64,
     {"quant_method": "gptq", "bits": 4, "group_size": -1, "desc_act": False, "sym": True,
      "checkpoint_format": "gptq"}),
    ("awq_g32_skip_down", "llama", 1, 64, 64,
     {"quant_method": "awq", "bits": 4, "group_size": 32, "zero_point": True, "version": "gemm",
      "modules_to_not_convert": ["down_proj"]}),
    ("awq_g64_qwen2", "qwen2", 1, 64, 128,
     {"quant_method": "awq", "bits": 4, "group_size": 64, "zero_point": True, "version": "gemm",
      "modules_to_not_convert": None}),
]
HEADS, KV_HEADS, VOCAB = 4, 2, 64


def fnv1a64(t):
    h = 0xCBF29CE484222325
    for b in t.contiguous().numpy().tobytes():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def rounded(xs):
    return [float(f"{x:.7g}") for x in xs]


def make_model(model_type, layers, hidden, inter, seed):
    kw = dict(vocab_size=VOCAB, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
              num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=128,
              rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=(model_type == "llama"),
              bos_token_id=1, eos_token_id=2)
    cfg = LlamaConfig(**kw) if model_type == "llama" else Qwen2Config(**kw)
    model = (LlamaForCausalLM if model_type == "llama" else Qwen2ForCausalLM)(cfg).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("embed_tokens.weight") or name == "lm_head.weight":
                v = torch.randn(p.shape, generator=g) * 0.6
            elif name == "model.norm.weight":
                v = torch.randn(p.shape, generator=g)
            elif name.endswith("layernorm.weight"):
                v = 1.0 + 0.1 * torch.randn(p.shape, generator=g)
            elif name.endswith(".bias"):
                v = 0.05 * torch.randn(p.shape, generator=g)
            else:  # linear [out, in]
                v = torch.randn(p.shape, generator=g) * (0.64 / p.shape[1] ** 0.5)
            p.copy_(v.half().float())  # what an fp16 checkpoint holds
    return model


def gptq_quantize(W, G, sym, perm):
    """W [out, in] fp32; groups over the input rows in `perm` order (act order), G = group size. Returns the codes
    q [in, out], zeros [groups, out] and fp16 scales [groups, out], and g_idx [in]."""
    N, K = W.shape
    groups = (K + G - 1) // G
    g_idx = torch.empty(K, dtype=torch.int32)
    g_idx[perm] = torch.arange(K, dtype=torch.int32) // G
    q = torch.empty(K, N, dtype=torch.int32)
    zeros = torch.empty(groups, N, dtype=torch.int32)
    scales = torch.empty(groups, N, dtype=torch.float16)
    for g in range(groups):
        rows = perm[g * G:(g + 1) * G]
        w = W[:, rows]  # [N, G]
        xmin = torch.clamp(w.min(1).values, max=0)
        xmax = torch.clamp(w.max(1).values, min=0)
        if sym:
            xmax = torch.maximum(xmin.abs(), xmax)
            xmin = torch.where(xmin < 0, -xmax, xmin)
        both0 = (xmin == 0) & (xmax == 0)
        xmin, xmax = torch.where(both0, -1.0, xmin), torch.where(both0, 1.0, xmax)
        s = (xmax - xmin) / 15
        z = torch.full_like(s, 8.0) if sym else torch.round(-xmin / s)
        qq = torch.clamp(torch.round(w / s[:, None]) + z[:, None], 0, 15)
        q[rows, :] = qq.t().to(torch.int32)
        zeros[g] = z.to(torch.int32)
        scales[g] = s.half()
    return q, zeros, scales, g_idx


def awq_quantize(W, G):
    N, K = W.shape
    groups = K // G
    q = torch.empty(K, N, dtype=torch.int32)
    zeros = torch.empty(groups, N, dtype=torch.int32)
    scales = torch.empty(groups, N, dtype=torch.float16)
    for g in range(groups):
        w = W[:, g * G:(g + 1) * G]
        mx, mn = w.max(1).values, w.min(1).values
        s = torch.clamp(mx - mn, min=1e-5) / 15
        z = torch.clamp(-torch.round(mn / s), 0, 15)
        q[g * G:(g + 1) * G, :] = torch.clamp(torch.round(w / s[:, None]) + z[:, None], 0, 15).t().to(torch.int32)
        zeros[g] = z.to(torch.int32)
        scales[g] = s.half()
    return q, zeros, scales


def pack_rows(q):  # [K, N] codes -> int32 [K / 8, N]: 8 consecutive rows per word (GPTQ qweight)
    K, N = q.shape
    v = q.to(torch.int64).reshape(K // 8, 8, N)
    word = sum(v[:, j, :] << (4 * j) for j in range(8))
    return _to_i32(word)


def pack_cols(x, order):  # [R, N] -> int32 [R, N / 8]: nibble i of word c holds column 8c + order[i]
    R, N = x.shape
    v = x.to(torch.int64).reshape(R, N // 8, 8)
    word = sum(v[:, :, order[i]] << (4 * i) for i in range(8))
    return _to_i32(word)


def _to_i32(word):
    return torch.where(word >= 2 ** 31, word - 2 ** 32, word).to(torch.int32)


def unpack_rows(qweight):  # the oracle's own unpacking of GPTQ qweight
    w = qweight.to(torch.int64) & 0xFFFFFFFF
    return torch.stack([(w >> (4 * j)) & 15 for j in range(8)], 1).reshape(-1, qweight.shape[1])


def unpack_cols(packed, order):
    w = packed.to(torch.int64) & 0xFFFFFFFF
    out = torch.empty(w.shape[0], w.shape[1] * 8, dtype=torch.int64)
    for i in range(8):
        out[:, order[i]::8] = (w >> (4 * i)) & 15
    return out


def dequant_gptq(t, G, v1):
    q = unpack_rows(t["qweight"])  # [K, N]
    z = unpack_cols(t["qzeros"], list(range(8))) + (1 if v1 else 0)  # [groups, N]
    g = t["g_idx"].long()
    return (t["scales"].float()[g] * (q - z[g]).float()).t().contiguous()  # [N, K]


def dequant_awq(t, G):
    q = unpack_cols(t["qweight"], AWQ_ORDER)  # [K, N]
    z = unpack_cols(t["qzeros"], AWQ_ORDER)
    g = torch.arange(q.shape[0]) // G
    return (t["scales"].float()[g] * (q - z[g]).float()).t().contiguous()


def autoawq_dequantize_gemm():
    """AutoAWQ's pure-torch dequantize_gemm, loaded from its file (the package's __init__ needs CUDA-era deps)."""
    try:
        dist = importlib.metadata.distribution("autoawq")
    except importlib.metadata.PackageNotFoundError:
        return None, None
    path = next(f for f in dist.files if str(f).endswith("awq/utils/packing_utils.py"))
    spec = importlib.util.spec_from_file_location("awq_packing_utils", dist.locate_file(path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.dequantize_gemm, f"autoawq {dist.version} awq/utils/packing_utils.py dequantize_gemm"


def skipped(qc, module):  # transformers' should_convert_module, suffix and prefix forms (what the cases use)
    pats = qc.get("modules_to_not_convert") or []
    return any(module.endswith(p) or module.startswith(p + ".") or module == p for p in pats)


def build_case(name, model_type, layers, hidden, inter, qc, seed, out_dir, awq_dequant):
    model = make_model(model_type, layers, hidden, inter, seed)
    rng = torch.Generator().manual_seed(seed + 1000)
    sd = {k: v.half() for k, v in model.state_dict().items()
          if not k.endswith("rotary_emb.inv_freq") and not (model.config.tie_word_embeddings and k == "lm_head.weight")}
    hashes, checks = {}, []
    G0 = qc["group_size"]
    for i in range(layers):
        for lin in LINEARS:
            module = f"model.layers.{i}.{lin}"
            if skipped(qc, module):
                continue
            W = sd.pop(module + ".weight").float()  # [N, K]
            N, K = W.shape
            G = K if G0 == -1 else G0
            if qc["quant_method"] == "gptq":
                perm = torch.randperm(K, generator=rng) if qc["desc_act"] else torch.arange(K)
                q, zeros, scales, g_idx = gptq_quantize(W, G, qc["sym"], perm)
                v1 = qc["checkpoint_format"] == "gptq"
                if v1:
                    assert int(zeros.min()) >= 1, "v1 cannot store zero 0 (stored zero - 1 would be -1)"
                t = {"qweight": pack_rows(q), "qzeros": pack_cols(zeros - (1 if v1 else 0), list(range(8))),
                     "scales": scales, "g_idx": g_idx}
                deq = dequant_gptq(t, G, v1)
            else:
                q, zeros, scales = awq_quantize(W, G)
                t = {"qweight": pack_cols(q, AWQ_ORDER), "qzeros": pack_cols(zeros, AWQ_ORDER), "scales": scales}
                deq = dequant_awq(t, G)
                if awq_dequant is not None:
                    theirs = awq_dequant(t["qweight"], t["qzeros"], t["scales"], 4, G)  # [K, N] fp16
                    assert torch.equal(theirs, deq.t().half()), f"{module}: autoawq's dequantization differs"
                    checks.append(module)
            for k, v in t.items():
                sd[f"{module}.{k}"] = v.contiguous()
            hashes[module + ".weight"] = fnv1a64(deq)
            with torch.no_grad():
                model.get_submodule(module).weight.copy_(deq)
    d = os.path.join(out_dir, "quantized", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    save_file(dict(sorted(sd.items())), os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    cfg = model.config.to_dict()
    cfg.update({"torch_dtype": "float16", "quantization_config": qc})
    cfg.pop("dtype", None)
    cfg.pop("transformers_version", None)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1, sort_keys=True)

    prng = random.Random(seed)
    case = {"name": name, "model_type": model_type, "quantization_config": qc, "weight_fnv1a64": hashes,
            "second_oracle_modules": checks, "logits": [], "greedy": []}
    with torch.no_grad():
        for n in (1, 7):
            p = [prng.randrange(3, VOCAB) for _ in range(n)]
            out = model(torch.tensor([p])).logits[0]
            case["logits"].append({"input_ids": p, "logits": [rounded(r.tolist()) for r in out]})
        for n in (3, 8):
            p = [prng.randrange(3, VOCAB) for _ in range(n)]
            out = model.generate(torch.tensor([p]), attention_mask=torch.ones(1, n, dtype=torch.long),
                                 max_new_tokens=MAX_NEW, do_sample=False, num_beams=1, pad_token_id=2,
                                 eos_token_id=None, output_scores=True, return_dict_in_generate=True)
            gaps = [float(s.topk(2).values[0, 0] - s.topk(2).values[0, 1]) for s in out.scores]
            case["greedy"].append({"input_ids": p, "sequence": out.sequences[0].tolist(),
                                   "top2_gaps": rounded(gaps), "min_top2_gap": min(gaps)})
    return case


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default="tests/fixtures")
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    import transformers
    awq_dequant, awq_name = autoawq_dequantize_gemm()
    cases = [build_case(*c, seed=100 + i, out_dir=a.out_dir, awq_dequant=awq_dequant)
             for i, c in enumerate(CASES)]
    doc = {"generator": "scripts/make_quantized_checkpoints.py", "transformers": transformers.__version__,
           "torch": torch.__version__, "second_oracle": awq_name, "max_new_tokens": MAX_NEW, "cases": cases}
    path = os.path.join(a.out_dir, "quantized_goldens.json")
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    for c in cases:
        print(f"{c['name']}: greedy min top-2 gap {min(g['min_top2_gap'] for g in c['greedy']):.4f}, "
              f"{len(c['second_oracle_modules'])} modules checked against {awq_name}", file=sys.stderr)
    print(f"wrote {path} ({os.path.getsize(path) // 1024} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
