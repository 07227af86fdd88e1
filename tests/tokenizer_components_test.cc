// tokenizer.json components no family fixture uses (Split behaviors and invert, Punctuation, Digits,
// Whitespace, WhitespaceSplit, Replace / Strip / Prepend / Lowercase normalizers, Replace / Strip / Fuse
// decoders, WordPiece and WordLevel models) against HF tokenizers: tests/fixtures/tokenizers/components.json
// from scripts/make_component_fixtures.py holds each small pipeline and its ids and decodes on the corpus.
#include <gtest/gtest.h>

#include "jitgen/tokenizer.h"
#include "test_support.h"

namespace jitgen {
namespace {

using nlohmann::json;

const json& fixture() {
  static const json j = json::parse(test::read_file(test::fixture_path("tokenizers/components.json")));
  return j;
}

std::vector<std::string> variant_names() {
  std::vector<std::string> out;
  for (const json& v : fixture()["variants"]) out.push_back(v["name"]);
  return out;
}

class Component : public ::testing::TestWithParam<std::string> {};

TEST_P(Component, IdsAndDecodesMatchHf) {
  const json* variant = nullptr;
  for (const json& v : fixture()["variants"])
    if (v["name"] == GetParam()) variant = &v;
  ASSERT_NE(variant, nullptr);
  json doc;
  if (variant->contains("tokenizer")) {
    doc = (*variant)["tokenizer"];
  } else {
    doc = fixture()["base"];
    for (const auto& [k, c] : (*variant)["components"].items()) doc[k] = c;
  }
  test::TempDir dir;
  test::write_file(dir.file("tokenizer.json"), doc.dump());
  const Tokenizer tok = Tokenizer::from_tokenizer_json(dir.file("tokenizer.json"));
  const json& texts = fixture()["texts"];
  ASSERT_GE(texts.size(), 80u);  // every 7th text of the family corpus
  ASSERT_EQ((*variant)["cases"].size(), texts.size());
  int bad = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const json& c = (*variant)["cases"][i];
    const std::string text = texts[i];
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    const auto plain = c.contains("ids_plain") ? c["ids_plain"].get<std::vector<int32_t>>() : ids;
    const std::string want_dec = c.value("decode", text), want_skip = c.value("decode_skip", want_dec);
    const auto got = tok.encode(text), got_plain = tok.encode(text, false);
    const std::string dec = tok.decode(ids), dec_skip = tok.decode(ids, true);
    if (got != ids || got_plain != plain || dec != want_dec || dec_skip != want_skip) {
      if (++bad <= 10)
        ADD_FAILURE() << GetParam() << " text " << json(text).dump() << "\n ids  " << json(got).dump() << " want "
                      << json(ids).dump() << "\n plain " << json(got_plain).dump() << " want " << json(plain).dump()
                      << "\n decode " << json(dec).dump() << " want " << json(want_dec).dump() << "\n skip "
                      << json(dec_skip).dump() << " want " << json(want_skip).dump();
    }
  }
  EXPECT_EQ(bad, 0);
}

INSTANTIATE_TEST_SUITE_P(AllVariants, Component, ::testing::ValuesIn(variant_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace jitgen
