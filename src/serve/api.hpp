// The OpenAI request bodies etch serve accepts, checked field by field: a malformed or
// unsupported request becomes an ApiError (an HTTP status and an OpenAI-style error object),
// never a silently ignored field. Independent of HTTP and of the model, so it can be tested and
// fuzzed alone.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/run.hpp"
#include "run/session.hpp"
#include "tokenize/chat.hpp"

namespace etch::serve {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, const std::string& message, std::string param = {})
      : std::runtime_error(message),
        status(status),
        type(std::move(type)),
        param(std::move(param)) {}
  int status;
  std::string type;   // invalid_request_error, authentication_error, server_error, ...
  std::string param;  // the offending field, when there is one
};

// {"error": {"message", "type", "param", "code"}} as the OpenAI API writes it.
nlohmann::json error_body(const ApiError& error);

enum class Endpoint { kChat, kCompletion };

struct Limits {
  size_t max_prompt_bytes = 1 << 20;  // text of the prompt or of all messages together
  int64_t max_tokens = 1 << 20;       // the most max_tokens a request may ask for
};

// One adapter a request chooses: by its index in the server's --lora list (llama-server's "id")
// or by name, at a scale (absent: the server's --lora scale).
struct AdapterChoice {
  std::optional<int64_t> id = std::nullopt;
  std::string name = {};
  std::optional<float> scale = std::nullopt;
};

struct CompletionRequest {
  Endpoint endpoint = Endpoint::kCompletion;
  std::string model;                               // as the client named it, may be empty
  std::vector<tokenize::ChatMessage> messages;     // kChat
  std::string prompt;                              // kCompletion, as text ...
  std::optional<std::vector<int32_t>> prompt_ids;  // ... or as token ids
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage
  std::optional<int64_t> max_tokens;  // absent: until the context is full
  std::vector<std::string> stop;
  run::SamplingParams sampling;  // seed drawn at random when absent
  bool seeded = false;
  // "lora": the adapters to apply, the others off; absent or null: the server's --lora
  // defaults. A name, a list of names, or llama-server's [{"id": N, "scale": S}] (an entry
  // may give "name" instead of "id"); [] turns every adapter off.
  std::optional<std::vector<AdapterChoice>> lora;
};

// Parses and checks a request body. Throws ApiError (status 400) for anything malformed,
// out of range or unsupported.
CompletionRequest parse_completion_request(std::string_view body, Endpoint endpoint,
                                           const Limits& limits);

// The body of a request as a JSON object; ApiError 400 when it is not one.
nlohmann::json parse_object(std::string_view body);

}  // namespace etch::serve
