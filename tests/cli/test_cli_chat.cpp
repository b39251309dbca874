// etch chat in a real terminal: tmux gives it a pseudo-terminal, the test types two turns and
// reads the screen. Also the CLI side of tokenizing with special tokens.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "cli_support.hpp"

namespace etch::testing {
namespace {

std::string kjv_gguf() {
  return (model_dir("kjv-8m") / "kjv-8m-bf16.gguf").string();
}

std::string shell_output(const std::string& command) {
  std::string out;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
    ::pclose(pipe);
  }
  return out;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A private tmux server (its own socket), so the test touches no user session.
class Tmux {
 public:
  Tmux() : socket_("etch-chat-test-" + std::to_string(::getpid())) {}
  ~Tmux() { std::system(("tmux -L " + socket_ + " kill-server 2>/dev/null").c_str()); }

  bool start(const std::string& command) {
    return std::system(
               ("tmux -L " + socket_ + " new-session -d -s chat -x 160 -y 50 " + quote(command))
                   .c_str()) == 0;
  }
  void type(const std::string& text) {
    std::system(("tmux -L " + socket_ + " send-keys -t chat -l " + quote(text)).c_str());
    std::system(("tmux -L " + socket_ + " send-keys -t chat Enter").c_str());
  }
  void key(const std::string& name) {
    std::system(("tmux -L " + socket_ + " send-keys -t chat " + name).c_str());
  }
  std::string screen() {
    return shell_output("tmux -L " + socket_ + " capture-pane -p -J -S -200 -t chat");
  }
  // Waits until the screen holds `what` at least `times` times; returns the screen.
  std::string wait_for(const std::string& what, size_t times) {
    std::string text;
    for (int i = 0; i < 600; ++i) {
      text = screen();
      if (count(text, what) >= times) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return text;
  }

 private:
  std::string socket_;
};

TEST(CliChat, TwoTurnsInAPseudoTerminal) {
  if (std::system("command -v tmux >/dev/null 2>&1") != 0) GTEST_SKIP() << "tmux not installed";
  Tmux tmux;
  // kjv-8m has no chat template: ChatML is chosen explicitly. Greedy, 6 tokens a reply.
  const std::string command = etch_binary() + " chat " + quote(kjv_gguf()) +
                              " --chat-template chatml -n 6 --temp 0 -t 1 -c 256 "
                              "--system 'Thou art a scribe.'; echo CHAT-EXIT=$?; sleep 60";
  ASSERT_TRUE(tmux.start(command));
  tmux.wait_for("> ", 1);
  tmux.type("In the beginning");
  std::string screen = tmux.wait_for("> ", 2);
  EXPECT_EQ(count(screen, "> "), 2u) << screen;
  tmux.type("And God said");
  screen = tmux.wait_for("> ", 3);
  EXPECT_EQ(count(screen, "> "), 3u) << screen;
  tmux.type("");
  screen = tmux.wait_for("CHAT-EXIT=", 1);
  EXPECT_NE(screen.find("CHAT-EXIT=0"), std::string::npos) << screen;
  EXPECT_NE(screen.find("> In the beginning"), std::string::npos) << screen;
  EXPECT_NE(screen.find("> And God said"), std::string::npos) << screen;
  // Each turn printed a reply line of its own between the prompts.
  const size_t first = screen.find("> In the beginning");
  const size_t second = screen.find("> And God said");
  ASSERT_LT(first, second);
  const std::string reply = screen.substr(first, second - first);
  EXPECT_GE(count(reply, "\n"), 2u) << screen;
  EXPECT_NE(screen.find("chat format chatml"), std::string::npos) << screen;
}

TEST(CliChat, CtrlCStopsTheReplyAndTheConversationGoesOn) {
  Tmux tmux;
  // Sampled without a length limit: the reply runs until the 1024-token context is full,
  // seconds on one thread, long enough to be interrupted.
  const std::string command = etch_binary() + " chat " + quote(kjv_gguf()) +
                              " --chat-template chatml -n 100000 --temp 1 --seed 7 -t 1 -c 1024"
                              "; echo CHAT-EXIT=$?; sleep 60";
  ASSERT_TRUE(tmux.start(command));
  tmux.wait_for("> ", 1);
  tmux.type("In the beginning");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  tmux.key("C-c");
  std::string screen = tmux.wait_for("> ", 2);
  EXPECT_NE(screen.find("[stopped]"), std::string::npos) << screen;
  EXPECT_EQ(screen.find("CHAT-EXIT="), std::string::npos) << "Ctrl-C ended the chat:\n" << screen;
  // The conversation goes on: a second turn gets a reply, stopped the same way.
  tmux.type("And God said");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  tmux.key("C-c");
  screen = tmux.wait_for("> ", 3);
  EXPECT_EQ(count(screen, "[stopped]"), 2u) << screen;
  // Ctrl-C at the prompt ends the chat normally.
  tmux.key("C-c");
  screen = tmux.wait_for("CHAT-EXIT=", 1);
  EXPECT_NE(screen.find("CHAT-EXIT=0"), std::string::npos) << screen;
}

TEST(CliChat, UnknownTemplateListsTheKnownOnes) {
  const CommandResult r = run_etch("chat " + quote(kjv_gguf()) + " --chat-template vicuna");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown chat template 'vicuna'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("llama3, llama2, chatml, mistral, phi3, gemma"), std::string::npos) << r.err;
  // Without --chat-template a model without a template is refused with the same list.
  const CommandResult none = run_etch("chat " + quote(kjv_gguf()));
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no chat template"), std::string::npos) << none.err;
  // A system message in a format without one is refused before the conversation starts.
  const CommandResult system =
      run_etch("chat " + quote(kjv_gguf()) + " --chat-template gemma --system 'Be brief.'");
  EXPECT_EQ(system.exit_code, 1);
  EXPECT_NE(system.err.find("system role is not supported"), std::string::npos) << system.err;
}

TEST(CliChat, TokenizeParsesSpecialTokensOnlyWhenAsked) {
  const std::string gguf = (model_dir("kjv-8m") / "kjv-8m-bf16.gguf").string();
  const CommandResult plain = run_etch("tokenize " + quote(gguf) + " --no-bos -p '</s>'");
  const CommandResult parsed =
      run_etch("tokenize " + quote(gguf) + " --no-bos --parse-special -p '</s>'");
  ASSERT_EQ(parsed.exit_code, 0) << parsed.err;
  EXPECT_EQ(parsed.out, "2\n");  // EOS
  EXPECT_NE(plain.out, "2\n");
}

}  // namespace
}  // namespace etch::testing
