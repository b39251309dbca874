// --sweep PARAM=v1,v2,...: the same design with one parameter varied, as a table and a chart.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>

#include "core/error.hpp"
#include "plan/render.hpp"

namespace etch::plan {

namespace {

std::vector<std::string> split_values(std::string_view list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = list.find(',', start);
    const auto piece = list.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (piece.empty()) fail("empty value in '{}'", list);
    out.emplace_back(piece);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

int64_t parse_int(const std::string& param, const std::string& value) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || v <= 0)
    fail("{}: '{}' is not a positive integer", param, value);
  return v;
}

double parse_double(const std::string& param, const std::string& value) {
  try {
    size_t used = 0;
    const double v = std::stod(value, &used);
    if (used == value.size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  fail("{}: '{}' is not a positive number", param, value);
}

struct Metric {
  const char* title;
  const char* unit;
  std::function<double(const Plan&)> value;
};

const std::vector<Metric>& metrics() {
  static const std::vector<Metric> m = {
      {"die area", "mm²", [](const Plan& p) { return p.die_area_mm2(); }},
      {"chips", "", [](const Plan& p) { return static_cast<double>(p.chip_count()); }},
      {"tokens/s per user", "", [](const Plan& p) { return p.timing.tokens_per_second_per_user; }},
      {"tokens/s aggregate", "",
       [](const Plan& p) { return p.timing.tokens_per_second_aggregate; }},
      {"users in flight", "",
       [](const Plan& p) { return static_cast<double>(p.timing.users_in_flight); }},
      {"power per card, as deployed", "W", [](const Plan& p) { return p.power.power_w; }},
      {"power of all cards, as deployed", "W", [](const Plan& p) { return p.power.total_w; }},
      {"energy per token, as deployed", "mJ",
       [](const Plan& p) { return p.power.energy_per_token_j * 1e3; }},
      {"cost per Mtok", "$", [](const Plan& p) { return p.cost.per_million_tokens_usd; }},
  };
  return m;
}

}  // namespace

SweepSpec parse_sweep(std::string_view spec) {
  const size_t eq = spec.find('=');
  if (eq == std::string_view::npos)
    fail("wants PARAM=v1,v2,... (PARAM: node, bpw, context, users), not '{}'", spec);
  SweepSpec s{.param = std::string(spec.substr(0, eq)),
              .values = split_values(spec.substr(eq + 1))};
  for (const auto& v : s.values) {
    if (s.param == "bpw")
      parse_double(s.param, v);
    else if (s.param == "node" || s.param == "context" || s.param == "users")
      parse_int(s.param, v);
    else
      fail("unknown parameter '{}' (node, bpw, context, users)", s.param);
  }
  return s;
}

Sweep run_sweep(const PlanInput& base, std::string_view spec) {
  const SweepSpec parsed = parse_sweep(spec);
  Sweep s{.param = parsed.param, .values = parsed.values, .plans = {}};
  // A context sweep asks how many users one chip serves: keep the base design's KV SRAM, and
  // grow it only where a single user's context would not fit (a chip that serves nobody is
  // no answer).
  const int64_t base_users = base.users > 0 ? base.users : 1;
  const int64_t base_kv = base.kv_tokens > 0 ? base.kv_tokens : base_users * base.context;
  for (const auto& v : s.values) {
    PlanInput in = base;
    if (s.param == "node") {
      in.node_nm = static_cast<int>(parse_int(s.param, v));
    } else if (s.param == "bpw") {
      if (base.weights.recipe.empty())
        fail("--sweep bpw: a .etch file fixes every matrix's bits; sweep a preset or a model");
      in.weights = weights_for_recipe(in.model, base.weights.recipe, parse_double(s.param, v));
    } else if (s.param == "context") {
      in.context = parse_int(s.param, v);
      in.kv_tokens = std::max(base_kv, in.context);
    } else {
      in.users = parse_int(s.param, v);
      in.kv_tokens = 0;
    }
    s.plans.push_back(make_plan(in));
  }
  return s;
}

std::string render_sweep_text(const Sweep& s) {
  std::string out =
      fmt::format("etch plan: {} ({}) swept over {}\n\n", s.plans.front().input.model.name,
                  circuit_name(s.plans.front().input.circuit), s.param);
  out += fmt::format("{:>8} {:>6} {:>9} {:>8} {:>11} {:>6} {:>7} {:>12} {:>8} {:>8} {:>9} {:>9}\n",
                     s.param, "chips", "die mm²", "Btr/die", "tok/s/user", "users", "flight",
                     "tok/s total", "W/card", "W total", "mJ/token", "$/Mtok");
  for (size_t i = 0; i < s.plans.size(); ++i) {
    const Plan& p = s.plans[i];
    out += fmt::format(
        "{:>8} {:>6} {:>9.0f} {:>8.1f} {:>11.0f} {:>6} {:>7} {:>12.0f} {:>8.0f} {:>8.0f} {:>9.2f} "
        "{:>9.4f}\n",
        s.values[i], p.chip_count(), p.die_area_mm2(), p.die_transistors() / 1e9,
        p.timing.tokens_per_second_per_user, p.timing.users_max, p.timing.users_in_flight,
        p.timing.tokens_per_second_aggregate, p.power.power_w, p.power.total_w,
        p.power.energy_per_token_j * 1e3, p.cost.per_million_tokens_usd);
  }
  out +=
      "\nusers: what the KV SRAM holds at the context; flight: users decoding at once (at most "
      "one per pipeline stage). Power, energy and cost hold at that load; W/card is per card as "
      "deployed (with its host share), W total all cards as deployed.\n";
  return out;
}

std::string render_sweep_json(const Sweep& s) {
  nlohmann::json points = nlohmann::json::array();
  for (size_t i = 0; i < s.plans.size(); ++i) {
    auto j = plan_json(s.plans[i]);
    j["value"] = s.values[i];
    points.push_back(std::move(j));
  }
  return nlohmann::json{{"param", s.param}, {"points", points}}.dump(
             2, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

std::string render_sweep_svg(const Sweep& s) {
  // Small multiples: one panel per figure, the swept values along each x axis.
  constexpr double kPanelW = 300, kPanelH = 200, kMargin = 50;
  const auto& ms = metrics();
  const size_t columns = 3;
  const size_t rows = (ms.size() + columns - 1) / columns;
  const double width = columns * (kPanelW + kMargin) + kMargin;
  const double height = 50 + rows * (kPanelH + kMargin + 20) + kMargin;
  std::string out = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{:.0f}" height="{:.0f}" viewBox="0 0 {:.0f} {:.0f}">)"
      "\n",
      width, height, width, height);
  out += fmt::format(R"(<rect x="0" y="0" width="{:.0f}" height="{:.0f}" fill="#ffffff"/>)"
                     "\n",
                     width, height);
  out += fmt::format(
      R"(<text x="{}" y="28" font-family="sans-serif" font-size="16">{}</text>)"
      "\n",
      kMargin,
      xml_escape(fmt::format("{} at {} nm, swept over {}", s.plans.front().input.model.name,
                             s.plans.front().input.node_nm, s.param)));
  const size_t n = s.plans.size();
  for (size_t k = 0; k < ms.size(); ++k) {
    const double x0 = kMargin + static_cast<double>(k % columns) * (kPanelW + kMargin);
    const double y0 = 50 + static_cast<double>(k / columns) * (kPanelH + kMargin + 20);
    std::vector<double> v;
    for (const auto& p : s.plans) v.push_back(ms[k].value(p));
    const double top = std::max(*std::max_element(v.begin(), v.end()), 1e-12) * 1.15;
    out += fmt::format(
        R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#f7f7f7" stroke="#999999"/>)"
        "\n",
        x0, y0, kPanelW, kPanelH);
    out += fmt::format(
        R"(<text x="{:.1f}" y="{:.1f}" font-family="sans-serif" font-size="13">{}</text>)"
        "\n",
        x0, y0 - 6,
        xml_escape(fmt::format("{}{}{}", ms[k].title, *ms[k].unit ? ", " : "", ms[k].unit)));
    std::string points;
    for (size_t i = 0; i < n; ++i) {
      const double x =
          x0 + (n == 1 ? kPanelW / 2 : 20 + (kPanelW - 40) * static_cast<double>(i) / (n - 1));
      const double y = y0 + kPanelH - v[i] / top * kPanelH;
      points += fmt::format("{:.1f},{:.1f} ", x, y);
      out += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="3.5" fill="#4e79a7"/>)"
                         "\n",
                         x, y);
      out += fmt::format(
          R"(<text x="{:.1f}" y="{:.1f}" font-family="sans-serif" font-size="10" text-anchor="middle">{}</text>)"
          "\n",
          x, y - 7,
          xml_escape(v[i] >= 100 ? fmt::format("{:.0f}", v[i]) : fmt::format("{:.3g}", v[i])));
      out += fmt::format(
          R"(<text x="{:.1f}" y="{:.1f}" font-family="sans-serif" font-size="11" text-anchor="middle">{}</text>)"
          "\n",
          x, y0 + kPanelH + 14, xml_escape(s.values[i]));
    }
    out += fmt::format(R"(<polyline points="{}" fill="none" stroke="#4e79a7" stroke-width="2"/>)"
                       "\n",
                       points);
  }
  out += "</svg>\n";
  return out;
}

}  // namespace etch::plan
