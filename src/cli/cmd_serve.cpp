// etch serve: the OpenAI-compatible HTTP server (src/serve, docs/serve.md).
#include <memory>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "serve/serve.hpp"
#include "tokenize/chat.hpp"

namespace etch::cli {

void add_serve_command(CLI::App& app) {
  auto options = std::make_shared<serve::ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Serve a model over an OpenAI-compatible HTTP API, many users at once");
  cmd->add_option("MODEL", options->model, "GGUF file, Hugging Face folder or .etch file")
      ->required();
  cmd->add_option("--host", options->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", options->port, "Port (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--parallel", options->parallel,
                  "Slots: requests generated together in each engine step")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--queue", options->queue, "Requests that may wait for a slot (429 past it)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("--api-key", options->api_key,
                  "Require this key (Authorization: Bearer KEY) on every endpoint but /health");
  cmd->add_option("--chat-template", options->chat_template,
                  "Chat format instead of the model's own: " + tokenize::known_chat_formats());
  add_threads_option(*cmd, options->threads);
  add_lora_option(*cmd, options->lora);
  add_count_option(*cmd, "-c,--ctx", options->context,
                   "KV cache length per slot (default: model's, at most 4096)", 0, kMaxTokens);
  cmd->add_option("--max-body", options->max_body_bytes, "Largest request body in bytes (413)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-prompt", options->max_prompt_bytes,
                  "Largest prompt in bytes, all messages together (413)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--timeout", options->timeout_seconds,
                  "Seconds a request may take from its arrival, waiting included")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_count_option(*cmd, "--prompt-chunk", options->prompt_chunk,
                   "Prompt tokens a slot feeds per engine step", 1, kMaxTokens)
      ->capture_default_str();
  cmd->callback([options] { serve::serve(*options); });
}

}  // namespace etch::cli
