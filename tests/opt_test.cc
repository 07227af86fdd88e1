// OPT beyond its HF goldens (family_goldens_test.cc): checkpoints without the "model." prefix load as HF loads them,
// the presets carry the real models' shapes, and bad input gives one line naming the file / field / expectation.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/safetensors.h"
#include "jitgen/error.h"
#include "jitgen/model.h"
#include "models/opt/config.h"
#include "test_support.h"

namespace jitgen {
namespace {

using nlohmann::json;

std::string make_opt(const test::TempDir& tmp, const std::string& name, const std::string& args) {
  const std::string dir = tmp.file(name);
  const auto r = test::run_cli("make-model --out '" + dir + "' --family opt " + args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir;
}

// facebook/opt-* checkpoints were saved from OPTModel: "decoder.layers.0..." without "model."; HF adds the prefix
// at load (base_model_prefix), and a stored lm_head.weight of a tied model is ignored.
TEST(Opt, CheckpointWithoutModelPrefixGivesTheSameLogits) {
  test::TempDir tmp;
  const std::string a = make_opt(tmp, "a", "--config opt-tiny-postln --n-layer 2 --seed 5");
  const std::string b = tmp.file("b");
  std::filesystem::copy(a, b);
  std::vector<std::pair<std::string, Tensor>> renamed;
  {
    const io::Checkpoint ckpt = io::Checkpoint::open_dir(a);
    for (const std::string& n : ckpt.names()) {
      ASSERT_EQ(n.rfind("model.decoder.", 0), 0u) << n;
      renamed.emplace_back(n.substr(6), ckpt.find(n)->tensor.to_f32());
    }
    Tensor junk = Tensor::zeros({1000, 32});  // a tied model's stored head: HF's tie_weights() overrides it
    renamed.emplace_back("lm_head.weight", junk);
  }
  io::write_safetensors(b + "/model.safetensors", renamed);
  const Model ma = Model::from_dir(a), mb = Model::from_dir(b);
  const std::vector<std::vector<int32_t>> ids = {{5, 17, 300, 999, 4, 8}};
  for (ExecutionMode mode : {ExecutionMode::kEager, ExecutionMode::kCompiled})
    EXPECT_EQ(ma.forward_logits(ids, {}, mode), mb.forward_logits(ids, {}, mode));
}

TEST(Opt, PresetsHaveTheRealShapes) {
  test::TempDir tmp;
  // One layer and a small vocabulary keep the folders small; the rest is the preset.
  const json c125 = json::parse(test::read_file(make_opt(tmp, "125", "--config opt-125m --n-layer 1 --vocab-size 64") +
                                                "/config.json"));
  EXPECT_EQ(c125["hidden_size"], 768);
  EXPECT_EQ(c125["ffn_dim"], 3072);
  EXPECT_EQ(c125["num_attention_heads"], 12);
  EXPECT_EQ(c125["word_embed_proj_dim"], 768);
  EXPECT_EQ(c125["max_position_embeddings"], 2048);
  EXPECT_EQ(c125["do_layer_norm_before"], true);
  const json c350 = json::parse(test::read_file(make_opt(tmp, "350", "--config opt-350m --n-layer 1 --vocab-size 64 --n-positions 64") +
                                                "/config.json"));
  EXPECT_EQ(c350["hidden_size"], 1024);
  EXPECT_EQ(c350["ffn_dim"], 4096);
  EXPECT_EQ(c350["num_attention_heads"], 16);
  EXPECT_EQ(c350["word_embed_proj_dim"], 512);
  EXPECT_EQ(c350["do_layer_norm_before"], false);
  const Model m = Model::from_dir(tmp.file("350"));
  EXPECT_EQ(m.info().model_type, "opt");
  EXPECT_EQ(m.info().n_kv_head, 16);
}

void expect_error(const std::function<void()>& f, ErrorCode code, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code);
    const std::string what = e.what();
    for (const std::string& s : fragments) EXPECT_NE(what.find(s), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(OptErrors, ConfigNamesTheFieldAndTheExpectation) {
  auto parse = [](const char* text) { return [=] { (void)opt::parse_opt_config(json::parse(text), "m/config.json"); }; };
  expect_error(parse(R"({"model_type": "opt", "hidden_size": 64, "num_attention_heads": 6})"),
               ErrorCode::kInvalidFile,
               {"m/config.json: field \"hidden_size\" (64) must be divisible by \"num_attention_heads\" (6)"});
  expect_error(parse(R"({"model_type": "opt", "ffn_dim": 0})"), ErrorCode::kInvalidFile,
               {"m/config.json: field \"ffn_dim\" must be a positive integer, got 0"});
  expect_error(parse(R"({"model_type": "opt", "do_layer_norm_before": "yes"})"), ErrorCode::kInvalidFile,
               {"field \"do_layer_norm_before\" must be true or false"});
  expect_error(parse(R"({"model_type": "opt", "activation_function": "mish"})"), ErrorCode::kInvalidFile,
               {"field \"activation_function\" \"mish\" is not supported"});
}

TEST(OptErrors, MissingTensorWrongShapeAndUntiedHeadNameTheFile) {
  test::TempDir tmp;
  const std::string dir = make_opt(tmp, "m", "--config opt-tiny --n-layer 1 --vocab-size 300");
  json cfg = json::parse(test::read_file(dir + "/config.json"));
  auto load_with = [&](const json& c) {
    test::write_file(dir + "/config.json", c.dump());
    return [dir] { (void)Model::from_dir(dir); };
  };
  json c = cfg;
  c["num_hidden_layers"] = 2;
  expect_error(load_with(c), ErrorCode::kInvalidFile,
               {"model.safetensors: missing tensor \"model.decoder.layers.1.self_attn.k_proj.weight\" (also looked "
                "for \"decoder.layers.1.self_attn.k_proj.weight\"; config.json: 2 layers"});
  c = cfg;
  c["ffn_dim"] = 96;
  expect_error(load_with(c), ErrorCode::kInvalidFile,
               {"model.safetensors: tensor \"model.decoder.layers.0.fc1.weight\" has shape [128, 64], expected "
                "[96, 64] from config.json"});
  c = cfg;
  c["tie_word_embeddings"] = false;
  expect_error(load_with(c), ErrorCode::kInvalidFile,
               {"missing tensor \"lm_head.weight\"", "tie_word_embeddings false"});
  c = cfg;
  c["word_embed_proj_dim"] = 32;  // project_in / project_out expected, and a narrower embedding
  expect_error(load_with(c), ErrorCode::kInvalidFile,
               {"tensor \"model.decoder.embed_tokens.weight\" has shape [300, 64], expected [300, 32]"});
}

TEST(OptErrors, MakeModelRefusesFewerKvHeads) {
  test::TempDir tmp;
  const auto r = test::run_cli("make-model --out '" + tmp.file("m") + "' --family opt --config opt-tiny --n-kv-head 2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--n-kv-head: OPT has as many key/value heads as query heads"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace jitgen
