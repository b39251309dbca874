// The named pre-tokenizers against splits worked out by hand from each regex's definition (the
// Split sequences of the original tokenizer.json files, as src/tokenize/pretokenize.cpp cites
// them). A round trip decode(encode(x)) == x holds for any split, so it cannot tell a wrong
// regex from a right one; the pieces themselves can.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenize/bpe.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::tokenize {
namespace {

using Pieces = std::vector<std::string>;

Pieces split(const std::string& name, const std::string& text) {
  const auto steps = named_pre_tokenizer(name);
  if (!steps) ADD_FAILURE() << "no pre-tokenizer named " << name;
  const PreTokenizer pre_tokenizer(steps.value_or(std::vector<SplitStep>{}));
  std::vector<Piece> pieces;
  pre_tokenizer.split(text, {0, static_cast<uint32_t>(text.size())}, pieces);
  Pieces out;
  for (const Piece& p : pieces) out.push_back(text.substr(p.begin, p.end - p.begin));
  return out;
}

struct Case {
  std::vector<const char*> names;  // a pre-tokenizer and the names that alias its regexes
  std::string text;
  Pieces expected;
};

class NamedPreTokenizer : public ::testing::TestWithParam<Case> {};

TEST_P(NamedPreTokenizer, SplitsAsItsRegexesDefine) {
  const Case& c = GetParam();
  for (const char* name : c.names) EXPECT_EQ(split(name, c.text), c.expected) << name;
}

const Case kCases[] = {
    // Contractions are lower case only; letters, digits and symbols take one leading space; of
    // a white-space run before a word, all but the last space stand alone.
    {{"gpt-2", "phi-2", "gpt-neox", "mpt", "olmo"},
     "Hello, y'all! I'm 12345  go\n",
     {"Hello", ",", " y", "'", "all", "!", " I", "'m", " 12345", " ", " go", "\n"}},
    // Contractions in any case; a letter run takes one leading non-letter ('all); digits in
    // threes with no leading space; newlines gathered apart.
    {{"llama-bpe", "llama3"},
     "Hello, y'all! I'M 12345  go\n\nx",
     {"Hello", ",", " y", "'all", "!", " I", "'M", " ", "123", "45", " ", " go", "\n\n", "x"}},
    // Llama 3's split with single digits.
    {{"qwen2"},
     "Hello, y'all! I'M 12345  go\n\nx",
     {"Hello", ",", " y", "'all", "!", " I", "'M", " ", "1", "2", "3", "4", "5", " ", " go", "\n\n",
      "x"}},
    // Punctuation and $+<=>^~|` runs first, each alone (so " `" parts), then GPT-2's split, then
    // digit triples.
    {{"falcon"},
     "a+b=$1234567 ok. `x",
     {"a", "+", "b", "=$", "123", "456", "7", " ok", ".", " ", "`", "x"}},
    // Like falcon without the backtick (Unicode calls it a symbol, not punctuation), and with
    // whole numbers split off before the triples.
    {{"default"}, "a`b+12345 c `x", {"a", "`", "b", "+", "123", "45", " c", " `", "x"}},
    // Every digit alone, then GPT-2's split.
    {{"starcoder", "smollm", "refact"}, "abc123 x1", {"abc", "1", "2", "3", " x", "1"}},
    // Newlines alone; letter runs with an optional white space; punctuation runs likewise; CJK
    // ideographs apart from the letters after them; every digit alone.
    {{"deepseek-coder"},
     "def f(x):\n  return 42\xE4\xBD\xA0\xE5\xA5\xBDx",
     {"def", " f", "(", "x", "):", "\n", " ", " return", " ", "4", "2", "\xE4\xBD\xA0\xE5\xA5\xBD",
      "x"}},
    // Newlines alone; cased letters with an optional white space; ASCII symbols (a range that
    // also holds the letters); trailing white space; CJK (年) apart; whole numbers.
    {{"deepseek-llm"},
     "Hello, world! 2024\xE5\xB9\xB4 ok  \nx",
     {"Hello", ",", " world", "!", " ", "2024", "\xE5\xB9\xB4", " ok", "  ", "\n", "x"}},
};

INSTANTIATE_TEST_SUITE_P(Names, NamedPreTokenizer, ::testing::ValuesIn(kCases),
                         [](const auto& info) {
                           std::string n = info.param.names.front();
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

TEST(NamedPreTokenizers, EveryKnownNameHasItsSplitsChecked) {
  std::string tested;
  for (const Case& c : kCases)
    for (const char* name : c.names) tested += std::string(tested.empty() ? "" : ", ") + name;
  // known_pre_tokenizers() lists the table in order; every entry must be among the cases.
  std::string known = known_pre_tokenizers();
  size_t start = 0;
  while (start < known.size()) {
    const size_t comma = known.find(", ", start);
    const std::string name = known.substr(start, comma - start);
    EXPECT_NE((", " + tested + ", ").find(", " + name + ", "), std::string::npos)
        << name << " has no expected split";
    start = comma == std::string::npos ? known.size() : comma + 2;
  }
}

}  // namespace
}  // namespace etch::tokenize
