#include "tokenizer/pipeline.h"

#include <algorithm>

#include "jitgen/error.h"
#include "tokenizer/byte_level.h"

namespace jitgen::tokenizer {
namespace {
std::string squote(std::string_view s) { return "'" + std::string(s) + "'"; }
}  // namespace

void Pipeline::finish() {
  int64_t max_id = -1;
  for (const auto& [tok, id] : model_vocab) max_id = std::max<int64_t>(max_id, id);
  for (const AddedToken& a : added) max_id = std::max<int64_t>(max_id, a.id);
  // Ids index dense tables: a huge id in a small file would otherwise allocate gigabytes (found by fuzzing).
  constexpr int64_t kMaxTokens = int64_t{1} << 24;
  const int64_t entries = static_cast<int64_t>(model_vocab.size() + added.size());
  if (max_id >= kMaxTokens || max_id >= 16 * entries + 1024)
    throw_invalid_file(source + ": token id " + std::to_string(max_id) + " is far beyond the " + std::to_string(entries) +
                       " tokens defined (expected ids numbered 0..N-1)");
  const size_t n = static_cast<size_t>(max_id + 1);
  id_to_token.assign(n, std::string());
  has_id.assign(n, 0);
  is_special.assign(n, 0);
  for (const auto& [tok, id] : model_vocab) {
    if (has_id[id])
      throw_invalid_file(source + ": id " + std::to_string(id) + " is used by both " + squote(id_to_token[id]) + " and " +
                         squote(tok) + " (expected unique ids)");
    id_to_token[id] = tok;
    has_id[id] = 1;
  }
  token_to_id = model_vocab;
  std::vector<AddedToken> raw, norm;
  for (const AddedToken& a : added) {
    id_to_token[a.id] = a.content;
    has_id[a.id] = 1;
    is_special[a.id] = a.special ? 1 : 0;
    token_to_id[a.content] = a.id;
    if (a.normalized && normalizer) {
      // tokenizers matches a normalized added token by its normalized content, and that is also the
      // token string it decodes (tokenizers 0.23: id_to_token gives "▁goodbye" for "goodbye" under
      // Llama's Prepend normalizer).
      AddedToken t = a;
      normalizer->normalize(t.content);
      id_to_token[a.id] = t.content;
      norm.push_back(std::move(t));
    } else {
      raw.push_back(a);
    }
  }
  raw_added = AddedTokenSplitter(raw);
  normalized_added = AddedTokenSplitter(norm);
  id_bytes.assign(n, std::string());
  for (size_t i = 0; i < n; ++i) {
    if (has_id[i]) id_bytes[i] = decode_token_raw(static_cast<int32_t>(i));
  }
}

void Pipeline::add_token(AddedToken t) {
  for (AddedToken& a : added) {
    if (a.content == t.content) {
      a.special = a.special || t.special;
      return;
    }
  }
  if (auto it = token_to_id.find(t.content); it != token_to_id.end()) {
    t.id = it->second;
  } else {  // the next id, counting tokens added since the last finish()
    t.id = static_cast<int32_t>(has_id.size());
    for (const AddedToken& a : added) t.id = std::max(t.id, a.id + 1);
  }
  added.push_back(std::move(t));
}

void Pipeline::encode_content(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<Piece> pieces;
  auto model_pieces = [&](std::string_view sub, bool at_start) {
    pieces.clear();
    pieces.push_back(Piece{std::string(sub), at_start});
    if (pre_tokenizer) pre_tokenizer->split(pieces);
    for (const Piece& p : pieces) {
      if (!p.text.empty()) model->tokenize(p.text, out);
    }
  };
  auto on_token = [&](int32_t id) { out.push_back(id); };
  raw_added.split(
      text,
      [&](std::string_view seg, size_t begin) {
        if (!normalizer) {
          model_pieces(seg, begin == 0);
          return;
        }
        std::string s(seg);
        normalizer->normalize(s);
        normalized_added.split(
            s, [&](std::string_view sub, size_t sub_begin) { model_pieces(sub, begin == 0 && sub_begin == 0); }, on_token);
      },
      on_token);
}

std::vector<int32_t> Pipeline::post_process(std::vector<int32_t> ids) const {
  if (post_processor) return post_processor->process(std::move(ids));
  return ids;
}

size_t Pipeline::added_by_post_processor() const {
  if (post_processor) return post_processor->added_tokens();
  return 0;
}

std::string Pipeline::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<int32_t> kept;
  kept.reserve(ids.size());
  for (int32_t id : ids) {
    if (!valid_id(id))
      throw_invalid_argument("decode: token id " + std::to_string(id) + " is not in the vocabulary (expected 0 <= id < " +
                             std::to_string(has_id.size()) + ")");
    if (skip_special_tokens && is_special[id]) continue;
    kept.push_back(id);
  }
  std::string text = decode_text(kept.data(), kept.size());
  // transformers 5 skips clean_up_tokenization for BPE models ("destructive for BPE").
  return cleans_up() ? cleanup_tokenization(std::move(text), false) : text;
}

std::string Pipeline::decode_text(const int32_t* ids, size_t n) const {
  std::vector<std::string> tokens;
  tokens.reserve(n);
  for (size_t i = 0; i < n; ++i) tokens.push_back(id_to_token[ids[i]]);
  std::string text;
  if (decoder) {
    decoder->decode_chain(tokens, false);
    for (const auto& t : tokens) text += t;
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) text += (i ? " " : "") + tokens[i];
  }
  return is_valid_utf8(text) ? text : utf8_replace_invalid(text);
}

size_t Pipeline::unsettled_tail(const int32_t* ids, size_t n) const {
  if (!decoder) return 0;
  std::vector<std::string_view> tokens;
  tokens.reserve(n);
  for (size_t i = 0; i < n; ++i) tokens.push_back(id_to_token[ids[i]]);
  return std::min(n, decoder->unsettled(tokens));
}

std::string Pipeline::decode_token_raw(int32_t id) const {
  std::vector<std::string> t{id_to_token[id]};
  if (!decoder) return t[0];
  decoder->decode_chain(t, true);
  std::string out;
  for (const auto& s : t) out += s;
  return out;
}

}  // namespace jitgen::tokenizer
