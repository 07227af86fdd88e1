// Tests for src/io: safetensors reading/writing, sharded checkpoints, config.json parsing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "io/hf_config.h"
#include "models/gpt2/config.h"
#include "io/safetensors.h"
#include "test_support.h"

namespace jitgen::io {
namespace {

using json = nlohmann::json;
using test::TempDir;
using test::write_file;

// Builds a raw safetensors file from a header string and a data section.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

// Expects `fn` to throw jitgen::Error(kInvalidFile) whose message contains every one of `parts`.
template <typename Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "expected an error containing: " << *parts.begin();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFile) << e.what();
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message must be one line: " << msg;
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "missing '" << p << "' in: " << msg;
  }
}

void expect_open_error(const std::string& header, const std::string& data,
                       std::initializer_list<std::string> parts) {
  TempDir d;
  const std::string path = d.file("bad.safetensors");
  write_file(path, raw_file(header, data));
  std::vector<std::string> all(parts);
  all.push_back("bad.safetensors");
  try {
    SafetensorsFile::open(path);
    ADD_FAILURE() << "expected an error for header " << header;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFile);
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& p : all) EXPECT_NE(msg.find(p), std::string::npos) << "missing '" << p << "' in: " << msg;
  }
}

Tensor f32_tensor(Shape shape, float start) {
  Tensor t = Tensor::zeros(std::move(shape), DType::kF32);
  for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = start + static_cast<float>(i) * 0.5f;
  return t;
}

// --------------------------------------------------------------------------------------------------
// Round trips

TEST(IoSafetensors, RoundTripAllDtypes) {
  TempDir d;
  const std::string path = d.file("model.safetensors");
  Tensor a = f32_tensor({2, 3}, -1.0f);
  Tensor h = Tensor::zeros({3}, DType::kF16);  // odd byte count: the next tensor is misaligned in the file
  auto* hp = static_cast<uint16_t*>(h.data());
  hp[0] = f32_to_f16(1.5f);
  hp[1] = f32_to_f16(-2.0f);
  hp[2] = f32_to_f16(65504.0f);
  Tensor b = Tensor::zeros({2, 2}, DType::kBF16);
  auto* bp = static_cast<uint16_t*>(b.data());
  bp[0] = f32_to_bf16(1.0f);
  bp[1] = f32_to_bf16(-0.5f);
  bp[2] = f32_to_bf16(3.0f);
  bp[3] = f32_to_bf16(256.0f);
  Tensor i = Tensor::zeros({4}, DType::kI32);
  for (int k = 0; k < 4; ++k) i.i32()[k] = k * 1000 - 7;
  Tensor empty = Tensor::zeros({0, 5}, DType::kF32);
  Tensor scalar = f32_tensor({}, 42.0f);

  write_safetensors(path, {{"a", a}, {"h", h}, {"i", i}, {"b", b}, {"empty", empty}, {"scalar", scalar}},
                    {{"format", "pt"}});
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(getpid())));

  const std::string bytes = test::read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.find("__metadata__"), 2u);  // metadata first, as HF writes it
  EXPECT_LT(header.find("\"a\""), header.find("\"h\""));  // given order
  EXPECT_LT(header.find("\"i\""), header.find("\"b\""));

  auto f = SafetensorsFile::open(path);
  ASSERT_EQ(f->tensors().size(), 6u);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  std::map<std::string, Tensor> got;
  for (const auto& e : f->tensors()) {
    EXPECT_EQ(e.file, path);
    got[e.name] = e.tensor;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(e.tensor.data()) % dtype_size(e.tensor.dtype()), 0u) << e.name;
  }
  f.reset();  // views must keep the mapping alive
  EXPECT_EQ(got["a"].shape(), (Shape{2, 3}));
  EXPECT_EQ(got["a"].dtype(), DType::kF32);
  for (int k = 0; k < 6; ++k) EXPECT_EQ(got["a"].f32()[k], a.f32()[k]);
  EXPECT_EQ(got["h"].dtype(), DType::kF16);
  EXPECT_EQ(got["b"].dtype(), DType::kBF16);
  EXPECT_EQ(got["i"].dtype(), DType::kI32);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(got["i"].i32()[k], k * 1000 - 7);
  EXPECT_EQ(got["empty"].shape(), (Shape{0, 5}));
  EXPECT_EQ(got["empty"].numel(), 0);
  EXPECT_EQ(got["scalar"].shape(), Shape{});
  EXPECT_EQ(got["scalar"].f32()[0], 42.0f);

  // Half types convert exactly.
  Tensor hf = got["h"].to_f32();
  EXPECT_EQ(hf.f32()[0], 1.5f);
  EXPECT_EQ(hf.f32()[1], -2.0f);
  EXPECT_EQ(hf.f32()[2], 65504.0f);
  Tensor bf = got["b"].to_f32();
  EXPECT_EQ(bf.f32()[0], 1.0f);
  EXPECT_EQ(bf.f32()[1], -0.5f);
  EXPECT_EQ(bf.f32()[2], 3.0f);
  EXPECT_EQ(bf.f32()[3], 256.0f);

  // Checkpoint over a single file.
  Checkpoint ck = Checkpoint::open_dir(d.path());
  EXPECT_EQ(ck.names().size(), 6u);
  ASSERT_NE(ck.find("a"), nullptr);
  EXPECT_EQ(ck.find("a")->tensor.f32()[5], a.f32()[5]);
  EXPECT_EQ(ck.find("missing"), nullptr);
  EXPECT_NE(ck.description().find("model.safetensors"), std::string::npos);
}

TEST(IoSafetensors, HalfConversionExactValues) {
  // Known bit patterns from IEEE 754.
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xc040), -3.0f);
  EXPECT_EQ(bf16_to_f32(0x3eaa), 0.33203125f);
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);

  // Through a file: raw bits written by hand, read back and converted.
  TempDir d;
  const std::string path = d.file("h.safetensors");
  std::string data;
  for (uint16_t v : {0x3c00, 0x0001, 0xfbff, 0x3555}) data.append(reinterpret_cast<const char*>(&v), 2);
  for (uint16_t v : {0x3f80, 0x3eaa}) data.append(reinterpret_cast<const char*>(&v), 2);
  write_file(path, raw_file(R"({"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}})",
                            data));
  auto f = SafetensorsFile::open(path);
  std::map<std::string, Tensor> got;
  for (const auto& e : f->tensors()) got[e.name] = e.tensor.to_f32();
  EXPECT_EQ(got["h"].f32()[0], 1.0f);
  EXPECT_EQ(got["h"].f32()[1], std::ldexp(1.0f, -24));
  EXPECT_EQ(got["h"].f32()[2], -65504.0f);
  EXPECT_EQ(got["h"].f32()[3], 0.333251953125f);
  EXPECT_EQ(got["b"].f32()[0], 1.0f);
  EXPECT_EQ(got["b"].f32()[1], 0.33203125f);
}

TEST(IoSafetensors, AcceptsHandWrittenValidFile) {
  TempDir d;
  const std::string path = d.file("ok.safetensors");
  // No metadata, out-of-order entries, whitespace padding: all valid.
  write_file(path, raw_file(R"({"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                            R"( "x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   )",
                            std::string(8, '\0')));
  auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f->tensors().size(), 2u);
  // Header only, no tensors.
  write_file(path, raw_file("{}", ""));
  EXPECT_EQ(SafetensorsFile::open(path)->tensors().size(), 0u);
}

// --------------------------------------------------------------------------------------------------
// Bad safetensors files

TEST(IoSafetensors, RejectsFileTooShort) {
  TempDir d;
  const std::string path = d.file("short.safetensors");
  write_file(path, "abc");
  expect_error([&] { SafetensorsFile::open(path); }, {"short.safetensors", "too short"});
  write_file(path, "");
  expect_error([&] { SafetensorsFile::open(path); }, {"short.safetensors", "too short"});
}

TEST(IoSafetensors, RejectsMissingFile) {
  TempDir d;
  expect_error([&] { SafetensorsFile::open(d.file("nope.safetensors")); }, {"nope.safetensors", "cannot open"});
  expect_error([&] { SafetensorsFile::open(d.path()); }, {d.path(), "not a regular file"});
}

TEST(IoSafetensors, RejectsHeaderLengthBeyondFile) {
  TempDir d;
  const std::string path = d.file("bad.safetensors");
  std::string bytes = raw_file("{}", "");
  bytes[0] = 3;  // header length 3 > 2 bytes present
  write_file(path, bytes);
  expect_error([&] { SafetensorsFile::open(path); }, {"bad.safetensors", "header length 3", "past the end"});
}

TEST(IoSafetensors, RejectsHugeHeaderLength) {
  TempDir d;
  const std::string path = d.file("bad.safetensors");
  std::string bytes(16, ' ');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(0xff);
  write_file(path, bytes);
  expect_error([&] { SafetensorsFile::open(path); }, {"bad.safetensors", "header length 18446744073709551615", "limit"});
  bytes[7] = 0;
  bytes[6] = 0;
  bytes[5] = 0;
  bytes[4] = 0;
  bytes[3] = 0x10;  // 0x10ffffff > 100e6
  write_file(path, bytes);
  expect_error([&] { SafetensorsFile::open(path); }, {"bad.safetensors", "limit"});
}

TEST(IoSafetensors, RejectsMalformedJsonHeader) {
  expect_open_error(R"({"a": {"dtype": "F32", )", "", {"not valid JSON", "line 1"});
  expect_open_error("", "", {"not valid JSON"});
  expect_open_error(std::string("{\"a\xff\": 1}"), "", {"not valid JSON"});  // invalid UTF-8
  expect_open_error(std::string("{}\0\0", 4), "", {"not valid JSON"});
}

TEST(IoSafetensors, RejectsHeaderNotObject) {
  expect_open_error("[1, 2]", "", {"must be a JSON object", "array"});
  expect_open_error("42      ", "", {"must be a JSON object"});
}

TEST(IoSafetensors, RejectsBadMetadata) {
  expect_open_error(R"({"__metadata__": [1]})", "", {"__metadata__", "object"});
  expect_open_error(R"({"__metadata__": {"format": 1}})", "", {"__metadata__", "\"format\"", "string"});
}

TEST(IoSafetensors, RejectsUnknownDtype) {
  expect_open_error(R"({"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'),
                    {"tensor \"w\"", "unknown dtype \"F33\""});
  expect_open_error(R"({"w":{"dtype":5,"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'),
                    {"tensor \"w\"", "dtype", "string"});
  expect_open_error(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'),
                    {"tensor \"w\"", "missing \"dtype\""});
}

TEST(IoSafetensors, RejectsUnsupportedDtype) {
  expect_open_error(R"({"pos":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0'),
                    {"tensor \"pos\"", "unsupported dtype I64"});
  expect_open_error(R"({"m":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", std::string(1, '\0'),
                    {"tensor \"m\"", "unsupported dtype BOOL"});
}

TEST(IoSafetensors, RejectsBadShape) {
  const std::string data(4, '\0');
  expect_open_error(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", data, {"tensor \"w\"", "shape"});
  expect_open_error(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", data, {"tensor \"w\"", "shape"});
  expect_open_error(R"({"w":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}})", data, {"tensor \"w\"", "shape"});
  expect_open_error(R"({"w":{"dtype":"F32","shape":1,"data_offsets":[0,4]}})", data, {"tensor \"w\"", "shape"});
  expect_open_error(R"({"w":{"dtype":"F32","shape":[1e3],"data_offsets":[0,4]}})", data, {"tensor \"w\"", "shape"});
  expect_open_error(R"({"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}})", data,
                    {"tensor \"w\"", "shape"});
  // Product overflows 64 bits.
  expect_open_error(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})", data,
                    {"tensor \"w\"", "too large"});
  expect_open_error(R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}})", data,
                    {"tensor \"w\"", "too large"});
  expect_open_error(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", data, {"tensor \"w\"", "missing \"shape\""});
  expect_open_error(R"({"w":[1,2]})", data, {"tensor \"w\"", "must be an object"});
}

TEST(IoSafetensors, RejectsOffsetsOutOfBounds) {
  expect_open_error(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(4, '\0'),
                    {"tensor \"w\"", "data_offsets [0, 8]", "exceed the data section of 4 bytes"});
  expect_open_error(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551615,18446744073709551615]}})",
                    std::string(4, '\0'), {"tensor \"w\""});
  expect_open_error(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", std::string(4, '\0'),
                    {"tensor \"w\"", "data_offsets"});
  expect_open_error(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}})", std::string(4, '\0'),
                    {"tensor \"w\"", "data_offsets"});
  expect_open_error(R"({"w":{"dtype":"F32","shape":[1]}})", std::string(4, '\0'),
                    {"tensor \"w\"", "missing \"data_offsets\""});
}

TEST(IoSafetensors, RejectsBeginAfterEnd) {
  expect_open_error(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", std::string(4, '\0'),
                    {"tensor \"w\"", "data_offsets [4, 0]", "begin > end"});
}

TEST(IoSafetensors, RejectsSizeMismatch) {
  expect_open_error(R"({"h.0.attn.c_attn.weight":{"dtype":"F32","shape":[768,2304],"data_offsets":[0,100]}})",
                    std::string(100, '\0'),
                    {"tensor \"h.0.attn.c_attn.weight\": data_offsets [0, 100] span 100 bytes but shape [768, 2304] "
                     "x F32 needs 7077888"});
}

TEST(IoSafetensors, RejectsOverlappingSpans) {
  expect_open_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                    std::string(12, '\0'), {"tensor \"b\"", "overlap", "tensor \"a\""});
  // The same span twice.
  expect_open_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                    std::string(4, '\0'), {"overlap"});
}

TEST(IoSafetensors, RejectsHolesAndTrailingBytes) {
  // As the safetensors crate: spans must tile the data section exactly.
  expect_open_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0'),
                    {"tensor \"a\"", "hole"});
  expect_open_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(8, '\0'),
                    {"trailing bytes"});
}

TEST(IoSafetensors, TruncatedFilesNeverCrash) {
  // Every prefix of a valid file is either valid or a clean error.
  TempDir d;
  const std::string good = d.file("good.safetensors");
  write_safetensors(good, {{"a", f32_tensor({3}, 1.0f)}, {"b", f32_tensor({2, 2}, 0.0f)}}, {{"k", "v"}});
  const std::string bytes = test::read_file(good);
  const std::string path = d.file("t.safetensors");
  for (size_t n = 0; n < bytes.size(); ++n) {
    write_file(path, bytes.substr(0, n));
    EXPECT_THROW(SafetensorsFile::open(path), Error) << n;
  }
  // Single-byte corruptions: either a clean error or a file that still passes validation.
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string b = bytes;
    b[i] = static_cast<char>(b[i] ^ 0x5a);
    write_file(path, b);
    try {
      auto f = SafetensorsFile::open(path);
      for (const auto& e : f->tensors()) (void)e.tensor.to_f32();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidFile);
    }
  }
}

// --------------------------------------------------------------------------------------------------
// Sharded checkpoints

struct Sharded {
  TempDir dir;
  Sharded() {
    write_safetensors(dir.file("model-00001-of-00002.safetensors"),
                      {{"wte.weight", f32_tensor({4, 2}, 0.0f)}, {"wpe.weight", f32_tensor({3, 2}, 10.0f)}});
    write_safetensors(dir.file("model-00002-of-00002.safetensors"), {{"ln_f.weight", f32_tensor({2}, 100.0f)}});
  }
  void write_index(const json& weight_map) {
    write_file(dir.file("model.safetensors.index.json"),
               json{{"metadata", {{"total_size", 64}}}, {"weight_map", weight_map}}.dump(2));
  }
  json good_map() const {
    return {{"wte.weight", "model-00001-of-00002.safetensors"},
            {"wpe.weight", "model-00001-of-00002.safetensors"},
            {"ln_f.weight", "model-00002-of-00002.safetensors"}};
  }
};

TEST(IoCheckpoint, ShardedCheckpoint) {
  Sharded s;
  s.write_index(s.good_map());
  Checkpoint ck = Checkpoint::open_dir(s.dir.path());
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"ln_f.weight", "wpe.weight", "wte.weight"}));
  ASSERT_NE(ck.find("ln_f.weight"), nullptr);
  EXPECT_EQ(ck.find("ln_f.weight")->tensor.f32()[1], 100.5f);
  EXPECT_NE(ck.find("ln_f.weight")->file.find("model-00002-of-00002.safetensors"), std::string::npos);
  EXPECT_EQ(ck.find("wpe.weight")->tensor.shape(), (Shape{3, 2}));
  EXPECT_NE(ck.description().find("model.safetensors.index.json"), std::string::npos);
  // Entries survive moving and copying the checkpoint.
  Checkpoint moved = std::move(ck);
  Checkpoint copy = moved;
  EXPECT_EQ(copy.find("wte.weight")->tensor.f32()[7], 3.5f);
}

TEST(IoCheckpoint, RejectsMissingShard) {
  Sharded s;
  json m = s.good_map();
  m["ln_f.weight"] = "model-00003-of-00002.safetensors";
  s.write_index(m);
  expect_error([&] { Checkpoint::open_dir(s.dir.path()); },
               {"model.safetensors.index.json", "model-00003-of-00002.safetensors", "does not exist"});
}

TEST(IoCheckpoint, RejectsBadShardNames) {
  Sharded s;
  for (const char* bad : {"../model-00002-of-00002.safetensors", "/etc/passwd", "sub/x.safetensors", "..", ""}) {
    json m = s.good_map();
    m["ln_f.weight"] = bad;
    s.write_index(m);
    expect_error([&] { Checkpoint::open_dir(s.dir.path()); },
                 {"model.safetensors.index.json", "\"ln_f.weight\"", "plain file name"});
  }
  json m = s.good_map();
  m["ln_f.weight"] = 7;
  s.write_index(m);
  expect_error([&] { Checkpoint::open_dir(s.dir.path()); }, {"model.safetensors.index.json", "\"ln_f.weight\""});
}

TEST(IoCheckpoint, RejectsIndexNameMissingFromShard) {
  Sharded s;
  json m = s.good_map();
  m["h.0.ln_1.weight"] = "model-00002-of-00002.safetensors";
  s.write_index(m);
  expect_error([&] { Checkpoint::open_dir(s.dir.path()); },
               {"model.safetensors.index.json", "\"h.0.ln_1.weight\"", "model-00002-of-00002.safetensors",
                "does not contain"});
  // Listed for the wrong shard.
  m = s.good_map();
  m["wte.weight"] = "model-00002-of-00002.safetensors";
  s.write_index(m);
  expect_error([&] { Checkpoint::open_dir(s.dir.path()); }, {"\"wte.weight\"", "does not contain"});
}

TEST(IoCheckpoint, RejectsDuplicateNamesAcrossShards) {
  Sharded s;
  write_safetensors(s.dir.file("model-00002-of-00002.safetensors"),
                    {{"ln_f.weight", f32_tensor({2}, 100.0f)}, {"wte.weight", f32_tensor({1}, 0.0f)}});
  s.write_index(s.good_map());
  expect_error([&] { Checkpoint::open_dir(s.dir.path()); },
               {"model.safetensors.index.json", "\"wte.weight\"", "two shards"});
}

TEST(IoCheckpoint, RejectsBadIndex) {
  Sharded s;
  write_file(s.dir.file("model.safetensors.index.json"), "{\"weight_map\": ");
  expect_error([&] { Checkpoint::open_dir(s.dir.path()); }, {"model.safetensors.index.json", "malformed JSON"});
  write_file(s.dir.file("model.safetensors.index.json"), "{\"metadata\": {}}");
  expect_error([&] { Checkpoint::open_dir(s.dir.path()); }, {"model.safetensors.index.json", "weight_map"});
  write_file(s.dir.file("model.safetensors.index.json"), "{\"weight_map\": []}");
  expect_error([&] { Checkpoint::open_dir(s.dir.path()); }, {"model.safetensors.index.json", "weight_map", "object"});
  // A corrupt shard is reported with the shard's own path.
  s.write_index(s.good_map());
  write_file(s.dir.file("model-00002-of-00002.safetensors"), "xx");
  expect_error([&] { Checkpoint::open_dir(s.dir.path()); }, {"model-00002-of-00002.safetensors", "too short"});
}

TEST(IoCheckpoint, RejectsMissingDirFiles) {
  TempDir d;
  expect_error([&] { Checkpoint::open_dir(d.path()); },
               {d.path(), "model.safetensors", "model.safetensors.index.json"});
  write_file(d.file("pytorch_model.bin"), "pickle");
  expect_error([&] { Checkpoint::open_dir(d.path()); }, {d.path(), "pytorch_model.bin", "not supported"});
  expect_error([&] { Checkpoint::open_dir(d.file("nonexistent")); }, {"nonexistent", "not a directory"});
}

// --------------------------------------------------------------------------------------------------
// config.json / generation_config.json

json gpt2_json() {
  return json{{"model_type", "gpt2"}, {"n_layer", 2},     {"n_head", 4},
              {"n_embd", 64},         {"n_positions", 128}, {"vocab_size", 1000},
              {"layer_norm_epsilon", 1e-5}, {"activation_function", "gelu_new"}};
}

TEST(IoConfig, ParsesGpt2ConfigAndRoundTrips) {
  Gpt2Config c = parse_gpt2_config(gpt2_json(), "config.json");
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.n_head, 4);
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.head_dim(), 16);
  EXPECT_EQ(c.inner_dim(), 256);
  EXPECT_EQ(c.n_positions, 128);
  EXPECT_EQ(c.vocab_size, 1000);
  EXPECT_EQ(c.eos_token_id, 50256);
  EXPECT_FLOAT_EQ(c.layer_norm_epsilon, 1e-5f);

  json out = c.to_json();
  EXPECT_EQ(out["architectures"], json::array({"GPT2LMHeadModel"}));
  EXPECT_EQ(out["model_type"], "gpt2");
  EXPECT_EQ(out["n_ctx"], 128);
  EXPECT_EQ(out["n_inner"], nullptr);
  EXPECT_EQ(out["layer_norm_epsilon"].get<double>(), 1e-5);
  Gpt2Config back = parse_gpt2_config(out, "round-trip");
  EXPECT_EQ(back.to_json(), out);

  TempDir d;
  write_file(d.file("config.json"), out.dump(2));
  EXPECT_EQ(load_gpt2_config(d.file("config.json")).n_embd, 64);
}

TEST(IoConfig, AcceptsAliasesAndTokenForms) {
  json j = {{"model_type", "gpt2"}, {"hidden_size", 32}, {"num_attention_heads", 2}, {"num_hidden_layers", 3},
            {"max_position_embeddings", 64}, {"bos_token_id", nullptr}, {"eos_token_id", {7, 9}},
            {"n_inner", nullptr}, {"activation_function", "swish"}};
  Gpt2Config c = parse_gpt2_config(j, "config.json");
  EXPECT_EQ(c.n_embd, 32);
  EXPECT_EQ(c.n_head, 2);
  EXPECT_EQ(c.n_layer, 3);
  EXPECT_EQ(c.n_positions, 64);
  EXPECT_EQ(c.bos_token_id, -1);
  EXPECT_EQ(c.eos_token_id, 7);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int>{7, 9}));
  EXPECT_EQ(c.activation_function, "silu");
  json out = c.to_json();
  EXPECT_EQ(out["bos_token_id"], nullptr);
  EXPECT_EQ(out["eos_token_id"], json::array({7, 9}));
  // Both spellings with different values are ambiguous.
  j["n_embd"] = 64;
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "n_embd", "hidden_size"});
}

TEST(IoConfig, RejectsMalformedConfigJson) {
  TempDir d;
  write_file(d.file("config.json"), "{\n  \"n_head\": 12,\n  \"n_embd\": }\n");
  expect_error([&] { load_gpt2_config(d.file("config.json")); },
               {"config.json", "malformed JSON", "line 3", "column"});
  expect_error([&] { load_gpt2_config(d.file("absent.json")); }, {"absent.json", "not found"});
  write_file(d.file("config.json"), "[1]");
  expect_error([&] { load_gpt2_config(d.file("config.json")); }, {"config.json", "object"});
}

TEST(IoConfig, RejectsWrongFieldType) {
  json j = gpt2_json();
  j["n_head"] = "twelve";
  expect_error([&] { parse_gpt2_config(j, "config.json"); },
               {"config.json: field \"n_head\" must be a positive integer, got \"twelve\""});
  j = gpt2_json();
  j["n_layer"] = 0;
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "\"n_layer\"", "positive integer"});
  j = gpt2_json();
  j["n_embd"] = 64.5;
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "\"n_embd\"", "64.5"});
  j = gpt2_json();
  j["vocab_size"] = 1e12;
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "\"vocab_size\""});
  j = gpt2_json();
  j["n_positions"] = 4294967297;
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "\"n_positions\""});
  j = gpt2_json();
  j["layer_norm_epsilon"] = "1e-5";
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "\"layer_norm_epsilon\""});
  j = gpt2_json();
  j["scale_attn_weights"] = 1;
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "\"scale_attn_weights\""});
  j = gpt2_json();
  j["eos_token_id"] = -3;
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "\"eos_token_id\""});
  j = gpt2_json();
  j["activation_function"] = "quick_gelu";
  expect_error([&] { parse_gpt2_config(j, "config.json"); },
               {"config.json", "\"activation_function\"", "quick_gelu", "not supported"});
  j["activation_function"] = "gelu_neww";
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "\"activation_function\"", "unknown"});
  j = gpt2_json();
  j["add_cross_attention"] = true;
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "add_cross_attention"});
}

TEST(IoConfig, RejectsIndivisibleHeads) {
  json j = gpt2_json();
  j["n_embd"] = 65;
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "\"n_embd\" (65)", "\"n_head\" (4)"});
}

TEST(IoConfig, RejectsWrongModelType) {
  json j = gpt2_json();
  j["model_type"] = "llama";
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "\"model_type\"", "llama", "gpt2"});
  j.erase("model_type");
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "model_type"});
  j["model_type"] = 2;
  expect_error([&] { parse_gpt2_config(j, "config.json"); }, {"config.json", "model_type"});
}

TEST(IoConfig, GenerationDefaults) {
  TempDir d;
  EXPECT_EQ(load_generation_defaults(d.file("generation_config.json")), json::object());
  write_file(d.file("generation_config.json"), R"({"bos_token_id": 50256, "eos_token_id": 50256})");
  EXPECT_EQ(load_generation_defaults(d.file("generation_config.json"))["eos_token_id"], 50256);
  write_file(d.file("generation_config.json"), "[]");
  expect_error([&] { load_generation_defaults(d.file("generation_config.json")); },
               {"generation_config.json", "object"});
  write_file(d.file("generation_config.json"), "{,}");
  expect_error([&] { load_generation_defaults(d.file("generation_config.json")); },
               {"generation_config.json", "malformed JSON"});
}

}  // namespace
}  // namespace jitgen::io
