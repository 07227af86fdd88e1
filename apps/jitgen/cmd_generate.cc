// jitgen generate: one or more prompts (a left-padded batch) with every HF generation option. Each generation
// flag is declared once in kGenFlags, which drives parsing, --help and the HF field it sets; values are checked
// by the same validate() the library runs, and errors name the flag.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "generate/continuation.h"
#include "generate/streamer.h"
#include "jitgen/error.h"
#include "jitgen/generate.h"
#include "jitgen/engine.h"
#include "models/model_impl.h"
#include "ops/cpu_kernels.h"
#include "ops/prepared_weights.h"
#include "ops/quant.h"

namespace jitgen::cli {
namespace {

using nlohmann::json;

enum class Kind { kInt, kNum, kSwitch, kEarlyStopping, kIdList, kIdLists, kSeed, kStrings, kTextList, kJson };

// One generation flag: --flag sets HF GenerationConfig field `field`.
struct GenFlag {
  const char* flag;
  const char* field;
  Kind kind;
  const char* help;
};

constexpr GenFlag kGenFlags[] = {
    {"--max-new-tokens", "max_new_tokens", Kind::kInt, "New tokens to generate (HF default: 20)"},
    {"--max-length", "max_length", Kind::kInt, "Total length cap, prompt included (max_new_tokens wins)"},
    {"--min-new-tokens", "min_new_tokens", Kind::kInt, "EOS is banned until this many new tokens"},
    {"--min-length", "min_length", Kind::kInt, "EOS is banned until the row (prompt included) is this long"},
    {"--max-time", "max_time", Kind::kNum, "Stop after this many seconds"},
    {"--do-sample", "do_sample", Kind::kSwitch, "Multinomial sampling (default: greedy / beam search)"},
    {"--num-beams", "num_beams", Kind::kInt, "Beam search with this many beams (1 = off)"},
    {"--num-return-sequences", "num_return_sequences", Kind::kInt, "Sequences returned per prompt"},
    {"--length-penalty", "length_penalty", Kind::kNum, "Beam score = sum log p / generated_length ** this"},
    {"--early-stopping", "early_stopping", Kind::kEarlyStopping, "Beam search stop rule: true, false or never"},
    {"--temperature", "temperature", Kind::kNum, "Sampling temperature (0 = greedy)"},
    {"--top-k", "top_k", Kind::kInt, "Keep the k most likely tokens (0 = off; HF default 50)"},
    {"--top-p", "top_p", Kind::kNum, "Nucleus sampling mass in (0, 1]"},
    {"--min-p", "min_p", Kind::kNum, "Drop tokens below min_p * max probability, in [0, 1]"},
    {"--typical-p", "typical_p", Kind::kNum, "Locally typical sampling mass in (0, 1]"},
    {"--repetition-penalty", "repetition_penalty", Kind::kNum, "Penalty > 0 for tokens already present (1 = off)"},
    {"--no-repeat-ngram-size", "no_repeat_ngram_size", Kind::kInt, "Ban repeating any n-gram of this size"},
    {"--bad-words", "bad_words_ids", Kind::kTextList, "Word never generated (repeatable; encoded as \" WORD\")"},
    {"--bad-words-ids", "bad_words_ids", Kind::kIdLists, "Banned id sequences: \"1 2;3\" or [[1,2],[3]]"},
    {"--eos-token-id", "eos_token_id", Kind::kIdList, "End-of-sequence ids, comma separated"},
    {"--pad-token-id", "pad_token_id", Kind::kInt, "Fill for finished rows and prompt padding"},
    {"--seed", "seed", Kind::kSeed, "Sampling seed: A,B (two 32-bit words) or one integer"},
    {"--stop", "stop_strings", Kind::kStrings, "Stop when the text ends with STR (repeatable)"},
    {"--output-scores", "output_scores", Kind::kSwitch, "With --json: per-step processed score of each chosen token"},
    {"--epsilon-cutoff", "epsilon_cutoff", Kind::kNum, "Sampling: drop tokens with probability < this (in (0, 1))"},
    {"--eta-cutoff", "eta_cutoff", Kind::kNum, "Sampling: eta sampling threshold (in (0, 1))"},
    {"--top-h", "top_h", Kind::kNum, "Sampling: entropy-bounded top tokens, in (0, 1]"},
    {"--encoder-repetition-penalty", "encoder_repetition_penalty", Kind::kNum,
     "Penalty > 0 on the prompt's tokens (> 1 favours them; 1 = off)"},
    {"--sequence-bias", "sequence_bias", Kind::kJson, "Score bias per id sequence: [[[1,2],-1.5],[[3],2.0]]"},
    {"--suppress-tokens", "suppress_tokens", Kind::kIdList, "Ids never generated, comma separated"},
    {"--begin-suppress-tokens", "begin_suppress_tokens", Kind::kIdList, "Ids not generated as the first new token"},
    {"--forced-bos-token-id", "forced_bos_token_id", Kind::kInt, "Id forced when the row holds one token"},
    {"--forced-eos-token-id", "forced_eos_token_id", Kind::kIdList, "Ids forced as the last token (max_length - 1)"},
    {"--exponential-decay-length-penalty", "exponential_decay_length_penalty", Kind::kJson,
     "[START,FACTOR]: raise EOS scores by FACTOR**n after START new tokens"},
    {"--remove-invalid-values", "remove_invalid_values", Kind::kSwitch, "Scores: nan -> 0, +-inf -> +-float max"},
    {"--renormalize-logits", "renormalize_logits", Kind::kSwitch, "log_softmax after all processors"},
};

struct GenerateFlags {
  ModelFlag model;
  std::vector<std::string> prompts;
  std::string prompts_file;
  std::string mode = "compiled";
  std::string device;  // empty: JITGEN_DEVICE, else cpu
  std::string plan_cache;
  int pad_to_multiple_of = 0;
  bool stream = false, json = false, verbose = false, dump_graph = false, profile = false;
  // The raw values of the generation flags, by index into kGenFlags.
  std::vector<std::vector<std::string>> values = std::vector<std::vector<std::string>>(std::size(kGenFlags));
  std::vector<bool> switches = std::vector<bool>(std::size(kGenFlags), false);
};

[[noreturn]] void bad_value(const GenFlag& f, const std::string& v, const std::string& expected) {
  throw_invalid_argument(fmt::format("{}: \"{}\" is not {}", f.flag, v, expected));
}

int64_t parse_int(const GenFlag& f, const std::string& v) {
  size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (v.empty() || used != v.size() || x < INT32_MIN || x > INT32_MAX) bad_value(f, v, "an integer");
  return x;
}

double parse_num(const GenFlag& f, const std::string& v) {
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (v.empty() || used != v.size() || !std::isfinite(x)) bad_value(f, v, "a finite number");
  return x;
}

std::vector<int32_t> parse_id_list(const GenFlag& f, std::string v) {
  for (char& c : v)
    if (c == ',' || c == '[' || c == ']') c = ' ';
  std::istringstream in(v);
  std::vector<int32_t> out;
  std::string tok;
  while (in >> tok) {
    const int64_t x = parse_int(f, tok);
    if (x < 0) bad_value(f, tok, "a token id (>= 0)");
    out.push_back(static_cast<int32_t>(x));
  }
  if (out.empty()) bad_value(f, v, "a list of token ids");
  return out;
}

// "1 2;3" or a JSON list of lists.
json parse_id_lists(const GenFlag& f, const std::string& v) {
  json lists = json::array();
  std::string s = v;
  if (!s.empty() && s.front() == '[') {
    json j = json::parse(s, nullptr, false);
    if (j.is_discarded() || !j.is_array()) bad_value(f, v, "a JSON list of lists of token ids");
    for (const auto& seq : j) lists.push_back(parse_id_list(f, seq.dump()));
    return lists;
  }
  std::istringstream in(s);
  std::string part;
  while (std::getline(in, part, ';')) lists.push_back(parse_id_list(f, part));
  return lists;
}

// Builds the HF overrides object from the flags that were given (absent flags keep the model's defaults).
json overrides_from_flags(const GenerateFlags& g, const Tokenizer& tok) {
  json o = json::object();
  for (size_t i = 0; i < std::size(kGenFlags); ++i) {
    const GenFlag& f = kGenFlags[i];
    if (f.kind == Kind::kSwitch) {
      if (g.switches[i]) o[f.field] = true;
      continue;
    }
    const auto& vals = g.values[i];
    if (vals.empty()) continue;
    const std::string& v = vals.back();
    switch (f.kind) {
      case Kind::kInt: o[f.field] = parse_int(f, v); break;
      case Kind::kNum: o[f.field] = parse_num(f, v); break;
      case Kind::kEarlyStopping:
        if (v == "true" || v == "True") o[f.field] = true;
        else if (v == "false" || v == "False") o[f.field] = false;
        else if (v == "never") o[f.field] = "never";
        else bad_value(f, v, "one of true, false, never");
        break;
      case Kind::kIdList: o[f.field] = parse_id_list(f, v); break;
      case Kind::kIdLists:
        for (const auto& x : vals)
          for (auto& seq : parse_id_lists(f, x)) o[f.field].push_back(seq);
        break;
      case Kind::kTextList:
        for (const auto& x : vals) {
          if (x.empty()) bad_value(f, x, "a non-empty word");
          o[f.field].push_back(tok.encode(" " + x));  // HF docs: tokenizer(word, add_prefix_space=True)
        }
        break;
      case Kind::kSeed: {
        std::vector<uint64_t> w;  // unsigned: merge_generation_config reads seed words as unsigned
        std::string s = v;
        std::replace(s.begin(), s.end(), ',', ' ');
        std::istringstream in(s);
        std::string t;
        while (in >> t) {
          size_t used = 0;
          unsigned long long x = 0;
          try {
            x = std::stoull(t, &used);
          } catch (const std::exception&) {
            used = 0;
          }
          if (used != t.size() || t[0] == '-' || x > UINT32_MAX) bad_value(f, v, "A,B with two 32-bit unsigned words");
          w.push_back(x);
        }
        if (w.size() == 1) o[f.field] = json::array({w[0], uint64_t{0}});
        else if (w.size() == 2) o[f.field] = w;
        else bad_value(f, v, "A,B with two 32-bit unsigned words");
        break;
      }
      case Kind::kStrings:
        for (const auto& x : vals) {
          if (x.empty()) bad_value(f, x, "a non-empty string");
          o[f.field].push_back(x);
        }
        break;
      case Kind::kJson: {
        json j = json::parse(v, nullptr, false);
        if (j.is_discarded()) bad_value(f, v, "JSON");
        o[f.field] = std::move(j);  // merge_generation_config checks the shape and names the field
        break;
      }
      case Kind::kSwitch: break;
    }
  }
  return o;
}

// validate() names HF fields (top_p must be ...); on the CLI the message also names the flag.
[[noreturn]] void rethrow_with_flag(const Error& e) {
  const std::string msg = e.what();
  size_t n = 0;
  while (n < msg.size() && (std::islower(static_cast<unsigned char>(msg[n])) || msg[n] == '_')) ++n;
  const std::string field = msg.substr(0, n);
  if (e.code() == ErrorCode::kLimit) throw Error(e.code(), "--max-new-tokens / --max-length: " + msg);
  for (const GenFlag& f : kGenFlags)
    if (field == f.field) throw Error(e.code(), fmt::format("{}: {}", f.flag, msg));
  throw e;
}

// One prompt per line. Escapes: \n newline, \t tab, \r carriage return, \\ backslash; a trailing CR (CRLF files)
// is dropped; an empty line is an error (HF needs at least one token).
std::vector<std::string> read_prompts_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_invalid_file(fmt::format("--prompts-file: cannot open {}", path));
  std::vector<std::string> prompts;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string p;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] != '\\' || i + 1 == line.size()) {
        p += line[i];
        continue;
      }
      const char c = line[++i];
      if (c == 'n') p += '\n';
      else if (c == 't') p += '\t';
      else if (c == 'r') p += '\r';
      else if (c == '\\') p += '\\';
      else throw_invalid_argument(fmt::format("--prompts-file: {} line {}: unknown escape \\{}", path, n, c));
    }
    if (p.empty()) throw_invalid_argument(fmt::format("--prompts-file: {} line {} is empty", path, n));
    prompts.push_back(std::move(p));
  }
  return prompts;
}

// --verbose / --profile / --dump-graph go to stderr, so stdout stays the generated text (or JSON).
void report_run(const GenerateFlags& g, const Engine& engine, const GenerateOutput& out) {
  const double tokens = static_cast<double>(out.sequences.size()) * out.new_tokens;
  if (g.verbose) {
    const EngineCacheStats cs = engine.cache_stats();
    std::cerr << fmt::format(
        "jitgen: mode {}; plans: {} hit, {} miss ({} from --plan-cache); compile {:.2f} ms; prefill {:.2f} ms; "
        "decode {:.2f} ms for {} steps ({:.1f} tokens/s)\n",
        g.mode, out.cache_hits, out.cache_misses, cs.loaded_from_disk, out.compile_ms, out.prefill_ms, out.decode_ms,
        out.new_tokens, out.decode_ms > 0 ? tokens * 1000.0 / (out.decode_ms + out.prefill_ms) : 0.0);
    // What ran on the CPU: the weight format and the kernels JITGEN_SIMD / JITGEN_QUANT_PATH and cpuid left.
    const cpu::PreparedWeights* prepared = engine.model().impl().model->prepared();
    if (prepared && g.device != "cuda") {
      const bool quantized = prepared->format().quant || !prepared->format().checkpoint.empty();
      std::cerr << fmt::format("jitgen: weights {}; SIMD {}{}\n", prepared->format().name(), cpu::simd_name(),
                               quantized ? fmt::format(", quantized kernels {}{}", cpu::quant_path_name(cpu::quant_path()),
                                                       cpu::quant_path() == cpu::QuantPath::kAmx
                                                           ? " (AMX tiles from 16 rows, vnni below)" : "")
                                         : std::string());
    }
  }
  if (g.profile) {
    std::cerr << fmt::format("jitgen: profile of the compiled steps ({:.2f} ms in steps, {:.2f} ms in kernels, "
                             "{:.2f}% outside kernels)\n",
                             out.step_total_ms, out.kernel_total_ms,
                             out.step_total_ms > 0 ? 100.0 * (out.step_total_ms - out.kernel_total_ms) / out.step_total_ms
                                                   : 0.0);
    for (const auto& [label, ms] : out.kernel_ms)
      std::cerr << fmt::format("  {:<28} {:>10.3f} ms {:>6.1f}%\n", label, ms,
                               out.kernel_total_ms > 0 ? 100.0 * ms / out.kernel_total_ms : 0.0);
  }
  if (g.dump_graph) std::cerr << engine.dump_graphs();
}

int run_generate(const GenerateFlags& g) {
  ExecutionMode mode;
  if (g.mode == "eager") mode = ExecutionMode::kEager;
  else if (g.mode == "compiled") mode = ExecutionMode::kCompiled;
  else throw_invalid_argument(fmt::format("--mode: \"{}\" is not one of eager, compiled", g.mode));
  if (g.pad_to_multiple_of < 0)
    throw_invalid_argument(fmt::format("--pad-to-multiple-of: must be >= 0, got {}", g.pad_to_multiple_of));
  std::vector<std::string> prompts = g.prompts;
  if (!g.prompts_file.empty()) {
    auto more = read_prompts_file(g.prompts_file);
    prompts.insert(prompts.end(), more.begin(), more.end());
  }
  if (prompts.empty()) throw_invalid_argument("prompts: give at least one prompt (or --prompts-file FILE)");
  for (size_t i = 0; i < prompts.size(); ++i)
    if (prompts[i].empty()) throw_invalid_argument(fmt::format("prompts: prompt {} is empty", i));

  Model model = g.model.load_model();
  Tokenizer tokenizer = g.model.load_tokenizer();
  if (tokenizer.vocab_size() > model.info().vocab_size)
    throw_invalid_argument(fmt::format("--model: the tokenizer has {} tokens but the model only {}",
                                       tokenizer.vocab_size(), model.info().vocab_size));
  const json overrides = overrides_from_flags(g, tokenizer);
  GenerationConfig cfg;
  try {
    cfg = resolve_generation_config(model.impl().generation_defaults, overrides);
  } catch (const Error& e) {
    rethrow_with_flag(e);
  }
  // HF generate(): pad_token_id defaults to eos (with a warning); the prompt padding uses the same id.
  BatchEncodeOptions enc;
  enc.padding_side = PaddingSide::kLeft;
  enc.pad_to_multiple_of = g.pad_to_multiple_of;
  if (auto pad = resolved_pad_token_id(cfg)) enc.pad_token_id = *pad;
  else enc.pad_token_id = 0;
  BatchEncoding batch = tokenizer.encode_batch(prompts, enc);
  for (size_t i = 0; i < prompts.size(); ++i)
    if (std::find(batch.attention_mask[i].begin(), batch.attention_mask[i].end(), 1) == batch.attention_mask[i].end())
      throw_invalid_argument(fmt::format("prompts: prompt {} encodes to no tokens", i));
  try {
    validate(cfg, model.info().n_positions, static_cast<int>(batch.input_ids[0].size()));
  } catch (const Error& e) {
    rethrow_with_flag(e);
  }

  const bool beam = cfg.num_beams > 1;
  GenerateOptions opt;
  opt.mode = mode;
  opt.tokenizer = &tokenizer;
  std::unique_ptr<decoding::TextStreamer> streamer;
  if (g.stream) {
    if (g.json) throw_invalid_argument("--stream: cannot be combined with --json");
    if (beam) throw_invalid_argument("--stream: not available with --num-beams > 1 (HF rejects streamers with beams)");
    if (prompts.size() * cfg.num_return_sequences != 1)
      throw_invalid_argument("--stream: streams one sequence only (one prompt, --num-return-sequences 1)");
    streamer = std::make_unique<decoding::TextStreamer>(decoding::TextStreamer::from_tokenizer(tokenizer, true));
    std::cout << prompts[0] << std::flush;
    auto done = std::make_shared<bool>(false);
    // The streamed deltas are decode(new ids); before the first text, print what joins it to the prompt (the space
    // a SentencePiece decoder strips from a first token), so that the stream shows what the plain output shows.
    auto fresh = std::make_shared<std::vector<int32_t>>();
    auto joined = std::make_shared<bool>(false);
    std::vector<int32_t> prompt_ids;
    for (size_t t = 0; t < batch.input_ids[0].size(); ++t)
      if (batch.attention_mask[0][t]) prompt_ids.push_back(batch.input_ids[0][t]);
    opt.on_step = [&streamer, done, fresh, joined, prompt_ids, &tokenizer, &cfg](int, const std::vector<int32_t>& tokens) {
      if (*done) return;  // HF streamers see the pad fill too; skip_special_tokens drops it, so stop at EOS
      fresh->push_back(tokens[0]);
      if (!*joined && !tokenizer.decode(*fresh, true).empty()) {
        std::cout << decoding::continuation_join(tokenizer, prompt_ids, *fresh, true);
        *joined = true;
      }
      std::cout << streamer->put(tokens[0]) << std::flush;
      if (std::find(cfg.eos_token_id.begin(), cfg.eos_token_id.end(), tokens[0]) != cfg.eos_token_id.end())
        *done = true;
    };
  }
  EngineOptions eo;
  eo.mode = mode;
  if (g.device == "cuda") eo.device = Device::kCuda;
  else if (g.device == "cpu") eo.device = Device::kCpu;
  eo.prompt_bucket = g.pad_to_multiple_of > 0 ? g.pad_to_multiple_of : EngineOptions{}.prompt_bucket;
  eo.plan_cache_dir = g.plan_cache;
  eo.profile = g.profile;
  const Engine engine(model, eo);
  GenerateOutput out =
      engine.generate(GenerateInput{batch.input_ids, batch.attention_mask}, cfg, opt.on_step, &tokenizer);
  report_run(g, engine, out);

  if (streamer) {
    std::cout << streamer->finish() << "\n";
    return 0;
  }
  json results = json::array();
  for (size_t r = 0; r < out.sequences.size(); ++r) {
    const int p = out.prompt_index[r];
    std::vector<int32_t> fresh(out.sequences[r].begin() + out.prompt_length, out.sequences[r].end());
    std::vector<int32_t> prompt_ids;  // the prompt without its left padding
    for (size_t t = 0; t < batch.input_ids[p].size(); ++t)
      if (batch.attention_mask[p][t]) prompt_ids.push_back(batch.input_ids[p][t]);
    const std::string text = tokenizer.decode(fresh, true);  // HF batch_decode(skip_special_tokens=True)
    if (!g.json) {
      // As HF's decode of the whole sequence shows it: the prompt, then what the new tokens add to its text (with the
      // space a SentencePiece decoder strips from the first new token when it is decoded alone).
      std::cout << prompts[p] << decoding::continuation_text(tokenizer, prompt_ids, fresh, true) << "\n";
      continue;
    }
    json row = {{"prompt_index", p}, {"prompt", prompts[p]}, {"ids", fresh}, {"text", text}};
    row["sequence_score"] = beam ? json(out.sequences_scores[r]) : json(nullptr);
    if (cfg.output_scores) row["scores"] = out.token_scores[r];  // -inf becomes null
    results.push_back(std::move(row));
  }
  if (g.json) {
    json doc = {{"model", model.source()}, {"prompt_length", out.prompt_length}, {"new_tokens", out.new_tokens},
                {"sequences", results}};
    std::cout << doc.dump() << "\n";
  }
  return 0;
}

}  // namespace

Subcommand register_generate(CLI::App& parent) {
  auto g = std::make_shared<GenerateFlags>();
  CLI::App* cmd = parent.add_subcommand("generate", "Generate text from one or more prompts (a left-padded batch)");
  g->model.add_to(cmd);
  cmd->add_option("prompts", g->prompts, "Prompt texts (each one row of the batch)");
  cmd->add_option("--prompts-file", g->prompts_file, "File with one prompt per line (escapes: \\n \\t \\r \\\\)");
  cmd->add_option("--mode", g->mode, "Execution: compiled (default) or eager");
  cmd->add_option("--device", g->device, "cpu or cuda (a -DJITGEN_CUDA=ON build; default: $JITGEN_DEVICE, else cpu)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--plan-cache", g->plan_cache, "Folder of compiled plans reused across runs (created if missing)");
  cmd->add_flag("--verbose", g->verbose, "Report plan cache hits/misses, compile and run times on stderr");
  cmd->add_flag("--profile", g->profile, "Time every compiled kernel; print the per-op profile on stderr");
  cmd->add_flag("--dump-graph", g->dump_graph, "Print every compiled plan (graph after the passes) on stderr");
  cmd->add_option("--pad-to-multiple-of", g->pad_to_multiple_of, "Pad the batch length to a multiple of N");
  cmd->add_flag("--stream", g->stream, "Print text as it is generated (one sequence only)");
  cmd->add_flag("--json", g->json, "Print JSON: per sequence prompt_index, ids, text, sequence_score[, scores]");
  for (size_t i = 0; i < std::size(kGenFlags); ++i) {
    const GenFlag& f = kGenFlags[i];
    const std::string help = fmt::format("{} (HF {})", f.help, f.field);
    if (f.kind == Kind::kSwitch) {
      cmd->add_flag_callback(f.flag, [g, i] { g->switches[i] = true; }, help);
    } else {
      CLI::Option* o = cmd->add_option(f.flag, g->values[i], help);
      const bool repeatable = f.kind == Kind::kStrings || f.kind == Kind::kTextList || f.kind == Kind::kIdLists;
      o->type_size(1)->expected(1);
      if (repeatable) o->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
      else o->multi_option_policy(CLI::MultiOptionPolicy::Throw);
      o->allow_extra_args(false);
    }
  }
  return {cmd, [g] { return run_generate(*g); }};
}

}  // namespace jitgen::cli
