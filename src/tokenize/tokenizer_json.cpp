// Hugging Face tokenizer.json (the tokenizers library's serialization) for BPE models: the
// vocab and merges, added tokens, the pre-tokenizer pipeline as split steps (byte-level BPE),
// or the Metaspace form of a converted SentencePiece model (run by the SentencePiece encoder),
// and the post-processor's BOS. Components that would change the result and that etch does not
// implement (other normalizers, Metaspace split, ...) are refused by name rather than ignored,
// so a tokenizer either matches Hugging Face or fails.
#include <nlohmann/json.hpp>

#include <limits>
#include <optional>
#include <unordered_map>

#include "core/error.hpp"
#include "core/mapped_file.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::tokenize {
namespace {

using json = nlohmann::json;

constexpr const char* kSpaceSymbol = "\xE2\x96\x81";  // U+2581, SentencePiece's space
// Far above any real vocabulary (Gemma's 256k), low enough that a hostile id cannot make the
// per-token tables huge.
constexpr int64_t kMaxTokens = int64_t{1} << 21;
// The split GPT-2's ByteLevel pre-tokenizer applies when use_regex is on.
constexpr const char* kByteLevelRegex =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re";

// Turns a SentencePiece-style BPE into the SentencePiece encoder's terms: a merge's rank
// becomes the score of the piece it forms (the encoder merges the highest score first, leftmost
// among equals, as BPE merges the lowest rank), <0xNN> pieces become byte tokens. A piece no
// merge forms keeps the lowest score.
void to_sentencepiece(Vocabulary& vocab, bool prefix, bool byte_fallback) {
  vocab.kind = TokenizerKind::kSentencePiece;
  vocab.add_space_prefix = prefix;
  vocab.pre_splits.clear();
  vocab.scores.assign(vocab.tokens.size(), -std::numeric_limits<float>::max());
  std::unordered_map<std::string_view, int32_t> ids;
  for (int32_t i = 0; i < vocab.size(); ++i) {
    if (vocab.types[i] == TokenType::kNormal) ids.emplace(vocab.tokens[i], i);
  }
  std::vector<bool> formed(vocab.tokens.size(), false);
  for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
    std::string merged = vocab.merges[rank];
    const size_t space = merged.find(' ', 1);
    if (space == std::string::npos) continue;
    merged.erase(space, 1);
    const auto it = ids.find(merged);
    if (it == ids.end() || formed[it->second]) continue;
    formed[it->second] = true;
    vocab.scores[it->second] = -static_cast<float>(rank);
  }
  for (int32_t i = 0; i < vocab.size(); ++i) {
    const std::string& t = vocab.tokens[i];
    if (i == vocab.unk_id) {
      vocab.types[i] = TokenType::kUnknown;
    } else if (byte_fallback && vocab.types[i] == TokenType::kNormal && t.size() == 6 &&
               t.starts_with("<0x") && t.back() == '>') {
      vocab.types[i] = TokenType::kByte;
    }
  }
}

// object["type"] when it is a string, else "" (json::value would throw on other types).
std::string type_of(const json& object) {
  if (!object.is_object()) return {};
  const auto it = object.find("type");
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

class Reader {
 public:
  explicit Reader(std::string name) : name_(std::move(name)) {}

  [[noreturn]] void error(const std::string& message) const { fail_file(name_, "{}", message); }

  const json& member(const json& object, const char* key, const char* where) const {
    if (!object.is_object()) error(fmt::format("{} is not a JSON object", where));
    const auto it = object.find(key);
    if (it == object.end()) error(fmt::format("{} has no \"{}\"", where, key));
    return *it;
  }

  std::string string(const json& value, const char* where) const {
    if (!value.is_string()) error(fmt::format("{} is not a string", where));
    return value.get<std::string>();
  }

  bool flag(const json& object, const char* key, bool fallback) const {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) error(fmt::format("\"{}\" is not true or false", key));
    return it->get<bool>();
  }

  int32_t id(const json& value, const char* where) const {
    if (!value.is_number_integer()) error(fmt::format("{} is not an integer id", where));
    const int64_t v = value.get<int64_t>();
    if (v < 0 || v >= kMaxTokens) error(fmt::format("{} id {} is out of range", where, v));
    return static_cast<int32_t>(v);
  }

  // Appends the split steps of one pre-tokenizer; returns whether it maps bytes (ByteLevel).
  bool pre_tokenizer(const json& p, std::vector<SplitStep>& steps, int depth) const {
    if (depth > 8) error("pre_tokenizer Sequences nest too deeply");
    const std::string type = string(member(p, "type", "a pre_tokenizer"), "pre_tokenizer type");
    if (type == "Sequence") {
      bool byte_level = false;
      const json& list = member(p, "pretokenizers", "a Sequence pre_tokenizer");
      if (!list.is_array()) error("Sequence pretokenizers is not a list");
      for (const json& item : list) byte_level |= pre_tokenizer(item, steps, depth + 1);
      return byte_level;
    }
    if (type == "ByteLevel") {
      if (flag(p, "add_prefix_space", false))
        error("ByteLevel pre_tokenizer with add_prefix_space is not supported");
      if (flag(p, "use_regex", true)) steps.push_back({kByteLevelRegex});
      return true;
    }
    if (type == "Split") {
      const json& pattern = member(p, "pattern", "a Split pre_tokenizer");
      SplitStep step;
      if (pattern.contains("Regex")) {
        step.pattern = string(pattern["Regex"], "Split pattern Regex");
      } else if (pattern.contains("String")) {
        // A literal: PCRE2's \Q...\E quotes everything but "\E" itself.
        const std::string literal = string(pattern["String"], "Split pattern String");
        for (size_t i = 0; i < literal.size(); ++i) {
          step.pattern += literal[i] == '\\' ? std::string("\\\\") : std::string(1, literal[i]);
        }
        step.pattern = "\\Q" + step.pattern + "\\E";
      } else {
        error("Split pattern is neither Regex nor String");
      }
      step.behavior = behavior(string(member(p, "behavior", "a Split pre_tokenizer"), "behavior"));
      step.invert = flag(p, "invert", false);
      steps.push_back(std::move(step));
      return false;
    }
    if (type == "Digits") {
      steps.push_back({flag(p, "individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)"});
      return false;
    }
    if (type == "Punctuation") {
      // Hugging Face counts ASCII symbols as punctuation too.
      const auto it = p.find("behavior");
      steps.push_back({R"re([\p{P}\$\+<=>\^~\|`])re",
                       it == p.end() ? SplitStep::Behavior::kIsolated
                                     : behavior(string(*it, "Punctuation behavior"))});
      return false;
    }
    if (type == "Whitespace") {
      // Words and runs of other non-space characters; white space is dropped.
      steps.push_back({R"(\w+|[^\w\s]+)", SplitStep::Behavior::kRemoved, true});
      return false;
    }
    if (type == "WhitespaceSplit") {
      steps.push_back({R"(\s+)", SplitStep::Behavior::kRemoved, false});
      return false;
    }
    error(
        fmt::format("pre_tokenizer type '{}' is not supported (etch reads Sequence, Split, "
                    "ByteLevel, Digits, Punctuation, Whitespace, WhitespaceSplit)",
                    type));
  }

  // A SentencePiece-style normalizer: Prepend("▁") and Replace(" " -> "▁"), alone or in a
  // Sequence. Returns whether "▁" is prepended.
  bool metaspace_normalizer(const json& n) const {
    bool prefix = false;
    bool replace = false;
    const std::string type = type_of(n);
    const json single = json::array({n});
    const json& list =
        type == "Sequence" ? member(n, "normalizers", "a Sequence normalizer") : single;
    if (!list.is_array()) error("Sequence normalizers is not a list");
    for (const json& item : list) {
      const std::string t = type_of(item);
      if (t == "Prepend" && item.contains("prepend") && item["prepend"] == kSpaceSymbol) {
        prefix = true;
      } else if (t == "Replace" && item.contains("pattern") && item["pattern"].is_object() &&
                 item["pattern"].contains("String") && item["pattern"]["String"] == " " &&
                 item.contains("content") && item["content"] == kSpaceSymbol) {
        replace = true;
      } else {
        error(fmt::format("normalizer '{}' is not supported", t.empty() ? item.dump() : t));
      }
    }
    if (!replace) error("normalizer does not replace spaces with U+2581");
    return prefix;
  }

  // The Metaspace pre-tokenizer: spaces as "▁", one prepended unless prepend_scheme is never.
  bool metaspace(const json& p) const {
    if (p.contains("replacement") && p["replacement"] != kSpaceSymbol)
      error("Metaspace replacement other than U+2581 is not supported");
    if (flag(p, "split", false))
      error("Metaspace with split is not supported (pieces would not cross words)");
    if (const auto scheme = p.find("prepend_scheme"); scheme != p.end() && scheme->is_string())
      return *scheme != "never";
    return flag(p, "add_prefix_space", true);
  }

  SplitStep::Behavior behavior(const std::string& name) const {
    using B = SplitStep::Behavior;
    if (name == "Isolated") return B::kIsolated;
    if (name == "Removed") return B::kRemoved;
    if (name == "MergedWithPrevious") return B::kMergedWithPrevious;
    if (name == "MergedWithNext") return B::kMergedWithNext;
    if (name == "Contiguous") return B::kContiguous;
    error(fmt::format("unknown Split behavior '{}'", name));
  }

 private:
  std::string name_;
};

json parse(std::string_view text, const std::string& name) {
  // Valid files nest a few levels; a deeper one is hostile and would cost recursion later.
  auto limit_depth = [&](int depth, json::parse_event_t, json&) {
    if (depth > 32) fail_file(name, "JSON is nested deeper than 32 levels");
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), limit_depth);
  } catch (const json::exception& e) {
    fail_file(name, "malformed JSON: {}", e.what());
  }
}

}  // namespace

Vocabulary parse_tokenizer_json(std::string_view text, const std::string& name) {
  const Reader r(name);
  const json root = parse(text, name);
  if (!root.is_object()) r.error("is not a JSON object");
  Vocabulary vocab;
  vocab.kind = TokenizerKind::kByteLevelBpe;
  vocab.pre_tokenizer = "tokenizer.json";
  vocab.add_bos = false;
  vocab.add_space_prefix = false;

  const json& model = r.member(root, "model", "tokenizer.json");
  const std::string type = model.contains("type") ? r.string(model["type"], "model type") : "BPE";
  if (type != "BPE")
    r.error(fmt::format("model type '{}' is not supported (etch reads BPE)", type));
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix", "dropout"}) {
    if (model.contains(key) && !model[key].is_null())
      r.error(fmt::format("BPE option \"{}\" is not supported", key));
  }
  const bool byte_fallback = r.flag(model, "byte_fallback", false);
  vocab.ignore_merges = r.flag(model, "ignore_merges", false);

  const json& pieces = r.member(model, "vocab", "model");
  if (!pieces.is_object()) r.error("model vocab is not an object");
  const json empty_list = json::array();
  const auto added_it = root.find("added_tokens");
  const json& added = added_it == root.end() || added_it->is_null() ? empty_list : *added_it;
  if (!added.is_array()) r.error("added_tokens is not a list");
  int64_t size = 0;
  for (const auto& [piece, id] : pieces.items())
    size = std::max<int64_t>(size, r.id(id, "vocab") + 1);
  for (const json& a : added)
    size = std::max<int64_t>(size, r.id(r.member(a, "id", "an added token"), "added token") + 1);
  vocab.tokens.assign(static_cast<size_t>(size), {});
  // Ids no piece claims stay empty and unused: nothing encodes to them.
  vocab.types.assign(static_cast<size_t>(size), TokenType::kUnused);
  for (const auto& [piece, id] : pieces.items()) {
    const int32_t i = r.id(id, "vocab");
    if (vocab.types[i] != TokenType::kUnused)
      r.error(fmt::format("vocab id {} is given to two pieces", i));
    vocab.tokens[i] = piece;
    vocab.types[i] = TokenType::kNormal;
  }
  for (const json& a : added) {
    const int32_t i = r.id(a["id"], "added token");
    vocab.tokens[i] = r.string(r.member(a, "content", "an added token"), "added token content");
    vocab.types[i] = r.flag(a, "special", false) ? TokenType::kControl : TokenType::kUserDefined;
  }

  const json& merges = r.member(model, "merges", "model");
  if (!merges.is_array()) r.error("model merges is not a list");
  vocab.merges.reserve(merges.size());
  for (const json& m : merges) {
    // Two forms: "left right" (older files) and ["left", "right"].
    if (m.is_string()) {
      vocab.merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      vocab.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    } else {
      r.error(fmt::format("merge {} is neither \"a b\" nor [\"a\", \"b\"]", vocab.merges.size()));
    }
  }
  if (const auto unk = model.find("unk_token"); unk != model.end() && !unk->is_null()) {
    const std::string u = r.string(*unk, "unk_token");
    if (pieces.contains(u)) vocab.unk_id = r.id(pieces[u], "unk_token");
  }

  // SentencePiece BPE converted to tokenizer.json (Llama 2, Mistral) writes spaces as U+2581
  // through a Prepend/Replace normalizer or a Metaspace pre-tokenizer; it then runs on etch's
  // SentencePiece encoder. Set when the file is of that kind: whether "▁" is prepended.
  std::optional<bool> metaspace_prefix;
  if (const auto n = root.find("normalizer"); n != root.end() && !n->is_null())
    metaspace_prefix = r.metaspace_normalizer(*n);
  bool byte_level = false;
  if (const auto p = root.find("pre_tokenizer"); p != root.end() && !p->is_null()) {
    if (type_of(*p) == "Metaspace") {
      metaspace_prefix = r.metaspace(*p);
    } else {
      byte_level = r.pre_tokenizer(*p, vocab.pre_splits, 0);
    }
  }
  if (metaspace_prefix) {
    if (byte_level) r.error("mixes a Metaspace normalizer with a ByteLevel pre_tokenizer");
    to_sentencepiece(vocab, *metaspace_prefix, byte_fallback);
  } else {
    if (!byte_level) {
      const auto d = root.find("decoder");
      byte_level = d != root.end() && type_of(*d) == "ByteLevel";
    }
    if (!byte_level)
      r.error("is neither byte-level BPE (ByteLevel) nor SentencePiece-style BPE (Metaspace)");
    if (byte_fallback) r.error("byte_fallback in a byte-level BPE is not supported");
  }

  // The post-processor's template says which special token starts every sequence.
  auto find_template = [&](const json& post, auto& self) -> const json* {
    const std::string t = type_of(post);
    if (t == "TemplateProcessing") return &post;
    if (t == "Sequence" && post.contains("processors") && post["processors"].is_array()) {
      for (const json& p : post["processors"]) {
        if (const json* found = self(p, self)) return found;
      }
    }
    return nullptr;
  };
  auto special_id = [&](const json& item) {
    const std::string content = r.string(r.member(item, "id", "a template SpecialToken"), "id");
    for (int32_t i = 0; i < static_cast<int32_t>(vocab.tokens.size()); ++i) {
      if (vocab.tokens[i] == content) return i;
    }
    r.error(fmt::format("post_processor names special token '{}', which is not a token", content));
  };
  if (const auto post = root.find("post_processor"); post != root.end()) {
    if (const json* t = find_template(*post, find_template); t && t->contains("single")) {
      const json& single = (*t)["single"];
      if (single.is_array() && !single.empty() && single.front().contains("SpecialToken")) {
        vocab.bos_id = special_id(single.front()["SpecialToken"]);
        vocab.add_bos = true;
      }
      if (single.is_array() && single.size() > 1 && single.back().contains("SpecialToken")) {
        vocab.eos_id = special_id(single.back()["SpecialToken"]);
        vocab.add_eos = true;
      }
    }
  }
  fill_end_of_generation(vocab);
  return vocab;
}

Vocabulary load_tokenizer_json(const std::string& path) {
  const MappedFile file(path);
  if (file.size() > (uint64_t{512} << 20))
    fail_file(path, "{} bytes is too large for a tokenizer.json (limit 512 MiB)", file.size());
  return parse_tokenizer_json({reinterpret_cast<const char*>(file.data()), file.size()}, path);
}

}  // namespace etch::tokenize
