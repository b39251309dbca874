// The SentencePiece tokenizer against its independent oracles: SentencePiece's own output
// (tokenizer-vectors.json), llama.cpp's ggml-vocab-llama-spm suite (Hugging Face's output)
// and the ids transformers fed the kjv-8m reference model.
#include <gtest/gtest.h>

#include <sstream>

#include "core/error.hpp"
#include "import/import.hpp"
#include "llama_cpp_suite.hpp"
#include "test_support.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::tokenize {
namespace {

using etch::testing::fixtures;
using etch::testing::read_llama_cpp_suite;
using etch::testing::tokenizers_dir;
using etch::testing::valid_utf8;

const Tokenizer& fixture_tokenizer() {
  static const Tokenizer tokenizer(
      load_sentencepiece_model((tokenizers_dir() / "tok4096.model").string()));
  return tokenizer;
}

const Tokenizer& llama_spm_tokenizer() {
  static const Tokenizer tokenizer(
      import::load_gguf_vocabulary((tokenizers_dir() / "ggml-vocab-llama-spm.gguf").string()));
  return tokenizer;
}

std::vector<std::string> pieces_of(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(tokenizer.piece(id));
  return pieces;
}

TEST(SentencePieceTokenizer, FixtureModelReadsAsBpeWithByteFallback) {
  const Vocabulary& vocab = fixture_tokenizer().vocab();
  EXPECT_EQ(vocab.kind, TokenizerKind::kSentencePiece);
  EXPECT_EQ(vocab.size(), 4096);
  EXPECT_EQ(vocab.unk_id, 0);
  EXPECT_EQ(vocab.bos_id, 1);
  EXPECT_EQ(vocab.eos_id, 2);
  EXPECT_EQ(vocab.pad_id, -1);
  EXPECT_TRUE(vocab.add_space_prefix);
  EXPECT_FALSE(vocab.remove_extra_whitespaces);
  EXPECT_EQ(vocab.tokens[0], "<unk>");
  EXPECT_EQ(vocab.types[0], TokenType::kUnknown);
  EXPECT_EQ(vocab.types[1], TokenType::kControl);
  EXPECT_EQ(vocab.tokens[13], "<0x0A>");
  EXPECT_EQ(vocab.types[13], TokenType::kByte);
  EXPECT_EQ(vocab.types[4095], TokenType::kNormal);
}

TEST(SentencePieceTokenizer, MatchesSentencePieceVectors) {
  const auto json = etch::testing::read_json(tokenizers_dir() / "tokenizer-vectors.json");
  const Tokenizer& tokenizer = fixture_tokenizer();
  int checked = 0;
  for (const auto& c : json.at("cases")) {
    const std::string text = c.at("text");
    const auto want_ids = c.at("ids").get<std::vector<int32_t>>();
    const auto want_pieces = c.at("pieces").get<std::vector<std::string>>();
    const auto ids = tokenizer.encode(text, false);
    EXPECT_EQ(ids, want_ids) << "text: " << text;
    EXPECT_EQ(pieces_of(tokenizer, ids), want_pieces) << "text: " << text;
    EXPECT_EQ(tokenizer.decode(ids), c.at("decoded").get<std::string>()) << "text: " << text;
    ++checked;
  }
  EXPECT_EQ(checked, 20);
}

TEST(SentencePieceTokenizer, MatchesKjvReferenceIds) {
  const auto json =
      etch::testing::read_json(etch::testing::model_dir("kjv-8m") / "ref" / "reference.json");
  const Tokenizer tokenizer(load_sentencepiece_model(
      (etch::testing::model_dir("kjv-8m") / "hf" / "tokenizer.model").string()));
  ASSERT_FALSE(json.at("prompts").empty());
  for (const auto& prompt : json.at("prompts")) {
    const std::string text = prompt.at("text");
    const auto ids = tokenizer.encode(text, true);
    EXPECT_EQ(ids, prompt.at("ids").get<std::vector<int32_t>>()) << "text: " << text;
    EXPECT_EQ(tokenizer.decode(ids), text);
  }
}

TEST(SentencePieceTokenizer, GgufVocabularyTokenizesLikeTheModelFile) {
  const Tokenizer gguf(import::load_gguf_vocabulary(
      (etch::testing::model_dir("kjv-8m") / "kjv-8m-bf16.gguf").string()));
  const Tokenizer& model = fixture_tokenizer();
  ASSERT_EQ(gguf.vocab().size(), model.vocab().size());
  const auto json =
      etch::testing::read_json(etch::testing::model_dir("kjv-8m") / "ref" / "reference.json");
  for (const auto& prompt : json.at("prompts")) {
    EXPECT_EQ(gguf.encode(prompt.at("text").get<std::string>(), true),
              prompt.at("ids").get<std::vector<int32_t>>());
  }
  const std::string text =
      etch::testing::read_text(etch::testing::fixtures() / "models" / "kjv-valid.txt");
  EXPECT_EQ(gguf.encode(text, false), model.encode(text, false));
}

TEST(SentencePieceTokenizer, MatchesLlamaCppLlamaSpmSuite) {
  const Tokenizer& tokenizer = llama_spm_tokenizer();
  EXPECT_EQ(tokenizer.vocab().kind, TokenizerKind::kSentencePiece);
  const auto cases = read_llama_cpp_suite("ggml-vocab-llama-spm.gguf");
  ASSERT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    const auto ids = tokenizer.encode(c.text, false);
    EXPECT_EQ(ids, c.ids) << "text: " << c.text;
    if (valid_utf8(c.text)) {
      EXPECT_EQ(tokenizer.decode(ids), c.text) << "text: " << c.text;
    }
  }
}

TEST(SentencePieceTokenizer, BosIsPrependedOnRequest) {
  const Tokenizer& tokenizer = fixture_tokenizer();
  EXPECT_EQ(tokenizer.encode("", true), std::vector<int32_t>{1});
  EXPECT_TRUE(tokenizer.encode("", false).empty());
  const auto ids = tokenizer.encode("In the beginning", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(tokenizer.decode(ids), "In the beginning");
  EXPECT_EQ(tokenizer.token_bytes(1), "");
  EXPECT_EQ(tokenizer.token_bytes(2), "");
}

TEST(SentencePieceTokenizer, TokenBytes) {
  const Tokenizer& tokenizer = fixture_tokenizer();
  EXPECT_EQ(tokenizer.token_bytes(13), "\n");
  EXPECT_EQ(tokenizer.token_bytes(4034), " ");
  EXPECT_EQ(tokenizer.token_bytes(261), " the");
  EXPECT_EQ(tokenizer.token_bytes(0), " \xE2\x81\x87 ");
  EXPECT_THROW(tokenizer.token_bytes(-1), Error);
  EXPECT_THROW(tokenizer.token_bytes(4096), Error);
  EXPECT_THROW(tokenizer.piece(4096), Error);
  const std::vector<int32_t> bad = {261, 5000};
  EXPECT_THROW(tokenizer.decode(bad), Error);
}

TEST(SentencePieceTokenizer, DecodeDropsOnlyTheDummyPrefix) {
  const Tokenizer& tokenizer = fixture_tokenizer();
  // "▁the" first loses its space; later ones keep it; a leading byte token is a real byte.
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{261, 261}), "the the");
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{1, 261}), "the");
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{13, 261}), "\n the");
  // Only one "▁" goes, even when a control token follows it.
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{4034, 261}), " the");
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{4034, 1, 261}), " the");
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{1, 2, 1, 261}), "the");
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{0, 261}), " \xE2\x81\x87  the");
  // Token by token, as a streaming caller assembles it.
  const std::string text = "And God said, Let there be light: and there was light.";
  const auto ids = tokenizer.encode(text, true);
  std::string streamed;
  for (int32_t id : ids) streamed += tokenizer.token_bytes(id);
  EXPECT_EQ(streamed, " " + text);
}

TEST(SentencePieceTokenizer, RoundTripsKjvText) {
  const Tokenizer& tokenizer = fixture_tokenizer();
  const std::string text =
      etch::testing::read_text(etch::testing::fixtures() / "models" / "kjv-valid.txt");
  ASSERT_GT(text.size(), 100000u);
  const auto ids = tokenizer.encode(text, true);
  EXPECT_LT(ids.size(), text.size() / 2);
  EXPECT_EQ(tokenizer.decode(ids), text);
  // Line by line, as the reference perplexity method encodes it.
  std::istringstream lines(text);
  std::string line;
  for (int n = 0; n < 300 && std::getline(lines, line); ++n) {
    EXPECT_EQ(tokenizer.decode(tokenizer.encode(line, false)), line);
  }
}

TEST(SentencePieceTokenizer, ArbitraryBytesRoundTripThroughByteFallback) {
  const Tokenizer& tokenizer = fixture_tokenizer();
  const std::vector<std::string> inputs = {
      std::string("\xff\xfe\x80", 3),
      std::string("a\xc3", 2),
      std::string("\xe2\x96", 2),          // a truncated U+2581
      std::string("\xed\xa0\x80", 3),      // a UTF-16 surrogate
      std::string("\xf4\x90\x80\x80", 4),  // beyond U+10FFFF
      std::string("\xc0\xaf x", 4),        // overlong
      std::string("\0 \0", 3),
  };
  for (const auto& input : inputs) {
    const auto ids = tokenizer.encode(input, false);
    EXPECT_EQ(tokenizer.decode(ids), input);
  }
  // As in SentencePiece, a "▁" in the text is indistinguishable from a space.
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("the \xe2\x96\x81 the", false)), "the   the");
  // Every byte value alone and in pairs.
  for (int a = 0; a < 256; ++a) {
    for (int b : {0, 0x20, 0x41, 0x80, 0xc3, 0xe2, 0xff}) {
      const std::string input = {static_cast<char>(a), static_cast<char>(b)};
      EXPECT_EQ(tokenizer.decode(tokenizer.encode(input, false)), input);
    }
  }
}

// A vocabulary written by hand, to pin the rules the fixtures do not exercise.
Vocabulary toy_vocabulary() {
  Vocabulary vocab;
  auto add = [&](std::string piece, float score, TokenType type) {
    vocab.tokens.push_back(std::move(piece));
    vocab.scores.push_back(score);
    vocab.types.push_back(type);
  };
  add("<unk>", 0, TokenType::kUnknown);         // 0
  add("<s>", 0, TokenType::kControl);           // 1
  add("</s>", 0, TokenType::kControl);          // 2
  add("\xE2\x96\x81", -1, TokenType::kNormal);  // 3 ▁
  add("a", -1, TokenType::kNormal);             // 4
  add("b", -1, TokenType::kNormal);             // 5
  add("ab", -2, TokenType::kNormal);            // 6
  add("abab", -3, TokenType::kUnused);          // 7: formed, then split back
  add("ba", -2.5, TokenType::kNormal);          // 8
  add("<x>", 0, TokenType::kUserDefined);       // 9
  add("x", -1, TokenType::kNormal);             // 10
  add("\xE2\x96\x81"
      "a",
      -0.5, TokenType::kNormal);     // 11 ▁a
  add("<s", 5, TokenType::kNormal);  // 12
  add("<", -1, TokenType::kNormal);  // 13
  add("s", -1, TokenType::kNormal);  // 14
  add("a"
      "\xE2\x96\x81"
      "b",
      3, TokenType::kNormal);  // 15: a piece spanning a space
  add("a"
      "\xE2\x96\x81",
      2, TokenType::kNormal);  // 16
  vocab.unk_id = 0;
  vocab.bos_id = 1;
  vocab.eos_id = 2;
  return vocab;
}

TEST(SentencePieceTokenizer, UnusedPiecesAreSplitBack) {
  const Tokenizer tokenizer(toy_vocabulary());
  // ▁a b a b: ▁a first (-0.5); then "ab" (-2) at b a b -> "ba"? pairs: (b,a)=-2.5, (a,b)=-2
  // -> ▁a b ab; then (b,ab) is no piece.
  EXPECT_EQ(tokenizer.encode("abab", false), (std::vector<int32_t>{11, 5, 6}));
  Vocabulary vocab = toy_vocabulary();
  vocab.add_space_prefix = false;
  const Tokenizer no_prefix(vocab);
  // ab ab -> abab is UNUSED, so it comes back as its two halves.
  EXPECT_EQ(no_prefix.encode("abab", false), (std::vector<int32_t>{6, 6}));
}

TEST(SentencePieceTokenizer, UserDefinedPiecesAreAtomicAndControlPiecesNeverFormed) {
  Vocabulary vocab = toy_vocabulary();
  vocab.add_space_prefix = false;
  const Tokenizer tokenizer(vocab);
  EXPECT_EQ(tokenizer.encode("x<x>x", false), (std::vector<int32_t>{10, 9, 10}));
  // "<s" is a normal piece, "<s>" a control one: text never yields the control id.
  EXPECT_EQ(tokenizer.encode("<s>", false), (std::vector<int32_t>{12, 0}));
  // No byte tokens in this vocabulary: unknown characters become one unk per run.
  EXPECT_EQ(tokenizer.encode("a\xC3\xA9\xC3\xA9"
                             "a",
                             false),
            (std::vector<int32_t>{4, 0, 4}));
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{4, 0, 4}), "a \xE2\x81\x87 a");
}

TEST(SentencePieceTokenizer, PiecesSpanningSpacesStillMerge) {
  Vocabulary vocab = toy_vocabulary();
  vocab.add_space_prefix = false;
  const Tokenizer tokenizer(vocab);
  // "a▁b" is a piece, so the text must not be cut before that "▁".
  EXPECT_EQ(tokenizer.encode("a b", false), (std::vector<int32_t>{15}));
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{15}), "a b");
}

TEST(SentencePieceTokenizer, RemoveExtraWhitespaces) {
  Vocabulary vocab = toy_vocabulary();
  vocab.remove_extra_whitespaces = true;
  const Tokenizer tokenizer(vocab);
  EXPECT_EQ(tokenizer.encode("   a   a  ", false), tokenizer.encode("a a", false));
  EXPECT_TRUE(tokenizer.encode("    ", false).empty());
  // Decoding strips every leading "▁" then, as SentencePiece does.
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{3, 3, 11, 3, 4}), "a a");
}

TEST(SentencePieceTokenizer, ByteLevelVocabularyDecodes) {
  Vocabulary vocab;
  vocab.kind = TokenizerKind::kByteLevelBpe;
  vocab.tokens = {"Hello", "\xC4\xA0world", "\xC4\x8A", "<|end|>", "\xC3\xA9", "a b"};
  vocab.types = {TokenType::kNormal,  TokenType::kNormal, TokenType::kNormal,
                 TokenType::kControl, TokenType::kNormal, TokenType::kUserDefined};
  const Tokenizer tokenizer(vocab);
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{0, 1, 2, 3}), "Hello world\n");
  // U+00E9 is byte 0xE9 itself; an added token is plain text.
  EXPECT_EQ(tokenizer.token_bytes(4), "\xE9");
  EXPECT_EQ(tokenizer.token_bytes(5), "a b");
  // Added tokens are matched whole; control tokens only when specials are parsed.
  EXPECT_EQ(tokenizer.encode("a b", false), std::vector<int32_t>{5});
  EXPECT_EQ(tokenizer.encode("<|end|>", false, true), std::vector<int32_t>{3});
}

}  // namespace
}  // namespace etch::tokenize
