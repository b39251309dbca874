// The integer engine's inner loops as named kernel sets, one per instruction set:
//   "scalar"   the contract's scalar units (contract/contract.hpp), element by element: the
//              reference every other set equals bit for bit;
//   "baseline" portable vector code for the compiler's default target (x86-64: SSE2);
//   "avx2"     the same code compiled for AVX2;
//   "avx512"   AVX-512 F/BW/VL/DQ with VNNI (16-bit dot products) and VBMI (level lookups).
// Each set is compiled with __attribute__((target(...))) and is callable on any host that
// supports its instructions, so tests run every set the host can, not only the dispatched one.
// Integer sums are exact in every set; every float operation is the contract's, element by
// element, in the contract's order, so the sets cannot differ.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <vector>

namespace etch::compile {
struct MatrixView;
}

namespace etch::run::int_kernels {

// Storage whose first element starts a 64-byte cache line.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  CacheLineAllocator() = default;
  template <typename U>
  explicit CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, size_t) { ::operator delete(p, kAlignment); }
  bool operator==(const CacheLineAllocator&) const = default;
};

// A matrix as the kernels read it: in place, in the .etch layout (sub-byte codes in code groups
// of 16 rows by 32 columns, 8-bit codes a byte each; one level table per tile; one multiplier
// code per group: compile::MatrixView), with the integer of every multiplier code at hand so that
// no kernel calls into the contract per group. The view must outlive it.
struct PackedMatrix {
  explicit PackedMatrix(const compile::MatrixView& view);
  const compile::MatrixView* view;
  // contract::multiplier_value of each code (all 1 without multipliers): |value| <= 2^7 and
  // |level| <= 2^7 in every format, so level * value fits the 2^11 that block_dots's weights have.
  std::array<int16_t, 256> multiplier_values;
};

// Rows of a block that expand_block interleaves.
inline constexpr int64_t kBlockRows = 16;
// Query heads that attention_block takes at once.
inline constexpr int64_t kAttentionQueries = 16;

struct Kernels {
  const char* name;

  // contract::quantize of x[0..n) into q; returns the scale.
  float (*quantize)(const float* x, int64_t n, int16_t* q);
  // contract::msa_row itself: codes[i] < level_count (2^bits of the format, at most 256) index
  // the tile's levels; group is 1..kMaxGroup.
  int64_t (*msa_row)(const int16_t* x, const uint8_t* codes, const int8_t* levels,
                     int64_t level_count, const int32_t* mult, int64_t n, int64_t group);
  // out[i] = contract::msa_row of x (m's cols codes) with row first_row + i of m, i < rows,
  // straight from its packed codes.
  void (*packed_dots)(const int16_t* x, const PackedMatrix& m, int64_t first_row, int64_t rows,
                      int64_t* out);
  // out[i] = scale_sums of packed_dots' sum of row first_row + i with the row's scale and
  // x_scale, i < rows: one token's matrix product as floats, without the sums' round trip
  // through memory.
  void (*packed_products)(const int16_t* x, float x_scale, const PackedMatrix& m, int64_t first_row,
                          int64_t rows, float* out);
  // out[j] = levels[code(r, j)] * multiplier(r, j / group) over row r of m: the weights that
  // msa_row multiplies x by, each group's multiplier applied (|weight| < 2^11).
  void (*expand_row)(const PackedMatrix& m, int64_t r, int16_t* out);
  // Rows [first_row, first_row + kBlockRows) of m as expand_row gives them (rows past the
  // matrix: 0), interleaved for products over all of them at once: column pair p of row i is
  // out[p * 2 * kBlockRows + 2 * i] and the next word (0 past an odd last column). Decoded once
  // for the many tokens of a step, out holds kBlockRows * (cols + 1) / 2 * 2 words.
  void (*expand_block)(const PackedMatrix& m, int64_t first_row, int16_t* out);
  // out[t * kBlockRows + i] = contract::dot(xs[t], row i of the expanded block w) over n
  // columns, t < tokens: the same integer as msa_row by distributivity.
  void (*block_dots)(const int16_t* const* xs, int64_t tokens, const int16_t* w, int64_t n,
                     int64_t* out);
  // out[t * out_stride + i] = float(block_dots' sum of token t and row i) * (row_scales[i] *
  // x_scales[t]), i < rows <= kBlockRows: a block's products as floats, as scale_sums gives them,
  // without the sums' round trip through memory.
  void (*block_products)(const int16_t* const* xs, const float* x_scales, int64_t tokens,
                         const int16_t* w, int64_t n, const float* row_scales, int64_t rows,
                         float* out, int64_t out_stride);
  // out[i] = float(sums[i]) * (row_scales[i] * x_scale), i < count: a product's integer row sums
  // to floats with the rows' scales and the input's.
  void (*scale_sums)(const int64_t* sums, int64_t count, const float* row_scales, float x_scale,
                     float* out);
  // contract::dot: sum of a[i] * b[i] over any int16 codes.
  int64_t (*dot16)(const int16_t* a, const int16_t* b, int64_t n);
  // scores[j] = contract::attention_score(q, sq, k row j, sk[j * sk_stride], inv_sqrt_dim)
  // over head_dim codes, j < positions; key row j at k[j * k_stride].
  void (*attention_scores)(const int16_t* q, float sq, const int16_t* k, int64_t k_stride,
                           const float* sk, int64_t sk_stride, int64_t positions, int64_t head_dim,
                           float inv_sqrt_dim, float* scores);
  // e[i] = contract::exp_unit(d[i]).
  void (*exp_units)(const float* d, int64_t n, uint32_t* e);
  // g[i] = contract::swiglu(g[i], u[i]).
  void (*swiglu)(float* g, const float* u, int64_t n);
  // contract::rms_norm of x[0..n), n >= 1, with weight w into out; returns the output scale.
  float (*rms_norm)(const float* x, const float* w, int64_t n, float eps, int16_t* out);
  // contract::attention_output: positions >= 1 scores, value rows v[j * v_stride], their
  // scales sv, into out[0..head_dim).
  void (*attention_output)(const float* scores, int64_t positions, const int16_t* v,
                           int64_t v_stride, const float* sv, int64_t head_dim, float* out);
  // Attention of count <= kAttentionQueries query heads over one kv head's cache, each key and
  // value row read once for all of them (a step's tokens of one sequence and the heads that
  // share the kv head): out[i][0..head_dim) = contract::attention_output over positions
  // [0, visible[i]), visible[i] >= 1, of the scores contract::attention_score(q[i], sq[i],
  // key row j, sk[j * scale_stride], inv_sqrt_dim); key row j at k[j * kv_stride], value row j at
  // v[j * kv_stride] with scale sv[j * scale_stride].
  void (*attention_block)(const int16_t* const* q, const float* sq, const int64_t* visible,
                          int64_t count, const int16_t* k, const int16_t* v, int64_t kv_stride,
                          const float* sk, const float* sv, int64_t scale_stride, int64_t head_dim,
                          float inv_sqrt_dim, float* const* out);
};

const Kernels& scalar();
// The fastest set this host runs, or the one the environment variable ETCH_KERNEL_SET names
// (to measure a slower set; a name this host cannot run is an error).
const Kernels& fast();
// Every set this host runs, scalar first, fastest last.
std::span<const Kernels* const> variants();

}  // namespace etch::run::int_kernels
