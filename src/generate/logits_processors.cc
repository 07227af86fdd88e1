#include "generate/logits_processors.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "jitgen/error.h"
#include "ops/cpu_kernels.h"

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
    normalized.resize(V);
  }
}

// The max, the exponentials and their fp64 sum are Highway kernels (ops/cpu_kernels.h: row_max, exp_shifted).
void softmax_row(const float* in, float* out, int V) {
  const float m = cpu::row_max(in, V);
  const float s = static_cast<float>(cpu::exp_shifted(in, V, m, out));
  for (int i = 0; i < V; ++i) out[i] = out[i] / s;
}

void log_softmax_row(const float* in, float* out, int V) {
  const float m = cpu::row_max(in, V);
  // The exponentials go to out, overwritten below; when out is in, to a per-thread buffer (grown once).
  thread_local std::vector<float> own;
  float* e = out;
  if (out == in) {
    if (static_cast<int>(own.size()) < V) own.resize(V);
    e = own.data();
  }
  const double sum = cpu::exp_shifted(in, V, m, e);
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

void sequence_bias(float* scores, int V, const int32_t* ids, int len,
                   const std::vector<std::pair<std::vector<int32_t>, float>>& biases, ProcessorScratch& scratch) {
  scratch.reserve(V);
  for (const auto& [seq, b] : biases)
    for (int32_t id : seq)
      if (id >= V)
        throw_invalid_argument("sequence_bias: token id " + std::to_string(id) + " is outside the vocabulary (size " +
                               std::to_string(V) + ")");
  float* bias = scratch.values.data();
  std::fill(bias, bias + V, 0.0f);
  for (const auto& [seq, b] : biases)
    if (seq.size() == 1) bias[seq[0]] = b;
  // Multi-token sequences, grouped by prefix length in order of first appearance (HF's index_add_ per group).
  std::vector<size_t> lengths;
  for (const auto& [seq, b] : biases)
    if (seq.size() > 1 && std::find(lengths.begin(), lengths.end(), seq.size()) == lengths.end())
      lengths.push_back(seq.size());
  for (size_t n : lengths)
    for (const auto& [seq, b] : biases) {
      if (seq.size() != n) continue;
      const int prefix = static_cast<int>(n) - 1;
      if (prefix > len) break;  // the whole group is longer than the row
      if (std::equal(seq.begin(), seq.end() - 1, ids + (len - prefix))) bias[seq.back()] += b;
    }
  for (int i = 0; i < V; ++i) scores[i] = scores[i] + bias[i];
}

void encoder_repetition_penalty(float* scores, int V, const int32_t* prompt, int prompt_len, double penalty,
                                ProcessorScratch& scratch) {
  scratch.reserve(V);
  const float inv = static_cast<float>(1.0 / penalty);  // HF: self.penalty = 1 / penalty, a Python float
  uint8_t* mark = scratch.mark.data();
  for (int t = 0; t < prompt_len; ++t) {
    const int32_t id = prompt[t];
    if (id < 0 || id >= V || mark[id]) continue;  // gather-then-scatter: duplicates write the same value
    mark[id] = 1;
    const float s = scores[id];
    scores[id] = s < 0.0f ? s * inv : s / inv;
  }
  for (int t = 0; t < prompt_len; ++t)
    if (prompt[t] >= 0 && prompt[t] < V) mark[prompt[t]] = 0;
}

void force_tokens(float* scores, int V, const std::vector<int32_t>& ids, const char* field) {
  for (int32_t id : ids)
    if (id >= V)
      throw_invalid_argument(std::string(field) + ": token id " + std::to_string(id) +
                             " is outside the vocabulary (size " + std::to_string(V) + ")");
  std::fill(scores, scores + V, kNegInf);
  for (int32_t id : ids) scores[id] = 0.0f;
}

void remove_invalid_values(float* scores, int V) {
  const float big = std::numeric_limits<float>::max();
  for (int i = 0; i < V; ++i) {
    if (std::isnan(scores[i])) scores[i] = 0.0f;
    else if (scores[i] == std::numeric_limits<float>::infinity()) scores[i] = big;
    else if (scores[i] == kNegInf) scores[i] = -big;
  }
}

void exponential_decay_length_penalty(float* scores, int V, int len, int start, double factor,
                                      const std::vector<int32_t>& eos) {
  if (len <= start) return;
  const float f = static_cast<float>(std::pow(factor, len - start) - 1.0);
  // penalties[:, eos] = penalty; scores + penalties: each distinct id once (its penalty reads only its own score).
  for (size_t i = 0; i < eos.size(); ++i) {
    const int32_t e = eos[i];
    if (e < 0 || e >= V || std::find(eos.begin(), eos.begin() + i, e) != eos.begin() + i) continue;
    if (std::isfinite(scores[e])) scores[e] = scores[e] + std::fabs(scores[e]) * f;
  }
}

void suppress_tokens(float* scores, int V, const std::vector<int32_t>& ids) {
  for (int32_t id : ids)
    if (id >= 0 && id < V) scores[id] = kNegInf;  // torch.isin over arange(V): other ids match nothing
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

namespace {

// The score of the k-th best entry (k = min(min_tokens_to_keep, V)): torch.topk(scores, k)[0][..., -1].
float kth_best(const float* scores, int V, int min_tokens_to_keep, ProcessorScratch& scratch) {
  const int k = std::max(1, std::min(min_tokens_to_keep, V));
  float* v = scratch.values.data();
  std::copy(scores, scores + V, v);
  std::nth_element(v, v + (k - 1), v + V, std::greater<float>());
  return v[k - 1];
}

// torch.distributions.Categorical(logits=x).entropy() of n fp32 logits: normalized = x - logsumexp(x),
// probs = softmax(normalized), -sum(clamp(normalized, min=-FLT_MAX) * probs). `probs` receives the probabilities.
float categorical_entropy(const float* x, int n, float* probs, float* normalized) {
  const float m = cpu::row_max(x, n);
  const double sum = cpu::exp_shifted(x, n, m, probs);  // probs as scratch: softmax_row overwrites it below
  const float lse = m + static_cast<float>(std::log(sum));
  for (int i = 0; i < n; ++i) normalized[i] = x[i] - lse;
  softmax_row(normalized, probs, n);
  double acc = 0.0;
  for (int i = 0; i < n; ++i) acc += std::max(normalized[i], -std::numeric_limits<float>::max()) * probs[i];
  return -static_cast<float>(acc);
}

}  // namespace

void top_h(float* scores, int V, double top_h, ProcessorScratch& scratch) {
  scratch.reserve(V);
  const int n = std::min(100, V);  // HF's top_n
  int32_t* order = scratch.order.data();
  for (int i = 0; i < V; ++i) order[i] = i;
  std::partial_sort(order, order + n, order + V, [scores](int32_t a, int32_t b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  });
  float top[100], probs[100], normalized[100];
  for (int r = 0; r < n; ++r) top[r] = scores[order[r]];
  const float tau = categorical_entropy(top, n, probs, normalized) * static_cast<float>(top_h);
  double cum = 0.0;  // torch CPU cumsum accumulates fp32 in double
  for (int r = 0; r < n; ++r) {
    const float term = -probs[r] * std::log(probs[r]);  // nan for p == 0: the cumsum stays nan, nothing kept
    cum += term;
    if (r == 0 || static_cast<float>(cum) <= tau) scratch.mark[order[r]] = 1;
  }
  for (int i = 0; i < V; ++i) {
    if (!scratch.mark[i]) scores[i] = kNegInf;
    scratch.mark[i] = 0;
  }
}

void epsilon_cutoff(float* scores, int V, double epsilon, int min_tokens_to_keep, ProcessorScratch& scratch) {
  scratch.reserve(V);
  const float kth = kth_best(scores, V, min_tokens_to_keep, scratch);
  float* probs = scratch.values.data();
  softmax_row(scores, probs, V);
  const float eps = static_cast<float>(epsilon);
  for (int i = 0; i < V; ++i)
    if (probs[i] < eps && scores[i] < kth) scores[i] = kNegInf;
}

void eta_cutoff(float* scores, int V, double eta, int min_tokens_to_keep, ProcessorScratch& scratch) {
  scratch.reserve(V);
  const float kth = kth_best(scores, V, min_tokens_to_keep, scratch);
  float* probs = scratch.values.data();
  const float entropy = categorical_entropy(scores, V, probs, scratch.normalized.data());
  const float e = static_cast<float>(eta);
  const float threshold = std::min(e, std::sqrt(e) * std::exp(-entropy));
  // softmax(scores) == softmax(normalized) up to rounding: HF compares scores.softmax(), recompute it exactly
  softmax_row(scores, probs, V);
  for (int i = 0; i < V; ++i)
    if (probs[i] < threshold && scores[i] < kth) scores[i] = kNegInf;
}

ProcessorParams make_processor_params(const GenerationConfig& cfg, int prompt_len, int max_length) {
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
  p.has_top_h = cfg.top_h.has_value();
  p.top_h = cfg.top_h.value_or(1.0);
  p.epsilon_cutoff = cfg.epsilon_cutoff;
  p.eta_cutoff = cfg.eta_cutoff;
  for (const auto& [seq, b] : cfg.sequence_bias) p.sequence_bias.emplace_back(seq, static_cast<float>(b));
  p.encoder_repetition_penalty = cfg.encoder_repetition_penalty;
  if (cfg.forced_bos_token_id) p.forced_bos = {*cfg.forced_bos_token_id};
  p.forced_eos = cfg.forced_eos_token_id;
  p.max_length = max_length;
  p.remove_invalid_values = cfg.remove_invalid_values;
  if (cfg.exponential_decay_length_penalty) {
    p.has_decay = true;
    p.decay_start = prompt_len + cfg.exponential_decay_length_penalty->first;
    p.decay_factor = cfg.exponential_decay_length_penalty->second;
  }
  p.has_suppress = !cfg.suppress_tokens.empty();
  p.suppress_tokens = cfg.suppress_tokens;
  p.has_begin_suppress = !cfg.begin_suppress_tokens.empty();
  p.begin_suppress_tokens = cfg.begin_suppress_tokens;
  // _get_logits_processor: begin_index = T, plus one when T == 1 and a BOS is forced (it takes the first step).
  p.begin_index = (prompt_len > 1 || !cfg.forced_bos_token_id) ? prompt_len : prompt_len + 1;
  p.renormalize_logits = cfg.renormalize_logits;
  if (cfg.num_beams > 1)
    p.min_tokens_to_keep = cfg.eos_token_id.empty() ? 2 : static_cast<int>(cfg.eos_token_id.size()) + 1;
  return p;
}

LogitsProcessorChain::LogitsProcessorChain(const GenerationConfig& cfg, int prompt_len, int max_length)
    : LogitsProcessorChain(make_processor_params(cfg, prompt_len, max_length), prompt_len) {}

LogitsProcessorChain::LogitsProcessorChain(ProcessorParams params, int prompt_len)
    : params_(std::move(params)), prompt_len_(prompt_len) {}

std::vector<std::string> LogitsProcessorChain::names() const {
  const ProcessorParams& p = params_;
  std::vector<std::string> n;
  if (!p.sequence_bias.empty()) n.push_back("SequenceBiasLogitsProcessor");
  if (p.encoder_repetition_penalty != 1.0) n.push_back("EncoderRepetitionPenaltyLogitsProcessor");
  if (p.repetition_penalty != 1.0f) n.push_back("RepetitionPenaltyLogitsProcessor");
  if (p.no_repeat_ngram_size > 0) n.push_back("NoRepeatNGramLogitsProcessor");
  if (!p.bad_words.empty()) n.push_back("NoBadWordsLogitsProcessor");
  if (p.min_length > 0 && !p.eos.empty()) n.push_back("MinLengthLogitsProcessor");
  if (p.min_new_tokens > 0 && !p.eos.empty()) n.push_back("MinNewTokensLengthLogitsProcessor");
  if (!p.forced_bos.empty()) n.push_back("ForcedBOSTokenLogitsProcessor");
  if (!p.forced_eos.empty()) n.push_back("ForcedEOSTokenLogitsProcessor");
  if (p.remove_invalid_values) n.push_back("InfNanRemoveLogitsProcessor");
  if (p.has_decay) n.push_back("ExponentialDecayLengthPenalty");
  if (p.has_suppress) n.push_back("SuppressTokensLogitsProcessor");
  if (p.has_begin_suppress) n.push_back("SuppressTokensAtBeginLogitsProcessor");
  if (p.do_sample) {
    if (p.temperature != 1.0) n.push_back("TemperatureLogitsWarper");
    if (p.has_top_h) n.push_back("TopHLogitsWarper");
    if (p.top_k != 0) n.push_back("TopKLogitsWarper");
    if (p.top_p < 1.0) n.push_back("TopPLogitsWarper");
    if (p.has_min_p) n.push_back("MinPLogitsWarper");
    if (p.typical_p < 1.0) n.push_back("TypicalLogitsWarper");
    if (p.epsilon_cutoff > 0.0 && p.epsilon_cutoff < 1.0) n.push_back("EpsilonLogitsWarper");
    if (p.eta_cutoff > 0.0 && p.eta_cutoff < 1.0) n.push_back("EtaLogitsWarper");
  }
  if (p.renormalize_logits) n.push_back("LogitNormalization");
  return n;
}

void LogitsProcessorChain::apply(float* scores, int V, const int32_t* ids, int len, int leading_pads) {
  const ProcessorParams& p = params_;
  if (!p.sequence_bias.empty()) sequence_bias(scores, V, ids, len, p.sequence_bias, scratch_);
  if (p.encoder_repetition_penalty != 1.0)
    encoder_repetition_penalty(scores, V, ids, std::min(prompt_len_, len), p.encoder_repetition_penalty, scratch_);
  if (p.repetition_penalty != 1.0f) repetition_penalty(scores, V, ids, len, leading_pads, p.repetition_penalty, scratch_);
  if (p.no_repeat_ngram_size > 0) no_repeat_ngram(scores, V, ids, len, p.no_repeat_ngram_size);
  if (!p.bad_words.empty()) bad_words(scores, V, ids, len, p.bad_words);
  if (p.min_length > 0 && !p.eos.empty()) min_length(scores, V, len, p.min_length, p.eos);
  if (p.min_new_tokens > 0 && !p.eos.empty()) min_new_tokens(scores, V, len, prompt_len_, p.min_new_tokens, p.eos);
  if (!p.forced_bos.empty() && len == 1) force_tokens(scores, V, p.forced_bos, "forced_bos_token_id");
  if (!p.forced_eos.empty() && len == p.max_length - 1) force_tokens(scores, V, p.forced_eos, "forced_eos_token_id");
  if (p.remove_invalid_values) remove_invalid_values(scores, V);
  if (p.has_decay) exponential_decay_length_penalty(scores, V, len, p.decay_start, p.decay_factor, p.eos);
  if (p.has_suppress) suppress_tokens(scores, V, p.suppress_tokens);
  if (p.has_begin_suppress && len == p.begin_index) suppress_tokens(scores, V, p.begin_suppress_tokens);
  if (p.do_sample) apply_warpers(scores, V);
  if (p.renormalize_logits) log_softmax_row(scores, scores, V);
}

void LogitsProcessorChain::apply_warpers(float* scores, int V) {
  const ProcessorParams& p = params_;
  if (p.temperature != 1.0) temperature(scores, V, p.temperature);
  if (p.has_top_h) top_h(scores, V, p.top_h, scratch_);
  if (p.top_k != 0) top_k(scores, V, p.top_k, p.min_tokens_to_keep, scratch_);
  if (p.top_p < 1.0) top_p(scores, V, p.top_p, p.min_tokens_to_keep, scratch_);
  if (p.has_min_p) min_p(scores, V, p.min_p, p.min_tokens_to_keep, scratch_);
  if (p.typical_p < 1.0) typical_p(scores, V, p.typical_p, p.min_tokens_to_keep, scratch_);
  if (p.epsilon_cutoff > 0.0 && p.epsilon_cutoff < 1.0)
    epsilon_cutoff(scores, V, p.epsilon_cutoff, p.min_tokens_to_keep, scratch_);
  if (p.eta_cutoff > 0.0 && p.eta_cutoff < 1.0) eta_cutoff(scores, V, p.eta_cutoff, p.min_tokens_to_keep, scratch_);
}

}  // namespace jitgen::decoding
