#include "generate/sampling.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace jitgen::decoding {
namespace {

// Known-answer vectors from Random123's kat_vectors (philox4x32 with 10 rounds).
TEST(SamplingPhilox, KnownAnswerZero) {
  const auto out = philox4x32_10({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(out[0], 0x6627e8d5u);
  EXPECT_EQ(out[1], 0xe169c58du);
  EXPECT_EQ(out[2], 0xbc57ac4cu);
  EXPECT_EQ(out[3], 0x9b00dbd8u);
}

TEST(SamplingPhilox, KnownAnswerAllOnes) {
  const auto out = philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(out[0], 0x408f276du);
  EXPECT_EQ(out[1], 0x41c83b0eu);
  EXPECT_EQ(out[2], 0xa20bc7c6u);
  EXPECT_EQ(out[3], 0x6d5451fdu);
}

TEST(SamplingPhilox, KnownAnswerPi) {
  const auto out = philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u});
  EXPECT_EQ(out[0], 0xd16cfe09u);
  EXPECT_EQ(out[1], 0x94fdccebu);
  EXPECT_EQ(out[2], 0x5001e420u);
  EXPECT_EQ(out[3], 0x24126ea1u);
}

TEST(SamplingPhilox, UniformIsTop24BitsOfFirstWord) {
  const uint32_t seed[2] = {0xa4093822u, 0x299f31d0u};
  const auto raw = philox4x32_10({7, 3, 1, 0}, {seed[0], seed[1]});
  const float u = philox_uniform(seed, 7, 3, 1);
  EXPECT_EQ(u, static_cast<float>(raw[0] >> 8) / 16777216.0f);
  EXPECT_GE(u, 0.0f);
  EXPECT_LT(u, 1.0f);
  EXPECT_NE(philox_uniform(seed, 7, 3, 0), philox_uniform(seed, 7, 4, 0));  // rows get independent streams
}

TEST(SamplingArgmax, FirstMaxWinsAndNanIsMax) {
  const std::vector<float> a = {1.0f, 3.0f, 2.0f, 3.0f};
  EXPECT_EQ(argmax_row(a.data(), 4), 1);
  const std::vector<float> b = {1.0f, 5.0f, std::nanf(""), 7.0f};
  EXPECT_EQ(argmax_row(b.data(), 4), 2);
}

TEST(SamplingInverseCdf, PicksTheBucketContainingU) {
  // softmax of log(0.1), log(0.2), -inf, log(0.7) = 0.1, 0.2, 0, 0.7 (exact hand computation of the CDF).
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::vector<float> l = {std::log(0.1f), std::log(0.2f), ninf, std::log(0.7f)};
  EXPECT_EQ(sample_row(l.data(), 4, 0.0f), 0);
  EXPECT_EQ(sample_row(l.data(), 4, 0.05f), 0);
  EXPECT_EQ(sample_row(l.data(), 4, 0.15f), 1);
  EXPECT_EQ(sample_row(l.data(), 4, 0.29f), 1);
  EXPECT_EQ(sample_row(l.data(), 4, 0.31f), 3);
  EXPECT_EQ(sample_row(l.data(), 4, 0.9999999f), 3);
}

TEST(SamplingInverseCdf, FrequenciesFollowSoftmax) {
  const std::vector<float> l = {0.0f, std::log(3.0f)};  // p = 0.25, 0.75
  const uint32_t seed[2] = {42, 0};
  int ones = 0;
  const int n = 20000;
  for (int s = 0; s < n; ++s) ones += sample_row(l.data(), 2, philox_uniform(seed, s, 0)) == 1;
  EXPECT_NEAR(ones / static_cast<double>(n), 0.75, 0.015);
}

TEST(SamplingWithoutReplacement, DrawsDistinctAndSkipsZeroProbabilityFirst) {
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::vector<float> s = {0.0f, ninf, 1.0f, 2.0f, ninf};
  const uint32_t seed[2] = {1, 2};
  std::vector<double> w(5);
  std::vector<int32_t> out(4);
  sample_without_replacement(s.data(), 5, 4, seed, 0, 0, w.data(), out.data());
  std::vector<int32_t> first3(out.begin(), out.begin() + 3);
  std::sort(first3.begin(), first3.end());
  EXPECT_EQ(first3, (std::vector<int32_t>{0, 2, 3}));
  EXPECT_EQ(out[3], 1);  // zero-probability candidates come last, in index order
}

}  // namespace
}  // namespace jitgen::decoding
