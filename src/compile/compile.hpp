// etch compile: turns an imported model into the chip's weight formats (contract/contract.hpp,
// docs/chip-spec.md) and writes it as one `.etch` artifact (docs/etch-format.md); also reads that
// artifact back for the engines, the planner and the RTL.
#pragma once

#include <bit>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "contract/contract.hpp"
#include "core/mapped_file.hpp"
#include "import/import.hpp"
#include "tokenize/vocabulary.hpp"

namespace etch::compile {

// Version of the .etch container. A reader accepts any minor of its major; the numeric
// contract the file was built for (contract::kVersion) is recorded and checked apart.
constexpr int kFormatMajor = 1;
constexpr int kFormatMinor = 3;

// Codes narrower than a byte (2 to 6 bits) and their multiplier codes are stored in code groups
// (.etch 1.3), so that a vector engine takes 16 rows and a column pair at a time, each code one
// shift away: the rows in blocks of kCodeBlockRows (the last block padded with zero codes), and
// a block's codes group by group of 32 columns (its multiplier's group). A code group is `bits`
// vectors of 32 little-endian 16-bit words; word lane w = 2 i + e of the group's column pairs
// s = 0..15 holds row i of the block at column 2 s + e, the code at bits [s * bits, (s + 1) *
// bits) of the lane's 16 * bits bits (vector q's word giving bits [16 q, 16 q + 16)). The
// multiplier codes go block by block, group by group, the block's 16 rows in order. 8-bit codes
// stay one byte each and multiplier codes [rows][groups], row by row. docs/etch-format.md
// describes both.
inline constexpr int64_t kCodeBlockRows = 16;
inline constexpr int64_t kCodeGroupColumns = 32;
static_assert(kCodeGroupColumns == contract::kGroup && contract::kTileRows % kCodeBlockRows == 0);
constexpr bool grouped_codes(int bits) {
  return bits < 8;
}

// One weight matrix in the chip's format (contract/contract.hpp). A weight is
//   w[r][j] = scale[r] * multiplier(r, j / group) * levels[r / kTileRows][code(r, j)].
// format, bits, multiplier_bits and group are the artifact's and equal contract::make_format's
// for (format, bits). The spans point into the .etch mapping (when read) or into a Matrix's
// own storage.
struct MatrixView {
  std::string name;
  contract::WeightFormat format = contract::WeightFormat::kInt8;
  int bits = 8;             // code width
  int multiplier_bits = 0;  // width of one stored group multiplier code (0: all multipliers 1)
  int64_t rows = 0, cols = 0, group = 0;
  std::span<const uint8_t> codes;        // code groups (bits < 8), else a byte per code, row-major
  std::span<const int8_t> levels;        // [tiles][1 << bits]
  std::span<const uint8_t> multipliers;  // codes; empty when multiplier_bits == 0
  std::span<const float> scales;         // [rows]

  contract::Format contract_format() const { return contract::make_format(format, bits); }
  // Every contract format's group is a power of two: a shift, not a division, in the kernels.
  int64_t groups() const {
    return std::has_single_bit(static_cast<uint64_t>(group))
               ? (cols + group - 1) >> std::countr_zero(static_cast<uint64_t>(group))
               : (cols + group - 1) / group;
  }
  int64_t tiles() const { return (rows + contract::kTileRows - 1) / contract::kTileRows; }
  int64_t code_blocks() const { return (rows + kCodeBlockRows - 1) / kCodeBlockRows; }
  // Code group g of block `block` (bits < 8): 64 * bits bytes from this offset in codes.
  uint64_t code_group_offset(int64_t block, int64_t g) const {
    return static_cast<uint64_t>(block * groups() + g) * 64 * static_cast<uint64_t>(bits);
  }
  const uint8_t* code_group(int64_t block, int64_t g) const {
    return codes.data() + code_group_offset(block, g);
  }
  // The lengths of the codes and of the multiplier codes for this shape.
  uint64_t code_bytes() const;
  uint64_t multiplier_bytes() const;
  // Where bit i of code (r, j) lies in codes, counted in bits from its start.
  uint64_t code_bit(int64_t r, int64_t j, int i) const;
  uint32_t code(int64_t row, int64_t j) const;
  // Where the multiplier code of (row, group g) lies in multipliers, and the code.
  uint64_t multiplier_index(int64_t row, int64_t g) const {
    if (!grouped_codes(bits)) return static_cast<uint64_t>(row * groups() + g);
    return static_cast<uint64_t>((row / kCodeBlockRows * groups() + g) * kCodeBlockRows +
                                 row % kCodeBlockRows);
  }
  uint32_t multiplier_code(int64_t row, int64_t g) const {
    return multipliers[static_cast<size_t>(multiplier_index(row, g))];
  }
  // The integer value a multiplier code stands for.
  int32_t multiplier(int64_t row, int64_t g) const {
    if (multiplier_bits == 0) return 1;
    return contract::multiplier_value(format, multiplier_code(row, g));
  }
  // Every ROM bit: contract::rom_bits of this format and shape.
  uint64_t rom_bits() const { return contract::rom_bits(contract_format(), rows, cols); }
  // Writes the integer weights levels[code] of row r (without multipliers and scale).
  void decode_row(int64_t r, int8_t* out) const;
};

// A matrix with its own storage (what quantization produces).
struct Matrix {
  std::string name;
  contract::Format format;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> codes;
  std::vector<int8_t> levels;
  std::vector<uint8_t> multipliers;
  std::vector<float> scales;
  MatrixView view() const;
};

// Second moments of a matrix's inputs on calibration text: H = sum over tokens of x x^T
// (cols x cols, row-major), which turns a weight error into the output error it causes.
// Only the lower triangle (j <= i) of h is kept.
struct InputStatistics {
  int64_t dim = 0;
  int64_t tokens = 0;
  std::vector<double> h;
  void add(const float* x, int64_t count);
  // inverse_cholesky_upper(h, dim), computed on the first call and shared by every matrix that
  // reads this input and every width a recipe tries on it. Thread-safe; add() starts afresh.
  const std::vector<double>& gptq_factor() const;

 private:
  struct Factor {
    std::once_flag once;
    std::vector<double> u;
  };
  std::shared_ptr<Factor> factor_ = std::make_shared<Factor>();
};

// Calibration statistics keyed by the input vector matrices read (blk.N.attn_in, attn_out,
// ffn_in, ffn_mid, output_in); filled by an observer of a float forward pass
// (run::EngineOptions::observer), consumed by build().
class Calibration {
 public:
  void observe(const std::string& input_name, const float* inputs, int64_t tokens, int64_t dim);
  // The statistics of the input the matrix of `role` (layer `layer` when per layer) reads.
  const InputStatistics* find(import::Role role, int64_t layer) const;
  int64_t tokens() const { return tokens_; }
  void set_tokens(int64_t tokens) { tokens_ = tokens; }

 private:
  std::vector<std::pair<std::string, InputStatistics>> inputs_;
  int64_t tokens_ = 0;
};

// GPTQ's factor: the upper triangular U with U^T U = (H + d I)^-1, where H is n x n
// (row-major, symmetric) and d is 1% of H's mean diagonal, the damping that keeps columns no
// calibration token excited from making H singular. Throws Error when H + d I is not positive
// definite.
std::vector<double> inverse_cholesky_upper(std::vector<double> h, int64_t n);

// Quantizes one matrix (rows of floats) into `format`. With statistics, the rounding of each
// column is compensated on the columns after it (GPTQ-style, docs/chip-spec.md).
Matrix quantize(const std::string& name, std::span<const float> weights, int64_t rows, int64_t cols,
                const contract::Format& format, const InputStatistics* statistics);

// The model's divergence from its float self on calibration text when the matrix at
// `matrix` (matrix_index order) is replaced by `weights` (rows x cols, row-major): what hc1
// weighs each matrix's rounding by (run::loss_probe measures it with the float engine).
using LossProbe = std::function<double(size_t matrix, std::span<const float> weights)>;

// A LoRA adapter as the chip holds it in SRAM (contract::lora): A and B int8 with binary32
// per-row scales.
struct SramLoraMatrix {
  import::Role role = import::Role::kAttnQ;
  int64_t layer = 0, rows = 0, cols = 0, rank = 0;
  float scale = 0;                        // the adapter's alpha / rank
  std::vector<int8_t> a, b;               // rank x cols, rows x rank
  std::vector<float> a_scales, b_scales;  // one per row of A (rank), of B (rows)
};
struct SramAdapter {
  std::string name;
  float default_scale = 1.0f;  // the scale a run applies unless told otherwise
  std::vector<SramLoraMatrix> matrices;
  // The matrix of (role, layer), or nullptr when the adapter leaves it alone.
  const SramLoraMatrix* find(import::Role role, int64_t layer) const;
  uint64_t sram_bits() const;  // int8 A and B, binary32 row scales
};
// Rounds an adapter to int8, row by row: scale = max |v| / 127 in binary32 (0 for a zero row),
// code = round_even(v / scale).
SramAdapter quantize_adapter(const import::Adapter& adapter, float default_scale);

// The top singular triplets of a matrix: M ~ sum_s singular[s] u_s v_s^T, singular values
// descending, u_s = u[s * rows ...], v_s = v[s * cols ...] (each a contiguous unit vector).
struct TruncatedSvd {
  int64_t rows = 0, cols = 0, rank = 0;
  std::vector<double> u, singular, v;
};
// The top `rank` (clamped to min(rows, cols)) singular triplets of m (rows x cols, row-major)
// by randomized subspace iteration (Halko, Martinsson and Tropp 2011, algorithm 4.4: 10
// oversampling columns, 4 power iterations, Gram-Schmidt QR, one-sided Jacobi on the small
// factor), in double. `seed` draws the starting subspace: equal inputs give equal outputs.
TruncatedSvd truncated_svd(std::span<const double> m, int64_t rows, int64_t cols, int64_t rank,
                           uint64_t seed);

// The rank-`rank` (clamped to min(rows, cols)) correction B A of a quantized matrix's error
// E = W - dequant(Q) that minimises its output error on calibration text, sum over tokens of
// |(E - B A) x|^2 (QERA's closed form: the truncated SVD of E F with F F^T = H + dI, GPTQ's
// damped H); without statistics (or for another input width), the plain truncated SVD of E.
// Returned as a float LoRA matrix with scale 1 (role and layer left to the caller), for
// quantize_adapter. `weights` is the float matrix, rows x cols.
import::AdapterMatrix quantization_correction(std::span<const float> weights,
                                              const MatrixView& quantized,
                                              const InputStatistics* statistics, int64_t rank);

struct BuildOptions {
  std::string recipe = "hc1";    // a name in contract::recipes(); another is refused
  double bits_per_weight = 0;    // a mixed recipe's budget; 0: the recipe's default_budget
  std::string calibration_name;  // recorded in the metadata
  int threads = 0;
  // hc1: with a probe, a matrix's sensitivity is the loss its base-format rounding causes;
  // without, its own relative output error.
  LossProbe loss_probe;
  std::function<void(int64_t done, int64_t total)> on_progress;
  const SramAdapter* adapter = nullptr;  // folded into the .etch's SRAM sections when given
  // > 0: each layer matrix's quantization_correction of this rank becomes the .etch's SRAM
  // adapter (int8 by quantize_adapter, default scale 1), named "correction"; refused with
  // `adapter`, since a .etch holds one adapter.
  int64_t correct_rank = 0;
};

// Quantizes every matrix of `model` per the recipe and writes `path`, with the model's norms,
// projection biases and RoPE tables.
void build(const import::Model& model, const Calibration* calibration, const BuildOptions& options,
           const std::string& path);

// A .etch file, memory-mapped and validated. Matrices in forward order (matrix_index): token
// embedding, then per layer import::kLayerMatrices, then the output head.
struct EtchModel {
  std::string path;
  import::ModelConfig config;
  tokenize::Vocabulary vocab;
  std::string recipe;
  std::string calibration;
  int contract_version = 0;
  std::vector<MatrixView> matrices;
  std::vector<std::span<const float>> attn_norms, ffn_norms;
  // A layer's projection biases, added in binary32 to the matrix outputs (q and k before
  // RoPE); empty spans where the model has none (config.qkv_bias for q, k and v).
  struct Biases {
    std::span<const float> q, k, v, o;
  };
  std::vector<Biases> biases;  // one per layer
  std::span<const float> output_norm;
  // RoPE as tables: cos and sin of [position][pair], rope_positions rows.
  int64_t rope_positions = 0;
  std::span<const float> rope_cos, rope_sin;
  // The default adapter `etch build --lora` folded into SRAM, if any.
  std::optional<SramAdapter> adapter;
  SharedMappedFile file;

  const MatrixView& embedding() const { return matrices.front(); }
  const MatrixView& output() const { return matrices.back(); }
  // The matrix of `role` (kTokenEmbedding, kOutput or one of import::kLayerMatrices).
  const MatrixView& matrix(import::Role role, int64_t layer = -1) const;
  uint64_t parameters() const;
  uint64_t rom_bits() const;
  // norms, biases, RoPE tables, KV cache, the adapter
  uint64_t sram_bytes(int64_t context) const;
};

EtchModel read_etch(const std::string& path);
// The .etch name table: "token_embd", "blk.3.attn_q", "blk.3.attn_norm", "output_norm", ...
std::string etch_name(import::Role role, int64_t layer = -1);
// Index of a matrix in EtchModel::matrices and in the file: embedding, layers in forward
// order, output head.
size_t matrix_index(import::Role role, int64_t layer, int64_t layers);
bool is_etch_file(const std::string& path);

}  // namespace etch::compile
