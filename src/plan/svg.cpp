// The die floorplan as SVG, to scale: every tile (layer, embedding, head) a block whose
// area is its silicon, split into ROM, compute and SRAM; I/O and overhead along the edge.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "plan/render.hpp"

namespace etch::plan {

namespace {

constexpr double kPxPerMm = 24;
constexpr double kGapPx = 40;
constexpr const char* kRomColour = "#4e79a7";
constexpr const char* kComputeColour = "#f28e2b";
constexpr const char* kSramColour = "#59a14f";
constexpr const char* kIoColour = "#9c9c9c";

std::string rect(double x, double y, double w, double h, const char* fill) {
  return fmt::format(
      R"(<rect x="{:.2f}" y="{:.2f}" width="{:.2f}" height="{:.2f}" fill="{}" stroke="#ffffff" stroke-width="0.5"/>)"
      "\n",
      x, y, w, h, fill);
}

std::string text(double x, double y, double size, const std::string& s,
                 const char* anchor = "start") {
  return fmt::format(
      R"(<text x="{:.2f}" y="{:.2f}" font-family="sans-serif" font-size="{:.1f}" text-anchor="{}">{}</text>)"
      "\n",
      x, y, size, anchor, xml_escape(s));
}

std::string short_name(const Tile& t) {
  if (t.first_layer >= 0) return "L" + std::to_string(t.first_layer);
  return t.name == "embedding" ? "emb" : t.name;
}

// One chip at (x0, y0): tiles in rows across the die's width, I/O and overhead at the bottom.
std::string draw_chip(const Chip& c, double x0, double y0) {
  std::string out;
  const double w = c.width_mm * kPxPerMm;
  const double h = c.height_mm * kPxPerMm;
  out += fmt::format(
      R"(<rect x="{:.2f}" y="{:.2f}" width="{:.2f}" height="{:.2f}" fill="#eeeeee" stroke="#000000" stroke-width="1"/>)"
      "\n",
      x0, y0, w, h);
  const double edge_h = (c.area.io + c.area.overhead) / c.width_mm * kPxPerMm;
  const double io_w = c.area.io / (c.area.io + c.area.overhead) * w;
  out += rect(x0, y0 + h - edge_h, io_w, edge_h, kIoColour);
  if (edge_h > 10) out += text(x0 + 3, y0 + h - edge_h / 2 + 3, 8, "I/O");

  double tiles_area = 0;
  for (const auto& t : c.tiles) tiles_area += t.area.total();
  const size_t n = c.tiles.size();
  const double tiles_h = h - edge_h;
  // Rows of about square tiles: as many columns as the aspect of the tile region allows.
  const size_t columns = std::max<size_t>(
      1, static_cast<size_t>(
             std::round(std::sqrt(static_cast<double>(n) * w / std::max(tiles_h, 1.0)))));
  double y = y0;
  for (size_t first = 0; first < n; first += columns) {
    const size_t last = std::min(n, first + columns);
    double row_area = 0;
    for (size_t i = first; i < last; ++i) row_area += c.tiles[i].area.total();
    const double row_h = row_area / tiles_area * tiles_h;
    double x = x0;
    for (size_t i = first; i < last; ++i) {
      const Tile& t = c.tiles[i];
      const double a = t.area.total();
      const double tw = a / row_area * w;
      const double sram = t.area.kv_sram + t.area.sram;
      double yy = y;
      const double parts[3] = {t.area.rom, t.area.compute, sram};
      const char* colours[3] = {kRomColour, kComputeColour, kSramColour};
      for (int k = 0; k < 3; ++k) {
        const double ph = parts[k] / a * row_h;
        if (ph > 0) out += rect(x, yy, tw, ph, colours[k]);
        yy += ph;
      }
      if (tw > 14 && row_h > 10)
        out += text(x + tw / 2, y + std::min(row_h / 2, 12.0) + 3, std::min(9.0, tw / 3),
                    short_name(t), "middle");
      x += tw;
    }
    y += row_h;
  }
  return out;
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

std::string render_svg(const Plan& p) {
  const size_t n = p.chips.size();
  const size_t per_row = std::min<size_t>(n, 6);
  double max_w = 0, max_h = 0;
  for (const auto& c : p.chips) {
    max_w = std::max(max_w, c.width_mm * kPxPerMm);
    max_h = std::max(max_h, c.height_mm * kPxPerMm);
  }
  const double header = 70;
  const size_t rows = (n + per_row - 1) / per_row;
  const double width = std::max(520.0, per_row * (max_w + kGapPx) + kGapPx);
  const double height = header + rows * (max_h + kGapPx + 16) + kGapPx;

  std::string out = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{:.0f}" height="{:.0f}" viewBox="0 0 {:.0f} {:.0f}">)"
      "\n",
      width, height, width, height);
  out += fmt::format(R"(<rect x="0" y="0" width="{:.0f}" height="{:.0f}" fill="#ffffff"/>)"
                     "\n",
                     width, height);
  out += text(
      kGapPx, 22, 14,
      fmt::format("{} at {} nm, {}: {} chip{}, {:.0f} mm² per die (to scale, {:.0f} px per mm)",
                  p.input.model.name, p.input.node_nm,
                  p.input.weights.recipe.empty() ? p.input.weights.label : p.input.weights.recipe,
                  n, n == 1 ? "" : "s", p.die_area_mm2(), kPxPerMm));
  const std::pair<const char*, const char*> legend[] = {
      {kRomColour, "ROM"}, {kComputeColour, "compute"}, {kSramColour, "SRAM"}, {kIoColour, "I/O"}};
  double lx = kGapPx;
  for (const auto& [colour, name] : legend) {
    out += rect(lx, 34, 14, 14, colour);
    out += text(lx + 18, 46, 12, name);
    lx += 90;
  }
  for (size_t i = 0; i < n; ++i) {
    const double x = kGapPx + static_cast<double>(i % per_row) * (max_w + kGapPx);
    const double y = header + static_cast<double>(i / per_row) * (max_h + kGapPx + 16);
    out += draw_chip(p.chips[i], x, y);
    out += text(
        x, y + p.chips[i].height_mm * kPxPerMm + 14, 11,
        fmt::format("chip {}: {:.1f} x {:.1f} mm", i, p.chips[i].width_mm, p.chips[i].height_mm));
  }
  out += "</svg>\n";
  return out;
}

}  // namespace etch::plan
