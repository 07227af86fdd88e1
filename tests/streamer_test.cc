#include "generate/streamer.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace jitgen::decoding {
namespace {

// Python: b"...".decode("utf-8", errors="replace") gives the expected strings below (maximal-subpart rule).
TEST(StreamerUtf8, HoldsBackIncompleteCharacterOnly) {
  TextStreamer s({"a", "\xE2\x82", "\xAC", "b", " c"});
  EXPECT_EQ(s.put(0), "a");
  EXPECT_EQ(s.put(1), "");  // first two bytes of the euro sign are held back
  EXPECT_EQ(s.put(2), "\xE2\x82\xAC");
  EXPECT_EQ(s.put(3), "b");
  EXPECT_EQ(s.put(4), " c");
  EXPECT_EQ(s.finish(), "");
}

TEST(StreamerUtf8, InvalidBytesBecomeReplacementLikePython) {
  // b"\xe2\x82x".decode(errors="replace") == "\ufffdx"; b"\xff" -> "\ufffd"; trailing b"\xf0\x9f" -> "\ufffd"
  TextStreamer s({"\xE2\x82", "x", "\xFF", "\xF0\x9F"});
  std::string out = s.put(0);
  EXPECT_EQ(out, "");
  out += s.put(1);
  EXPECT_EQ(out, "\xEF\xBF\xBDx");
  EXPECT_EQ(s.put(2), "\xEF\xBF\xBD");
  EXPECT_EQ(s.put(3), "");
  EXPECT_EQ(s.finish(), "\xEF\xBF\xBD");
}

TEST(StreamerUtf8, SurrogateEncodingIsInvalidPerByte) {
  // b"\xed\xa0\x80".decode(errors="replace") == "\ufffd\ufffd\ufffd" (0xA0 is outside ED's second-byte range).
  TextStreamer s({"\xED\xA0\x80"});
  EXPECT_EQ(s.put(0), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(StreamerBatch, CallbackPerRowAndSkipIds) {
  std::vector<std::string> got(2);
  TextStreamer proto({"h", "i", "<eos>"}, {2});
  BatchStreamer b(2, proto, [&](int row, const std::string& d) { got[row] += d; });
  b.put(0, 0);
  b.put(1, 1);
  b.put(0, 2);  // skipped
  b.put(0, 1);
  b.finish_all();
  b.put(0, 0);  // after finish: ignored
  EXPECT_EQ(got[0], "hi");
  EXPECT_EQ(got[1], "i");
}

}  // namespace
}  // namespace jitgen::decoding
