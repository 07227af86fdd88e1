// Streaming text (DecodeStream, TextStreamer, BatchStreamer): for every tokenizer kind the pieces concatenate
// to exactly Tokenizer::decode of the same ids (which tokenizer_family_test checks against HF), and at every
// step the text returned so far plus what finish() would return is decode() of the ids so far.
#include "generate/streamer.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "jitgen/tokenizer.h"
#include "test_support.h"

namespace jitgen {
namespace {

using decoding::BatchStreamer;
using decoding::TextStreamer;
using nlohmann::json;

const Tokenizer& family(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& t = cache[name];
  if (!t)
    t = std::make_unique<Tokenizer>(name == "gpt2" ? Tokenizer::builtin_gpt2()
                                                   : Tokenizer::from_dir(test::fixture_path("tokenizers/" + name)));
  return *t;
}

std::vector<std::vector<int32_t>> golden_ids(const std::string& name) {
  const std::string dir = name == "gpt2" ? "tokenizers/llama3" : "tokenizers/" + name;  // gpt2: encode the texts
  const json g = json::parse(test::read_file(test::fixture_path(dir) + "/goldens.json"));
  std::vector<std::vector<int32_t>> out;
  for (const json& c : g["encode"])
    out.push_back(name == "gpt2" ? family("gpt2").encode(c["text"].get<std::string>()) : c["ids"].get<std::vector<int32_t>>());
  return out;
}

// Streams `ids`; every `check_every` steps also checks emitted + finish() of a copy == decode(ids so far).
std::string stream(const Tokenizer& tok, const std::vector<int32_t>& ids, bool skip, size_t check_every = 0) {
  DecodeStream s(tok, skip);
  std::string out;
  for (size_t k = 0; k < ids.size(); ++k) {
    out += s.step(ids[k]);
    if (check_every && (k % check_every == 0 || k + 1 == ids.size())) {
      DecodeStream copy = s;
      const std::vector<int32_t> prefix(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(k + 1));
      const std::string want = tok.decode(prefix, skip);
      EXPECT_EQ(out + copy.finish(), want) << "after " << k + 1 << " ids " << json(prefix).dump();
      EXPECT_TRUE(want.starts_with(out)) << "emitted text that decode() of the ids so far does not start with";
    }
  }
  return out + s.finish();
}

class StreamFamily : public ::testing::TestWithParam<std::string> {};

TEST_P(StreamFamily, GoldenTextsConcatenateToDecode) {
  const Tokenizer& tok = family(GetParam());
  const auto all = golden_ids(GetParam());
  ASSERT_GE(all.size(), 500u);
  int bad = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    for (bool skip : {false, true}) {
      // Every step checked on the first texts (quadratic), the end result on all of them.
      const std::string got = stream(tok, all[i], skip, i < 40 ? 1 : 0);
      if (got != tok.decode(all[i], skip) && ++bad <= 10)
        ADD_FAILURE() << GetParam() << " skip=" << skip << " ids " << json(all[i]).dump() << "\n got  "
                      << json(got).dump() << "\n want " << json(tok.decode(all[i], skip)).dump();
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST_P(StreamFamily, LongStreamMovesItsWindowAndStaysExact) {
  const Tokenizer& tok = family(GetParam());
  std::vector<int32_t> ids;
  for (const auto& r : golden_ids(GetParam())) ids.insert(ids.end(), r.begin(), r.end());
  ASSERT_GT(ids.size(), 5000u);
  for (bool skip : {false, true}) EXPECT_EQ(stream(tok, ids, skip, 499), tok.decode(ids, skip)) << "skip=" << skip;
}

TEST_P(StreamFamily, RandomIdsConcatenateToDecode) {
  // Random ids hit what real text rarely does: byte tokens in any order, specials, lone spaces.
  const Tokenizer& tok = family(GetParam());
  std::mt19937 rng(17);
  std::uniform_int_distribution<int32_t> any(0, tok.vocab_size() - 1);
  for (int round = 0; round < 12; ++round) {
    std::vector<int32_t> ids;
    const size_t n = round < 10 ? 30 + round * 7 : 400;
    while (ids.size() < n) {
      const int32_t id = any(rng);
      try {
        (void)tok.id_to_token(id);  // throws for ids the vocabulary skips
        ids.push_back(id);
      } catch (const std::exception&) {
      }
    }
    for (bool skip : {false, true})
      EXPECT_EQ(stream(tok, ids, skip, round < 10 ? 1 : 13), tok.decode(ids, skip)) << json(ids).dump();
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, StreamFamily, ::testing::Values("llama2", "llama2_legacy", "llama3", "qwen2",
                                                                   "smollm", "t5", "gpt2", "spm_llama_legacy",
                                                                   "spm_t5", "cls_llama_nonlegacy", "cls_llama_noprefix",
                                                                   "cls_gemma", "cls_qwen2_modeltype", "cls_gpt2",
                                                                   "cls_neox", "cls_t5"));

std::vector<int32_t> ids_of(const Tokenizer& tok, std::initializer_list<const char*> tokens) {
  std::vector<int32_t> ids;
  for (const char* t : tokens) {
    auto id = tok.token_to_id(t);
    EXPECT_TRUE(id.has_value()) << t;
    ids.push_back(id.value_or(0));
  }
  return ids;
}

// Llama's decoder strips the first token's leading space only; later tokens keep theirs.
TEST(StreamLlama, FirstTokenLosesItsLeadingSpaceLaterOnesKeepIt) {
  const Tokenizer& tok = family("llama2");
  DecodeStream s(tok);
  const auto ids = ids_of(tok, {"\xE2\x96\x81the", "\xE2\x96\x81the"});
  EXPECT_EQ(s.step(ids[0]), "the");
  EXPECT_EQ(s.step(ids[1]), " the");
  EXPECT_EQ(s.finish(), "");
  EXPECT_EQ(tok.decode(ids), "the the");
}

// A character split over byte-fallback tokens: nothing until the run of byte tokens ends, because HF decodes a
// run that is not valid UTF-8 as one U+FFFD per byte token.
TEST(StreamLlama, ByteFallbackRunIsHeldUntilItEnds) {
  const Tokenizer& tok = family("llama2");
  DecodeStream s(tok);
  const auto ids = ids_of(tok, {"\xE2\x96\x81the", "<0xE2>", "<0x82>", "<0xAC>", "<0xE2>", "\xE2\x96\x81the"});
  EXPECT_EQ(s.step(ids[0]), "the");
  EXPECT_EQ(s.step(ids[1]), "");
  EXPECT_EQ(s.step(ids[2]), "");
  EXPECT_EQ(s.step(ids[3]), "");  // "€" is complete, but one more byte token would turn it into U+FFFD x4
  EXPECT_EQ(s.step(ids[4]), "");
  std::string rest = s.step(ids[5]);
  rest += s.finish();
  EXPECT_EQ(rest, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD the");
  EXPECT_EQ("the" + rest, tok.decode(ids));

  DecodeStream ok(tok);
  const auto euro = ids_of(tok, {"\xE2\x96\x81the", "<0xE2>", "<0x82>", "<0xAC>", "\xE2\x96\x81the"});
  std::string got;
  for (int32_t id : euro) got += ok.step(id);
  EXPECT_EQ(got, "the\xE2\x82\xAC the");  // emitted before finish(): the run ended with a normal token
  EXPECT_EQ(ok.finish(), "");
}

// Byte-level BPE: an incomplete character is held back and comes out whole.
TEST(StreamByteLevel, IncompleteCharacterIsHeldBack) {
  const Tokenizer& tok = family("gpt2");
  const std::vector<int32_t> ids = tok.encode("a \xE2\x82\xAC\xE2\x82\xAC b");
  DecodeStream s(tok);
  std::string got;
  for (int32_t id : ids) {
    got += s.step(id);
    EXPECT_TRUE(got.find("\xEF\xBF\xBD") == std::string::npos) << json(got).dump();
  }
  EXPECT_EQ(got + s.finish(), "a \xE2\x82\xAC\xE2\x82\xAC b");
}

// Without cleanup or byte runs, the text comes out with each token (no lag).
TEST(StreamByteLevel, PlainTextIsEmittedWithEachToken) {
  for (const char* name : {"llama3", "gpt2"}) {
    const Tokenizer& tok = family(name);
    const std::vector<int32_t> ids = tok.encode("In the beginning God created the heaven and the earth.", false);
    DecodeStream s(tok);
    std::string got;
    for (size_t k = 0; k < ids.size(); ++k) {
      got += s.step(ids[k]);
      EXPECT_EQ(got, tok.decode(std::vector<int32_t>(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(k + 1))));
    }
  }
}

// T5 (clean_up_tokenization_spaces): " ." becomes "." only once the "." arrives, so text from a space in the last 6
// bytes waits; it comes out once the text has moved on.
TEST(StreamT5, CleanupHoldsTextNearASpace) {
  const Tokenizer& tok = family("t5");
  const std::string the = "\xE2\x96\x81the";
  const auto ids = ids_of(tok, {the.c_str(), "\xE2\x96\x81", ".", the.c_str(), the.c_str(), the.c_str(), the.c_str()});
  ASSERT_EQ(tok.decode(ids), "the. the the the the");
  DecodeStream s(tok);
  std::string got = s.step(ids[0]);
  EXPECT_EQ(got, "the");
  got += s.step(ids[1]);
  got += s.step(ids[2]);
  EXPECT_EQ(got, "the");  // "the ." must not come out: cleanup turns it into "the."
  for (size_t k = 3; k < ids.size(); ++k) got += s.step(ids[k]);
  EXPECT_TRUE(got.starts_with("the. the")) << got;
  got += s.finish();
  EXPECT_EQ(got, tok.decode(ids));
}

TEST(StreamSkip, SpecialTokensAndUnknownIdsProduceNothing) {
  const Tokenizer& tok = family("gpt2");
  DecodeStream s(tok, /*skip_special_tokens=*/true);
  EXPECT_EQ(s.step(50256), "");  // <|endoftext|>
  EXPECT_EQ(s.step(1000000), "");  // out of the vocabulary: dropped, as HF's decode drops it
  EXPECT_EQ(s.step(31373), "hello");
  DecodeStream keep(tok);
  EXPECT_EQ(keep.step(50256), "<|endoftext|>");
}

TEST(StreamerBatch, CallbackPerRowAndSkipIds) {
  const Tokenizer& tok = family("gpt2");
  std::vector<std::string> got(2);
  BatchStreamer b(2, TextStreamer::from_tokenizer(tok, true), [&](int row, const std::string& d) { got[row] += d; });
  const int32_t h = tok.encode("h")[0], i = tok.encode("i")[0];
  b.put(0, h);
  b.put(1, i);
  b.put(0, 50256);  // skipped
  b.put(0, i);
  b.finish_all();
  b.put(0, h);  // after finish: ignored
  EXPECT_EQ(got[0], "hi");
  EXPECT_EQ(got[1], "i");
}

}  // namespace
}  // namespace jitgen
