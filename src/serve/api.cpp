#include "serve/api.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace etch::serve {

namespace {

using nlohmann::json;

[[noreturn]] void invalid(const std::string& param, const std::string& message) {
  throw ApiError(400, "invalid_request_error", message, param);
}

// A number field within [low, high]; absent or null leaves `value` as it was.
template <typename T>
void read_number(const json& body, const char* name, double low, double high, T& value) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return;
  if (!it->is_number()) invalid(name, fmt::format("'{}' must be a number", name));
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < low || v > high)
    invalid(name, fmt::format("'{}' must be between {} and {}", name, low, high));
  value = static_cast<T>(v);
}

std::optional<int64_t> read_integer(const json& body, const char* name, int64_t low, int64_t high) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) invalid(name, fmt::format("'{}' must be an integer", name));
  // Unsigned values past int64 are out of range, not wrapped.
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(high))
    invalid(name, fmt::format("'{}' must be between {} and {}", name, low, high));
  const int64_t v = it->get<int64_t>();
  if (v < low || v > high)
    invalid(name, fmt::format("'{}' must be between {} and {}", name, low, high));
  return v;
}

bool read_bool(const json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) invalid(name, fmt::format("'{}' must be true or false", name));
  return it->get<bool>();
}

// Fields etch does not implement are refused rather than ignored, so a client never gets an
// answer that silently lacks what it asked for.
void refuse_unsupported(const json& body) {
  for (const char* name : {"tools", "tool_choice", "functions", "function_call", "suffix",
                           "top_logprobs", "audio", "modalities", "prediction"}) {
    const auto it = body.find(name);
    if (it != body.end() && !it->is_null())
      throw ApiError(400, "invalid_request_error",
                     fmt::format("'{}' is not supported by etch serve", name), name);
  }
  for (const char* name : {"logprobs", "echo"}) {
    const auto it = body.find(name);
    if (it == body.end() || it->is_null()) continue;
    if (it->is_boolean() && !it->get<bool>()) continue;
    throw ApiError(400, "invalid_request_error",
                   fmt::format("'{}' is not supported by etch serve", name), name);
  }
  if (const auto n = read_integer(body, "n", 1, std::numeric_limits<int>::max()); n && *n != 1)
    invalid("n", "only n = 1 is supported");
  if (const auto best_of = read_integer(body, "best_of", 1, std::numeric_limits<int>::max());
      best_of && *best_of != 1)
    invalid("best_of", "only best_of = 1 is supported");
  if (const auto it = body.find("logit_bias"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) invalid("logit_bias", "'logit_bias' must be an object");
    if (!it->empty()) invalid("logit_bias", "'logit_bias' is not supported by etch serve");
  }
  if (const auto it = body.find("response_format"); it != body.end() && !it->is_null()) {
    if (!it->is_object() || it->value("type", json()) != "text")
      invalid("response_format", "only the 'text' response format is supported");
  }
}

std::string message_content(const json& content, size_t index) {
  const std::string param = fmt::format("messages[{}].content", index);
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) invalid(param, "a message's content must be a string or an array");
  std::string text;
  for (const json& part : content) {
    if (!part.is_object() || part.value("type", json()) != "text")
      invalid(param, "only content parts of type 'text' are supported");
    const auto it = part.find("text");
    if (it == part.end() || !it->is_string()) invalid(param, "a text part needs a string 'text'");
    text += it->get<std::string>();
  }
  return text;
}

std::vector<tokenize::ChatMessage> read_messages(const json& body) {
  const auto it = body.find("messages");
  if (it == body.end()) invalid("messages", "'messages' is required");
  if (!it->is_array()) invalid("messages", "'messages' must be an array");
  if (it->empty()) invalid("messages", "'messages' must not be empty");
  std::vector<tokenize::ChatMessage> messages;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& message = (*it)[i];
    const std::string param = fmt::format("messages[{}]", i);
    if (!message.is_object()) invalid(param, "a message must be an object");
    const auto role = message.find("role");
    if (role == message.end() || !role->is_string())
      invalid(param + ".role", "a message needs a string 'role'");
    std::string name = role->get<std::string>();
    if (name == "developer") name = "system";  // OpenAI's newer name for the system role
    if (name != "system" && name != "user" && name != "assistant")
      invalid(param + ".role",
              fmt::format("unknown role '{}' (system, developer, user or assistant)", name));
    const auto content = message.find("content");
    if (content == message.end() || content->is_null())
      invalid(param + ".content", "a message needs 'content'");
    if (message.contains("tool_calls") || message.contains("function_call"))
      invalid(param, "tool calls are not supported by etch serve");
    messages.push_back({std::move(name), message_content(*content, i)});
  }
  return messages;
}

void read_prompt(const json& body, CompletionRequest& request) {
  const auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) invalid("prompt", "'prompt' is required");
  if (it->is_string()) {
    request.prompt = it->get<std::string>();
    return;
  }
  if (!it->is_array() || it->empty())
    invalid("prompt", "'prompt' must be a string, or an array of token ids");
  if ((*it)[0].is_string()) {
    if (it->size() != 1) invalid("prompt", "only one prompt per request is supported");
    request.prompt = (*it)[0].get<std::string>();
    return;
  }
  std::vector<int32_t> ids;
  for (const json& id : *it) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() > std::numeric_limits<int32_t>::max())
      invalid("prompt", "'prompt' as an array must hold token ids (integers)");
    ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
  }
  request.prompt_ids = std::move(ids);
}

std::vector<std::string> read_stop(const json& body) {
  const auto it = body.find("stop");
  if (it == body.end() || it->is_null()) return {};
  std::vector<std::string> stop;
  if (it->is_string()) {
    stop.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    if (it->size() > 4) invalid("stop", "at most 4 stop strings");
    for (const json& s : *it) {
      if (!s.is_string()) invalid("stop", "'stop' must hold strings");
      stop.push_back(s.get<std::string>());
    }
  } else {
    invalid("stop", "'stop' must be a string or an array of strings");
  }
  for (const std::string& s : stop)
    if (s.empty()) invalid("stop", "a stop string must not be empty");
  return stop;
}

}  // namespace

json error_body(const ApiError& error) {
  return {{"error",
           {{"message", error.what()},
            {"type", error.type},
            {"param", error.param.empty() ? json() : json(error.param)},
            {"code", error.status}}}};
}

json parse_object(std::string_view body) {
  json parsed;
  try {
    parsed = json::parse(body);
  } catch (const json::exception& e) {
    throw ApiError(400, "invalid_request_error",
                   fmt::format("the body is not valid JSON: {}", e.what()));
  }
  if (!parsed.is_object())
    throw ApiError(400, "invalid_request_error", "the body must be a JSON object");
  return parsed;
}

namespace {

std::optional<std::vector<AdapterChoice>> read_lora(const json& body) {
  const auto it = body.find("lora");
  if (it == body.end() || it->is_null()) return std::nullopt;
  std::vector<AdapterChoice> choices;
  if (it->is_string()) {
    choices.push_back({.name = it->get<std::string>()});
    return choices;
  }
  if (!it->is_array()) invalid("lora", "'lora' must be an adapter name or a list of adapters");
  if (it->size() > 64) invalid("lora", "'lora' lists more than 64 adapters");
  for (const json& entry : *it) {
    AdapterChoice choice;
    if (entry.is_string()) {
      choice.name = entry.get<std::string>();
    } else if (entry.is_object()) {
      choice.id = read_integer(entry, "id", 0, 1 << 16);
      if (const auto name = entry.find("name"); name != entry.end() && !name->is_null()) {
        if (!name->is_string()) invalid("lora", "an adapter's 'name' must be a string");
        choice.name = name->get<std::string>();
      }
      if (choice.id.has_value() == !choice.name.empty())
        invalid("lora", "each adapter in 'lora' needs an 'id' or a 'name' (one of them)");
      if (entry.contains("scale") && !entry["scale"].is_null()) {
        float scale = 0;
        read_number(entry, "scale", -run::kMaxAdapterScale, run::kMaxAdapterScale, scale);
        choice.scale = scale;
      }
    } else {
      invalid("lora", "'lora' entries must be names or {\"id\", \"scale\"} objects");
    }
    choices.push_back(std::move(choice));
  }
  return choices;
}

}  // namespace

CompletionRequest parse_completion_request(std::string_view text, Endpoint endpoint,
                                           const Limits& limits) {
  const json body = parse_object(text);
  refuse_unsupported(body);
  CompletionRequest request;
  request.endpoint = endpoint;
  if (const auto it = body.find("model"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) invalid("model", "'model' must be a string");
    request.model = it->get<std::string>();
  }
  size_t prompt_bytes = 0;
  if (endpoint == Endpoint::kChat) {
    request.messages = read_messages(body);
    for (const auto& m : request.messages) prompt_bytes += m.content.size();
  } else {
    read_prompt(body, request);
    prompt_bytes = request.prompt_ids ? request.prompt_ids->size() * 4 : request.prompt.size();
  }
  if (prompt_bytes > limits.max_prompt_bytes)
    throw ApiError(413, "invalid_request_error",
                   fmt::format("the prompt is {} bytes, more than the limit of {}", prompt_bytes,
                               limits.max_prompt_bytes),
                   endpoint == Endpoint::kChat ? "messages" : "prompt");

  request.stream = read_bool(body, "stream");
  if (const auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!request.stream) invalid("stream_options", "'stream_options' needs 'stream': true");
    if (!it->is_object()) invalid("stream_options", "'stream_options' must be an object");
    request.include_usage = read_bool(*it, "include_usage");
  }
  // max_completion_tokens is the newer name; when both are given it wins, as in OpenAI's API.
  request.max_tokens = read_integer(body, "max_tokens", 1, limits.max_tokens);
  if (auto most = read_integer(body, "max_completion_tokens", 1, limits.max_tokens))
    request.max_tokens = most;
  request.stop = read_stop(body);

  run::SamplingParams& s = request.sampling;
  read_number(body, "temperature", 0, 2, s.temperature);
  read_number(body, "top_p", 0, 1, s.top_p);
  if (const auto k = read_integer(body, "top_k", 0, std::numeric_limits<int32_t>::max()))
    s.top_k = static_cast<int>(*k);
  read_number(body, "min_p", 0, 1, s.min_p);
  read_number(body, "frequency_penalty", -2, 2, s.frequency_penalty);
  read_number(body, "presence_penalty", -2, 2, s.presence_penalty);
  read_number(body, "repetition_penalty", 0.01, 10, s.repeat_penalty);
  read_number(body, "repeat_penalty", 0.01, 10, s.repeat_penalty);
  if (const auto seed = read_integer(body, "seed", std::numeric_limits<int64_t>::min(),
                                     std::numeric_limits<int64_t>::max())) {
    s.seed = static_cast<uint64_t>(*seed);
    request.seeded = true;
  }
  if (const auto it = body.find("user"); it != body.end() && !it->is_null() && !it->is_string())
    invalid("user", "'user' must be a string");
  request.lora = read_lora(body);
  return request;
}

}  // namespace etch::serve
