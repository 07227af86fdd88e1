#pragma once
// What transformers 5's AutoTokenizer does with a folder's tokenizer.json, per tokenizer class
// (docs/tokenizers.md has the table; hf_class_rules.cc cites the transformers functions it follows).
//
// AutoTokenizer first picks a class (tokenization_auto.AutoTokenizer.from_pretrained) from
// tokenizer_config.json's tokenizer_class, config.json's tokenizer_class / model_type and the file itself. A
// class that defines its own __init__ (LlamaTokenizer, Qwen2Tokenizer, GPT2Tokenizer, T5Tokenizer, ...) keeps only
// the file's vocab / merges (and post-processor, padding, Precompiled charsmap) and rebuilds the normalizer,
// pre-tokenizer, decoder and model options from its own code and the config flags (legacy, add_prefix_space,
// ...); TokenizersBackend / PreTrainedTokenizerFast / unknown classes take the file as is.
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/pipeline.h"

namespace jitgen::tokenizer {

// The tokenizer classes jitgen rebuilds as transformers 5 does; kAsIs = the file as is (TokenizersBackend).
enum class HfClass { kAsIs, kLlama, kGemma, kQwen2, kGpt2, kGptNeoX, kT5 };

// The class name AutoTokenizer.from_pretrained instantiates, "Fast" removed ("TokenizersBackend" for the
// generic backend), from tokenizer_config.json's tokenizer_class (`cfg_class`, "" when absent), config.json's
// tokenizer_class and model_type ("" when absent) and whether tokenizer.json's text contains "ByteLevel".
std::string resolve_hf_tokenizer_class(std::string_view cfg_class, std::string_view config_class,
                                       std::string_view model_type, bool file_has_byte_level);

// The HfClass of a resolved class name. Classes transformers rebuilds that jitgen does not implement, and
// Python-only tokenizer classes, throw kInvalidFile naming `where` (the config file) and the class.
HfClass hf_class_of(const std::string& resolved, const std::string& where);

// A folder's tokenizer.json loaded as AutoTokenizer loads it: class resolved, the pipeline rebuilt for that
// class, tokenizer_config.json / special_tokens_map.json / chat_template.jinja applied, then the class's own
// post-processor rules. Throws jitgen::Error naming the file and field.
std::unique_ptr<Pipeline> load_tokenizer_json_dir(const std::string& dir);

// The class's pre-tokenizer / decoder / normalizer for LlamaTokenizer and T5Tokenizer (also used for
// tokenizer.model folders, sentencepiece.cc): `cfg` is tokenizer_config.json.
nlohmann::json llama_pre_tokenizer(const nlohmann::json& cfg);
nlohmann::json llama_decoder(const nlohmann::json& cfg);
nlohmann::json t5_pre_tokenizer();
nlohmann::json t5_decoder();

}  // namespace jitgen::tokenizer
