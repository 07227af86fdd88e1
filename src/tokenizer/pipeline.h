#pragma once
// The tokenizer pipeline behind jitgen::Tokenizer, in HF tokenizers' order:
//   added tokens (raw) -> normalizer -> added tokens (normalized) -> pre-tokenizer -> model -> post-processor
// and for decode: ids -> token strings (special ones dropped when asked) -> decoder -> text
// (-> transformers' clean_up_tokenization when the config asks and the model is not BPE, as transformers 5).
// GPT-2 is one configuration: ByteLevel pre-tokenizer, BPE, ByteLevel decoder.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/decoders/decoder.h"
#include "tokenizer/models/model.h"
#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/post_processors/post_processor.h"
#include "tokenizer/pre_tokenizers/pre_tokenizer.h"

namespace jitgen::tokenizer {

struct Pipeline {
  std::string source;  // file named in messages

  // Vocabulary: model tokens and added tokens.
  StringIdMap token_to_id;
  std::vector<std::string> id_to_token;  // "" with has_id 0 for gaps
  std::vector<uint8_t> has_id;
  std::vector<uint8_t> is_special;
  std::vector<std::string> id_bytes;  // Tokenizer::token_bytes
  std::vector<AddedToken> added;      // as loaded (tokenizer.json added_tokens, then the config's)
  StringIdMap model_vocab;            // the model's own tokens (finish() rebuilds the tables from it)

  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;
  bool model_is_bpe = false;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;

  AddedTokenSplitter raw_added, normalized_added;

  // tokenizer_config.json / special_tokens_map.json (HF names).
  std::map<std::string, std::string, std::less<>> special_tokens;  // "bos_token" -> "<s>", ...
  // Named tokens the tokenizer class defaults to when the config files do not name them (tokenizer.model folders).
  std::vector<std::pair<std::string, std::string>> default_special_tokens;
  std::vector<std::string> default_extra_special_tokens;  // the class's extra special tokens (T5's <extra_id_N>)
  std::string hf_class;  // the transformers class the folder loads as (hf_class_rules.cc); "" outside from_dir
  std::string chat_template;
  bool clean_up_tokenization_spaces = false;
  std::optional<int64_t> model_max_length;
  std::optional<int32_t> pad_id, eos_id, bos_id, unk_id;

  // Builds the id tables and the added-token splitters from model_vocab + added. Throws on inconsistent ids.
  void finish();
  // Registers an added token (config files): keeps the vocabulary id when the token exists, else appends.
  void add_token(AddedToken t);

  // Ids of `text` (valid UTF-8) before the post-processor.
  void encode_content(std::string_view text, std::vector<int32_t>& out) const;
  std::vector<int32_t> post_process(std::vector<int32_t> ids) const;
  size_t added_by_post_processor() const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const;
  std::string decode_token_raw(int32_t id) const;
  // The decoder's text of ids[0, n) (valid ids, none skipped), invalid UTF-8 repaired, before transformers'
  // clean_up_tokenization; decode() is cleanup(decode_text(...)) when cleans_up().
  std::string decode_text(const int32_t* ids, size_t n) const;
  bool cleans_up() const { return clean_up_tokenization_spaces && !model_is_bpe; }
  // How many of the last ids of ids[0, n) the decoder may still decode differently once more ids follow.
  size_t unsettled_tail(const int32_t* ids, size_t n) const;
  bool valid_id(int32_t id) const { return id >= 0 && static_cast<size_t>(id) < has_id.size() && has_id[id]; }
};

// tokenizer.json -> pipeline (config files not applied).
std::unique_ptr<Pipeline> load_tokenizer_json(const std::string& path);
// A parsed tokenizer.json document; `source` names it in messages.
std::unique_ptr<Pipeline> load_tokenizer_json_value(const nlohmann::json& j, const std::string& source);
// A folder with tokenizer.model (SentencePiece) and no tokenizer.json, as transformers 5 converts it; config
// files applied (sentencepiece.cc).
std::unique_ptr<Pipeline> load_sentencepiece_dir(const std::string& dir);
// vocab.json + merges.txt (GPT-2 slow format) -> pipeline.
std::unique_ptr<Pipeline> load_vocab_merges(const std::string& vocab_json, const std::string& merges_txt);
// Applies tokenizer_config.json / special_tokens_map.json / chat_template.jinja found in `dir`.
// add_bos_eos_from_config: whether add_bos_token / add_eos_token set the post-processor (not with a tokenizer.json).
void apply_config_files(const std::string& dir, Pipeline& p, bool add_bos_eos_from_config);

std::string read_whole_file(const std::string& path, const char* what);
nlohmann::json parse_json_file(const std::string& path, const char* what);

}  // namespace jitgen::tokenizer
