// The byte-level BPE tokenizer against its independent oracles: llama.cpp's ggml-vocab suites
// for GGUF vocabularies (gpt-2, falcon, deepseek-llm; the expected ids are Hugging Face
// tokenizers' output) and bpe-tokenizer-vectors.json for a tokenizer.json.
#include <gtest/gtest.h>

#include <algorithm>
#include <unordered_map>

#include "core/error.hpp"
#include "import/import.hpp"
#include "llama_cpp_suite.hpp"
#include "test_support.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::tokenize {
namespace {

using etch::testing::read_llama_cpp_suite;
using etch::testing::tokenizers_dir;
using etch::testing::valid_utf8;

Tokenizer gguf_tokenizer(const std::string& name) {
  return Tokenizer(
      import::load_gguf_vocabulary((tokenizers_dir() / ("ggml-vocab-" + name + ".gguf")).string()));
}

class LlamaCppBpeSuite : public ::testing::TestWithParam<std::string> {};

TEST_P(LlamaCppBpeSuite, MatchesEveryCaseAndRoundTrips) {
  const std::string name = GetParam();
  const Tokenizer tokenizer = gguf_tokenizer(name);
  EXPECT_EQ(tokenizer.vocab().kind, TokenizerKind::kByteLevelBpe);
  EXPECT_EQ(tokenizer.vocab().pre_tokenizer, name);
  const auto cases = read_llama_cpp_suite("ggml-vocab-" + name + ".gguf");
  ASSERT_GT(cases.size(), 30u);
  int passed = 0;
  for (const auto& c : cases) {
    const auto ids = tokenizer.encode(c.text, false);
    EXPECT_EQ(ids, c.ids) << name << " text: '" << c.text << "'";
    passed += ids == c.ids;
    if (valid_utf8(c.text)) EXPECT_EQ(tokenizer.decode(ids), c.text) << name;
  }
  EXPECT_EQ(passed, static_cast<int>(cases.size()));
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, LlamaCppBpeSuite,
                         ::testing::Values("gpt-2", "falcon", "deepseek-llm"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

TEST(BpeTokenizer, EveryNamedPreTokenizerCompilesAndSplits) {
  for (const std::string name :
       {"llama-bpe", "gpt-2", "qwen2", "falcon", "deepseek-llm", "deepseek-coder", "starcoder",
        "smollm", "mpt", "refact", "gpt-neox", "phi-2", "default"}) {
    const auto steps = named_pre_tokenizer(name);
    ASSERT_TRUE(steps.has_value()) << name;
    EXPECT_FALSE(steps->empty()) << name;
    // Compiling is part of building a tokenizer: use the gpt-2 vocabulary with each split.
    Vocabulary vocab = gguf_tokenizer("gpt-2").vocab();
    vocab.pre_splits = *steps;
    const Tokenizer tokenizer(vocab);
    const std::string text = "Hello, y'all! 123 4567 \xE4\xBD\xA0\xE5\xA5\xBD  \n\tend";
    EXPECT_EQ(tokenizer.decode(tokenizer.encode(text, false)), text) << name;
  }
  EXPECT_FALSE(named_pre_tokenizer("no-such-pre").has_value());
}

TEST(BpeTokenizer, InvalidUtf8BecomesByteTokensAndRoundTrips) {
  const Tokenizer tokenizer = gguf_tokenizer("gpt-2");
  for (const std::string text : {std::string("\xFF\xFE abc \xC3"), std::string("a\x80\x80 b"),
                                 std::string("\xED\xA0\x80 surrogate"), std::string(1, '\0')}) {
    EXPECT_EQ(tokenizer.decode(tokenizer.encode(text, false)), text);
  }
}

TEST(BpeTokenizer, Llama3PreTokenizerSplitsLikeTiktoken) {
  // The llama-bpe split on the gpt-2 vocabulary: digits in groups of three.
  Vocabulary vocab = gguf_tokenizer("gpt-2").vocab();
  vocab.pre_splits = *named_pre_tokenizer("llama-bpe");
  const Tokenizer tokenizer(vocab);
  std::vector<std::string> pieces;
  for (int32_t id : tokenizer.encode("1234567 I", false)) pieces.push_back(tokenizer.piece(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"123", "456", "7", "\xC4\xA0I"}));
}

}  // namespace
}  // namespace etch::tokenize

namespace etch::tokenize {
namespace {

const Tokenizer& tokenizer_json() {
  static const Tokenizer tokenizer(
      load_tokenizer_json((tokenizers_dir() / "bpe4096-llama3.tokenizer.json").string()));
  return tokenizer;
}

TEST(TokenizerJson, ReadsTheLlama3StyleFile) {
  const Vocabulary& vocab = tokenizer_json().vocab();
  EXPECT_EQ(vocab.kind, TokenizerKind::kByteLevelBpe);
  EXPECT_EQ(vocab.size(), 4096);
  EXPECT_TRUE(vocab.ignore_merges);
  EXPECT_EQ(vocab.pre_splits.size(), 1u);
  EXPECT_EQ(vocab.bos_id, 0);  // <|begin_of_text|>, from the post-processor's template
  EXPECT_TRUE(vocab.add_bos);
  EXPECT_EQ(vocab.types[4], TokenType::kControl);
  // <|end_of_text|> and <|eot_id|> end generation.
  EXPECT_NE(std::find(vocab.eog_ids.begin(), vocab.eog_ids.end(), 1), vocab.eog_ids.end());
  EXPECT_NE(std::find(vocab.eog_ids.begin(), vocab.eog_ids.end(), 4), vocab.eog_ids.end());
}

TEST(TokenizerJson, MatchesHuggingFaceVectors) {
  const auto json = etch::testing::read_json(tokenizers_dir() / "bpe-tokenizer-vectors.json");
  const Tokenizer& tokenizer = tokenizer_json();
  int passed = 0;
  int total = 0;
  for (const auto& c : json.at("cases")) {
    const std::string text = c.at("text");
    const auto want = c.at("ids").get<std::vector<int32_t>>();
    // The vectors were made with special tokens in the text matched as specials.
    const auto ids = tokenizer.encode(text, false, true);
    EXPECT_EQ(ids, want) << "text: " << text;
    std::vector<std::string> pieces;
    for (int32_t id : ids) pieces.push_back(tokenizer.piece(id));
    EXPECT_EQ(pieces, c.at("tokens").get<std::vector<std::string>>()) << "text: " << text;
    EXPECT_EQ(tokenizer.decode(ids, true), c.at("decoded").get<std::string>()) << text;
    if (valid_utf8(text)) EXPECT_EQ(tokenizer.decode(tokenizer.encode(text, false)), text);
    passed += ids == want;
    ++total;
  }
  EXPECT_EQ(passed, total);
  EXPECT_EQ(total, 23);
  EXPECT_EQ(tokenizer.encode("Hi", true).front(), 0);
}

TEST(TokenizerJson, SpecialTokensAreTextUnlessParsed) {
  const Tokenizer& tokenizer = tokenizer_json();
  const auto plain = tokenizer.encode("<|eot_id|>", false);
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(tokenizer.decode(plain), "<|eot_id|>");
  EXPECT_EQ(tokenizer.encode("<|eot_id|>", false, true), std::vector<int32_t>{4});
}

TEST(TokenizerJson, RefusesWhatItDoesNotImplement) {
  auto error_of = [](const std::string& text) {
    return etch::testing::error_of([&] { parse_tokenizer_json(text, "t.json"); });
  };
  EXPECT_NE(error_of("{").find("t.json: malformed JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"model": {"type": "Unigram", "vocab": []}})").find("Unigram"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                        "pre_tokenizer": {"type": "Metaspace", "split": true}})")
                .find("Metaspace with split"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                        "normalizer": {"type": "NFC"}})")
                .find("normalizer 'NFC'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model": {"type": "BPE", "vocab": {"a": 99999999}, "merges": []}})")
                .find("out of range"),
            std::string::npos);
  // Splits in all behaviours compile and run on a minimal byte-level file.
  const Vocabulary vocab = parse_tokenizer_json(
      R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3}, "merges": [["a", "b"]]},
          "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": "b"}, "behavior": "MergedWithPrevious"},
            {"type": "Digits", "individual_digits": true},
            {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]},
          "decoder": {"type": "ByteLevel"}})",
      "t.json");
  const Tokenizer tokenizer(vocab);
  EXPECT_EQ(tokenizer.encode("ab ab", false), (std::vector<int32_t>{2, 3, 2}));
}

}  // namespace
}  // namespace etch::tokenize

namespace etch::tokenize {
namespace {

TEST(BpeTokenizer, LongRunsOfOneCharacterClass) {
  // A long run of one class is a single regex match: neither the regex engine's stack nor the
  // merge loop may depend on how long a piece is.
  const Tokenizer llama3(
      load_tokenizer_json((tokenizers_dir() / "bpe4096-llama3.tokenizer.json").string()));
  const Tokenizer deepseek = gguf_tokenizer("deepseek-llm");
  for (const char c : {'a', ' ', '!', '7', '\n', '\xE9'}) {
    const std::string text(1 << 18, c);
    EXPECT_EQ(llama3.decode(llama3.encode(text, false)), text) << int(c);
    EXPECT_EQ(deepseek.decode(deepseek.encode(text, false)), text) << int(c);
  }
}

}  // namespace
}  // namespace etch::tokenize

namespace etch::tokenize {
namespace {

// The fixture's SentencePiece model written as a SentencePiece-style tokenizer.json, the way
// Hugging Face's converter writes Llama 2's: every piece in the vocab, merges for every split
// of a piece into two pieces (pieces by score, splits left to right), a Prepend/Replace
// normalizer, byte_fallback, <s> from the post-processor.
std::string sentencepiece_as_tokenizer_json(const Vocabulary& sp) {
  nlohmann::json vocab = nlohmann::json::object();
  std::unordered_map<std::string, int32_t> normal;
  for (int32_t i = 0; i < sp.size(); ++i) {
    vocab[sp.tokens[i]] = i;
    if (sp.types[i] == TokenType::kNormal) normal.emplace(sp.tokens[i], i);
  }
  std::vector<int32_t> order;
  for (const auto& [piece, id] : normal) order.push_back(id);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return sp.scores[a] != sp.scores[b] ? sp.scores[a] > sp.scores[b] : a < b;
  });
  nlohmann::json merges = nlohmann::json::array();
  for (const int32_t id : order) {
    const std::string& piece = sp.tokens[id];
    for (size_t i = 1; i < piece.size(); ++i) {
      if ((static_cast<unsigned char>(piece[i]) & 0xC0) == 0x80) continue;  // inside a character
      if (normal.contains(piece.substr(0, i)) && normal.contains(piece.substr(i)))
        merges.push_back({piece.substr(0, i), piece.substr(i)});
    }
  }
  nlohmann::json added = nlohmann::json::array();
  for (int32_t i = 0; i < sp.size(); ++i) {
    if (sp.types[i] == TokenType::kControl || sp.types[i] == TokenType::kUnknown)
      added.push_back({{"id", i}, {"content", sp.tokens[i]}, {"special", true}});
  }
  const nlohmann::json file = {
      {"added_tokens", added},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}}},
      {"decoder", {{"type", "Sequence"}}},
      {"model",
       {{"type", "BPE"},
        {"byte_fallback", true},
        {"fuse_unk", true},
        {"unk_token", "<unk>"},
        {"vocab", vocab},
        {"merges", merges}}}};
  return file.dump();
}

TEST(TokenizerJson, SentencePieceStyleFileMatchesSentencePiece) {
  const Vocabulary sp = load_sentencepiece_model((tokenizers_dir() / "tok4096.model").string());
  const Vocabulary vocab = parse_tokenizer_json(sentencepiece_as_tokenizer_json(sp), "sp.json");
  EXPECT_EQ(vocab.kind, TokenizerKind::kSentencePiece);
  EXPECT_TRUE(vocab.add_space_prefix);
  EXPECT_EQ(vocab.bos_id, 1);
  EXPECT_EQ(vocab.unk_id, 0);
  EXPECT_EQ(vocab.types[13], TokenType::kByte);  // <0x0A>
  const Tokenizer tokenizer(vocab);
  const auto json = etch::testing::read_json(tokenizers_dir() / "tokenizer-vectors.json");
  int passed = 0;
  for (const auto& c : json.at("cases")) {
    const std::string text = c.at("text");
    const auto ids = tokenizer.encode(text, false);
    EXPECT_EQ(ids, c.at("ids").get<std::vector<int32_t>>()) << text;
    EXPECT_EQ(tokenizer.decode(ids), c.at("decoded").get<std::string>()) << text;
    passed += ids == c.at("ids").get<std::vector<int32_t>>();
  }
  EXPECT_EQ(passed, 20);
}

}  // namespace
}  // namespace etch::tokenize

namespace etch::tokenize {
namespace {

TEST(SpecialTokens, SentencePieceControlTokensOnlyWhenParsed) {
  const Tokenizer spm(
      import::load_gguf_vocabulary((tokenizers_dir() / "ggml-vocab-llama-spm.gguf").string()));
  // As llama.cpp does, the text after a control token gets the dummy prefix again.
  std::vector<int32_t> want = spm.encode("Hello", false);
  want.push_back(spm.vocab().eos_id);
  for (const int32_t id : spm.encode("world", false)) want.push_back(id);
  EXPECT_EQ(spm.encode("Hello</s>world", false, true), want);
  const auto plain = spm.encode("Hello</s>world", false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), spm.vocab().eos_id), 0);
  EXPECT_EQ(spm.decode(plain), "Hello</s>world");
  EXPECT_EQ(spm.decode(spm.encode("Hello</s>world", false, true), true), "Hello</s> world");
}

}  // namespace
}  // namespace etch::tokenize
