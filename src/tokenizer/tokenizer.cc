// jitgen::Tokenizer: loaders (folder, tokenizer.json, vocab.json + merges.txt, the sha256-checked built-in
// GPT-2 files), encode / decode / batching over the Pipeline (pipeline.h).
#include "jitgen/tokenizer.h"

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>

#include "jitgen/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/hf_class_rules.h"
#include "tokenizer/impl.h"
#include "tokenizer/pipeline.h"

namespace jitgen {

namespace {

// From third_party/gpt2-tokenizer/README.md.
constexpr const char* kBuiltinVocabSha256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783";
constexpr const char* kBuiltinMergesSha256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5";

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

}  // namespace

Tokenizer Tokenizer::from_vocab_merges(const std::string& vocab_json, const std::string& merges_txt) {
  return Tokenizer(std::make_unique<Impl>(Impl{tokenizer::load_vocab_merges(vocab_json, merges_txt)}));
}

Tokenizer Tokenizer::from_tokenizer_json(const std::string& path) {
  return Tokenizer(std::make_unique<Impl>(Impl{tokenizer::load_tokenizer_json(path)}));
}

Tokenizer Tokenizer::from_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path d(dir);
  std::unique_ptr<tokenizer::Pipeline> p;
  if (fs::exists(d / "tokenizer.json")) {
    // Rebuilt for the tokenizer class as transformers 5 does, config files applied (hf_class_rules.cc).
    return Tokenizer(std::make_unique<Impl>(Impl{tokenizer::load_tokenizer_json_dir(dir)}));
  } else if (fs::exists(d / "tokenizer.model")) {
    return Tokenizer(std::make_unique<Impl>(Impl{tokenizer::load_sentencepiece_dir(dir)}));  // config files applied
  } else if (fs::exists(d / "vocab.json") && fs::exists(d / "merges.txt")) {
    p = tokenizer::load_vocab_merges((d / "vocab.json").string(), (d / "merges.txt").string());
  } else {
    throw_invalid_file(dir + ": no tokenizer found (expected tokenizer.json, tokenizer.model, or vocab.json and merges.txt)");
  }
  tokenizer::apply_config_files(dir, *p, /*add_bos_eos_from_config=*/true);
  return Tokenizer(std::make_unique<Impl>(Impl{std::move(p)}));
}

Tokenizer Tokenizer::builtin_gpt2() { return builtin_gpt2(JITGEN_DEFAULT_TOKENIZER_DIR); }

Tokenizer Tokenizer::builtin_gpt2(const std::string& dir) {
  const std::string vocab = dir + "/vocab.json", merges = dir + "/merges.txt";
  for (auto [path, want] : {std::pair{vocab, kBuiltinVocabSha256}, std::pair{merges, kBuiltinMergesSha256}}) {
    std::string got = sha256_hex(tokenizer::read_whole_file(path, "built-in GPT-2 tokenizer file"));
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

namespace {
std::vector<int32_t> content_ids(const tokenizer::Pipeline& p, std::string_view text) {
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
  p.encode_content(text, out);
  return out;
}
}  // namespace

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids = content_ids(*impl_->p, text);
  return add_special_tokens ? impl_->p->post_process(std::move(ids)) : ids;
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
  const tokenizer::Pipeline& p = *impl_->p;
  BatchEncoding enc;
  enc.input_ids.reserve(texts.size());
  size_t longest = 0;
  // tokenizers truncates the content to max_length minus what the post-processor adds, then post-processes.
  const size_t added = opt.add_special_tokens ? p.added_by_post_processor() : 0;
  for (const std::string& t : texts) {
    std::vector<int32_t> ids = content_ids(p, t);
    if (opt.max_length) {
      const size_t keep = static_cast<size_t>(std::max<int64_t>(0, int64_t{*opt.max_length} - static_cast<int64_t>(added)));
      if (ids.size() > keep) {
        if (opt.truncation_side == PaddingSide::kRight) {
          ids.resize(keep);
        } else {
          ids.erase(ids.begin(), ids.end() - static_cast<ptrdiff_t>(keep));
        }
      }
    }
    if (opt.add_special_tokens) ids = p.post_process(std::move(ids));
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
  std::optional<int32_t> pad = opt.pad_token_id ? std::optional<int32_t>(*opt.pad_token_id) : (p.pad_id ? p.pad_id : p.eos_id);
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
  return impl_->p->decode(ids, skip_special_tokens);
}

int Tokenizer::vocab_size() const { return static_cast<int>(impl_->p->has_id.size()); }

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  auto it = impl_->p->token_to_id.find(token);
  if (it == impl_->p->token_to_id.end()) return std::nullopt;
  return it->second;
}

namespace {
void check_id(const tokenizer::Pipeline& p, int32_t id, const char* what) {
  if (id < 0 || static_cast<size_t>(id) >= p.has_id.size() || !p.has_id[id]) {
    throw_invalid_argument(std::string(what) + ": token id " + std::to_string(id) + " is not in the vocabulary (expected 0 <= id < " +
                           std::to_string(p.has_id.size()) + ")");
  }
}
}  // namespace

std::string Tokenizer::id_to_token(int32_t id) const {
  check_id(*impl_->p, id, "id_to_token");
  return impl_->p->id_to_token[id];
}

std::string Tokenizer::token_bytes(int32_t id) const {
  check_id(*impl_->p, id, "token_bytes");
  return impl_->p->id_bytes[id];
}

bool Tokenizer::is_special_token(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->p->is_special.size() && impl_->p->is_special[id];
}

std::optional<int32_t> Tokenizer::eos_token_id() const { return impl_->p->eos_id; }
std::optional<int32_t> Tokenizer::bos_token_id() const { return impl_->p->bos_id; }
std::optional<int32_t> Tokenizer::unk_token_id() const { return impl_->p->unk_id; }
std::optional<int32_t> Tokenizer::pad_token_id() const { return impl_->p->pad_id; }

std::optional<std::string> Tokenizer::special_token(std::string_view name) const {
  auto it = impl_->p->special_tokens.find(name);
  if (it == impl_->p->special_tokens.end()) return std::nullopt;
  return it->second;
}

const std::string& Tokenizer::chat_template() const { return impl_->p->chat_template; }
std::optional<int64_t> Tokenizer::model_max_length() const { return impl_->p->model_max_length; }

}  // namespace jitgen
