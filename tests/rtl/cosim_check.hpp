// The co-simulation check shared by the RTL tests: a generated design of an .etch model, built
// with Verilator and run on a prompt plus generated tokens, matches the integer engine bit for
// bit (rtl::cosimulate compares every layer's residual stream and every logit).
#pragma once

#include <gtest/gtest.h>

#include "compile/compile.hpp"
#include "rtl/rtl.hpp"
#include "test_support.hpp"

namespace etch::testing {

// Small tiles and int8 groups keep each Verilator build short (a tile's selectors are most of
// the generated C++); the sums do not depend on them. Two tiles side by side and two output
// lanes exercise the parallel datapath: blocks of 4 rows, out in two cycles. Three element lanes
// (two RoPE pairs) exercise the element-wise lanes; every lane adds its fp32 units to the
// Verilator build.
inline rtl::DesignOptions simulation_options() {
  rtl::DesignOptions o;
  o.tile_rows = 2;
  o.tiles = 2;
  o.lanes = 2;
  o.element_lanes = 3;
  o.int8_group = 4;
  return o;
}

inline void expect_bit_exact(const std::string& etch_path, const std::string& name,
                             std::vector<int32_t> prompt = {1, 7, 30, 12}, int64_t generate = 4,
                             rtl::DesignOptions options = simulation_options()) {
  const compile::EtchModel model = compile::read_etch(etch_path);
  TempDir dir("rtl-" + name);
  rtl::CosimOptions cosim;
  cosim.prompt = std::move(prompt);
  cosim.generate = generate;
  options.context = static_cast<int64_t>(cosim.prompt.size()) + cosim.generate - 1;
  const rtl::Design design = rtl::write_design(model, dir.path().string(), options);
  const rtl::CosimResult r = rtl::cosimulate(model, dir.path().string(), design, cosim);
  EXPECT_TRUE(r.bit_exact) << name << ": " << r.mismatch;
  EXPECT_EQ(r.tokens, options.context);
  EXPECT_EQ(r.generated_ids.size(), static_cast<size_t>(generate));
  EXPECT_GT(r.cycles_per_token, 0);
}

}  // namespace etch::testing
