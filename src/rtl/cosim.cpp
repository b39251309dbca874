// etch rtl --verify: the design in Verilator against run::IntegerEngine, bit for bit.
#include <fmt/format.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.hpp"
#include "core/output_file.hpp"
#include "rtl/rtl.hpp"
#include "run/run.hpp"

namespace etch::rtl {

namespace {

// The testbench: feeds the prompt, then each greedy choice (argmax, the lowest index on ties,
// as run::argmax) until `generate` tokens are chosen, and writes every trace element as a
// record; a record of unit 3 closes each token with its cycle count.
constexpr const char* kTestbench = R"(// etch rtl's co-simulation testbench (generated).
// Usage: testbench OUT.bin GENERATE ID...  Writes one record per trace element.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "Vetch_top.h"
#include "verilated.h"

struct Record {
  int32_t token, unit, layer, index;
  uint32_t value;
};

// Lane `lane` of a trace value: one 32-bit word of a port Verilator holds in an integer (one or
// two lanes) or in an array of words (more).
template <class Port>
uint32_t lane_value(const Port& port, int lane) {
  if constexpr (std::is_integral_v<Port>)
    return static_cast<uint32_t>(static_cast<uint64_t>(port) >> (32 * lane));
  else
    return port[lane];
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s OUT.bin GENERATE ID...\n", argv[0]);
    return 2;
  }
  std::FILE* out = std::fopen(argv[1], "wb");
  if (!out) return 1;
  const long generate = std::atol(argv[2]);
  std::vector<int32_t> feed;
  for (int a = 3; a < argc; ++a) feed.push_back(static_cast<int32_t>(std::atol(argv[a])));
  const size_t prompt = feed.size();
  auto top = std::make_unique<Vetch_top>();
  auto tick = [&] {
    top->clk = 1;
    top->eval();
    top->clk = 0;
    top->eval();
  };
  top->clk = 0;
  top->start = 0;
  top->eval();
  std::vector<float> logits;
  long generated = 0;
  for (size_t t = 0; t < feed.size(); ++t) {
    top->token = static_cast<uint32_t>(feed[t]);
    top->position = static_cast<uint32_t>(t);
    top->start = 1;
    top->eval();
    tick();
    top->start = 0;
    int64_t cycles = 1;
    logits.clear();
    while (top->busy) {
      top->eval();
      if (top->trace_valid)
        for (int lane = 0; lane < static_cast<int>(top->trace_count); ++lane) {
          const Record r{static_cast<int32_t>(t), top->trace_unit,
                         static_cast<int32_t>(top->trace_layer),
                         static_cast<int32_t>(top->trace_index) + lane,
                         lane_value(top->trace_value, lane)};
          std::fwrite(&r, sizeof r, 1, out);
          if (r.unit == 2) {
            float f;
            std::memcpy(&f, &r.value, 4);
            logits.push_back(f);
          }
        }
      tick();
      ++cycles;
    }
    const Record done{static_cast<int32_t>(t), 3, 0, static_cast<int32_t>(cycles),
                      static_cast<uint32_t>(feed[t])};
    std::fwrite(&done, sizeof done, 1, out);
    if (t + 1 >= prompt && generated < generate && !logits.empty()) {
      size_t best = 0;
      for (size_t i = 1; i < logits.size(); ++i)
        if (logits[i] > logits[best]) best = i;
      ++generated;
      const Record choice{static_cast<int32_t>(t), 4, 0, static_cast<int32_t>(best), 0};
      std::fwrite(&choice, sizeof choice, 1, out);
      if (generated < generate) feed.push_back(static_cast<int32_t>(best));
    }
  }
  top->final();
  return std::fclose(out) == 0 ? 0 : 1;
}
)";

struct Record {
  int32_t token, unit, layer, index;
  uint32_t value;
};

// A command's exit status; its output goes to `log_path`.
int run_command(const std::string& command, const std::string& log_path) {
  const std::string full = command + " > '" + log_path + "' 2>&1";
  const int status = std::system(full.c_str());
  if (status == -1) fail("rtl: cannot run {}", command);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += all[i] + "\n";
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

const char* unit_name(int unit) {
  return unit == 0 ? "attention residual" : unit == 1 ? "layer output" : "logits";
}

}  // namespace

CosimResult cosimulate(const compile::EtchModel& model, const std::string& dir,
                       const Design& design, const CosimOptions& options) {
  namespace fs = std::filesystem;
  const auto& c = model.config;
  if (options.prompt.empty()) fail("rtl: --verify needs --prompt-ids");
  if (options.generate < 1) fail("rtl: -n must be at least 1");
  for (int32_t id : options.prompt)
    if (id < 0 || id >= c.vocab_size)
      fail("rtl: token id {} is outside the vocabulary of {}", id, c.vocab_size);
  const int64_t tokens = static_cast<int64_t>(options.prompt.size()) + options.generate - 1;
  if (tokens > design.context)
    fail("rtl: {} tokens exceed the design's context of {} (--context)", tokens, design.context);
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };

  CosimResult result;
  const fs::path root = fs::absolute(dir);
  fs::create_directories(root / "tb");
  write_file_atomically((root / "tb" / "testbench.cpp").string(), kTestbench);

  // Build: Verilator's C++ at -O1 on two jobs keeps the build short on a small machine, and
  // -fno-inline compiles each module once for all its instances (a third less C++).
  // VM_PARALLEL_BUILDS=0: one compiler run over all the generated files. Verilator turns
  // per-file builds on once a design splits into many files, and then each of ~110 small files
  // costs a compiler start and its headers: a tiny fp4 design with two tiles took 143 s of CPU
  // that way and 16 s as one unit.
  log("building the design with Verilator");
  const auto build_start = std::chrono::steady_clock::now();
  std::string sources;
  for (const auto& f : design.files)
    if (f.starts_with("sv/")) sources += " '" + (root / f).string() + "'";
  const std::string build_log = (root / "tb" / "build.log").string();
  const std::string verilate = fmt::format(
      "verilator --cc --exe --build -j 2 -O1 -fno-inline --x-assign fast --x-initial fast "
      "-Wno-fatal -MAKEFLAGS VM_PARALLEL_BUILDS=0 "
      "--top-module {} --Mdir '{}' -CFLAGS -O1 -o testbench{} '{}'",
      design.top, (root / "tb" / "obj").string(), sources,
      (root / "tb" / "testbench.cpp").string());
  if (run_command(verilate, build_log) != 0)
    fail("rtl: the Verilator build failed ({}):\n{}", build_log, tail(build_log, 20));
  result.build_seconds = seconds_since(build_start);

  // Simulate, from the design folder (the ROM paths are relative to it).
  log("simulating");
  const auto sim_start = std::chrono::steady_clock::now();
  const std::string trace_path = (root / "tb" / "trace.bin").string();
  std::string command =
      fmt::format("cd '{}' && '{}' '{}' {}", root.string(),
                  (root / "tb" / "obj" / "testbench").string(), trace_path, options.generate);
  for (int32_t id : options.prompt) command += fmt::format(" {}", id);
  const std::string sim_log = (root / "tb" / "simulation.log").string();
  if (run_command(command, sim_log) != 0)
    fail("rtl: the simulation failed ({}):\n{}", sim_log, tail(sim_log, 20));
  result.simulation_seconds = seconds_since(sim_start);

  // The golden model: the integer engine over the same tokens.
  using Key = std::tuple<int64_t, int64_t, int>;  // token, layer, unit
  std::map<Key, std::vector<float>> expected;
  run::EngineOptions engine_options;
  engine_options.context = design.context;
  run::IntegerEngine engine(
      model, engine_options, false,
      [&](int64_t position, int64_t layer, int unit, std::span<const float> x) {
        expected[{position, layer, unit}].assign(x.begin(), x.end());
      });
  std::vector<int32_t> feed = options.prompt;
  std::vector<int32_t> engine_generated;
  {
    run::SequenceTokens step{0, feed, true};
    std::span<const float> logits = engine.step({&step, 1});
    for (size_t t = 0; t < feed.size(); ++t)
      expected[{static_cast<int64_t>(t), -1, 2}].assign(
          logits.begin() + static_cast<int64_t>(t) * c.vocab_size,
          logits.begin() + static_cast<int64_t>(t + 1) * c.vocab_size);
    engine_generated.push_back(run::argmax(logits.subspan(
        (feed.size() - 1) * static_cast<size_t>(c.vocab_size), static_cast<size_t>(c.vocab_size))));
    while (static_cast<int64_t>(engine_generated.size()) < options.generate) {
      const int32_t id = engine_generated.back();
      feed.push_back(id);
      run::SequenceTokens next{0, {&feed.back(), 1}, false};
      logits = engine.step({&next, 1});
      expected[{static_cast<int64_t>(feed.size() - 1), -1, 2}].assign(logits.begin(), logits.end());
      engine_generated.push_back(run::argmax(logits));
    }
  }

  // The RTL's trace, in the order it was written.
  std::map<Key, std::vector<uint32_t>> simulated;
  int64_t cycles = 0;
  {
    std::ifstream in(trace_path, std::ios::binary);
    Record r{};
    while (in.read(reinterpret_cast<char*>(&r), sizeof r)) {
      if (r.unit == 3) {
        cycles += r.index;
        ++result.tokens;
      } else if (r.unit == 4) {
        result.generated_ids.push_back(r.index);
      } else {
        simulated[{r.token, r.unit == 2 ? -1 : r.layer, r.unit}].push_back(r.value);
      }
    }
  }
  if (result.tokens > 0) result.cycles_per_token = static_cast<double>(cycles) / result.tokens;

  // Compare in forward order: per token, each layer's two vectors, then the logits.
  for (int64_t t = 0; t < tokens && result.mismatch.empty(); ++t) {
    for (int64_t l = -1; l < c.layers && result.mismatch.empty(); ++l)
      for (int unit = 0; unit < 2 && result.mismatch.empty(); ++unit) {
        const int64_t layer = l < 0 ? -1 : l;
        const int u = l < 0 ? 2 : unit;
        if (l < 0 && unit == 1) continue;
        const Key key{t, layer, u};
        const auto want = expected.find(key);
        const auto got = simulated.find(key);
        const size_t want_size = want == expected.end() ? 0 : want->second.size();
        const size_t got_size = got == simulated.end() ? 0 : got->second.size();
        if (want_size != got_size) {
          result.mismatch = fmt::format(
              "token {} layer {} {}: {} elements from the RTL, {} from "
              "the engine",
              t, layer, unit_name(u), got_size, want_size);
          break;
        }
        for (size_t i = 0; i < want_size; ++i) {
          const uint32_t w = std::bit_cast<uint32_t>(want->second[i]), g = got->second[i];
          if (w != g) {
            result.mismatch = fmt::format(
                "token {} layer {} {} index {}: RTL {} (0x{:08x}), engine {} (0x{:08x})", t, layer,
                unit_name(u), i, std::bit_cast<float>(g), g, want->second[i], w);
            break;
          }
        }
      }
  }
  if (result.mismatch.empty() && result.generated_ids != engine_generated)
    result.mismatch = "the generated tokens differ from the engine's";
  if (result.mismatch.empty() && result.tokens != tokens)
    result.mismatch = fmt::format("the RTL ran {} tokens, the engine {}", result.tokens, tokens);
  result.bit_exact = result.mismatch.empty();
  return result;
}

}  // namespace etch::rtl
