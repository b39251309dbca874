// SentencePiece BPE encoding and decoding, implemented from the algorithm's definition and
// checked against SentencePiece's own output (tokenizer-vectors.json) and llama.cpp's
// tokenizer suite (ggml-vocab-llama-spm).
//
// Encoding, as SentencePiece's BPE model does it:
//   1. spaces become U+2581 ("▁"), and one is prepended when the vocabulary asks for the
//      dummy prefix; user-defined pieces are matched first and never merged further;
//   2. the text is split into UTF-8 characters (an invalid byte is a character of its own);
//   3. the adjacent pair whose concatenation is a piece of highest score is merged, leftmost
//      first among equal scores, until no pair forms a piece;
//   4. each resulting symbol is emitted: a piece as its id (an UNUSED piece is split back into
//      the two symbols that formed it), and a character that is no piece as its UTF-8 byte
//      tokens <0xNN> (byte fallback), or as unk when the vocabulary lacks them.
//
// Speed comes from two facts. Merges are driven by a priority queue of candidate pairs, so a
// segment of n characters costs O(n log n). And the text is cut into independent segments
// before "▁" wherever no piece of the vocabulary could span the cut (a piece spans it only if
// it contains the preceding character followed by "▁"), which keeps each queue tiny.
#include <algorithm>
#include <array>
#include <cstring>

#include "core/error.hpp"
#include "tokenize/bpe.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::tokenize {
namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581
// What SentencePiece prints for an unknown token (its default unk_surface, " U+2047 ").
constexpr std::string_view kUnknownSurface = " \xE2\x81\x87 ";

uint64_t hash_bytes(const char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  // Byte by byte: a memcpy of variable size would be a library call on this hot path.
  uint64_t w = 0;
  for (size_t i = 0; i < n; ++i)
    w |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  h = (h ^ w) * 0x94d049bb133111ebull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h;
}

// An open-addressing map from byte strings to ids. The encoder looks up every candidate
// pair, so this is the hot path; it owns its keys so that the index stays valid however the
// Tokenizer that shares it is copied or moved.
class PieceTable {
 public:
  void insert(std::string_view key, int32_t id) {
    if ((count_ + 1) * 2 > slots_.size()) grow();
    insert_slot(key, id);
  }

  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const uint64_t hash = hash_bytes(key.data(), key.size());
    const auto tag = static_cast<uint32_t>(hash >> 32);
    size_t i = hash & mask_;
    while (true) {
      const Slot& slot = slots_[i];
      if (slot.id < 0) return -1;
      // Most lookups are misses (pairs that form no piece): the tag rejects them cheaply.
      if (slot.tag == tag && slot.length == key.size() && equal(slot, key)) return slot.id;
      i = (i + 1) & mask_;
    }
  }

  size_t size() const { return count_; }

 private:
  struct Slot {
    uint32_t offset = 0;
    uint32_t length = 0;
    uint32_t tag = 0;
    int32_t id = -1;
  };

  bool equal(const Slot& slot, std::string_view key) const {
    const char* stored = arena_.data() + slot.offset;
    for (size_t k = 0; k < key.size(); ++k) {
      if (stored[k] != key[k]) return false;
    }
    return true;
  }

  void insert_slot(std::string_view key, int32_t id) {
    const uint64_t hash = hash_bytes(key.data(), key.size());
    const auto tag = static_cast<uint32_t>(hash >> 32);
    size_t i = hash & mask_;
    while (slots_[i].id >= 0) {
      const Slot& slot = slots_[i];
      // The first id of a duplicated piece wins, as it would in a lookup by id order.
      if (slot.tag == tag && slot.length == key.size() && equal(slot, key)) return;
      i = (i + 1) & mask_;
    }
    slots_[i] = {static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(key.size()), tag, id};
    arena_.append(key);
    ++count_;
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t capacity = std::max<size_t>(16, old.size() * 2);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    std::string old_arena = std::move(arena_);
    arena_.clear();
    count_ = 0;
    for (const Slot& slot : old) {
      if (slot.id >= 0)
        insert_slot(std::string_view(old_arena).substr(slot.offset, slot.length), slot.id);
    }
  }

  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

// Length of the UTF-8 character starting at s[0], or 1 for a byte that does not start a
// well-formed one (so that arbitrary bytes still make progress and fall back to bytes).
size_t utf8_char_length(const unsigned char* s, size_t n) {
  const unsigned char c = s[0];
  if (c < 0x80) return 1;
  auto cont = [&](size_t i) { return i < n && (s[i] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 1;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 1;
    if (c == 0xE0 && s[1] < 0xA0) return 1;   // overlong
    if (c == 0xED && s[1] >= 0xA0) return 1;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 1;
    if (c == 0xF0 && s[1] < 0x90) return 1;   // overlong
    if (c == 0xF4 && s[1] >= 0x90) return 1;  // beyond U+10FFFF
    return 4;
  }
  return 1;
}

bool is_mergeable(TokenType type) {
  // SentencePiece merges into normal, user-defined and unused pieces; control, unknown and
  // byte pieces are reserved and never formed from text.
  return type == TokenType::kNormal || type == TokenType::kUserDefined ||
         type == TokenType::kUnused || type == TokenType::kUndefined;
}

// GPT-2's byte-level alphabet: printable bytes stand for themselves, the others are shifted
// to U+0100 and up (the highest is U+0143). Only its inverse is needed here, to decode
// byte-level BPE vocabularies: code point -> byte, -1 outside the alphabet.
std::array<int16_t, 512> byte_level_inverse() {
  std::array<int16_t, 512> inverse;
  inverse.fill(-1);
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    inverse[printable ? b : next++] = static_cast<int16_t>(b);
  }
  return inverse;
}

std::string decode_byte_level(const std::string& piece) {
  static const std::array<int16_t, 512> inverse = byte_level_inverse();
  std::string out;
  const auto* s = reinterpret_cast<const unsigned char*>(piece.data());
  for (size_t i = 0; i < piece.size();) {
    const size_t len = utf8_char_length(s + i, piece.size() - i);
    int cp = -1;
    if (len == 1 && s[i] < 0x80) cp = s[i];
    if (len == 2) cp = ((s[i] & 0x1F) << 6) | (s[i + 1] & 0x3F);
    if (cp >= 0 && cp < 512 && inverse[cp] >= 0) {
      out.push_back(static_cast<char>(inverse[cp]));
    } else {
      out.append(piece, i, len);  // outside the byte alphabet: as written
    }
    i += len;
  }
  return out;
}

int parse_byte_piece(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int value = 0;
  for (char c : piece.substr(3, 2)) {
    value <<= 4;
    if (c >= '0' && c <= '9')
      value |= c - '0';
    else if (c >= 'A' && c <= 'F')
      value |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      value |= c - 'a' + 10;
    else
      return -1;
  }
  return value;
}

std::string replace_space_symbol(std::string_view piece) {
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    if (piece.substr(i, 3) == kSpaceSymbol) {
      out.push_back(' ');
      i += 3;
    } else {
      out.push_back(piece[i++]);
    }
  }
  return out;
}

// Everything encode/decode look up, built once per vocabulary (Tokenizer::Index is this).
struct IndexData {
  TokenizerKind kind = TokenizerKind::kSentencePiece;
  PieceTable mergeable;                 // pieces BPE may form, with their ids
  std::vector<float> scores;            // per id, 0 where the vocabulary has none
  std::vector<TokenType> types;         // per id, normal where the vocabulary has none
  std::vector<std::string> surfaces;    // token_bytes per id
  std::array<int32_t, 256> byte_token;  // <0xNN> ids, -1 where absent
  size_t max_piece_bytes = 0;
  // Characters that precede "▁" inside some mergeable piece: no segment cut before such a "▁".
  PieceTable glue_before_space;
  // User-defined pieces by first byte, longest first: matched whole before any merging.
  std::array<std::vector<std::pair<std::string, int32_t>>, 256> user_defined;
  bool has_user_defined = false;
  // Tokens matched whole in the text before BPE runs, by first byte, longest first: control
  // tokens (only when the caller parses specials) and a byte-level vocabulary's added tokens.
  struct Special {
    std::string text;
    int32_t id;
    bool control;
  };
  std::array<std::vector<Special>, 256> specials;
  std::shared_ptr<const BpeModel> bpe;  // byte-level BPE vocabularies only
  int32_t bos_id = -1;
  int32_t unk_id = -1;
};

// The working state of one encode() call, reused across segments to avoid allocations.
class Encoder {
 public:
  Encoder(const IndexData& index, std::string_view text, std::vector<int32_t>& out)
      : index_(index), text_(text), out_(out), text_start_(out.size()) {}

  void run() {
    const auto* s = reinterpret_cast<const unsigned char*>(text_.data());
    const size_t n = text_.size();
    size_t segment_start = 0;
    size_t previous_char = 0;  // start of the character before `pos`
    size_t pos = 0;
    while (pos < n) {
      size_t len;
      const int32_t user = match_user_defined(pos, len);
      if (user < 0) len = utf8_char_length(s + pos, n - pos);
      if (pos > segment_start && user < 0 && text_.substr(pos, 3) == kSpaceSymbol &&
          index_.glue_before_space.find(text_.substr(previous_char, pos - previous_char)) < 0) {
        encode_segment(segment_start, pos);
        segment_start = pos;
      }
      previous_char = pos;
      pos += len;
    }
    encode_segment(segment_start, n);
  }

 private:
  struct Symbol {
    uint32_t start;
    uint32_t length;
    int32_t prev;
    int32_t next;
    int32_t node;
    bool frozen;
  };
  // How a symbol was formed, so that an UNUSED piece can be split back.
  struct Node {
    uint32_t start;
    uint32_t length;
    int32_t id;  // -1 for a character that is not a mergeable piece, -2 not looked up yet
    int32_t left;
    int32_t right;
  };
  struct Pair {
    float score;
    int32_t left;
    int32_t right;
    uint32_t length;
    int32_t id;
  };
  // Max-heap order: higher score first, then the leftmost pair.
  static bool lower_priority(const Pair& a, const Pair& b) {
    if (a.score != b.score) return a.score < b.score;
    return a.left > b.left;
  }

  int32_t match_user_defined(size_t pos, size_t& length) const {
    if (!index_.has_user_defined) return -1;
    for (const auto& [piece, id] : index_.user_defined[static_cast<unsigned char>(text_[pos])]) {
      if (text_.compare(pos, piece.size(), piece) == 0) {
        length = piece.size();
        return id;
      }
    }
    return -1;
  }

  // Natural text repeats its words, so each distinct segment is encoded once per call. The
  // cache lives only as long as the call: encode() stays const and thread-safe.
  void encode_segment(size_t begin, size_t end) {
    if (begin == end) return;
    const std::string_view segment = text_.substr(begin, end - begin);
    if (segment.size() > kMaxCachedSegment) {
      segment_ids_.clear();
      compute_segment(begin, end);
      append(segment_ids_.data(), segment_ids_.size());
      return;
    }
    if ((cache_count_ + 1) * 2 > cache_.size()) grow_cache();
    size_t slot = hash_bytes(segment.data(), segment.size()) & (cache_.size() - 1);
    while (cache_[slot].length != 0) {
      const CacheEntry& entry = cache_[slot];
      if (entry.length == segment.size() &&
          std::memcmp(text_.data() + entry.offset, segment.data(), segment.size()) == 0) {
        append(cache_ids_.data() + entry.ids_offset, entry.ids_count);
        return;
      }
      slot = (slot + 1) & (cache_.size() - 1);
    }
    segment_ids_.clear();
    compute_segment(begin, end);
    cache_[slot] = {static_cast<uint32_t>(begin), static_cast<uint32_t>(segment.size()),
                    cache_ids_.size(), static_cast<uint32_t>(segment_ids_.size())};
    ++cache_count_;
    cache_ids_.insert(cache_ids_.end(), segment_ids_.begin(), segment_ids_.end());
    append(segment_ids_.data(), segment_ids_.size());
  }

  void append(const int32_t* ids, size_t count) {
    if (count == 0) return;
    // SentencePiece merges a run of unknown characters into one unknown token, also across
    // segments.
    if (ids[0] == index_.unk_id && out_.size() > text_start_ && out_.back() == index_.unk_id) {
      ++ids;
      --count;
    }
    out_.insert(out_.end(), ids, ids + count);
  }

  void grow_cache() {
    std::vector<CacheEntry> old = std::move(cache_);
    cache_.assign(std::max<size_t>(64, old.size() * 2), CacheEntry{});
    for (const CacheEntry& entry : old) {
      if (entry.length == 0) continue;
      size_t slot = hash_bytes(text_.data() + entry.offset, entry.length) & (cache_.size() - 1);
      while (cache_[slot].length != 0) slot = (slot + 1) & (cache_.size() - 1);
      cache_[slot] = entry;
    }
  }

  void compute_segment(size_t begin, size_t end) {
    symbols_.clear();
    nodes_.clear();
    heap_.clear();
    const auto* s = reinterpret_cast<const unsigned char*>(text_.data());
    for (size_t pos = begin; pos < end;) {
      size_t len;
      const int32_t user = match_user_defined(pos, len);
      if (user < 0) len = utf8_char_length(s + pos, end - pos);
      const auto index = static_cast<int32_t>(symbols_.size());
      nodes_.push_back(
          {static_cast<uint32_t>(pos), static_cast<uint32_t>(len), user >= 0 ? user : -2, -1, -1});
      symbols_.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(len), index - 1,
                          index + 1, index, user >= 0});
      pos += len;
    }
    symbols_.back().next = -1;
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols_.size()); ++i) add_pair(i, i + 1);

    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), lower_priority);
      const Pair pair = heap_.back();
      heap_.pop_back();
      Symbol& left = symbols_[pair.left];
      Symbol& right = symbols_[pair.right];
      // Symbols only grow, so unchanged lengths mean the pair is still adjacent and current.
      if (left.length == 0 || right.length == 0 || left.length + right.length != pair.length) {
        continue;
      }
      nodes_.push_back({left.start, pair.length, pair.id, left.node, right.node});
      left.node = static_cast<int32_t>(nodes_.size() - 1);
      left.length = pair.length;
      left.next = right.next;
      if (right.next >= 0) symbols_[right.next].prev = pair.left;
      right.length = 0;
      add_pair(left.prev, pair.left);
      add_pair(pair.left, left.next);
    }

    for (int32_t i = 0; i >= 0; i = symbols_[i].next) emit(symbols_[i].node);
  }

  void add_pair(int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& a = symbols_[left];
    const Symbol& b = symbols_[right];
    if (a.frozen || b.frozen) return;
    const size_t length = a.length + b.length;
    if (length > index_.max_piece_bytes) return;
    const int32_t id = index_.mergeable.find(text_.substr(a.start, length));
    if (id < 0) return;
    heap_.push_back({index_.scores[id], left, right, static_cast<uint32_t>(length), id});
    std::push_heap(heap_.begin(), heap_.end(), lower_priority);
  }

  void emit(int32_t root) {
    stack_.clear();
    stack_.push_back(root);
    while (!stack_.empty()) {
      Node& node = nodes_[stack_.back()];
      stack_.pop_back();
      if (node.id == -2) node.id = index_.mergeable.find(text_.substr(node.start, node.length));
      if (node.id >= 0 && index_.types[node.id] != TokenType::kUnused) {
        segment_ids_.push_back(node.id);
        continue;
      }
      if (node.left >= 0) {
        stack_.push_back(node.right);  // right below left: the left half is emitted first
        stack_.push_back(node.left);
        continue;
      }
      fall_back(node.start, node.length);
    }
  }

  void fall_back(size_t start, size_t length) {
    bool all_bytes = true;
    for (size_t i = 0; i < length; ++i) {
      all_bytes = all_bytes && index_.byte_token[static_cast<unsigned char>(text_[start + i])] >= 0;
    }
    if (all_bytes) {
      for (size_t i = 0; i < length; ++i) {
        segment_ids_.push_back(index_.byte_token[static_cast<unsigned char>(text_[start + i])]);
      }
    } else if (index_.unk_id >= 0 &&
               (segment_ids_.empty() || segment_ids_.back() != index_.unk_id)) {
      segment_ids_.push_back(index_.unk_id);
    }
  }

  const IndexData& index_;
  std::string_view text_;
  std::vector<int32_t>& out_;
  const size_t text_start_;  // where this text's ids begin in out_ (after BOS)
  std::vector<Symbol> symbols_;
  std::vector<Node> nodes_;
  std::vector<Pair> heap_;
  std::vector<int32_t> stack_;
  std::vector<int32_t> segment_ids_;

  static constexpr size_t kMaxCachedSegment = 64;
  struct CacheEntry {
    uint32_t offset = 0;  // of the segment's first occurrence in text_
    uint32_t length = 0;  // 0: empty slot
    size_t ids_offset = 0;
    uint32_t ids_count = 0;
  };
  std::vector<CacheEntry> cache_;
  size_t cache_count_ = 0;
  std::vector<int32_t> cache_ids_;
};

}  // namespace

struct Tokenizer::Index : IndexData {};

Tokenizer::Tokenizer(Vocabulary vocab) : vocab_(std::move(vocab)) {
  auto index = std::make_shared<Index>();
  const int32_t size = vocab_.size();
  auto valid = [&](int32_t id) { return id >= 0 && id < size ? id : -1; };
  index->kind = vocab_.kind;
  index->bos_id = valid(vocab_.bos_id);
  index->unk_id = valid(vocab_.unk_id);
  index->byte_token.fill(-1);
  index->scores.assign(static_cast<size_t>(size), 0.0f);
  index->types.assign(static_cast<size_t>(size), TokenType::kNormal);
  index->surfaces.resize(static_cast<size_t>(size));
  for (int32_t id = 0; id < size; ++id) {
    if (static_cast<size_t>(id) < vocab_.scores.size()) index->scores[id] = vocab_.scores[id];
    if (static_cast<size_t>(id) < vocab_.types.size()) index->types[id] = vocab_.types[id];
  }

  for (int32_t id = 0; id < size; ++id) {
    const std::string& piece = vocab_.tokens[id];
    const TokenType type = index->types[id];
    std::string& surface = index->surfaces[id];
    if ((type == TokenType::kControl ||
         (type == TokenType::kUserDefined && vocab_.kind == TokenizerKind::kByteLevelBpe)) &&
        !piece.empty()) {
      index->specials[static_cast<unsigned char>(piece[0])].push_back(
          {piece, id, type == TokenType::kControl});
    }
    if (vocab_.kind == TokenizerKind::kByteLevelBpe) {
      // Added (user-defined) tokens are stored as plain text, not in the byte alphabet.
      if (type == TokenType::kUserDefined) {
        surface = piece;
      } else if (type != TokenType::kControl) {
        surface = decode_byte_level(piece);
      }
      continue;
    }
    switch (type) {
      case TokenType::kControl:
        break;
      case TokenType::kUnknown:
        surface = kUnknownSurface;
        break;
      case TokenType::kByte: {
        const int byte = parse_byte_piece(piece);
        if (byte >= 0) {
          surface = std::string(1, static_cast<char>(byte));
          if (index->byte_token[byte] < 0) index->byte_token[byte] = id;
        } else {
          surface = piece;
        }
        break;
      }
      default:
        surface = replace_space_symbol(piece);
        break;
    }
    if (!is_mergeable(type) || piece.empty()) continue;
    index->mergeable.insert(piece, id);
    index->max_piece_bytes = std::max(index->max_piece_bytes, piece.size());
    if (type == TokenType::kUserDefined) {
      index->user_defined[static_cast<unsigned char>(piece[0])].emplace_back(piece, id);
      index->has_user_defined = true;
    }
    // Record which characters a "▁" can follow inside a piece (see the segmentation above).
    const auto* s = reinterpret_cast<const unsigned char*>(piece.data());
    size_t previous = 0;
    for (size_t pos = 0; pos < piece.size();) {
      const size_t len = utf8_char_length(s + pos, piece.size() - pos);
      if (pos > 0 && std::string_view(piece).substr(pos, 3) == kSpaceSymbol) {
        index->glue_before_space.insert(std::string_view(piece).substr(previous, pos - previous),
                                        0);
      }
      previous = pos;
      pos += len;
    }
  }
  for (auto& candidates : index->user_defined) {
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  }
  for (auto& candidates : index->specials) {
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const auto& a, const auto& b) { return a.text.size() > b.text.size(); });
  }
  if (vocab_.kind == TokenizerKind::kByteLevelBpe)
    index->bpe = std::make_shared<const BpeModel>(vocab_, index->surfaces);
  index_ = std::move(index);
}

namespace {

// SentencePiece encoding of one fragment of text (between special tokens), appended to out.
void encode_sentencepiece(const IndexData& index, const Vocabulary& vocab, std::string_view text,
                          bool space_prefix, std::vector<int32_t>& out) {
  if (vocab.remove_extra_whitespaces) {
    // SentencePiece strips leading and trailing spaces and collapses runs of them; only
    // U+0020 counts, as the identity normalizer maps no other character to it.
    const size_t first = text.find_first_not_of(' ');
    if (first == std::string_view::npos) return;
    text = text.substr(first, text.find_last_not_of(' ') - first + 1);
  }
  if (text.empty()) return;

  std::string normalized;
  normalized.reserve(text.size() + text.size() / 2 + 3);
  if (space_prefix) normalized.append(kSpaceSymbol);
  bool previous_space = false;
  for (const char c : text) {
    if (c == ' ') {
      if (!(vocab.remove_extra_whitespaces && previous_space)) normalized.append(kSpaceSymbol);
      previous_space = true;
    } else {
      normalized.push_back(c);
      previous_space = false;
    }
  }
  // Positions are 32-bit inside the encoder to keep its working set small.
  if (normalized.size() >= (size_t{1} << 31)) {
    fail("text of {} bytes is too long to tokenize at once (limit 2 GiB)", text.size());
  }
  out.reserve(out.size() + normalized.size() / 3 + 4);
  Encoder(index, normalized, out).run();
}

}  // namespace

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  if (add_bos && index_->bos_id >= 0) out.push_back(index_->bos_id);
  // Text between special tokens is encoded on its own; SentencePiece's dummy prefix goes
  // before the first fragment and after each special token, as llama.cpp does.
  bool after_special = true;
  auto encode_fragment = [&](std::string_view fragment) {
    if (fragment.empty()) return;
    if (index_->bpe) {
      index_->bpe->encode(fragment, out);
    } else {
      encode_sentencepiece(*index_, vocab_, fragment, vocab_.add_space_prefix && after_special,
                           out);
    }
    after_special = false;
  };
  size_t start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const IndexData::Special* found = nullptr;
    for (const auto& special : index_->specials[static_cast<unsigned char>(text[pos])]) {
      if ((parse_special || !special.control) &&
          text.compare(pos, special.text.size(), special.text) == 0) {
        found = &special;
        break;
      }
    }
    if (!found) {
      ++pos;
      continue;
    }
    encode_fragment(text.substr(start, pos - start));
    out.push_back(found->id);
    after_special = true;
    pos += found->text.size();
    start = pos;
  }
  encode_fragment(text.substr(start));
  return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= vocab_.size())
    fail("token id {} out of range (vocabulary of {})", id, vocab_.size());
  return index_->surfaces[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool special) const {
  // SentencePiece's rule for the dummy prefix: pieces may lose their leading "▁" until one
  // has (only one, unless extra whitespace was removed: then all leading ones) or until
  // anything was written. Control tokens write nothing; byte tokens are real text (a leading
  // <0x20> is a space the input had). Unlike SentencePiece, invalid UTF-8 from byte tokens is
  // kept as bytes rather than replaced by U+FFFD, so that arbitrary bytes round-trip.
  const bool strip = index_->kind == TokenizerKind::kSentencePiece &&
                     (vocab_.add_space_prefix || vocab_.remove_extra_whitespaces);
  std::string out;
  bool may_strip = true;
  bool stripped = false;
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_.size())
      fail("token id {} out of range (vocabulary of {})", id, vocab_.size());
    const TokenType type = index_->types[id];
    const std::string& surface =
        special && type == TokenType::kControl ? vocab_.tokens[id] : index_->surfaces[id];
    if (type == TokenType::kByte) {
      out.append(surface);
      continue;
    }
    if (stripped || !out.empty()) may_strip = false;
    stripped = false;
    if (strip && may_strip && is_mergeable(type) &&
        std::string_view(vocab_.tokens[id]).starts_with(kSpaceSymbol)) {
      out.append(surface, 1);
      // With extra whitespace removed, every leading space was the normalizer's.
      stripped = !vocab_.remove_extra_whitespaces;
    } else {
      out.append(surface);
    }
  }
  return out;
}

const std::string& Tokenizer::piece(int32_t id) const {
  if (id < 0 || id >= vocab_.size())
    fail("token id {} out of range (vocabulary of {})", id, vocab_.size());
  return vocab_.tokens[id];
}

}  // namespace etch::tokenize
