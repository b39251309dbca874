// Byte-level BPE (GPT-2, Llama 3, Qwen2, ...), implemented from the algorithm's definition and
// checked against Hugging Face tokenizers' output (llama.cpp's ggml-vocab-* suites and
// bpe-tokenizer-vectors.json):
//   1. the pre-tokenizer cuts the text into pieces (pretokenize.cpp);
//   2. each piece starts as one symbol per byte, each byte being the token of its character
//      in GPT-2's byte alphabet; with ignore_merges a piece that is itself a token is kept;
//   3. the adjacent pair of lowest merge rank is merged (leftmost among equal ranks) until no
//      adjacent pair has a merge; every symbol is then a token.
// Merges are looked up by the pair of token ids, never by strings, and each distinct piece is
// encoded once per call (natural text repeats its words).
#include <algorithm>
#include <array>
#include <unordered_map>

#include "core/error.hpp"
#include "tokenize/bpe.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::tokenize {

struct BpeModel::Data {
  std::unique_ptr<PreTokenizer> pre;
  std::unordered_map<std::string, int32_t> by_bytes;  // raw bytes of a normal token -> id
  std::array<int32_t, 256> byte_id;                   // -1: the vocabulary lacks that byte
  struct Merge {
    int32_t rank;
    int32_t id;
  };
  std::unordered_map<uint64_t, Merge> merges;  // (left id << 32 | right id) -> merge
  bool ignore_merges = false;
  int32_t unk_id = -1;

  static uint64_t key(int32_t left, int32_t right) {
    return static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32 | static_cast<uint32_t>(right);
  }
};

BpeModel::BpeModel(const Vocabulary& vocab, const std::vector<std::string>& surfaces)
    : data_(std::make_unique<Data>()) {
  Data& d = *data_;
  d.pre = std::make_unique<PreTokenizer>(vocab.pre_splits);
  d.ignore_merges = vocab.ignore_merges;
  d.unk_id = vocab.unk_id >= 0 && vocab.unk_id < vocab.size() ? vocab.unk_id : -1;
  std::unordered_map<std::string_view, int32_t> by_piece;
  by_piece.reserve(vocab.tokens.size());
  d.by_bytes.reserve(vocab.tokens.size());
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const TokenType type =
        id < static_cast<int32_t>(vocab.types.size()) ? vocab.types[id] : TokenType::kNormal;
    by_piece.emplace(vocab.tokens[id], id);  // the first of duplicated pieces wins
    // Only tokens merges can form take part; added and control tokens are matched as text
    // before BPE runs.
    if (type == TokenType::kNormal || type == TokenType::kUndefined || type == TokenType::kByte)
      d.by_bytes.emplace(surfaces[id], id);
  }
  d.byte_id.fill(-1);
  for (int b = 0; b < 256; ++b) {
    const auto it = d.by_bytes.find(std::string(1, static_cast<char>(b)));
    if (it != d.by_bytes.end()) d.byte_id[b] = it->second;
  }
  d.merges.reserve(vocab.merges.size());
  for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
    const std::string& merge = vocab.merges[rank];
    // "left right": the separator is the first space after the first character, as a piece
    // never contains a space in byte-level form but may be one in other forms.
    const size_t space = merge.find(' ', 1);
    if (space == std::string::npos) fail("BPE merge {} '{}' is not two tokens", rank, merge);
    const std::string_view left(merge.data(), space);
    const std::string_view right(merge.data() + space + 1, merge.size() - space - 1);
    const auto l = by_piece.find(left);
    const auto r = by_piece.find(right);
    const auto m = by_piece.find(std::string(left) + std::string(right));
    // A merge whose parts or result are not tokens can never produce a token: Hugging Face
    // refuses such files, llama.cpp never completes such a merge into a token either.
    if (l == by_piece.end() || r == by_piece.end() || m == by_piece.end()) continue;
    d.merges.emplace(Data::key(l->second, r->second),
                     Data::Merge{static_cast<int32_t>(rank), m->second});  // first rank wins
  }
}

BpeModel::~BpeModel() = default;

void BpeModel::encode(std::string_view text, std::vector<int32_t>& out) const {
  const Data& d = *data_;
  if (text.empty()) return;
  if (text.size() >= (size_t{1} << 32) - 1)
    fail("text of {} bytes is too long to tokenize at once (limit 4 GiB)", text.size());
  std::vector<Piece> pieces;
  d.pre->split(text, {0, static_cast<uint32_t>(text.size())}, pieces);

  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
  };
  struct Pair {
    int32_t rank;
    int32_t left;  // symbol index
    int32_t left_id;
    int32_t right_id;
    int32_t merged;
  };
  // Min-heap order: lowest rank first, then the leftmost pair.
  auto later = [](const Pair& a, const Pair& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  };
  std::vector<Symbol> symbols;
  std::vector<Pair> heap;
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> cache;  // piece -> ids
  std::vector<int32_t> cached_ids;

  auto add_pair = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    const auto it = d.merges.find(Data::key(symbols[left].id, symbols[right].id));
    if (it == d.merges.end()) return;
    heap.push_back({it->second.rank, left, symbols[left].id, symbols[right].id, it->second.id});
    std::push_heap(heap.begin(), heap.end(), later);
  };

  for (const Piece piece : pieces) {
    const std::string_view word = text.substr(piece.begin, piece.end - piece.begin);
    if (const auto hit = cache.find(word); hit != cache.end()) {
      out.insert(out.end(), cached_ids.begin() + hit->second.first,
                 cached_ids.begin() + hit->second.first + hit->second.second);
      continue;
    }
    const size_t first = out.size();
    const auto whole = d.ignore_merges ? d.by_bytes.find(std::string(word)) : d.by_bytes.end();
    if (whole != d.by_bytes.end()) {
      out.push_back(whole->second);
    } else {
      symbols.clear();
      heap.clear();
      for (const char c : word) {
        const int32_t id = d.byte_id[static_cast<unsigned char>(c)];
        if (id < 0) {
          // A vocabulary without the full byte alphabet cannot spell this byte.
          if (d.unk_id >= 0) out.push_back(d.unk_id);
          continue;
        }
        const auto index = static_cast<int32_t>(symbols.size());
        symbols.push_back({id, index - 1, index + 1});
      }
      if (!symbols.empty()) symbols.back().next = -1;
      for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) add_pair(i);
      while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), later);
        const Pair pair = heap.back();
        heap.pop_back();
        Symbol& left = symbols[pair.left];
        // Stale when either side has since been merged into something else (ids only grow,
        // so an unchanged pair of ids means the pair is still there).
        if (left.id != pair.left_id || left.next < 0 || symbols[left.next].id != pair.right_id)
          continue;
        Symbol& right = symbols[left.next];
        left.id = pair.merged;
        right.id = -1;
        left.next = right.next;
        if (left.next >= 0) symbols[left.next].prev = pair.left;
        add_pair(left.prev);
        add_pair(pair.left);
      }
      if (!symbols.empty()) {
        for (int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
      }
    }
    cache.emplace(word, std::pair<uint32_t, uint32_t>(static_cast<uint32_t>(cached_ids.size()),
                                                      static_cast<uint32_t>(out.size() - first)));
    cached_ids.insert(cached_ids.end(), out.begin() + static_cast<std::ptrdiff_t>(first),
                      out.end());
  }
}

namespace {

bool ends_turn(std::string_view piece) {
  static constexpr std::string_view kEndOfTurn[] = {
      "<|eot_id|>", "<|eom_id|>",      "<|im_end|>",
      "<|end|>",    "<end_of_turn>",   "<|endoftext|>",
      "</s>",       "<|end_of_text|>", "<｜end▁of▁sentence｜>"};
  return std::find(std::begin(kEndOfTurn), std::end(kEndOfTurn), piece) != std::end(kEndOfTurn);
}

}  // namespace

void fill_end_of_generation(Vocabulary& vocab) {
  vocab.eog_ids.clear();
  if (vocab.eos_id >= 0 && vocab.eos_id < vocab.size()) vocab.eog_ids.push_back(vocab.eos_id);
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const TokenType type =
        id < static_cast<int32_t>(vocab.types.size()) ? vocab.types[id] : TokenType::kNormal;
    // Only reserved tokens: a normal piece that happens to read "</s>" is text.
    if (type != TokenType::kControl && type != TokenType::kUserDefined) continue;
    if (ends_turn(vocab.tokens[id]) && id != vocab.eos_id) vocab.eog_ids.push_back(id);
  }
}

}  // namespace etch::tokenize
