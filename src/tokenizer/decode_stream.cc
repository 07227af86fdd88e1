// DecodeStream: incremental decode whose pieces concatenate to Tokenizer::decode (contract in
// include/jitgen/tokenizer.h).
//
// The text of ids_[0, n) is base_ + T, where T is the decoder's text of the window ids_[start_, n). The window
// is decoded with the token before it (the primer) in front and the primer's own text cut off, as HF's
// DecodeStream and TGI do, so that first-token rules (Metaspace's prepend_scheme, Strip's start) hit the primer
// in both decodes and cancel. The window moves forward only to a point checked against a decode of everything
// (the text so far must end with the new window's text), where nothing can reach back across it: the primer is
// settled, the base does not end in U+FFFD (half a character), and, when cleanup applies, the base has no space
// in its last kCleanupContext bytes, so cleanup(base + T) == cleanup(base) + cleanup(T).
//
// transformers' clean_up_tokenization replaces patterns that start with a space and are at most 4 bytes long
// (" .", " n't", " ' " -> "'", ...), one rule after another over the whole text, so text can still change near
// its end: from a space in the last 6 bytes, from any pattern occurrence that reaches that point (a later rule's
// match may lose its space to an earlier rule's), and 2 bytes before a " ' " there (" ' " -> "'" can create
// " 's" or " n't" to its left). hold_cleanup_context cuts there; text with no space in its last 6 bytes keeps
// its cleaned form whatever follows. Both checked against transformers' function on 7 * 10^6 random strings.
#include <algorithm>

#include "jitgen/tokenizer.h"
#include "tokenizer/decoders/decoder.h"
#include "tokenizer/impl.h"

namespace jitgen {
namespace {

constexpr size_t kWindow = 32;          // the window keeps at least this many ids after a move
constexpr size_t kCleanupContext = 6;   // bytes; see the comment at the top
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

constexpr std::string_view kCleanupPatterns[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're"};

// Cuts `s` where clean_up_tokenization of what follows may still change it (see the comment at the top).
void hold_cleanup_context(std::string& s) {
  const size_t space = s.find(' ', s.size() > kCleanupContext ? s.size() - kCleanupContext : 0);
  size_t p = space == std::string::npos ? s.size() : space;
  for (;;) {
    size_t q = p;
    for (std::string_view pat : kCleanupPatterns)
      for (size_t st = p > pat.size() ? p - pat.size() : 0; st < p; ++st)
        if (s.compare(st, pat.size(), pat) == 0) q = std::min(q, st);
    for (size_t st = p > 4 ? p - 4 : 0; st <= p && st < s.size(); ++st)
      if (s.compare(st, 3, " ' ") == 0) q = std::min(q, st > 2 ? st - 2 : 0);
    if (q == p) break;
    p = q;
  }
  s.resize(p);
}

void drop_trailing_replacements(std::string& s) {
  while (s.ends_with(kReplacement)) s.resize(s.size() - kReplacement.size());
}

}  // namespace

DecodeStream::DecodeStream(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tok_(&tokenizer), skip_special_(skip_special_tokens) {}

// The decoder's text of ids_[start_, end), primed; nullopt if the primed decode does not start with the primer's
// text (no decoder in tokenizers does that, but a wrong guess must not produce wrong text).
std::optional<std::string> DecodeStream::window_text(size_t end) const {
  const tokenizer::Pipeline& p = *tok_->impl_->p;
  if (start_ == 0) return p.decode_text(ids_.data(), end);
  std::string w = p.decode_text(ids_.data() + start_ - 1, end - start_ + 1);
  if (!w.starts_with(primer_)) return std::nullopt;
  return w.substr(primer_.size());
}

// The part of the window's final text that no later token can change, cleaned up when the config asks.
std::string DecodeStream::settled_window_text() const {
  const tokenizer::Pipeline& p = *tok_->impl_->p;
  const size_t n = ids_.size();
  std::optional<std::string> t = window_text(n);
  if (!t) return {};
  const size_t unsettled = p.unsettled_tail(ids_.data() + start_, n - start_);
  if (unsettled > 0) {
    std::optional<std::string> settled = window_text(n - unsettled);
    if (!settled) return {};
    const auto common = std::mismatch(t->begin(), t->end(), settled->begin(), settled->end()).first;
    t->resize(static_cast<size_t>(common - t->begin()));
  }
  drop_trailing_replacements(*t);
  if (p.cleans_up()) {
    hold_cleanup_context(*t);
    *t = tokenizer::cleanup_tokenization(std::move(*t), false);
  }
  return *t;
}

void DecodeStream::maybe_move_window() {
  const tokenizer::Pipeline& p = *tok_->impl_->p;
  const size_t n = ids_.size();
  if (n < next_move_ || n - start_ < 2 * kWindow) return;
  next_move_ = n + kWindow / 2;  // a failed try is retried a little later, not every step
  const size_t s = n - kWindow;
  if (p.unsettled_tail(ids_.data() + start_, n - start_) > n - s) return;  // the primer must be settled
  const std::string all = p.decode_text(ids_.data(), n);
  const std::string primer = p.decode_text(ids_.data() + s - 1, 1);
  const std::string w = p.decode_text(ids_.data() + s - 1, n - s + 1);
  if (!w.starts_with(primer)) return;
  const std::string_view t = std::string_view(w).substr(primer.size());
  if (!std::string_view(all).ends_with(t)) return;
  std::string base = all.substr(0, all.size() - t.size());
  if (base.ends_with(kReplacement)) return;
  if (p.cleans_up()) {
    const size_t from = base.size() > kCleanupContext ? base.size() - kCleanupContext : 0;
    if (base.find(' ', from) != std::string::npos) return;
    base = tokenizer::cleanup_tokenization(std::move(base), false);
  }
  start_ = s;
  base_ = std::move(base);
  primer_ = primer;
}

std::string DecodeStream::step(int32_t id) {
  const tokenizer::Pipeline& p = *tok_->impl_->p;
  if (!p.valid_id(id) || (skip_special_ && p.is_special[id])) return {};
  ids_.push_back(id);
  maybe_move_window();
  const std::string t = settled_window_text();
  // The final text known so far is base_ + t; return what lies past emitted_.
  std::string out;
  if (emitted_ < base_.size()) {
    out.assign(base_, emitted_);
    out += t;
  } else if (emitted_ - base_.size() < t.size()) {
    out.assign(t, emitted_ - base_.size());
  }
  emitted_ += out.size();
  return out;
}

std::string DecodeStream::finish() {
  const tokenizer::Pipeline& p = *tok_->impl_->p;
  std::string all = p.decode_text(ids_.data(), ids_.size());
  if (p.cleans_up()) all = tokenizer::cleanup_tokenization(std::move(all), false);
  std::string out = emitted_ < all.size() ? all.substr(emitted_) : std::string();
  *this = DecodeStream(*tok_, skip_special_);
  return out;
}

}  // namespace jitgen
