// LoRA adapters in the chip's SRAM form.
#include <algorithm>
#include <cmath>

#include "compile/compile.hpp"
#include "contract/contract.hpp"

namespace etch::compile {

namespace {

// Rows of `values` (rows x cols) to int8 codes and one binary32 scale each.
void round_rows(const std::vector<float>& values, int64_t rows, int64_t cols,
                std::vector<int8_t>& codes, std::vector<float>& scales) {
  codes.resize(values.size());
  scales.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = values.data() + r * cols;
    float amax = 0;
    for (int64_t j = 0; j < cols; ++j) amax = std::max(amax, std::abs(row[j]));
    const float scale = amax / 127.0f;
    scales[static_cast<size_t>(r)] = scale;
    for (int64_t j = 0; j < cols; ++j)
      codes[static_cast<size_t>(r * cols + j)] =
          scale == 0.0f
              ? int8_t{0}
              : static_cast<int8_t>(std::clamp(std::nearbyint(row[j] / scale), -127.0f, 127.0f));
  }
}

}  // namespace

const SramLoraMatrix* SramAdapter::find(import::Role role, int64_t layer) const {
  for (const SramLoraMatrix& m : matrices)
    if (m.role == role && m.layer == layer) return &m;
  return nullptr;
}

uint64_t SramAdapter::sram_bits() const {
  uint64_t bits = 0;
  for (const SramLoraMatrix& m : matrices)
    bits += static_cast<uint64_t>(m.rank * (m.rows + m.cols)) * 8 +
            static_cast<uint64_t>(m.rank + m.rows) * contract::kScaleBits;
  return bits;
}

SramAdapter quantize_adapter(const import::Adapter& adapter, float default_scale) {
  SramAdapter out;
  out.name = adapter.name;
  out.default_scale = default_scale;
  for (const import::AdapterMatrix& m : adapter.matrices) {
    SramLoraMatrix q;
    q.role = m.role;
    q.layer = m.layer;
    q.rows = m.rows;
    q.cols = m.cols;
    q.rank = m.rank;
    q.scale = m.scale;
    round_rows(m.a, m.rank, m.cols, q.a, q.a_scales);
    round_rows(m.b, m.rows, m.rank, q.b, q.b_scales);
    out.matrices.push_back(std::move(q));
  }
  return out;
}

}  // namespace etch::compile
