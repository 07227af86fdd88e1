#pragma once
// tokenizer.json post-processors (HF tokenizers/src/processors) for a single sequence: TemplateProcessing
// (its "single" template), RobertaProcessing / BertProcessing (cls + ids + sep), ByteLevel (offsets only:
// no change to ids) and Sequence. They run only when add_special_tokens is true.
#include <cstdint>
#include <memory>
#include <vector>

#include "tokenizer/json_read.h"
#include "tokenizer/models/model.h"

namespace jitgen::tokenizer {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual std::vector<int32_t> process(std::vector<int32_t> ids) const = 0;
  virtual size_t added_tokens() const = 0;  // how many ids process() adds (truncation leaves room for them)
};

// `vocab` resolves the token strings of Roberta/Bert processors.
std::unique_ptr<PostProcessor> make_post_processor(const Node& n, const StringIdMap& vocab);

// What transformers 5 installs when tokenizer_config.json sets add_bos_token / add_eos_token
// (TokenizersBackend.update_post_processor): TemplateProcessing "[bos] $A [eos]".
std::unique_ptr<PostProcessor> make_bos_eos_processor(std::optional<int32_t> bos, std::optional<int32_t> eos);

}  // namespace jitgen::tokenizer
