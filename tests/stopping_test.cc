#include "generate/stopping.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "jitgen/error.h"

namespace jitgen::decoding {
namespace {

// A toy vocabulary; the positive / negative cases are the examples in HF's StopStringCriteria docstring.
const std::vector<std::string> kVocab = {"st", "op", "stop", "opera", "sto", "pper", "las", "topper", "s", "to",
                                         "pped", "at", "tion", "x", "", "\xE2\x82", "\xAC"};
int id(const std::string& t) {
  for (size_t i = 0; i < kVocab.size(); ++i)
    if (kVocab[i] == t) return static_cast<int>(i);
  throw std::runtime_error("no token " + t);
}
std::vector<int32_t> ids(std::initializer_list<const char*> toks) {
  std::vector<int32_t> v;
  for (const char* t : toks) v.push_back(id(t));
  return v;
}

TEST(StoppingStopStrings, HfDocstringPositives) {
  StopStringMatcher m(kVocab, {"stop"});
  for (const auto& seq : {ids({"st", "op"}), ids({"stop"}), ids({"st", "opera"}), ids({"sto", "pper"}),
                          ids({"las", "topper"}), ids({"s", "to", "pped"}), ids({"x", "x", "s", "to", "pped"})})
    EXPECT_TRUE(m.matches(seq.data(), static_cast<int>(seq.size())));
}

TEST(StoppingStopStrings, HfDocstringNegatives) {
  StopStringMatcher m(kVocab, {"stop"});
  for (const auto& seq : {ids({"stop", "at"}), ids({"st", "op", "at"}), ids({"st", "opera", "tion"}), ids({"op"}),
                          ids({"x", "op"}), ids({"to", "pped"})})
    EXPECT_FALSE(m.matches(seq.data(), static_cast<int>(seq.size())));
}

TEST(StoppingStopStrings, BytesAcrossTokensAndEmptyTokensAreTransparent) {
  StopStringMatcher euro(kVocab, {"\xE2\x82\xAC"});  // "€" split over two byte tokens
  const auto a = ids({"x", "\xE2\x82", "\xAC"});
  EXPECT_TRUE(euro.matches(a.data(), 3));
  StopStringMatcher m(kVocab, {"stop"});
  const auto b = ids({"st", "", "op"});
  EXPECT_TRUE(m.matches(b.data(), 3));
  const std::vector<int32_t> oov = {id("st"), 999};
  EXPECT_FALSE(m.matches(oov.data(), 2));
}

TEST(StoppingStopStrings, LookbackWindowIsLongestStopString) {
  // HF only inspects the last max(len(stop)) tokens: with "stop" (4 bytes) and three transparent empty tokens,
  // "st" falls out of the window.
  StopStringMatcher m(kVocab, {"stop"});
  const auto a = ids({"st", "", "", "", "op"});
  EXPECT_FALSE(m.matches(a.data(), 5));
  StopStringMatcher longer(kVocab, {"stop", "xxxxxx"});
  EXPECT_TRUE(longer.matches(a.data(), 5));
}

TEST(StoppingStopStrings, RejectsEmptyStopString) { EXPECT_THROW(StopStringMatcher(kVocab, {""}), Error); }

TEST(StoppingCriteria, EosMaxLengthAndStrings) {
  StoppingCriteria c(6, {id("x")}, std::nullopt, StopStringMatcher(kVocab, {"stop"}));
  const auto a = ids({"to", "x"});
  EXPECT_TRUE(c.row_done(a.data(), 2));  // eos
  const auto b = ids({"to", "at"});
  EXPECT_FALSE(c.row_done(b.data(), 2));
  const auto d = ids({"at", "at", "at", "at", "at", "at"});
  EXPECT_TRUE(c.row_done(d.data(), 6));  // max_length
  EXPECT_FALSE(c.row_done(d.data(), 5));
  const auto e = ids({"at", "st", "op"});
  EXPECT_TRUE(c.row_done(e.data(), 3));  // stop string
}

TEST(StoppingCriteria, MaxTimeExpires) {
  StoppingCriteria c(100, {}, 1e-9);
  const std::vector<int32_t> a = {0};
  volatile double sink = 0;
  for (int i = 0; i < 100000; ++i) sink = sink + i;
  EXPECT_TRUE(c.time_exceeded());
  EXPECT_TRUE(c.row_done(a.data(), 1));
  StoppingCriteria never(100, {}, std::nullopt);
  EXPECT_FALSE(never.row_done(a.data(), 1));
}

}  // namespace
}  // namespace jitgen::decoding
