// Byte-level BPE pre-tokenization: the text is cut into pieces by a sequence of regex splits
// before any merging, so that no token spans a word boundary the model's authors chose.
//
// The named pre-tokenizers are those llama.cpp's converter writes into tokenizer.ggml.pre;
// each is the Split sequence of the original Hugging Face tokenizer.json. The regexes run on
// PCRE2 in UTF mode with Unicode properties (\p{L}, \p{N}, \s as Unicode white space), which
// is what Hugging Face's Oniguruma regexes mean by them. Each step sees one piece at a time as
// its whole subject, so lookaheads such as \s+(?!\S) stop at the piece's end, as in tokenizers.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>

#include "core/error.hpp"
#include "tokenize/bpe.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::tokenize {
namespace {

// GPT-2's split: English contractions, letters, digits and other symbols each with at most one
// leading space, and white space (a run before a word keeps its last space for the word).
constexpr const char* kGpt2 =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re";
// Llama 3's (tiktoken cl100k's): case-insensitive contractions, a letter run may take one
// leading non-letter, digits in groups of at most three, newlines kept apart.
constexpr const char* kLlama3 =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
// Qwen2's: Llama 3's with single digits.
constexpr const char* kQwen2 =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
// DeepSeek LLM's cased letters (Unicode Lu, Ll, Lt as its tokenizer.json lists them): letters
// of caseless scripts (CJK, ...) are split by the CJK step instead.
constexpr const char* kDeepseekCasedLetters =
    R"re(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})re"
    R"re(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})re"
    R"re(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})re"
    R"re(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})re"
    R"re(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})re"
    R"re(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D})re"
    R"re(\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4})re"
    R"re(\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4})re"
    R"re(\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124})re"
    R"re(\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F})re"
    R"re(\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})re"
    R"re(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})re"
    R"re(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})re"
    R"re(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3})re"
    R"re(\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF})re"
    R"re(\x{1E900}-\x{1E943}]+)re";
// CJK ideographs, the blocks before them and Hangul, as DeepSeek's tokenizers group them.
constexpr const char* kDeepseekCjk =
    R"re([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re";

struct Named {
  const char* name;
  std::vector<const char*> patterns;
};

// Hugging Face's Punctuation pre-tokenizer counts ASCII symbols such as $ and + as punctuation.
const std::vector<Named>& named_pre_tokenizers() {
  static const std::vector<Named> table = {
      {"llama-bpe", {kLlama3}},
      {"llama3", {kLlama3}},
      {"gpt-2", {kGpt2}},
      {"phi-2", {kGpt2}},
      {"gpt-neox", {kGpt2}},
      {"mpt", {kGpt2}},
      {"olmo", {kGpt2}},
      {"qwen2", {kQwen2}},
      {"falcon", {R"re([\p{P}\$\+<=>\^~\|`]+)re", kGpt2, "[0-9][0-9][0-9]"}},
      {"deepseek-llm",
       {R"re([\r\n])re", kDeepseekCasedLetters,
        R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re",
        R"re(\s+$)re", kDeepseekCjk, R"re(\p{N}+)re"}},
      {"deepseek-coder",
       {R"re([\r\n])re", R"re(\s?\p{L}+)re", R"re(\s?\p{P}+)re", kDeepseekCjk, R"re(\p{N})re"}},
      // Single digits first, then GPT-2's split (StarCoder, SmolLM, Refact).
      {"starcoder", {R"re(\p{N})re", kGpt2}},
      {"smollm", {R"re(\p{N})re", kGpt2}},
      {"refact", {R"re(\p{N})re", kGpt2}},
      // llama.cpp's default for BPE vocabularies without a pre-tokenizer name.
      {"default", {R"re([\p{P}\$\+<=>\^~\|]+)re", kGpt2, R"re(\p{N}+)re", "[0-9][0-9][0-9]"}},
  };
  return table;
}

}  // namespace

std::optional<std::vector<SplitStep>> named_pre_tokenizer(std::string_view name) {
  for (const Named& named : named_pre_tokenizers()) {
    if (name != named.name) continue;
    std::vector<SplitStep> steps;
    for (const char* pattern : named.patterns) steps.push_back({pattern});
    return steps;
  }
  return std::nullopt;
}

std::string known_pre_tokenizers() {
  std::string names;
  for (const Named& named : named_pre_tokenizers()) {
    if (!names.empty()) names += ", ";
    names += named.name;
  }
  return names;
}

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  SplitStep::Behavior behavior;
  bool invert;
  ~Compiled() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(const std::vector<SplitStep>& steps) {
  for (const SplitStep& step : steps) {
    auto compiled = std::make_unique<Compiled>();
    compiled->behavior = step.behavior;
    compiled->invert = step.invert;
    int error = 0;
    PCRE2_SIZE offset = 0;
    // MATCH_INVALID_UTF: arbitrary bytes are a valid subject; an invalid sequence matches no
    // pattern item and so ends up in a piece of its own, encoded as byte tokens.
    compiled->code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(step.pattern.data()), step.pattern.size(),
                      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
    if (!compiled->code) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      fail("pre-tokenizer regex '{}' does not compile at offset {}: {}", step.pattern, offset,
           reinterpret_cast<const char*>(message));
    }
    // JIT is an optimisation only: where the platform lacks it the interpreter gives the
    // same matches.
    pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);
    steps_.push_back(std::move(compiled));
  }
}

PreTokenizer::~PreTokenizer() = default;

namespace {

struct MatchData {
  pcre2_match_data* data;
  explicit MatchData(const pcre2_code* code)
      : data(pcre2_match_data_create_from_pattern(code, nullptr)) {
    if (!data) throw std::bad_alloc();
  }
  ~MatchData() { pcre2_match_data_free(data); }
};

size_t utf8_length(unsigned char c) {
  return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

}  // namespace

void PreTokenizer::split(std::string_view text, Piece range, std::vector<Piece>& out) const {
  std::vector<Piece> current{range};
  std::vector<Piece> next;
  // Matches and gaps of one piece, with whether each is a match (after `invert`).
  struct Segment {
    Piece piece;
    bool match;
  };
  std::vector<Segment> segments;
  for (const auto& step : steps_) {
    MatchData match(step->code);
    next.clear();
    for (const Piece piece : current) {
      segments.clear();
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
      const size_t length = piece.end - piece.begin;
      size_t gap = 0;
      for (size_t at = 0; at < length;) {
        const int rc = pcre2_match(step->code, subject, length, at, 0, match.data, nullptr);
        if (rc < 0) {
          if (rc != PCRE2_ERROR_NOMATCH) fail("pre-tokenizer regex failed (PCRE2 error {})", rc);
          break;
        }
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.data);
        const size_t begin = ovector[0];
        const size_t end = ovector[1];
        if (end == begin) {
          // An empty match cuts nothing: try again one character on.
          at = begin +
               std::min(utf8_length(static_cast<unsigned char>(subject[begin])), length - begin);
          continue;
        }
        if (begin > gap)
          segments.push_back({{piece.begin + uint32_t(gap), piece.begin + uint32_t(begin)}, false});
        segments.push_back({{piece.begin + uint32_t(begin), piece.begin + uint32_t(end)}, true});
        gap = at = end;
      }
      if (gap < length) segments.push_back({{piece.begin + uint32_t(gap), piece.end}, false});
      if (step->invert) {
        for (Segment& s : segments) s.match = !s.match;
      }
      switch (step->behavior) {
        case SplitStep::Behavior::kIsolated:
          for (const Segment& s : segments) next.push_back(s.piece);
          break;
        case SplitStep::Behavior::kRemoved:
          for (const Segment& s : segments) {
            if (!s.match) next.push_back(s.piece);
          }
          break;
        case SplitStep::Behavior::kMergedWithPrevious: {
          bool previous_gap = false;
          for (const Segment& s : segments) {
            if (s.match && previous_gap) {
              next.back().end = s.piece.end;
            } else {
              next.push_back(s.piece);
            }
            previous_gap = !s.match;
          }
          break;
        }
        case SplitStep::Behavior::kMergedWithNext: {
          bool previous_match = false;
          for (const Segment& s : segments) {
            if (!s.match && previous_match) {
              next.back().end = s.piece.end;
            } else {
              next.push_back(s.piece);
            }
            previous_match = s.match;
          }
          break;
        }
        case SplitStep::Behavior::kContiguous: {
          bool previous_match = false;
          for (const Segment& s : segments) {
            if (s.match && previous_match) {
              next.back().end = s.piece.end;
            } else {
              next.push_back(s.piece);
            }
            previous_match = s.match;
          }
          break;
        }
      }
    }
    std::swap(current, next);
  }
  out.insert(out.end(), current.begin(), current.end());
}

}  // namespace etch::tokenize
