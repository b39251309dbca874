// Nothing lost, nothing silent: outputs are atomic, inputs and options are checked before any
// work, and every failure is one line with an exact exit code (docs/cli.md).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace etch {
namespace {

namespace fs = std::filesystem;
using testing::listing;
using testing::model_dir;
using testing::quote;
using testing::read_text;
using testing::run_etch;
using testing::TempDir;

constexpr int kRuntimeError = 1;
constexpr int kArgumentError = 2;

const fs::path kSmallGguf = model_dir("rand-tied-mha") / "rand-tied-mha-f32.gguf";

size_t lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(CliOutputs, BuildRefusesToOverwriteItsInput) {
  const TempDir dir("outputs");
  fs::copy_file(kSmallGguf, dir / "model.gguf");
  const std::string model = quote((dir / "model.gguf").string());
  const auto r = run_etch("build " + model + " -o " + model);
  EXPECT_EQ(r.exit_code, kRuntimeError);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("is the input model"), std::string::npos) << r.err;
  EXPECT_EQ(read_text(dir / "model.gguf"), read_text(kSmallGguf));
}

TEST(CliOutputs, AFileSizeLimitMidBuildKeepsTheOldOutputByteIdentical) {
  const TempDir dir("outputs");
  write_text(dir / "out.etch", "the previous, good artifact");
  // 64 blocks of 512 bytes: the small model's .etch is far larger.
  const auto r = run_etch("build " + quote(kSmallGguf.string()) + " --recipe hc8 -o " +
                              quote((dir / "out.etch").string()),
                          "ulimit -f 64;");
  EXPECT_EQ(r.exit_code, kRuntimeError);
  EXPECT_NE(r.err.find("write failed: File too large"), std::string::npos) << r.err;
  EXPECT_EQ(read_text(dir / "out.etch"), "the previous, good artifact");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"out.etch"});
}

TEST(CliOutputs, AnUnwritableFolderIsRefusedBeforeAnyWorkWithItsReason) {
  const TempDir dir("outputs");
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  fs::create_directory(dir / "readonly");
  fs::permissions(dir / "readonly", fs::perms::owner_read | fs::perms::owner_exec |
                                        fs::perms::group_read | fs::perms::group_exec |
                                        fs::perms::others_read | fs::perms::others_exec);
  // Permission bits do not bind root: run etch as nobody there.
  const std::string as_user =
      ::geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups" : "";
  const std::string out = quote((dir / "readonly" / "out.etch").string());
  const auto build = run_etch("build " + quote(kSmallGguf.string()) + " -o " + out, as_user);
  EXPECT_EQ(build.exit_code, kRuntimeError);
  EXPECT_NE(build.err.find("Permission denied"), std::string::npos) << build.err;
  EXPECT_EQ(build.err.find("loaded"), std::string::npos) << "refused after loading: " << build.err;
  const auto svg = run_etch(
      "plan --preset llama-3.1-8b --svg " + quote((dir / "readonly" / "floor.svg").string()),
      as_user);
  EXPECT_EQ(svg.exit_code, kRuntimeError);
  EXPECT_NE(svg.err.find("Permission denied"), std::string::npos) << svg.err;
  EXPECT_TRUE(svg.out.empty()) << "planned before refusing the output";
  EXPECT_EQ(listing(dir / "readonly"), std::vector<std::string>{});
}

TEST(CliOutputs, AFolderAsOutputIsRefused) {
  const TempDir dir("outputs");
  const auto r = run_etch("run " + quote(kSmallGguf.string()) + " -p hi -n 1 --logits-out " +
                          quote(dir.path().string()));
  EXPECT_EQ(r.exit_code, kRuntimeError);
  EXPECT_NE(r.err.find("is a folder"), std::string::npos) << r.err;
}

// The kjv-8m Hugging Face folder without its tokenizer files: weights and config only.
void link_model_without_tokenizer(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(model_dir("kjv-8m") / "hf"))
    if (e.path().filename().string().find("tokenizer") == std::string::npos)
      fs::create_symlink(e.path(), dir / e.path().filename());
}

// The lines of stderr that are not the "loaded ..." log line.
std::vector<std::string> error_lines(const std::string& err) {
  std::vector<std::string> out;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);)
    if (!line.starts_with("etch: loaded ")) out.push_back(line);
  return out;
}

TEST(CliInputs, AModelWithoutTokenizerIsRefusedByEveryCommandThatNeedsOne) {
  const TempDir dir("inputs");
  link_model_without_tokenizer(dir.path());
  const std::string model = quote(dir.path().string());
  const std::string calib = quote((testing::fixtures() / "models" / "kjv-calib.txt").string());
  for (const std::string& command :
       {"run " + model + " -p hi -n 2", "run " + model + " --prompt-ids 1 -n 2",
        "tokenize " + model + " -p hi", "chat " + model, "perplexity " + model + " -f " + calib,
        "build " + model + " --calib " + calib + " -o " + quote((dir / "out.etch").string())}) {
    const auto r = run_etch(command);
    EXPECT_EQ(r.exit_code, kRuntimeError) << command << "\n" << r.err;
    const std::vector<std::string> errors = error_lines(r.err);
    ASSERT_EQ(errors.size(), 1u) << command << "\n" << r.err;
    EXPECT_EQ(errors[0], "etch: " + dir.path().string() +
                             ": the model has no tokenizer (no tokenizer.model or tokenizer.json, "
                             "or no tokenizer.* metadata), so it cannot read or write text");
    EXPECT_TRUE(r.out.empty()) << command;
  }
}

// A copy of the small GGUF whose output_norm (its last tensor) ends in a NaN.
void write_model_with_a_nan(const fs::path& path) {
  std::string bytes = read_text(kSmallGguf);
  const uint32_t nan_bits = 0x7fc00000;
  std::memcpy(bytes.data() + bytes.size() - 8, &nan_bits, 4);
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(CliInputs, NonFiniteWeightsAreRefusedNamingTheTensor) {
  const TempDir dir("inputs");
  write_model_with_a_nan(dir / "nan.gguf");
  write_text(dir / "out.etch", "the previous artifact");
  const std::string model = quote((dir / "nan.gguf").string());
  const std::string message = "etch: " + (dir / "nan.gguf").string() +
                              ": tensor output_norm.weight holds a NaN or an infinity (row 0); "
                              "refusing to use it";
  for (const std::string& command :
       {"run " + model + " -p hi -n 4 --temp 0",
        "build " + model + " --recipe hc8 -o " + quote((dir / "out.etch").string())}) {
    const auto r = run_etch(command);
    EXPECT_EQ(r.exit_code, kRuntimeError) << command;
    EXPECT_EQ(error_lines(r.err), std::vector<std::string>{message}) << command;
    EXPECT_TRUE(r.out.empty()) << command << ": " << r.out;
  }
  EXPECT_EQ(read_text(dir / "out.etch"), "the previous artifact");
}

TEST(CliInputs, AFolderOrAnEmptyFileIsNotAText) {
  const TempDir dir("inputs");
  write_text(dir / "empty.txt", "");
  const std::string model = quote(kSmallGguf.string());
  const std::string folder = dir.path().string();
  const std::string empty = (dir / "empty.txt").string();
  const std::pair<std::string, std::string> cases[] = {
      {"run " + model + " -n 1 -f " + quote(folder), folder + ": is a folder, not a text file"},
      {"tokenize " + model + " -f " + quote(folder), folder + ": is a folder, not a text file"},
      {"perplexity " + model + " -f " + quote(folder), folder + ": is a folder, not a text file"},
      {"run " + model + " -n 1 -f " + quote(empty), empty + ": is empty; a text is needed"},
      {"perplexity " + model + " -f " + quote(empty), empty + ": is empty; a text is needed"},
  };
  for (const auto& [command, message] : cases) {
    const auto r = run_etch(command);
    EXPECT_EQ(r.exit_code, kRuntimeError) << command;
    EXPECT_EQ(error_lines(r.err), std::vector<std::string>{"etch: " + message}) << command;
  }
}

TEST(CliOptions, OutOfRangeValuesAreArgumentErrorsInEveryCommand) {
  const std::string model = quote(kSmallGguf.string());
  const std::pair<std::string, std::string> cases[] = {
      {"run " + model + " -p hi --temp nan", "--temp: nan is out of range: give 0 to 100"},
      {"chat " + model + " --temp inf", "--temp: inf is out of range: give 0 to 100"},
      {"run " + model + " -p hi --top-p 2", "--top-p: 2 is out of range: give 0 to 1"},
      {"chat " + model + " --min-p -1", "--min-p: -1 is out of range: give 0 to 1"},
      {"run " + model + " -p hi --top-k -5", "--top-k: -5 is out of range: give 0 to 1073741824"},
      {"run " + model + " -p hi --repeat-penalty 0",
       "--repeat-penalty: 0 is out of range: give 0.01 to 100"},
      {"run " + model + " -p hi --seed -2",
       "--seed: -2 is out of range: give -1 to 9223372036854775807"},
      {"run " + model + " -p hi -n abc", "--tokens: 'abc' is not a whole number"},
      {"run " + model + " -p hi -t -1", "--threads: -1 is out of range: give 0 to 65536"},
      {"perplexity " + model + " -f x -c 2", "--ctx: 2 is out of range: give 4 to 16777216"},
      {"bench " + model + " -r 0", "--repetitions: 0 is out of range: give 1 to 1000"},
      {"bench " + model + " -s 0", "--sequences: 0 is out of range: give 1 to 4096"},
      {"build " + model + " -o x.etch --bpw nan", "--bpw: nan is out of range: give 3 to 8"},
      {"build " + model + " -o x.etch --correct-rank -1",
       "--correct-rank: -1 is out of range: give 0 to 65536"},
      {"build " + model + " -o x.etch --correct-rank 8 --lora x", "--lora excludes --correct-rank"},
      {"plan --preset llama-3.1-8b --bpw -1", "--bpw: -1 is out of range: give 3 to 8"},
      {"plan --preset llama-3.1-8b --context 99999999999",
       "--context: 99999999999 is out of range: give 1 to 16777216"},
      {"plan --preset llama-3.1-8b --users 1000000",
       "--users: 1000000 is out of range: give 1 to 65536"},
      {"plan --preset llama-3.1-8b --users 0", "--users: 0 is out of range: give 1 to 65536"},
      {"serve " + model + " --prompt-chunk 0",
       "--prompt-chunk: 0 is out of range: give 1 to 16777216"},
      {"frob",
       "'frob' is not a command; the commands are info, run, tokenize, chat, perplexity, "
       "bench, plan, build, serve, rtl"},
      {"run " + model + " -p hi --frob", "The following argument was not expected: --frob"},
  };
  for (const auto& [command, message] : cases) {
    const auto r = run_etch(command);
    EXPECT_EQ(r.exit_code, kArgumentError) << command;
    EXPECT_EQ(r.err, "etch: " + message + "\n") << command;
    EXPECT_TRUE(r.out.empty()) << command;
  }
}

TEST(CliOptions, AnInfeasiblePlanIsOneLine) {
  const auto r = run_etch("plan --preset llama-3.1-8b --users 4096 --context 131072");
  EXPECT_EQ(r.exit_code, kRuntimeError);
  EXPECT_EQ(r.err,
            "etch: infeasible: 4096 users x 131072 tokens of context is more KV cache than "
            "134217728 tokens in all\n");
  EXPECT_TRUE(r.out.empty());
}

TEST(CliOptions, MoreThreadsThanCoresAreCappedWithAWarning) {
  const auto r = run_etch("run " + quote(kSmallGguf.string()) + " -p hi -n 2 --temp 0 -t 100000");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string cores = std::to_string(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_NE(r.err.find("etch: warning: --threads 100000 is more than the " + cores +
                       " cores; using " + cores + "\n"),
            std::string::npos)
      << r.err;
}

// The seed a run announces on stderr; -1 when it announces none.
long long announced_seed(const std::string& err) {
  const size_t at = err.find("etch: seed ");
  return at == std::string::npos ? -1 : std::stoll(err.substr(at + 11));
}

TEST(CliOptions, SeedMinusOneIsRandomAndAnnounced) {
  const std::string run = "run " + quote(kSmallGguf.string()) + " -p hi -n 8 --temp 1 --seed ";
  const auto a = run_etch(run + "-1");
  const auto b = run_etch(run + "-1");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  ASSERT_GE(announced_seed(a.err), 0) << a.err;
  // Two draws from 2^32 seeds: equal once in four billion runs.
  EXPECT_NE(announced_seed(a.err), announced_seed(b.err));
  // The announced seed reproduces the run.
  const auto again = run_etch(run + std::to_string(announced_seed(a.err)));
  EXPECT_EQ(again.out, a.out);
  EXPECT_EQ(announced_seed(again.err), -1) << "a given seed is not announced";
}

TEST(CliContext, PastTheTrainedContextIsRefusedByEveryEngineAndCommand) {
  const TempDir dir("context");
  const std::string gguf = quote(kSmallGguf.string());  // trained for 512 tokens
  const std::string etched = quote((dir / "small.etch").string());
  ASSERT_EQ(run_etch("build " + gguf + " --recipe hc8 -o " + etched).exit_code, 0);
  write_text(dir / "text.txt", "In the beginning God created the heaven and the earth.");
  for (const std::string& model : {kSmallGguf.string(), (dir / "small.etch").string()}) {
    const std::string refusal = "etch: " + model +
                                ": a context of 1024 tokens is past the 512 the model was "
                                "trained for; its output there would be unreliable (give --ctx "
                                "512 or less)";
    for (const std::string& command :
         {"run " + quote(model) + " -p hi -n 2 -c 1024",
          "chat " + quote(model) + " --chat-template chatml -c 1024",
          "perplexity " + quote(model) + " -c 1024 -f " + quote((dir / "text.txt").string())}) {
      const auto r = run_etch(command);
      EXPECT_EQ(r.exit_code, kRuntimeError) << command;
      EXPECT_EQ(error_lines(r.err), std::vector<std::string>{refusal}) << command;
    }
  }
}

TEST(CliContext, APromptThatCannotFitIsRefusedBeforeAnyWork) {
  const TempDir dir("context");
  std::string text;
  for (int i = 0; i < 400; ++i) text += "In the beginning ";
  write_text(dir / "long.txt", text);
  const auto r = run_etch("run " + quote(kSmallGguf.string()) + " -n 8 -f " +
                          quote((dir / "long.txt").string()));
  EXPECT_EQ(r.exit_code, kRuntimeError);
  const std::vector<std::string> errors = error_lines(r.err);
  ASSERT_EQ(errors.size(), 1u) << r.err;
  EXPECT_TRUE(errors[0].starts_with("etch: the prompt (")) << errors[0];
  EXPECT_TRUE(errors[0].ends_with("past the 512 of the model's trained context")) << errors[0];
  EXPECT_TRUE(r.out.empty());
}

TEST(CliConventions, JsonStaysValidForAFileNameThatIsNotUtf8) {
  const TempDir dir("conventions");
  const fs::path model = dir / "model\xff.gguf";
  fs::copy_file(kSmallGguf, model);
  for (const std::string command : {"info --json ", "plan --json "}) {
    const auto r = run_etch(command + quote(model.string()));
    ASSERT_EQ(r.exit_code, 0) << command << r.err;
    const nlohmann::json parsed = nlohmann::json::parse(r.out);  // throws if invalid
    EXPECT_TRUE(parsed.is_object()) << command;
  }
  EXPECT_EQ(nlohmann::json::parse(run_etch("info --json " + quote(model.string())).out)["path"],
            (dir / "model\xef\xbf\xbd.gguf").string());  // the byte became U+FFFD
}

TEST(CliConventions, EveryCommandAcceptsAnEtchOrPlainlyRefusesIt) {
  const TempDir dir("conventions");
  const std::string gguf = quote(kSmallGguf.string());
  const std::string etched = quote((dir / "small.etch").string());
  ASSERT_EQ(run_etch("build " + gguf + " --recipe hc8 -o " + etched).exit_code, 0);
  const auto from_gguf = run_etch("tokenize " + gguf + " -p 'In the beginning'");
  const auto from_etch = run_etch("tokenize " + etched + " -p 'In the beginning'");
  ASSERT_EQ(from_etch.exit_code, 0) << from_etch.err;
  EXPECT_EQ(from_etch.out, from_gguf.out);
  EXPECT_EQ(run_etch("plan " + etched).exit_code, 0);
  const auto rebuild = run_etch("build " + etched + " -o " + quote((dir / "b.etch").string()));
  EXPECT_EQ(rebuild.exit_code, kRuntimeError);
  EXPECT_EQ(error_lines(rebuild.err),
            std::vector<std::string>{"etch: " + (dir / "small.etch").string() +
                                     ": is a .etch artifact; this needs a float model (GGUF file "
                                     "or Hugging Face folder)"});
}

TEST(CliConventions, AFullChatContextDropsTheOldestTurnsAndGoesOn) {
  const TempDir dir("conventions");
  write_text(dir / "turns.txt",
             "In the beginning God created the heaven\nAnd the earth was without form\n"
             "And God said let there be light\nAnd there was light\n");
  // A 64-token context holds about one turn; stdin is the four messages.
  const std::string command = testing::etch_binary() + " chat " +
                              quote((model_dir("kjv-8m") / "kjv-8m-bf16.gguf").string()) +
                              " --chat-template chatml -n 16 --temp 0 -t 1 -c 64 <" +
                              quote((dir / "turns.txt").string()) + " >" +
                              quote((dir / "out").string()) + " 2>" + quote((dir / "err").string());
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << read_text(dir / "err");
  const std::string err = read_text(dir / "err");
  EXPECT_NE(err.find("etch: the context is full: dropped the 2 oldest messages\n"),
            std::string::npos)
      << err;
  // Every message got its turn: five prompts (four messages, then end of input).
  const std::string out = read_text(dir / "out");
  EXPECT_EQ(std::count(out.begin(), out.end(), '>'), 5) << out;
}

}  // namespace
}  // namespace etch
