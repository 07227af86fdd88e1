#include "generate/logits_processors.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "jitgen/error.h"

namespace jitgen::decoding {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The first entries of [0, V) sorted by `key` -- ascending with ties by lower index (a stable sort's order), or
// its exact reverse -- sorted only as far as asked (partial sorts of a growing prefix). top-p and typical-p
// stop after a few dozen tokens of a 50k vocabulary: no full sort per step, and no allocation.
class LazyOrder {
 public:
  LazyOrder(const float* key, int V, bool descending, std::vector<int32_t>& order)
      : key_(key), V_(V), descending_(descending), order_(order.data()) {
    for (int i = 0; i < V; ++i) order_[i] = i;
  }
  int32_t at(int r) {
    if (r >= sorted_) grow(r + 1);
    return order_[r];
  }

 private:
  void grow(int n) {
    n = std::min(V_, std::max({n, 2 * sorted_, 64}));
    const float* key = key_;
    auto ascending = [key](int32_t a, int32_t b) { return key[a] < key[b] || (key[a] == key[b] && a < b); };
    auto descending = [key](int32_t a, int32_t b) { return key[a] > key[b] || (key[a] == key[b] && a > b); };
    // [0, sorted_) already holds the first entries in order: select and sort the next ones from the rest.
    if (descending_) std::partial_sort(order_ + sorted_, order_ + n, order_ + V_, descending);
    else std::partial_sort(order_ + sorted_, order_ + n, order_ + V_, ascending);
    sorted_ = n;
  }
  const float* key_;
  int V_;
  bool descending_;
  int32_t* order_;
  int sorted_ = 0;
};

}  // namespace

void ProcessorScratch::reserve(int V) {
  if (static_cast<int>(order.size()) < V) {
    order.resize(V);
    values.resize(V);
    cumsum.resize(V);
    mark.resize(V, 0);
  }
}

void softmax_row(const float* in, float* out, int V) {
  float m = kNegInf;
  for (int i = 0; i < V; ++i) m = std::max(m, in[i]);
  double sum = 0.0;
  for (int i = 0; i < V; ++i) {
    out[i] = std::exp(in[i] - m);
    sum += out[i];
  }
  const float s = static_cast<float>(sum);
  for (int i = 0; i < V; ++i) out[i] = out[i] / s;
}

void log_softmax_row(const float* in, float* out, int V) {
  float m = kNegInf;
  for (int i = 0; i < V; ++i) m = std::max(m, in[i]);
  double sum = 0.0;
  for (int i = 0; i < V; ++i) sum += std::exp(in[i] - m);
  const float log_sum = static_cast<float>(std::log(sum));
  for (int i = 0; i < V; ++i) out[i] = (in[i] - m) - log_sum;
}

void repetition_penalty(float* scores, int V, const int32_t* ids, int len, int ignore_prefix, float penalty,
                        ProcessorScratch& scratch) {
  scratch.reserve(V);
  uint8_t* mark = scratch.mark.data();
  for (int t = std::max(ignore_prefix, 0); t < len; ++t) {
    const int32_t id = ids[t];
    if (id < 0 || id >= V || mark[id]) continue;  // HF drops ids outside the output vocabulary
    mark[id] = 1;
    const float s = scores[id];
    scores[id] = s < 0.0f ? s * penalty : s / penalty;
  }
  for (int t = std::max(ignore_prefix, 0); t < len; ++t)
    if (ids[t] >= 0 && ids[t] < V) mark[ids[t]] = 0;
}

void no_repeat_ngram(float* scores, int V, const int32_t* ids, int len, int n) {
  if (n <= 0 || len < n) return;
  const int32_t* prefix = ids + (len + 1 - n);  // the last n-1 tokens
  for (int s = 0; s + n <= len; ++s) {
    if (std::equal(ids + s, ids + s + n - 1, prefix)) {
      const int32_t banned = ids[s + n - 1];
      if (banned >= 0 && banned < V) scores[banned] = kNegInf;
    }
  }
}

std::vector<std::vector<int32_t>> make_bad_words(const std::vector<std::vector<int32_t>>& bad_words_ids,
                                                 const std::vector<int32_t>& eos) {
  std::set<std::vector<int32_t>> seen;
  std::vector<std::vector<int32_t>> out;
  for (const auto& seq : bad_words_ids) {
    if (seq.size() == 1 && std::find(eos.begin(), eos.end(), seq[0]) != eos.end()) continue;
    if (seen.insert(seq).second) out.push_back(seq);
  }
  return out;
}

void bad_words(float* scores, int V, const int32_t* ids, int len, const std::vector<std::vector<int32_t>>& sequences) {
  for (const auto& seq : sequences) {
    for (int32_t id : seq)
      if (id >= V)
        throw_invalid_argument("bad_words_ids: token id " + std::to_string(id) + " is outside the vocabulary (size " +
                               std::to_string(V) + ")");
    const int prefix_len = static_cast<int>(seq.size()) - 1;
    if (prefix_len > len) continue;
    if (std::equal(seq.begin(), seq.end() - 1, ids + (len - prefix_len))) scores[seq.back()] = kNegInf;
  }
}

void min_length(float* scores, int V, int len, int min_len, const std::vector<int32_t>& eos) {
  if (len >= min_len) return;
  for (int32_t e : eos)
    if (e >= 0 && e < V) scores[e] = kNegInf;
}

void min_new_tokens(float* scores, int V, int len, int prompt_len, int min_new, const std::vector<int32_t>& eos) {
  if (len - prompt_len >= min_new) return;
  for (int32_t e : eos)
    if (e >= 0 && e < V) scores[e] = kNegInf;
}

void temperature(float* scores, int V, double t) {
  const float tf = static_cast<float>(t);
  for (int i = 0; i < V; ++i) scores[i] = scores[i] / tf;
}

void top_k(float* scores, int V, int k, int min_tokens_to_keep, ProcessorScratch& scratch) {
  k = std::min(std::max(k, min_tokens_to_keep), V);
  if (k <= 0) return;
  scratch.reserve(V);
  float* v = scratch.values.data();
  std::copy(scores, scores + V, v);
  std::nth_element(v, v + (k - 1), v + V, std::greater<float>());
  const float kth = v[k - 1];
  for (int i = 0; i < V; ++i)
    if (scores[i] < kth) scores[i] = kNegInf;
}

namespace {

// top_p with the threshold already computed as HF does: (float)(1 - top_p). HF sorts ascending and removes the
// tokens whose cumulative probability (from the smallest up) is <= threshold, except the min_tokens_to_keep most
// likely: a prefix of the ascending order. Walked from the top instead, token i's ascending cumsum is the total
// minus the mass above it (fp64, as torch accumulates), and the walk stops at the first removed token.
void top_p_threshold(float* scores, int V, float threshold, int min_tokens_to_keep, ProcessorScratch& scratch) {
  scratch.reserve(V);
  float* probs = scratch.values.data();
  softmax_row(scores, probs, V);
  double total = 0.0;
  for (int i = 0; i < V; ++i) total += probs[i];
  LazyOrder top(scores, V, true, scratch.order);
  const int always = std::min(min_tokens_to_keep, V);
  double above = 0.0;
  for (int r = 0; r < V; ++r) {
    const int32_t t = top.at(r);
    if (r >= always && static_cast<float>(total - above) <= threshold) break;
    scratch.mark[t] = 1;  // kept
    above += probs[t];
  }
  for (int i = 0; i < V; ++i) {
    if (!scratch.mark[i]) scores[i] = kNegInf;
    scratch.mark[i] = 0;
  }
}

}  // namespace

void top_p(float* scores, int V, double p, int min_tokens_to_keep, ProcessorScratch& scratch) {
  top_p_threshold(scores, V, static_cast<float>(1.0 - p), min_tokens_to_keep, scratch);
}

void min_p(float* scores, int V, double p, int min_tokens_to_keep, ProcessorScratch& scratch) {
  scratch.reserve(V);
  float* probs = scratch.values.data();
  softmax_row(scores, probs, V);
  float top = 0.0f;
  for (int i = 0; i < V; ++i) top = std::max(top, probs[i]);
  const float threshold = static_cast<float>(p) * top;
  // the min_tokens_to_keep most probable tokens are never removed (torch.topk; ties by lower id)
  const int k = std::min(min_tokens_to_keep, V);
  int32_t* order = scratch.order.data();
  for (int i = 0; i < V; ++i) order[i] = i;
  std::partial_sort(order, order + k, order + V, [probs](int32_t a, int32_t b) {
    return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
  });
  for (int r = 0; r < k; ++r) scratch.mark[order[r]] = 1;
  for (int i = 0; i < V; ++i) {
    if (!scratch.mark[i] && probs[i] < threshold) scores[i] = kNegInf;
  }
  for (int r = 0; r < k; ++r) scratch.mark[order[r]] = 0;
}

void typical_p(float* scores, int V, double mass, int min_tokens_to_keep, ProcessorScratch& scratch) {
  scratch.reserve(V);
  float* shifted = scratch.values.data();
  log_softmax_row(scores, shifted, V);  // normalized
  double ent_acc = 0.0;
  for (int i = 0; i < V; ++i) {
    const float prod = shifted[i] * std::exp(shifted[i]);
    if (!std::isnan(prod)) ent_acc += prod;  // nansum: -inf * 0
  }
  const float ent = -static_cast<float>(ent_acc);
  for (int i = 0; i < V; ++i) shifted[i] = std::fabs((-shifted[i]) - ent);
  LazyOrder order(shifted, V, false, scratch.order);
  // probabilities of the row in the sorted order (softmax is permutation-equivariant)
  float m = kNegInf;
  for (int i = 0; i < V; ++i) m = std::max(m, scores[i]);
  double sum = 0.0;
  for (int i = 0; i < V; ++i) sum += std::exp(scores[i] - m);
  const float s = static_cast<float>(sum);
  double acc = 0.0;
  int last_ind = 0;
  for (int r = 0; r < V; ++r) {
    acc += std::exp(scores[order.at(r)] - m) / s;
    if (static_cast<float>(acc) < static_cast<float>(mass)) last_ind = r + 1;
    else break;  // the cumsum is non-decreasing
  }
  last_ind = std::min(last_ind, V - 1);
  const float cutoff = shifted[order.at(last_ind)];
  const int always = std::min(min_tokens_to_keep, V);  // the first entries of the order are never removed
  for (int r = 0; r < always; ++r) scratch.mark[order.at(r)] = 1;
  for (int i = 0; i < V; ++i) {
    if (!scratch.mark[i] && shifted[i] > cutoff) scores[i] = kNegInf;
    scratch.mark[i] = 0;
  }
}

ProcessorParams make_processor_params(const GenerationConfig& cfg, int prompt_len) {
  ProcessorParams p;
  p.eos = cfg.eos_token_id;
  p.repetition_penalty = static_cast<float>(cfg.repetition_penalty);
  p.no_repeat_ngram_size = cfg.no_repeat_ngram_size;
  if (!cfg.bad_words_ids.empty()) p.bad_words = make_bad_words(cfg.bad_words_ids, cfg.eos_token_id);
  // generate() rewrites min_length = T + min_new_tokens when min_new_tokens is set (_prepare_generated_length).
  p.min_length = cfg.min_new_tokens > 0 ? prompt_len + cfg.min_new_tokens : cfg.min_length;
  p.min_new_tokens = cfg.min_new_tokens;
  p.do_sample = cfg.do_sample && cfg.temperature != 0.0;
  p.temperature = cfg.temperature;
  p.top_k = cfg.top_k;
  p.top_p = cfg.top_p;
  p.has_min_p = cfg.min_p.has_value();
  p.min_p = cfg.min_p.value_or(0.0);
  p.typical_p = cfg.typical_p;
  if (cfg.num_beams > 1)
    p.min_tokens_to_keep = cfg.eos_token_id.empty() ? 2 : static_cast<int>(cfg.eos_token_id.size()) + 1;
  return p;
}

LogitsProcessorChain::LogitsProcessorChain(const GenerationConfig& cfg, int prompt_len)
    : LogitsProcessorChain(make_processor_params(cfg, prompt_len), prompt_len) {}

LogitsProcessorChain::LogitsProcessorChain(ProcessorParams params, int prompt_len)
    : params_(std::move(params)), prompt_len_(prompt_len) {}

std::vector<std::string> LogitsProcessorChain::names() const {
  const ProcessorParams& p = params_;
  std::vector<std::string> n;
  if (p.repetition_penalty != 1.0f) n.push_back("RepetitionPenaltyLogitsProcessor");
  if (p.no_repeat_ngram_size > 0) n.push_back("NoRepeatNGramLogitsProcessor");
  if (!p.bad_words.empty()) n.push_back("NoBadWordsLogitsProcessor");
  if (p.min_length > 0 && !p.eos.empty()) n.push_back("MinLengthLogitsProcessor");
  if (p.min_new_tokens > 0 && !p.eos.empty()) n.push_back("MinNewTokensLengthLogitsProcessor");
  if (p.do_sample) {
    if (p.temperature != 1.0) n.push_back("TemperatureLogitsWarper");
    if (p.top_k != 0) n.push_back("TopKLogitsWarper");
    if (p.top_p < 1.0) n.push_back("TopPLogitsWarper");
    if (p.has_min_p) n.push_back("MinPLogitsWarper");
    if (p.typical_p < 1.0) n.push_back("TypicalLogitsWarper");
  }
  return n;
}

void LogitsProcessorChain::apply(float* scores, int V, const int32_t* ids, int len, int leading_pads) {
  const ProcessorParams& p = params_;
  if (p.repetition_penalty != 1.0f) repetition_penalty(scores, V, ids, len, leading_pads, p.repetition_penalty, scratch_);
  if (p.no_repeat_ngram_size > 0) no_repeat_ngram(scores, V, ids, len, p.no_repeat_ngram_size);
  if (!p.bad_words.empty()) bad_words(scores, V, ids, len, p.bad_words);
  if (p.min_length > 0 && !p.eos.empty()) min_length(scores, V, len, p.min_length, p.eos);
  if (p.min_new_tokens > 0 && !p.eos.empty()) min_new_tokens(scores, V, len, prompt_len_, p.min_new_tokens, p.eos);
  if (!p.do_sample) return;
  if (p.temperature != 1.0) temperature(scores, V, p.temperature);
  if (p.top_k != 0) top_k(scores, V, p.top_k, p.min_tokens_to_keep, scratch_);
  if (p.top_p < 1.0) top_p(scores, V, p.top_p, p.min_tokens_to_keep, scratch_);
  if (p.has_min_p) min_p(scores, V, p.min_p, p.min_tokens_to_keep, scratch_);
  if (p.typical_p < 1.0) typical_p(scores, V, p.typical_p, p.min_tokens_to_keep, scratch_);
}

}  // namespace jitgen::decoding
