// etch serve: an OpenAI-compatible HTTP server over one engine whose sequences serve many
// users at once (see docs/serve.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace etch::serve {

struct ServeOptions {
  std::string model;               // anything run::LoadedModel opens
  std::vector<std::string> lora;   // --lora FILE_OR_FOLDER[:SCALE]: what requests may choose
  std::string host = "127.0.0.1";  // loopback unless asked
  int port = 8080;                 // 0: any free port (the log line names it)
  int parallel = 4;                // slots: sequences advanced together per engine step
  int queue = 64;                  // requests waiting for a slot; 429 past it
  std::string api_key;             // empty: no key required
  std::string chat_template;       // empty: the model's own
  int threads = 0;
  int64_t context = 0;  // per slot; 0: the engine's default
  size_t max_body_bytes = 4u << 20;
  size_t max_prompt_bytes = 1u << 20;
  double timeout_seconds = 600;  // a request's deadline, from its arrival
  int64_t prompt_chunk = 64;     // prompt tokens a slot feeds per engine step
};

// Listens first (GET /health answers 503 while the model loads), then loads the model and
// serves until SIGINT or SIGTERM. Throws Error when it cannot bind or load the model.
void serve(const ServeOptions& options);

}  // namespace etch::serve
