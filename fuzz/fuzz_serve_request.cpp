// libFuzzer target for etch serve's request parser: the first byte picks the endpoint, the rest
// is the body. Any input must give a request or throw ApiError with a 4xx status (no crash, no
// other exception, no unbounded recursion or allocation).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "serve/api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto endpoint =
      data[0] % 2 == 0 ? etch::serve::Endpoint::kChat : etch::serve::Endpoint::kCompletion;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    etch::serve::parse_completion_request(body, endpoint,
                                          {.max_prompt_bytes = 4096, .max_tokens = 1024});
  } catch (const etch::serve::ApiError& e) {
    if (e.status < 400 || e.status >= 500) std::abort();
  }
  return 0;
}
