// The jitgen CLI end to end: generate on the built-in default model kjv-llama-5m (batches, --json, --stream, --prompts-file,
// --pad-to-multiple-of), one-line errors with exit code 2 for every bad flag value, tokenize byte for byte.
#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "ops/cpu_kernels.h"
#include "test_support.h"

namespace jitgen {
namespace {

using nlohmann::json;

// stderr lines that are errors (the built-in model note is informational).
std::vector<std::string> error_lines(const std::string& err) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < err.size()) {
    size_t end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    const std::string line = err.substr(start, end - start);
    if (line.rfind("jitgen: no --model", 0) != 0 && !line.empty()) out.push_back(line);
    start = end + 1;
  }
  return out;
}

TEST(CliGenerate, DefaultModelIsTheKjvDemoModelWithANote) {
  const auto r = test::run_cli("generate --max-new-tokens 5 'In the beginning God'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("In the beginning God", 0), 0u) << r.out;
  EXPECT_NE(r.err.find("jitgen: no --model given: using the built-in kjv-llama-5m"), std::string::npos) << r.err;
  // The same model as the folder named explicitly or by its built-in name (no note then).
  const std::string args = " --json --max-new-tokens 8 'And the LORD said'";
  const auto dflt = test::run_cli("generate" + args);
  const auto by_name = test::run_cli("generate --model builtin:kjv-llama-5m" + args);
  const auto by_dir = test::run_cli("generate --model '" + test::source_dir() + "/models/kjv-llama-5m'" + args);
  ASSERT_EQ(by_name.exit_code, 0) << by_name.err;
  ASSERT_EQ(by_dir.exit_code, 0) << by_dir.err;
  EXPECT_EQ(by_name.err.find("no --model"), std::string::npos) << by_name.err;
  const json d = json::parse(dflt.out);
  EXPECT_EQ(d["sequences"][0]["ids"].size(), 8u);
  EXPECT_EQ(json::parse(by_name.out)["sequences"][0]["ids"], d["sequences"][0]["ids"]);
  EXPECT_EQ(json::parse(by_dir.out)["sequences"][0]["ids"], d["sequences"][0]["ids"]);
}

TEST(CliGenerate, RandomGpt2ByNameHasGpt2ShapesAndTokenizer) {
  const auto r = test::run_cli("generate --json --model builtin:random-gpt2 --max-new-tokens 5 'Hello'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["sequences"][0]["ids"].size(), 5u);
  EXPECT_EQ(r.err.find("no --model"), std::string::npos) << r.err;  // asked for by name
  const auto tok = test::run_cli("tokenize --model builtin:random-gpt2 'Hello world'");
  ASSERT_EQ(tok.exit_code, 0) << tok.err;
  EXPECT_EQ(tok.out, "15496 995\n");  // GPT-2's ids (HF GPT2Tokenizer)
}

TEST(CliGenerate, JsonBatchShapeAndEachPromptAlone) {
  const auto batch = test::run_cli("generate --json --max-new-tokens 6 'Hello there' 'A much longer prompt than that one'");
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  const json b = json::parse(batch.out);
  ASSERT_EQ(b["sequences"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const json& s = b["sequences"][i];
    EXPECT_EQ(s["prompt_index"], i);
    EXPECT_EQ(s["ids"].size(), 6u);
    EXPECT_TRUE(s["text"].is_string());
    EXPECT_TRUE(s["sequence_score"].is_null());
  }
  const auto alone = test::run_cli("generate --json --max-new-tokens 6 'Hello there'");
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_EQ(json::parse(alone.out)["sequences"][0]["ids"], b["sequences"][0]["ids"]);
  // pad_to_multiple_of changes the padded length, not the tokens.
  const auto padded = test::run_cli("generate --json --pad-to-multiple-of 8 --max-new-tokens 6 'Hello there' "
                                    "'A much longer prompt than that one'");
  ASSERT_EQ(padded.exit_code, 0) << padded.err;
  const json p = json::parse(padded.out);
  EXPECT_EQ(p["prompt_length"].get<int>() % 8, 0);
  EXPECT_EQ(p["sequences"][0]["ids"], b["sequences"][0]["ids"]);
  EXPECT_EQ(p["sequences"][1]["ids"], b["sequences"][1]["ids"]);
}

TEST(CliGenerate, BeamJsonHasSortedScoresAndTokenScores) {
  const auto r = test::run_cli(
      "generate --json --output-scores --num-beams 3 --num-return-sequences 2 --max-new-tokens 4 'Hello'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["sequences"].size(), 2u);
  EXPECT_GE(j["sequences"][0]["sequence_score"].get<double>(), j["sequences"][1]["sequence_score"].get<double>());
  EXPECT_EQ(j["sequences"][0]["scores"].size(), j["sequences"][0]["ids"].size());
}

TEST(CliGenerate, StreamPrintsTheSameTextAsPlainOutput) {
  const std::string args = " --max-new-tokens 12 --do-sample --seed 5,6 'Once upon a time'";
  const auto plain = test::run_cli("generate" + args);
  const auto stream = test::run_cli("generate --stream" + args);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(stream.exit_code, 0) << stream.err;
  EXPECT_EQ(stream.out, plain.out);
}

// --bad-words follows HF's GPT-2 recipe (the words' tokens with a leading space), so it runs on the GPT-2 tokenizer.
TEST(CliGenerate, BadWordsBanTheirTokens) {
  const std::string gpt2 = " --model builtin:random-gpt2";
  const auto first = test::run_cli("generate --json --max-new-tokens 6 'Hello'" + gpt2);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const int banned = json::parse(first.out)["sequences"][0]["ids"][0];
  const auto word = test::run_cli("tokenize --decode " + std::to_string(banned) + gpt2);
  ASSERT_EQ(word.out.rfind(" ", 0), 0u) << "expected a word token with a leading space: " << word.out;
  const auto r =
      test::run_cli("generate --json --max-new-tokens 6 --bad-words '" + word.out.substr(1) + "' 'Hello'" + gpt2);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);  // named: a range-for over a temporary's member would dangle
  for (const auto& id : out["sequences"][0]["ids"]) EXPECT_NE(id.get<int>(), banned);
  const auto ids = test::run_cli("generate --json --max-new-tokens 6 --bad-words-ids '" + std::to_string(banned) +
                                 "' 'Hello'" + gpt2);
  EXPECT_EQ(json::parse(ids.out)["sequences"][0]["ids"], json::parse(r.out)["sequences"][0]["ids"]);
}

// The newer HF processor flags reach the engine: suppressed ids never appear, forced EOS ends the row, and a
// sequence bias of -inf-like strength equals suppressing the token. (Token-exactness vs HF: generate_test.)
TEST(CliGenerate, ProcessorFlagsReachTheEngine) {
  const auto first = test::run_cli("generate --json --max-new-tokens 6 'Hello'");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const json f = json::parse(first.out);
  const int a = f["sequences"][0]["ids"][0], b = f["sequences"][0]["ids"][1];
  const std::string ab = std::to_string(a) + "," + std::to_string(b);
  const auto sup = test::run_cli("generate --json --max-new-tokens 6 --suppress-tokens " + ab + " 'Hello'");
  ASSERT_EQ(sup.exit_code, 0) << sup.err;
  const json s = json::parse(sup.out);
  for (const auto& id : s["sequences"][0]["ids"]) EXPECT_TRUE(id.get<int>() != a && id.get<int>() != b) << sup.out;
  const auto bias = test::run_cli("generate --json --max-new-tokens 6 --sequence-bias '[[[" + std::to_string(a) +
                                  "], -1e30], [[" + std::to_string(b) + "], -1e30]]' 'Hello'");
  ASSERT_EQ(bias.exit_code, 0) << bias.err;
  EXPECT_EQ(json::parse(bias.out)["sequences"][0]["ids"], s["sequences"][0]["ids"]);
  const auto eos = test::run_cli("generate --json --max-new-tokens 4 --forced-eos-token-id 7 --renormalize-logits 'Hello'");
  ASSERT_EQ(eos.exit_code, 0) << eos.err;
  EXPECT_EQ(json::parse(eos.out)["sequences"][0]["ids"].back(), 7) << eos.out;
}

TEST(CliGenerate, PromptsFileWithEscapes) {
  test::TempDir tmp;
  test::write_file(tmp.file("p.txt"), "first\\nline two\r\nback\\\\slash\n");
  const auto r = test::run_cli("generate --json --max-new-tokens 2 --prompts-file '" + tmp.file("p.txt") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["sequences"].size(), 2u);
  EXPECT_EQ(j["sequences"][0]["prompt"], "first\nline two");
  EXPECT_EQ(j["sequences"][1]["prompt"], "back\\slash");
}

TEST(CliGenerate, EveryBadFlagValueIsAOneLineErrorNamingTheOption) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--max-new-tokens x", "--max-new-tokens"},
      {"--max-new-tokens 0", "--max-new-tokens"},
      {"--temperature -1", "--temperature"},
      {"--temperature abc", "--temperature"},
      {"--top-k -3", "--top-k"},
      {"--top-p 0", "--top-p"},
      {"--top-p 1.5", "--top-p"},
      {"--min-p 2", "--min-p"},
      {"--typical-p 0", "--typical-p"},
      {"--repetition-penalty 0", "--repetition-penalty"},
      {"--no-repeat-ngram-size -1", "--no-repeat-ngram-size"},
      {"--num-beams 0", "--num-beams"},
      {"--num-beams 2 --num-return-sequences 3", "--num-return-sequences"},
      {"--num-return-sequences 2", "--num-return-sequences"},
      {"--length-penalty nan", "--length-penalty"},
      {"--early-stopping maybe", "--early-stopping"},
      {"--min-new-tokens -2", "--min-new-tokens"},
      {"--eos-token-id x", "--eos-token-id"},
      {"--pad-token-id -4", "--pad-token-id"},
      {"--seed 1,2,3", "--seed"},
      {"--seed -1", "--seed"},
      {"--stop ''", "--stop"},
      {"--bad-words-ids 'a b'", "--bad-words-ids"},
      {"--max-time 0", "--max-time"},
      {"--mode fast", "--mode"},
      {"--pad-to-multiple-of -1", "--pad-to-multiple-of"},
      {"--stream --num-beams 2", "--stream"},
      {"--top-k 1 --top-k 2", "--top-k"},
      {"--no-such-flag", "--no-such-flag"},
      {"--top-h 2", "--top-h"},
      {"--encoder-repetition-penalty 0", "--encoder-repetition-penalty"},
      {"--sequence-bias '[[1, 2]]'", "sequence_bias"},
      {"--sequence-bias 'not json'", "--sequence-bias"},
      {"--exponential-decay-length-penalty '[1]'", "exponential_decay_length_penalty"},
      {"--suppress-tokens x", "--suppress-tokens"},
      {"--forced-eos-token-id 1 --suppress-tokens 1", "forced_eos_token_id"},
  };
  for (const auto& [args, option] : cases) {
    const auto r = test::run_cli("generate " + args + " 'Hello'");
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    const auto lines = error_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << args << ": " << r.err;
    EXPECT_NE(lines[0].find(option), std::string::npos) << args << ": " << lines[0];
  }
}

// GPT-2's byte-level BPE (builtin:random-gpt2): ids from HF GPT2Tokenizer, and a byte-exact round trip.
TEST(CliTokenize, EncodeDecodeJsonAndStdinByteForByte) {
  const std::string gpt2 = " --model builtin:random-gpt2";
  const auto enc = test::run_cli("tokenize 'Hello world'" + gpt2);
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  EXPECT_EQ(enc.out, "15496 995\n");
  const auto js = test::run_cli("tokenize --json 'Hello world'" + gpt2);
  EXPECT_EQ(js.out, "[15496,995]\n");
  const auto dec = test::run_cli("tokenize --decode '15496 995'" + gpt2);
  EXPECT_EQ(dec.out, "Hello world");
  const auto decj = test::run_cli("tokenize --decode --json '[15496, 995]'" + gpt2);
  EXPECT_EQ(decj.out, "\"Hello world\"\n");
  // stdin, byte for byte: trailing newlines, CR, tabs and multi-byte UTF-8 survive the round trip.
  const std::string text = "line one\r\n\ttab caf\xc3\xa9 \xe2\x82\xac\n\n";
  const auto ids = test::run_cli("tokenize" + gpt2, text);
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  const auto back = test::run_cli("tokenize --decode" + gpt2, ids.out);
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(back.out, text);
  const auto bad = test::run_cli("tokenize --decode '1 x'" + gpt2);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--decode"), std::string::npos);
}

TEST(CliGenerate, CompiledIsTheDefaultAndMatchesEager) {
  const auto compiled = test::run_cli("generate --json --max-new-tokens 8 'Hello there' 'Another prompt'");
  const auto eager = test::run_cli("generate --json --mode eager --max-new-tokens 8 'Hello there' 'Another prompt'");
  ASSERT_EQ(compiled.exit_code, 0) << compiled.err;
  ASSERT_EQ(eager.exit_code, 0) << eager.err;
  EXPECT_EQ(compiled.out, eager.out);
}

TEST(CliGenerate, PlanCacheVerboseProfileAndDumpGraph) {
  test::TempDir dir;
  const std::string args = "generate --verbose --max-new-tokens 4 --plan-cache '" + dir.path() + "' 'Hello'";
  const auto first = test::run_cli(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.err.find("plans: 0 hit, 2 miss (0 from --plan-cache)"), std::string::npos) << first.err;
  const auto second = test::run_cli(args);
  EXPECT_NE(second.err.find("(2 from --plan-cache)"), std::string::npos) << second.err;
  EXPECT_EQ(first.out, second.out);

  const auto prof = test::run_cli("generate --profile --dump-graph --max-new-tokens 4 'Hello'");
  ASSERT_EQ(prof.exit_code, 0) << prof.err;
  EXPECT_NE(prof.err.find("outside kernels"), std::string::npos) << prof.err;
  EXPECT_NE(prof.err.find("attention"), std::string::npos);
  EXPECT_NE(prof.err.find("== plan cpu/f32/B=1/T=8/S=64/last"), std::string::npos) << prof.err;
  EXPECT_EQ(prof.out.find("== plan"), std::string::npos) << "reports stay off stdout";
}

TEST(CliBench, ReproducesThePostsExperimentsAndWritesJson) {
  test::TempDir dir;
  const auto r = test::run_cli("bench --no-grid --reps 0 --json '" + dir.file("bench.json") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(test::read_file(dir.file("bench.json")));
  std::map<std::string, std::string> cache;
  for (const auto& row : doc["results"]) cache[row["experiment"].get<std::string>() + "/" + row["mode"].get<std::string>()] = row["cache"];
  EXPECT_EQ(cache["2 greedy len 5 (exact lengths)/compiled"], "miss(1)");   // one plan per exact length
  EXPECT_EQ(cache["2 greedy len 5 (pad_to_multiple_of=8)/compiled"], "hit");  // the bucket is shared
  EXPECT_EQ(cache["3 num_beams=2 (new plan)/compiled"].substr(0, 4), "miss");
  EXPECT_EQ(cache["4 sample t=1.3 p=0.5 seed 2/compiled"], "hit");            // numeric options: no recompile
}

// --version names the SIMD target the kernels run on: the one this process (same CPU, same JITGEN_SIMD) runs.
TEST(CliVersion, NamesTheSimdTarget) {
  const auto r = test::run_cli("--version");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("jitgen 0."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::string("(SIMD target ") + cpu::simd_name() + ";"), std::string::npos) << r.out;
  for (const std::string& t : cpu::simd_targets()) EXPECT_NE(r.out.find(t), std::string::npos) << t;
}

}  // namespace
}  // namespace jitgen
