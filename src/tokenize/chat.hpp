// Chat templates: a conversation rendered as the text a chat model was trained on. Each format
// is written out from its official Jinja template (named below) rather than interpreted, and
// the model's own template text is only used to recognise which format it is.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "tokenize/vocabulary.hpp"

namespace etch::tokenize {

enum class ChatFormat {
  kLlama3,   // Meta-Llama-3-8B-Instruct: <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
  kLlama2,   // Llama-2-7b-chat-hf: <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] ... </s>
  kChatMl,   // Qwen2 / SmolLM: <|im_start|>role\n...<|im_end|>\n
  kMistral,  // Mistral-7B-Instruct-v0.2: <s>[INST] ... [/INST]...</s>
  kPhi3,     // Phi-3.5-mini-instruct: <|role|>\n...<|end|>\n
  kGemma,    // gemma-2b-it: <start_of_turn>user\n...<end_of_turn>\n, assistant as "model"
};

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

std::string_view chat_format_name(ChatFormat format);
// The names --chat-template accepts, comma-separated.
std::string known_chat_formats();
// The format called `name`; throws Error listing the known names for any other.
ChatFormat chat_format_named(std::string_view name);
// Recognises a model's Jinja chat template (tokenizer.chat_template, or tokenizer_config.json's
// chat_template) by its markers; throws Error listing the known names when it is none of them.
ChatFormat detect_chat_format(std::string_view jinja);
// The format for a model: `override_name` when not empty, else its recognised template. Throws
// Error when the model has no template and no name is given.
ChatFormat chat_format_for(const Vocabulary& vocab, std::string_view override_name);

// The conversation as the format's template renders it (bos_token and eos_token being the
// vocabulary's BOS and EOS pieces), followed by the assistant's header when
// add_generation_prompt. Tokenize the result with parse_special and without adding BOS.
// Throws Error where the official template raises (roles that do not alternate, a system
// message in a format without one).
std::string render_chat(ChatFormat format, std::span<const ChatMessage> messages,
                        bool add_generation_prompt, const Vocabulary& vocab);

}  // namespace etch::tokenize
