// Tokenizer vs the HF oracle (tests/fixtures/tokenizer_goldens.json from scripts/goldens_tokenizer.py),
// both loading paths, and one-line errors for bad files.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "jitgen/error.h"
#include "jitgen/tokenizer.h"
#include "test_support.h"

namespace jitgen {
namespace {

using nlohmann::json;
using test::TempDir;
using test::write_file;

const std::string kTokDir = test::source_dir() + "/third_party/gpt2-tokenizer";

const Tokenizer& gpt2() {
  static const Tokenizer t = Tokenizer::builtin_gpt2();
  return t;
}

const json& goldens() {
  static const json j = test::load_fixture("tokenizer_goldens.json");
  return j;
}

// tokenizer.json written from the vendored vocab/merges, in the layout HF save_pretrained produces.
json make_tokenizer_json(bool merges_as_pairs) {
  json vocab = json::parse(test::read_file(kTokDir + "/vocab.json"));
  std::string merges_txt = test::read_file(kTokDir + "/merges.txt");
  json merges = json::array();
  size_t pos = 0;
  while (pos < merges_txt.size()) {
    size_t nl = merges_txt.find('\n', pos);
    std::string line = merges_txt.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? merges_txt.size() : nl + 1;
    if (line.empty() || line.starts_with("#version")) continue;
    size_t sp = line.find(' ');
    if (merges_as_pairs) {
      merges.push_back(json::array({line.substr(0, sp), line.substr(sp + 1)}));
    } else {
      merges.push_back(line);
    }
  }
  return json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", json::array({{{"id", 50256}, {"content", "<|endoftext|>"}, {"single_word", false},
                                     {"lstrip", false}, {"rstrip", false}, {"normalized", true}, {"special", true}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
                 {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", vocab},
                 {"merges", merges}}},
  };
}

std::vector<int32_t> ids_of(const json& j) { return j.get<std::vector<int32_t>>(); }

// Runs fn and returns the jitgen::Error message; fails the test when nothing (or another type) is thrown.
template <typename Fn>
std::string error_of(Fn&& fn, ErrorCode want = ErrorCode::kInvalidFile) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), want) << e.what();
    std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << "multi-line message: " << m;
    return m;
  }
  ADD_FAILURE() << "no jitgen::Error thrown";
  return "";
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

// ------------------------------------------------------------------------------------------ goldens

TEST(TokenizerGolden, EncodeMatchesHfOnEveryText) {
  const json& g = goldens();
  ASSERT_GE(g["encode"].size(), 300u);
  int mismatches = 0;
  for (const json& c : g["encode"]) {
    const std::string text = c["text"];
    auto got = gpt2().encode(text);
    auto want = ids_of(c["ids"]);
    if (got != want) {
      ++mismatches;
      ADD_FAILURE() << "text " << json(text).dump() << "\n got  " << json(got).dump() << "\n want " << json(want).dump();
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(TokenizerGolden, SlowFastDisagreementsAreDocumented) {
  // The fixture lists where the pure-Python GPT-2 tokenizer disagrees with the fast one; we follow fast.
  for (const json& d : goldens()["disagreements"]) {
    EXPECT_EQ(gpt2().encode(d["text"].get<std::string>()), ids_of(d["fast"]));
  }
}

TEST(TokenizerGolden, DecodeMatchesHf) {
  const json& g = goldens();
  ASSERT_GT(g["decode"].size(), 100u);
  for (const json& c : g["decode"]) {
    auto ids = ids_of(c["ids"]);
    EXPECT_EQ(gpt2().decode(ids, c["skip_special_tokens"].get<bool>()), c["text"].get<std::string>())
        << "ids " << c["ids"].dump();
  }
}

TEST(TokenizerGolden, RoundTripOnValidText) {
  for (const json& c : goldens()["encode"]) {
    const std::string text = c["text"];
    EXPECT_EQ(gpt2().decode(gpt2().encode(text)), text);
  }
}

BatchEncodeOptions options_of(const json& c) {
  BatchEncodeOptions o;
  o.padding = true;
  o.padding_side = c["padding_side"] == "left" ? PaddingSide::kLeft : PaddingSide::kRight;
  o.pad_to_multiple_of = c["pad_to_multiple_of"];
  if (!c["max_length"].is_null()) o.max_length = c["max_length"].get<int>();
  o.truncation_side = c["truncation_side"] == "left" ? PaddingSide::kLeft : PaddingSide::kRight;
  return o;
}

TEST(TokenizerGolden, BatchMatchesHf) {
  const json& g = goldens();
  ASSERT_GT(g["batch"].size(), 10u);
  for (const json& c : g["batch"]) {
    BatchEncodeOptions o = options_of(c);
    // pad_token_id left unset: the default (pad, then eos = <|endoftext|>) is what the oracle used.
    ASSERT_EQ(c["pad_token_id"].get<int>(), 50256);
    BatchEncoding e = gpt2().encode_batch(c["texts"].get<std::vector<std::string>>(), o);
    EXPECT_EQ(json(e.input_ids), c["input_ids"]) << c.dump();
    EXPECT_EQ(json(e.attention_mask), c["attention_mask"]) << c.dump();
  }
}

// ------------------------------------------------------------------------------------------ behavior

TEST(TokenizerEncode, BasicsAndSpecialTokens) {
  const Tokenizer& t = gpt2();
  EXPECT_EQ(t.vocab_size(), 50257);
  EXPECT_EQ(t.eos_token_id(), 50256);
  EXPECT_EQ(t.pad_token_id(), std::nullopt);
  EXPECT_EQ(t.encode("Hello world"), (std::vector<int32_t>{15496, 995}));
  EXPECT_EQ(t.encode("a<|endoftext|>b"), (std::vector<int32_t>{64, 50256, 65}));
  EXPECT_TRUE(t.encode("").empty());
  EXPECT_EQ(t.token_to_id("Hello"), 15496);
  EXPECT_EQ(t.token_to_id("<|endoftext|>"), 50256);
  EXPECT_EQ(t.token_to_id("no-such-token-xyz"), std::nullopt);
  EXPECT_EQ(t.id_to_token(995), "\xC4\xA0world");  // "Ġworld"
  EXPECT_EQ(t.token_bytes(995), " world");
  EXPECT_EQ(t.token_bytes(50256), "<|endoftext|>");
  EXPECT_TRUE(t.is_special_token(50256));
  EXPECT_FALSE(t.is_special_token(995));
  EXPECT_EQ(t.decode({64, 50256, 65}, /*skip_special_tokens=*/true), "ab");
}

TEST(TokenizerEncode, InvalidUtf8IsReplacedLikePythonDecodeReplace) {
  const Tokenizer& t = gpt2();
  // What HF encodes for b"...".decode("utf-8", errors="replace").
  EXPECT_EQ(t.encode("a\xFF" "b"), t.encode("a\xEF\xBF\xBD" "b"));
  // Truncated 3-byte sequence = one maximal subpart = one U+FFFD.
  EXPECT_EQ(t.encode("x\xE2\x82 y"), t.encode("x\xEF\xBF\xBD y"));
  // Overlong / surrogate: every byte is its own subpart.
  EXPECT_EQ(t.encode("\xC0\xAF"), t.encode("\xEF\xBF\xBD\xEF\xBF\xBD"));
  EXPECT_EQ(t.encode("\xED\xA0\x80"), t.encode("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
  std::string with_nul("a\0b", 3);
  EXPECT_EQ(t.encode(with_nul).size(), 3u);
}

TEST(TokenizerEncode, LongWordsUseTheHeapPathConsistently) {
  const Tokenizer& t = gpt2();
  // Words longer than the linear-scan limit; decode must give the text back and a repeat must hit the cache.
  for (std::string w : {std::string(1000, 'a'), std::string(300, ' ') + "x", std::string(600, '\n')}) {
    auto ids = t.encode(w);
    EXPECT_EQ(t.decode(ids), w);
    EXPECT_EQ(t.encode(w), ids);
  }
  std::string big;
  for (int i = 0; i < 2000; ++i) big += "abcdefghij";
  EXPECT_EQ(t.decode(t.encode(big)), big);
}

TEST(TokenizerEncode, ThreadSafe) {
  const Tokenizer& t = gpt2();
  const json& g = goldens();
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (const json& c : g["encode"]) {
        if (t.encode(c["text"].get<std::string>()) != ids_of(c["ids"])) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(TokenizerDecode, OutOfVocabularyIdIsAnError) {
  std::string m = error_of([] { gpt2().decode({15496, 50257}); }, ErrorCode::kInvalidArgument);
  EXPECT_HAS(m, "50257");
  EXPECT_HAS(m, "expected 0 <= id < 50257");
  error_of([] { gpt2().decode({-1}); }, ErrorCode::kInvalidArgument);
  error_of([] { gpt2().id_to_token(99999); }, ErrorCode::kInvalidArgument);
  error_of([] { gpt2().token_bytes(-3); }, ErrorCode::kInvalidArgument);
}

TEST(TokenizerBatch, OptionsAndErrors) {
  const Tokenizer& t = gpt2();
  BatchEncodeOptions o;
  o.padding = false;
  BatchEncoding e = t.encode_batch({"a b c", "x"}, o);
  EXPECT_EQ(e.input_ids[0].size(), 3u);
  EXPECT_EQ(e.input_ids[1].size(), 1u);
  EXPECT_EQ(e.attention_mask[1], (std::vector<int32_t>{1}));
  o = {};
  o.padding_side = PaddingSide::kRight;
  o.pad_token_id = 0;
  e = t.encode_batch({"a b c", "x"}, o);
  EXPECT_EQ(e.input_ids[1], (std::vector<int32_t>{87, 0, 0}));
  EXPECT_EQ(e.attention_mask[1], (std::vector<int32_t>{1, 0, 0}));
  o = {};
  o.max_length = 5;
  o.pad_to_multiple_of = 8;
  EXPECT_HAS(error_of([&] { t.encode_batch({"a"}, o); }, ErrorCode::kInvalidArgument), "multiple of pad_to_multiple_of 8");
  o = {};
  o.pad_to_multiple_of = -1;
  error_of([&] { t.encode_batch({"a"}, o); }, ErrorCode::kInvalidArgument);
}

// ------------------------------------------------------------------------------------------ loading

TEST(TokenizerLoad, AllPathsAgree) {
  TempDir d;
  write_file(d.file("tokenizer.json"), make_tokenizer_json(/*merges_as_pairs=*/false).dump());
  Tokenizer from_json = Tokenizer::from_tokenizer_json(d.file("tokenizer.json"));
  TempDir d2;
  write_file(d2.file("tokenizer.json"), make_tokenizer_json(/*merges_as_pairs=*/true).dump());
  Tokenizer from_dir_json = Tokenizer::from_dir(d2.path());
  Tokenizer from_dir_vm = Tokenizer::from_dir(kTokDir);
  Tokenizer from_vm = Tokenizer::from_vocab_merges(kTokDir + "/vocab.json", kTokDir + "/merges.txt");
  for (const json& c : goldens()["encode"]) {
    const std::string text = c["text"];
    auto want = ids_of(c["ids"]);
    ASSERT_EQ(from_json.encode(text), want) << json(text).dump();
    ASSERT_EQ(from_dir_json.encode(text), want) << json(text).dump();
    ASSERT_EQ(from_dir_vm.encode(text), want) << json(text).dump();
    ASSERT_EQ(from_vm.encode(text), want) << json(text).dump();
  }
  EXPECT_EQ(from_json.vocab_size(), 50257);
  EXPECT_TRUE(from_json.is_special_token(50256));
  EXPECT_EQ(from_json.decode({64, 50256, 65}, true), "ab");
}

TEST(TokenizerLoad, TokenizerJsonPadIdAndAddedTokenOptions) {
  json j = make_tokenizer_json(false);
  j["padding"] = {{"strategy", "BatchLongest"}, {"direction", "Right"}, {"pad_id", 50256}, {"pad_token", "<|endoftext|>"}};
  // An extra added token beyond the model vocabulary with lstrip/rstrip, like HF's AddedToken options.
  j["added_tokens"].push_back({{"id", 50257}, {"content", "<x>"}, {"lstrip", true}, {"rstrip", true}, {"special", true}});
  j["added_tokens"].push_back({{"id", 50258}, {"content", " hi\n"}, {"special", false}});
  TempDir d;
  write_file(d.file("tokenizer.json"), j.dump());
  Tokenizer t = Tokenizer::from_dir(d.path());
  EXPECT_EQ(t.pad_token_id(), 50256);
  EXPECT_EQ(t.vocab_size(), 50259);
  // Matches tokenizers 0.23: 'a  <x>  b' -> [64, 50257, 65]; ' hi\n' decodes to itself.
  EXPECT_EQ(t.encode("a  <x>  b"), (std::vector<int32_t>{64, 50257, 65}));
  EXPECT_EQ(t.encode("b hi\nc"), (std::vector<int32_t>{65, 50258, 66}));
  EXPECT_EQ(t.decode({65, 50258, 66}), "b hi\nc");
  EXPECT_EQ(t.decode({64, 50257, 65}, true), "ab");
  BatchEncoding e = t.encode_batch({"a", "a b"});
  EXPECT_EQ(e.input_ids[0], (std::vector<int32_t>{50256, 64}));
}

TEST(TokenizerLoad, MissingFiles) {
  TempDir d;
  std::string m = error_of([&] { Tokenizer::from_dir(d.path()); });
  EXPECT_HAS(m, d.path());
  EXPECT_HAS(m, "expected tokenizer.json, tokenizer.model, or vocab.json and merges.txt");
  m = error_of([&] { Tokenizer::from_vocab_merges(d.file("vocab.json"), kTokDir + "/merges.txt"); });
  EXPECT_HAS(m, d.file("vocab.json"));
  EXPECT_HAS(m, "cannot open");
  m = error_of([&] { Tokenizer::from_tokenizer_json(d.file("tokenizer.json")); });
  EXPECT_HAS(m, d.file("tokenizer.json"));
}

TEST(TokenizerLoad, MalformedJson) {
  TempDir d;
  write_file(d.file("vocab.json"), "{\"a\": 1,,}");
  write_file(d.file("tokenizer.json"), "[1, 2");
  std::string m = error_of([&] { Tokenizer::from_vocab_merges(d.file("vocab.json"), kTokDir + "/merges.txt"); });
  EXPECT_HAS(m, d.file("vocab.json") + ": malformed JSON");
  m = error_of([&] { Tokenizer::from_tokenizer_json(d.file("tokenizer.json")); });
  EXPECT_HAS(m, d.file("tokenizer.json") + ": malformed JSON");
}

TEST(TokenizerLoad, VocabNotAnObject) {
  TempDir d;
  write_file(d.file("vocab.json"), "[\"a\", \"b\"]");
  std::string m = error_of([&] { Tokenizer::from_vocab_merges(d.file("vocab.json"), kTokDir + "/merges.txt"); });
  EXPECT_HAS(m, d.file("vocab.json"));
  EXPECT_HAS(m, "is a JSON array (expected an object of token -> id)");
  write_file(d.file("vocab.json"), "{\"a\": \"one\"}");
  m = error_of([&] { Tokenizer::from_vocab_merges(d.file("vocab.json"), kTokDir + "/merges.txt"); });
  EXPECT_HAS(m, "'a' has id \"one\" (expected a non-negative integer)");
  json j = make_tokenizer_json(false);
  j["model"]["vocab"] = 3;
  write_file(d.file("tokenizer.json"), j.dump());
  m = error_of([&] { Tokenizer::from_tokenizer_json(d.file("tokenizer.json")); });
  EXPECT_HAS(m, "model.vocab is a JSON number (expected an object");
}

TEST(TokenizerLoad, MergesLineMalformed) {
  TempDir d;
  std::string merges = test::read_file(kTokDir + "/merges.txt");
  write_file(d.file("merges.txt"), "#version: 0.2\n\xC4\xA0 t\nonlyonetoken\n");
  std::string m = error_of([&] { Tokenizer::from_vocab_merges(kTokDir + "/vocab.json", d.file("merges.txt")); });
  EXPECT_HAS(m, d.file("merges.txt") + ": line 3 'onlyonetoken' is malformed (expected two tokens separated by one space)");
  write_file(d.file("merges.txt"), "a b c\n");
  m = error_of([&] { Tokenizer::from_vocab_merges(kTokDir + "/vocab.json", d.file("merges.txt")); });
  EXPECT_HAS(m, "line 1 'a b c' is malformed");
  json j = make_tokenizer_json(false);
  j["model"]["merges"][2] = 7;
  write_file(d.file("tokenizer.json"), j.dump());
  m = error_of([&] { Tokenizer::from_tokenizer_json(d.file("tokenizer.json")); });
  EXPECT_HAS(m, "model.merges[2] 7 is malformed");
}

TEST(TokenizerLoad, MergeReferencesTokenMissingFromVocab) {
  TempDir d;
  write_file(d.file("merges.txt"), "#version: 0.2\n\xC4\xA0 t\nzzzq9 x\n");
  std::string m = error_of([&] { Tokenizer::from_vocab_merges(kTokDir + "/vocab.json", d.file("merges.txt")); });
  EXPECT_HAS(m, d.file("merges.txt") + ": merge 3 'zzzq9 x' uses token 'zzzq9' that is not in " + kTokDir + "/vocab.json");
  EXPECT_HAS(m, "expected vocabulary and merges from the same tokenizer");
  // Both parts exist but the merged token does not.
  write_file(d.file("merges.txt"), "q z\n");
  m = error_of([&] { Tokenizer::from_vocab_merges(kTokDir + "/vocab.json", d.file("merges.txt")); });
  EXPECT_HAS(m, "uses token 'qz' that is not in");
}

TEST(TokenizerLoad, TokenizerJsonUnknownComponentTypes) {
  TempDir d;
  auto load_error = [&](const json& j) {
    write_file(d.file("tokenizer.json"), j.dump());
    return error_of([&] { Tokenizer::from_tokenizer_json(d.file("tokenizer.json")); });
  };
  json j = make_tokenizer_json(false);
  j["model"]["type"] = "Bigram";
  std::string m = load_error(j);
  EXPECT_HAS(m, d.file("tokenizer.json") + ": model.type is \"Bigram\" (expected one of \"BPE\", \"Unigram\", \"WordPiece\" or \"WordLevel\")");
  j = make_tokenizer_json(false);
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "ByteLevel"}}, {{"type", "Whitespacey"}}}}};
  EXPECT_HAS(load_error(j), "pre_tokenizer.pretokenizers[1].type is \"Whitespacey\" (expected one of \"ByteLevel\", \"Split\"");
  j = make_tokenizer_json(false);
  j["normalizer"] = {{"type", "NFX"}};
  EXPECT_HAS(load_error(j), "normalizer.type is \"NFX\" (expected one of \"NFC\"");
  j = make_tokenizer_json(false);
  j["decoder"] = {{"type", "Sequence"}, {"decoders", {{{"type", "Fuse"}}, {{"type", "Glue"}}}}};
  EXPECT_HAS(load_error(j), "decoder.decoders[1].type is \"Glue\" (expected one of \"ByteLevel\"");
  j = make_tokenizer_json(false);
  j["post_processor"] = {{"type", "Templat"}};
  EXPECT_HAS(load_error(j), "post_processor.type is \"Templat\" (expected one of \"TemplateProcessing\"");
  j = make_tokenizer_json(false);
  j["added_tokens"][0]["id"] = 5;
  EXPECT_HAS(load_error(j), "'<|endoftext|>' has id 5 but model.vocab gives 50256");
}

TEST(TokenizerLoad, TokenizerJsonBadFieldsNameComponentAndField) {
  TempDir d;
  auto load_error = [&](const json& j) {
    write_file(d.file("tokenizer.json"), j.dump());
    return error_of([&] { Tokenizer::from_tokenizer_json(d.file("tokenizer.json")); });
  };
  json j = make_tokenizer_json(false);
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(?i:'s|[a-z"}}}, {"behavior", "Isolated"}};
  std::string m = load_error(j);
  EXPECT_HAS(m, "pre_tokenizer.pattern \"(?i:'s|[a-z\" does not compile (");
  EXPECT_HAS(m, "expected a valid regex)");
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\s+"}}}, {"behavior", "Dropped"}};
  EXPECT_HAS(load_error(j), "pre_tokenizer.behavior is \"Dropped\" (expected \"Removed\", \"Isolated\"");
  j = make_tokenizer_json(false);
  j["model"]["unk_token"] = "<unk>";
  EXPECT_HAS(load_error(j), "model.unk_token '<unk>' is not in the vocabulary (expected one of its tokens, or null)");
  j = make_tokenizer_json(false);
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"Regex", "a("}}}, {"content", "b"}};
  EXPECT_HAS(load_error(j), "normalizer.pattern \"a(\" does not compile");
  j["normalizer"] = {{"type", "Prepend"}};
  EXPECT_HAS(load_error(j), "normalizer.prepend is missing (expected a string)");
  j = make_tokenizer_json(false);
  j["decoder"] = {{"type", "Strip"}, {"content", "ab"}, {"start", 1}, {"stop", 0}};
  EXPECT_HAS(load_error(j), "decoder.content is \"ab\" (expected a one-character string)");
  j = make_tokenizer_json(false);
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}}}}}},
                         {"special_tokens", json::object()}};
  EXPECT_HAS(load_error(j), "post_processor.single[0].SpecialToken names special token \"<s>\" that post_processor.special_tokens does not define");
  j = make_tokenizer_json(false);
  j["model"] = {{"type", "Unigram"}, {"unk_id", 5}, {"vocab", json::array({json::array({"a", 0.0}), json::array({"b", -1.0})})}};
  EXPECT_HAS(load_error(j), "model.unk_id is 5 (expected an index into model.vocab, or null)");
  j["model"] = {{"type", "Unigram"}, {"vocab", json::array({json::array({"a", "x"})})}};
  EXPECT_HAS(load_error(j), "model.vocab[0] is [\"a\",\"x\"] (expected [piece, score])");
  j["model"] = {{"type", "WordPiece"}, {"vocab", {{"a", 0}}}, {"unk_token", "[UNK]"}};
  EXPECT_HAS(load_error(j), "model.unk_token '[UNK]' is not in model.vocab (expected one of its tokens)");
}

TEST(TokenizerLoad, BuiltinSha256Mismatch) {
  TempDir d;
  std::string vocab = test::read_file(kTokDir + "/vocab.json");
  write_file(d.file("merges.txt"), test::read_file(kTokDir + "/merges.txt"));
  write_file(d.file("vocab.json"), vocab);
  EXPECT_NO_THROW(Tokenizer::builtin_gpt2(d.path()));
  vocab[vocab.size() - 2] = vocab[vocab.size() - 2] == '6' ? '7' : '6';  // still valid JSON
  write_file(d.file("vocab.json"), vocab);
  std::string m = error_of([&] { Tokenizer::builtin_gpt2(d.path()); });
  EXPECT_HAS(m, d.file("vocab.json") + ": sha256 is ");
  EXPECT_HAS(m, "(expected 196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783");
}

}  // namespace
}  // namespace jitgen
