// Loading (vocab.json + merges.txt, tokenizer.json, the sha256-checked built-in GPT-2 files), encode,
// decode and batching. The pieces: byte_level (alphabet, UTF-8 repair), added_tokens (split on special
// tokens), pretokenizer (GPT-2 regex via PCRE2), bpe (merges + word cache).
#include "jitgen/tokenizer.h"

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "jitgen/error.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"

namespace jitgen {

using tokenizer::AddedToken;
using tokenizer::StringIdMap;
using json = nlohmann::json;

namespace {

constexpr const char* kEndOfText = "<|endoftext|>";
// From third_party/gpt2-tokenizer/README.md.
constexpr const char* kBuiltinVocabSha256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783";
constexpr const char* kBuiltinMergesSha256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5";

std::string read_whole_file(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw_invalid_file(path + ": cannot open " + what + " (expected a readable file)");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw_invalid_file(path + ": read error");
  return ss.str();
}

json parse_json(const std::string& path, const std::string& bytes) {
  try {
    return json::parse(bytes);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers such as 1e999
    std::string msg = e.what();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    throw_invalid_file(path + ": malformed JSON (" + msg + ")");
  }
}

std::string sha256_hex(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorCode::kInternal, "sha256 computation failed");
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += {hex[md[i] >> 4], hex[md[i] & 15]};
  return out;
}

std::string squote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('\'');
  out.append(s);
  out.push_back('\'');
  return out;
}

// Everything a loader collects before the Impl is built.
struct Spec {
  std::string source;  // file named in error messages about vocabulary consistency
  StringIdMap vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<int> merge_lines;  // line (or array index) of each merge, for messages
  std::string merges_source;
  std::vector<AddedToken> added;
  bool add_prefix_space = false;
  bool ignore_merges = false;
  std::optional<int32_t> pad_id;
};

void parse_vocab(const json& v, const std::string& path, const std::string& field, StringIdMap* vocab) {
  if (!v.is_object()) {
    throw_invalid_file(path + ": " + field + " is a JSON " + v.type_name() + " (expected an object of token -> id)");
  }
  vocab->reserve(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > INT32_MAX) {
      throw_invalid_file(path + ": " + field + " entry " + squote(it.key()) + " has id " + it.value().dump() +
                         " (expected a non-negative integer)");
    }
    (*vocab)[it.key()] = static_cast<int32_t>(it.value().get<int64_t>());
  }
}

}  // namespace

struct Tokenizer::Impl {
  StringIdMap token_to_id;                 // model vocabulary and added tokens
  std::vector<std::string> id_to_token;    // "" with has_id false for gaps
  std::vector<uint8_t> has_id;
  std::vector<uint8_t> is_special;
  std::vector<std::string> id_bytes;       // raw bytes each id decodes to
  std::unique_ptr<tokenizer::Bpe> bpe;
  tokenizer::AddedTokenSplitter added;
  bool add_prefix_space = false;
  bool ignore_merges = false;
  std::optional<int32_t> eos_id;
  std::optional<int32_t> pad_id;

  static const tokenizer::PreTokenizer& pretokenizer() {
    static const tokenizer::PreTokenizer p;
    return p;
  }

  static std::unique_ptr<Impl> build(Spec&& s);
  void encode_ordinary(std::string_view segment, std::vector<int32_t>& out) const;
};

std::unique_ptr<Tokenizer::Impl> Tokenizer::Impl::build(Spec&& s) {
  auto impl = std::make_unique<Impl>();
  int64_t max_id = -1;
  for (const auto& [tok, id] : s.vocab) max_id = std::max<int64_t>(max_id, id);
  for (const AddedToken& a : s.added) max_id = std::max<int64_t>(max_id, a.id);
  // Ids index dense tables: a huge id in a small file would otherwise allocate gigabytes (found by fuzzing).
  constexpr int64_t kMaxTokens = int64_t{1} << 24;
  const int64_t entries = static_cast<int64_t>(s.vocab.size() + s.added.size());
  if (max_id >= kMaxTokens || max_id >= 16 * entries + 1024)
    throw_invalid_file(s.source + ": token id " + std::to_string(max_id) + " is far beyond the " +
                       std::to_string(entries) + " tokens defined (expected ids numbered 0..N-1)");
  const size_t n = static_cast<size_t>(max_id + 1);
  impl->id_to_token.resize(n);
  impl->has_id.assign(n, 0);
  impl->is_special.assign(n, 0);
  for (const auto& [tok, id] : s.vocab) {
    if (impl->has_id[id]) {
      throw_invalid_file(s.source + ": id " + std::to_string(id) + " is used by both " +
                         squote(impl->id_to_token[id]) + " and " + squote(tok) + " (expected unique ids)");
    }
    impl->id_to_token[id] = tok;
    impl->has_id[id] = 1;
  }
  // Single-byte tokens: every byte must be representable, otherwise text could not be encoded.
  std::vector<int32_t> byte_ids(256);
  const auto& alphabet = tokenizer::byte_to_unicode_utf8();
  for (int b = 0; b < 256; ++b) {
    auto it = s.vocab.find(alphabet[b]);
    if (it == s.vocab.end()) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02X", b);
      throw_invalid_file(s.source + ": vocabulary has no token for byte " + hex + " (" + squote(alphabet[b]) +
                         "; expected a byte-level BPE vocabulary with all 256 byte tokens)");
    }
    byte_ids[b] = it->second;
  }
  std::vector<std::array<int32_t, 3>> merges;
  merges.reserve(s.merges.size());
  for (size_t r = 0; r < s.merges.size(); ++r) {
    // Named references, not a structured binding: clang < 16 cannot capture bindings in the lambda below.
    const std::string& a = s.merges[r].first;
    const std::string& b = s.merges[r].second;
    auto where = [&] { return s.merges_source + ": merge " + std::to_string(s.merge_lines[r]) + " " + squote(a + " " + b); };
    auto ia = s.vocab.find(a), ib = s.vocab.find(b), iab = s.vocab.find(a + b);
    for (auto [it, name] : {std::pair{ia, &a}, std::pair{ib, &b}, std::pair{iab, static_cast<const std::string*>(nullptr)}}) {
      if (it == s.vocab.end()) {
        std::string missing = name ? *name : a + b;
        throw_invalid_file(where() + " uses token " + squote(missing) + " that is not in " + s.source +
                           " (expected vocabulary and merges from the same tokenizer)");
      }
    }
    merges.push_back({ia->second, ib->second, iab->second});
  }
  impl->bpe = std::make_unique<tokenizer::Bpe>(std::move(byte_ids), merges);
  impl->token_to_id = std::move(s.vocab);
  for (const AddedToken& a : s.added) {
    impl->id_to_token[a.id] = a.content;
    impl->has_id[a.id] = 1;
    impl->is_special[a.id] = a.special ? 1 : 0;
    impl->token_to_id[a.content] = a.id;
  }
  impl->id_bytes.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (impl->has_id[i]) impl->id_bytes[i] = tokenizer::byte_level_decode(impl->id_to_token[i]);
  }
  impl->added = tokenizer::AddedTokenSplitter(s.added);
  impl->add_prefix_space = s.add_prefix_space;
  impl->ignore_merges = s.ignore_merges;
  if (auto it = impl->token_to_id.find(std::string_view(kEndOfText)); it != impl->token_to_id.end()) {
    impl->eos_id = it->second;
  }
  impl->pad_id = s.pad_id;
  if (impl->pad_id && (*impl->pad_id < 0 || static_cast<size_t>(*impl->pad_id) >= n || !impl->has_id[*impl->pad_id])) {
    throw_invalid_file(s.source + ": padding.pad_id " + std::to_string(*impl->pad_id) +
                       " is not a token id (expected an id in the vocabulary)");
  }
  return impl;
}

void Tokenizer::Impl::encode_ordinary(std::string_view segment, std::vector<int32_t>& out) const {
  std::string prefixed;
  if (add_prefix_space && !segment.empty() && segment[0] != ' ') {
    prefixed.reserve(segment.size() + 1);
    prefixed.push_back(' ');
    prefixed.append(segment);
    segment = prefixed;
  }
  pretokenizer().split(segment, [&](std::string_view word) {
    if (ignore_merges) {
      std::string mapped;
      for (unsigned char c : word) mapped += tokenizer::byte_to_unicode_utf8()[c];
      if (auto it = token_to_id.find(mapped); it != token_to_id.end()) {
        out.push_back(it->second);
        return;
      }
    }
    bpe->encode_word(word, out);
  });
}

// ------------------------------------------------------------------------------------------- loaders

Tokenizer Tokenizer::from_vocab_merges(const std::string& vocab_json, const std::string& merges_txt) {
  Spec s;
  s.source = vocab_json;
  s.merges_source = merges_txt;
  json v = parse_json(vocab_json, read_whole_file(vocab_json, "vocab.json"));
  parse_vocab(v, vocab_json, "top-level value", &s.vocab);

  std::string text = read_whole_file(merges_txt, "merges.txt");
  std::string_view rest(text);
  int line_no = 0;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line_no == 1 && line.starts_with("#version")) continue;
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp + 1 == line.size() || line.find(' ', sp + 1) != std::string_view::npos) {
      throw_invalid_file(merges_txt + ": line " + std::to_string(line_no) + " " + squote(line) +
                         " is malformed (expected two tokens separated by one space)");
    }
    s.merges.emplace_back(std::string(line.substr(0, sp)), std::string(line.substr(sp + 1)));
    s.merge_lines.push_back(line_no);
  }
  // HF GPT2Tokenizer makes <|endoftext|> its bos/eos/unk token: a special token split out of text.
  if (auto it = s.vocab.find(std::string_view(kEndOfText)); it != s.vocab.end()) {
    AddedToken t;
    t.content = kEndOfText;
    t.id = it->second;
    t.special = true;
    s.added.push_back(t);
  }
  return Tokenizer(Impl::build(std::move(s)));
}

Tokenizer Tokenizer::from_tokenizer_json(const std::string& path) {
  json j = parse_json(path, read_whole_file(path, "tokenizer.json"));
  if (!j.is_object()) throw_invalid_file(path + ": top-level value is a JSON " + std::string(j.type_name()) + " (expected an object)");
  auto field = [&](const json& obj, const char* key) -> const json* {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  };
  const json* model = field(j, "model");
  if (model == nullptr || !model->is_object()) throw_invalid_file(path + ": field 'model' is missing (expected an object with type \"BPE\")");
  const json* type = field(*model, "type");
  std::string type_s = type && type->is_string() ? type->get<std::string>() : (type ? type->dump() : "missing");
  if (type_s != "BPE") throw_invalid_file(path + ": model.type is " + type_s + " (expected \"BPE\")");
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* f = field(*model, k);
    if (f && !(f->is_string() && f->get<std::string>().empty())) {
      throw_invalid_file(path + ": model." + k + " is " + f->dump() + " (expected \"\" or null for byte-level BPE)");
    }
  }
  if (const json* d = field(*model, "dropout"); d && !(d->is_number() && d->get<double>() == 0.0)) {
    throw_invalid_file(path + ": model.dropout is " + d->dump() + " (expected null: BPE dropout is for training)");
  }
  Spec s;
  s.source = path;
  s.merges_source = path;
  const json* vocab = field(*model, "vocab");
  if (vocab == nullptr) throw_invalid_file(path + ": model.vocab is missing (expected an object of token -> id)");
  parse_vocab(*vocab, path, "model.vocab", &s.vocab);
  const json* merges = field(*model, "merges");
  if (merges == nullptr || !merges->is_array()) throw_invalid_file(path + ": model.merges is missing or not an array (expected a list of merges)");
  for (size_t i = 0; i < merges->size(); ++i) {
    const json& m = (*merges)[i];
    auto bad = [&] {
      throw_invalid_file(path + ": model.merges[" + std::to_string(i) + "] " + m.dump() +
                         " is malformed (expected \"a b\" or [\"a\", \"b\"])");
    };
    if (m.is_string()) {
      std::string str = m.get<std::string>();
      size_t sp = str.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 == str.size() || str.find(' ', sp + 1) != std::string::npos) bad();
      s.merges.emplace_back(str.substr(0, sp), str.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      s.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      bad();
    }
    s.merge_lines.push_back(static_cast<int>(i));
  }
  if (const json* im = field(*model, "ignore_merges"); im && im->is_boolean()) s.ignore_merges = im->get<bool>();

  if (const json* n = field(j, "normalizer")) {
    throw_invalid_file(path + ": normalizer " + (n->contains("type") ? (*n)["type"].dump() : n->dump()) +
                       " is not supported (expected null, as in GPT-2)");
  }
  const json* pre = field(j, "pre_tokenizer");
  std::string pre_type = pre && pre->contains("type") ? (*pre)["type"].dump() : (pre ? pre->dump() : "null");
  if (pre == nullptr || pre_type != "\"ByteLevel\"") {
    throw_invalid_file(path + ": pre_tokenizer.type is " + pre_type + " (expected \"ByteLevel\")");
  }
  if (const json* ur = field(*pre, "use_regex"); ur && ur->is_boolean() && !ur->get<bool>()) {
    throw_invalid_file(path + ": pre_tokenizer.use_regex is false (expected true: the GPT-2 regex)");
  }
  if (const json* aps = field(*pre, "add_prefix_space"); aps && aps->is_boolean()) s.add_prefix_space = aps->get<bool>();
  if (const json* dec = field(j, "decoder")) {
    std::string dt = dec->contains("type") ? (*dec)["type"].dump() : dec->dump();
    if (dt != "\"ByteLevel\"") throw_invalid_file(path + ": decoder.type is " + dt + " (expected \"ByteLevel\")");
  }
  if (const json* added = field(j, "added_tokens")) {
    if (!added->is_array()) throw_invalid_file(path + ": added_tokens is not an array (expected a list of objects)");
    for (size_t i = 0; i < added->size(); ++i) {
      const json& a = (*added)[i];
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || a["id"].get<int64_t>() < 0 ||
          a["id"].get<int64_t>() > INT32_MAX || !a.contains("content") || !a["content"].is_string() ||
          a["content"].get<std::string>().empty()) {
        throw_invalid_file(path + ": added_tokens[" + std::to_string(i) + "] " + a.dump() +
                           " is malformed (expected {\"id\": <int >= 0>, \"content\": <non-empty string>, ...})");
      }
      AddedToken t;
      t.id = static_cast<int32_t>(a["id"].get<int64_t>());
      t.content = a["content"].get<std::string>();
      auto flag = [&](const char* k) { return a.contains(k) && a[k].is_boolean() && a[k].get<bool>(); };
      t.special = flag("special");
      t.lstrip = flag("lstrip");
      t.rstrip = flag("rstrip");
      t.single_word = flag("single_word");
      // An added token that is also in the model vocabulary must keep its id.
      if (auto it = s.vocab.find(t.content); it != s.vocab.end() && it->second != t.id) {
        throw_invalid_file(path + ": added_tokens[" + std::to_string(i) + "] " + squote(t.content) + " has id " +
                           std::to_string(t.id) + " but model.vocab gives " + std::to_string(it->second) +
                           " (expected the same id)");
      }
      s.added.push_back(std::move(t));
    }
  }
  if (const json* pad = field(j, "padding"); pad && pad->is_object()) {
    if (const json* pid = field(*pad, "pad_id")) {
      if (!pid->is_number_integer()) throw_invalid_file(path + ": padding.pad_id is " + pid->dump() + " (expected an integer)");
      s.pad_id = static_cast<int32_t>(pid->get<int64_t>());
    }
  }
  return Tokenizer(Impl::build(std::move(s)));
}

Tokenizer Tokenizer::from_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path d(dir);
  if (fs::exists(d / "tokenizer.json")) return from_tokenizer_json((d / "tokenizer.json").string());
  if (fs::exists(d / "vocab.json") && fs::exists(d / "merges.txt")) {
    return from_vocab_merges((d / "vocab.json").string(), (d / "merges.txt").string());
  }
  throw_invalid_file(dir + ": no tokenizer found (expected tokenizer.json, or vocab.json and merges.txt)");
}

Tokenizer Tokenizer::builtin_gpt2() { return builtin_gpt2(JITGEN_DEFAULT_TOKENIZER_DIR); }

Tokenizer Tokenizer::builtin_gpt2(const std::string& dir) {
  const std::string vocab = dir + "/vocab.json", merges = dir + "/merges.txt";
  for (auto [path, want] : {std::pair{vocab, kBuiltinVocabSha256}, std::pair{merges, kBuiltinMergesSha256}}) {
    std::string got = sha256_hex(read_whole_file(path, "built-in GPT-2 tokenizer file"));
    if (got != want) {
      throw_invalid_file(path + ": sha256 is " + got + " (expected " + want +
                         " from third_party/gpt2-tokenizer/README.md; the file is corrupt or not the GPT-2 original)");
    }
  }
  return from_vocab_merges(vocab, merges);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

// ------------------------------------------------------------------------------------------- encode

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  // HF takes Python/Rust strings, which cannot hold invalid UTF-8; we take bytes. Ill-formed sequences
  // become U+FFFD first (maximal subpart rule), i.e. we encode what HF encodes for
  // bytes.decode("utf-8", errors="replace").
  std::string repaired;
  if (!tokenizer::is_valid_utf8(text)) {
    repaired = tokenizer::utf8_replace_invalid(text);
    text = repaired;
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  impl_->added.split(
      text, [&](std::string_view seg) { impl_->encode_ordinary(seg, out); }, [&](int32_t id) { out.push_back(id); });
  return out;
}

BatchEncoding Tokenizer::encode_batch(const std::vector<std::string>& texts, const BatchEncodeOptions& opt) const {
  if (opt.pad_to_multiple_of < 0) {
    throw_invalid_argument("encode_batch: pad_to_multiple_of is " + std::to_string(opt.pad_to_multiple_of) + " (expected >= 0)");
  }
  if (opt.max_length && *opt.max_length < 0) {
    throw_invalid_argument("encode_batch: max_length is " + std::to_string(*opt.max_length) + " (expected >= 0)");
  }
  // Same check as transformers' _get_padding_truncation_strategies.
  if (opt.padding && opt.max_length && opt.pad_to_multiple_of > 0 && *opt.max_length % opt.pad_to_multiple_of != 0) {
    throw_invalid_argument("encode_batch: max_length " + std::to_string(*opt.max_length) +
                           " is not a multiple of pad_to_multiple_of " + std::to_string(opt.pad_to_multiple_of) +
                           " (expected a multiple when truncating and padding, as HF requires)");
  }
  BatchEncoding enc;
  enc.input_ids.reserve(texts.size());
  size_t longest = 0;
  for (const std::string& t : texts) {
    std::vector<int32_t> ids = encode(t);
    if (opt.max_length && ids.size() > static_cast<size_t>(*opt.max_length)) {
      const size_t keep = static_cast<size_t>(*opt.max_length);
      if (opt.truncation_side == PaddingSide::kRight) {
        ids.resize(keep);
      } else {
        ids.erase(ids.begin(), ids.end() - static_cast<ptrdiff_t>(keep));
      }
    }
    longest = std::max(longest, ids.size());
    enc.input_ids.push_back(std::move(ids));
  }
  enc.attention_mask.reserve(texts.size());
  if (!opt.padding) {
    for (const auto& ids : enc.input_ids) enc.attention_mask.emplace_back(ids.size(), 1);
    return enc;
  }
  size_t target = longest;
  if (opt.pad_to_multiple_of > 0 && target % opt.pad_to_multiple_of != 0) {
    target = (target / opt.pad_to_multiple_of + 1) * opt.pad_to_multiple_of;
  }
  std::optional<int32_t> pad = opt.pad_token_id ? std::optional<int32_t>(*opt.pad_token_id)
                                                : (impl_->pad_id ? impl_->pad_id : impl_->eos_id);
  bool needs_pad = std::any_of(enc.input_ids.begin(), enc.input_ids.end(), [&](const auto& r) { return r.size() < target; });
  if (needs_pad && !pad) {
    throw_invalid_argument("encode_batch: padding needs a pad token (expected BatchEncodeOptions::pad_token_id, or a "
                           "tokenizer with a pad or <|endoftext|> token)");
  }
  for (auto& ids : enc.input_ids) {
    const size_t n = ids.size(), missing = target - n;
    std::vector<int32_t> mask(target, 1);
    if (missing > 0) {
      if (opt.padding_side == PaddingSide::kRight) {
        ids.insert(ids.end(), missing, *pad);
        std::fill(mask.begin() + static_cast<ptrdiff_t>(n), mask.end(), 0);
      } else {
        ids.insert(ids.begin(), missing, *pad);
        std::fill(mask.begin(), mask.begin() + static_cast<ptrdiff_t>(missing), 0);
      }
    }
    enc.attention_mask.push_back(std::move(mask));
  }
  return enc;
}

// ------------------------------------------------------------------------------------------- decode

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= impl_->has_id.size() || !impl_->has_id[id]) {
      throw_invalid_argument("decode: token id " + std::to_string(id) + " is not in the vocabulary (expected 0 <= id < " +
                             std::to_string(vocab_size()) + ")");
    }
    if (skip_special_tokens && impl_->is_special[id]) continue;
    bytes += impl_->id_bytes[id];
  }
  if (tokenizer::is_valid_utf8(bytes)) return bytes;
  return tokenizer::utf8_replace_invalid(bytes);
}

int Tokenizer::vocab_size() const { return static_cast<int>(impl_->has_id.size()); }

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  auto it = impl_->token_to_id.find(token);
  if (it == impl_->token_to_id.end()) return std::nullopt;
  return it->second;
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->has_id.size() || !impl_->has_id[id]) {
    throw_invalid_argument("id_to_token: token id " + std::to_string(id) + " is not in the vocabulary (expected 0 <= id < " +
                           std::to_string(vocab_size()) + ")");
  }
  return impl_->id_to_token[id];
}

std::string Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->has_id.size() || !impl_->has_id[id]) {
    throw_invalid_argument("token_bytes: token id " + std::to_string(id) + " is not in the vocabulary (expected 0 <= id < " +
                           std::to_string(vocab_size()) + ")");
  }
  return impl_->id_bytes[id];
}

bool Tokenizer::is_special_token(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->is_special.size() && impl_->is_special[id];
}

std::optional<int32_t> Tokenizer::eos_token_id() const { return impl_->eos_id; }
std::optional<int32_t> Tokenizer::pad_token_id() const { return impl_->pad_id; }

}  // namespace jitgen
