#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "serve/api.hpp"

namespace etch::serve {
namespace {

const Limits kLimits{.max_prompt_bytes = 64, .max_tokens = 1000};

struct Malformed {
  Endpoint endpoint;
  std::string body;
  int status;
  std::string param;  // expected error param, empty when none
};

class MalformedRequest : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedRequest, IsAnOpenAiErrorWithA4xxStatus) {
  const Malformed& c = GetParam();
  try {
    parse_completion_request(c.body, c.endpoint, kLimits);
    FAIL() << "accepted: " << c.body;
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, c.status) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
    const nlohmann::json body = error_body(e);
    EXPECT_EQ(body["error"]["type"], e.type);
    EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
  }
}

const std::string kUser = R"("messages":[{"role":"user","content":"hi"}])";
constexpr Endpoint kChat = Endpoint::kChat;
constexpr Endpoint kText = Endpoint::kCompletion;

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedRequest,
    ::testing::Values(
        Malformed{kChat, "", 400, ""}, Malformed{kChat, "{", 400, ""},
        Malformed{kChat, "[1,2]", 400, ""}, Malformed{kChat, "\"text\"", 400, ""},
        Malformed{kChat, "{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", 400, ""},
        Malformed{kChat, "{}", 400, "messages"},
        Malformed{kChat, R"({"messages":[]})", 400, "messages"},
        Malformed{kChat, R"({"messages":"hi"})", 400, "messages"},
        Malformed{kChat, R"({"messages":[1]})", 400, "messages[0]"},
        Malformed{kChat, R"({"messages":[{"content":"hi"}]})", 400, "messages[0].role"},
        Malformed{kChat, R"({"messages":[{"role":"wizard","content":"hi"}]})", 400,
                  "messages[0].role"},
        Malformed{kChat, R"({"messages":[{"role":"user"}]})", 400, "messages[0].content"},
        Malformed{kChat, R"({"messages":[{"role":"user","content":5}]})", 400,
                  "messages[0].content"},
        Malformed{kChat, R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", 400,
                  "messages[0].content"},
        Malformed{kChat, "{" + kUser + R"(,"n":2})", 400, "n"},
        Malformed{kChat, "{" + kUser + R"(,"n":"one"})", 400, "n"},
        Malformed{kChat, "{" + kUser + R"(,"tools":[{"type":"function"}]})", 400, "tools"},
        Malformed{kChat, "{" + kUser + R"(,"logprobs":true})", 400, "logprobs"},
        Malformed{kChat, "{" + kUser + R"(,"logit_bias":{"5":10}})", 400, "logit_bias"},
        Malformed{kChat, "{" + kUser + R"(,"response_format":{"type":"json_object"}})", 400,
                  "response_format"},
        Malformed{kChat, "{" + kUser + R"(,"max_tokens":0})", 400, "max_tokens"},
        Malformed{kChat, "{" + kUser + R"(,"max_tokens":-5})", 400, "max_tokens"},
        Malformed{kChat, "{" + kUser + R"(,"max_tokens":99999999999999999999})", 400, "max_tokens"},
        Malformed{kChat, "{" + kUser + R"(,"max_tokens":1.5})", 400, "max_tokens"},
        Malformed{kChat, "{" + kUser + R"(,"max_completion_tokens":1001})", 400,
                  "max_completion_tokens"},
        Malformed{kChat, "{" + kUser + R"(,"temperature":"hot"})", 400, "temperature"},
        Malformed{kChat, "{" + kUser + R"(,"temperature":3})", 400, "temperature"},
        Malformed{kChat, "{" + kUser + R"(,"top_p":-0.1})", 400, "top_p"},
        Malformed{kChat, "{" + kUser + R"(,"top_k":-1})", 400, "top_k"},
        Malformed{kChat, "{" + kUser + R"(,"min_p":2})", 400, "min_p"},
        Malformed{kChat, "{" + kUser + R"(,"frequency_penalty":5})", 400, "frequency_penalty"},
        Malformed{kChat, "{" + kUser + R"(,"presence_penalty":null,"seed":"x"})", 400, "seed"},
        Malformed{kChat, "{" + kUser + R"(,"stop":[""]})", 400, "stop"},
        Malformed{kChat, "{" + kUser + R"(,"stop":["a","b","c","d","e"]})", 400, "stop"},
        Malformed{kChat, "{" + kUser + R"(,"stop":7})", 400, "stop"},
        Malformed{kChat, "{" + kUser + R"(,"stream":"yes"})", 400, "stream"},
        Malformed{kChat, "{" + kUser + R"(,"stream_options":{"include_usage":true}})", 400,
                  "stream_options"},
        Malformed{kChat, "{" + kUser + R"(,"model":42})", 400, "model"},
        Malformed{kChat,
                  std::string(R"({"messages":[{"role":"user","content":")") +
                      std::string(100, 'a') + "\"}]}",
                  413, "messages"},
        Malformed{kText, "{}", 400, "prompt"}, Malformed{kText, R"({"prompt":[]})", 400, "prompt"},
        Malformed{kText, R"({"prompt":["a","b"]})", 400, "prompt"},
        Malformed{kText, R"({"prompt":[1,-2]})", 400, "prompt"},
        Malformed{kText, R"({"prompt":{"text":"a"}})", 400, "prompt"},
        Malformed{kText, R"({"prompt":"a","echo":true})", 400, "echo"},
        Malformed{kText, R"({"prompt":"a","best_of":3})", 400, "best_of"},
        Malformed{kText, R"({"prompt":"a","suffix":"b"})", 400, "suffix"}));

TEST(CompletionRequest, ReadsEveryParameter) {
  const CompletionRequest r = parse_completion_request(
      R"({"model":"m","messages":[{"role":"developer","content":"be brief"},
          {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
          "stream":true,"stream_options":{"include_usage":true},"max_tokens":5,
          "max_completion_tokens":7,"stop":"\n","temperature":0.5,"top_p":0.9,"top_k":12,
          "min_p":0.1,"frequency_penalty":0.5,"presence_penalty":-0.5,
          "repetition_penalty":1.1,"seed":-1,"n":1,"logprobs":false,"user":"u"})",
      Endpoint::kChat, kLimits);
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.max_tokens, 7);
  EXPECT_EQ(r.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(r.sampling.temperature, 0.5f);
  EXPECT_EQ(r.sampling.top_p, 0.9f);
  EXPECT_EQ(r.sampling.top_k, 12);
  EXPECT_EQ(r.sampling.min_p, 0.1f);
  EXPECT_EQ(r.sampling.frequency_penalty, 0.5f);
  EXPECT_EQ(r.sampling.presence_penalty, -0.5f);
  EXPECT_EQ(r.sampling.repeat_penalty, 1.1f);
  EXPECT_TRUE(r.seeded);
  EXPECT_EQ(r.sampling.seed, UINT64_MAX);
}

TEST(CompletionRequest, ChoosesAdapters) {
  auto lora = [](const std::string& field) {
    return parse_completion_request(R"({"prompt":"a")" + field + "}", Endpoint::kCompletion,
                                    kLimits)
        .lora;
  };
  EXPECT_FALSE(lora("").has_value());
  EXPECT_FALSE(lora(R"(,"lora":null)").has_value());
  ASSERT_TRUE(lora(R"(,"lora":[])").has_value());
  EXPECT_TRUE(lora(R"(,"lora":[])")->empty());
  const auto by_name = lora(R"(,"lora":"style")");
  ASSERT_EQ(by_name->size(), 1u);
  EXPECT_EQ((*by_name)[0].name, "style");
  EXPECT_FALSE((*by_name)[0].scale.has_value());
  const auto listed = lora(R"(,"lora":[{"id":1,"scale":0.5},{"name":"b"},"c"])");
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].id, 1);
  EXPECT_EQ((*listed)[0].scale, 0.5f);
  EXPECT_EQ((*listed)[1].name, "b");
  EXPECT_EQ((*listed)[2].name, "c");
  for (const char* bad : {R"(,"lora":5)", R"(,"lora":[5])", R"(,"lora":[{"scale":1}])",
                          R"(,"lora":[{"id":0,"name":"a"}])", R"(,"lora":[{"id":-1}])",
                          R"(,"lora":[{"id":0,"scale":1000}])", R"(,"lora":[{"name":3}])"}) {
    try {
      lora(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400) << bad;
      EXPECT_EQ(e.param, bad[3] == 'l' ? "lora" : e.param) << bad;
    }
  }
}

TEST(CompletionRequest, TakesAPromptAsTextOrIds) {
  EXPECT_EQ(
      parse_completion_request(R"({"prompt":["abc"]})", Endpoint::kCompletion, kLimits).prompt,
      "abc");
  const CompletionRequest ids =
      parse_completion_request(R"({"prompt":[1,2,3]})", Endpoint::kCompletion, kLimits);
  EXPECT_EQ(ids.prompt_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_FALSE(ids.seeded);
  EXPECT_FALSE(ids.max_tokens.has_value());
}

}  // namespace
}  // namespace etch::serve
