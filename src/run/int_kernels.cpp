#include "run/int_kernels.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "compile/compile.hpp"
#include "contract/contract.hpp"
#include "core/error.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The sets pass 64-byte vectors only between always-inlined functions of one target, so
// GCC's notes on the vector ABI without AVX-512 are moot.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace etch::run::int_kernels {

PackedMatrix::PackedMatrix(const compile::MatrixView& v) : view(&v), multiplier_values{} {
  multiplier_values.fill(1);
  const int codes = v.multiplier_bits == 0 ? 0 : 1 << v.multiplier_bits;
  int32_t largest_multiplier = 1;
  for (int c = 0; c < codes; ++c) {
    const int32_t value = contract::multiplier_value(v.format, static_cast<uint32_t>(c));
    multiplier_values[static_cast<size_t>(c)] = static_cast<int16_t>(value);
    largest_multiplier = std::max(largest_multiplier, value);
  }
  for (const uint8_t c : v.multipliers)
    if (c >= codes)
      fail("tensor '{}': multiplier code {} does not fit {} bits (a damaged .etch file)", v.name, c,
           v.multiplier_bits);
  int32_t largest_level = 0;
  for (const int8_t l : v.levels) largest_level = std::max(largest_level, std::abs(int32_t{l}));
  // The vector kernels sum level * multiplier products in 32-bit lanes for this bound.
  if (largest_level * largest_multiplier >= 2048)
    fail(
        "tensor '{}': level {} times multiplier {} is outside every {} format (a damaged .etch "
        "file)",
        v.name, largest_level, largest_multiplier, contract::format_name(v.format));
}

namespace {

// expand_block through a set's expand_row: each row decoded once, then its column pairs (32-bit
// words) spread to their places in the block.
template <void (*kExpandRow)(const PackedMatrix&, int64_t, int16_t*)>
void interleave_rows(const PackedMatrix& m, int64_t first_row, int16_t* out) {
  const int64_t cols = m.view->cols, pairs = (cols + 1) / 2;
  thread_local std::vector<int16_t> row;
  row.resize(static_cast<size_t>(2 * pairs));
  for (int64_t i = 0; i < kBlockRows; ++i) {
    if (first_row + i < m.view->rows)
      kExpandRow(m, first_row + i, row.data());
    else
      std::fill(row.begin(), row.end(), int16_t{0});
    row.back() = cols % 2 ? int16_t{0} : row.back();
    for (int64_t p = 0; p < pairs; ++p)
      std::memcpy(out + p * 2 * kBlockRows + 2 * i, row.data() + 2 * p, 4);
  }
}

// packed_products through a set's packed_dots and scale_sums, a tile of rows at a time.
template <auto kDots, auto kScale>
void products_via_sums(const int16_t* x, float x_scale, const PackedMatrix& m, int64_t first_row,
                       int64_t rows, float* out) {
  int64_t sums[contract::kTileRows];
  for (int64_t i = 0; i < rows; i += contract::kTileRows) {
    const int64_t count = std::min(contract::kTileRows, rows - i);
    kDots(x, m, first_row + i, count, sums);
    kScale(sums, count, m.view->scales.data() + first_row + i, x_scale, out + i);
  }
}

// block_products through a set's block_dots and scale_sums.
template <auto kBlockDots, auto kScale>
void products_via_block_sums(const int16_t* const* xs, const float* x_scales, int64_t tokens,
                             const int16_t* w, int64_t n, const float* row_scales, int64_t rows,
                             float* out, int64_t out_stride) {
  thread_local std::vector<int64_t> sums;
  sums.resize(static_cast<size_t>(tokens * kBlockRows));
  kBlockDots(xs, tokens, w, n, sums.data());
  for (int64_t t = 0; t < tokens; ++t)
    kScale(sums.data() + t * kBlockRows, rows, row_scales, x_scales[t], out + t * out_stride);
}

// attention_block one query at a time through a set's attention_scores and attention_output.
template <auto kScores, auto kOutput>
void attention_each(const int16_t* const* q, const float* sq, const int64_t* visible, int64_t count,
                    const int16_t* k, const int16_t* v, int64_t kv_stride, const float* sk,
                    const float* sv, int64_t scale_stride, int64_t head_dim, float inv_sqrt_dim,
                    float* const* out) {
  thread_local std::vector<float> scores, value_scales;
  for (int64_t i = 0; i < count; ++i) {
    const auto positions = static_cast<size_t>(visible[i]);
    scores.resize(positions);
    value_scales.resize(positions);
    kScores(q[i], sq[i], k, kv_stride, sk, scale_stride, visible[i], head_dim, inv_sqrt_dim,
            scores.data());
    for (size_t j = 0; j < positions; ++j)
      value_scales[j] = sv[static_cast<int64_t>(j) * scale_stride];
    kOutput(scores.data(), visible[i], v, kv_stride, value_scales.data(), head_dim, out[i]);
  }
}

// ---- scalar: the contract's units ----

namespace scalar_set {

float quantize(const float* x, int64_t n, int16_t* q) {
  return contract::quantize({x, static_cast<size_t>(n)}, {q, static_cast<size_t>(n)});
}

// The contract's unit on the row's codes as MatrixView reads them one by one.
int64_t packed_dot(const int16_t* x, const PackedMatrix& m, int64_t r) {
  const compile::MatrixView& v = *m.view;
  const auto cols = static_cast<size_t>(v.cols);
  thread_local std::vector<uint8_t> codes;
  thread_local std::vector<int32_t> mult;
  codes.resize(cols);
  mult.resize(static_cast<size_t>(v.groups()));
  for (size_t j = 0; j < cols; ++j)
    codes[j] = static_cast<uint8_t>(v.code(r, static_cast<int64_t>(j)));
  for (int64_t g = 0; g < v.groups(); ++g) mult[static_cast<size_t>(g)] = v.multiplier(r, g);
  const size_t table = size_t{1} << v.bits;
  return contract::msa_row(
      {x, cols}, codes,
      {v.levels.data() + static_cast<size_t>(r / contract::kTileRows) * table, table}, mult,
      v.group);
}

void packed_dots(const int16_t* x, const PackedMatrix& m, int64_t first_row, int64_t rows,
                 int64_t* out) {
  for (int64_t i = 0; i < rows; ++i) out[i] = packed_dot(x, m, first_row + i);
}

void expand_row(const PackedMatrix& m, int64_t r, int16_t* out) {
  const compile::MatrixView& v = *m.view;
  thread_local std::vector<int8_t> levels;
  levels.resize(static_cast<size_t>(v.cols));
  v.decode_row(r, levels.data());
  for (int64_t j = 0; j < v.cols; ++j)
    out[j] = static_cast<int16_t>(v.multiplier(r, j / v.group) * levels[static_cast<size_t>(j)]);
}

int64_t msa_row(const int16_t* x, const uint8_t* codes, const int8_t* levels, int64_t level_count,
                const int32_t* mult, int64_t n, int64_t group) {
  const auto count = static_cast<size_t>(n);
  return contract::msa_row({x, count}, {codes, count}, {levels, static_cast<size_t>(level_count)},
                           {mult, static_cast<size_t>((n + group - 1) / group)}, group);
}

int64_t dot16(const int16_t* a, const int16_t* b, int64_t n) {
  return contract::dot({a, static_cast<size_t>(n)}, {b, static_cast<size_t>(n)});
}

void expand_block(const PackedMatrix& m, int64_t first_row, int16_t* out) {
  interleave_rows<expand_row>(m, first_row, out);
}

void scale_sums(const int64_t* sums, int64_t count, const float* row_scales, float x_scale,
                float* out) {
  for (int64_t i = 0; i < count; ++i)
    out[i] = static_cast<float>(sums[i]) * (row_scales[i] * x_scale);
}

// Row i of the expanded block, back in column order, through the contract's dot.
void block_dots(const int16_t* const* xs, int64_t tokens, const int16_t* w, int64_t n,
                int64_t* out) {
  thread_local std::vector<int16_t> row;
  row.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < kBlockRows; ++i) {
    for (int64_t j = 0; j < n; ++j)
      row[static_cast<size_t>(j)] = w[j / 2 * 2 * kBlockRows + 2 * i + j % 2];
    for (int64_t t = 0; t < tokens; ++t) out[t * kBlockRows + i] = dot16(xs[t], row.data(), n);
  }
}

void attention_scores(const int16_t* q, float sq, const int16_t* k, int64_t k_stride,
                      const float* sk, int64_t sk_stride, int64_t positions, int64_t head_dim,
                      float inv_sqrt_dim, float* scores) {
  const auto dim = static_cast<size_t>(head_dim);
  for (int64_t j = 0; j < positions; ++j)
    scores[j] = contract::attention_score({q, dim}, sq, {k + j * k_stride, dim}, sk[j * sk_stride],
                                          inv_sqrt_dim);
}

void exp_units(const float* d, int64_t n, uint32_t* e) {
  for (int64_t i = 0; i < n; ++i) e[i] = contract::exp_unit(d[i]);
}

void swiglu(float* g, const float* u, int64_t n) {
  for (int64_t i = 0; i < n; ++i) g[i] = contract::swiglu(g[i], u[i]);
}

float rms_norm(const float* x, const float* w, int64_t n, float eps, int16_t* out) {
  const auto count = static_cast<size_t>(n);
  return contract::rms_norm({x, count}, {w, count}, eps, {out, count});
}

void attention_output(const float* scores, int64_t positions, const int16_t* v, int64_t v_stride,
                      const float* sv, int64_t head_dim, float* out) {
  const auto p = static_cast<size_t>(positions);
  contract::attention_output(
      {scores, p}, {v, (p - 1) * static_cast<size_t>(v_stride) + static_cast<size_t>(head_dim)},
      v_stride, {sv, p}, {out, static_cast<size_t>(head_dim)});
}

const Kernels kSet{"scalar",
                   quantize,
                   msa_row,
                   packed_dots,
                   products_via_sums<packed_dots, scale_sums>,
                   expand_row,
                   expand_block,
                   block_dots,
                   products_via_block_sums<block_dots, scale_sums>,
                   scale_sums,
                   dot16,
                   attention_scores,
                   exp_units,
                   swiglu,
                   rms_norm,
                   attention_output,
                   attention_each<attention_scores, attention_output>};

}  // namespace scalar_set

using contract::kExpFloor;
using contract::kExpFractionBits;
using contract::kExpInput;

// Adding and taking away 1.5 * 2^23 rounds a binary32 below 2^22 in magnitude to an integer,
// ties to even, in every vector set.
constexpr float kRoundMagic = 12582912.0f;

// The AVX-512 exp unit's entries as binary32 products: table entry f is the integer nearest
// (ties to even) coarse[f >> 5] * fine[f & 31] plus the delta of the exception for f, if any.
// coarse[a] = 2^(16 - a / 32) and fine[b] = 2^(-b / 2^10), a, b < 32, rounded to binary32; a
// product's error (up to about 3 units in 2^24 of 2^16) crosses a rounding boundary of the
// contract's table, checked here entry by entry, for two entries, which become the exceptions.
struct ExpProducts {
  static constexpr int kMaxExceptions = 4;
  alignas(64) float coarse[32];
  alignas(64) float fine[32];
  int exceptions = 0;
  int32_t exception_entry[kMaxExceptions], exception_delta[kMaxExceptions];
};

[[maybe_unused]] const ExpProducts& exp_products() {
  static const ExpProducts products = [] {
    ExpProducts made;
    for (int i = 0; i < 32; ++i) {
      made.coarse[i] = static_cast<float>(std::exp2(16.0 - i / 32.0));
      made.fine[i] = static_cast<float>(std::exp2(-i / 1024.0));
    }
    const std::span<const uint32_t> table = contract::exp_table();
    for (int f = 0; f < static_cast<int>(table.size()); ++f) {
      // Ties to even, as the vector conversion rounds.
      const float product = made.coarse[f >> 5] * made.fine[f & 31];
      const auto nearest = static_cast<int32_t>((product + kRoundMagic) - kRoundMagic);
      const int32_t delta = static_cast<int32_t>(table[static_cast<size_t>(f)]) - nearest;
      if (delta == 0) continue;
      if (made.exceptions == ExpProducts::kMaxExceptions)
        fail("the exp unit's binary32 products miss more than {} table entries",
             ExpProducts::kMaxExceptions);
      made.exception_entry[made.exceptions] = f;
      made.exception_delta[made.exceptions++] = delta;
    }
    return made;
  }();
  return products;
}

#define ETCH_SET(label)                                                           \
  const Kernels kSet{label,           quantize,   msa_row,      packed_dots,      \
                     packed_products, expand_row, expand_block, block_dots,       \
                     block_products,  scale_sums, dot16,        attention_scores, \
                     exp_units,       swiglu,     rms_norm,     attention_output, \
                     attention_block};

namespace baseline {
#define ETCH_TARGET
#define ETCH_LANES 4
#define ETCH_KERNELS_AVX512 0
#include "run/int_kernels_vector.inc"
#undef ETCH_KERNELS_AVX512
#undef ETCH_LANES
#undef ETCH_TARGET
ETCH_SET("baseline")
}  // namespace baseline

#if defined(__x86_64__)

namespace avx2 {
#define ETCH_TARGET __attribute__((target("avx2")))
#define ETCH_LANES 8
#define ETCH_KERNELS_AVX512 0
#include "run/int_kernels_vector.inc"
#undef ETCH_KERNELS_AVX512
#undef ETCH_LANES
#undef ETCH_TARGET
ETCH_SET("avx2")
}  // namespace avx2

// GCC 12's AVX-512 headers seed results with _mm512_undefined_*(), which
// -Wmaybe-uninitialized and -Wuninitialized report wrongly (GCC bug 105593, fixed in GCC 13).
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
namespace avx512 {
#define ETCH_TARGET \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,avx512vbmi2")))
#define ETCH_LANES 16
#define ETCH_KERNELS_AVX512 1
#include "run/int_kernels_vector.inc"
#undef ETCH_KERNELS_AVX512
#undef ETCH_LANES
#undef ETCH_TARGET
ETCH_SET("avx512")
}  // namespace avx512
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

bool host_runs_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

bool host_runs_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi") &&
         __builtin_cpu_supports("avx512vbmi2");
}

#endif

#undef ETCH_SET

}  // namespace

std::span<const Kernels* const> variants() {
  static const std::vector<const Kernels*> sets = [] {
    std::vector<const Kernels*> v{&scalar_set::kSet, &baseline::kSet};
#if defined(__x86_64__)
    if (host_runs_avx2()) v.push_back(&avx2::kSet);
    if (host_runs_avx512()) v.push_back(&avx512::kSet);
#endif
    return v;
  }();
  return sets;
}

const Kernels& scalar() {
  return scalar_set::kSet;
}

const Kernels& fast() {
  static const Kernels* const chosen = [] {
    const char* name = std::getenv("ETCH_KERNEL_SET");
    if (name == nullptr || *name == '\0') return variants().back();
    std::string known;
    for (const Kernels* k : variants()) {
      if (std::strcmp(k->name, name) == 0) return k;
      known += known.empty() ? k->name : std::string(", ") + k->name;
    }
    fail("ETCH_KERNEL_SET={}: not a kernel set this host runs ({})", name, known);
  }();
  return *chosen;
}

}  // namespace etch::run::int_kernels
