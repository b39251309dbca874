// The chat formats, each transcribed from its official Jinja template (see chat.hpp for which
// model's). Where a template raises an exception, render_chat throws the same complaint.
#include "tokenize/chat.hpp"

#include <array>

#include "core/error.hpp"

namespace etch::tokenize {
namespace {

struct Named {
  ChatFormat format;
  std::string_view name;
};
constexpr std::array<Named, 6> kFormats = {{{ChatFormat::kLlama3, "llama3"},
                                            {ChatFormat::kLlama2, "llama2"},
                                            {ChatFormat::kChatMl, "chatml"},
                                            {ChatFormat::kMistral, "mistral"},
                                            {ChatFormat::kPhi3, "phi3"},
                                            {ChatFormat::kGemma, "gemma"}}};

// Jinja's trim filter and Python's str.strip(): white space off both ends.
std::string trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return std::string(s.substr(first, s.find_last_not_of(kSpace) - first + 1));
}

std::string piece_or_empty(const Vocabulary& vocab, int32_t id) {
  return id >= 0 && id < vocab.size() ? vocab.tokens[id] : std::string();
}

// The check Llama 2's, Mistral's and Gemma's templates make: user first, then alternating.
void require_alternation(std::span<const ChatMessage> messages, std::string_view format) {
  for (size_t i = 0; i < messages.size(); ++i) {
    if ((messages[i].role == "user") != (i % 2 == 0))
      fail("{} chat template: conversation roles must alternate user/assistant/user/...", format);
  }
}

}  // namespace

std::string_view chat_format_name(ChatFormat format) {
  for (const Named& n : kFormats) {
    if (n.format == format) return n.name;
  }
  return "unknown";
}

std::string known_chat_formats() {
  std::string names;
  for (const Named& n : kFormats) {
    if (!names.empty()) names += ", ";
    names += n.name;
  }
  return names;
}

ChatFormat chat_format_named(std::string_view name) {
  for (const Named& n : kFormats) {
    if (n.name == name) return n.format;
  }
  fail("unknown chat template '{}' (known: {})", name, known_chat_formats());
}

ChatFormat detect_chat_format(std::string_view jinja) {
  auto has = [&](std::string_view marker) { return jinja.find(marker) != std::string_view::npos; };
  if (has("<|start_header_id|>")) return ChatFormat::kLlama3;
  if (has("<|im_start|>")) return ChatFormat::kChatMl;
  if (has("<start_of_turn>")) return ChatFormat::kGemma;
  if (has("<|user|>") && has("<|end|>")) return ChatFormat::kPhi3;
  if (has("[INST]")) return has("<<SYS>>") ? ChatFormat::kLlama2 : ChatFormat::kMistral;
  fail(
      "the model's chat template is not one etch recognises (known: {}); choose one with "
      "--chat-template NAME",
      known_chat_formats());
}

ChatFormat chat_format_for(const Vocabulary& vocab, std::string_view override_name) {
  if (!override_name.empty()) return chat_format_named(override_name);
  if (vocab.chat_template.empty())
    fail("the model has no chat template; choose one with --chat-template NAME (known: {})",
         known_chat_formats());
  return detect_chat_format(vocab.chat_template);
}

std::string render_chat(ChatFormat format, std::span<const ChatMessage> messages,
                        bool add_generation_prompt, const Vocabulary& vocab) {
  const std::string bos = piece_or_empty(vocab, vocab.bos_id);
  const std::string eos = piece_or_empty(vocab, vocab.eos_id);
  std::string out;
  switch (format) {
    case ChatFormat::kLlama3:
      for (size_t i = 0; i < messages.size(); ++i) {
        if (i == 0) out += bos;
        out += "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n" +
               trim(messages[i].content) + "<|eot_id|>";
      }
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      return out;

    case ChatFormat::kLlama2: {
      // A leading system message goes inside the first user turn; the template has no
      // generation prompt of its own (the assistant answers after " [/INST]").
      std::span<const ChatMessage> turns = messages;
      std::string system;
      const bool has_system = !messages.empty() && messages[0].role == "system";
      if (has_system) {
        system = messages[0].content;
        turns = messages.subspan(1);
      }
      require_alternation(turns, "llama2");
      for (size_t i = 0; i < turns.size(); ++i) {
        std::string content = turns[i].content;
        if (i == 0 && has_system) content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
        if (turns[i].role == "user") {
          out += bos + "[INST] " + trim(content) + " [/INST]";
        } else if (turns[i].role == "assistant") {
          out += " " + trim(content) + " " + eos;
        }
      }
      return out;
    }

    case ChatFormat::kChatMl:
      for (const ChatMessage& m : messages)
        out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      return out;

    case ChatFormat::kMistral:
      for (const ChatMessage& m : messages) {
        if (m.role != "user" && m.role != "assistant")
          fail("mistral chat template: only user and assistant roles are supported");
      }
      require_alternation(messages, "mistral");
      out += bos;
      for (const ChatMessage& m : messages) {
        if (m.role == "user") {
          out += "[INST] " + m.content + " [/INST]";
        } else {
          out += m.content + eos;
        }
      }
      return out;

    case ChatFormat::kPhi3:
      for (const ChatMessage& m : messages) {
        // An empty system message is left out, as the template's condition does.
        if (m.role == "system" && m.content.empty()) continue;
        if (m.role == "system" || m.role == "user" || m.role == "assistant")
          out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
      }
      out += add_generation_prompt ? "<|assistant|>\n" : eos;
      return out;

    case ChatFormat::kGemma:
      if (!messages.empty() && messages[0].role == "system")
        fail("gemma chat template: the system role is not supported");
      require_alternation(messages, "gemma");
      out += bos;
      for (const ChatMessage& m : messages) {
        const std::string role = m.role == "assistant" ? "model" : m.role;
        out += "<start_of_turn>" + role + "\n" + trim(m.content) + "<end_of_turn>\n";
      }
      if (add_generation_prompt) out += "<start_of_turn>model\n";
      return out;
  }
  fail("unknown chat format");
}

}  // namespace etch::tokenize
