#include "run/session.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace etch::run {

namespace {

// Length of the longest prefix of `text` that ends on a whole UTF-8 character: a trailing
// lead byte whose continuation bytes have not all arrived is cut off.
size_t whole_utf8_prefix(std::string_view text) {
  for (size_t back = 1; back <= 4 && back <= text.size(); ++back) {
    const auto c = static_cast<unsigned char>(text[text.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? text.size() - back : text.size();
  }
  return text.size();
}

}  // namespace

TextStream::TextStream(std::vector<std::string> stop_strings)
    : stop_strings_(std::move(stop_strings)) {
  for (const std::string& stop : stop_strings_)
    if (stop.empty()) fail("a stop string is empty");
}

std::string TextStream::push(std::string_view bytes) {
  if (stopped_) return {};
  held_ += bytes;
  // Everything before held_ was released only when no stop string could start in it, so the
  // first stop string, if any, lies wholly inside held_.
  size_t stop_at = std::string::npos;
  for (const std::string& stop : stop_strings_) stop_at = std::min(stop_at, held_.find(stop));
  if (stop_at != std::string::npos) {
    stopped_ = true;
    std::string text = held_.substr(0, stop_at);
    held_.clear();
    return text;
  }
  size_t release = whole_utf8_prefix(held_);
  for (const std::string& stop : stop_strings_) {
    for (size_t length = std::min(stop.size() - 1, held_.size()); length > 0; --length) {
      if (std::string_view(held_).ends_with(std::string_view(stop).substr(0, length))) {
        release = std::min(release, held_.size() - length);
        break;
      }
    }
  }
  std::string text = held_.substr(0, release);
  held_.erase(0, release);
  return text;
}

std::string TextStream::flush() {
  std::string text = std::move(held_);
  held_.clear();
  return text;
}

Session::Session(Engine& engine, const tokenize::Tokenizer& tokenizer, int sequence)
    : engine_(engine), tokenizer_(tokenizer), sequence_(sequence) {
  if (sequence < 0 || sequence >= engine.sequences())
    fail("sequence {} does not exist: the engine has {}", sequence, engine.sequences());
}

void Session::start(std::span<const int32_t> prompt, const GenerationOptions& options,
                    Sampler& sampler) {
  if (prompt.empty()) fail("the prompt is empty");
  if (static_cast<int64_t>(prompt.size()) > engine_.context())
    fail("the prompt ({} tokens) does not fit the context of {} tokens", prompt.size(),
         engine_.context());
  const int32_t vocab = static_cast<int32_t>(engine_.config().vocab_size);
  for (int32_t id : prompt)
    if (id < 0 || id >= vocab) fail("token id {} is outside the vocabulary (0..{})", id, vocab - 1);
  TextStream text(options.stop);

  size_t shared =
      std::mismatch(cached_.begin(), cached_.end(), prompt.begin(), prompt.end()).first -
      cached_.begin();
  if (options.adapter_scales) {
    const std::span<const float> now = engine_.adapter_scales(sequence_);
    if (!std::ranges::equal(now, *options.adapter_scales)) {
      engine_.set_adapter_scales(sequence_, *options.adapter_scales);
      shared = 0;
    }
  }
  const size_t keep = std::min(shared, prompt.size() - 1);
  engine_.truncate_sequence(sequence_, static_cast<int64_t>(keep));
  cached_.resize(keep);
  pending_.assign(prompt.begin() + static_cast<long>(keep), prompt.end());
  fed_ = 0;
  in_flight_ = 0;
  sampler_ = &sampler;
  options_ = options;
  generated_.clear();
  text_ = std::move(text);
  counts_ = {.prompt = static_cast<int64_t>(prompt.size()),
             .reused = static_cast<int64_t>(keep),
             .generated = 0};
  reason_ = StopReason::kRunning;
}

SessionStep Session::step() {
  if (!running()) fail("the generation has ended: start() another");
  const SequenceTokens entry = input();
  return advance(engine_.step({&entry, 1}));
}

SequenceTokens Session::input(int64_t most) {
  SequenceTokens input;
  input.sequence = sequence_;
  if (!running()) return input;
  const size_t left = pending_.size() - fed_;
  in_flight_ = most > 0 ? std::min(left, static_cast<size_t>(most)) : left;
  input.tokens = std::span<const int32_t>(pending_).subspan(fed_, in_flight_);
  input.all_logits = generated_.empty() && options_.prompt_logits;  // still the prompt
  return input;
}

SessionStep Session::advance(std::span<const float> logits) {
  if (!running() || in_flight_ == 0) fail("advance() without a pending input()");
  const auto fed = std::span<const int32_t>(pending_).subspan(fed_, in_flight_);
  cached_.insert(cached_.end(), fed.begin(), fed.end());
  fed_ += in_flight_;
  in_flight_ = 0;
  SessionStep result;
  result.logits = logits;
  if (fed_ < pending_.size()) return result;  // more of the prompt to come
  if (options_.max_tokens == 0)
    reason_ = StopReason::kLength;
  else
    // Only real tokens are drawn: a padded vocabulary's extra rows have no text.
    sample(logits.last(static_cast<size_t>(engine_.config().vocab_size))
               .first(static_cast<size_t>(tokenizer_.vocab().size())),
           result);
  return result;
}

void Session::sample(std::span<const float> logits, SessionStep& result) {
  const int32_t id = sampler_->sample(logits, cached_);
  if (!options_.ignore_eos && engine_.vocab().ends_generation(id)) {
    reason_ = StopReason::kEndOfGeneration;
    result.text = text_.flush();
    return;
  }
  generated_.push_back(id);
  ++counts_.generated;
  result.token = id;
  result.text = text_.push(tokenizer_.token_bytes(id));
  if (text_.stopped()) {
    reason_ = StopReason::kStopString;
  } else if (counts_.generated == options_.max_tokens ||
             static_cast<int64_t>(cached_.size()) >= engine_.context()) {
    reason_ = StopReason::kLength;
    result.text += text_.flush();
  } else {
    pending_.assign(1, id);
    fed_ = 0;
  }
}

std::string Session::cancel() {
  if (!running()) return {};
  reason_ = StopReason::kCancelled;
  return text_.flush();
}

}  // namespace etch::run
