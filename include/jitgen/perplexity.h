#pragma once
// Perplexity of a causal LM on text, as Hugging Face's "Perplexity of fixed-length models" guide computes it with
// stride == max_length (non-overlapping windows): the token stream is cut into consecutive windows of max_length
// tokens (the last one shorter; a last window of one token is dropped), each window is one forward pass, every
// position but a window's first predicts the next token, and perplexity = exp(mean next-token cross-entropy over
// all predicted positions). This is the held-out perplexity definition of models/kjv-llama-5m/README.md
// (scripts/train_demo_model.py held_out_perplexity), which computes the cross-entropy in float64 from fp32 logits,
// as perplexity() does.
#include <cstdint>
#include <string>
#include <vector>

#include "jitgen/model.h"
#include "jitgen/runtime.h"
#include "jitgen/tokenizer.h"

namespace jitgen {

struct PerplexityResult {
  double perplexity = 0;  // exp(mean_nll)
  double mean_nll = 0;    // nats per predicted token
  int64_t predicted = 0;  // positions whose next token was scored
  int64_t windows = 0;    // forward passes
};

// stream: token ids (each < vocab_size). max_length: window length in tokens, 2 .. n_positions.
// Throws kInvalidArgument naming "--max-length" or the bad id's position; kInvalidArgument when nothing is predicted.
PerplexityResult perplexity(const Model& model, const std::vector<int32_t>& stream, int max_length,
                            ExecutionMode mode = ExecutionMode::kEager);

// The documents as one stream: for each, bos + its ids (no special tokens added by the tokenizer) + eos, as
// scripts/train_demo_model.py encode_stream builds its training and held-out streams. bos / eos < 0 are left out.
std::vector<int32_t> document_stream(const Tokenizer& tokenizer, const std::vector<std::string>& documents,
                                     int32_t bos_token_id, int32_t eos_token_id);

}  // namespace jitgen
