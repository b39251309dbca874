// Multi-chip partitioning: consecutive tiles (layers) go to reticle-limited chips that are
// pipelined through chip-to-chip links; the split balances the largest chip.
#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "plan/model.hpp"

namespace etch::plan::detail {

namespace {

double tile_area(const Tile& t) {
  return t.area.total();
}

// The I/O a chip needs: the host interface on the first and last chip (tokens in and out),
// one link per neighbour.
double io_area(size_t index, size_t count, const Node& node) {
  const bool end = index == 0 || index + 1 == count;
  double io = end ? node.io_mm2 : 0;
  if (count > 1) io += kChipLinkMm2 * (end ? 1 : 2);
  return io;
}

// Budgeting every chip for a host interface and two links keeps the bound safe for
// whichever position the chip ends up in.
double worst_io(const Node& node) {
  return node.io_mm2 + 2 * kChipLinkMm2;
}

double chip_area(double blocks, double io, double overhead) {
  return (blocks + io) * (1 + overhead);
}

Tile slice_of(const Tile& t, int k, int parts) {
  const double f = 1.0 / parts;
  Tile s = t;
  s.name = t.name + " part " + std::to_string(k + 1) + "/" + std::to_string(parts);
  s.weights *= f;
  s.rom_bits *= f;
  s.datapaths *= f;
  s.multipliers *= f;
  s.selectors *= f;
  s.adder_trees *= f;
  s.group_macs *= f;
  s.kv_bits *= f;
  s.energy_j *= f;
  s.area.rom *= f;
  s.area.compute *= f;
  s.area.kv_sram *= f;
  s.area.sram *= f;
  s.transistors.rom *= f;
  s.transistors.logic *= f;
  s.transistors.sram *= f;
  s.transistors.datapath *= f;
  return s;
}

// Greedy split of the tiles into chips of at most `cap` mm2; returns the first tile index
// of every chip.
std::vector<size_t> split(const std::vector<Tile>& tiles, const Node& node, double overhead,
                          double cap) {
  std::vector<size_t> starts = {0};
  double blocks = 0;
  for (size_t i = 0; i < tiles.size(); ++i) {
    const double a = tile_area(tiles[i]);
    if (blocks > 0 && chip_area(blocks + a, worst_io(node), overhead) > cap) {
      starts.push_back(i);
      blocks = 0;
    }
    blocks += a;
  }
  return starts;
}

}  // namespace

std::vector<Chip> partition(std::vector<Tile> tiles, const PlanInput& input, const Node& node,
                            double reticle_mm2) {
  const Estimates& est = input.estimates;
  const double overhead = est.overhead_fraction;
  const double budget = reticle_mm2 / (1 + overhead) - worst_io(node);
  // A tile larger than a reticle (a layer of a very large model at an old node) is cut into
  // equal slices of its matrices' rows, each slice on its own chip.
  std::vector<Tile> fitted;
  for (auto& t : tiles) {
    const int parts = static_cast<int>(std::ceil(tile_area(t) / budget));
    if (parts <= 1) {
      fitted.push_back(std::move(t));
      continue;
    }
    for (int k = 0; k < parts; ++k) fitted.push_back(slice_of(t, k, parts));
  }
  tiles = std::move(fitted);
  double total_blocks = 0;
  for (const auto& t : tiles) total_blocks += tile_area(t);

  std::vector<size_t> starts = {0};
  if (chip_area(total_blocks, node.io_mm2, overhead) > reticle_mm2) {
    starts = split(tiles, node, overhead, reticle_mm2);
    // Balance: the smallest cap that still needs no more chips.
    double lo = total_blocks / static_cast<double>(starts.size()), hi = reticle_mm2;
    for (int i = 0; i < 40; ++i) {
      const double mid = (lo + hi) / 2;
      if (split(tiles, node, overhead, mid).size() <= starts.size())
        hi = mid;
      else
        lo = mid;
    }
    starts = split(tiles, node, overhead, hi);
  }

  std::vector<Chip> chips;
  for (size_t c = 0; c < starts.size(); ++c) {
    Chip chip;
    chip.index = static_cast<int>(c);
    const size_t end = c + 1 < starts.size() ? starts[c + 1] : tiles.size();
    chip.first_layer = -1;
    for (size_t i = starts[c]; i < end; ++i) {
      const Tile& t = tiles[i];
      if (t.name.rfind("embedding", 0) == 0) chip.embedding = true;
      if (t.name.rfind("head", 0) == 0) chip.head = true;
      if (t.first_layer >= 0) {
        if (chip.first_layer < 0) chip.first_layer = t.first_layer;
        chip.end_layer = t.first_layer + 1;
      }
      chip.area += t.area;
      chip.transistors += t.transistors;
      chip.tiles.push_back(t);
    }
    if (chip.first_layer < 0) chip.first_layer = chip.end_layer = 0;
    chip.area.io = io_area(c, starts.size(), node);
    chip.area.overhead = overhead * (chip.area.rom + chip.area.compute + chip.area.kv_sram +
                                     chip.area.sram + chip.area.io);
    // SerDes PHYs are mostly analog: about a tenth of placed logic density.
    chip.transistors.logic += chip.area.io * node.logic_mtr_mm2 * 1e6 * est.logic_utilisation * 0.1;
    const double area = chip.area.total();
    chip.width_mm = std::sqrt(area * 26.0 / 33.0);
    chip.height_mm = area / chip.width_mm;
    chips.push_back(std::move(chip));
  }
  if (budget <= 0)
    fail("{}: the reticle cannot hold a chip's I/O at {} nm", input.model.name, node.nm);
  return chips;
}

}  // namespace etch::plan::detail
