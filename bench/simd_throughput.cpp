// The bound on the hc decode loop: throughput of the AVX-512 instructions it needs, on this CPU,
// in instructions per cycle, each in a loop of 12 independent operations (inline assembly, so
// the compiler cannot fold or reorder them), and mixes of them as one chunk of 32 weights
// needs them. The clock is estimated from a chain of dependent adds (1 cycle each); each
// figure is the best of several short passes alternating with the clock's, so a loaded
// machine's preemptions drop out.
//
// Usage: simd_throughput
// Prints one line per loop: instructions (or chunks) per cycle, then the minimum cycles per
// 32 weights of a kernel that turns K-bit codes into 16-bit weights by a table lookup and
// multiplies them with 16-bit activations.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace {

constexpr int64_t kIterations = 200'000;  // per pass; 12 operations each

double seconds_of(const std::function<void(int64_t)>& loop) {
  double best = 1e30;
  for (int pass = 0; pass < 15; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    loop(kIterations);
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// 120 dependent adds per iteration: 120 cycles.
void add_chain(int64_t iterations) {
  uint64_t a = 0;
  for (int64_t i = 0; i < iterations; ++i) {
#define ADD10                                                                  \
  "add $1, %0\n\t add $1, %0\n\t add $1, %0\n\t add $1, %0\n\t add $1, %0\n\t" \
  "add $1, %0\n\t add $1, %0\n\t add $1, %0\n\t add $1, %0\n\t add $1, %0\n\t"
    asm volatile(ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 : "+r"(a));
#undef ADD10
  }
}

// Twelve copies of OP with %%zmm{N} as destination (N = 0..11), the sources zmm12..zmm15 that
// no copy writes: no copy waits for another's result unless OP reads its destination.
#define TWELVE(OP) OP(0) OP(1) OP(2) OP(3) OP(4) OP(5) OP(6) OP(7) OP(8) OP(9) OP(10) OP(11)
#define ZMM_CLOBBERS                                                                            \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",      \
      "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", \
      "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29"

#define VPERMW(n) "vpermw %%zmm12, %%zmm13, %%zmm" #n "\n\t"
#define VPERMI2W(n) "vmovdqa64 %%zmm13, %%zmm" #n "\n\t vpermi2w %%zmm14, %%zmm12, %%zmm" #n "\n\t"
#define VPERMT2W(n) "vpermt2w %%zmm14, %%zmm13, %%zmm" #n "\n\t"
#define VPERMB(n) "vpermb %%zmm12, %%zmm13, %%zmm" #n "\n\t"
#define VPSHUFB(n) "vpshufb %%zmm13, %%zmm12, %%zmm" #n "\n\t"
#define VPMULTISHIFTQB(n) "vpmultishiftqb %%zmm12, %%zmm13, %%zmm" #n "\n\t"
#define BCAST128(n) "vbroadcasti32x4 " #n "*16(%0), %%zmm" #n "\n\t"
#define VPSRLVW(n) "vpsrlvw %%zmm13, %%zmm12, %%zmm" #n "\n\t"
#define VPSRLW(n) "vpsrlw $4, %%zmm12, %%zmm" #n "\n\t"
#define VPMADDUBSW(n) "vpmaddubsw %%zmm12, %%zmm13, %%zmm" #n "\n\t"
#define BCASTB_MASKED(n) "vpbroadcastb " #n "(%0), %%zmm" #n "%{%%k1%}%{z%}\n\t"
#define VPDPWSSD(n) "vpdpwssd %%zmm12, %%zmm13, %%zmm" #n "\n\t"
#define VPMADDWD(n) "vpmaddwd %%zmm12, %%zmm13, %%zmm" #n "\n\t"
#define VPMULLW(n) "vpmullw %%zmm12, %%zmm13, %%zmm" #n "\n\t"
#define VPMULLD(n) "vpmulld %%zmm12, %%zmm13, %%zmm" #n "\n\t"
#define VPADDD(n) "vpaddd %%zmm12, %%zmm13, %%zmm" #n "\n\t"
#define LOADZ(n) "vmovdqu64 " #n "*64(%0), %%zmm" #n "\n\t"
#define LOADX(n) "vmovdqu " #n "*16(%0), %%xmm" #n "\n\t"
#define BCASTW(n) "vpbroadcastw " #n "*2(%0), %%zmm" #n "\n\t"
// A chunk of the minimal kernel: the lookup (one word permute, table in a register) and the
// multiply-add of its 32 weights with the activations (zmm16 + n: 12 accumulators).
#define LOOKUP_DOT(n, acc)            \
  "vpermw %%zmm12, %%zmm13, %%zmm" #n \
  "\n\t"                              \
  "vpdpwssd %%zmm14, %%zmm" #n ", %%zmm" #acc "\n\t"
// A chunk as hc_rows computes it: code load, byte permute, variable shift, the word permute of
// the multiplier's table (from memory, or from zmm13 as a kernel that applies the multiplier
// elsewhere would have it), one VNNI step into its own accumulator (zmm16..zmm27).
#define HC_CHUNK_FROM(table, n, acc)        \
  "vmovdqu " #n "*16(%0), %%xmm" #n         \
  "\n\t"                                    \
  "vpermb %%zmm" #n ", %%zmm28, %%zmm" #n   \
  "\n\t"                                    \
  "vpsrlvw %%zmm29, %%zmm" #n ", %%zmm" #n  \
  "\n\t"                                    \
  "vpermw " table ", %%zmm" #n ", %%zmm" #n \
  "\n\t"                                    \
  "vpdpwssd %%zmm12, %%zmm" #n ", %%zmm" #acc "\n\t"
#define HC_CHUNK(n, acc) HC_CHUNK_FROM(#n "*64+1024(%0)", n, acc)
#define HC_CHUNK_REG(n, acc) HC_CHUNK_FROM("%%zmm13", n, acc)

// A chunk whose codes already lie one per word in a register holding several chunks' codes
// side by side (each word K-bit fields, one per chunk): an immediate shift brings the chunk's
// field down, then the lookup and the multiply-add. A layout that `etch build` could write.
#define SLICE_CHUNK(n, acc)               \
  "vpsrlw $3, %%zmm15, %%zmm" #n          \
  "\n\t"                                  \
  "vpermw %%zmm12, %%zmm" #n ", %%zmm" #n \
  "\n\t"                                  \
  "vpdpwssd %%zmm14, %%zmm" #n ", %%zmm" #acc "\n\t"

// A chunk of 4-bit codes unpacked by one multishift: its 16 code bytes broadcast to every
// 128-bit lane by the load, `vpmultishiftqb` moves each word's code to the word's low bits
// (the activations permuted once to the order this leaves), then the lookup and multiply-add.
#define MULTISHIFT_CHUNK(n, acc)                  \
  "vbroadcasti32x4 " #n "*16(%0), %%zmm" #n       \
  "\n\t"                                          \
  "vpmultishiftqb %%zmm" #n ", %%zmm15, %%zmm" #n \
  "\n\t"                                          \
  "vpermw %%zmm12, %%zmm" #n ", %%zmm" #n         \
  "\n\t"                                          \
  "vpdpwssd %%zmm14, %%zmm" #n ", %%zmm" #acc "\n\t"

alignas(64) uint8_t scratch[4096];

// A chunk from word stripes with its multiplier: the row's codes shifted down, the level words
// (zmm12) permuted, the multiplier code broadcast to the even bytes (k1) and applied by
// vpmaddubsw, one VNNI step.
#define STRIPE_CHUNK(n, acc)                  \
  "vpsrlw $3, %%zmm15, %%zmm" #n              \
  "\n\t"                                      \
  "vpermw %%zmm12, %%zmm" #n ", %%zmm" #n     \
  "\n\t"                                      \
  "vpbroadcastb " #n                          \
  "(%0), %%zmm28%{%%k1%}%{z%}"                \
  "\n\t"                                      \
  "vpmaddubsw %%zmm" #n ", %%zmm28, %%zmm" #n \
  "\n\t"                                      \
  "vpdpwssd %%zmm14, %%zmm" #n ", %%zmm" #acc "\n\t"
// The same with the product table for the multiplier taken by the permute from memory.
#define STRIPE_TABLE_CHUNK(n, acc)                   \
  "vpsrlw $3, %%zmm15, %%zmm" #n                     \
  "\n\t"                                             \
  "vpermw " #n "*64+1024(%0), %%zmm" #n ", %%zmm" #n \
  "\n\t"                                             \
  "vpdpwssd %%zmm14, %%zmm" #n ", %%zmm" #acc "\n\t"

// A step of 16 rows x 2 columns from pair stripes: the step's codes shifted down, the level
// words (zmm12) permuted, the rows' multipliers applied by vpmullw from memory, one VNNI step
// against the column pair broadcast from memory.
#define PAIR_STEP(n, acc)                   \
  "vpsrlw $3, %%zmm15, %%zmm" #n            \
  "\n\t"                                    \
  "vpermw %%zmm12, %%zmm" #n ", %%zmm" #n   \
  "\n\t"                                    \
  "vpmullw 1024(%0), %%zmm" #n ", %%zmm" #n \
  "\n\t"                                    \
  "vpdpwssd " #n "*4(%0)%{1to16%}, %%zmm" #n ", %%zmm" #acc "\n\t"
// The same with the column pair already broadcast in a register (zmm14).
#define PAIR_STEP_REG(n, acc)              \
  "vpsrlw $3, %%zmm15, %%zmm" #n           \
  "\n\t"                                   \
  "vpermw %%zmm12, %%zmm" #n ", %%zmm" #n  \
  "\n\t"                                   \
  "vpmullw %%zmm13, %%zmm" #n ", %%zmm" #n \
  "\n\t"                                   \
  "vpdpwssd %%zmm14, %%zmm" #n ", %%zmm" #acc "\n\t"

#define LOOP(NAME, BODY)                                                       \
  __attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vnni"))) void NAME( \
      int64_t iterations) {                                                    \
    for (int64_t i = 0; i < iterations; ++i)                                   \
      asm volatile("kxnorq %%k1, %%k1, %%k1\n\t" BODY                          \
                   :                                                           \
                   : "r"(scratch)                                              \
                   : "memory", "k1", ZMM_CLOBBERS);                            \
  }

LOOP(vpermw_loop, TWELVE(VPERMW))
LOOP(vpermi2w_loop, TWELVE(VPERMI2W))
LOOP(vpermt2w_loop, TWELVE(VPERMT2W))
LOOP(vpermb_loop, TWELVE(VPERMB))
LOOP(vpshufb_loop, TWELVE(VPSHUFB))
LOOP(vpsrlvw_loop, TWELVE(VPSRLVW))
LOOP(vpmultishiftqb_loop, TWELVE(VPMULTISHIFTQB))
LOOP(broadcast_128_loop, TWELVE(BCAST128))
LOOP(vpsrlw_loop, TWELVE(VPSRLW))
LOOP(vpdpwssd_loop, TWELVE(VPDPWSSD))
LOOP(pair_step_loop, PAIR_STEP(0, 16) PAIR_STEP(1, 17) PAIR_STEP(2, 18) PAIR_STEP(3, 19)
                         PAIR_STEP(4, 20) PAIR_STEP(5, 21) PAIR_STEP(6, 22) PAIR_STEP(7, 23)
                             PAIR_STEP(8, 24) PAIR_STEP(9, 25) PAIR_STEP(10, 26) PAIR_STEP(11, 27))
LOOP(pair_step_reg_loop,
     PAIR_STEP_REG(0, 16) PAIR_STEP_REG(1, 17) PAIR_STEP_REG(2, 18) PAIR_STEP_REG(3, 19)
         PAIR_STEP_REG(4, 20) PAIR_STEP_REG(5, 21) PAIR_STEP_REG(6, 22) PAIR_STEP_REG(7, 23)
             PAIR_STEP_REG(8, 24) PAIR_STEP_REG(9, 25) PAIR_STEP_REG(10, 26) PAIR_STEP_REG(11, 27))
LOOP(vpmaddubsw_loop, TWELVE(VPMADDUBSW))
LOOP(broadcast_byte_masked_loop, TWELVE(BCASTB_MASKED))
LOOP(stripe_chunk_loop,
     STRIPE_CHUNK(0, 16) STRIPE_CHUNK(1, 17) STRIPE_CHUNK(2, 18) STRIPE_CHUNK(3, 19)
         STRIPE_CHUNK(4, 20) STRIPE_CHUNK(5, 21) STRIPE_CHUNK(6, 22) STRIPE_CHUNK(7, 23)
             STRIPE_CHUNK(8, 24) STRIPE_CHUNK(9, 25) STRIPE_CHUNK(10, 26) STRIPE_CHUNK(11, 27))
LOOP(stripe_table_chunk_loop,
     STRIPE_TABLE_CHUNK(0, 16) STRIPE_TABLE_CHUNK(1, 17) STRIPE_TABLE_CHUNK(2, 18)
         STRIPE_TABLE_CHUNK(3, 19) STRIPE_TABLE_CHUNK(4, 20) STRIPE_TABLE_CHUNK(5, 21)
             STRIPE_TABLE_CHUNK(6, 22) STRIPE_TABLE_CHUNK(7, 23) STRIPE_TABLE_CHUNK(8, 24)
                 STRIPE_TABLE_CHUNK(9, 25) STRIPE_TABLE_CHUNK(10, 26) STRIPE_TABLE_CHUNK(11, 27))
LOOP(vpmaddwd_loop, TWELVE(VPMADDWD))
LOOP(vpmullw_loop, TWELVE(VPMULLW))
LOOP(vpmulld_loop, TWELVE(VPMULLD))
LOOP(vpaddd_loop, TWELVE(VPADDD))
LOOP(load_zmm_loop, TWELVE(LOADZ))
LOOP(load_xmm_loop, TWELVE(LOADX))
LOOP(broadcast_word_loop, TWELVE(BCASTW))
LOOP(lookup_dot_loop,
     LOOKUP_DOT(0, 16) LOOKUP_DOT(1, 17) LOOKUP_DOT(2, 18) LOOKUP_DOT(3, 19) LOOKUP_DOT(4, 20)
         LOOKUP_DOT(5, 21) LOOKUP_DOT(6, 22) LOOKUP_DOT(7, 23) LOOKUP_DOT(8, 24) LOOKUP_DOT(9, 25)
             LOOKUP_DOT(10, 26) LOOKUP_DOT(11, 27))
LOOP(slice_chunk_loop,
     SLICE_CHUNK(0, 16) SLICE_CHUNK(1, 17) SLICE_CHUNK(2, 18) SLICE_CHUNK(3, 19) SLICE_CHUNK(4, 20)
         SLICE_CHUNK(5, 21) SLICE_CHUNK(6, 22) SLICE_CHUNK(7, 23) SLICE_CHUNK(8, 24)
             SLICE_CHUNK(9, 25) SLICE_CHUNK(10, 26) SLICE_CHUNK(11, 27))
LOOP(multishift_chunk_loop,
     MULTISHIFT_CHUNK(0, 16) MULTISHIFT_CHUNK(1, 17) MULTISHIFT_CHUNK(2, 18) MULTISHIFT_CHUNK(3, 19)
         MULTISHIFT_CHUNK(4, 20) MULTISHIFT_CHUNK(5, 21) MULTISHIFT_CHUNK(6, 22)
             MULTISHIFT_CHUNK(7, 23) MULTISHIFT_CHUNK(8, 24) MULTISHIFT_CHUNK(9, 25)
                 MULTISHIFT_CHUNK(10, 26) MULTISHIFT_CHUNK(11, 27))
LOOP(hc_chunk_loop, HC_CHUNK(0, 16) HC_CHUNK(1, 17) HC_CHUNK(2, 18) HC_CHUNK(3, 19) HC_CHUNK(4, 20)
                        HC_CHUNK(5, 21) HC_CHUNK(6, 22) HC_CHUNK(7, 23) HC_CHUNK(8, 24)
                            HC_CHUNK(9, 25) HC_CHUNK(10, 26) HC_CHUNK(11, 27))
LOOP(hc_chunk_reg_loop,
     HC_CHUNK_REG(0, 16) HC_CHUNK_REG(1, 17) HC_CHUNK_REG(2, 18) HC_CHUNK_REG(3, 19)
         HC_CHUNK_REG(4, 20) HC_CHUNK_REG(5, 21) HC_CHUNK_REG(6, 22) HC_CHUNK_REG(7, 23)
             HC_CHUNK_REG(8, 24) HC_CHUNK_REG(9, 25) HC_CHUNK_REG(10, 26) HC_CHUNK_REG(11, 27))

}  // namespace

int main() {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512vbmi") || !__builtin_cpu_supports("avx512vnni")) {
    fmt::print(stderr, "simd_throughput: this CPU lacks AVX-512 VBMI or VNNI\n");
    return 1;
  }
  struct Loop {
    const char* name;
    void (*run)(int64_t);
    int per_iteration;  // operations (or chunks) per iteration
  };
  const std::vector<Loop> loops = {
      {"vpermw zmm", vpermw_loop, 12},
      {"vpermi2w zmm (+ vmovdqa64 of the index)", vpermi2w_loop, 12},
      {"vpermt2w zmm (dependent on itself)", vpermt2w_loop, 12},
      {"vpermb zmm", vpermb_loop, 12},
      {"vpshufb zmm", vpshufb_loop, 12},
      {"vpsrlvw zmm", vpsrlvw_loop, 12},
      {"vpmultishiftqb zmm", vpmultishiftqb_loop, 12},
      {"vpsrlw zmm, imm", vpsrlw_loop, 12},
      {"vpdpwssd zmm (12 accumulators)", vpdpwssd_loop, 12},
      {"vpmaddwd zmm", vpmaddwd_loop, 12},
      {"vpmaddubsw zmm", vpmaddubsw_loop, 12},
      {"vpbroadcastb zmm{k}{z} from memory", broadcast_byte_masked_loop, 12},
      {"vpmullw zmm", vpmullw_loop, 12},
      {"vpmulld zmm", vpmulld_loop, 12},
      {"vpaddd zmm", vpaddd_loop, 12},
      {"load zmm (L1)", load_zmm_loop, 12},
      {"load xmm (L1)", load_xmm_loop, 12},
      {"vpbroadcastw zmm from memory", broadcast_word_loop, 12},
      {"vbroadcasti32x4 zmm from memory", broadcast_128_loop, 12},
      {"chunk: vpermw (table in a register) + vpdpwssd", lookup_dot_loop, 12},
      {"chunk, codes one per word: vpsrlw imm, vpermw, vpdpwssd", slice_chunk_loop, 12},
      {"chunk, 4-bit codes: vbroadcasti32x4 load, vpmultishiftqb, vpermw, vpdpwssd",
       multishift_chunk_loop, 12},
      {"stripe chunk: vpsrlw imm, vpermw, vpbroadcastb{k} m8, vpmaddubsw, vpdpwssd",
       stripe_chunk_loop, 12},
      {"stripe chunk: vpsrlw imm, vpermw m512 (the multiplier's table), vpdpwssd",
       stripe_table_chunk_loop, 12},
      {"pair step: vpsrlw imm, vpermw, vpmullw m512, vpdpwssd m32{1to16}", pair_step_loop, 12},
      {"pair step, all in registers: vpsrlw imm, vpermw, vpmullw, vpdpwssd", pair_step_reg_loop,
       12},
      {"chunk as hc_rows: load xmm, vpermb, vpsrlvw, vpermw m512, vpdpwssd", hc_chunk_loop, 12},
      {"chunk, table in a register: load xmm, vpermb, vpsrlvw, vpermw, vpdpwssd", hc_chunk_reg_loop,
       12},
  };
  double clock_hz = 0;
  fmt::print("{:<72} {:>8} {:>9}\n", "loop", "per cycle", "cycles/op");
  for (const Loop& loop : loops) {
    // The clock right before each loop: a VM's frequency and steal time drift.
    clock_hz = std::max(clock_hz, 120.0 * kIterations / seconds_of(add_chain));
    const double cycles = seconds_of(loop.run) * clock_hz;
    const double per_cycle = static_cast<double>(loop.per_iteration) * kIterations / cycles;
    fmt::print("{:<72} {:>8.2f} {:>9.2f}\n", loop.name, per_cycle, 1 / per_cycle);
  }
  fmt::print("clock (dependent adds): {:.2f} GHz\n", clock_hz / 1e9);
  return 0;
}
