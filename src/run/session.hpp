// Generation sessions: the decode loop of one sequence of an engine, shared by `etch run`,
// `etch chat` and the server. A session evaluates a prompt (reusing the prefix its sequence's
// cache already holds), samples, streams whole UTF-8 text and stops where the caller asked.
//
// A single user drives a session with step(). A server runs one session per sequence of one
// engine: each engine step it gathers the sessions' input(), advances them all with one
// Engine::step, and hands each its rows through advance().
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "run/run.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::run {

// Why a generation ended.
enum class StopReason {
  kRunning,          // it has not
  kLength,           // max_tokens generated, or the sequence's context is full
  kEndOfGeneration,  // the model chose EOS or an end-of-turn id
  kStopString,       // the text reached one of the stop strings
  kCancelled,        // the caller cancelled it
};

// Turns the bytes of generated tokens into text that can be shown as it arrives: it releases
// only whole UTF-8 characters, holds back a tail that may be the start of a stop string, and
// ends the text where the first stop string begins (the stop string itself never shows).
class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stop_strings = {});

  // Appends the bytes of one token; returns the text that is now safe to show. Once a stop
  // string has appeared it returns the text before it, stopped() turns true, and later calls
  // return nothing.
  std::string push(std::string_view bytes);
  // What is still held back, incomplete UTF-8 included (the generation ended without a stop).
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stop_strings_;
  std::string held_;
  bool stopped_ = false;
};

struct GenerationOptions {
  int64_t max_tokens = 128;            // 0: only evaluate the prompt
  bool ignore_eos = false;             // keep generating past EOS and the end-of-turn ids
  std::vector<std::string> stop = {};  // stop strings (not empty); matched across token boundaries
  bool prompt_logits = false;          // SessionStep::logits holds every evaluated prompt row
  // The engine's adapter scales for this generation (Engine::set_adapter_scales); absent: as
  // the sequence has them. A change drops the cached prefix, computed with the old ones.
  std::optional<std::vector<float>> adapter_scales = std::nullopt;
};

struct GenerationCounts {
  int64_t prompt = 0;     // tokens of the prompt
  int64_t reused = 0;     // of those, the ones the sequence's cache already held (not evaluated)
  int64_t generated = 0;  // tokens sampled and kept; an end-of-generation id is not one of them
};

// What one step of a session produced.
struct SessionStep {
  int32_t token = -1;  // the token generated, -1 when none (a prompt chunk, an end of generation)
  std::string text;    // whole UTF-8 text released by this step (the held-back rest at the end)
  // The engine's logits for this step's input: one row, or every evaluated prompt row when
  // GenerationOptions::prompt_logits. Valid until the engine's next step.
  std::span<const float> logits;
};

// The decode loop of one sequence. The session keeps the ids its sequence's cache holds, so the
// next prompt that starts with them is evaluated from where they end; it must be the only user
// of its sequence. The engine, tokenizer and sampler must outlive it.
class Session {
 public:
  Session(Engine& engine, const tokenize::Tokenizer& tokenizer, int sequence = 0);

  // Begins a generation after `prompt` (ids, at least one), abandoning any generation in
  // progress. Keeps the longest prefix of the cache that the prompt shares (all but the
  // prompt's last token at most, whose logits the first sample needs) and drops the rest.
  // The sampler is the caller's, so that one random stream can run through many generations
  // (a conversation) or each can have its own (a server's requests). Throws Error, changing
  // nothing, for an empty prompt, a prompt longer than the context, an id outside the
  // vocabulary or an empty stop string.
  void start(std::span<const int32_t> prompt, const GenerationOptions& options, Sampler& sampler);

  // Advances the running generation by one engine step of this sequence alone: the rest of the
  // prompt (then the first token is sampled), else the last token generated.
  SessionStep step();

  // For a caller that batches many sessions into one engine step. The tokens this session
  // feeds next (at most `most` of the prompt; 0: no limit); all_logits is prompt_logits while
  // the prompt is fed. Empty once the generation has ended.
  SequenceTokens input(int64_t most = 0);
  // Takes the engine's rows for the last input() (as Engine::step returned them) and samples
  // when they end the prompt or follow a generated token.
  SessionStep advance(std::span<const float> logits);

  // Ends the generation now (the caller's stop); returns the text still held back.
  std::string cancel();

  bool running() const { return reason_ == StopReason::kRunning; }
  StopReason stop_reason() const { return reason_; }
  const GenerationCounts& counts() const { return counts_; }
  std::span<const int32_t> generated() const { return generated_; }
  // The ids the sequence's cache holds: a scheduler can give a new prompt to the session that
  // shares the longest prefix with it.
  std::span<const int32_t> cached() const { return cached_; }
  int sequence() const { return sequence_; }

 private:
  // Samples from the last row of a step: ends the generation or queues the token to feed.
  void sample(std::span<const float> logits, SessionStep& result);

  Engine& engine_;
  const tokenize::Tokenizer& tokenizer_;
  int sequence_;
  Sampler* sampler_ = nullptr;
  GenerationOptions options_;
  std::vector<int32_t> cached_;   // the ids the sequence's cache holds, in order
  std::vector<int32_t> pending_;  // ids still to feed: the prompt's rest, or the last token
  size_t fed_ = 0;                // how many of pending_ have been fed
  size_t in_flight_ = 0;          // how many of pending_ the last input() handed out
  std::vector<int32_t> generated_;
  TextStream text_;
  GenerationCounts counts_;
  StopReason reason_ = StopReason::kCancelled;  // nothing runs before the first start()
};

}  // namespace etch::run
