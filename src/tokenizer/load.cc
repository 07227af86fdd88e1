// tokenizer.json and vocab.json + merges.txt -> Pipeline.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "jitgen/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pipeline.h"

namespace jitgen::tokenizer {

using json = nlohmann::json;

std::string read_whole_file(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw_invalid_file(path + ": cannot open " + what + " (expected a readable file)");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw_invalid_file(path + ": read error");
  return ss.str();
}

json parse_json_file(const std::string& path, const char* what) {
  std::string bytes = read_whole_file(path, what);
  try {
    return json::parse(bytes);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers such as 1e999
    std::string msg = e.what();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    throw_invalid_file(path + ": malformed JSON (" + msg + ")");
  }
}

namespace {

std::string squote(std::string_view s) { return "'" + std::string(s) + "'"; }

AddedToken added_token_of(const Node& a, size_t i, const std::string& path) {
  const json& j = a.json();
  if (!j.is_object() || !j.contains("id") || !j["id"].is_number_integer() || j["id"].get<int64_t>() < 0 ||
      j["id"].get<int64_t>() > INT32_MAX || !j.contains("content") || !j["content"].is_string() ||
      j["content"].get<std::string>().empty()) {
    throw_invalid_file(path + ": added_tokens[" + std::to_string(i) + "] " + j.dump(-1, ' ', false, json::error_handler_t::replace) +
                       " is malformed (expected {\"id\": <int >= 0>, \"content\": <non-empty string>, ...})");
  }
  AddedToken t;
  t.id = static_cast<int32_t>(j["id"].get<int64_t>());
  t.content = j["content"].get<std::string>();
  t.special = a.flag("special", false);
  t.lstrip = a.flag("lstrip", false);
  t.rstrip = a.flag("rstrip", false);
  t.single_word = a.flag("single_word", false);
  t.normalized = a.flag("normalized", !t.special);
  return t;
}

}  // namespace

std::unique_ptr<Pipeline> load_tokenizer_json(const std::string& path) {
  return load_tokenizer_json_value(parse_json_file(path, "tokenizer.json"), path);
}

std::unique_ptr<Pipeline> load_tokenizer_json_value(const json& j, const std::string& path) {
  if (!j.is_object()) throw_invalid_file(path + ": top-level value is a JSON " + std::string(j.type_name()) + " (expected an object)");
  auto p = std::make_unique<Pipeline>();
  p->source = path;
  Node root(j, path, "");
  auto child = [&](const char* key) -> std::optional<Node> {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    return Node(*it, path, key);
  };
  auto model = child("model");
  if (!model || !model->json().is_object())
    throw_invalid_file(path + ": field 'model' is missing (expected an object with type \"BPE\", \"Unigram\", \"WordPiece\" or \"WordLevel\")");
  StringIdMap vocab;
  p->model = make_model(*model, &vocab);
  p->model_is_bpe = !model->get("type") || model->str("type", "") == "BPE";
  if (auto n = child("normalizer")) p->normalizer = make_normalizer(*n);
  if (auto n = child("pre_tokenizer")) p->pre_tokenizer = make_pre_tokenizer(*n);
  if (auto n = child("post_processor")) p->post_processor = make_post_processor(*n, vocab);
  if (auto n = child("decoder")) p->decoder = make_decoder(*n);
  if (auto added = child("added_tokens")) {
    if (!added->json().is_array()) throw_invalid_file(path + ": added_tokens is not an array (expected a list of objects)");
    for (size_t i = 0; i < added->json().size(); ++i) {
      AddedToken t = added_token_of(added->index(i), i, path);
      // An added token that is also in the model vocabulary must keep its id.
      if (auto it = vocab.find(t.content); it != vocab.end() && it->second != t.id) {
        throw_invalid_file(path + ": added_tokens[" + std::to_string(i) + "] " + squote(t.content) + " has id " +
                           std::to_string(t.id) + " but model.vocab gives " + std::to_string(it->second) +
                           " (expected the same id)");
      }
      p->added.push_back(std::move(t));
    }
  }
  if (auto pad = child("padding"); pad && pad->json().is_object()) {
    if (auto pid = pad->get("pad_id")) {
      if (!pid->json().is_number_integer()) throw_invalid_file(path + ": padding.pad_id is " + pid->json().dump() + " (expected an integer)");
      p->pad_id = static_cast<int32_t>(pid->json().get<int64_t>());
    }
  }
  p->model_vocab = std::move(vocab);
  p->finish();
  if (p->pad_id && (*p->pad_id < 0 || static_cast<size_t>(*p->pad_id) >= p->has_id.size() || !p->has_id[*p->pad_id]))
    throw_invalid_file(path + ": padding.pad_id " + std::to_string(*p->pad_id) + " is not a token id (expected an id in the vocabulary)");
  // Template ids are independent of the text: what they add to nothing is all they ever add.
  for (int32_t id : p->post_process({})) {
    if (id < 0 || static_cast<size_t>(id) >= p->has_id.size() || !p->has_id[id])
      throw_invalid_file(path + ": post_processor adds token id " + std::to_string(id) +
                         " that is not in the vocabulary (expected ids of model.vocab or added_tokens)");
  }
  if (auto it = p->token_to_id.find(std::string_view("<|endoftext|>")); it != p->token_to_id.end()) p->eos_id = it->second;
  return p;
}

std::unique_ptr<Pipeline> load_vocab_merges(const std::string& vocab_json, const std::string& merges_txt) {
  auto p = std::make_unique<Pipeline>();
  p->source = vocab_json;
  json v = parse_json_file(vocab_json, "vocab.json");
  StringIdMap vocab;
  parse_vocab(Node(v, vocab_json, "top-level value"), &vocab);
  std::string text = read_whole_file(merges_txt, "merges.txt");
  std::vector<MergeSpec> merges;
  std::string_view rest(text);
  int line_no = 0;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line_no == 1 && line.starts_with("#version")) continue;
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp + 1 == line.size() || line.find(' ', sp + 1) != std::string_view::npos) {
      throw_invalid_file(merges_txt + ": line " + std::to_string(line_no) + " " + squote(line) +
                         " is malformed (expected two tokens separated by one space)");
    }
    merges.push_back({std::string(line.substr(0, sp)), std::string(line.substr(sp + 1)),
                      merges_txt + ": merge " + std::to_string(line_no)});
  }
  p->model_is_bpe = true;
  p->pre_tokenizer = make_byte_level_pre_tokenizer(false);
  p->decoder = make_byte_level_decoder();
  // HF GPT2Tokenizer makes <|endoftext|> its bos/eos/unk token: a special token split out of text.
  if (auto it = vocab.find(std::string_view("<|endoftext|>")); it != vocab.end()) {
    AddedToken t;
    t.content = "<|endoftext|>";
    t.id = it->second;
    t.special = true;
    p->added.push_back(t);
    p->eos_id = it->second;
  }
  p->model_vocab = vocab;
  p->finish();  // first: rejects absurd ids before anything else allocates per id
  // The GPT-2 slow format has no byte fallback: every byte needs its byte-level token.
  const auto& alphabet = byte_to_unicode_utf8();
  for (int b = 0; b < 256; ++b) {
    if (vocab.find(alphabet[b]) == vocab.end()) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02X", b);
      throw_invalid_file(vocab_json + ": vocabulary has no token for byte " + hex + " (" + squote(alphabet[b]) +
                         "; expected a byte-level BPE vocabulary with all 256 byte tokens)");
    }
  }
  p->model = make_bpe(vocab, merges, BpeOptions{}, vocab_json);
  return p;
}

}  // namespace jitgen::tokenizer
