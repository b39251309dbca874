// ggml's tensor formats, decoded to float32. Each function reproduces ggml's reference
// dequantization (ggml-quants.c) operation for operation, so results match llama.cpp bit for bit:
// the float products are formed in the same order (scale times sub-scale first, then times the
// quant, then the min subtracted).
#include <array>
#include <cstring>

#include "core/error.hpp"
#include "core/half.hpp"
#include "import/import.hpp"

// The decoders are element-wise loops that GCC vectorizes; an AVX2 clone of each is chosen at run
// time. Vector lanes round as scalars do (the project builds with -ffp-contract=off: no fused
// multiply-add), so every clone gives ggml's reference values.
#define ETCH_VECTORIZED __attribute__((target_clones("avx2", "default")))

namespace etch::import {

namespace {

constexpr int64_t kQK = 32;    // elements per block of the simple formats
constexpr int64_t kQKK = 256;  // elements per super-block of the k-quants

const std::array<TypeTraits, 31>& traits_table() {
  static const std::array<TypeTraits, 31> table = [] {
    std::array<TypeTraits, 31> t{};
    auto set = [&](TensorType type, const char* name, int64_t elements, int64_t bytes) {
      t[static_cast<size_t>(type)] = TypeTraits{name, elements, bytes};
    };
    set(TensorType::kF32, "f32", 1, 4);
    set(TensorType::kF16, "f16", 1, 2);
    set(TensorType::kBF16, "bf16", 1, 2);
    set(TensorType::kQ4_0, "q4_0", kQK, 2 + kQK / 2);
    set(TensorType::kQ4_1, "q4_1", kQK, 4 + kQK / 2);
    set(TensorType::kQ5_0, "q5_0", kQK, 2 + 4 + kQK / 2);
    set(TensorType::kQ5_1, "q5_1", kQK, 4 + 4 + kQK / 2);
    set(TensorType::kQ8_0, "q8_0", kQK, 2 + kQK);
    set(TensorType::kQ2_K, "q2_K", kQKK, kQKK / 16 + kQKK / 4 + 4);
    set(TensorType::kQ3_K, "q3_K", kQKK, kQKK / 8 + kQKK / 4 + 12 + 2);
    set(TensorType::kQ4_K, "q4_K", kQKK, 4 + 12 + kQKK / 2);
    set(TensorType::kQ5_K, "q5_K", kQKK, 4 + 12 + kQKK / 8 + kQKK / 2);
    set(TensorType::kQ6_K, "q6_K", kQKK, kQKK / 2 + kQKK / 4 + kQKK / 16 + 2);
    set(TensorType::kIQ4_NL, "iq4_nl", kQK, 2 + kQK / 2);
    return t;
  }();
  return table;
}

// Every binary16 value decoded once: scales are read per block and F16 tensors per element,
// and a 256 KiB table beats re-normalising subnormals in the inner loop.
const float* fp16_table() {
  static const std::array<float, 65536>* table = [] {
    auto* t = new std::array<float, 65536>;
    for (uint32_t i = 0; i < 65536; ++i) (*t)[i] = fp16_to_f32(static_cast<uint16_t>(i));
    return t;
  }();
  return table->data();
}

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

inline float half_at(const float* table, const uint8_t* p) {
  return table[load_u16(p)];
}

ETCH_VECTORIZED void dequant_f16(const uint8_t* src, float* dst, int64_t n) {
  const float* table = fp16_table();
  for (int64_t i = 0; i < n; ++i) dst[i] = table[load_u16(src + 2 * i)];
}

ETCH_VECTORIZED void dequant_bf16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(src + 2 * i));
}

// Block: d (f16), 32 signed bytes.
ETCH_VECTORIZED void dequant_q8_0(const uint8_t* src, float* dst, int64_t n) {
  const float* table = fp16_table();
  for (int64_t b = 0; b < n / kQK; ++b, src += 34, dst += kQK) {
    const float d = half_at(table, src);
    const auto* q = reinterpret_cast<const int8_t*>(src + 2);
    for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(q[j]) * d;
  }
}

// An eighth of a nibble block as 4-lane vectors (128 bits: the baseline target's own width, so
// no clone passes wider vectors between functions): eighth k holds elements 4k to 4k + 3, whose
// quants sit in the low nibbles of bytes 4k.. (k < 4) or the high nibbles of bytes 4(k - 4)..
// GCC's vector types keep the loops vectorized in every clone; each lane's float operations
// are the reference's, in its order.
typedef int32_t Int4Lanes __attribute__((vector_size(16)));
typedef float Float4Lanes __attribute__((vector_size(16)));

inline Int4Lanes nibbles(const uint8_t* q, int eighth) {
  typedef uint8_t Bytes __attribute__((vector_size(4)));
  Bytes bytes;
  std::memcpy(&bytes, q + 4 * (eighth % 4), sizeof bytes);
  return __builtin_convertvector(eighth < 4 ? bytes & 0x0f : bytes >> 4, Int4Lanes);
}

// The fifth bits of a Q5 eighth: bit j of a 32-bit little-endian word is element j's.
inline Int4Lanes fifth_bits(const uint8_t* p, int eighth) {
  uint32_t word;
  std::memcpy(&word, p, 4);
  const Int4Lanes j = {0, 1, 2, 3};
  const Int4Lanes high = static_cast<int32_t>(word >> (4 * eighth)) + Int4Lanes{};
  return ((high >> j) & 1) << 4;
}

inline void store(float* dst, Float4Lanes v) {
  std::memcpy(dst, &v, sizeof v);
}

inline Float4Lanes to_floats(Int4Lanes q) {
  return __builtin_convertvector(q, Float4Lanes);
}

// Block: d (f16), 16 bytes of nibbles.
ETCH_VECTORIZED void dequant_q4_0(const uint8_t* src, float* dst, int64_t n) {
  const float* table = fp16_table();
  for (int64_t b = 0; b < n / kQK; ++b, src += 18, dst += kQK) {
    const float d = half_at(table, src);
    for (int k = 0; k < 8; ++k) store(dst + 4 * k, to_floats(nibbles(src + 2, k) - 8) * d);
  }
}

// Block: d, m (f16), nibbles as Q4_0, unsigned with an offset m.
ETCH_VECTORIZED void dequant_q4_1(const uint8_t* src, float* dst, int64_t n) {
  const float* table = fp16_table();
  for (int64_t b = 0; b < n / kQK; ++b, src += 20, dst += kQK) {
    const float d = half_at(table, src);
    const float m = half_at(table, src + 2);
    for (int k = 0; k < 8; ++k) store(dst + 4 * k, to_floats(nibbles(src + 4, k)) * d + m);
  }
}

// Block: d (f16), 4 bytes of high bits, 16 bytes of nibbles.
ETCH_VECTORIZED void dequant_q5_0(const uint8_t* src, float* dst, int64_t n) {
  const float* table = fp16_table();
  for (int64_t b = 0; b < n / kQK; ++b, src += 22, dst += kQK) {
    const float d = half_at(table, src);
    for (int k = 0; k < 8; ++k)
      store(dst + 4 * k, to_floats((nibbles(src + 6, k) | fifth_bits(src + 2, k)) - 16) * d);
  }
}

// Block: d, m (f16), 4 bytes of high bits, 16 bytes of nibbles.
ETCH_VECTORIZED void dequant_q5_1(const uint8_t* src, float* dst, int64_t n) {
  const float* table = fp16_table();
  for (int64_t b = 0; b < n / kQK; ++b, src += 24, dst += kQK) {
    const float d = half_at(table, src);
    const float m = half_at(table, src + 2);
    for (int k = 0; k < 8; ++k)
      store(dst + 4 * k, to_floats(nibbles(src + 8, k) | fifth_bits(src + 4, k)) * d + m);
  }
}

// IQ4_NL: Q4_0's layout, but each nibble indexes a fixed non-uniform grid of int8 levels.
constexpr int8_t kIq4nlLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

ETCH_VECTORIZED void dequant_iq4_nl(const uint8_t* src, float* dst, int64_t n) {
  const float* table = fp16_table();
  for (int64_t b = 0; b < n / kQK; ++b, src += 18, dst += kQK) {
    const float d = half_at(table, src);
    const uint8_t* q = src + 2;
    for (int j = 0; j < 16; ++j) {
      dst[j] = d * static_cast<float>(kIq4nlLevels[q[j] & 0x0f]);
      dst[j + 16] = d * static_cast<float>(kIq4nlLevels[q[j] >> 4]);
    }
  }
}

// Q2_K super-block: 16 bytes of (min << 4 | scale) per 16-element sub-block, 64 bytes of 2-bit
// quants, d and dmin (f16). Each 128-element half uses 32 quant bytes four times, two bits at a
// time; within one pass the first 16 bytes feed one sub-block and the next 16 the following one.
ETCH_VECTORIZED void dequant_q2_k(const uint8_t* src, float* dst, int64_t n) {
  const float* table = fp16_table();
  for (int64_t b = 0; b < n / kQKK; ++b, src += 84) {
    const uint8_t* scales = src;
    const uint8_t* q = src + 16;
    const float d = half_at(table, src + 80);
    const float dmin = half_at(table, src + 82);
    int sub = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part, ++sub, dst += 16) {
          const float dl = d * static_cast<float>(scales[sub] & 0x0f);
          const float ml = dmin * static_cast<float>(scales[sub] >> 4);
          const uint8_t* qp = q + 16 * part;
          for (int l = 0; l < 16; ++l) dst[l] = dl * static_cast<float>((qp[l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// Q3_K super-block: 32 bytes of high bits (hmask), 64 bytes of 2-bit quants, 12 bytes holding
// sixteen 6-bit scales, d (f16). Scale i: low four bits in byte i (i < 8) or the high nibble of
// byte i-8; its top two bits in byte 8 + i%4 at bit 2*(i/4). The quant of a clear hmask bit is
// lowered by 4, giving levels -4..3.
ETCH_VECTORIZED void dequant_q3_k(const uint8_t* src, float* dst, int64_t n) {
  const float* table = fp16_table();
  for (int64_t b = 0; b < n / kQKK; ++b, src += 110) {
    const uint8_t* hmask = src;
    const uint8_t* q = src + 32;
    const uint8_t* packed = src + 96;
    const float d = half_at(table, src + 108);
    int scales[16];
    for (int i = 0; i < 16; ++i) {
      const int low = i < 8 ? (packed[i] & 0x0f) : (packed[i - 8] >> 4);
      const int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
      scales[i] = (low | (high << 4)) - 32;
    }
    int sub = 0;
    uint8_t bit = 1;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, bit = static_cast<uint8_t>(bit << 1)) {
        for (int part = 0; part < 2; ++part, ++sub, dst += 16) {
          const float dl = d * static_cast<float>(scales[sub]);
          const uint8_t* qp = q + 16 * part;
          const uint8_t* hp = hmask + 16 * part;
          for (int l = 0; l < 16; ++l) {
            const int level = ((qp[l] >> shift) & 3) - ((hp[l] & bit) ? 0 : 4);
            dst[l] = dl * static_cast<float>(level);
          }
        }
      }
    }
  }
}

// The 12-byte scale/min block of Q4_K and Q5_K: eight 6-bit scales and eight 6-bit mins. Pairs
// 0-3 sit in the low six bits of bytes 0-3 (scales) and 4-7 (mins); pairs 4-7 keep their low
// four bits in the nibbles of bytes 8-11 and their top two bits in the spare top bits of
// bytes 0-7.
inline void k4_scale_min(int j, const uint8_t* s, int& scale, int& min) {
  if (j < 4) {
    scale = s[j] & 63;
    min = s[j + 4] & 63;
  } else {
    scale = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Q4_K super-block: d, dmin (f16), 12 scale bytes, 128 bytes of nibbles. Each 64 elements use
// 32 bytes: low nibbles for the first 32, high nibbles for the next 32.
ETCH_VECTORIZED void dequant_q4_k(const uint8_t* src, float* dst, int64_t n) {
  const float* table = fp16_table();
  for (int64_t b = 0; b < n / kQKK; ++b, src += 144) {
    const float d = half_at(table, src);
    const float dmin = half_at(table, src + 2);
    const uint8_t* s = src + 4;
    const uint8_t* q = src + 16;
    for (int j = 0; j < 8; j += 2, q += 32, dst += 64) {
      int sc, mn;
      k4_scale_min(j, s, sc, mn);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(mn);
      k4_scale_min(j + 1, s, sc, mn);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(mn);
      for (int l = 0; l < 32; ++l) dst[l] = d1 * static_cast<float>(q[l] & 0x0f) - m1;
      for (int l = 0; l < 32; ++l) dst[l + 32] = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

// Q5_K super-block: Q4_K plus 32 bytes of fifth bits; element l of 64-element group g takes
// bit 2g (first 32) or 2g+1 (second 32) of byte l.
ETCH_VECTORIZED void dequant_q5_k(const uint8_t* src, float* dst, int64_t n) {
  const float* table = fp16_table();
  for (int64_t b = 0; b < n / kQKK; ++b, src += 176) {
    const float d = half_at(table, src);
    const float dmin = half_at(table, src + 2);
    const uint8_t* s = src + 4;
    const uint8_t* high = src + 16;
    const uint8_t* q = src + 48;
    for (int j = 0; j < 8; j += 2, q += 32, dst += 64) {
      int sc, mn;
      k4_scale_min(j, s, sc, mn);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(mn);
      k4_scale_min(j + 1, s, sc, mn);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(mn);
      const int bit1 = j, bit2 = j + 1;
      for (int l = 0; l < 32; ++l)
        dst[l] = d1 * static_cast<float>((q[l] & 0x0f) | (((high[l] >> bit1) & 1) << 4)) - m1;
      for (int l = 0; l < 32; ++l)
        dst[l + 32] = d2 * static_cast<float>((q[l] >> 4) | (((high[l] >> bit2) & 1) << 4)) - m2;
    }
  }
}

// Q6_K super-block: 128 bytes of low nibbles, 64 bytes of high bit pairs, 16 int8 scales (one
// per 16 elements), d (f16). Each 128-element half uses 64 low bytes and 32 high bytes: element
// l + 32k (k = 0..3) takes the low or high nibble of low byte l or l+32 and bit pair k of
// high byte l; levels are -32..31.
ETCH_VECTORIZED void dequant_q6_k(const uint8_t* src, float* dst, int64_t n) {
  const float* table = fp16_table();
  for (int64_t b = 0; b < n / kQKK; ++b, src += 210) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = half_at(table, src + 208);
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, dst += 128) {
      for (int l = 0; l < 32; ++l) {
        const int s = l / 16;
        const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        dst[l] = d * static_cast<float>(sc[s]) * static_cast<float>(q1);
        dst[l + 32] = d * static_cast<float>(sc[s + 2]) * static_cast<float>(q2);
        dst[l + 64] = d * static_cast<float>(sc[s + 4]) * static_cast<float>(q3);
        dst[l + 96] = d * static_cast<float>(sc[s + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace

std::optional<TypeTraits> type_traits(uint32_t type) {
  const auto& table = traits_table();
  if (type >= table.size() || table[type].name == nullptr) return std::nullopt;
  return table[type];
}

const TypeTraits& type_traits(TensorType type) {
  const auto& table = traits_table();
  const auto index = static_cast<uint32_t>(type);
  if (index >= table.size() || table[index].name == nullptr)
    fail("internal error: tensor type {} has no traits", index);
  return table[index];
}

void dequantize(TensorType type, const uint8_t* src, float* dst, int64_t count) {
  const TypeTraits& traits = type_traits(type);
  if (count < 0 || count % traits.block_elements != 0)
    fail("cannot dequantize {} {} elements: not a whole number of blocks of {}", count, traits.name,
         traits.block_elements);
  switch (type) {
    case TensorType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(float));
      return;
    case TensorType::kF16:
      return dequant_f16(src, dst, count);
    case TensorType::kBF16:
      return dequant_bf16(src, dst, count);
    case TensorType::kQ8_0:
      return dequant_q8_0(src, dst, count);
    case TensorType::kQ4_0:
      return dequant_q4_0(src, dst, count);
    case TensorType::kQ4_1:
      return dequant_q4_1(src, dst, count);
    case TensorType::kQ5_0:
      return dequant_q5_0(src, dst, count);
    case TensorType::kQ5_1:
      return dequant_q5_1(src, dst, count);
    case TensorType::kQ2_K:
      return dequant_q2_k(src, dst, count);
    case TensorType::kQ3_K:
      return dequant_q3_k(src, dst, count);
    case TensorType::kQ4_K:
      return dequant_q4_k(src, dst, count);
    case TensorType::kQ5_K:
      return dequant_q5_k(src, dst, count);
    case TensorType::kQ6_K:
      return dequant_q6_k(src, dst, count);
    case TensorType::kIQ4_NL:
      return dequant_iq4_nl(src, dst, count);
  }
}

}  // namespace etch::import
