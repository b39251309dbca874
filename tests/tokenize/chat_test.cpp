// Chat rendering against the exact strings each family's official Jinja template produces
// (worked out by hand from the templates named in chat.hpp), and template recognition.
#include <gtest/gtest.h>

#include <vector>

#include "core/error.hpp"
#include "test_support.hpp"
#include "tokenize/chat.hpp"

namespace etch::tokenize {
namespace {

Vocabulary vocab_with(const std::string& bos, const std::string& eos) {
  Vocabulary v;
  v.tokens = {bos, eos};
  v.bos_id = 0;
  v.eos_id = 1;
  return v;
}

const std::vector<ChatMessage> kConversation = {
    {"system", "You are terse."},
    {"user", "Hello!"},
    {"assistant", "Hi."},
    {"user", "Who made the heaven?"},
};
const std::vector<ChatMessage> kNoSystem(kConversation.begin() + 1, kConversation.end());

TEST(Chat, Llama3) {
  EXPECT_EQ(render_chat(ChatFormat::kLlama3, kConversation, true,
                        vocab_with("<|begin_of_text|>", "<|end_of_text|>")),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are "
            "terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHi.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWho made the heaven?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  // Content is trimmed by the template.
  const std::vector<ChatMessage> padded = {{"user", "  hi \n"}};
  EXPECT_EQ(render_chat(ChatFormat::kLlama3, padded, false, vocab_with("<B>", "<E>")),
            "<B><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>");
}

TEST(Chat, Llama2) {
  EXPECT_EQ(render_chat(ChatFormat::kLlama2, kConversation, true, vocab_with("<s>", "</s>")),
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHello! [/INST] Hi. </s>"
            "<s>[INST] Who made the heaven? [/INST]");
  EXPECT_EQ(render_chat(ChatFormat::kLlama2, kNoSystem, true, vocab_with("<s>", "</s>")),
            "<s>[INST] Hello! [/INST] Hi. </s><s>[INST] Who made the heaven? [/INST]");
  const std::vector<ChatMessage> wrong = {{"assistant", "a"}};
  EXPECT_THROW(render_chat(ChatFormat::kLlama2, wrong, true, vocab_with("<s>", "</s>")), Error);
}

TEST(Chat, ChatMl) {
  EXPECT_EQ(render_chat(ChatFormat::kChatMl, kConversation, true, vocab_with("", "<|im_end|>")),
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n"
            "<|im_start|>assistant\nHi.<|im_end|>\n<|im_start|>user\nWho made the "
            "heaven?<|im_end|>\n<|im_start|>assistant\n");
}

TEST(Chat, Mistral) {
  EXPECT_EQ(render_chat(ChatFormat::kMistral, kNoSystem, true, vocab_with("<s>", "</s>")),
            "<s>[INST] Hello! [/INST]Hi.</s>[INST] Who made the heaven? [/INST]");
  EXPECT_THROW(render_chat(ChatFormat::kMistral, kConversation, true, vocab_with("<s>", "</s>")),
               Error);
}

TEST(Chat, Phi3) {
  EXPECT_EQ(
      render_chat(ChatFormat::kPhi3, kConversation, true, vocab_with("<s>", "<|endoftext|>")),
      "<|system|>\nYou are terse.<|end|>\n<|user|>\nHello!<|end|>\n<|assistant|>\nHi.<|end|>\n"
      "<|user|>\nWho made the heaven?<|end|>\n<|assistant|>\n");
  // Without a generation prompt the template ends with EOS.
  const std::vector<ChatMessage> one = {{"user", "x"}};
  EXPECT_EQ(render_chat(ChatFormat::kPhi3, one, false, vocab_with("<s>", "<|endoftext|>")),
            "<|user|>\nx<|end|>\n<|endoftext|>");
}

TEST(Chat, Gemma) {
  EXPECT_EQ(
      render_chat(ChatFormat::kGemma, kNoSystem, true, vocab_with("<bos>", "<eos>")),
      "<bos><start_of_turn>user\nHello!<end_of_turn>\n<start_of_turn>model\nHi.<end_of_turn>\n"
      "<start_of_turn>user\nWho made the heaven?<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_THROW(render_chat(ChatFormat::kGemma, kConversation, true, vocab_with("<bos>", "<eos>")),
               Error);
}

TEST(Chat, RecognisesTemplatesAndNames) {
  EXPECT_EQ(detect_chat_format("{{ '<|start_header_id|>' + message['role'] }}"),
            ChatFormat::kLlama3);
  EXPECT_EQ(detect_chat_format("{{'<|im_start|>' + message['role'] + '\\n'}}"),
            ChatFormat::kChatMl);
  EXPECT_EQ(detect_chat_format("{{ '<start_of_turn>' + role }}"), ChatFormat::kGemma);
  EXPECT_EQ(detect_chat_format("{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}"),
            ChatFormat::kPhi3);
  EXPECT_EQ(detect_chat_format("'[INST] ' + '<<SYS>>\\n'"), ChatFormat::kLlama2);
  EXPECT_EQ(detect_chat_format("{{ '[INST] ' + message['content'] + ' [/INST]' }}"),
            ChatFormat::kMistral);
  for (const char* name : {"llama3", "llama2", "chatml", "mistral", "phi3", "gemma"}) {
    EXPECT_EQ(chat_format_name(chat_format_named(name)), name);
  }
  etch::testing::expect_error([] { chat_format_named("vicuna"); },
                              {"'vicuna'", "llama3, llama2, chatml, mistral, phi3, gemma"});
  EXPECT_THROW(detect_chat_format("{{ messages }}"), Error);
  Vocabulary none;
  EXPECT_THROW(chat_format_for(none, ""), Error);
  EXPECT_EQ(chat_format_for(none, "chatml"), ChatFormat::kChatMl);
}

}  // namespace
}  // namespace etch::tokenize
