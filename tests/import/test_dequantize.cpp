// Dequantization round trips: a reference encoder, written per element from the block layouts
// (which byte and bit holds element e), packs chosen levels and scales; dequantize must give back
// exactly the values those levels stand for. Covers every type, including those no fixture has.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.hpp"
#include "core/half.hpp"
#include "import/import.hpp"

namespace etch::import {
namespace {

using Bytes = std::vector<uint8_t>;

void put_half(Bytes& b, size_t at, uint16_t h) {
  std::memcpy(b.data() + at, &h, 2);
}

// Sets bits [bit, bit + width) of byte `at` to v.
void set_bits(Bytes& b, size_t at, int bit, int width, int v) {
  const int mask = ((1 << width) - 1) << bit;
  b[at] = static_cast<uint8_t>((b[at] & ~mask) | ((v << bit) & mask));
}

// A random fp16 scale of moderate size (never subnormal, never huge).
uint16_t random_scale(std::mt19937& rng) {
  std::uniform_real_distribution<float> u(0.001f, 0.1f);
  return f32_to_fp16(u(rng));
}

std::vector<float> run(TensorType type, const Bytes& bytes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize(type, bytes.data(), out.data(), n);
  return out;
}

void expect_same(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
        << "element " << i << ": got " << got[i] << ", want " << want[i];
}

constexpr int kBlocks = 3;

TEST(Dequantize, TraitsMatchGgml) {
  struct Row {
    TensorType type;
    const char* name;
    int64_t elements, bytes;
  };
  const Row rows[] = {
      {TensorType::kF32, "f32", 1, 4},       {TensorType::kF16, "f16", 1, 2},
      {TensorType::kBF16, "bf16", 1, 2},     {TensorType::kQ4_0, "q4_0", 32, 18},
      {TensorType::kQ4_1, "q4_1", 32, 20},   {TensorType::kQ5_0, "q5_0", 32, 22},
      {TensorType::kQ5_1, "q5_1", 32, 24},   {TensorType::kQ8_0, "q8_0", 32, 34},
      {TensorType::kQ2_K, "q2_K", 256, 84},  {TensorType::kQ3_K, "q3_K", 256, 110},
      {TensorType::kQ4_K, "q4_K", 256, 144}, {TensorType::kQ5_K, "q5_K", 256, 176},
      {TensorType::kQ6_K, "q6_K", 256, 210}, {TensorType::kIQ4_NL, "iq4_nl", 32, 18},
  };
  for (const Row& r : rows) {
    const TypeTraits& t = type_traits(r.type);
    EXPECT_STREQ(t.name, r.name);
    EXPECT_EQ(t.block_elements, r.elements) << r.name;
    EXPECT_EQ(t.block_bytes, r.bytes) << r.name;
    ASSERT_TRUE(type_traits(static_cast<uint32_t>(r.type)).has_value());
  }
  for (uint32_t unknown : {4u, 5u, 9u, 15u, 16u, 23u, 29u, 31u, 77u, 0xffffffffu})
    EXPECT_FALSE(type_traits(unknown).has_value()) << unknown;
}

TEST(Dequantize, HalfFormatsEveryValue) {
  Bytes bytes(65536 * 2);
  for (uint32_t i = 0; i < 65536; ++i) put_half(bytes, 2 * i, static_cast<uint16_t>(i));
  const auto f16 = run(TensorType::kF16, bytes, 65536);
  const auto bf16 = run(TensorType::kBF16, bytes, 65536);
  for (uint32_t i = 0; i < 65536; ++i) {
    const float a = fp16_to_f32(static_cast<uint16_t>(i)),
                b = bf16_to_f32(static_cast<uint16_t>(i));
    ASSERT_EQ(std::bit_cast<uint32_t>(f16[i]), std::bit_cast<uint32_t>(a)) << i;
    ASSERT_EQ(std::bit_cast<uint32_t>(bf16[i]), std::bit_cast<uint32_t>(b)) << i;
  }
  std::vector<float> f32 = {1.5f, -0.0f, 3.25e-39f, 1e30f};
  Bytes raw(16);
  std::memcpy(raw.data(), f32.data(), 16);
  expect_same(run(TensorType::kF32, raw, 4), f32);
}

TEST(Dequantize, Q8_0) {
  std::mt19937 rng(1);
  Bytes b(kBlocks * 34);
  std::vector<float> want;
  for (int blk = 0; blk < kBlocks; ++blk) {
    const uint16_t h = random_scale(rng);
    put_half(b, blk * 34, h);
    for (int e = 0; e < 32; ++e) {
      const int q = static_cast<int>(rng() % 256) - 128;
      b[blk * 34 + 2 + e] = static_cast<uint8_t>(static_cast<int8_t>(q));
      want.push_back(static_cast<float>(q) * fp16_to_f32(h));
    }
  }
  expect_same(run(TensorType::kQ8_0, b, kBlocks * 32), want);
}

// The 4-bit formats share one nibble layout: element e < 16 is the low nibble of byte e, element
// e >= 16 the high nibble of byte e - 16.
void put_nibble(Bytes& b, size_t qs, int e, int v) {
  set_bits(b, qs + (e % 16), e < 16 ? 0 : 4, 4, v);
}

TEST(Dequantize, Q4_0AndIq4Nl) {
  const int levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  std::mt19937 rng(2);
  Bytes b(kBlocks * 18);
  std::vector<float> want_q4, want_iq4;
  for (int blk = 0; blk < kBlocks; ++blk) {
    const uint16_t h = random_scale(rng);
    const float d = fp16_to_f32(h);
    put_half(b, blk * 18, h);
    for (int e = 0; e < 32; ++e) {
      const int v = static_cast<int>(rng() % 16);
      put_nibble(b, blk * 18 + 2, e, v);
      want_q4.push_back(static_cast<float>(v - 8) * d);
      want_iq4.push_back(d * static_cast<float>(levels[v]));
    }
  }
  expect_same(run(TensorType::kQ4_0, b, kBlocks * 32), want_q4);
  expect_same(run(TensorType::kIQ4_NL, b, kBlocks * 32), want_iq4);
}

TEST(Dequantize, Q4_1) {
  std::mt19937 rng(3);
  Bytes b(kBlocks * 20);
  std::vector<float> want;
  for (int blk = 0; blk < kBlocks; ++blk) {
    const uint16_t hd = random_scale(rng), hm = f32_to_fp16(-0.37f * blk - 0.1f);
    put_half(b, blk * 20, hd);
    put_half(b, blk * 20 + 2, hm);
    for (int e = 0; e < 32; ++e) {
      const int v = static_cast<int>(rng() % 16);
      put_nibble(b, blk * 20 + 4, e, v);
      want.push_back(static_cast<float>(v) * fp16_to_f32(hd) + fp16_to_f32(hm));
    }
  }
  expect_same(run(TensorType::kQ4_1, b, kBlocks * 32), want);
}

// Q5: the fifth bit of element e is bit e of the little-endian 32-bit word after the scales.
void put_q5(Bytes& b, size_t qh, size_t qs, int e, int v) {
  put_nibble(b, qs, e, v & 15);
  set_bits(b, qh + e / 8, e % 8, 1, v >> 4);
}

TEST(Dequantize, Q5_0AndQ5_1) {
  std::mt19937 rng(4);
  Bytes b0(kBlocks * 22), b1(kBlocks * 24);
  std::vector<float> want0, want1;
  for (int blk = 0; blk < kBlocks; ++blk) {
    const uint16_t hd = random_scale(rng), hm = f32_to_fp16(0.25f * blk - 0.3f);
    put_half(b0, blk * 22, hd);
    put_half(b1, blk * 24, hd);
    put_half(b1, blk * 24 + 2, hm);
    const float d = fp16_to_f32(hd), m = fp16_to_f32(hm);
    for (int e = 0; e < 32; ++e) {
      const int v = static_cast<int>(rng() % 32);
      put_q5(b0, blk * 22 + 2, blk * 22 + 6, e, v);
      put_q5(b1, blk * 24 + 4, blk * 24 + 8, e, v);
      want0.push_back(static_cast<float>(v - 16) * d);
      want1.push_back(static_cast<float>(v) * d + m);
    }
  }
  expect_same(run(TensorType::kQ5_0, b0, kBlocks * 32), want0);
  expect_same(run(TensorType::kQ5_1, b1, kBlocks * 32), want1);
}

// Q2_K and Q3_K place element e's two low bits in byte 32*(e/128) + e%32 at bit 2*((e%128)/32).
void put_2bit(Bytes& b, size_t qs, int e, int v) {
  set_bits(b, qs + 32 * (e / 128) + e % 32, 2 * ((e % 128) / 32), 2, v);
}

TEST(Dequantize, Q2_K) {
  std::mt19937 rng(5);
  Bytes b(kBlocks * 84);
  std::vector<float> want;
  for (int blk = 0; blk < kBlocks; ++blk) {
    const size_t base = blk * 84;
    const uint16_t hd = random_scale(rng), hmin = random_scale(rng);
    put_half(b, base + 80, hd);
    put_half(b, base + 82, hmin);
    int scale[16], min[16];
    for (int s = 0; s < 16; ++s) {
      scale[s] = static_cast<int>(rng() % 16);
      min[s] = static_cast<int>(rng() % 16);
      b[base + s] = static_cast<uint8_t>(min[s] << 4 | scale[s]);
    }
    for (int e = 0; e < 256; ++e) {
      const int v = static_cast<int>(rng() % 4);
      put_2bit(b, base + 16, e, v);
      const float dl = fp16_to_f32(hd) * static_cast<float>(scale[e / 16]);
      const float ml = fp16_to_f32(hmin) * static_cast<float>(min[e / 16]);
      want.push_back(dl * static_cast<float>(v) - ml);
    }
  }
  expect_same(run(TensorType::kQ2_K, b, kBlocks * 256), want);
}

TEST(Dequantize, Q3_K) {
  std::mt19937 rng(6);
  Bytes b(kBlocks * 110);
  std::vector<float> want;
  for (int blk = 0; blk < kBlocks; ++blk) {
    const size_t base = blk * 110;
    const uint16_t hd = random_scale(rng);
    put_half(b, base + 108, hd);
    int scale[16];
    for (int s = 0; s < 16; ++s) {
      scale[s] = static_cast<int>(rng() % 64);
      // Low nibble: byte s (s < 8) or the high nibble of byte s - 8; top two bits: byte
      // 8 + s % 4 at bit 2 * (s / 4).
      set_bits(b, base + 96 + s % 8, s < 8 ? 0 : 4, 4, scale[s] & 15);
      set_bits(b, base + 96 + 8 + s % 4, 2 * (s / 4), 2, scale[s] >> 4);
    }
    for (int e = 0; e < 256; ++e) {
      const int level = static_cast<int>(rng() % 8) - 4;  // -4..3
      const int stored = level + 4;                       // hmask bit set means no -4
      put_2bit(b, base + 32, e, stored & 3);
      set_bits(b, base + e % 32, e / 32, 1, stored >> 2);
      const float dl = fp16_to_f32(hd) * static_cast<float>(scale[e / 16] - 32);
      want.push_back(dl * static_cast<float>(level));
    }
  }
  expect_same(run(TensorType::kQ3_K, b, kBlocks * 256), want);
}

// The 6-bit scale/min pairs of Q4_K and Q5_K, one per 32 elements.
void put_k4_scales(Bytes& b, size_t at, const int* scale, const int* min) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      set_bits(b, at + j, 0, 6, scale[j]);
      set_bits(b, at + j + 4, 0, 6, min[j]);
    } else {
      set_bits(b, at + j + 4, 0, 4, scale[j] & 15);
      set_bits(b, at + j + 4, 4, 4, min[j] & 15);
      set_bits(b, at + j - 4, 6, 2, scale[j] >> 4);
      set_bits(b, at + j, 6, 2, min[j] >> 4);
    }
  }
}

void k_quant_case(TensorType type, int bits, uint32_t seed) {
  const size_t block = bits == 4 ? 144 : 176;
  const size_t qs = bits == 4 ? 16 : 48;
  std::mt19937 rng(seed);
  Bytes b(kBlocks * block);
  std::vector<float> want;
  for (int blk = 0; blk < kBlocks; ++blk) {
    const size_t base = blk * block;
    const uint16_t hd = random_scale(rng), hmin = random_scale(rng);
    put_half(b, base, hd);
    put_half(b, base + 2, hmin);
    int scale[8], min[8];
    for (int j = 0; j < 8; ++j) {
      scale[j] = static_cast<int>(rng() % 64);
      min[j] = static_cast<int>(rng() % 64);
    }
    put_k4_scales(b, base + 4, scale, min);
    for (int e = 0; e < 256; ++e) {
      const int v = static_cast<int>(rng() % (1u << bits));
      // Each 64 elements share 32 bytes: the first 32 in low nibbles, the next 32 in high.
      set_bits(b, base + qs + 32 * (e / 64) + e % 32, (e / 32) % 2 ? 4 : 0, 4, v & 15);
      if (bits == 5) set_bits(b, base + 16 + e % 32, e / 32, 1, v >> 4);
      const float d1 = fp16_to_f32(hd) * static_cast<float>(scale[e / 32]);
      const float m1 = fp16_to_f32(hmin) * static_cast<float>(min[e / 32]);
      want.push_back(d1 * static_cast<float>(v) - m1);
    }
  }
  expect_same(run(type, b, kBlocks * 256), want);
}

TEST(Dequantize, Q4_K) {
  k_quant_case(TensorType::kQ4_K, 4, 7);
}
TEST(Dequantize, Q5_K) {
  k_quant_case(TensorType::kQ5_K, 5, 8);
}

TEST(Dequantize, Q6_K) {
  std::mt19937 rng(9);
  Bytes b(kBlocks * 210);
  std::vector<float> want;
  for (int blk = 0; blk < kBlocks; ++blk) {
    const size_t base = blk * 210;
    const uint16_t hd = random_scale(rng);
    put_half(b, base + 208, hd);
    int scale[16];
    for (int s = 0; s < 16; ++s) {
      scale[s] = static_cast<int>(rng() % 256) - 128;
      b[base + 192 + s] = static_cast<uint8_t>(static_cast<int8_t>(scale[s]));
    }
    for (int e = 0; e < 256; ++e) {
      const int level = static_cast<int>(rng() % 64) - 32;
      const int v = level + 32;
      const int half = e / 128, k = (e % 128) / 32, l = e % 32;
      // Low nibbles: byte l (k even) or l + 32 (k odd) of the half's 64, low nibble for k < 2.
      set_bits(b, base + 64 * half + l + 32 * (k % 2), k < 2 ? 0 : 4, 4, v & 15);
      set_bits(b, base + 128 + 32 * half + l, 2 * k, 2, v >> 4);
      const float ds = fp16_to_f32(hd) * static_cast<float>(scale[e / 16]);
      want.push_back(ds * static_cast<float>(level));
    }
  }
  expect_same(run(TensorType::kQ6_K, b, kBlocks * 256), want);
}

TEST(Dequantize, RejectsPartialBlocks) {
  Bytes b(34);
  std::vector<float> out(64);
  EXPECT_THROW(dequantize(TensorType::kQ8_0, b.data(), out.data(), 31), Error);
}

}  // namespace
}  // namespace etch::import
