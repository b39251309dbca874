// What the chip stores: every weight matrix with its contract format, from a recipe applied to
// a shape or from a .etch artifact.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "compile/compile.hpp"
#include "core/error.hpp"
#include "import/import.hpp"
#include "plan/plan.hpp"

namespace etch::plan {

namespace {

// The matrices of one layer, in the order a .etch stores them; the router of a mixture of
// experts sits before the experts it routes to.
void add_layer(std::vector<WeightMatrix>& out, const ModelShape& m, int64_t l,
               const contract::Format& format) {
  const int64_t q = m.heads * m.head_dim, kv = m.kv_heads * m.head_dim;
  const auto add = [&](const char* role, int64_t rows, int64_t cols, int64_t copies,
                       int64_t active) {
    out.push_back({fmt::format("blk.{}.{}", l, role), l, format, rows, cols, copies, active});
  };
  add("attn_q", q, m.hidden, 1, 1);
  add("attn_k", kv, m.hidden, 1, 1);
  add("attn_v", kv, m.hidden, 1, 1);
  add("attn_output", m.hidden, q, 1, 1);
  if (m.experts > 1) add("ffn_gate_inp", m.experts, m.hidden, 1, 1);
  add("ffn_gate", m.ffn, m.hidden, m.experts, m.active_experts);
  add("ffn_up", m.ffn, m.hidden, m.experts, m.active_experts);
  add("ffn_down", m.hidden, m.ffn, m.experts, m.active_experts);
}

}  // namespace

uint64_t WeightMatrix::weights() const {
  return static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols) * static_cast<uint64_t>(copies);
}

uint64_t WeightMatrix::rom_bits() const {
  return contract::rom_bits(format, rows, cols) * static_cast<uint64_t>(copies);
}

uint64_t Weights::weights() const {
  return std::accumulate(matrices.begin(), matrices.end(), uint64_t{0},
                         [](uint64_t n, const WeightMatrix& m) { return n + m.weights(); });
}

uint64_t Weights::rom_bits() const {
  return std::accumulate(matrices.begin(), matrices.end(), uint64_t{0},
                         [](uint64_t n, const WeightMatrix& m) { return n + m.rom_bits(); });
}

Weights weights_for_recipe(const ModelShape& shape, std::string_view name, double budget) {
  const contract::Recipe& recipe = contract::find_recipe(name);
  if (budget != 0 && !recipe.mixed)
    fail("--bpw is the budget of a mixed recipe (hc1); {} stores every matrix at fixed bits",
         recipe.name);
  Weights w;
  w.recipe = recipe.name;
  w.label = recipe.name;
  // etch build stores the head even when tied: it quantizes it on its own statistics.
  w.matrices.push_back({"token_embd", -1, recipe.base, shape.vocab, shape.hidden, 1, 1});
  for (int64_t l = 0; l < shape.layers; ++l) add_layer(w.matrices, shape, l, recipe.base);
  w.matrices.push_back({"output", -1, recipe.base, shape.vocab, shape.hidden, 1, 1});
  if (!recipe.mixed) return w;

  if (budget == 0) budget = recipe.default_budget;
  const uint64_t weights = w.weights();
  const auto allowed = static_cast<uint64_t>(budget * static_cast<double>(weights));
  uint64_t bits = w.rom_bits();
  if (bits > allowed)
    fail("{}: {} codes alone need {:.3f} bits per weight, over the budget of {}", recipe.name,
         recipe.base.name(), static_cast<double>(bits) / static_cast<double>(weights), budget);
  // etch build upgrades the matrices whose output error falls most per added ROM bit. Without
  // weights every matrix's relative error is taken to fall by the same factor, so the gain per
  // bit is largest where the upgrade adds fewest bits: smallest matrices first (ties in
  // forward order), each taken while it still fits, as the build does.
  const auto extra = [&](const WeightMatrix& m) {
    WeightMatrix up = m;
    up.format = recipe.upgrade;
    return up.rom_bits() - m.rom_bits();
  };
  std::vector<size_t> order(w.matrices.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return extra(w.matrices[a]) < extra(w.matrices[b]); });
  for (size_t i : order) {
    const uint64_t added = extra(w.matrices[i]);
    if (bits + added > allowed) continue;
    bits += added;
    w.matrices[i].format = recipe.upgrade;
  }
  w.label = fmt::format("{} ({}/{}, budget {} bits per weight)", recipe.name, recipe.base.name(),
                        recipe.upgrade.name(), budget);
  return w;
}

Weights weights_of_etch(const compile::EtchModel& model) {
  Weights w;
  w.label = model.recipe;
  const auto add = [&](const compile::MatrixView& v, int64_t layer) {
    // The artifact's format, checked against the contract's definition of it (compile's format
    // kinds are the contract's, in its order).
    const contract::Format f =
        contract::make_format(static_cast<contract::WeightFormat>(v.format), v.bits);
    if (f.group != v.group || f.multiplier_bits != v.multiplier_bits)
      fail_file(
          model.path,
          "{} is stored as {} with group {} and {}-bit multipliers, not as contract v{} defines {}",
          v.name, f.name(), v.group, v.multiplier_bits, contract::kVersion, f.name());
    w.matrices.push_back({v.name, layer, f, v.rows, v.cols, 1, 1});
  };
  add(model.embedding(), -1);
  for (int64_t l = 0; l < model.config.layers; ++l)
    for (const import::Role role : import::kLayerMatrices) add(model.matrix(role, l), l);
  add(model.output(), -1);
  return w;
}

}  // namespace etch::plan
