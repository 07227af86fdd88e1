#pragma once
// The Hugging Face tokenizer pipeline, identical to HF `tokenizers` (and transformers 5's TokenizersBackend
// for the config files): tokenizer.json's normalizer, pre-tokenizer, model (BPE, Unigram, WordPiece,
// WordLevel), post-processor, decoder and added tokens; tokenizer_config.json / special_tokens_map.json /
// chat_template.jinja beside it. GPT-2's byte-level BPE (vocab.json + merges.txt, or the vendored files) is
// one configuration of the same pipeline. Components and their HF sources: src/tokenizer/*/.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jitgen {

enum class PaddingSide { kLeft, kRight };

struct BatchEncodeOptions {
  bool padding = true;                      // pad to the longest row (HF padding="longest")
  PaddingSide padding_side = PaddingSide::kLeft;
  int pad_to_multiple_of = 0;               // 0 = off
  std::optional<int> max_length;            // truncation length when set
  PaddingSide truncation_side = PaddingSide::kRight;
  std::optional<int> pad_token_id;          // defaults to the tokenizer's pad, then eos
  bool add_special_tokens = true;           // run the post-processor (e.g. Llama's <s>), as HF's default
};

struct BatchEncoding {
  std::vector<std::vector<int32_t>> input_ids;       // [B][T], all rows length T when padded
  std::vector<std::vector<int32_t>> attention_mask;  // [B][T], 1 = real token, 0 = pad
};

class Tokenizer {
 public:
  // From a folder, as transformers 5's AutoTokenizer loads it: tokenizer.json when present, rebuilt for the
  // tokenizer class AutoTokenizer picks (LlamaTokenizer, Qwen2Tokenizer, GPT2Tokenizer, ... keep only the file's
  // vocab / merges and build their own normalizer / pre-tokenizer / decoder from tokenizer_config.json's flags;
  // TokenizersBackend / PreTrainedTokenizerFast take it as is; docs/tokenizers.md, src/tokenizer/hf_class_rules.cc),
  // else a SentencePiece tokenizer.model (converted as transformers 5 converts it for LlamaTokenizer or T5Tokenizer;
  // src/tokenizer/sentencepiece.cc), else vocab.json + merges.txt; then tokenizer_config.json,
  // special_tokens_map.json and chat_template.jinja when present. Throws jitgen::Error (a class whose rebuild
  // jitgen does not implement is refused).
  static Tokenizer from_dir(const std::string& dir);
  static Tokenizer from_vocab_merges(const std::string& vocab_json, const std::string& merges_txt);
  static Tokenizer from_tokenizer_json(const std::string& path);
  // The vendored GPT-2 tokenizer (sha256-checked at load).
  static Tokenizer builtin_gpt2();
  // Same checks on a copy of those files in `dir` (both sha256 must match the vendored originals).
  static Tokenizer builtin_gpt2(const std::string& dir);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Added/special tokens in the text (e.g. "<|endoftext|>") become their single id, as in HF. Invalid
  // UTF-8 in `text` is first replaced by U+FFFD per maximal subpart (what HF encodes for
  // bytes.decode("utf-8", errors="replace")); HF itself only accepts valid strings. Thread-safe.
  // add_special_tokens runs the post-processor (HF's default: true; GPT-2's adds nothing).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // Ids outside the vocabulary throw kInvalidArgument. Invalid UTF-8 byte runs become U+FFFD.
  // clean_up_tokenization_spaces from tokenizer_config.json applies (not for BPE models, as transformers 5).
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;
  BatchEncoding encode_batch(const std::vector<std::string>& texts, const BatchEncodeOptions& opt = {}) const;

  int vocab_size() const;
  std::optional<int32_t> token_to_id(std::string_view token) const;  // by vocabulary string
  std::string id_to_token(int32_t id) const;                         // byte-level string form
  // Raw bytes this token stands for (used by streaming and stop strings): the decoder applied to the token
  // alone without its position-dependent steps (Strip, Metaspace's first-token rule), byte tokens
  // (<0x0A>, byte-level chars) as raw bytes. A Llama decode() of several ids can differ from the concatenation
  // by the leading space the decoder strips.
  std::string token_bytes(int32_t id) const;
  // eos_token of tokenizer_config.json / special_tokens_map.json, else "<|endoftext|>" when present.
  std::optional<int32_t> eos_token_id() const;
  std::optional<int32_t> bos_token_id() const;  // bos_token of the config files
  std::optional<int32_t> unk_token_id() const;  // unk_token of the config files
  // pad_token of the config files, else tokenizer.json's padding.pad_id, else none.
  std::optional<int32_t> pad_token_id() const;
  bool is_special_token(int32_t id) const;      // what decode(skip_special_tokens=true) drops

  // Config accessors (for chat templates and callers). special_token("bos_token") is the string of a named
  // special token (bos_token, eos_token, unk_token, pad_token, sep_token, cls_token, mask_token) from
  // tokenizer_config.json / special_tokens_map.json; nullopt when not set (GPT-2 folders without a config).
  std::optional<std::string> special_token(std::string_view name) const;
  // The chat template: chat_template.jinja, else tokenizer_config.json's chat_template (a string, or the
  // entry named "default" of a list); "" when none.
  const std::string& chat_template() const;
  // tokenizer_config.json model_max_length when it is a real limit (not transformers' 1e30 "none").
  std::optional<int64_t> model_max_length() const;

 private:
  friend class DecodeStream;
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Incremental decode for streaming (the role of HF tokenizers' DecodeStream and transformers' TextStreamer):
// step(id) returns the text that this token made final, so that the pieces of every step plus finish() are
// byte for byte decode(all ids fed, skip_special_tokens), for every pipeline. HF's TextStreamer waits for a
// space; this emits as soon as the text cannot change any more, and holds back only what later tokens may
// still change:
//   - an incomplete UTF-8 sequence at the end (a trailing U+FFFD);
//   - a run of ByteFallback byte tokens (<0xE2><0x82>...) until a non-byte token ends it: HF decodes a run that
//     is not valid UTF-8 as one U+FFFD per byte, so the run's text is known only when it is complete;
//   - the last token under decoders that change it when another follows (BPEDecoder's suffix, Strip's stop);
//   - with clean_up_tokenization_spaces (non-BPE models), the text from a space within the last 6 bytes
//     (" ." -> "." and the other rules may still apply).
// The position-dependent first-token rules (Metaspace prepend_scheme, Strip start, WordPiece prefixes) apply
// once, to the first token fed. Ids outside the vocabulary are dropped (HF's decode drops them; decode()
// throws). Cost per step: a decode of the last <= 64 tokens, plus one decode of everything every 32 tokens.
// The tokenizer must outlive the stream. Copyable (one stream per row of a batch).
class DecodeStream {
 public:
  explicit DecodeStream(const Tokenizer& tokenizer, bool skip_special_tokens = false);
  std::string step(int32_t id);  // the new final text (often empty)
  std::string finish();          // everything held back; the stream then starts over

 private:
  std::optional<std::string> window_text(size_t end) const;
  std::string settled_window_text() const;
  void maybe_move_window();

  const Tokenizer* tok_;
  bool skip_special_;
  std::vector<int32_t> ids_;  // the ids fed (skipped ones dropped)
  size_t start_ = 0;          // window: ids_[start_, end) are decoded each step, primed by ids_[start_ - 1]
  std::string base_;          // the final text of ids_[0, start_)
  std::string primer_;        // decoder output of ids_[start_ - 1] alone ("" when start_ == 0)
  size_t emitted_ = 0;        // bytes returned so far
  size_t next_move_ = 0;      // ids_.size() at which the window may move next
};

}  // namespace jitgen
