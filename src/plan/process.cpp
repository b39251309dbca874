// The process-node table. Sources and reasoning: docs/planner.md, "Process nodes".
#include "plan/process.hpp"

#include <array>

#include "core/error.hpp"
#include "plan/plan.hpp"

namespace etch::plan::detail {

namespace {

// nm, CPP, MP, SRAM cell, logic MTr/mm2, Vdd, energy vs 45 nm, GHz, nW leak, wafer $, D0,
// via mask $, host I/O mm2
constexpr std::array<Node, 6> kNodes = {{
    {28, 117, 90, 0.127, 14.0, 0.90, 0.50, 0.80, 0.6, 2891, 0.05, 40e3, 20},
    {16, 90, 64, 0.074, 28.9, 0.80, 0.30, 1.00, 1.2, 3984, 0.06, 60e3, 16},
    {7, 57, 40, 0.027, 91.2, 0.75, 0.17, 1.20, 2.0, 9346, 0.09, 100e3, 12},
    {6, 57, 40, 0.027, 107.6, 0.75, 0.16, 1.20, 2.0, 9346, 0.09, 100e3, 12},
    {5, 51, 28, 0.021, 138.0, 0.72, 0.12, 1.35, 2.2, 16988, 0.10, 150e3, 11},
    {3, 48, 23, 0.021, 180.0, 0.70, 0.10, 1.50, 2.4, 20000, 0.12, 200e3, 10},
}};

}  // namespace

const Node& find_node(int nm) {
  for (const auto& node : kNodes)
    if (node.nm == nm) return node;
  fail("unknown process node {} nm (known: 28, 16, 7, 6, 5, 3)", nm);
}

}  // namespace etch::plan::detail

namespace etch::plan {

std::vector<int> node_names() {
  std::vector<int> out;
  for (const auto& node : detail::kNodes) out.push_back(node.nm);
  return out;
}

}  // namespace etch::plan
