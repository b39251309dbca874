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

#include <cstdint>
#include <span>

namespace etch::run::int_kernels {

struct Kernels {
  const char* name;

  // contract::quantize of x[0..n) into q; returns the scale.
  float (*quantize)(const float* x, int64_t n, int16_t* q);
  // contract::msa_row over weights given as their int8 levels, one group multiplier per
  // `group` (1..kMaxGroup) elements.
  int64_t (*dot_grouped)(const int16_t* x, const int8_t* w, const int32_t* mult, int64_t n,
                         int64_t group);
  // contract::msa_row itself: codes[i] < level_count (2^bits of the format, at most 256) index
  // the tile's levels; group is 1..kMaxGroup.
  int64_t (*msa_row)(const int16_t* x, const uint8_t* codes, const int8_t* levels,
                     int64_t level_count, const int32_t* mult, int64_t n, int64_t group);
  // contract::dot with weights pre-multiplied by their group multiplier (|w| < 2^11): the
  // same integer as dot_grouped by distributivity.
  int64_t (*dot_expanded)(const int16_t* x, const int16_t* w, int64_t n);
  // dot_expanded of one weight row with four activation rows: out[t] = dot_expanded(xs[t], w, n).
  void (*dot_expanded4)(const int16_t* const* xs, const int16_t* w, int64_t n, int64_t* out);
  // contract::dot: sum of a[i] * b[i] over any int16 codes.
  int64_t (*dot16)(const int16_t* a, const int16_t* b, int64_t n);
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
};

const Kernels& scalar();
// The fastest set this host runs.
const Kernels& fast();
// Every set this host runs, scalar first, fastest last.
std::span<const Kernels* const> variants();

}  // namespace etch::run::int_kernels
