// GPTQ / AWQ checkpoints read as they are and repacked into int4 panels (models/quantized_checkpoint.h).
#include "models/quantized_checkpoint.h"

#include <algorithm>
#include <cstring>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "jitgen/error.h"
#include "models/weight_layout.h"
#include "ops/prepared_weights.h"

namespace jitgen::models {

namespace {

using nlohmann::json;

// Fields that steer calibration, kernels or bookkeeping only: the stored tensors do not depend on them.
const std::set<std::string>& neutral_fields(const std::string& method) {
  static const std::set<std::string> gptq = {
      "tokenizer", "dataset", "damp_percent", "damp_auto_increment", "true_sequential", "use_cuda_fp16",
      "model_seqlen", "block_name_to_quantize", "module_name_preceding_first_block", "batch_size", "pad_token_id",
      "use_exllama", "exllama_config", "max_input_length", "cache_block_outputs", "static_groups", "act_group_aware",
      "mse", "model_name_or_path", "model_file_base_name", "meta", "backend", "parallel_packing", "device", "v2",
      "v2_alpha", "v2_memory_device", "hyb_act", "offload_to_disk", "offload_to_disk_path", "is_marlin_format",
      "quantizer", "checkpoint_format", "format", "lm_head", "dynamic", "pack_dtype", "adapter", "rotation"};
  static const std::set<std::string> awq = {"backend", "do_fuse", "fuse_max_seq_len", "modules_to_fuse",
                                            "exllama_config", "version", "format"};
  return method == "gptq" ? gptq : awq;
}

[[noreturn]] void bad_value(const std::string& path, const std::string& field, const json& v, const std::string& want) {
  throw_invalid_file(fmt::format("{}: quantization_config.{} is {}; jitgen loads {}", path, field, v.dump(), want));
}

std::vector<std::string> string_list(const std::string& path, const std::string& field, const json& v) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (!v.is_array()) bad_value(path, field, v, "a list of module names or null");
  for (const json& e : v) {
    if (e.is_array()) {  // modules_in_block_to_quantize: a list of lists
      for (const json& s : e) {
        if (!s.is_string()) bad_value(path, field, v, "lists of module names");
        out.push_back(s.get<std::string>());
      }
    } else if (e.is_string()) {
      out.push_back(e.get<std::string>());
    } else {
      bad_value(path, field, v, "a list of module names or null");
    }
  }
  return out;
}

// transformers' should_convert_module pattern test: re.match(pattern + boundary) or a suffix. The boundary
// ((?<=\.)|(?=\.|$)) puts the end of the match right after a '.', before one, or at the end of the name; std::regex
// has no lookbehind, so each such prefix is matched whole instead.
bool pattern_matches(const std::string& pattern, const std::string& name) {
  if (name.size() >= pattern.size() && name.compare(name.size() - pattern.size(), pattern.size(), pattern) == 0)
    return true;
  std::regex re;
  try {
    re = std::regex(pattern);
  } catch (const std::regex_error&) {
    return name == pattern || name.rfind(pattern + ".", 0) == 0;
  }
  for (size_t end = 0; end <= name.size(); ++end) {
    const bool boundary = end == name.size() || name[end] == '.' || (end > 0 && name[end - 1] == '.');
    if (boundary && std::regex_match(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(end), re)) return true;
  }
  return false;
}

int32_t load_i32(const Tensor& t, int64_t i) {  // mapped files need not be aligned
  int32_t v;
  std::memcpy(&v, static_cast<const char*>(t.data()) + i * 4, 4);
  return v;
}
uint16_t load_u16(const Tensor& t, int64_t i) {
  uint16_t v;
  std::memcpy(&v, static_cast<const char*>(t.data()) + i * 2, 2);
  return v;
}
int nibble(int32_t word, int i) { return static_cast<int>((static_cast<uint32_t>(word) >> (4 * i)) & 15u); }

}  // namespace

std::string QuantizedCheckpointConfig::describe() const {
  std::string s = fmt::format("{}, bits {}, group_size {}", method, bits, group_size);
  if (method == "gptq")
    s += fmt::format("{}, {}, checkpoint_format {}", desc_act ? ", desc_act" : "", sym ? "sym" : "asym",
                     gptq_v1 ? "gptq" : "gptq_v2");
  return s;
}

bool QuantizedCheckpointConfig::quantizes(const std::string& module) const {
  for (const std::string& p : modules_to_not_convert)
    if (pattern_matches(p, module)) return false;
  if (method == "gptq" && !modules_in_block.empty())
    return std::any_of(modules_in_block.begin(), modules_in_block.end(), [&](const std::string& m) {
      return module.size() > m.size() && module.compare(module.size() - m.size(), m.size(), m) == 0 &&
             module[module.size() - m.size() - 1] == '.';
    });
  return true;
}

std::optional<QuantizedCheckpointConfig> read_quantization_config(const json& config, const std::string& path) {
  if (!config.is_object() || !config.contains("quantization_config") || config["quantization_config"].is_null())
    return std::nullopt;
  const json& q = config["quantization_config"];
  if (!q.is_object())
    throw_invalid_file(fmt::format("{}: quantization_config is {}; jitgen loads an object (HF's quantization_config)",
                                   path, q.dump()));
  QuantizedCheckpointConfig c;
  c.config_path = path;
  const json method = q.value("quant_method", json(nullptr));
  if (!method.is_string() || (method != "gptq" && method != "awq"))
    throw_invalid_file(fmt::format("{}: quantization_config.quant_method is {}; jitgen loads \"gptq\" and \"awq\" "
                                   "checkpoints (4 bits)",
                                   path, q.contains("quant_method") ? method.dump() : "missing"));
  c.method = method.get<std::string>();
  const std::set<std::string> common = {"quant_method", "bits", "group_size", "desc_act", "sym", "zero_point",
                                        "modules_to_not_convert", "modules_in_block_to_quantize"};
  for (const auto& [key, v] : q.items())
    if (!common.count(key) && !neutral_fields(c.method).count(key))
      throw_invalid_file(fmt::format("{}: quantization_config.{} is not a field jitgen knows for {} checkpoints (it "
                                     "could change the stored layout); jitgen reads quant_method, bits, group_size, "
                                     "{}modules_to_not_convert and calibration-only fields",
                                     path, key, c.method, c.method == "gptq" ? "desc_act, sym, checkpoint_format, " : "zero_point, version, "));
  const json bits = q.value("bits", json(4));
  if (bits != 4) bad_value(path, "bits", bits, "4-bit checkpoints only (bits 4)");
  const json gs = q.value("group_size", json(128));
  if (!gs.is_number_integer() || !(gs == -1 || (gs.get<int64_t>() > 0 && gs.get<int64_t>() % 4 == 0 && gs.get<int64_t>() <= 65536)))
    bad_value(path, "group_size", gs, "-1 or a positive multiple of 4 (e.g. 32, 64, 128)");
  c.group_size = gs.get<int>();
  c.modules_to_not_convert = string_list(path, "modules_to_not_convert", q.value("modules_to_not_convert", json(nullptr)));
  auto flag = [&](const char* field, bool def) {
    const json v = q.value(field, json(def));
    if (!v.is_boolean()) bad_value(path, field, v, "true or false");
    return v.get<bool>();
  };
  if (c.method == "gptq") {
    c.desc_act = flag("desc_act", false);
    c.sym = flag("sym", true);
    const json fmt_field = q.contains("checkpoint_format") ? q["checkpoint_format"] : q.value("format", json("gptq"));
    const char* fmt_name = q.contains("checkpoint_format") ? "checkpoint_format" : "format";
    if (fmt_field != "gptq" && fmt_field != "gptq_v2")
      bad_value(path, fmt_name, fmt_field, "\"gptq\" (v1) and \"gptq_v2\" (marlin, bitblas, ipex and other "
                                           "kernel-specific packings are not read)");
    c.gptq_v1 = fmt_field == "gptq";
    if (q.value("lm_head", json(false)) != false) bad_value(path, "lm_head", q["lm_head"], "a 16-bit lm_head (false)");
    const json dyn = q.value("dynamic", json(nullptr));
    if (!dyn.is_null() && !(dyn.is_object() && dyn.empty()))
      bad_value(path, "dynamic", dyn, "one setting for every module (null or {})");
    const json pack = q.value("pack_dtype", json("int32"));
    if (pack != "int32" && pack != "torch.int32") bad_value(path, "pack_dtype", pack, "int32 packing");
    if (q.value("is_marlin_format", json(false)) != false)
      bad_value(path, "is_marlin_format", q["is_marlin_format"], "the GPTQ packing (false)");
    if (!q.value("adapter", json(nullptr)).is_null()) bad_value(path, "adapter", q["adapter"], "no adapter (null)");
    if (!q.value("rotation", json(nullptr)).is_null()) bad_value(path, "rotation", q["rotation"], "no rotation (null)");
    c.modules_in_block = string_list(path, "modules_in_block_to_quantize", q.value("modules_in_block_to_quantize", json(nullptr)));
  } else {
    if (!flag("zero_point", true)) bad_value(path, "zero_point", q["zero_point"], "zero_point true");
    const json ver = q.contains("version") ? q["version"] : q.value("format", json("gemm"));
    const char* ver_name = q.contains("version") ? "version" : "format";
    if (!ver.is_string() || (ver != "gemm" && ver != "GEMM"))
      bad_value(path, ver_name, ver, "the GEMM packing (\"gemm\"; gemv, gemv_fast, marlin and exllama are not read)");
    if (q.contains("desc_act") && q["desc_act"] != false) bad_value(path, "desc_act", q["desc_act"], "false for awq");
  }
  const cpu::WeightFormat f = cpu::weight_format_for_load();
  if (f.quant)
    throw_invalid_argument(fmt::format("{}: the checkpoint is already quantized (quantization_config: {}); "
                                       "--quantize / JITGEN_WEIGHTS / quantize= {} would quantize it again: load it "
                                       "without a weight format",
                                       path, c.describe(), f.quant->name()));
  return c;
}

namespace {

// The tensors of quantized module `module`, checked: everything load_quantized_linear can refuse is refused here.
struct ModuleTensors {
  const Tensor *qweight = nullptr, *qzeros = nullptr, *scales = nullptr, *g_idx = nullptr;
  int64_t G = 0, groups = 0;
  std::vector<int32_t> group_of;  // [K]: the group of each input row
  bool contiguous = true;         // groups are runs of consecutive rows (no permutation needed)
};

ModuleTensors module_tensors(const io::Checkpoint& ckpt, const QuantizedCheckpointConfig& qc,
                             const std::string& module, int64_t K, int64_t N) {
  const bool gptq = qc.method == "gptq";
  if (K % 8 != 0 || N % 8 != 0)
    throw_invalid_file(fmt::format("{}: \"{}\" has in_features {} and out_features {}; 4-bit {} packing needs both to "
                                   "be multiples of 8",
                                   ckpt.description(), module, K, N, qc.method));
  ModuleTensors t;
  t.G = qc.group_size > 0 ? qc.group_size : K;
  const int64_t G = t.G;
  if (!gptq && K % G != 0)
    throw_invalid_file(fmt::format("{}: \"{}\" has in_features {}, not a multiple of quantization_config.group_size {} "
                                   "(awq stores in_features / group_size groups)",
                                   ckpt.description(), module, K, G));
  const int64_t groups = t.groups = (K + G - 1) / G;
  auto get = [&](const std::string& suffix, std::vector<DType> dtypes, const Shape& shape, bool required = true) {
    const std::string name = module + "." + suffix;
    const io::TensorEntry* e = ckpt.find(name);
    if (!e) {
      if (!required) return static_cast<const Tensor*>(nullptr);
      throw_invalid_file(fmt::format("{}: missing tensor \"{}\" (config.json quantization_config: {})",
                                     ckpt.description(), name, qc.describe()));
    }
    if (std::find(dtypes.begin(), dtypes.end(), e->tensor.dtype()) == dtypes.end())
      throw_invalid_file(fmt::format("{}: tensor \"{}\" has dtype {}, expected {}", e->file, name,
                                     dtype_name(e->tensor.dtype()), dtype_name(dtypes[0])));
    if (e->tensor.shape() != shape)
      throw_invalid_file(fmt::format("{}: tensor \"{}\" has shape {}, expected {} (in_features {}, out_features {}, "
                                     "quantization_config: {})",
                                     e->file, name, shape_str(e->tensor.shape()), shape_str(shape), K, N,
                                     qc.describe()));
    return &e->tensor;
  };
  t.qweight = get("qweight", {DType::kI32}, gptq ? Shape{K / 8, N} : Shape{K, N / 8});
  t.qzeros = get("qzeros", {DType::kI32}, {groups, N / 8});
  t.scales = get("scales", {DType::kF16, DType::kBF16}, {groups, N});
  t.g_idx = gptq ? get("g_idx", {DType::kI32}, {K}, qc.desc_act) : nullptr;

  t.group_of.resize(static_cast<size_t>(K));
  std::vector<int64_t> rows(static_cast<size_t>(groups), 0);
  for (int64_t k = 0; k < K; ++k) {
    const int64_t g = t.g_idx ? load_i32(*t.g_idx, k) : k / G;
    if (g < 0 || g >= groups)
      throw_invalid_file(fmt::format("{}: tensor \"{}.g_idx\" [{}] = {} is outside [0, {}) (groups of {} input rows)",
                                     ckpt.description(), module, k, g, groups, G));
    if (++rows[g] > G)
      throw_invalid_file(fmt::format("{}: tensor \"{}.g_idx\" puts more than group_size = {} input rows into group "
                                     "{}",
                                     ckpt.description(), module, G, g));
    t.group_of[k] = static_cast<int32_t>(g);
    t.contiguous = t.contiguous && g == k / G;
  }
  return t;
}

}  // namespace

void check_quantized_linear(const io::Checkpoint& ckpt, const QuantizedCheckpointConfig& qc, const std::string& module,
                            int64_t K, int64_t N) {
  (void)module_tensors(ckpt, qc, module, K, N);
  check_finite(*ckpt.find(module + ".scales"));  // --check-weights: the codes are integers, the scales are not
}

QuantizedLinear load_quantized_linear(const io::Checkpoint& ckpt, const QuantizedCheckpointConfig& qc,
                                      const std::string& module, int64_t K, int64_t N) {
  const bool gptq = qc.method == "gptq";
  const ModuleTensors t = module_tensors(ckpt, qc, module, K, N);
  const Tensor &qweight = *t.qweight, &qzeros = *t.qzeros, &scales = *t.scales;
  const int64_t G = t.G, groups = t.groups;
  const std::vector<int32_t>& group_of = t.group_of;
  const bool contiguous = t.contiguous;
  // AWQ order: nibble i of a word holds column 8c + kAwqOrder[i]; the inverse gives the nibble of column 8c + j.
  static constexpr int kAwqNibbleOf[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  auto code = [&](int64_t k, int64_t n) {
    return gptq ? nibble(load_i32(qweight, (k / 8) * N + n), static_cast<int>(k % 8))
                : nibble(load_i32(qweight, k * (N / 8) + n / 8), kAwqNibbleOf[n % 8]);
  };
  auto zero = [&](int64_t g, int64_t n) {
    const int z = nibble(load_i32(qzeros, g * (N / 8) + n / 8), gptq ? static_cast<int>(n % 8) : kAwqNibbleOf[n % 8]);
    return gptq && qc.gptq_v1 ? z + 1 : z;  // v1 stored zero - 1 (AutoGPTQ's pack); its readers add the 1 back
  };

  auto m = std::make_shared<cpu::QuantMatrix>();
  m->K = K;
  m->N = N;
  m->G = G;
  m->groups = groups;
  m->spec.bits = 4;
  m->spec.group = qc.group_size > 0 ? qc.group_size : 0;
  m->spec.scale_f16 = scales.dtype() == DType::kF16;
  const int64_t Kp = groups * G;
  if (!contiguous) {  // slots of group g: [g G, g G + G), its rows in ascending k, then padding
    m->perm.assign(static_cast<size_t>(Kp), -1);
    std::vector<int64_t> filled(static_cast<size_t>(groups), 0);
    for (int64_t k = 0; k < K; ++k) {
      const int32_t g = group_of[k];  // at most G rows each (module_tensors)
      m->perm[g * G + filled[g]++] = static_cast<int32_t>(k);
    }
  }
  m->scale.resize(static_cast<size_t>(N * groups));
  m->zero.resize(static_cast<size_t>(N * groups));
  bool all_eight = true;  // GPTQ sym stores zero 8 everywhere: then the symmetric kernels (no zero loads) apply
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      const int z = zero(g, n);
      m->scale[n * groups + g] = load_u16(scales, g * N + n);
      m->zero[n * groups + g] = static_cast<uint8_t>(z);  // <= 16 (v1 stores 15 for a zero of 16 - 1)
      all_eight = all_eight && z == 8;
    }
  m->spec.zero_point = !all_eight;
  m->u.resize(static_cast<size_t>(N * Kp));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < Kp; ++s) {
      const int64_t k = m->perm.empty() ? s : m->perm[s];
      m->u[n * Kp + s] = static_cast<uint8_t>(k >= 0 && k < K ? code(k, n) : m->zero[n * groups + s / G]);
    }
  QuantizedLinear out;
  for (const Tensor* read : {t.qweight, t.qzeros, t.scales, t.g_idx})
    if (read) drop_resident_pages(*read);  // copied out above (models/weight_layout.h)
  out.weight = Tensor::zeros({K, N});
  m->dequantize_into(out.weight.f32());  // straight into the tensor: one fp32 matrix, not two
  out.weight = counted_weight_copy(std::move(out.weight));
  out.quant = std::move(m);
  return out;
}

}  // namespace jitgen::models
