#include "generate/beam_search.h"

#include <algorithm>
#include <cmath>

#include "generate/sampling.h"
#include "jitgen/error.h"

namespace jitgen::decoding {
namespace {

constexpr float kBig = -1.0e9f;  // HF's "very large negative value"

// Indices of the k largest values (descending; ties -> lower index first).
void top_k_indices(const float* v, int n, int k, std::vector<int32_t>& order) {
  order.resize(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [v](int32_t a, int32_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
}

}  // namespace

BeamSearch::BeamSearch(const BeamSearchOptions& options, const std::vector<std::vector<int32_t>>& prompts)
    : opt_(options) {
  if (opt_.num_beams < 1) throw_invalid_argument("num_beams must be >= 1, got " + std::to_string(opt_.num_beams));
  if (opt_.num_return_sequences < 1 || opt_.num_return_sequences > opt_.num_beams)
    throw_invalid_argument("num_return_sequences must be in [1, num_beams=" + std::to_string(opt_.num_beams) +
                           "], got " + std::to_string(opt_.num_return_sequences));
  if (static_cast<int>(prompts.size()) != opt_.batch_size)
    throw_invalid_argument("beam search: expected " + std::to_string(opt_.batch_size) + " prompts, got " +
                           std::to_string(prompts.size()));
  if (opt_.max_length <= opt_.prompt_len)
    throw_invalid_argument("beam search: max_length (" + std::to_string(opt_.max_length) +
                           ") must exceed the prompt length (" + std::to_string(opt_.prompt_len) + ")");
  const int nb = opt_.num_beams, B = opt_.batch_size, L = opt_.max_length;
  beams_to_keep_ = std::max(2, 1 + static_cast<int>(opt_.eos.size())) * nb;
  cur_len_ = opt_.prompt_len;
  gen_cap_ = L - opt_.prompt_len;
  int32_t fill = -1;
  if (!opt_.eos.empty()) fill = (opt_.pad_token_id && *opt_.pad_token_id != 0) ? *opt_.pad_token_id : opt_.eos[0];
  running_seq_.assign(static_cast<size_t>(B) * nb * L, fill);
  for (int b = 0; b < B; ++b) {
    if (static_cast<int>(prompts[b].size()) != opt_.prompt_len)
      throw_invalid_argument("beam search: every prompt must have prompt_len tokens (pad them first)");
    for (int j = 0; j < nb; ++j)
      std::copy(prompts[b].begin(), prompts[b].end(), running_seq_.begin() + static_cast<size_t>(b * nb + j) * L);
  }
  fin_seq_ = running_seq_;
  running_score_.assign(B * nb, kBig);
  for (int b = 0; b < B; ++b) running_score_[b * nb] = 0.0f;  // only beam 0 is live at the first step
  fin_score_.assign(B * nb, kBig);
  running_bidx_.assign(static_cast<size_t>(B) * nb * gen_cap_, -1);
  fin_bidx_ = running_bidx_;
  fin_done_.assign(B * nb, 0);
  improvable_.assign(B, 1);
  next_tokens_.assign(B * nb, 0);
  source_rows_.assign(B * nb, 0);
}

void BeamSearch::step(const float* log_probs, int V, const BeamStopFn& extra_stop) {
  JITGEN_CHECK(!done_);
  const int nb = opt_.num_beams, B = opt_.batch_size, L = opt_.max_length, K = beams_to_keep_, P = opt_.prompt_len;
  const int n = nb * V;
  if (K > n) throw_invalid_argument("beam search needs at least " + std::to_string(K) + " candidates per step");
  const int g = cur_len_ - P;  // index of the token chosen in this step
  const float len_div = static_cast<float>(std::pow(static_cast<double>(g + 1), opt_.length_penalty));
  const bool early_true = opt_.early_stopping == EarlyStopping::kTrue;

  std::vector<int32_t> new_seq(running_seq_.size()), new_bidx(running_bidx_.size());
  std::vector<float> new_score(running_score_.size());
  std::vector<int32_t> cand_seq(static_cast<size_t>(K) * L), cand_bidx(static_cast<size_t>(K) * gen_cap_);
  std::vector<float> cand_lp(K), cand_run(K), merged(nb + K);
  std::vector<int32_t> cand_idx(K), sel;
  std::vector<uint8_t> hits(K);
  bool all_hit = true;

  acc_.resize(n);
  for (int b = 0; b < B; ++b) {
    // 1. accumulated scores over [nb * V]
    for (int j = 0; j < nb; ++j) {
      const float* row = log_probs + static_cast<size_t>(b * nb + j) * V;
      const float s = running_score_[b * nb + j];
      for (int v = 0; v < V; ++v) acc_[j * V + v] = row[v] + s;
    }
    // 2. K candidates
    if (opt_.do_sample) {
      weights_.resize(n);
      sample_without_replacement(acc_.data(), n, K, opt_.seed, static_cast<uint32_t>(g), static_cast<uint32_t>(b),
                                 weights_.data(), cand_idx.data());
      std::stable_sort(cand_idx.begin(), cand_idx.end(), [this](int32_t a, int32_t c) { return acc_[a] > acc_[c]; });
    } else {
      top_k_indices(acc_.data(), n, K, order_);
      std::copy(order_.begin(), order_.begin() + K, cand_idx.begin());
    }
    // 3. candidate sequences and their stopping status
    for (int k = 0; k < K; ++k) {
      const int beam = cand_idx[k] / V, tok = cand_idx[k] % V;
      const int src = b * nb + beam;
      cand_lp[k] = acc_[cand_idx[k]];
      int32_t* cs = &cand_seq[static_cast<size_t>(k) * L];
      std::copy_n(&running_seq_[static_cast<size_t>(src) * L], L, cs);
      cs[cur_len_] = tok;
      int32_t* cb = &cand_bidx[static_cast<size_t>(k) * gen_cap_];
      std::copy_n(&running_bidx_[static_cast<size_t>(src) * gen_cap_], gen_cap_, cb);
      cb[g] = src;
      bool hit = std::find(opt_.eos.begin(), opt_.eos.end(), tok) != opt_.eos.end() || cur_len_ + 1 >= L;
      if (!hit && extra_stop) hit = extra_stop(cs, cur_len_ + 1);
      hits[k] = hit;
      all_hit = all_hit && hit;
    }
    // 4. next running beams
    for (int k = 0; k < K; ++k) cand_run[k] = cand_lp[k] + (hits[k] ? kBig : 0.0f);
    top_k_indices(cand_run.data(), K, nb, sel);
    for (int j = 0; j < nb; ++j) {
      const int k = sel[j], dst = b * nb + j;
      std::copy_n(&cand_seq[static_cast<size_t>(k) * L], L, &new_seq[static_cast<size_t>(dst) * L]);
      std::copy_n(&cand_bidx[static_cast<size_t>(k) * gen_cap_], gen_cap_, &new_bidx[static_cast<size_t>(dst) * gen_cap_]);
      new_score[dst] = cand_run[k];
    }
    // 5. finished hypotheses
    bool full = early_true;
    for (int j = 0; j < nb; ++j) full = full && fin_done_[b * nb + j];
    for (int j = 0; j < nb; ++j) merged[j] = fin_score_[b * nb + j];
    for (int k = 0; k < K; ++k) {
      float s = cand_lp[k] / len_div;
      s += full ? kBig : 0.0f;
      s += improvable_[b] ? 0.0f : kBig;
      s += (hits[k] && k < nb) ? 0.0f : kBig;
      merged[nb + k] = s;
    }
    top_k_indices(merged.data(), nb + K, nb, sel);
    std::vector<int32_t> f_seq(static_cast<size_t>(nb) * L), f_bidx(static_cast<size_t>(nb) * gen_cap_);
    std::vector<float> f_score(nb);
    std::vector<uint8_t> f_done(nb);
    for (int j = 0; j < nb; ++j) {
      const int m = sel[j];
      const int32_t* s_seq = m < nb ? &fin_seq_[static_cast<size_t>(b * nb + m) * L] : &cand_seq[static_cast<size_t>(m - nb) * L];
      const int32_t* s_bidx = m < nb ? &fin_bidx_[static_cast<size_t>(b * nb + m) * gen_cap_]
                                     : &cand_bidx[static_cast<size_t>(m - nb) * gen_cap_];
      std::copy_n(s_seq, L, &f_seq[static_cast<size_t>(j) * L]);
      std::copy_n(s_bidx, gen_cap_, &f_bidx[static_cast<size_t>(j) * gen_cap_]);
      f_score[j] = merged[m];
      f_done[j] = m < nb ? fin_done_[b * nb + m] : static_cast<uint8_t>(hits[m - nb] && (m - nb) < nb);
    }
    std::copy(f_seq.begin(), f_seq.end(), fin_seq_.begin() + static_cast<size_t>(b) * nb * L);
    std::copy(f_bidx.begin(), f_bidx.end(), fin_bidx_.begin() + static_cast<size_t>(b) * nb * gen_cap_);
    std::copy(f_score.begin(), f_score.end(), fin_score_.begin() + b * nb);
    std::copy(f_done.begin(), f_done.end(), fin_done_.begin() + b * nb);
  }
  running_seq_.swap(new_seq);
  running_bidx_.swap(new_bidx);
  running_score_.swap(new_score);
  for (int r = 0; r < B * nb; ++r) {
    next_tokens_[r] = running_seq_[static_cast<size_t>(r) * L + cur_len_];
    source_rows_[r] = running_bidx_[static_cast<size_t>(r) * gen_cap_ + g];
  }
  cur_len_ += 1;

  // 6. improvement heuristic and the loop condition
  const bool never_long = opt_.early_stopping == EarlyStopping::kNever && opt_.length_penalty > 0.0;
  const int best_len = never_long ? L - P : cur_len_ - P;
  const float best_div = static_cast<float>(std::pow(static_cast<double>(best_len), opt_.length_penalty));
  bool any_improvable = false, all_finished = true;
  for (int b = 0; b < B; ++b) {
    const float best = running_score_[b * nb] / best_div;
    float worst = fin_score_[b * nb];
    for (int j = 1; j < nb; ++j) worst = std::min(worst, fin_score_[b * nb + j]);
    bool can = false;
    for (int j = 0; j < nb; ++j) {
      can = can || best > (fin_done_[b * nb + j] ? worst : kBig);
      all_finished = all_finished && fin_done_[b * nb + j];
    }
    improvable_[b] = improvable_[b] && can;
    any_improvable = any_improvable || improvable_[b];
  }
  const bool open_beam = !(all_finished && early_true);
  done_ = !(any_improvable && open_beam && !all_hit);
}

BeamSearchResult BeamSearch::finalize() const {
  const int nb = opt_.num_beams, B = opt_.batch_size, L = opt_.max_length, R = opt_.num_return_sequences;
  BeamSearchResult out;
  out.batch_size = B;
  out.num_return_sequences = R;
  int max_gen = 0;
  for (int b = 0; b < B; ++b)
    for (int r = 0; r < R; ++r) {
      const int32_t* bi = &fin_bidx_[static_cast<size_t>(b * nb + r) * gen_cap_];
      int gen = 0;
      for (int t = 0; t < gen_cap_; ++t) gen += bi[t] != -1;
      max_gen = std::max(max_gen, gen);
    }
  out.length = opt_.prompt_len + max_gen;
  for (int b = 0; b < B; ++b)
    for (int r = 0; r < R; ++r) {
      const size_t row = static_cast<size_t>(b * nb + r);
      out.sequences.emplace_back(fin_seq_.begin() + row * L, fin_seq_.begin() + row * L + out.length);
      out.scores.push_back(fin_score_[row]);
      out.beam_indices.emplace_back(fin_bidx_.begin() + row * gen_cap_, fin_bidx_.begin() + row * gen_cap_ + max_gen);
    }
  return out;
}

}  // namespace jitgen::decoding
