// The .etch container (docs/etch-format.md): a 64-byte header, JSON metadata, then 64-byte
// aligned binary sections, each with an XXH64 checksum. The reader treats the file as hostile.
#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "compile/compile.hpp"
#include "compile/format.hpp"
#include "core/error.hpp"
#include "core/half.hpp"
#include "core/output_file.hpp"

namespace etch::compile {

namespace {

constexpr char kMagic[8] = {'E', 'T', 'C', 'H', 'C', 'H', 'I', 'P'};
constexpr uint64_t kHeaderBytes = 64;
constexpr uint64_t kAlign = 64;

struct Header {
  char magic[8];
  uint32_t major, minor;
  uint64_t json_offset, json_bytes, json_xxh64, file_bytes;
  uint8_t reserved[16];
};
static_assert(sizeof(Header) == kHeaderBytes);

uint64_t align_up(uint64_t x) {
  return (x + kAlign - 1) / kAlign * kAlign;
}

nlohmann::json config_to_json(const import::ModelConfig& c) {
  return {{"architecture", c.architecture},
          {"vocab_size", c.vocab_size},
          {"hidden_size", c.hidden_size},
          {"layers", c.layers},
          {"heads", c.heads},
          {"kv_heads", c.kv_heads},
          {"head_dim", c.head_dim},
          {"ffn_size", c.ffn_size},
          {"context_length", c.context_length},
          {"rms_eps", c.rms_eps},
          {"rope_dims", c.rope.dims},
          {"rope_interleaved", c.rope.layout == import::RopeLayout::kInterleaved},
          {"rope_theta", c.rope.theta},
          {"tied_embeddings", c.tied_embeddings},
          {"qkv_bias", c.qkv_bias}};
}

nlohmann::json vocab_to_json(const tokenize::Vocabulary& v) {
  std::vector<int32_t> types;
  for (auto t : v.types) types.push_back(static_cast<int32_t>(t));
  nlohmann::json splits = nlohmann::json::array();
  for (const auto& step : v.pre_splits)
    splits.push_back({{"pattern", step.pattern},
                      {"behavior", static_cast<int>(step.behavior)},
                      {"invert", step.invert}});
  return {{"kind",
           v.kind == tokenize::TokenizerKind::kSentencePiece ? "sentencepiece" : "byte-level-bpe"},
          {"scores", v.scores},
          {"types", types},
          {"merges", v.merges},
          {"pre_tokenizer", v.pre_tokenizer},
          {"pre_splits", splits},
          {"ignore_merges", v.ignore_merges},
          {"chat_template", v.chat_template},
          {"bos_id", v.bos_id},
          {"eos_id", v.eos_id},
          {"unk_id", v.unk_id},
          {"pad_id", v.pad_id},
          {"eog_ids", v.eog_ids},
          {"add_bos", v.add_bos},
          {"add_eos", v.add_eos},
          {"add_space_prefix", v.add_space_prefix},
          {"remove_extra_whitespaces", v.remove_extra_whitespaces}};
}

// A matrix's codes section: sub-byte codes in code groups have their own name (.etch 1.3), so
// that a reader of 1.2, which took every codes section row by row, fails on a missing section
// rather than misread them.
std::string codes_section(const std::string& matrix, int bits) {
  return matrix + (grouped_codes(bits) ? ".code_groups" : ".codes");
}

}  // namespace

uint64_t MatrixView::code_bytes() const {
  if (!grouped_codes(bits)) return static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols);
  return code_group_offset(code_blocks(), 0);
}

uint64_t MatrixView::multiplier_bytes() const {
  if (multiplier_bits == 0) return 0;
  if (!grouped_codes(bits)) return static_cast<uint64_t>(rows * groups());
  return static_cast<uint64_t>(code_blocks() * groups() * kCodeBlockRows);
}

uint64_t MatrixView::code_bit(int64_t r, int64_t j, int i) const {
  if (!grouped_codes(bits))
    return (static_cast<uint64_t>(r) * static_cast<uint64_t>(cols) + static_cast<uint64_t>(j)) * 8 +
           static_cast<uint64_t>(i);
  const auto lane = static_cast<uint64_t>(r % kCodeBlockRows * 2 + j % 2);
  const auto bit = static_cast<uint64_t>(j % kCodeGroupColumns / 2 * bits + i);
  const uint64_t byte =
      code_group_offset(r / kCodeBlockRows, j / kCodeGroupColumns) + bit / 16 * 64 + lane * 2;
  return byte * 8 + bit % 16;
}

uint32_t MatrixView::code(int64_t row, int64_t j) const {
  uint32_t c = 0;
  for (int i = 0; i < bits; ++i) {
    const uint64_t bit = code_bit(row, j, i);
    c |= static_cast<uint32_t>(codes[bit / 8] >> (bit % 8) & 1u) << i;
  }
  return c;
}

void MatrixView::decode_row(int64_t r, int8_t* out) const {
  const int8_t* table = levels.data() + (r / contract::kTileRows) * (int64_t{1} << bits);
  for (int64_t j = 0; j < cols; ++j) out[j] = table[code(r, j)];
}

MatrixView Matrix::view() const {
  return {name,   format.kind, format.bits, format.multiplier_bits, rows, cols, format.group, codes,
          levels, multipliers, scales};
}

uint64_t EtchModel::parameters() const {
  uint64_t n = 0;
  for (const auto& m : matrices) n += static_cast<uint64_t>(m.rows * m.cols);
  return n;
}

uint64_t EtchModel::rom_bits() const {
  uint64_t n = 0;
  for (const auto& m : matrices) n += m.rom_bits();
  return n;
}

uint64_t EtchModel::sram_bytes(int64_t context) const {
  const auto& c = config;
  uint64_t bytes =
      static_cast<uint64_t>(c.layers * 2 + 1) * static_cast<uint64_t>(c.hidden_size) * 4;
  for (const Biases& b : biases) bytes += (b.q.size() + b.k.size() + b.v.size() + b.o.size()) * 4;
  bytes += static_cast<uint64_t>(rope_positions) * static_cast<uint64_t>(c.rope.dims / 2) * 2 * 4;
  bytes += static_cast<uint64_t>(context) *
           contract::kv_bits_per_token(c.layers, c.kv_heads, c.head_dim) / 8;
  if (adapter) bytes += adapter->sram_bits() / 8;
  return bytes;
}

void write_etch(const std::string& path, const EtchContents& contents) {
  struct Section {
    std::string name;
    const void* data;
    uint64_t bytes;
  };
  std::vector<Section> sections;
  auto add = [&](std::string name, const void* data, uint64_t bytes) {
    sections.push_back({std::move(name), data, bytes});
  };

  // Token pieces as length-prefixed bytes: they need not be valid UTF-8, so not JSON strings.
  std::string tokens;
  for (const auto& t : contents.vocab.tokens) {
    const auto n = static_cast<uint32_t>(t.size());
    tokens.append(reinterpret_cast<const char*>(&n), 4);
    tokens += t;
  }
  add("vocab.tokens", tokens.data(), tokens.size());
  nlohmann::json tensors = nlohmann::json::array();
  for (const Matrix& m : contents.matrices) {
    add(codes_section(m.name, m.format.bits), m.codes.data(), m.codes.size());
    add(m.name + ".levels", m.levels.data(), m.levels.size());
    add(m.name + ".multipliers", m.multipliers.data(), m.multipliers.size());
    add(m.name + ".scales", m.scales.data(), m.scales.size() * 4);
    tensors.push_back({{"name", m.name},
                       {"format", contract::format_name(m.format.kind)},
                       {"bits", m.format.bits},
                       {"multiplier_bits", m.format.multiplier_bits},
                       {"rows", m.rows},
                       {"cols", m.cols},
                       {"group", m.format.group},
                       {"rom_bits", m.view().rom_bits()}});
  }
  for (const auto& [name, values] : contents.vectors) add(name, values.data(), values.size() * 4);
  nlohmann::json adapter;  // null without one
  if (const SramAdapter* a = contents.adapter) {
    nlohmann::json matrices = nlohmann::json::array();
    for (const SramLoraMatrix& lm : a->matrices) {
      const std::string name = "lora." + etch_name(lm.role, lm.layer);
      add(name + ".a", lm.a.data(), lm.a.size());
      add(name + ".a_scales", lm.a_scales.data(), lm.a_scales.size() * 4);
      add(name + ".b", lm.b.data(), lm.b.size());
      add(name + ".b_scales", lm.b_scales.data(), lm.b_scales.size() * 4);
      matrices.push_back(
          {{"name", etch_name(lm.role, lm.layer)}, {"rank", lm.rank}, {"scale", lm.scale}});
    }
    adapter = {{"name", a->name}, {"scale", a->default_scale}, {"matrices", matrices}};
  }

  nlohmann::json config = config_to_json(contents.config);
  config["o_bias"] = contents.o_bias;
  nlohmann::json meta = {{"contract_version", contract::kVersion},
                         {"config", config},
                         {"tokenizer", vocab_to_json(contents.vocab)},
                         {"recipe", contents.recipe},
                         {"calibration", contents.calibration},
                         {"rope_positions", contents.rope_positions},
                         {"tensors", tensors}};
  if (!adapter.is_null()) meta["adapter"] = adapter;
  uint64_t offset = 0;  // relative to the data start, fixed below
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : sections) {
    list.push_back({{"name", s.name},
                    {"offset", offset},
                    {"bytes", s.bytes},
                    {"xxh64", XXH64(s.data, s.bytes, 0)}});
    offset = align_up(offset + s.bytes);
  }
  meta["sections"] = list;
  // Offsets are absolute: the JSON's own length moves the data, so lay it out twice.
  std::string json;
  uint64_t data_start = 0;
  for (int pass = 0; pass < 3; ++pass) {
    json = meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const uint64_t start = align_up(kHeaderBytes + json.size());
    if (start == data_start) break;
    data_start = start;
    uint64_t at = data_start;
    for (size_t i = 0; i < sections.size(); ++i) {
      meta["sections"][i]["offset"] = at;
      at = align_up(at + sections[i].bytes);
    }
  }
  const uint64_t file_bytes =
      meta["sections"].empty()
          ? data_start
          : align_up(meta["sections"].back()["offset"].get<uint64_t>() + sections.back().bytes);
  Header header{};
  std::memcpy(header.magic, kMagic, 8);
  header.major = kFormatMajor;
  header.minor = kFormatMinor;
  header.json_offset = kHeaderBytes;
  header.json_bytes = json.size();
  header.json_xxh64 = XXH64(json.data(), json.size(), 0);
  header.file_bytes = file_bytes;

  OutputFile out(path);
  out.write(&header, sizeof header);
  out.write(json);
  uint64_t at = kHeaderBytes + json.size();
  const std::string zeros(kAlign, '\0');
  for (size_t i = 0; i < sections.size(); ++i) {
    const uint64_t target = meta["sections"][i]["offset"].get<uint64_t>();
    out.write(zeros.data(), target - at);
    out.write(sections[i].data, sections[i].bytes);
    at = target + sections[i].bytes;
  }
  out.write(zeros.data(), file_bytes - at);
  // Read back through the full validating reader (checksums included) before it replaces
  // anything.
  out.commit([](const std::string& written) { read_etch(written); });
}

std::string etch_name(import::Role role, int64_t layer) {
  // The GGUF names without their ".weight" / ".bias" type suffix, biases as "<matrix>.bias".
  std::string name = import::gguf_name(role, layer);
  if (name.ends_with(".weight")) name.resize(name.size() - 7);
  return name;
}

size_t matrix_index(import::Role role, int64_t layer, int64_t layers) {
  if (role == import::Role::kTokenEmbedding) return 0;
  if (role == import::Role::kOutput) return static_cast<size_t>(1 + layers * 7);
  for (size_t i = 0; i < import::kLayerMatrices.size(); ++i)
    if (import::kLayerMatrices[i] == role && layer >= 0 && layer < layers)
      return static_cast<size_t>(1 + layer * 7) + i;
  fail("internal: no matrix for role {} in layer {}", static_cast<int>(role), layer);
}

const MatrixView& EtchModel::matrix(import::Role role, int64_t layer) const {
  return matrices[matrix_index(role, layer, config.layers)];
}

bool is_etch_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  return in.read(magic, 8) && std::memcmp(magic, kMagic, 8) == 0;
}

EtchModel read_etch(const std::string& path) {
  return parse_etch(std::make_shared<const MappedFile>(path));
}

EtchModel parse_etch(SharedMappedFile file) {
  const std::string& path = file->path();
  const uint8_t* base = file->data();
  const uint64_t size = file->size();
  if (size < kHeaderBytes)
    fail_file(path, "truncated: {} bytes, shorter than the .etch header", size);
  Header header;
  std::memcpy(&header, base, sizeof header);
  if (std::memcmp(header.magic, kMagic, 8) != 0) fail_file(path, "not a .etch file (bad magic)");
  if (header.major != static_cast<uint32_t>(kFormatMajor))
    fail_file(path, ".etch format version {}.{} is not supported (this etch reads {}.x)",
              header.major, header.minor, kFormatMajor);
  if (header.file_bytes != size)
    fail_file(path, "truncated or padded: header says {} bytes, file has {}", header.file_bytes,
              size);
  if (header.json_offset != kHeaderBytes || header.json_bytes > size - kHeaderBytes)
    fail_file(path, "metadata range [{}, +{}) outside the file", header.json_offset,
              header.json_bytes);
  const char* json_text = reinterpret_cast<const char*>(base + kHeaderBytes);
  if (XXH64(json_text, header.json_bytes, 0) != header.json_xxh64)
    fail_file(path, "metadata checksum mismatch (corrupted)");

  EtchModel m;
  m.path = path;
  m.file = file;
  try {
    const nlohmann::json meta = nlohmann::json::parse(json_text, json_text + header.json_bytes);
    m.contract_version = meta.at("contract_version").get<int>();
    if (m.contract_version != contract::kVersion)
      fail_file(path,
                "was built for numeric contract v{}, but this etch computes contract v{}: "
                "rebuild it from the model with `etch build`",
                m.contract_version, contract::kVersion);
    m.recipe = meta.at("recipe").get<std::string>();
    m.calibration = meta.at("calibration").get<std::string>();

    // Sections: inside the file, aligned, checksummed.
    std::map<std::string, std::span<const uint8_t>> sections;
    for (const auto& s : meta.at("sections")) {
      const auto name = s.at("name").get<std::string>();
      const auto offset = s.at("offset").get<uint64_t>(), bytes = s.at("bytes").get<uint64_t>();
      if (offset % kAlign != 0 || offset > size || bytes > size - offset)
        fail_file(path, "section '{}' [{}, +{}) is misaligned or outside the file", name, offset,
                  bytes);
      if (XXH64(base + offset, bytes, 0) != s.at("xxh64").get<uint64_t>())
        fail_file(path, "section '{}' checksum mismatch (corrupted)", name);
      sections[name] = {base + offset, bytes};
    }
    auto section = [&](const std::string& name, uint64_t expected) {
      auto it = sections.find(name);
      if (it == sections.end()) fail_file(path, "section '{}' is missing", name);
      if (it->second.size() != expected)
        fail_file(path, "section '{}' has {} bytes, expected {}", name, it->second.size(),
                  expected);
      return it->second;
    };
    auto floats = [&](const std::string& name, uint64_t count) {
      const auto bytes = section(name, count * 4);
      std::span<const float> v(reinterpret_cast<const float*>(bytes.data()), count);
      for (float x : v)
        if (!std::isfinite(x)) fail_file(path, "section '{}' holds a non-finite value", name);
      return v;
    };

    // Config, with bounds that keep every later size computation small and exact.
    const auto& c = meta.at("config");
    auto& cfg = m.config;
    auto bounded = [&](const char* key, int64_t lo, int64_t hi) {
      const auto v = c.at(key).get<int64_t>();
      if (v < lo || v > hi) fail_file(path, "config {} = {} is outside [{}, {}]", key, v, lo, hi);
      return v;
    };
    cfg.architecture = c.at("architecture").get<std::string>();
    cfg.vocab_size = bounded("vocab_size", 1, 1 << 22);
    cfg.hidden_size = bounded("hidden_size", 1, 1 << 16);
    cfg.layers = bounded("layers", 1, 1024);
    cfg.heads = bounded("heads", 1, 1024);
    cfg.kv_heads = bounded("kv_heads", 1, cfg.heads);
    cfg.head_dim = bounded("head_dim", 2, 1024);
    cfg.ffn_size = bounded("ffn_size", 1, 1 << 18);
    cfg.context_length = bounded("context_length", 0, int64_t{1} << 24);
    cfg.rope.dims = bounded("rope_dims", 2, cfg.head_dim);
    if (cfg.heads % cfg.kv_heads != 0 || cfg.rope.dims % 2 != 0)
      fail_file(path, "config: {} heads with {} key/value heads, rope dims {}", cfg.heads,
                cfg.kv_heads, cfg.rope.dims);
    cfg.rms_eps = c.at("rms_eps").get<double>();
    if (!(cfg.rms_eps > 0 && cfg.rms_eps < 1))
      fail_file(path, "config rms_eps {} is not in (0, 1)", cfg.rms_eps);
    cfg.rope.theta = c.at("rope_theta").get<double>();
    cfg.rope.layout = c.at("rope_interleaved").get<bool>() ? import::RopeLayout::kInterleaved
                                                           : import::RopeLayout::kHalfSplit;
    cfg.tied_embeddings = c.at("tied_embeddings").get<bool>();
    cfg.qkv_bias = c.at("qkv_bias").get<bool>();
    const bool o_bias = c.at("o_bias").get<bool>();

    // Tokenizer.
    const auto& t = meta.at("tokenizer");
    auto& v = m.vocab;
    v.kind = t.at("kind").get<std::string>() == "sentencepiece"
                 ? tokenize::TokenizerKind::kSentencePiece
                 : tokenize::TokenizerKind::kByteLevelBpe;
    v.scores = t.at("scores").get<std::vector<float>>();
    for (int32_t type : t.at("types").get<std::vector<int32_t>>()) {
      if (type < 0 || type > 6) fail_file(path, "tokenizer: token type {} is unknown", type);
      v.types.push_back(static_cast<tokenize::TokenType>(type));
    }
    v.merges = t.at("merges").get<std::vector<std::string>>();
    v.pre_tokenizer = t.at("pre_tokenizer").get<std::string>();
    for (const auto& step : t.at("pre_splits")) {
      const int behavior = step.at("behavior").get<int>();
      if (behavior < 0 || behavior > static_cast<int>(tokenize::SplitStep::Behavior::kContiguous))
        fail_file(path, "tokenizer: pre-tokenizer split behavior {} is unknown", behavior);
      v.pre_splits.push_back({step.at("pattern").get<std::string>(),
                              static_cast<tokenize::SplitStep::Behavior>(behavior),
                              step.at("invert").get<bool>()});
    }
    v.ignore_merges = t.at("ignore_merges").get<bool>();
    v.chat_template = t.at("chat_template").get<std::string>();
    v.eog_ids = t.at("eog_ids").get<std::vector<int32_t>>();
    v.bos_id = t.at("bos_id").get<int32_t>();
    v.eos_id = t.at("eos_id").get<int32_t>();
    v.unk_id = t.at("unk_id").get<int32_t>();
    v.pad_id = t.at("pad_id").get<int32_t>();
    v.add_bos = t.at("add_bos").get<bool>();
    v.add_eos = t.at("add_eos").get<bool>();
    v.add_space_prefix = t.at("add_space_prefix").get<bool>();
    v.remove_extra_whitespaces = t.at("remove_extra_whitespaces").get<bool>();
    if (!sections.count("vocab.tokens")) fail_file(path, "section 'vocab.tokens' is missing");
    const auto token_bytes = sections["vocab.tokens"];
    for (uint64_t at = 0; at < token_bytes.size();) {
      uint32_t n = 0;
      if (token_bytes.size() - at < 4)
        fail_file(path, "section 'vocab.tokens' is cut inside a length");
      std::memcpy(&n, token_bytes.data() + at, 4);
      at += 4;
      if (n > token_bytes.size() - at)
        fail_file(path, "section 'vocab.tokens' is cut inside a token");
      v.tokens.emplace_back(reinterpret_cast<const char*>(token_bytes.data() + at), n);
      at += n;
    }
    // The embedding may have more rows than the tokenizer has tokens (a padded vocabulary).
    const auto vocab_n = static_cast<size_t>(cfg.vocab_size);
    if (v.tokens.size() > vocab_n || v.scores.size() != v.tokens.size() ||
        v.types.size() != v.tokens.size())
      fail_file(path, "tokenizer has {} tokens, {} scores, {} types for a vocabulary of {}",
                v.tokens.size(), v.scores.size(), v.types.size(), vocab_n);
    std::vector<int32_t> ids = {v.bos_id, v.eos_id, v.unk_id, v.pad_id};
    ids.insert(ids.end(), v.eog_ids.begin(), v.eog_ids.end());
    for (int32_t id : ids)
      if (id < -1 || id >= cfg.vocab_size)
        fail_file(path, "tokenizer: special token id {} is outside the vocabulary", id);

    // Matrices, in forward order, each checked against the shape the config implies.
    const int64_t d = cfg.hidden_size, q = cfg.heads * cfg.head_dim,
                  kv = cfg.kv_heads * cfg.head_dim, f = cfg.ffn_size;
    struct Expect {
      std::string name;
      int64_t rows, cols;
    };
    std::vector<Expect> expect = {{etch_name(import::Role::kTokenEmbedding), cfg.vocab_size, d}};
    const int64_t shapes[7][2] = {{q, d}, {kv, d}, {kv, d}, {d, q}, {f, d}, {f, d}, {d, f}};
    static_assert(import::kLayerMatrices[0] == import::Role::kAttnQ &&
                  import::kLayerMatrices[6] == import::Role::kFfnDown);
    for (int64_t l = 0; l < cfg.layers; ++l)
      for (size_t i = 0; i < import::kLayerMatrices.size(); ++i)
        expect.push_back({etch_name(import::kLayerMatrices[i], l), shapes[i][0], shapes[i][1]});
    expect.push_back({etch_name(import::Role::kOutput), cfg.vocab_size, d});
    const auto& tensors = meta.at("tensors");
    if (tensors.size() != expect.size())
      fail_file(path, "{} tensors, expected {}", tensors.size(), expect.size());
    for (size_t i = 0; i < expect.size(); ++i) {
      const auto& j = tensors[i];
      MatrixView mv;
      mv.name = j.at("name").get<std::string>();
      if (mv.name != expect[i].name)
        fail_file(path, "tensor {} is '{}', expected '{}'", i, mv.name, expect[i].name);
      const auto format = j.at("format").get<std::string>();
      mv.bits = j.at("bits").get<int>();
      mv.multiplier_bits = j.at("multiplier_bits").get<int>();
      mv.rows = j.at("rows").get<int64_t>();
      mv.cols = j.at("cols").get<int64_t>();
      mv.group = j.at("group").get<int64_t>();
      contract::Format f;
      if (format == "int8") {
        mv.format = contract::WeightFormat::kInt8;
      } else if (format == "fp4") {
        mv.format = contract::WeightFormat::kFp4;
      } else if (format == "hc") {
        mv.format = contract::WeightFormat::kHc;
      } else {
        fail_file(path, "tensor '{}': unknown format '{}'", mv.name, format);
      }
      try {
        f = contract::make_format(mv.format, mv.bits);
      } catch (const Error& e) {
        fail_file(path, "tensor '{}': {}", mv.name, e.what());
      }
      if (f.multiplier_bits != mv.multiplier_bits || f.group != mv.group)
        fail_file(path,
                  "tensor '{}': {} with {}-bit multipliers per {} columns is not contract v{}'s "
                  "{} ({}-bit multipliers per {} columns)",
                  mv.name, f.name(), mv.multiplier_bits, mv.group, contract::kVersion, f.name(),
                  f.multiplier_bits, f.group);
      if (mv.rows != expect[i].rows || mv.cols != expect[i].cols)
        fail_file(path, "tensor '{}' is {} x {}, expected {} x {}", mv.name, mv.rows, mv.cols,
                  expect[i].rows, expect[i].cols);
      if (header.minor < 3 && grouped_codes(mv.bits))
        fail_file(path,
                  "tensor '{}': .etch {}.{} stores {}-bit codes row by row, which this etch no "
                  "longer reads (1.3 stores them in code groups): rebuild the file with etch build",
                  mv.name, header.major, header.minor, mv.bits);
      const auto rows = static_cast<uint64_t>(mv.rows);
      mv.codes = section(codes_section(mv.name, mv.bits), mv.code_bytes());
      const auto levels =
          section(mv.name + ".levels", static_cast<uint64_t>(mv.tiles()) << mv.bits);
      mv.levels = {reinterpret_cast<const int8_t*>(levels.data()), levels.size()};
      mv.multipliers = section(mv.name + ".multipliers", mv.multiplier_bytes());
      for (uint8_t code : mv.multipliers)
        if (code >> mv.multiplier_bits)
          fail_file(path, "tensor '{}': multiplier code {} wider than {} bits", mv.name, code,
                    mv.multiplier_bits);
      mv.scales = floats(mv.name + ".scales", rows);
      for (float s : mv.scales)
        if (s < 0 || fp16_to_f32(f32_to_fp16(s)) != s)
          fail_file(path, "tensor '{}': row scale {} is not a non-negative fp16 value", mv.name, s);
      m.matrices.push_back(mv);
    }
    auto bias = [&](bool present, import::Role role, int64_t l, int64_t n) {
      return present ? floats(etch_name(role, l), static_cast<uint64_t>(n))
                     : std::span<const float>();
    };
    for (int64_t l = 0; l < cfg.layers; ++l) {
      m.attn_norms.push_back(
          floats(etch_name(import::Role::kAttnNorm, l), static_cast<uint64_t>(d)));
      m.ffn_norms.push_back(floats(etch_name(import::Role::kFfnNorm, l), static_cast<uint64_t>(d)));
      m.biases.push_back({bias(cfg.qkv_bias, import::Role::kAttnQBias, l, q),
                          bias(cfg.qkv_bias, import::Role::kAttnKBias, l, kv),
                          bias(cfg.qkv_bias, import::Role::kAttnVBias, l, kv),
                          bias(o_bias, import::Role::kAttnOutputBias, l, d)});
    }
    m.output_norm = floats(etch_name(import::Role::kOutputNorm), static_cast<uint64_t>(d));
    m.rope_positions = meta.at("rope_positions").get<int64_t>();
    if (m.rope_positions < 1 || m.rope_positions > (int64_t{1} << 24))
      fail_file(path, "rope_positions {} is out of range", m.rope_positions);
    const auto rope_n =
        static_cast<uint64_t>(m.rope_positions) * static_cast<uint64_t>(cfg.rope.dims / 2);
    m.rope_cos = floats("rope.cos", rope_n);
    m.rope_sin = floats("rope.sin", rope_n);

    // The default adapter in SRAM (format 1.2), on the layer matrices only.
    if (const auto a = meta.find("adapter"); a != meta.end()) {
      SramAdapter adapter;
      adapter.name = a->at("name").get<std::string>();
      adapter.default_scale = a->at("scale").get<float>();
      if (!std::isfinite(adapter.default_scale))
        fail_file(path, "adapter scale {} is not finite", adapter.default_scale);
      for (const auto& j : a->at("matrices")) {
        SramLoraMatrix lm;
        const auto name = j.at("name").get<std::string>();
        bool found = false;
        for (int64_t l = 0; l < cfg.layers && !found; ++l)
          for (import::Role role : import::kLayerMatrices)
            if (etch_name(role, l) == name) {
              lm.role = role;
              lm.layer = l;
              found = true;
              break;
            }
        if (!found) fail_file(path, "adapter matrix '{}' names no layer matrix", name);
        if (adapter.find(lm.role, lm.layer) != nullptr)
          fail_file(path, "adapter matrix '{}' appears twice", name);
        const MatrixView& w = m.matrix(lm.role, lm.layer);
        lm.rows = w.rows;
        lm.cols = w.cols;
        lm.rank = j.at("rank").get<int64_t>();
        if (lm.rank < 1 || lm.rank > 65536)
          fail_file(path, "adapter matrix '{}' has rank {}, expected 1 to 65536", name, lm.rank);
        lm.scale = j.at("scale").get<float>();
        if (!std::isfinite(lm.scale))
          fail_file(path, "adapter matrix '{}' has a non-finite scale", name);
        const auto rank = static_cast<uint64_t>(lm.rank), rows = static_cast<uint64_t>(lm.rows),
                   cols = static_cast<uint64_t>(lm.cols);
        const auto a_codes = section("lora." + name + ".a", rank * cols);
        const auto b_codes = section("lora." + name + ".b", rows * rank);
        lm.a.assign(a_codes.begin(), a_codes.end());
        lm.b.assign(b_codes.begin(), b_codes.end());
        const auto a_scales = floats("lora." + name + ".a_scales", rank);
        const auto b_scales = floats("lora." + name + ".b_scales", rows);
        lm.a_scales.assign(a_scales.begin(), a_scales.end());
        lm.b_scales.assign(b_scales.begin(), b_scales.end());
        adapter.matrices.push_back(std::move(lm));
      }
      if (adapter.matrices.empty()) fail_file(path, "the adapter has no matrices");
      m.adapter = std::move(adapter);
    }
  } catch (const nlohmann::json::exception& e) {
    fail_file(path, "bad metadata JSON: {}", e.what());
  }
  return m;
}

}  // namespace etch::compile
