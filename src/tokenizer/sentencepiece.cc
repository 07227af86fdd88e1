// A folder with a SentencePiece tokenizer.model and no tokenizer.json, loaded as transformers 5.24 loads it.
//
// transformers 5 never runs SentencePiece itself for such a folder: TokenizersBackend.convert_to_native_format
// reads the .model proto (SentencePieceExtractor) and the tokenizer class named by tokenizer_config.json builds a
// `tokenizers` pipeline from it. jitgen builds the same pipeline (as a tokenizer.json document, through the same
// loader), so ids and text are the converted fast tokenizer's, byte for byte:
//   LlamaTokenizer (LlamaTokenizerFast, or model_type llama / mistral in config.json): BPE over the pieces with
//     merges from generate_merges(vocab) (for each piece in id order, every split into two pieces), fuse_unk,
//     byte_fallback, no unk_token, no normalizer; Metaspace pre-tokenizer, prepend_scheme "always" when
//     `legacy` is true, "first" when false (the default), "never" with add_prefix_space false; decoder Replace
//     "▁" -> " ", ByteFallback, Fuse, Strip(1 leading space) unless add_prefix_space is false.
//     (transformers/models/llama/tokenization_llama.py, tokenization_utils_base.generate_merges)
//   T5Tokenizer (T5TokenizerFast, or model_type t5): Unigram over the pieces and their scores plus <extra_id_N>
//     pieces (extra_ids, default 100, appended from N = extra_ids - 1 down to 0), unk_id 2, no byte fallback; the
//     model's precompiled charsmap as a Precompiled normalizer; WhitespaceSplit + Metaspace("always", split);
//     Metaspace decoder; post-processor "$A </s>" whatever add_eos_token says.
//     (transformers/models/t5/tokenization_t5.py, convert_slow_tokenizer.T5Converter.convert_from_spm)
// Both: CONTROL pieces become special added tokens and USER_DEFINED pieces non-special ones (normalized false);
// the named tokens default to the class's (<unk>, <s>, </s> for Llama; </s>, <unk>, <pad> for T5) and
// tokenizer_config.json / special_tokens_map.json then apply as for any folder (config.cc).
//
// Debian's libsentencepiece (0.1.97) reads and validates the file and gives the pieces and scores; its API does
// not expose the piece types or the trainer / normalizer specs, so those few fields are read from the protobuf
// wire format here (field numbers from sentencepiece_model.proto).
#include <sentencepiece_processor.h>

#include <filesystem>

#include "jitgen/error.h"
#include "tokenizer/hf_class_rules.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/text.h"

namespace jitgen::tokenizer {

using json = nlohmann::json;

namespace {

// --- the few ModelProto fields libsentencepiece does not expose -------------------------------------------------

struct SpmSpec {
  std::vector<int> piece_types;  // ModelProto.pieces[i].type: 1 normal, 2 unknown, 3 control, 4 user defined, ...
  int model_type = 1;            // TrainerSpec.model_type: 1 unigram, 2 bpe, 3 word, 4 char
  bool byte_fallback = false;
  std::string charsmap;          // NormalizerSpec.precompiled_charsmap
};

class Wire {
 public:
  Wire(std::string_view b, const std::string& path) : b_(b), path_(path) {}
  bool done() const { return i_ >= b_.size(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (i_ >= b_.size()) fail("a varint runs past the end");
      const auto c = static_cast<unsigned char>(b_[i_++]);
      v |= uint64_t{c & 0x7Fu} << shift;
      if (!(c & 0x80)) return v;
    }
    fail("a varint is longer than 10 bytes");
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    if (n > b_.size() - i_) fail("a field's length runs past the end");
    std::string_view s = b_.substr(i_, n);
    i_ += n;
    return s;
  }
  void skip(int wire_type) {
    switch (wire_type) {
      case 0: varint(); return;
      case 1: advance(8); return;
      case 2: bytes(); return;
      case 5: advance(4); return;
      default: fail("wire type " + std::to_string(wire_type) + " is not a protobuf field type");
    }
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw_invalid_file(path_ + ": malformed SentencePiece model (" + what + " at byte " + std::to_string(i_) +
                       "; expected a ModelProto as sentencepiece writes it)");
  }

 private:
  void advance(size_t n) {
    if (n > b_.size() - i_) fail("a field runs past the end");
    i_ += n;
  }
  std::string_view b_;
  const std::string& path_;
  size_t i_ = 0;
};

// Calls fn(field number, wire type, Wire&) for each field of a message; fn reads the value or skips it.
template <typename Fn>
void for_each_field(std::string_view msg, const std::string& path, Fn&& fn) {
  Wire w(msg, path);
  while (!w.done()) {
    const uint64_t key = w.varint();
    fn(static_cast<int>(key >> 3), static_cast<int>(key & 7), w);
  }
}

SpmSpec read_spec(std::string_view file, const std::string& path) {
  SpmSpec s;
  for_each_field(file, path, [&](int field, int wt, Wire& w) {
    if (field == 1 && wt == 2) {  // SentencePiece piece
      int type = 1;
      for_each_field(w.bytes(), path, [&](int f, int t, Wire& p) {
        if (f == 3 && t == 0) type = static_cast<int>(p.varint());
        else p.skip(t);
      });
      s.piece_types.push_back(type);
    } else if (field == 2 && wt == 2) {  // TrainerSpec
      for_each_field(w.bytes(), path, [&](int f, int t, Wire& p) {
        if (f == 3 && t == 0) s.model_type = static_cast<int>(p.varint());
        else if (f == 35 && t == 0) s.byte_fallback = p.varint() != 0;
        else p.skip(t);
      });
    } else if (field == 3 && wt == 2) {  // NormalizerSpec
      for_each_field(w.bytes(), path, [&](int f, int t, Wire& p) {
        if (f == 2 && t == 2) s.charsmap = std::string(p.bytes());
        else p.skip(t);
      });
    } else {
      w.skip(wt);
    }
  });
  return s;
}

std::string base64(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += i + 1 < in.size() ? k[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? k[v & 63] : '=';
  }
  return out;
}

// --- the pipelines transformers builds ----------------------------------------------------------------------------

enum class Family { kLlama, kT5 };

Family family_of(const std::filesystem::path& dir, const json& cfg, const std::string& model_path) {
  std::string cls = cfg.is_object() && cfg.contains("tokenizer_class") && cfg["tokenizer_class"].is_string()
                        ? cfg["tokenizer_class"].get<std::string>()
                        : "";
  if (cls.ends_with("Fast")) cls.resize(cls.size() - 4);  // LlamaTokenizerFast is LlamaTokenizer in transformers 5
  if (cls == "LlamaTokenizer") return Family::kLlama;
  if (cls == "T5Tokenizer") return Family::kT5;
  if (cls.empty() && std::filesystem::exists(dir / "config.json")) {
    const json c = parse_json_file((dir / "config.json").string(), "config.json");
    const std::string mt = c.is_object() && c.contains("model_type") && c["model_type"].is_string() ? c["model_type"].get<std::string>() : "";
    if (mt == "llama" || mt == "mistral") return Family::kLlama;
    if (mt == "t5") return Family::kT5;
  }
  throw_invalid_file(model_path + ": no tokenizer.json beside it, and tokenizer_config.json's tokenizer_class is " +
                     (cls.empty() ? std::string("not set") : "'" + cls + "'") +
                     " (expected LlamaTokenizer or T5Tokenizer, or config.json model_type llama, mistral or t5, to know "
                     "how transformers converts this SentencePiece model)");
}

json added(int id, const std::string& content, bool special) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
          {"normalized", false}, {"special", special}};
}

json llama_json(const sentencepiece::SentencePieceProcessor& sp, const json& cfg) {
  const int n = sp.GetPieceSize();
  json vocab = json::object();
  for (int i = 0; i < n; ++i) vocab[sp.IdToPiece(i)] = i;
  // generate_merges(vocab): pieces in id order; within a piece, its splits by the left part's length.
  json merges = json::array();
  for (int i = 0; i < n; ++i) {
    const std::string& piece = sp.IdToPiece(i);
    for_each_char(piece, [&](char32_t, size_t b, size_t) {
      if (b == 0) return;
      const std::string l = piece.substr(0, b), r = piece.substr(b);
      if (vocab.contains(l) && vocab.contains(r)) merges.push_back({l, r});
    });
  }
  // The class's components are the same as for a tokenizer.json folder (hf_class_rules.cc).
  json j = {{"model",
             {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"fuse_unk", true}, {"byte_fallback", true},
              {"unk_token", nullptr}, {"ignore_merges", false}}},
            {"normalizer", nullptr},
            {"pre_tokenizer", llama_pre_tokenizer(cfg)},
            {"decoder", llama_decoder(cfg)}};
  return j;
}

json t5_json(const sentencepiece::SentencePieceProcessor& sp, const SpmSpec& spec, int extra_ids) {
  json vocab = json::array();
  for (int i = 0; i < sp.GetPieceSize(); ++i) vocab.push_back({sp.IdToPiece(i), sp.GetScore(i)});
  for (int i = extra_ids - 1; i >= 0; --i) vocab.push_back({"<extra_id_" + std::to_string(i) + ">", 0.0});
  json j = {{"model", {{"type", "Unigram"}, {"vocab", vocab}, {"unk_id", 2}, {"byte_fallback", false}}},
            {"pre_tokenizer", t5_pre_tokenizer()},
            {"decoder", t5_decoder()}};
  j["normalizer"] = spec.charsmap.empty() ? json(nullptr)
                                          : json{{"type", "Precompiled"}, {"precompiled_charsmap", base64(spec.charsmap)}};
  return j;
}

}  // namespace

std::unique_ptr<Pipeline> load_sentencepiece_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  const std::string path = (d / "tokenizer.model").string();
  const std::string bytes = read_whole_file(path, "tokenizer.model");
  sentencepiece::SentencePieceProcessor sp;
  try {
    if (const auto st = sp.LoadFromSerializedProto(bytes); !st.ok())
      throw_invalid_file(path + ": not a SentencePiece model (sentencepiece: " + st.ToString() + ")");
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // its Darts trie throws on an empty piece (found by fuzz_tokenizer_model)
    throw_invalid_file(path + ": not a SentencePiece model (sentencepiece: " + e.what() + ")");
  }
  const SpmSpec spec = read_spec(bytes, path);
  if (static_cast<int>(spec.piece_types.size()) != sp.GetPieceSize())
    throw_invalid_file(path + ": malformed SentencePiece model (" + std::to_string(spec.piece_types.size()) +
                       " pieces read, sentencepiece reads " + std::to_string(sp.GetPieceSize()) + ")");
  const std::string cfg_path = (d / "tokenizer_config.json").string();
  const json cfg = fs::exists(cfg_path) ? parse_json_file(cfg_path, "tokenizer_config.json") : json::object();
  const Family family = family_of(d, cfg, path);

  json j;
  int extra_ids = 0;
  if (family == Family::kLlama) {
    if (spec.model_type != 2)
      throw_invalid_file(path + ": trainer_spec.model_type is " + std::to_string(spec.model_type) +
                         " (expected 2, BPE: transformers' LlamaTokenizer converts a SentencePiece BPE model)");
    j = llama_json(sp, cfg);
  } else {
    if (spec.model_type != 1)
      throw_invalid_file(path + ": trainer_spec.model_type is " + std::to_string(spec.model_type) +
                         " (expected 1, Unigram: transformers' T5Tokenizer converts a SentencePiece Unigram model)");
    if (cfg.is_object() && cfg.contains("extra_ids")) {
      const json& e = cfg["extra_ids"];
      if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() > 100000)
        throw_invalid_file(cfg_path + ": extra_ids is " + e.dump() + " (expected an integer >= 0)");
      extra_ids = static_cast<int>(e.get<int64_t>());
    } else {
      extra_ids = 100;
    }
    j = t5_json(sp, spec, extra_ids);
  }
  json add = json::array();
  for (int i = 0; i < sp.GetPieceSize(); ++i) {
    const int t = spec.piece_types[i];
    if (t == 3 || t == 4) add.push_back(added(i, sp.IdToPiece(i), t == 3));
  }
  for (int i = 0; i < extra_ids; ++i) add.push_back(added(sp.GetPieceSize() + extra_ids - 1 - i, "<extra_id_" + std::to_string(i) + ">", true));
  j["added_tokens"] = add;
  auto p = load_tokenizer_json_value(j, path);
  // The class's default named tokens, before the config files (which may name others).
  const std::vector<std::pair<const char*, const char*>> defaults =
      family == Family::kLlama ? std::vector<std::pair<const char*, const char*>>{{"unk_token", "<unk>"}, {"bos_token", "<s>"}, {"eos_token", "</s>"}}
                               : std::vector<std::pair<const char*, const char*>>{{"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"pad_token", "<pad>"}};
  p->default_special_tokens.assign(defaults.begin(), defaults.end());
  p->eos_id.reset();  // not the tokenizer.json rule (<|endoftext|>): the named eos_token decides
  apply_config_files(dir, *p, /*add_bos_eos_from_config=*/true);
  if (family == Family::kT5) {
    // T5Tokenizer.__init__ sets "$A </s>" after everything else.
    if (!p->eos_id) throw_invalid_file(path + ": T5Tokenizer needs an eos_token in the vocabulary (expected '</s>')");
    p->post_processor = make_bos_eos_processor(std::nullopt, p->eos_id);
  }
  return p;
}

}  // namespace jitgen::tokenizer
