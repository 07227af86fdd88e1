// jitgen._jitgen: the C++ engine for Python. The public API (HF-style AutoTokenizer / AutoModelForCausalLM) is
// python/jitgen/__init__.py; this module is its thin, typed core:
//   Tokenizer   -- jitgen::Tokenizer (encode_batch with HF padding / truncation options, decode)
//   Engine      -- jitgen::Engine on a loaded model; generate() resolves HF kwargs (as a JSON object) exactly like the
//                  CLI (resolve_generation_config + validate), releases the GIL while generating, and returns numpy
//   TextDecoder -- incremental UTF-8-safe detokenizer behind the streamers
//   make_random_model -- what `jitgen make-model` writes (a deterministic random folder of any family)
// Every jitgen::Error becomes jitgen.JitgenError (a ValueError) with the engine's one-line message and .exit_code.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chat/chat_config.h"
#include "chat/chat_template.h"
#include "generate/streamer.h"
#include "io/hf_config.h"
#include "io/sha256sums.h"
#include "jitgen/engine.h"
#include "jitgen/error.h"
#include "jitgen/generate.h"
#include "jitgen/generation_config.h"
#include "jitgen/model.h"
#include "jitgen/tokenizer.h"
#include "models/model_impl.h"
#include "ops/prepared_weights.h"
#include "models/registry.h"

namespace py = pybind11;
using nlohmann::json;

namespace {

using IntArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

// [B][T] rows from a 2-D integer array (int32 range checked).
std::vector<std::vector<int32_t>> rows_from_array(const IntArray& a, const char* name) {
  if (a.ndim() != 2)
    jitgen::throw_invalid_argument(fmt::format("{} must be 2-D [batch, length], got {} dimension(s)", name, a.ndim()));
  const auto r = a.unchecked<2>();
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(r.shape(0)), std::vector<int32_t>(r.shape(1)));
  for (py::ssize_t i = 0; i < r.shape(0); ++i)
    for (py::ssize_t j = 0; j < r.shape(1); ++j) {
      const int64_t v = r(i, j);
      if (v < INT32_MIN || v > INT32_MAX)
        jitgen::throw_invalid_argument(fmt::format("{}[{}][{}] = {} is not a 32-bit integer", name, i, j, v));
      out[i][j] = static_cast<int32_t>(v);
    }
  return out;
}

py::array_t<int64_t> array_from_rows(const std::vector<std::vector<int32_t>>& rows, size_t cols) {
  py::array_t<int64_t> a({rows.size(), cols});
  auto w = a.mutable_unchecked<2>();
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].size() != cols) jitgen::throw_invalid_argument("internal: ragged rows");
    for (size_t j = 0; j < cols; ++j) w(i, j) = rows[i][j];
  }
  return a;
}

py::list list_from_rows(const std::vector<std::vector<int32_t>>& rows) {
  py::list l;
  for (const auto& r : rows) l.append(py::cast(r));
  return l;
}

json parse_json(const std::string& s, const char* what) {
  json j = json::parse(s, nullptr, false);
  if (j.is_discarded()) jitgen::throw_invalid_argument(fmt::format("{}: not valid JSON", what));
  return j;
}

jitgen::PaddingSide side_from(const std::string& s, const char* name) {
  if (s == "left") return jitgen::PaddingSide::kLeft;
  if (s == "right") return jitgen::PaddingSide::kRight;
  jitgen::throw_invalid_argument(fmt::format("{} must be 'left' or 'right', got '{}'", name, s));
}

// --- Tokenizer ----------------------------------------------------------------------------------------------------

struct PyTokenizer {
  std::shared_ptr<jitgen::Tokenizer> tok;

  static PyTokenizer from_dir(const std::string& dir) {
    return {std::make_shared<jitgen::Tokenizer>(jitgen::Tokenizer::from_dir(dir))};
  }

  // Returns (input_ids, attention_mask) as lists of lists (ragged when padding is false).
  py::tuple encode_batch(const std::vector<std::string>& texts, bool padding, const std::string& padding_side,
                         int pad_to_multiple_of, std::optional<int> max_length, const std::string& truncation_side,
                         std::optional<int> pad_token_id) const {
    jitgen::BatchEncodeOptions o;
    o.padding = padding;
    o.padding_side = side_from(padding_side, "padding_side");
    if (pad_to_multiple_of < 0)
      jitgen::throw_invalid_argument(fmt::format("pad_to_multiple_of must be >= 0, got {}", pad_to_multiple_of));
    o.pad_to_multiple_of = pad_to_multiple_of;
    if (max_length && *max_length < 0)
      jitgen::throw_invalid_argument(fmt::format("max_length must be >= 0, got {}", *max_length));
    o.max_length = max_length;
    o.truncation_side = side_from(truncation_side, "truncation_side");
    o.pad_token_id = pad_token_id;
    jitgen::BatchEncoding b;
    {
      py::gil_scoped_release nogil;
      b = tok->encode_batch(texts, o);
    }
    return py::make_tuple(list_from_rows(b.input_ids), list_from_rows(b.attention_mask));
  }

  std::vector<std::string> decode_batch(const std::vector<std::vector<int32_t>>& rows, bool skip_special) const {
    std::vector<std::string> out;
    out.reserve(rows.size());
    for (const auto& r : rows) out.push_back(tok->decode(r, skip_special));
    return out;
  }
};

// --- Incremental detokenizer (streamers) ----------------------------------------------------------------------------

struct PyTextDecoder {
  // The streamer refers to the tokenizer: holding it keeps it alive after the Python Tokenizer object is gone.
  std::shared_ptr<jitgen::Tokenizer> tok;
  std::unique_ptr<jitgen::decoding::TextStreamer> s;
  PyTextDecoder(const PyTokenizer& t, bool skip_special)
      : tok(t.tok),
        s(std::make_unique<jitgen::decoding::TextStreamer>(
            jitgen::decoding::TextStreamer::from_tokenizer(*tok, skip_special))) {}
};

// --- Engine ---------------------------------------------------------------------------------------------------------

struct PyEngine {
  std::shared_ptr<jitgen::Engine> engine;

  PyEngine(const std::string& dir, const std::string& mode, int prompt_bucket, const std::string& plan_cache_dir,
           const std::string& device, const std::string& quantize, bool quantize_lm_head) {
    jitgen::EngineOptions eo;
    if (device == "cpu") eo.device = jitgen::Device::kCpu;
    else if (device == "cuda" || device == "cuda:0") eo.device = jitgen::Device::kCuda;
    else jitgen::throw_invalid_argument(fmt::format("device must be 'cpu' or 'cuda', got '{}'", device));
#ifndef JITGEN_WITH_CUDA
    if (eo.device == jitgen::Device::kCuda)
      jitgen::throw_invalid_argument("device='cuda': this jitgen was built without CUDA (install with JITGEN_CUDA=1)");
#endif
    if (mode == "compiled") eo.mode = jitgen::ExecutionMode::kCompiled;
    else if (mode == "eager") eo.mode = jitgen::ExecutionMode::kEager;
    else jitgen::throw_invalid_argument(fmt::format("mode must be 'compiled' or 'eager', got '{}'", mode));
    if (prompt_bucket < 1) jitgen::throw_invalid_argument(fmt::format("prompt_bucket must be >= 1, got {}", prompt_bucket));
    eo.prompt_bucket = prompt_bucket;
    eo.plan_cache_dir = plan_cache_dir;
    // quantize="" keeps JITGEN_WEIGHTS' format (fp32 when unset), as the CLI does.
    jitgen::cpu::WeightFormat format =
        quantize.empty() ? jitgen::cpu::weight_format_for_load() : jitgen::cpu::parse_weight_format(quantize, "quantize");
    if (quantize_lm_head && !format.quant)
      jitgen::throw_invalid_argument("quantize_lm_head=True: needs quantize='int8' or 'int4'");
    format.quantize_lm_head = format.quantize_lm_head || quantize_lm_head;
    const jitgen::cpu::ScopedWeightFormat scope(format);
    jitgen::Model model = jitgen::Model::from_dir(dir);
    engine = std::make_shared<jitgen::Engine>(std::move(model), eo);
  }

  py::dict info() const {
    const auto& i = engine->model().info();
    py::dict d;
    d["model_type"] = i.model_type;
    d["n_layer"] = i.n_layer;
    d["n_head"] = i.n_head;
    d["n_embd"] = i.n_embd;
    d["n_positions"] = i.n_positions;
    d["vocab_size"] = i.vocab_size;
    d["bos_token_id"] = i.bos_token_id >= 0 ? py::object(py::int_(i.bos_token_id)) : py::object(py::none());
    d["eos_token_id"] = i.eos_token_id >= 0 ? py::object(py::int_(i.eos_token_id)) : py::object(py::none());
    d["source"] = engine->model().source();
    return d;
  }

  std::string generation_defaults() const { return engine->model().impl().generation_defaults.dump(); }

  // The resolved HF config (library defaults <- generation_config.json <- overrides) as JSON, for GenerationConfig.
  std::string resolve(const std::string& overrides_json) const {
    const auto cfg = jitgen::resolve_generation_config(engine->model().impl().generation_defaults,
                                                       parse_json(overrides_json, "generation options"));
    json j;
    if (cfg.max_new_tokens) j["max_new_tokens"] = *cfg.max_new_tokens;
    j["max_length"] = cfg.max_length;
    j["do_sample"] = cfg.do_sample;
    j["num_beams"] = cfg.num_beams;
    j["num_return_sequences"] = cfg.num_return_sequences;
    j["temperature"] = cfg.temperature;
    j["top_k"] = cfg.top_k;
    j["top_p"] = cfg.top_p;
    j["repetition_penalty"] = cfg.repetition_penalty;
    j["length_penalty"] = cfg.length_penalty;
    j["eos_token_id"] = cfg.eos_token_id;
    j["pad_token_id"] = cfg.pad_token_id ? json(*cfg.pad_token_id) : json(nullptr);
    j["bos_token_id"] = cfg.bos_token_id ? json(*cfg.bos_token_id) : json(nullptr);
    return j.dump();
  }

  // on_step(step, tokens) is called with the GIL held after every step (greedy / sampling).
  py::dict generate(const IntArray& input_ids, std::optional<IntArray> attention_mask, const std::string& overrides_json,
                    std::optional<py::function> on_step, std::optional<PyTokenizer> tokenizer) const {
    jitgen::GenerateInput in;
    in.input_ids = rows_from_array(input_ids, "input_ids");
    if (in.input_ids.empty()) jitgen::throw_invalid_argument("input_ids must have at least one row");
    const int T = static_cast<int>(in.input_ids[0].size());
    const auto& info = engine->model().info();
    for (size_t b = 0; b < in.input_ids.size(); ++b)
      for (int32_t id : in.input_ids[b])
        if (id < 0 || id >= info.vocab_size)
          jitgen::throw_invalid_argument(
              fmt::format("input_ids: token id {} in row {} is outside the vocabulary (0..{})", id, b, info.vocab_size - 1));
    const jitgen::GenerationConfig cfg = jitgen::resolve_generation_config(
        engine->model().impl().generation_defaults, parse_json(overrides_json, "generation options"));
    if (attention_mask) {
      in.attention_mask = rows_from_array(*attention_mask, "attention_mask");
      if (in.attention_mask.size() != in.input_ids.size() || static_cast<int>(in.attention_mask[0].size()) != T)
        jitgen::throw_invalid_argument(
            fmt::format("attention_mask has shape [{}, {}] but input_ids [{}, {}]", in.attention_mask.size(),
                        in.attention_mask[0].size(), in.input_ids.size(), T));
      for (const auto& r : in.attention_mask)
        for (int32_t v : r)
          if (v != 0 && v != 1) jitgen::throw_invalid_argument(fmt::format("attention_mask values must be 0 or 1, got {}", v));
    } else if (cfg.pad_token_id &&
               std::find(cfg.eos_token_id.begin(), cfg.eos_token_id.end(), *cfg.pad_token_id) == cfg.eos_token_id.end()) {
      // HF _prepare_attention_mask_for_generation: pads (pad id present, pad != eos) are masked out.
      bool any = false;
      for (const auto& r : in.input_ids) any = any || std::find(r.begin(), r.end(), *cfg.pad_token_id) != r.end();
      if (any) {
        in.attention_mask = in.input_ids;
        for (auto& r : in.attention_mask)
          for (auto& v : r) v = v == *cfg.pad_token_id ? 0 : 1;
      }
    }
    jitgen::validate(cfg, info.n_positions, T);

    jitgen::StepCallback cb;
    if (on_step) {
      const py::function* f = &*on_step;
      cb = [f](int step, const std::vector<int32_t>& tokens) {
        py::gil_scoped_acquire gil;
        (*f)(step, tokens);  // a Python exception propagates as error_already_set and aborts generation
      };
    }
    jitgen::GenerateOutput out;
    {
      py::gil_scoped_release nogil;
      out = engine->generate(in, cfg, cb, tokenizer ? tokenizer->tok.get() : nullptr);
    }

    py::dict d;
    const size_t rows = out.sequences.size();
    const size_t cols = rows ? out.sequences[0].size() : 0;
    d["sequences"] = array_from_rows(out.sequences, cols);
    d["prompt_length"] = out.prompt_length;
    d["new_tokens"] = out.new_tokens;
    d["beam"] = cfg.num_beams > 1;
    d["output_scores"] = cfg.output_scores;
    d["return_dict_in_generate"] = cfg.return_dict_in_generate;
    if (!out.sequences_scores.empty()) d["sequences_scores"] = py::array_t<float>(out.sequences_scores.size(), out.sequences_scores.data());
    if (!out.scores.empty()) {
      const size_t steps = out.scores.size(), srows = out.scores[0].size(), V = srows ? out.scores[0][0].size() : 0;
      py::array_t<float> s({steps, srows, V});
      float* p = s.mutable_data();
      for (const auto& st : out.scores)
        for (const auto& r : st) p = std::copy(r.begin(), r.end(), p);
      d["scores"] = s;
    }
    if (!out.token_scores.empty()) {
      const size_t n = out.token_scores[0].size();
      py::array_t<float> s({out.token_scores.size(), n});
      float* p = s.mutable_data();
      for (const auto& r : out.token_scores) p = std::copy(r.begin(), r.end(), p);
      d["transition_scores"] = s;
    }
    if (!out.beam_indices.empty()) d["beam_indices"] = array_from_rows(out.beam_indices, out.beam_indices[0].size());
    d["prefill_ms"] = out.prefill_ms;
    d["decode_ms"] = out.decode_ms;
    d["cache_hits"] = out.cache_hits;
    d["cache_misses"] = out.cache_misses;
    d["compile_ms"] = out.compile_ms;
    return d;
  }
};

void make_random_model(const std::string& out, const std::string& config, uint64_t seed, int n_layer, int n_head,
                       int n_embd, int n_positions, int vocab_size, const std::string& dtype, int shards,
                       const std::string& tokenizer_dir, const std::string& family, int n_kv_head,
                       const std::string& config_json) {
  std::string preset;
  const jitgen::Family& f = jitgen::family_for_preset(family, config, preset);
  jitgen::RandomModelOptions opt;
  opt.seed = seed;
  opt.shards = shards;
  opt.layers = n_layer;
  opt.heads = n_head;
  opt.kv_heads = n_kv_head;
  opt.hidden = n_embd;
  opt.positions = n_positions;
  opt.vocab = vocab_size;
  if (dtype == "F32") opt.dtype = jitgen::DType::kF32;
  else if (dtype == "F16") opt.dtype = jitgen::DType::kF16;
  else if (dtype == "BF16") opt.dtype = jitgen::DType::kBF16;
  else jitgen::throw_invalid_argument(fmt::format("dtype \"{}\": expected F32, F16 or BF16", dtype));
  opt.tokenizer_dir = tokenizer_dir;
  if (!config_json.empty()) {  // as make-model --config-json: config.json fields (HF names) merged over the preset
    try {
      opt.config = nlohmann::json::parse(config_json);
    } catch (const nlohmann::json::parse_error& e) {
      jitgen::throw_invalid_argument(fmt::format("config_json: malformed JSON: {}", e.what()));
    }
    if (!opt.config.is_object()) jitgen::throw_invalid_argument("config_json: expected a JSON object of config.json fields");
  }
  py::gil_scoped_release nogil;
  f.write_random(preset, opt, out);
}

}  // namespace

PYBIND11_MODULE(_jitgen, m) {
  m.doc() = "jitgen C++ core (use the jitgen package, not this module)";
#ifdef JITGEN_WITH_CUDA
  m.attr("has_cuda") = true;
#else
  m.attr("has_cuda") = false;
#endif

  static py::handle error_type = py::exception<jitgen::Error>(m, "JitgenError", PyExc_ValueError).release();
  error_type.attr("__doc__") =
      "An error from the jitgen engine: a bad option or request, a missing or malformed file, or a request beyond a "
      "model limit. A ValueError; .exit_code is the CLI's exit code (2, 3, 4 or 70).";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const jitgen::Error& e) {
      py::object err = py::reinterpret_borrow<py::object>(error_type)(e.what());
      err.attr("exit_code") = e.exit_code();
      PyErr_SetObject(error_type.ptr(), err.ptr());
    }
  });

  py::class_<PyTokenizer>(m, "Tokenizer")
      .def_static("from_dir", &PyTokenizer::from_dir, py::arg("dir"))
      .def("encode", [](const PyTokenizer& t, const std::string& s) { return t.tok->encode(s); }, py::arg("text"))
      .def("encode_batch", &PyTokenizer::encode_batch, py::arg("texts"), py::arg("padding"), py::arg("padding_side"),
           py::arg("pad_to_multiple_of"), py::arg("max_length"), py::arg("truncation_side"), py::arg("pad_token_id"))
      .def("decode",
           [](const PyTokenizer& t, const std::vector<int32_t>& ids, bool skip) { return t.tok->decode(ids, skip); },
           py::arg("ids"), py::arg("skip_special_tokens") = false)
      .def("decode_batch", &PyTokenizer::decode_batch, py::arg("rows"), py::arg("skip_special_tokens") = false)
      .def_property_readonly("vocab_size", [](const PyTokenizer& t) { return t.tok->vocab_size(); })
      .def_property_readonly("eos_token_id", [](const PyTokenizer& t) { return t.tok->eos_token_id(); })
      .def_property_readonly("pad_token_id", [](const PyTokenizer& t) { return t.tok->pad_token_id(); })
      .def("token_to_id", [](const PyTokenizer& t, const std::string& s) { return t.tok->token_to_id(s); })
      .def("id_to_token", [](const PyTokenizer& t, int32_t id) { return t.tok->id_to_token(id); })
      .def("is_special_token", [](const PyTokenizer& t, int32_t id) { return t.tok->is_special_token(id); });

  py::class_<PyTextDecoder>(m, "TextDecoder")
      .def(py::init<const PyTokenizer&, bool>(), py::arg("tokenizer"), py::arg("skip_special_tokens") = false)
      .def("put", [](PyTextDecoder& d, int32_t id) { return py::bytes(d.s->put(id)).attr("decode")("utf-8", "replace"); })
      .def("finish", [](PyTextDecoder& d) { return py::bytes(d.s->finish()).attr("decode")("utf-8", "replace"); });

  py::class_<PyEngine>(m, "Engine")
      .def(py::init<const std::string&, const std::string&, int, const std::string&, const std::string&,
                    const std::string&, bool>(),
           py::arg("dir"), py::arg("mode") = "compiled", py::arg("prompt_bucket") = 8, py::arg("plan_cache_dir") = "",
           py::arg("device") = "cpu", py::arg("quantize") = "", py::arg("quantize_lm_head") = false)
      .def("info", &PyEngine::info)
      .def("generation_defaults", &PyEngine::generation_defaults)
      .def("resolve", &PyEngine::resolve, py::arg("overrides_json"))
      .def("generate", &PyEngine::generate, py::arg("input_ids"), py::arg("attention_mask"), py::arg("overrides_json"),
           py::arg("on_step") = py::none(), py::arg("tokenizer") = py::none());

  // Chat templates (src/chat): the tokenizer's template + special tokens, and rendering a context (a JSON object).
  m.def("chat_config", [](const PyTokenizer& t) -> py::tuple {
    const jitgen::chat::ChatConfig c = jitgen::chat::chat_config(*t.tok);
    return py::make_tuple(c.chat_template ? py::object(py::str(*c.chat_template)) : py::object(py::none()),
                          c.special_tokens.dump());
  }, py::arg("tokenizer"));
  m.def("render_chat_template", [](const std::string& source, const std::string& context_json) -> std::string {
    nlohmann::ordered_json ctx;
    try {
      ctx = nlohmann::ordered_json::parse(context_json);
    } catch (const nlohmann::ordered_json::parse_error& e) {
      jitgen::throw_invalid_argument(std::string("apply_chat_template: inputs are not JSON data: ") + e.what());
    }
    return jitgen::chat::ChatTemplate(source).render(ctx);
  }, py::arg("source"), py::arg("context_json"));

  // The built-in default folder's check (Model::builtin_default): every SHA256SUMS line against its file.
  m.def("verify_sha256sums", [](const std::string& dir) { return jitgen::io::verify_sha256sums(dir); }, py::arg("dir"));
  m.def("make_random_model", &make_random_model, py::arg("out"), py::arg("config") = "tiny", py::arg("seed") = 0,
        py::arg("n_layer") = 0, py::arg("n_head") = 0, py::arg("n_embd") = 0, py::arg("n_positions") = 0,
        py::arg("vocab_size") = 0, py::arg("dtype") = "F32", py::arg("shards") = 1, py::arg("tokenizer_dir") = "",
        py::arg("family") = "", py::arg("n_kv_head") = 0, py::arg("config_json") = "");
}
