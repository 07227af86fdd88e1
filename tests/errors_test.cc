// The error catalog (docs/errors.md): every entry is triggered here and must give its exit code (jitgen::Error code
// or CLI exit status) and a one-line message containing the catalog's fragment. A last test checks that the catalog
// and this table list the same ids with the same codes, so neither can drift.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "chat/chat_template.h"
#include "core/finite.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "jitgen/engine.h"
#include "jitgen/error.h"
#include "jitgen/generate.h"
#include "jitgen/generation_config.h"
#include "jitgen/model.h"
#include "jitgen/tokenizer.h"
#include "exec/kv_cache.h"
#include "models/model_impl.h"
#include "models/gpt2/random_gpt2.h"
#include "models/quantized_checkpoint.h"
#include "ops/prepared_weights.h"
#include "test_support.h"

namespace jitgen {
namespace {

using nlohmann::json;

// ------------------------------------------------------------------------------------------------ helpers

std::string raw_safetensors(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

// A scratch folder shared by the library-level cases (files are rewritten per case), removed at exit: ctest runs
// every case in a process of its own, and a leaked folder per process piled up in /tmp. Only function-local statics
// made after it (folder paths, nothing that reads them at exit) and CLI runs that have ended use it by then.
const test::TempDir& scratch() {
  static const test::TempDir d;
  return d;
}

void open_safetensors(const std::string& header, const std::string& data = "") {
  const std::string p = scratch().file("t.safetensors");
  test::write_file(p, raw_safetensors(header, data));
  (void)io::SafetensorsFile::open(p);
}

void parse_config(const std::string& text) {
  const std::string p = scratch().file("config.json");
  test::write_file(p, text);
  (void)io::load_gpt2_config(p);
}

void merge_gen(const std::string& text, const std::string& source = "generation_config.json") {
  (void)merge_generation_config(json::parse(text), {}, source);
}

void validate_gen(const std::string& text, int prompt_len = 4, int n_positions = 1024) {
  const GenerationConfig g = merge_generation_config(json::parse(text), {}, "request");
  validate(g, n_positions, prompt_len);
}

// The byte-level alphabet (the 256 single-byte token strings) from the vendored vocabulary.
json byte_vocab() {
  static const json v = [] {
    const json full = io::read_json_file(test::source_dir() + "/third_party/gpt2-tokenizer/vocab.json");
    json out = json::object();
    for (const auto& [tok, id] : full.items())
      if (id.get<int>() < 256) out[tok] = id;
    return out;
  }();
  return v;
}

json tokenizer_doc() {
  return {{"model", {{"type", "BPE"}, {"vocab", byte_vocab()}, {"merges", json::array()}}},
          {"pre_tokenizer", {{"type", "ByteLevel"}}},
          {"decoder", {{"type", "ByteLevel"}}}};
}

void load_tokenizer_json(const json& doc) {
  const std::string p = scratch().file("tokenizer.json");
  test::write_file(p, doc.dump());
  (void)Tokenizer::from_tokenizer_json(p);
}
void load_tokenizer_json_text(const std::string& text) {
  const std::string p = scratch().file("tokenizer.json");
  test::write_file(p, text);
  (void)Tokenizer::from_tokenizer_json(p);
}
std::string spm_fixture(const std::string& name) {
  return test::read_file(test::fixture_path("tokenizers/" + name) + "/tokenizer.model");
}
// A folder with only tokenizer.model (the given bytes) and tokenizer_config.json.
void load_spm_dir(const std::string& name, const std::string& model, const json& config) {
  const std::string d = scratch().file("spm_" + name);
  std::filesystem::create_directories(d);
  test::write_file(d + "/tokenizer.model", model);
  test::write_file(d + "/tokenizer_config.json", config.dump());
  (void)Tokenizer::from_dir(d);
}
// A folder with tokenizer.json `doc` and tokenizer_config.json `config` (hf_class_rules.cc applies the class).
void load_class_dir(const std::string& name, const json& doc, const json& config) {
  const std::string d = scratch().file("cls_" + name);
  std::filesystem::create_directories(d);
  test::write_file(d + "/tokenizer.json", doc.dump());
  test::write_file(d + "/tokenizer_config.json", config.dump());
  (void)Tokenizer::from_dir(d);
}
void load_vocab_merges(const std::string& vocab, const std::string& merges) {
  test::write_file(scratch().file("vocab.json"), vocab);
  test::write_file(scratch().file("merges.txt"), merges);
  (void)Tokenizer::from_vocab_merges(scratch().file("vocab.json"), scratch().file("merges.txt"));
}

const Model& tiny() {
  static const Model* m = new Model(Model::builtin_random_gpt2());
  return *m;
}

void gen(const GenerateInput& in, GenerationConfig cfg = {}, ExecutionMode mode = ExecutionMode::kEager) {
  if (!cfg.max_new_tokens) cfg.max_new_tokens = 2;
  (void)generate(tiny(), in, cfg, nullptr, mode);
}
GenerateInput ids(std::vector<std::vector<int32_t>> rows, std::vector<std::vector<int32_t>> mask = {}) {
  return {std::move(rows), std::move(mask)};
}

// A tiny model folder whose c_fc weight of layer 0 holds a NaN (a broken checkpoint).
std::string nan_model() {
  static const std::string dir = [] {
    const std::string d = scratch().file("nan-model");
    std::filesystem::create_directories(d);
    write_random_gpt2(gpt2_preset("tiny"), {}, d);
    const io::Gpt2Config c = gpt2_preset("tiny");
    Gpt2Weights w = random_gpt2_weights(c, 0);
    w.h[0].c_fc_weight.f32()[5] = std::numeric_limits<float>::quiet_NaN();
    std::vector<std::pair<std::string, Tensor>> tensors;
    for_each_gpt2_tensor(c, w, [&](const std::string& name, Tensor& t, const Shape&) { tensors.emplace_back(name, t); });
    io::write_safetensors(d + "/model.safetensors", tensors);
    return d;
  }();
  return dir;
}

// A random tiny model folder (the make-model layout), made once; cases copy and break pieces of it.
std::string model_dir() {
  static const std::string dir = [] {
    const std::string d = scratch().file("model");
    std::filesystem::create_directories(d);
    write_random_gpt2(gpt2_preset("tiny"), {}, d);
    return d;
  }();
  return dir;
}
std::string broken_model(const std::string& name, const std::function<void(const std::string&)>& edit) {
  const std::string d = scratch().file(name);
  std::filesystem::remove_all(d);
  std::filesystem::copy(model_dir(), d, std::filesystem::copy_options::recursive);
  edit(d);
  return d;
}

// Pre-quantized checkpoints (models/quantized_checkpoint.h): a quantization_config read on its own, and one tiny
// GPTQ module "m" (in = out = 8, group_size 4) written to the scratch folder after `edit` changed its tensors.
void read_qc(const json& qc) { (void)models::read_quantization_config(json{{"quantization_config", qc}}, "config.json"); }
json gptq_qc() { return {{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 4}, {"desc_act", true}, {"sym", true}}; }
void load_tiny_module(const std::function<void(std::map<std::string, Tensor>&)>& edit, int64_t K = 8,
                      const std::string& method = "gptq", int group_size = 4) {
  std::map<std::string, Tensor> t = {{"m.qweight", Tensor::zeros({1, 8}, DType::kI32)},
                                     {"m.qzeros", Tensor::zeros({2, 1}, DType::kI32)},
                                     {"m.scales", Tensor::zeros({2, 8}, DType::kF16)},
                                     {"m.g_idx", Tensor::zeros({8}, DType::kI32)}};
  for (int k = 0; k < 8; ++k) t["m.g_idx"].i32()[k] = k / 4;
  edit(t);
  const std::string d = scratch().file("qmodule");
  std::filesystem::create_directories(d);
  io::write_safetensors(d + "/model.safetensors", {t.begin(), t.end()});
  models::QuantizedCheckpointConfig qc;
  qc.method = method;
  qc.group_size = group_size;
  qc.desc_act = true;
  (void)models::load_quantized_linear(io::Checkpoint::open_dir(d), qc, "m", K, 8);
}

// A sharded checkpoint folder: model.safetensors.index.json with `weight_map`, and each shard's tensors.
std::string sharded_model(const std::string& name, const json& weight_map,
                          const std::map<std::string, std::vector<std::string>>& shards) {
  const std::string d = scratch().file(name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  test::write_file(d + "/model.safetensors.index.json", json{{"weight_map", weight_map}}.dump());
  for (const auto& [shard, names] : shards) {
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const auto& n : names) tensors.emplace_back(n, Tensor::zeros({2}));
    io::write_safetensors(d + "/" + shard, tensors);
  }
  return d;
}

// A tiny model folder with vocab_size 300 and the full GPT-2 tokenizer (50257 tokens) beside it.
std::string small_vocab_model() {
  static const std::string dir = [] {
    const std::string d = scratch().file("small-vocab-model");
    std::filesystem::create_directories(d);
    io::Gpt2Config c = gpt2_preset("tiny");
    c.vocab_size = 300;
    write_random_gpt2(c, {}, d);
    for (const char* f : {"vocab.json", "merges.txt"})
      std::filesystem::copy_file(test::source_dir() + "/third_party/gpt2-tokenizer/" + f, d + "/" + f,
                                 std::filesystem::copy_options::overwrite_existing);
    return d;
  }();
  return dir;
}

// ------------------------------------------------------------------------------------------------ the table

struct LibCase {
  const char* id;
  ErrorCode code;
  const char* fragment;  // a part of the message that does not depend on the input values
  std::function<void()> trigger;
};

struct CliCase {
  const char* id;
  int exit_code;
  const char* fragment;
  std::string args;
};

const std::vector<LibCase>& core_lib_cases() {
  static const std::vector<LibCase> cases = {
      // config.json
      {"CFG-NOT-FOUND", ErrorCode::kInvalidFile, "file not found",
       [] { (void)io::load_gpt2_config(scratch().file("nope.json")); }},
      {"CFG-IS-DIR", ErrorCode::kInvalidFile, "is a directory, not a JSON file",
       [] { (void)io::load_gpt2_config(scratch().path()); }},
      {"CFG-NUL", ErrorCode::kInvalidFile, "malformed JSON: NUL byte at offset", [] { parse_config(std::string("{\0}", 3)); }},
      {"CFG-MALFORMED", ErrorCode::kInvalidFile, "malformed JSON at line 1", [] { parse_config("{\"n_layer\": }"); }},
      {"CFG-NOT-OBJECT", ErrorCode::kInvalidFile, "must be a JSON object, got array", [] { parse_config("[1]"); }},
      {"CFG-NO-MODEL-TYPE", ErrorCode::kInvalidFile, "missing field \"model_type\"", [] { parse_config("{}"); }},
      {"CFG-MODEL-TYPE-TYPE", ErrorCode::kInvalidFile, "field \"model_type\" must be a string",
       [] { parse_config(R"({"model_type": 2})"); }},
      {"CFG-MODEL-TYPE", ErrorCode::kInvalidFile, "but only \"gpt2\" is supported",
       [] { parse_config(R"({"model_type": "llama"})"); }},
      {"MODEL-TYPE-UNSUPPORTED", ErrorCode::kInvalidFile, "model_type \"t5\" is not supported (supported: gpt2",
       [] {
         test::write_file(scratch().file("config.json"), R"({"model_type": "t5"})");
         (void)Model::from_dir(scratch().path());
       }},
      {"MODEL-NO-MODEL-TYPE", ErrorCode::kInvalidFile, "missing field \"model_type\" (expected one of: gpt2",
       [] {
         test::write_file(scratch().file("config.json"), R"({"n_layer": 2})");
         (void)Model::from_dir(scratch().path());
       }},
      {"CFG-POSITIVE-INT", ErrorCode::kInvalidFile, "field \"n_layer\" must be a positive integer, got 0",
       [] { parse_config(R"({"model_type": "gpt2", "n_layer": 0})"); }},
      {"CFG-ALIAS", ErrorCode::kInvalidFile, "but its alias",
       [] { parse_config(R"({"model_type": "gpt2", "n_embd": 64, "hidden_size": 32})"); }},
      {"CFG-BOOL", ErrorCode::kInvalidFile, "must be true or false",
       [] { parse_config(R"({"model_type": "gpt2", "scale_attn_weights": 1})"); }},
      {"CFG-TOKEN-ID", ErrorCode::kInvalidFile, "a token id (non-negative integer), a list of token ids, or null",
       [] { parse_config(R"({"model_type": "gpt2", "eos_token_id": -3})"); }},
      {"CFG-EPS", ErrorCode::kInvalidFile, "field \"layer_norm_epsilon\" must be a positive number",
       [] { parse_config(R"({"model_type": "gpt2", "layer_norm_epsilon": -1})"); }},
      {"CFG-ACT-TYPE", ErrorCode::kInvalidFile, "field \"activation_function\" must be a string",
       [] { parse_config(R"({"model_type": "gpt2", "activation_function": 1})"); }},
      {"CFG-ACT-UNKNOWN", ErrorCode::kInvalidFile, "is unknown activation",
       [] { parse_config(R"({"model_type": "gpt2", "activation_function": "mish2"})"); }},
      {"CFG-CROSS-ATTN", ErrorCode::kInvalidFile, "cross-attention is not supported",
       [] { parse_config(R"({"model_type": "gpt2", "add_cross_attention": true})"); }},
      {"CFG-HEADS", ErrorCode::kInvalidFile, "must be divisible by \"n_head\"",
       [] { parse_config(R"({"model_type": "gpt2", "n_embd": 10, "n_head": 3})"); }},
      {"CFG-SIZE-LIMIT", ErrorCode::kInvalidFile, "field \"n_layer\" is 16777217, expected at most 16777216",
       [] { parse_config(R"({"model_type": "gpt2", "n_layer": 16777217})"); }},
      // generation_config.json (kInvalidFile) and caller overrides (kInvalidArgument)
      {"GEN-NOT-OBJECT", ErrorCode::kInvalidFile, "field '<root>' must be a JSON object", [] { merge_gen("[]"); }},
      {"GEN-INT", ErrorCode::kInvalidFile, "field 'top_k' must be an integer", [] { merge_gen(R"({"top_k": 1.5})"); }},
      {"GEN-INT32", ErrorCode::kInvalidFile, "must be a 32-bit integer", [] { merge_gen(R"({"top_k": 4294967296})"); }},
      {"GEN-NUMBER", ErrorCode::kInvalidFile, "field 'top_p' must be a number", [] { merge_gen(R"({"top_p": "x"})"); }},
      {"GEN-BOOL", ErrorCode::kInvalidFile, "field 'do_sample' must be true or false",
       [] { merge_gen(R"({"do_sample": 1})"); }},
      {"GEN-ID-LIST", ErrorCode::kInvalidFile, "must be an integer or a list of integers",
       [] { merge_gen(R"({"eos_token_id": "x"})"); }},
      {"GEN-EARLY-STOPPING", ErrorCode::kInvalidFile, "must be true, false or \"never\"",
       [] { merge_gen(R"({"early_stopping": "sometimes"})"); }},
      {"GEN-BAD-WORDS", ErrorCode::kInvalidFile, "bad_words_ids' must be a non-empty list of lists",
       [] { merge_gen(R"({"bad_words_ids": []})"); }},
      {"GEN-BAD-WORDS-INNER", ErrorCode::kInvalidFile, "a non-empty list of non-empty lists of token ids",
       [] { merge_gen(R"({"bad_words_ids": [[]]})"); }},
      {"GEN-BAD-WORDS-ID", ErrorCode::kInvalidFile, "lists of non-negative token ids",
       [] { merge_gen(R"({"bad_words_ids": [[-1]]})"); }},
      {"GEN-STOP-STRINGS", ErrorCode::kInvalidFile, "must be a string or a list of strings",
       [] { merge_gen(R"({"stop_strings": 3})"); }},
      {"GEN-SEED", ErrorCode::kInvalidFile, "a non-negative integer or a pair [a, b] of 32-bit words",
       [] { merge_gen(R"({"seed": "x"})"); }},
      {"GEN-OVERRIDE-TYPE", ErrorCode::kInvalidArgument, "request: field 'top_k' must be an integer",
       [] { merge_gen(R"({"top_k": "x"})", "request"); }},
      {"GEN-TOKEN-IDS", ErrorCode::kInvalidFile, "field 'suppress_tokens' must be a list of token ids",
       [] { merge_gen(R"({"suppress_tokens": [1, -2]})"); }},
      {"GEN-FORCED-EOS", ErrorCode::kInvalidFile, "'forced_eos_token_id' must be a token id or a",
       [] { merge_gen(R"({"forced_eos_token_id": []})"); }},
      {"GEN-FORCED-BOS", ErrorCode::kInvalidFile, "field 'forced_bos_token_id' must be a token id",
       [] { merge_gen(R"({"forced_bos_token_id": [1]})"); }},
      {"GEN-SEQUENCE-BIAS", ErrorCode::kInvalidFile, "'sequence_bias' must be a non-empty list of [[token ids...], bias]",
       [] { merge_gen(R"({"sequence_bias": [[1, 2.0]]})"); }},
      {"GEN-DECAY-PAIR", ErrorCode::kInvalidFile, "must be a pair [start_index, decay_factor]",
       [] { merge_gen(R"({"exponential_decay_length_penalty": [1.5, 2]})"); }},
      {"GEN-UNSUPPORTED", ErrorCode::kInvalidFile,
       "generation_config.json: 'num_beam_groups' = 2 is not supported by jitgen (group (diverse) beam search", [] {
         const GenerationConfig g = merge_generation_config(json::parse(R"({"num_beam_groups": 2, "num_beams": 4})"));
         validate(g, 1024, 4);
       }},
      {"GEN-UNSUPPORTED-OPTION", ErrorCode::kInvalidArgument,
       "request: 'penalty_alpha' = 0.6 is not supported by jitgen (contrastive search", [] {
         validate_gen(R"({"penalty_alpha": 0.6, "top_k": 4})");
       }},
      // validation of the resolved options (HF's rules)
      {"VAL-MAX-NEW-TOKENS", ErrorCode::kInvalidArgument, "max_new_tokens must be greater than 0",
       [] { validate_gen(R"({"max_new_tokens": 0})"); }},
      {"VAL-MAX-LENGTH", ErrorCode::kInvalidArgument, "max_length must be positive",
       [] { validate_gen(R"({"max_length": 0})"); }},
      {"VAL-MIN-LENGTH", ErrorCode::kInvalidArgument, "min_length must be >= 0",
       [] { validate_gen(R"({"min_length": -1})"); }},
      {"VAL-MIN-NEW-TOKENS", ErrorCode::kInvalidArgument, "min_new_tokens must be >= 0",
       [] { validate_gen(R"({"min_new_tokens": -1})"); }},
      {"VAL-MAX-TIME", ErrorCode::kInvalidArgument, "max_time must be > 0 seconds",
       [] { validate_gen(R"({"max_time": 0})"); }},
      {"VAL-NUM-BEAMS", ErrorCode::kInvalidArgument, "num_beams must be >= 1", [] { validate_gen(R"({"num_beams": 0})"); }},
      {"VAL-NUM-RETURN", ErrorCode::kInvalidArgument, "num_return_sequences must be >= 1",
       [] { validate_gen(R"({"num_return_sequences": 0})"); }},
      {"VAL-TEMPERATURE", ErrorCode::kInvalidArgument, "temperature must be >= 0",
       [] { validate_gen(R"({"temperature": -1})"); }},
      {"VAL-TOP-K", ErrorCode::kInvalidArgument, "top_k must be >= 0", [] { validate_gen(R"({"top_k": -1})"); }},
      {"VAL-TOP-P", ErrorCode::kInvalidArgument, "top_p must be in (0, 1]", [] { validate_gen(R"({"top_p": 0})"); }},
      {"VAL-MIN-P", ErrorCode::kInvalidArgument, "min_p must be in [0, 1]", [] { validate_gen(R"({"min_p": 2})"); }},
      {"VAL-TYPICAL-P", ErrorCode::kInvalidArgument, "typical_p must be in (0, 1]",
       [] { validate_gen(R"({"typical_p": 0})"); }},
      {"VAL-REPETITION-PENALTY", ErrorCode::kInvalidArgument, "repetition_penalty must be > 0",
       [] { validate_gen(R"({"repetition_penalty": 0})"); }},
      {"VAL-NO-REPEAT-NGRAM", ErrorCode::kInvalidArgument, "no_repeat_ngram_size must be >= 0",
       [] { validate_gen(R"({"no_repeat_ngram_size": -1})"); }},
      {"VAL-ENCODER-REPETITION-PENALTY", ErrorCode::kInvalidArgument, "encoder_repetition_penalty must be > 0",
       [] { validate_gen(R"({"encoder_repetition_penalty": 0})"); }},
      {"VAL-TOP-H", ErrorCode::kInvalidArgument, "top_h must be in (0, 1]", [] { validate_gen(R"({"top_h": 1.5})"); }},
      {"VAL-DECAY-NO-EOS", ErrorCode::kInvalidArgument, "exponential_decay_length_penalty needs an eos_token_id",
       [] { validate_gen(R"({"exponential_decay_length_penalty": [1, 1.5]})"); }},
      {"VAL-FORCED-BOS-SUPPRESSED", ErrorCode::kInvalidArgument, "forced_bos_token_id is also in suppress_tokens",
       [] { validate_gen(R"({"forced_bos_token_id": 5, "suppress_tokens": [5]})"); }},
      {"VAL-FORCED-EOS-SUPPRESSED", ErrorCode::kInvalidArgument, "every token of forced_eos_token_id is also in",
       [] { validate_gen(R"({"forced_eos_token_id": [5, 6], "suppress_tokens": [6, 5]})"); }},
      {"VAL-LENGTH-PENALTY", ErrorCode::kInvalidArgument, "length_penalty must be finite", [] {
         GenerationConfig g;
         g.length_penalty = INFINITY;
         validate(g, 1024, 4);
       }},
      {"VAL-STOP-EMPTY", ErrorCode::kInvalidArgument, "stop_strings must not contain an empty string",
       [] { validate_gen(R"({"stop_strings": [""]})"); }},
      {"VAL-BAD-WORDS-EMPTY", ErrorCode::kInvalidArgument, "bad_words_ids must not contain an empty list", [] {
         GenerationConfig g;
         g.bad_words_ids = {{}};
         validate(g, 1024, 4);
       }},
      {"VAL-PAD-NEGATIVE", ErrorCode::kInvalidArgument, "pad_token_id must be >= 0",
       [] { validate_gen(R"({"pad_token_id": -2})"); }},
      {"VAL-RETURN-GREEDY", ErrorCode::kInvalidArgument, "needs do_sample=true or num_beams > 1",
       [] { validate_gen(R"({"num_return_sequences": 2})"); }},
      {"VAL-RETURN-BEAMS", ErrorCode::kInvalidArgument, "must be <= num_beams",
       [] { validate_gen(R"({"num_beams": 2, "num_return_sequences": 3})"); }},
      {"VAL-EMPTY-PROMPT", ErrorCode::kInvalidArgument, "the prompt must have at least one token",
       [] { validate_gen("{}", 0); }},
      {"VAL-NOTHING-TO-GENERATE", ErrorCode::kInvalidArgument, "nothing to generate",
       [] { validate_gen(R"({"max_length": 4})", 4); }},
      // limits
      {"LIM-POSITIONS", ErrorCode::kLimit, "exceeds the model's n_positions",
       [] { validate_gen(R"({"max_new_tokens": 1})", 1024); }},
      {"LIM-MAX-NEW-TOKENS", ErrorCode::kLimit, "exceeds the model's n_positions",
       [] { validate_gen(R"({"max_new_tokens": 2147483647})", 3); }},
      {"LIM-MEMORY", ErrorCode::kLimit, "out of memory: a tensor of shape",
       [] { (void)Tensor::zeros({int64_t{1} << 40, 1024}); }},
      {"LIM-PROMPT-TOO-LONG", ErrorCode::kLimit, "exceeds the model's n_positions",
       [] { gen(ids({std::vector<int32_t>(2000, 464)})); }},
      {"LIM-KV-MEMORY", ErrorCode::kLimit, "out of memory: the KV cache for",
       [] {
         const Model m = Model::random_preset("tiny");
         KvCache cache(m.impl().spec(), 1 << 22, 256);
       }},
      // generate() inputs
      {"IN-EMPTY-BATCH", ErrorCode::kInvalidArgument, "input_ids: the batch is empty", [] { gen(ids({})); }},
      {"IN-EMPTY-PROMPT", ErrorCode::kInvalidArgument, "input_ids: the prompt is empty", [] { gen(ids({{}})); }},
      {"IN-RAGGED", ErrorCode::kInvalidArgument, "pad the batch", [] { gen(ids({{1, 2}, {3}})); }},
      {"IN-TOKEN-VOCAB", ErrorCode::kInvalidArgument, "is outside the vocabulary", [] { gen(ids({{1, 60000}})); }},
      {"IN-TOKEN-NEGATIVE", ErrorCode::kInvalidArgument, "is outside the vocabulary", [] { gen(ids({{-1, 2}})); }},
      {"IN-MASK-ROWS", ErrorCode::kInvalidArgument, "attention_mask: must have one row per input_ids row",
       [] { gen(ids({{1, 2}}, {{1, 1}, {1, 1}})); }},
      {"IN-MASK-LENGTH", ErrorCode::kInvalidArgument, "length differs from input_ids",
       [] { gen(ids({{1, 2}}, {{1}})); }},
      {"IN-MASK-VALUES", ErrorCode::kInvalidArgument, "attention_mask: values must be 0 or 1",
       [] { gen(ids({{1, 2}}, {{1, 2}})); }},
      {"IN-MASK-NO-TOKEN", ErrorCode::kInvalidArgument, "has no real token", [] { gen(ids({{1, 2}}, {{0, 0}})); }},
      {"IN-EOS-VOCAB", ErrorCode::kInvalidArgument, "eos_token_id 70000 is outside the vocabulary", [] {
         GenerationConfig g;
         g.eos_token_id = {70000};
         gen(ids({{1, 2}}), g);
       }},
      {"IN-PAD-VOCAB", ErrorCode::kInvalidArgument, "pad_token_id 70000 is outside the vocabulary", [] {
         GenerationConfig g;
         g.pad_token_id = 70000;
         gen(ids({{1, 2}}), g);
       }},
      {"IN-BAD-WORDS-VOCAB", ErrorCode::kInvalidArgument, "bad_words_ids: id 70000 is outside the vocabulary", [] {
         GenerationConfig g;
         g.bad_words_ids = {{70000}};
         gen(ids({{1, 2}}), g);
       }},
      {"IN-SEQUENCE-BIAS-VOCAB", ErrorCode::kInvalidArgument, "sequence_bias: id 70000 is outside the vocabulary", [] {
         GenerationConfig g;
         g.sequence_bias = {{{1, 70000}, -1.0}};
         gen(ids({{1, 2}}), g);
       }},
      {"IN-FORCED-BOS-VOCAB", ErrorCode::kInvalidArgument, "forced_bos_token_id 70000 is outside the vocabulary", [] {
         GenerationConfig g;
         g.forced_bos_token_id = 70000;
         gen(ids({{1, 2}}), g);
       }},
      {"IN-FORCED-EOS-VOCAB", ErrorCode::kInvalidArgument, "forced_eos_token_id 70000 is outside the vocabulary", [] {
         GenerationConfig g;
         g.forced_eos_token_id = {70000};
         gen(ids({{1, 2}}), g);
       }},
      {"IN-STOP-NO-TOKENIZER", ErrorCode::kInvalidArgument, "stop_strings need a tokenizer", [] {
         GenerationConfig g;
         g.stop_strings = {"x"};
         gen(ids({{1, 2}}), g);
       }},
      // safetensors
      {"ST-OPEN", ErrorCode::kInvalidFile, "cannot open safetensors file",
       [] { (void)io::SafetensorsFile::open(scratch().file("missing.safetensors")); }},
      {"ST-NOT-REGULAR", ErrorCode::kInvalidFile, "not a regular file",
       [] { (void)io::SafetensorsFile::open(scratch().path()); }},
      {"ST-TOO-SHORT", ErrorCode::kInvalidFile, "too short for a safetensors file", [] {
         test::write_file(scratch().file("t.safetensors"), "abc");
         (void)io::SafetensorsFile::open(scratch().file("t.safetensors"));
       }},
      {"ST-HEADER-LIMIT", ErrorCode::kInvalidFile, "exceeds the limit of", [] {
         test::write_file(scratch().file("t.safetensors"), std::string(8, '\xff') + "{}");
         (void)io::SafetensorsFile::open(scratch().file("t.safetensors"));
       }},
      {"ST-HEADER-PAST-END", ErrorCode::kInvalidFile, "runs past the end of the file", [] {
         test::write_file(scratch().file("t.safetensors"), std::string("\x40\0\0\0\0\0\0\0{}", 10));
         (void)io::SafetensorsFile::open(scratch().file("t.safetensors"));
       }},
      {"ST-HEADER-NUL", ErrorCode::kInvalidFile, "header is not valid JSON: NUL byte",
       [] { open_safetensors(std::string("{\0}", 3)); }},
      {"ST-HEADER-JSON", ErrorCode::kInvalidFile, "header is not valid JSON", [] { open_safetensors("{"); }},
      {"ST-HEADER-OBJECT", ErrorCode::kInvalidFile, "header must be a JSON object", [] { open_safetensors("[]"); }},
      {"ST-METADATA", ErrorCode::kInvalidFile, "\"__metadata__\" must be an object of strings",
       [] { open_safetensors(R"({"__metadata__": 1})"); }},
      {"ST-METADATA-ENTRY", ErrorCode::kInvalidFile, "must be a string",
       [] { open_safetensors(R"({"__metadata__": {"a": 1}})"); }},
      {"ST-ENTRY", ErrorCode::kInvalidFile, "entry must be an object with dtype, shape, data_offsets",
       [] { open_safetensors(R"({"w": 1})"); }},
      {"ST-NO-DTYPE", ErrorCode::kInvalidFile, "missing \"dtype\"", [] { open_safetensors(R"({"w": {}})"); }},
      {"ST-DTYPE-TYPE", ErrorCode::kInvalidFile, "\"dtype\" must be a string",
       [] { open_safetensors(R"({"w": {"dtype": 1}})"); }},
      {"ST-DTYPE-UNKNOWN", ErrorCode::kInvalidFile, "unknown dtype",
       [] { open_safetensors(R"({"w": {"dtype": "F99"}})"); }},
      {"ST-DTYPE-UNSUPPORTED", ErrorCode::kInvalidFile, "unsupported dtype",
       [] { open_safetensors(R"({"w": {"dtype": "F64"}})"); }},
      {"ST-NO-SHAPE", ErrorCode::kInvalidFile, "missing \"shape\"",
       [] { open_safetensors(R"({"w": {"dtype": "F32"}})"); }},
      {"ST-SHAPE", ErrorCode::kInvalidFile, "\"shape\" must be an array of non-negative integers",
       [] { open_safetensors(R"({"w": {"dtype": "F32", "shape": [-1]}})"); }},
      {"ST-SHAPE-OVERFLOW", ErrorCode::kInvalidFile, "is too large (element count overflows)",
       [] { open_safetensors(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296]}})"); }},
      {"ST-NO-OFFSETS", ErrorCode::kInvalidFile, "missing \"data_offsets\"",
       [] { open_safetensors(R"({"w": {"dtype": "F32", "shape": [1]}})"); }},
      {"ST-OFFSETS", ErrorCode::kInvalidFile, "\"data_offsets\" must be an array [begin, end]",
       [] { open_safetensors(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})"); }},
      {"ST-OFFSETS-ORDER", ErrorCode::kInvalidFile, "have begin > end",
       [] { open_safetensors(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})", "1234"); }},
      {"ST-OFFSETS-PAST-END", ErrorCode::kInvalidFile, "exceed the data section",
       [] { open_safetensors(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", "12"); }},
      {"ST-OFFSETS-SIZE", ErrorCode::kInvalidFile, "needs 8",
       [] { open_safetensors(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", "1234"); }},
      {"ST-OVERLAP", ErrorCode::kInvalidFile, "overlap tensor", [] {
         open_safetensors(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                          R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}})",
                          "123456");
       }},
      {"ST-HOLE", ErrorCode::kInvalidFile, "leave a hole",
       [] { open_safetensors(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", "12345678"); }},
      {"ST-TRAILING", ErrorCode::kInvalidFile, "(trailing bytes)",
       [] { open_safetensors(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", "12345678"); }},
      // checkpoint folders and model weights
      {"CK-NO-DIR", ErrorCode::kInvalidFile, "model folder does not exist or is not a directory",
       [] { (void)io::Checkpoint::open_dir(scratch().file("no-such-dir")); }},
      {"CK-NO-WEIGHTS", ErrorCode::kInvalidFile, "no weights found", [] {
         const std::string d = broken_model("noweights", [](const std::string& d) {
           std::filesystem::remove(d + "/model.safetensors");
         });
         (void)io::Checkpoint::open_dir(d);
       }},
      {"CK-INDEX-WEIGHT-MAP", ErrorCode::kInvalidFile, "missing field \"weight_map\"", [] {
         const std::string d = broken_model("index", [](const std::string& d) {
           std::filesystem::remove(d + "/model.safetensors");
           test::write_file(d + "/model.safetensors.index.json", "{}");
         });
         (void)io::Checkpoint::open_dir(d);
       }},
      {"CK-INDEX-SHARD-NAME", ErrorCode::kInvalidFile, "which is not a plain file name in the model folder", [] {
         const std::string d = broken_model("index2", [](const std::string& d) {
           std::filesystem::remove(d + "/model.safetensors");
           test::write_file(d + "/model.safetensors.index.json", R"({"weight_map": {"wte.weight": "../x.safetensors"}})");
         });
         (void)io::Checkpoint::open_dir(d);
       }},
      {"CK-INDEX-SHARD-MISSING", ErrorCode::kInvalidFile, "does not exist in", [] {
         const std::string d = broken_model("index3", [](const std::string& d) {
           std::filesystem::remove(d + "/model.safetensors");
           test::write_file(d + "/model.safetensors.index.json", R"({"weight_map": {"wte.weight": "x.safetensors"}})");
         });
         (void)io::Checkpoint::open_dir(d);
       }},
      {"CK-INDEX-TWO-SHARDS", ErrorCode::kInvalidFile, "appears in two shards", [] {
         const std::string d = sharded_model("two-shards", {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}},
                                             {{"s1.safetensors", {"a"}}, {"s2.safetensors", {"a", "b"}}});
         (void)io::Checkpoint::open_dir(d);
       }},
      {"CK-INDEX-NOT-IN-SHARD", ErrorCode::kInvalidFile, "is listed in weight_map for shard", [] {
         const std::string d = sharded_model("not-in-shard", {{"a", "s1.safetensors"}, {"b", "s1.safetensors"}},
                                             {{"s1.safetensors", {"a"}}});
         (void)io::Checkpoint::open_dir(d);
       }},
      // The built-in default's SHA256SUMS check (Model::builtin_default(dir), io/sha256sums.h).
      {"SUMS-MISMATCH", ErrorCode::kInvalidFile, "expected 0000000000000000000000000000000000000000000000000000000000000000 (", [] {
         const std::string d = scratch().file("sums-mismatch");
         std::filesystem::create_directories(d);
         test::write_file(d + "/a.txt", "x");
         test::write_file(d + "/SHA256SUMS", std::string(64, '0') + "  a.txt\n");
         (void)Model::builtin_default(d);
       }},
      {"SUMS-LINE", ErrorCode::kInvalidFile, "SHA256SUMS line 2: expected \"<64 lower-case hex digits>  <file name>\"", [] {
         const std::string d = scratch().file("sums-line");
         std::filesystem::create_directories(d);
         test::write_file(d + "/a.txt", "x");
         test::write_file(d + "/SHA256SUMS",
                          "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  a.txt\nnot a line\n");
         (void)Model::builtin_default(d);
       }},
      {"SUMS-MISSING", ErrorCode::kInvalidFile, "SHA256SUMS: not found", [] {
         (void)Model::builtin_default(scratch().path());
       }},
      {"MODEL-NO-DIR", ErrorCode::kInvalidFile, "model folder not found",
       [] { (void)Model::from_dir(scratch().file("no-such-model")); }},
      {"MODEL-MISSING-TENSOR", ErrorCode::kInvalidFile, "missing tensor", [] {
         const std::string d = broken_model("missing", [](const std::string& d) {
           io::write_safetensors(d + "/model.safetensors", {{"x", Tensor::zeros({1})}});
         });
         (void)Model::from_dir(d);
       }},
      {"MODEL-NONFINITE-WEIGHT", ErrorCode::kInvalidFile, "contains NaN or Inf values (--check-weights)",
       [] { (void)Model::from_dir(nan_model(), /*check_weights=*/true); }},
      {"GEN-NONFINITE-LOGITS", ErrorCode::kInvalidFile, "the model produced a non-finite logit",
       [] { (void)generate(Model::from_dir(nan_model()), ids({{1, 2, 3}}), GenerationConfig{}, nullptr); }},
      {"MODEL-TENSOR-SHAPE", ErrorCode::kInvalidFile, "expected", [] {
         const std::string d = broken_model("shape", [](const std::string& d) {
           json c = io::read_json_file(d + "/config.json");
           c["n_positions"] = 64;
           test::write_file(d + "/config.json", c.dump());
         });
         (void)Model::from_dir(d);
       }},
      {"MODEL-TENSOR-DTYPE", ErrorCode::kInvalidFile, "has dtype I32, expected F32, F16 or BF16", [] {
         const std::string d = broken_model("dtype", [](const std::string& d) {
           const io::Gpt2Config c = gpt2_preset("tiny");
           Gpt2Weights w = random_gpt2_weights(c, 0);
           std::vector<std::pair<std::string, Tensor>> tensors;
           for_each_gpt2_tensor(c, w, [&](const std::string& name, Tensor& t, const Shape& shape) {
             tensors.emplace_back(name, name == "wpe.weight" ? Tensor::zeros(shape, DType::kI32) : t);
           });
           io::write_safetensors(d + "/model.safetensors", tensors);
         });
         (void)Model::from_dir(d);
       }},
      // pre-quantized checkpoints (GPTQ, AWQ)
      {"QCKPT-CONFIG", ErrorCode::kInvalidFile, "config.json: quantization_config is \"gptq\"; jitgen loads an object",
       [] { read_qc("gptq"); }},
      {"QCKPT-METHOD", ErrorCode::kInvalidFile, "jitgen loads \"gptq\" and \"awq\" checkpoints (4 bits)",
       [] { read_qc({{"quant_method", "bitsandbytes"}}); }},
      {"QCKPT-METHOD-MISSING", ErrorCode::kInvalidFile,
       "config.json: quantization_config.quant_method is missing; jitgen loads", [] { read_qc({{"bits", 4}}); }},
      {"QCKPT-VALUE", ErrorCode::kInvalidFile, "quantization_config.bits is 8; jitgen loads 4-bit", [] {
         json q = gptq_qc();
         q["bits"] = 8;
         read_qc(q);
       }},
      {"QCKPT-FIELD", ErrorCode::kInvalidFile, "is not a field jitgen knows for gptq checkpoints", [] {
         json q = gptq_qc();
         q["codebooks"] = 2;
         read_qc(q);
       }},
      {"QCKPT-REQUANTIZE", ErrorCode::kInvalidArgument, "the checkpoint is already quantized", [] {
         const cpu::ScopedWeightFormat scope(cpu::parse_weight_format("int4", "--quantize"));
         read_qc(gptq_qc());
       }},
      {"QCKPT-FAMILY", ErrorCode::kInvalidFile, "pre-quantized (GPTQ / AWQ) checkpoints are read for", [] {
         const std::string d = broken_model("gptq-gpt2", [](const std::string& d) {
           json c = io::read_json_file(d + "/config.json");
           c["quantization_config"] = gptq_qc();
           test::write_file(d + "/config.json", c.dump());
         });
         (void)Model::from_dir(d);
       }},
      {"QCKPT-TENSOR-MISSING", ErrorCode::kInvalidFile, "missing tensor \"m.scales\" (config.json quantization_config",
       [] { load_tiny_module([](auto& t) { t.erase("m.scales"); }); }},
      {"QCKPT-TENSOR-DTYPE", ErrorCode::kInvalidFile, "tensor \"m.scales\" has dtype F32, expected F16",
       [] { load_tiny_module([](auto& t) { t["m.scales"] = Tensor::zeros({2, 8}); }); }},
      {"QCKPT-TENSOR-SHAPE", ErrorCode::kInvalidFile, "tensor \"m.qzeros\" has shape [3, 1], expected [2, 1]",
       [] { load_tiny_module([](auto& t) { t["m.qzeros"] = Tensor::zeros({3, 1}, DType::kI32); }); }},
      {"QCKPT-PACK", ErrorCode::kInvalidFile, "4-bit gptq packing needs both to be multiples of 8",
       [] { load_tiny_module([](auto&) {}, 12); }},
      {"QCKPT-AWQ-GROUP", ErrorCode::kInvalidFile, "not a multiple of quantization_config.group_size",
       [] { load_tiny_module([](auto&) {}, 8, "awq", 16); }},
      {"QCKPT-GIDX", ErrorCode::kInvalidFile, "tensor \"m.g_idx\" [3] = 7 is outside [0, 2)",
       [] { load_tiny_module([](auto& t) { t["m.g_idx"].i32()[3] = 7; }); }},
      {"QCKPT-GIDX-FULL", ErrorCode::kInvalidFile, "puts more than group_size = 4 input rows into group 0",
       [] { load_tiny_module([](auto& t) { t["m.g_idx"].i32()[7] = 0; }); }},
      // tokenizer files
      {"TOK-OPEN", ErrorCode::kInvalidFile, "cannot open tokenizer.json",
       [] { (void)Tokenizer::from_tokenizer_json(scratch().file("none.json")); }},
      {"TOK-JSON", ErrorCode::kInvalidFile, "malformed JSON", [] { load_tokenizer_json_text("{"); }},
      {"TOK-JSON-NUMBER", ErrorCode::kInvalidFile, "malformed JSON", [] { load_tokenizer_json_text("[1e999]"); }},
      {"TOK-ROOT", ErrorCode::kInvalidFile, "top-level value is a JSON array", [] { load_tokenizer_json_text("[]"); }},
      {"TOK-NO-MODEL", ErrorCode::kInvalidFile, "field 'model' is missing", [] { load_tokenizer_json_text("{}"); }},
      {"TOK-MODEL-TYPE", ErrorCode::kInvalidFile, "model.type is \"Bigram\" (expected one of \"BPE\", \"Unigram\"", [] {
         json d = tokenizer_doc();
         d["model"]["type"] = "Bigram";
         load_tokenizer_json(d);
       }},
      {"TOK-DROPOUT", ErrorCode::kInvalidFile, "BPE dropout is for training", [] {
         json d = tokenizer_doc();
         d["model"]["dropout"] = 0.1;
         load_tokenizer_json(d);
       }},
      {"TOK-NO-VOCAB", ErrorCode::kInvalidFile, "model.vocab is missing", [] {
         json d = tokenizer_doc();
         d["model"].erase("vocab");
         load_tokenizer_json(d);
       }},
      {"TOK-VOCAB-OBJECT", ErrorCode::kInvalidFile, "(expected an object of token -> id)", [] {
         json d = tokenizer_doc();
         d["model"]["vocab"] = json::array();
         load_tokenizer_json(d);
       }},
      {"TOK-VOCAB-ID", ErrorCode::kInvalidFile, "(expected a non-negative integer)", [] {
         json d = tokenizer_doc();
         d["model"]["vocab"]["zz"] = -1;
         load_tokenizer_json(d);
       }},
      {"TOK-DUPLICATE-ID", ErrorCode::kInvalidFile, "(expected unique ids)", [] {
         json d = tokenizer_doc();
         d["model"]["vocab"]["zz"] = 5;
         load_tokenizer_json(d);
       }},
      {"TOK-ID-FAR-BEYOND", ErrorCode::kInvalidFile, "token id 100000 is far beyond the 257 tokens defined", [] {
         json d = tokenizer_doc();
         d["model"]["vocab"]["zz"] = 100000;
         load_tokenizer_json(d);
       }},
      {"TOK-BYTE-MISSING", ErrorCode::kInvalidFile, "vocabulary has no token for byte", [] {
         json v = byte_vocab();
         v.erase("a");
         load_vocab_merges(v.dump(), "");
       }},
      {"TOK-NO-MERGES", ErrorCode::kInvalidFile, "model.merges is missing or not an array", [] {
         json d = tokenizer_doc();
         d["model"].erase("merges");
         load_tokenizer_json(d);
       }},
      {"TOK-MERGE-MALFORMED", ErrorCode::kInvalidFile, "is malformed (expected \"a b\"", [] {
         json d = tokenizer_doc();
         d["model"]["merges"] = {"a  b"};
         load_tokenizer_json(d);
       }},
      {"TOK-MERGE-UNKNOWN", ErrorCode::kInvalidFile, "(expected vocabulary and merges from the same tokenizer)", [] {
         json d = tokenizer_doc();
         d["model"]["merges"] = {"a b"};
         load_tokenizer_json(d);
       }},
      {"TOK-NORMALIZER", ErrorCode::kInvalidFile, "normalizer.type is \"NFX\" (expected one of \"NFC\"", [] {
         json d = tokenizer_doc();
         d["normalizer"] = {{"type", "NFX"}};
         load_tokenizer_json(d);
       }},
      {"TOK-PRE-TOKENIZER", ErrorCode::kInvalidFile, "pre_tokenizer.type is \"Whitespacey\" (expected one of", [] {
         json d = tokenizer_doc();
         d["pre_tokenizer"] = {{"type", "Whitespacey"}};
         load_tokenizer_json(d);
       }},
      {"TOK-DECODER", ErrorCode::kInvalidFile, "decoder.decoders[1].type is \"Glue\" (expected one of", [] {
         json d = tokenizer_doc();
         d["decoder"] = {{"type", "Sequence"}, {"decoders", {{{"type", "Fuse"}}, {{"type", "Glue"}}}}};
         load_tokenizer_json(d);
       }},
      {"TOK-POST-PROCESSOR", ErrorCode::kInvalidFile, "post_processor.type is \"Templat\" (expected one of", [] {
         json d = tokenizer_doc();
         d["post_processor"] = {{"type", "Templat"}};
         load_tokenizer_json(d);
       }},
      {"TOK-COMPONENT-FIELD", ErrorCode::kInvalidFile, "pre_tokenizer.behavior is \"Dropped\" (expected \"Removed\"", [] {
         json d = tokenizer_doc();
         d["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Dropped"}};
         load_tokenizer_json(d);
       }},
      {"TOK-COMPONENT-MISSING", ErrorCode::kInvalidFile, "normalizer.prepend is missing (expected a string)", [] {
         json d = tokenizer_doc();
         d["normalizer"] = {{"type", "Prepend"}};
         load_tokenizer_json(d);
       }},
      {"TOK-BAD-REGEX", ErrorCode::kInvalidFile, "pre_tokenizer.pattern \"[a-\" does not compile", [] {
         json d = tokenizer_doc();
         d["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "[a-"}}}, {"behavior", "Isolated"}};
         load_tokenizer_json(d);
       }},
      {"TOK-UNK-MISSING", ErrorCode::kInvalidFile, "model.unk_token '<unk>' is not in the vocabulary", [] {
         json d = tokenizer_doc();
         d["model"]["unk_token"] = "<unk>";
         load_tokenizer_json(d);
       }},
      {"TOK-UNK-MISSING-WORD", ErrorCode::kInvalidFile, "model.unk_token '[UNK]' is not in model.vocab", [] {
         json d = tokenizer_doc();
         d["model"] = {{"type", "WordPiece"}, {"vocab", {{"a", 0}}}};
         load_tokenizer_json(d);
       }},
      {"TOK-UNIGRAM-UNK-ID", ErrorCode::kInvalidFile, "model.unk_id is 5 (expected an index into model.vocab, or null)", [] {
         json d = tokenizer_doc();
         d["model"] = {{"type", "Unigram"}, {"unk_id", 5}, {"vocab", json::array({json::array({"a", 0.0})})}};
         load_tokenizer_json(d);
       }},
      {"TOK-UNIGRAM-PIECE", ErrorCode::kInvalidFile, "model.vocab[0] is [\"a\",\"x\"] (expected [piece, score])", [] {
         json d = tokenizer_doc();
         d["model"] = {{"type", "Unigram"}, {"vocab", json::array({json::array({"a", "x"})})}};
         load_tokenizer_json(d);
       }},
      {"TOK-TEMPLATE-SPECIAL", ErrorCode::kInvalidFile, "that post_processor.special_tokens does not define", [] {
         json d = tokenizer_doc();
         d["post_processor"] = {{"type", "TemplateProcessing"},
                                {"single", {{{"SpecialToken", {{"id", "<s>"}}}}, {{"Sequence", {{"id", "A"}}}}}},
                                {"special_tokens", json::object()}};
         load_tokenizer_json(d);
       }},
      {"TOK-TEMPLATE-ID", ErrorCode::kInvalidFile, "post_processor adds token id 9999 that is not in the vocabulary", [] {
         json d = tokenizer_doc();
         d["post_processor"] = {{"type", "RobertaProcessing"}, {"cls", {"a", 9999}}, {"sep", {"b", 66}}};
         load_tokenizer_json(d);
       }},
      {"TOK-PRECOMPILED", ErrorCode::kInvalidFile, "normalizer.precompiled_charsmap declares a trie of", [] {
         json d = tokenizer_doc();
         d["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "/////wAAAAA="}};
         load_tokenizer_json(d);
       }},
      {"TOK-CONFIG-TOKEN", ErrorCode::kInvalidFile, "tokenizer_config.bos_token is 7 (expected a string, an object", [] {
         const std::string d = scratch().file("cfgtok");
         std::filesystem::create_directories(d);
         test::write_file(d + "/tokenizer.json", tokenizer_doc().dump());
         test::write_file(d + "/tokenizer_config.json", R"({"bos_token": 7})");
         (void)Tokenizer::from_dir(d);
       }},
      {"TOK-ADDED-ARRAY", ErrorCode::kInvalidFile, "added_tokens is not an array", [] {
         json d = tokenizer_doc();
         d["added_tokens"] = 1;
         load_tokenizer_json(d);
       }},
      {"TOK-ADDED-MALFORMED", ErrorCode::kInvalidFile, "is malformed (expected {\"id\"", [] {
         json d = tokenizer_doc();
         d["added_tokens"] = {{{"id", 300}}};
         load_tokenizer_json(d);
       }},
      {"TOK-ADDED-ID", ErrorCode::kInvalidFile, "(expected the same id)", [] {
         json d = tokenizer_doc();
         d["added_tokens"] = {{{"id", 300}, {"content", "a"}}};
         load_tokenizer_json(d);
       }},
      {"TOK-PAD-ID-TYPE", ErrorCode::kInvalidFile, "padding.pad_id is \"x\" (expected an integer)", [] {
         json d = tokenizer_doc();
         d["padding"] = {{"pad_id", "x"}};
         load_tokenizer_json(d);
       }},
      {"TOK-PAD-ID", ErrorCode::kInvalidFile, "is not a token id", [] {
         json d = tokenizer_doc();
         d["padding"] = {{"pad_id", 9999}};
         load_tokenizer_json(d);
       }},
      {"TOK-MERGES-LINE", ErrorCode::kInvalidFile, "(expected two tokens separated by one space)",
       [] { load_vocab_merges(byte_vocab().dump(), "#version: 0.2\nab\n"); }},
      {"TOK-SPM-MODEL", ErrorCode::kInvalidFile, "tokenizer.model: not a SentencePiece model (sentencepiece:",
       [] { load_spm_dir("garbage", "not a model", {{"tokenizer_class", "LlamaTokenizer"}}); }},
      {"TOK-SPM-CLASS", ErrorCode::kInvalidFile, "tokenizer_class is 'BertTokenizer' (expected LlamaTokenizer or T5Tokenizer",
       [] { load_spm_dir("class", spm_fixture("spm_llama"), {{"tokenizer_class", "BertTokenizer"}}); }},
      {"TOK-SPM-MODEL-TYPE", ErrorCode::kInvalidFile, "trainer_spec.model_type is 1 (expected 2, BPE", [] {
         load_spm_dir("type", spm_fixture("spm_t5"), {{"tokenizer_class", "LlamaTokenizer"}});
       }},
      {"TOK-SPM-EXTRA-IDS", ErrorCode::kInvalidFile, "extra_ids is \"3\" (expected an integer >= 0)", [] {
         load_spm_dir("extra", spm_fixture("spm_t5"), {{"tokenizer_class", "T5Tokenizer"}, {"extra_ids", "3"}});
       }},
      {"TOK-SPM-T5-EOS", ErrorCode::kInvalidFile, "T5Tokenizer needs an eos_token", [] {
         load_spm_dir("eos", spm_fixture("spm_t5"), {{"tokenizer_class", "T5Tokenizer"}, {"eos_token", nullptr}});
       }},
      {"TOK-CLASS-UNSUPPORTED", ErrorCode::kInvalidFile,
       "tokenizer_config.json: the folder loads as BertTokenizer in transformers 5, which rebuilds the tokenizer.json pipeline",
       [] { load_class_dir("bert", tokenizer_doc(), {{"tokenizer_class", "BertTokenizerFast"}}); }},
      {"TOK-CLASS-MODEL-TYPE", ErrorCode::kInvalidFile,
       "tokenizer.json: model.type is \"WordLevel\" (expected \"BPE\": tokenizer_config.json's Qwen2Tokenizer rebuilds", [] {
         json d = tokenizer_doc();
         d["model"] = {{"type", "WordLevel"}, {"vocab", {{"a", 0}}}, {"unk_token", "a"}};
         load_class_dir("wordlevel", d, {{"tokenizer_class", "Qwen2Tokenizer"}});
       }},
      {"TOK-CLASS-T5-EOS", ErrorCode::kInvalidFile, "tokenizer_config.json: T5Tokenizer needs an eos_token in the vocabulary", [] {
         const json d = {{"model", {{"type", "Unigram"}, {"vocab", json::array({json::array({"<pad>", 0.0}), json::array({"b", -1.0}),
                                                                    json::array({"<unk>", 0.0}), json::array({"a", -1.0})})},
                             {"unk_id", 2}}}};
         load_class_dir("t5", d, {{"tokenizer_class", "T5Tokenizer"}, {"eos_token", nullptr}, {"extra_ids", 0}});
       }},
      {"TOK-UNIGRAM-NO-UNK", ErrorCode::kInvalidFile, "model.unk_id is null but the text has a char no piece covers", [] {
         const std::string p = scratch().file("tokenizer.json");
         test::write_file(p, json({{"model", {{"type", "Unigram"}, {"vocab", json::array({json::array({"a", -1.0})})}}}}).dump());
         (void)Tokenizer::from_tokenizer_json(p).encode("ab");
       }},
      {"TOK-NO-TOKENIZER", ErrorCode::kInvalidFile, "no tokenizer found",
       [] { (void)Tokenizer::from_dir(scratch().path() + "/model"); }},
      {"TOK-SHA256", ErrorCode::kInvalidFile, "sha256 is", [] {
         const std::string d = scratch().file("badtok");
         std::filesystem::create_directories(d);
         test::write_file(d + "/vocab.json", byte_vocab().dump());
         test::write_file(d + "/merges.txt", "");
         (void)Tokenizer::builtin_gpt2(d);
       }},
      {"TOK-DECODE-ID", ErrorCode::kInvalidArgument, "decode: token id 60000 is not in the vocabulary",
       [] { (void)Tokenizer::builtin_gpt2().decode({60000}); }},
      {"TOK-ID-TO-TOKEN", ErrorCode::kInvalidArgument, "id_to_token: token id",
       [] { (void)Tokenizer::builtin_gpt2().id_to_token(-1); }},
      {"TOK-TOKEN-BYTES", ErrorCode::kInvalidArgument, "token_bytes: token id",
       [] { (void)Tokenizer::builtin_gpt2().token_bytes(60000); }},
      {"TOK-BATCH-MULTIPLE", ErrorCode::kInvalidArgument, "pad_to_multiple_of is -1", [] {
         BatchEncodeOptions o;
         o.pad_to_multiple_of = -1;
         (void)Tokenizer::builtin_gpt2().encode_batch({"a"}, o);
       }},
      {"TOK-BATCH-MAX-LENGTH", ErrorCode::kInvalidArgument, "max_length is -1", [] {
         BatchEncodeOptions o;
         o.max_length = -1;
         (void)Tokenizer::builtin_gpt2().encode_batch({"a"}, o);
       }},
      {"TOK-BATCH-NOT-MULTIPLE", ErrorCode::kInvalidArgument, "is not a multiple of pad_to_multiple_of", [] {
         BatchEncodeOptions o;
         o.max_length = 5;
         o.pad_to_multiple_of = 4;
         (void)Tokenizer::builtin_gpt2().encode_batch({"a"}, o);
       }},
      {"TOK-BATCH-NO-PAD", ErrorCode::kInvalidArgument, "encode_batch: padding needs a pad token", [] {
         const std::string p = scratch().file("tokenizer.json");
         test::write_file(p, tokenizer_doc().dump());  // byte tokens only: no pad, no <|endoftext|>
         (void)Tokenizer::from_tokenizer_json(p).encode_batch({"a", "bb"});
       }},
      // Engine
      {"ENGINE-PROMPT-BUCKET", ErrorCode::kInvalidArgument, "prompt bucket must be >= 1, got 0", [] {
         EngineOptions o;
         o.prompt_bucket = 0;
         Engine e(tiny(), o);
       }},
      // chat templates (src/chat)
      {"CHAT-SYNTAX", ErrorCode::kInvalidArgument, "chat template line 1, column 8: unexpected end of print statement",
       [] { chat::ChatTemplate t("{{ 1 + }}"); }},
      {"CHAT-UNSUPPORTED", ErrorCode::kInvalidArgument, "is not supported in chat templates",
       [] { chat::ChatTemplate t("{% include 'x' %}"); }},
      {"CHAT-RENDER", ErrorCode::kInvalidArgument, "chat template line 1, column 5: 'x' is undefined",
       [] { (void)chat::ChatTemplate("{{ x.y }}").render(nlohmann::ordered_json::object()); }},
      {"CHAT-RAISE", ErrorCode::kInvalidArgument, "raise_exception: roles must alternate",
       [] { (void)chat::ChatTemplate("{{ raise_exception('roles must alternate') }}").render(nlohmann::ordered_json::object()); }},
      {"CHAT-CONFIG-TYPE", ErrorCode::kInvalidFile,
       "tokenizer_config.chat_template is 3 (expected a string or a list of {\"name\", \"template\"})", [] {
         const std::string d = scratch().file("cfgchat");
         std::filesystem::create_directories(d);
         test::write_file(d + "/tokenizer.json", tokenizer_doc().dump());
         test::write_file(d + "/tokenizer_config.json", R"({"chat_template": 3})");
         (void)Tokenizer::from_dir(d);
       }},
      {"ENGINE-PLAN-CACHE-DIR", ErrorCode::kInvalidArgument, "cannot create the folder", [] {
         EngineOptions o;
         o.plan_cache_dir = "/dev/null/plans";
         Engine e(tiny(), o);
       }},
      // writing
      {"WRITE-METADATA-NAME", ErrorCode::kInvalidArgument, "cannot be used as a tensor name",
       [] { io::write_safetensors(scratch().file("w.safetensors"), {{"__metadata__", Tensor::zeros({1})}}); }},
      {"WRITE-DUPLICATE", ErrorCode::kInvalidArgument, "given twice", [] {
         io::write_safetensors(scratch().file("w.safetensors"), {{"a", Tensor::zeros({1})}, {"a", Tensor::zeros({1})}});
       }},
      {"WRITE-NEGATIVE-SHAPE", ErrorCode::kInvalidArgument, "has negative shape [-1]", [] {
         float x = 0;
         io::write_safetensors(scratch().file("w.safetensors"), {{"a", Tensor::view(&x, {-1}, DType::kF32)}});
       }},
      {"WRITE-NO-DATA", ErrorCode::kInvalidArgument, "has no data",
       [] { io::write_safetensors(scratch().file("w.safetensors"), {{"a", Tensor()}}); }},
      {"DEVICE-ENV", ErrorCode::kInvalidArgument, "JITGEN_DEVICE=\"gpu\": expected cpu or cuda",
       [] {
         setenv("JITGEN_DEVICE", "gpu", 1);
         struct Unset {
           ~Unset() { unsetenv("JITGEN_DEVICE"); }
         } unset;
         (void)default_device();
       }},
      {"WRITE-CREATE", ErrorCode::kInvalidFile, "cannot create",
       [] { io::write_safetensors(scratch().file("no/such/dir/w.safetensors"), {{"a", Tensor::zeros({1})}}); }},
  };
  return cases;
}

const std::vector<CliCase>& core_cli_cases() {
  static const std::vector<CliCase> cases = {
      {"CLI-PARSE", 2, "(see --help)", "generate --no-such-flag x"},
      {"CLI-INT", 2, "--max-new-tokens: \"abc\" is not an integer", "generate --max-new-tokens abc hi"},
      {"CLI-NUM", 2, "--temperature: \"nan\" is not a finite number", "generate --temperature nan hi"},
      {"CLI-ID", 2, "is not a token id (>= 0)", "generate --eos-token-id -5 hi"},
      {"CLI-ID-LIST", 2, "is not a list of token ids", "generate --eos-token-id , hi"},
      {"CLI-EARLY-STOPPING", 2, "is not one of true, false, never", "generate --early-stopping maybe hi"},
      {"CLI-SEED", 2, "A,B with two 32-bit unsigned words", "generate --seed 1,2,3 hi"},
      {"CLI-STOP-EMPTY", 2, "is not a non-empty string", "generate --stop '' hi"},
      {"CLI-BAD-WORD-EMPTY", 2, "is not a non-empty word", "generate --bad-words '' hi"},
      {"CLI-MODE", 2, "--mode: \"fast\" is not one of eager, compiled", "generate --mode fast hi"},
      {"CLI-PAD-MULTIPLE", 2, "--pad-to-multiple-of: must be >= 0", "generate --pad-to-multiple-of -1 hi"},
      {"CLI-NO-PROMPT", 2, "prompts: give at least one prompt", "generate"},
      {"CLI-EMPTY-PROMPT", 2, "prompts: prompt 0 is empty", "generate ''"},
      {"CLI-PROMPTS-FILE", 3, "--prompts-file: cannot open", "generate --prompts-file /nonexistent/prompts.txt"},
      {"CLI-STREAM-JSON", 2, "--stream: cannot be combined with --json", "generate --stream --json hi"},
      {"CLI-STREAM-BEAMS", 2, "--stream: not available with --num-beams > 1", "generate --stream --num-beams 2 hi"},
      {"CLI-STREAM-ONE", 2, "--stream: streams one sequence only", "generate --stream hi there"},
      {"CLI-FLAG-VALIDATE", 2, "--top-p: top_p must be in (0, 1]", "generate --top-p 2 hi"},
      {"CLI-LIMIT", 4, "--max-new-tokens / --max-length:", "generate --max-new-tokens 5000 hi"},
      {"CLI-MODEL-DIR", 3, "model folder not found", "generate --model /nonexistent/model hi"},
      {"CLI-TOKENIZER-VOCAB", 2, "--model: the tokenizer has 50257 tokens but the model only 300",
       "generate --model {small-vocab-model} hi"},
      {"CLI-PLAN-CACHE-DIR", 2, "--plan-cache /dev/null/plans: cannot create the folder",
       "generate --plan-cache /dev/null/plans hi"},
      {"CLI-QUANTIZE", 2, "--quantize: \"int3\" is not a weight format", "generate --quantize int3 hi"},
      {"CLI-QUANTIZE-LM-HEAD", 2, "--quantize-lm-head: needs --quantize", "generate --quantize-lm-head hi"},
      {"CLI-DECODE-ID", 2, "--decode: \"x\" is not a token id", "tokenize --decode 'x'"},
      {"CLI-DECODE-VOCAB", 2, "is not in the vocabulary", "tokenize --decode 99999"},
      {"CLI-MAKE-DTYPE", 2, "--dtype \"F64\": expected F32, F16 or BF16", "make-model --out /tmp/x --dtype F64"},
      {"CLI-MAKE-CONFIG", 2, "unknown --config \"huge\"", "make-model --out /tmp/x --config huge"},
      {"CLI-MAKE-SHARDS", 2, "--shards must be in [1,", "make-model --out /tmp/x --config tiny --shards 99"},
      {"CLI-MAKE-TOKENIZER", 2, "--with-tokenizer needs vocab_size 50257",
       "make-model --out /tmp/x --config tiny --vocab-size 300 --with-tokenizer"},
      {"CLI-MAKE-FOLDER", 3, "/dev/null/model: cannot create the folder",
       "make-model --out /dev/null/model --config tiny"},
#ifndef JITGEN_WITH_CUDA
      {"CLI-DEVICE-NO-CUDA", 2, "this jitgen was built without CUDA", "generate --device cuda hi"},
#endif
#ifdef JITGEN_WITH_SERVE
      {"CLI-SERVE-CTX", 2, "--ctx 100000 exceeds the model's position table", "serve --ctx 100000"},
      {"CLI-SERVE-LISTEN", 2, "cannot listen there", "serve --host 203.0.113.1 --port 8080"},
      {"CLI-PPL-MAX-LENGTH", 2, "--max-length 600: must be 2 .. 512",
       "perplexity --max-length 600 '" + test::source_dir() + "/README.md'"},
      {"CLI-PPL-JSONL", 3, "line 1: expected a JSON object with a string field \"text\"", [] {
         test::write_file(scratch().file("bad.jsonl"), "[1, 2]\n");
         return "perplexity '" + scratch().file("bad.jsonl") + "'";
       }()},
#endif
  };
  return cases;
}

#include "errors_test_families.inc"  // family_lib_cases(), family_cli_cases(), lib_cases(), cli_cases()

// ------------------------------------------------------------------------------------------------ the tests

class LibError : public ::testing::TestWithParam<size_t> {};

TEST_P(LibError, HasItsCodeAndMessage) {
  const LibCase& c = lib_cases()[GetParam()];
  try {
    c.trigger();
    ADD_FAILURE() << c.id << ": no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(c.code)) << c.id << ": " << msg;
    EXPECT_NE(msg.find(c.fragment), std::string::npos) << c.id << ": expected '" << c.fragment << "' in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << c.id << ": message must be one line: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << c.id << ": foreign exception " << e.what();
  }
}
INSTANTIATE_TEST_SUITE_P(Catalog, LibError, ::testing::Range<size_t>(0, lib_cases().size()),
                         [](const auto& info) {
                           std::string n = lib_cases()[info.param].id;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

class CliError : public ::testing::TestWithParam<size_t> {};

TEST_P(CliError, ExitsWithItsCodeAndOneLine) {
  const CliCase& c = cli_cases()[GetParam()];
  std::string args = c.args;
  const std::string placeholder = "{small-vocab-model}";  // a folder made on first use
  if (const auto at = args.find(placeholder); at != std::string::npos)
    args.replace(at, placeholder.size(), small_vocab_model());
  const test::CliResult r = test::run_cli(args);
  EXPECT_EQ(r.exit_code, c.exit_code) << c.id << ": " << r.err;
  EXPECT_NE(r.err.find(c.fragment), std::string::npos) << c.id << ": expected '" << c.fragment << "' in: " << r.err;
  // The error is the last stderr line (the built-in model notice may precede it), prefixed "jitgen: error: ".
  const auto last = r.err.rfind("jitgen: error: ");
  ASSERT_NE(last, std::string::npos) << c.id << ": " << r.err;
  EXPECT_EQ(r.err.find('\n', last), r.err.size() - 1) << c.id << ": one line expected: " << r.err;
}
INSTANTIATE_TEST_SUITE_P(Catalog, CliError, ::testing::Range<size_t>(0, cli_cases().size()),
                         [](const auto& info) {
                           std::string n = cli_cases()[info.param].id;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

TEST(Limits, AllFiniteFindsNanAndInfInEveryFloatDtype) {
  Tensor f = Tensor::zeros({4});
  EXPECT_TRUE(all_finite(f));
  f.f32()[2] = NAN;
  EXPECT_FALSE(all_finite(f));
  f.f32()[2] = -INFINITY;
  EXPECT_FALSE(all_finite(f));
  for (DType dt : {DType::kF16, DType::kBF16}) {
    Tensor h = Tensor::zeros({3}, dt);
    auto* p = static_cast<uint16_t*>(h.data());
    p[0] = dt == DType::kF16 ? f32_to_f16(65504.0f) : f32_to_bf16(1e38f);  // the largest finite values stay finite
    EXPECT_TRUE(all_finite(h));
    p[1] = dt == DType::kF16 ? f32_to_f16(INFINITY) : f32_to_bf16(NAN);
    EXPECT_FALSE(all_finite(h));
  }
  EXPECT_TRUE(all_finite(Tensor::zeros({2}, DType::kI32)));
}

// docs/errors.md rows look like: | `ID` | exit | message | cause |
TEST(ErrorCatalog, DocListsExactlyTheTestedErrors) {
  std::ifstream in(test::source_dir() + "/docs/errors.md");
  ASSERT_TRUE(in) << "docs/errors.md missing";
  std::map<std::string, int> doc;
  const std::regex row(R"(^\|\s*`([A-Z0-9-]+)`\s*\|\s*(\d+)\s*\|)");
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, row)) {
      EXPECT_TRUE(doc.emplace(m[1], std::stoi(m[2])).second) << "duplicate id " << m[1];
    }
  }
  std::map<std::string, int> tested;
  for (const auto& c : lib_cases()) EXPECT_TRUE(tested.emplace(c.id, static_cast<int>(c.code)).second) << c.id;
  for (const auto& c : cli_cases()) EXPECT_TRUE(tested.emplace(c.id, c.exit_code).second) << c.id;
  for (const auto& [id, code] : doc) {
    auto it = tested.find(id);
    if (it == tested.end()) ADD_FAILURE() << id << " is in docs/errors.md but has no test here";
    else EXPECT_EQ(it->second, code) << id << ": exit code in docs/errors.md differs";
  }
  for (const auto& [id, code] : tested)
    EXPECT_TRUE(doc.count(id)) << id << " is tested here but missing from docs/errors.md";
}

}  // namespace
}  // namespace jitgen
