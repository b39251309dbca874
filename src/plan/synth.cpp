// The synthesis table: gate counts of the RTL tile per contract format, read for
// `etch plan --synth TABLE`.
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/mapped_file.hpp"
#include "plan/plan.hpp"

namespace etch::plan {

namespace {

using json = nlohmann::json;

// The table is a few kilobytes; anything far larger is not one.
constexpr size_t kMaxTableBytes = size_t{1} << 20;

const json& member(const json& object, const char* key, const std::string& where,
                   const std::string& path) {
  const auto it = object.find(key);
  if (it == object.end()) fail_file(path, "{} has no \"{}\"", where, key);
  return *it;
}

double positive(const json& object, const char* key, const std::string& where,
                const std::string& path) {
  const json& value = member(object, key, where, path);
  if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() <= 0)
    fail_file(path, "{}'s \"{}\" must be a positive number, not {}", where, key, value.dump());
  return value.get<double>();
}

int64_t integer(const json& object, const char* key, const std::string& where,
                const std::string& path) {
  const json& value = member(object, key, where, path);
  if (!value.is_number_integer())
    fail_file(path, "{}'s \"{}\" must be an integer, not {}", where, key, value.dump());
  return value.get<int64_t>();
}

std::string text(const json& object, const char* key, const std::string& path) {
  const json& value = member(object, key, "the table", path);
  if (!value.is_string()) fail_file(path, "\"{}\" must be a string", key);
  return value.get<std::string>();
}

// The contract format a table's tile is named after: a recipe of one format (hc3, fp4, ...).
contract::Format tile_format(const std::string& name, const std::string& path) {
  for (const contract::Recipe& r : contract::recipes())
    if (!r.mixed && r.base.name() == name) return r.base;
  fail_file(path, "tile \"{}\" is not a contract format", name);
}

}  // namespace

SynthTable parse_synth_table(std::string_view json_text, const std::string& path) {
  json table;
  try {
    // Depth-limited: a valid table nests four levels.
    table =
        json::parse(json_text.begin(), json_text.end(), [&](int depth, json::parse_event_t, json&) {
          if (depth > 8) fail_file(path, "JSON is nested deeper than a synthesis table");
          return true;
        });
  } catch (const json::exception& e) {
    fail_file(path, "not a synthesis table: malformed JSON ({})", e.what());
  }
  if (!table.is_object()) fail_file(path, "not a synthesis table: a JSON object was expected");
  SynthTable t;
  t.path = path;
  t.yosys = text(table, "yosys", path);
  t.date = text(table, "date", path);
  t.transistors_per_nand2 = positive(table, "transistors_per_nand2", "the table", path);
  const json& tiles = member(table, "tiles", "the table", path);
  if (!tiles.is_object() || tiles.empty())
    fail_file(path, "\"tiles\" must be an object of tile formats");
  for (const auto& [name, tile] : tiles.items()) {
    const std::string where = "tile " + name;
    if (!tile.is_object()) fail_file(path, "{} must be an object", where);
    const contract::Format format = tile_format(name, path);
    // The script writes the contract's parameters by hand: a table whose tile is not the
    // contract's was synthesized for another contract.
    const int64_t k = integer(tile, "k", where, path);
    const int64_t group = integer(tile, "group", where, path);
    const int64_t multiplier_bits = integer(tile, "multiplier_bits", where, path);
    if (k != format.bits || group != format.group || multiplier_bits != format.multiplier_bits)
      fail_file(path,
                "{} was synthesized with K {}, group {}, {} multiplier bits; the contract's {} "
                "has {}, {}, {}",
                where, k, group, multiplier_bits, name, format.bits, format.group,
                format.multiplier_bits);
    t.tiles[name] = {positive(tile, "nand2_per_product", where, path),
                     positive(tile, "nand2_per_weight", where, path),
                     positive(tile, "nand2_per_row", where, path)};
  }
  return t;
}

SynthTable read_synth_table(const std::string& path) {
  const MappedFile file(path);
  if (file.size() > kMaxTableBytes)
    fail_file(path, "{} bytes is too large for a synthesis table (limit {})", file.size(),
              kMaxTableBytes);
  return parse_synth_table({reinterpret_cast<const char*>(file.data()), file.size()}, path);
}

}  // namespace etch::plan
