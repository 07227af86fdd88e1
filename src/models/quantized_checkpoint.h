#pragma once
// Pre-quantized HF checkpoints: GPTQ and AWQ (GEMM packing), 4 bits, read as they are and repacked into jitgen's
// own int4 panels (ops/quant.h). Shared by the families: a family asks `quantizes(module)` for each nn.Linear and,
// when true, loads it with load_quantized_linear instead of reading `<module>.weight`.
//
// config.json `quantization_config` (transformers' GPTQConfig / AwqConfig field names; GPTQModel's and AutoAWQ's
// checkpoints use the same):
//   gptq: bits 4, group_size (-1 = one group over the whole input dimension, else a multiple of 4), desc_act, sym,
//         checkpoint_format (or format) "gptq" (v1: zeros stored minus one) or "gptq_v2" (zeros as they are),
//         modules_in_block_to_quantize, modules_to_not_convert; lm_head false, dynamic empty, pack_dtype int32.
//   awq:  bits 4, group_size, zero_point true, version (or format) "gemm", modules_to_not_convert.
// Fields that only steer calibration or a backend (damp_percent, true_sequential, use_exllama, meta, ...) are
// ignored; any other field or value is refused naming it (it could change the layout).
//
// Tensors of a quantized module `<m>` (HF saves them under these names), K = in_features, N = out_features:
//   gptq: <m>.qweight int32 [K / 8, N]: word [r][n] holds code(k = 8r + j, n) in bits 4j .. 4j + 3
//         <m>.qzeros  int32 [groups, N / 8]: word [g][c] holds zero(g, n = 8c + j) in bits 4j (v1: zero - 1)
//         <m>.scales  fp16  [groups, N];  <m>.g_idx int32 [K]: the group of each input row (optional without
//         desc_act: k / group_size); groups = ceil(K / group_size).
//   awq:  <m>.qweight int32 [K, N / 8]: word [k][c] holds code(k, n = 8c + order[i]) in bits 4i, with
//         order = [0, 2, 4, 6, 1, 3, 5, 7]; <m>.qzeros int32 [groups, N / 8], same order; <m>.scales fp16 [groups, N];
//         groups = K / group_size.
//   W[k][n] = scale[g][n] * (code(k, n) - zero(g, n)), g = g_idx[k] (gptq) or k / group_size (awq).
//   <m>.bias stays an ordinary 16-bit tensor, read by the family as for an unquantized model.
// Sources followed: transformers utils/quantization_config.py and quantizers/quantizers_utils.py
// (should_convert_module); AutoGPTQ nn_modules/qlinear/qlinear_cuda_old.py (pack, torch dequantization, zeros + 1);
// GPTQModel utils/model.py (convert_gptq_v1_to_v2_format); AutoAWQ modules/linear/gemm.py (from_linear) and
// utils/packing_utils.py (dequantize_gemm).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "io/safetensors.h"
#include "ops/quant.h"

namespace jitgen::models {

struct QuantizedCheckpointConfig {
  std::string config_path;  // for error messages
  std::string method;       // "gptq" or "awq"
  int bits = 4;
  int group_size = 128;     // -1: one group over K
  bool desc_act = false;
  bool sym = true;
  bool gptq_v1 = true;      // gptq checkpoint_format "gptq": zeros stored minus one
  std::vector<std::string> modules_to_not_convert;
  std::vector<std::string> modules_in_block;  // GPTQ modules_in_block_to_quantize, flattened; empty = all

  // "gptq, bits 4, group_size 128, desc_act, asym, checkpoint_format gptq": what error messages quote.
  std::string describe() const;
  // Whether the nn.Linear `module` (e.g. "model.layers.0.mlp.down_proj") is stored quantized: not matched by
  // modules_to_not_convert (transformers' should_convert_module: a prefix ending at a module boundary, a regex
  // over such a prefix, or a suffix) and, for GPTQ with modules_in_block_to_quantize, named there.
  bool quantizes(const std::string& module) const;
};

// quantization_config of config.json (already parsed; `path` names it), or nullopt when there is none. Throws
// Error(kInvalidFile) naming the field and value for what jitgen does not load, and Error(kInvalidArgument) when
// the load asks to quantize again (--quantize / JITGEN_WEIGHTS=int*, read from weight_format_for_load()).
std::optional<QuantizedCheckpointConfig> read_quantization_config(const nlohmann::json& config, const std::string& path);

struct QuantizedLinear {
  Tensor weight;  // [K, N] f32: the exact dequantization, in the kernels' [in, out] layout
  std::shared_ptr<const cpu::QuantMatrix> quant;  // the same weights as int4 codes + fp16 scales + zeros
};

// Reads and repacks module `module` with in_features K and out_features N. Throws Error(kInvalidFile) naming the
// file and tensor for a missing tensor, a wrong dtype or shape, a g_idx out of range or with more than group_size
// rows in one group, and shapes that 4-bit packing cannot have (K or N not a multiple of 8). `weight` is a counted
// fp32 copy (models/weight_layout.h).
QuantizedLinear load_quantized_linear(const io::Checkpoint& ckpt, const QuantizedCheckpointConfig& qc,
                                      const std::string& module, int64_t K, int64_t N);
// Throws what load_quantized_linear would throw for that module, reading only its metadata and g_idx: a loader's
// first pass, before anything is read or packed.
void check_quantized_linear(const io::Checkpoint& ckpt, const QuantizedCheckpointConfig& qc, const std::string& module,
                            int64_t K, int64_t N);

}  // namespace jitgen::models
