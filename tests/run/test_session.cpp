// Generation sessions on kjv-8m, greedy: the tokens against the fixture's Hugging Face greedy
// ids, prompt-prefix reuse against a fresh evaluation bit for bit, stop strings and UTF-8
// against the text the reference tokens spell, and many sessions batched in one engine against
// each alone. TextStream on its own against hand-written expectations.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "run/run.hpp"
#include "run/session.hpp"
#include "test_support.hpp"

namespace etch {
namespace {

using Ids = std::vector<int32_t>;

// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates).
bool valid_utf8(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t length;
    uint32_t code;
    if (c < 0x80) {
      length = 1, code = c;
    } else if ((c >> 5) == 0x6) {
      length = 2, code = c & 0x1F;
    } else if ((c >> 4) == 0xE) {
      length = 3, code = c & 0x0F;
    } else if ((c >> 3) == 0x1E) {
      length = 4, code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next >> 6) != 0x2) return false;
      code = (code << 6) | (next & 0x3F);
    }
    const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < least[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

TEST(TextStream, ReleasesOnlyWholeCharacters) {
  run::TextStream stream;
  // U+1F600 (4 bytes) and U+00E9 (2 bytes), one byte at a time.
  EXPECT_EQ(stream.push("a\xF0"), "a");
  EXPECT_EQ(stream.push("\x9F"), "");
  EXPECT_EQ(stream.push("\x98"), "");
  EXPECT_EQ(stream.push("\x80\xC3"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(stream.push("\xA9 b"), "\xC3\xA9 b");
  // An incomplete character at the end comes out as it is when flushed.
  EXPECT_EQ(stream.push("\xE2\x80"), "");
  EXPECT_EQ(stream.flush(), "\xE2\x80");
  EXPECT_EQ(stream.flush(), "");
}

TEST(TextStream, StopStringsAcrossPushes) {
  run::TextStream stream({"END", "stop here"});
  EXPECT_EQ(stream.push("abcE"), "abc");  // "E" may begin "END"
  EXPECT_EQ(stream.push("N"), "");
  EXPECT_EQ(stream.push("X s"), "ENX ");  // "ENX" cannot; " s" may begin "stop here"
  EXPECT_EQ(stream.push("to"), "");
  EXPECT_FALSE(stream.stopped());
  EXPECT_EQ(stream.push("p h"), "");
  EXPECT_EQ(stream.push("ere, and END"), "");  // the earliest stop string wins
  EXPECT_TRUE(stream.stopped());
  EXPECT_EQ(stream.push("more"), "");
  EXPECT_EQ(stream.flush(), "");

  run::TextStream second({"END", "stop here"});
  EXPECT_EQ(second.push("x ENDs stop here"), "x ");
  EXPECT_TRUE(second.stopped());
  EXPECT_THROW(run::TextStream({"a", ""}), Error);
}

class Session : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = new import::Model(
        import::load_model((testing::model_dir("kjv-8m") / "kjv-8m-bf16.gguf").string()));
    tokenizer_ = new tokenize::Tokenizer(model_->vocab);
    reference_ = new nlohmann::json(
        testing::read_json(testing::model_dir("kjv-8m") / "ref" / "reference.json"));
  }
  static void TearDownTestSuite() {
    delete reference_;
    delete tokenizer_;
    delete model_;
  }

  static std::unique_ptr<run::Engine> engine(const import::Model& model, int64_t context = 256,
                                             int sequences = 1) {
    return std::make_unique<run::FloatEngine>(
        model, run::EngineOptions{.threads = 1, .context = context, .sequences = sequences});
  }
  static std::unique_ptr<run::Engine> engine(int64_t context = 256, int sequences = 1) {
    return engine(*model_, context, sequences);
  }
  static Ids prompt_ids(int prompt) { return (*reference_)["prompts"][prompt]["ids"].get<Ids>(); }
  static Ids greedy_ids(int prompt, size_t count) {
    const Ids all = (*reference_)["prompts"][prompt]["greedy_ids"].get<Ids>();
    return Ids(all.begin(), all.begin() + static_cast<long>(count));
  }
  // The bytes the tokens spell, one token after another.
  static std::string spelled(const Ids& ids, const tokenize::Tokenizer& tokenizer) {
    std::string text;
    for (int32_t id : ids) text += tokenizer.token_bytes(id);
    return text;
  }
  static run::GenerationOptions options(int64_t max_tokens) {
    run::GenerationOptions options;
    options.max_tokens = max_tokens;
    return options;
  }

  struct Outcome {
    Ids tokens;        // from the steps
    std::string text;  // the steps' texts, concatenated
    std::vector<std::string> pieces;
    std::vector<float> first_logits;  // the first step's rows
  };
  static Outcome run_to_end(run::Session& session) {
    Outcome outcome;
    while (session.running()) {
      const run::SessionStep step = session.step();
      if (outcome.pieces.empty())
        outcome.first_logits.assign(step.logits.begin(), step.logits.end());
      if (step.token >= 0) outcome.tokens.push_back(step.token);
      outcome.text += step.text;
      outcome.pieces.push_back(step.text);
    }
    return outcome;
  }

  static import::Model* model_;
  static tokenize::Tokenizer* tokenizer_;
  static nlohmann::json* reference_;
};

import::Model* Session::model_ = nullptr;
tokenize::Tokenizer* Session::tokenizer_ = nullptr;
nlohmann::json* Session::reference_ = nullptr;

TEST_F(Session, GreedyTokensTextAndCountsMatchTheReference) {
  const auto engine = this->engine();
  run::Session session(*engine, *tokenizer_);
  run::Sampler greedy({.temperature = 0});
  const Ids prompt = prompt_ids(0);
  session.start(prompt, options(20), greedy);
  const Outcome outcome = run_to_end(session);
  const Ids expected = greedy_ids(0, 20);
  EXPECT_EQ(outcome.tokens, expected);
  EXPECT_EQ(Ids(session.generated().begin(), session.generated().end()), expected);
  EXPECT_EQ(outcome.text, spelled(expected, *tokenizer_));
  EXPECT_EQ(session.stop_reason(), run::StopReason::kLength);
  EXPECT_EQ(session.counts().prompt, static_cast<int64_t>(prompt.size()));
  EXPECT_EQ(session.counts().reused, 0);
  EXPECT_EQ(session.counts().generated, 20);
  // The cache holds the prompt and every generated token but the last, which was never fed.
  Ids held = prompt;
  held.insert(held.end(), expected.begin(), expected.end() - 1);
  EXPECT_EQ(Ids(session.cached().begin(), session.cached().end()), held);
  EXPECT_EQ(engine->position(), static_cast<int64_t>(held.size()));
  EXPECT_FALSE(session.running());
  EXPECT_TRUE(session.input().tokens.empty());
  EXPECT_THROW(session.step(), Error);
}

// A conversation's next turn starts with everything the cache holds: only the rest is
// evaluated, and its logits and tokens equal, bit for bit, a fresh evaluation of the whole.
TEST_F(Session, PrefixReuseEqualsAFreshEvaluation) {
  const auto engine = this->engine();
  run::Session session(*engine, *tokenizer_);
  run::Sampler greedy({.temperature = 0});
  const Ids first = prompt_ids(0);
  session.start(first, options(8), greedy);
  run_to_end(session);
  const Ids replied = greedy_ids(0, 8);

  auto check = [&](const Ids& prompt, int64_t reused) {
    run::GenerationOptions generation = options(12);
    generation.prompt_logits = true;
    session.start(prompt, generation, greedy);
    const Outcome continued = run_to_end(session);
    EXPECT_EQ(session.counts().prompt, static_cast<int64_t>(prompt.size()));
    EXPECT_EQ(session.counts().reused, reused);
    EXPECT_EQ(session.counts().generated, 12);

    const auto fresh_engine = this->engine();
    run::Session fresh(*fresh_engine, *tokenizer_);
    fresh.start(prompt, generation, greedy);
    const Outcome whole = run_to_end(fresh);
    EXPECT_EQ(fresh.counts().reused, 0);
    EXPECT_EQ(continued.tokens, whole.tokens);
    EXPECT_EQ(continued.text, whole.text);
    const size_t vocab = static_cast<size_t>(model_->config.vocab_size);
    ASSERT_EQ(whole.first_logits.size(), prompt.size() * vocab);
    ASSERT_EQ(continued.first_logits.size(), (prompt.size() - reused) * vocab);
    EXPECT_EQ(0,
              std::memcmp(continued.first_logits.data(), whole.first_logits.data() + reused * vocab,
                          continued.first_logits.size() * sizeof(float)));
  };

  // The next turn: the first prompt, the reply, then new text. The cache held all but the
  // reply's last token.
  Ids next = first;
  next.insert(next.end(), replied.begin(), replied.end());
  const Ids more = prompt_ids(1);
  next.insert(next.end(), more.begin() + 1, more.end());
  {
    SCOPED_TRACE("continuing");
    check(next, static_cast<int64_t>(first.size() + replied.size() - 1));
  }
  // A prompt that leaves the cached text after the reply's second token.
  Ids branch = first;
  branch.insert(branch.end(), {replied[0], replied[1], 1938, 429});
  {
    SCOPED_TRACE("branching");
    check(branch, static_cast<int64_t>(first.size() + 2));
  }
  // The same prompt again: all but its last token are reused, whose logits the sample needs.
  {
    SCOPED_TRACE("repeating");
    check(branch, static_cast<int64_t>(branch.size() - 1));
  }
}

TEST_F(Session, StopStringSpanningTokensEndsTheTextBeforeIt) {
  const auto engine = this->engine();
  run::Session session(*engine, *tokenizer_);
  run::Sampler greedy({.temperature = 0});
  const Ids expected = greedy_ids(0, 20);
  const std::string full = spelled(expected, *tokenizer_);
  // " of the kingdom of God, ...": the stop string spans three tokens.
  const std::string stop = "dom of G";
  const size_t at = full.find(stop);
  ASSERT_NE(at, std::string::npos);
  size_t needed = 0;  // tokens until the text holds the whole stop string
  while (spelled(Ids(expected.begin(), expected.begin() + static_cast<long>(needed)), *tokenizer_)
             .find(stop) == std::string::npos)
    ++needed;

  run::GenerationOptions generation = options(20);
  generation.stop = {"never appears", stop};
  session.start(prompt_ids(0), generation, greedy);
  const Outcome outcome = run_to_end(session);
  EXPECT_EQ(session.stop_reason(), run::StopReason::kStopString);
  EXPECT_EQ(outcome.text, full.substr(0, at));
  EXPECT_EQ(outcome.tokens, Ids(expected.begin(), expected.begin() + static_cast<long>(needed)));
  EXPECT_EQ(session.counts().generated, static_cast<int64_t>(needed));

  // A held-back start of a stop string that does not complete is released whole.
  generation.stop = {"kingdom come"};
  session.start(prompt_ids(0), generation, greedy);
  const Outcome unstopped = run_to_end(session);
  EXPECT_EQ(session.stop_reason(), run::StopReason::kLength);
  EXPECT_EQ(unstopped.text, full);
  EXPECT_EQ(unstopped.tokens, expected);
}

// The first greedy tokens, respelled as the byte tokens of one three-byte character, stream
// that character whole once its last byte arrives.
TEST_F(Session, CharacterSplitAcrossTokensComesOutWhole) {
  const Ids expected = greedy_ids(0, 3);
  ASSERT_EQ(std::set<int32_t>(expected.begin(), expected.end()).size(), 3u);
  tokenize::Vocabulary vocab = model_->vocab;
  const char* bytes[] = {"<0xE2>", "<0x80>", "<0x9C>"};  // U+201C
  for (size_t i = 0; i < 3; ++i) {
    vocab.tokens[static_cast<size_t>(expected[i])] = bytes[i];
    vocab.types[static_cast<size_t>(expected[i])] = tokenize::TokenType::kByte;
  }
  const tokenize::Tokenizer respelled(vocab);
  const auto engine = this->engine();
  run::Session session(*engine, respelled);
  run::Sampler greedy({.temperature = 0});
  session.start(prompt_ids(0), options(3), greedy);
  const Outcome outcome = run_to_end(session);
  EXPECT_EQ(outcome.tokens, expected);
  EXPECT_EQ(outcome.pieces, (std::vector<std::string>{"", "", "\xE2\x80\x9C"}));
  for (const std::string& piece : outcome.pieces) EXPECT_TRUE(valid_utf8(piece));
}

TEST_F(Session, EndOfGenerationIdsStop) {
  const Ids expected = greedy_ids(0, 20);
  // " of the kingdom of God": God (index 4) as an end-of-turn id, kingdom (index 2) as EOS.
  for (const auto& [index, as_eos] : {std::pair<size_t, bool>{4, false}, {2, true}}) {
    SCOPED_TRACE(index);
    import::Model model = *model_;
    if (as_eos)
      model.vocab.eos_id = expected[index];
    else
      model.vocab.eog_ids.push_back(expected[index]);
    const auto engine = this->engine(model);
    run::Session session(*engine, *tokenizer_);
    run::Sampler greedy({.temperature = 0});
    session.start(prompt_ids(0), options(20), greedy);
    const Outcome outcome = run_to_end(session);
    const Ids kept(expected.begin(), expected.begin() + static_cast<long>(index));
    EXPECT_EQ(session.stop_reason(), run::StopReason::kEndOfGeneration);
    EXPECT_EQ(outcome.tokens, kept);
    EXPECT_EQ(outcome.text, spelled(kept, *tokenizer_));
    EXPECT_EQ(session.counts().generated, static_cast<int64_t>(index));

    run::GenerationOptions ignoring = options(20);
    ignoring.ignore_eos = true;
    session.start(prompt_ids(0), ignoring, greedy);
    EXPECT_EQ(run_to_end(session).tokens, expected);
    EXPECT_EQ(session.stop_reason(), run::StopReason::kLength);
  }
}

// The context's every position is filled, and one more token is sampled from the last.
TEST_F(Session, AFullContextEndsTheGeneration) {
  const Ids prompt = prompt_ids(0);
  const int64_t context = static_cast<int64_t>(prompt.size()) + 3;
  const auto engine = this->engine(context);
  run::Session session(*engine, *tokenizer_);
  run::Sampler greedy({.temperature = 0});
  session.start(prompt, options(100), greedy);
  EXPECT_EQ(run_to_end(session).tokens, greedy_ids(0, 4));
  EXPECT_EQ(session.stop_reason(), run::StopReason::kLength);
  EXPECT_EQ(engine->position(), context);
}

TEST_F(Session, PromptOnlyCancelAndBadStarts) {
  const auto engine = this->engine(64);
  run::Session session(*engine, *tokenizer_);
  run::Sampler greedy({.temperature = 0});
  const Ids prompt = prompt_ids(1);

  run::GenerationOptions only_prompt = options(0);
  only_prompt.prompt_logits = true;
  session.start(prompt, only_prompt, greedy);
  const Outcome evaluated = run_to_end(session);
  EXPECT_TRUE(evaluated.tokens.empty());
  EXPECT_EQ(evaluated.pieces.size(), 1u);
  EXPECT_EQ(evaluated.first_logits.size(),
            prompt.size() * static_cast<size_t>(model_->config.vocab_size));
  EXPECT_EQ(session.stop_reason(), run::StopReason::kLength);
  EXPECT_EQ(session.counts().generated, 0);

  session.start(prompt, options(10), greedy);
  EXPECT_EQ(session.counts().reused, static_cast<int64_t>(prompt.size()) - 1);
  const Ids expected = greedy_ids(1, 10);
  EXPECT_EQ(session.step().token, expected[0]);
  EXPECT_EQ(session.step().token, expected[1]);
  EXPECT_EQ(session.cancel(), "");  // no text held back: both tokens are whole words
  EXPECT_EQ(session.stop_reason(), run::StopReason::kCancelled);
  EXPECT_FALSE(session.running());
  EXPECT_TRUE(session.input().tokens.empty());
  EXPECT_EQ(session.counts().generated, 2);

  // Each bad start throws and leaves the session as it was.
  EXPECT_THROW(session.start(Ids{}, options(4), greedy), Error);
  EXPECT_THROW(session.start(Ids{1, 99999}, options(4), greedy), Error);
  EXPECT_THROW(session.start(Ids(65, 1), options(4), greedy), Error);
  run::GenerationOptions empty_stop = options(4);
  empty_stop.stop = {""};
  EXPECT_THROW(session.start(prompt, empty_stop, greedy), Error);
  EXPECT_EQ(session.stop_reason(), run::StopReason::kCancelled);
  EXPECT_EQ(engine->position(), static_cast<int64_t>(prompt.size()) + 1);

  // The cache holds the prompt and the first token: a prompt that extends both reuses them.
  Ids extended = prompt;
  extended.insert(extended.end(), {expected[0], expected[1]});
  session.start(extended, options(8), greedy);
  EXPECT_EQ(session.counts().reused, static_cast<int64_t>(prompt.size()) + 1);
  EXPECT_EQ(run_to_end(session).tokens, Ids(expected.begin() + 2, expected.end()));
}

// What a server does: one session per sequence of one engine, their inputs gathered into one
// step, prompts fed in chunks. Each session's tokens are the reference's, as when run alone.
TEST_F(Session, SessionsBatchedInOneEngineGenerateAsAlone) {
  const int count = 3;
  const auto engine = this->engine(128, count);
  std::vector<std::unique_ptr<run::Session>> sessions;
  std::vector<run::Sampler> samplers(count, run::Sampler({.temperature = 0}));
  const int64_t max_tokens[count] = {12, 5, 9};
  for (int s = 0; s < count; ++s) {
    sessions.push_back(std::make_unique<run::Session>(*engine, *tokenizer_, s));
    sessions.back()->start(prompt_ids(s), options(max_tokens[s]), samplers[s]);
  }
  std::vector<std::string> texts(count);
  for (bool any = true; any;) {
    std::vector<run::SequenceTokens> batch;
    std::vector<int> owners;
    for (int s = 0; s < count; ++s) {
      if (!sessions[s]->running()) continue;
      batch.push_back(sessions[s]->input(3));
      owners.push_back(s);
    }
    any = !batch.empty();
    if (!any) break;
    const std::span<const float> rows = engine->step(batch);
    const size_t vocab = static_cast<size_t>(model_->config.vocab_size);
    size_t row = 0;
    for (size_t k = 0; k < batch.size(); ++k) {
      const size_t taken = batch[k].all_logits ? batch[k].tokens.size() : 1;
      texts[owners[k]] +=
          sessions[owners[k]]->advance(rows.subspan(row * vocab, taken * vocab)).text;
      row += taken;
    }
  }
  for (int s = 0; s < count; ++s) {
    SCOPED_TRACE(s);
    const Ids expected = greedy_ids(s, static_cast<size_t>(max_tokens[s]));
    EXPECT_EQ(Ids(sessions[s]->generated().begin(), sessions[s]->generated().end()), expected);
    EXPECT_EQ(texts[s], spelled(expected, *tokenizer_));
    EXPECT_EQ(sessions[s]->counts().generated, max_tokens[s]);
  }
  EXPECT_THROW(run::Session(*engine, *tokenizer_, count), Error);
}

}  // namespace
}  // namespace etch
