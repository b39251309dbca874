// etch chat: an interactive, streaming, multi-turn conversation with a model, in its chat
// format. Each turn renders the whole conversation through the template, tokenizes it with
// special tokens parsed, and hands it to the session, which feeds the engine only what its KV
// cache does not already hold.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "core/error.hpp"
#include "run/pipeline.hpp"
#include "run/session.hpp"
#include "tokenize/chat.hpp"

namespace etch::cli {

namespace {

struct ChatOptions {
  std::string model;
  std::vector<std::string> lora;
  std::string system;
  std::string chat_template;
  int64_t tokens = 512;
  SamplingOptions sampling;
  int threads = 0;
  int64_t context = 0;
};

// Set by Ctrl-C: during a reply it stops the reply; at the prompt it ends the chat.
std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) {
  g_interrupted.store(true);
}

void catch_interrupts() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: Ctrl-C at the prompt interrupts the read
  ::sigaction(SIGINT, &action, nullptr);
}

// Drops the oldest user/assistant turns (the system message stays) until the conversation
// takes fewer than `limit` tokens; returns its tokens, or an empty vector when the newest
// message alone does not fit.
std::vector<int32_t> fit_conversation(std::vector<tokenize::ChatMessage>& messages,
                                      tokenize::ChatFormat format,
                                      const tokenize::Tokenizer& tokenizer, int64_t limit) {
  const size_t first_turn = !messages.empty() && messages[0].role == "system" ? 1 : 0;
  size_t dropped = 0;
  while (true) {
    const std::string text = tokenize::render_chat(format, messages, true, tokenizer.vocab());
    std::vector<int32_t> ids = tokenizer.encode(text, false, true);
    if (static_cast<int64_t>(ids.size()) < limit) {
      if (dropped > 0)
        fmt::print(stderr, "etch: the context is full: dropped the {} oldest messages\n", dropped);
      return ids;
    }
    if (messages.size() < first_turn + 3) return {};  // only the new message is left
    messages.erase(messages.begin() + static_cast<std::ptrdiff_t>(first_turn),
                   messages.begin() + static_cast<std::ptrdiff_t>(first_turn + 2));
    dropped += 2;
  }
}

void execute(const ChatOptions& o) {
  const run::LoadedModel model = open_model(o.model, o.lora);
  const tokenize::Vocabulary& vocab = model.vocab();
  const tokenize::Tokenizer tokenizer = model.tokenizer();
  // Decided before the engine is built, so that a bad --chat-template fails at once.
  const tokenize::ChatFormat format = tokenize::chat_format_for(vocab, o.chat_template);
  std::vector<tokenize::ChatMessage> messages;
  if (!o.system.empty()) {
    messages.push_back({"system", o.system});
    // A format without a system role refuses it now rather than at the first turn.
    const std::vector<tokenize::ChatMessage> probe = {messages[0], {"user", "x"}};
    tokenize::render_chat(format, probe, true, vocab);
  }
  const std::unique_ptr<run::Engine> engine =
      model.engine({.threads = o.threads, .context = o.context});
  run::Sampler sampler(o.sampling.resolve());  // one random stream through the conversation
  fmt::print(stderr,
             "etch: chat format {}, context {} tokens; Ctrl-C stops a reply; an empty line, "
             "Ctrl-D or Ctrl-C at the prompt ends\n",
             tokenize::chat_format_name(format), engine->context());
  catch_interrupts();

  // The session keeps what the KV cache holds, so each turn evaluates only the new messages.
  run::Session session(*engine, tokenizer);
  run::GenerationOptions generation;
  generation.max_tokens = o.tokens;
  std::string line;
  while (true) {
    fmt::print("> ");
    std::fflush(stdout);
    g_interrupted.store(false);
    if (!std::getline(std::cin, line) || line.empty() || g_interrupted.load()) break;
    messages.push_back({"user", line});
    // Room is kept for a reply of -n tokens, or of a quarter of the context when -n is more.
    const int64_t reply_room = std::min(o.tokens, engine->context() / 4);
    const std::vector<int32_t> ids =
        fit_conversation(messages, format, tokenizer, engine->context() - reply_room);
    if (ids.empty()) {
      fmt::print(stderr, "etch: that message does not fit the context of {} tokens (--ctx)\n",
                 engine->context());
      messages.pop_back();
      continue;
    }
    session.start(ids, generation, sampler);
    while (session.running() && !g_interrupted.load()) {
      const std::string reply = session.step().text;
      std::fwrite(reply.data(), 1, reply.size(), stdout);
      std::fflush(stdout);
    }
    fmt::print("{}\n", g_interrupted.load() ? " [stopped]" : "");
    messages.push_back({"assistant", tokenizer.decode(session.generated())});
  }
  fmt::print("\n");
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto options = std::make_shared<ChatOptions>();
  CLI::App* cmd = app.add_subcommand(
      "chat", "Talk with a model interactively, in its chat format, streaming the replies");
  cmd->add_option("MODEL", options->model, "GGUF file, Hugging Face folder or .etch file")
      ->required();
  cmd->add_option("--system", options->system, "A system message that starts the conversation");
  cmd->add_option("--chat-template", options->chat_template,
                  "Chat format instead of the model's own: " + tokenize::known_chat_formats());
  add_count_option(*cmd, "-n,--tokens", options->tokens, "Most tokens per reply", 1, kMaxTokens);
  options->sampling.add_to(*cmd);
  add_threads_option(*cmd, options->threads);
  add_lora_option(*cmd, options->lora);
  add_count_option(*cmd, "-c,--ctx", options->context,
                   "KV cache length (0: the model's trained context, at most 4096)", 0, kMaxTokens);
  cmd->callback([options] { execute(*options); });
}

}  // namespace etch::cli
