#include <cmath>

#include "core/error.hpp"
#include "run/run.hpp"

namespace etch::run {

PerplexityResult perplexity(Engine& engine, std::span<const int32_t> tokens, int64_t ctx,
                            int32_t bos_id,
                            const std::function<void(int64_t, int64_t, double)>& on_chunk) {
  if (ctx < 4) fail("perplexity needs a context of at least 4 tokens, got {}", ctx);
  if (ctx > engine.context()) fail("context {} exceeds the engine's {}", ctx, engine.context());
  const int64_t chunks = static_cast<int64_t>(tokens.size()) / ctx;
  if (chunks == 0) fail("the text has {} tokens, fewer than one context of {}", tokens.size(), ctx);
  const int64_t first = ctx / 2;
  const int64_t vocab = engine.config().vocab_size;

  PerplexityResult result;
  result.ctx = ctx;
  result.chunks = chunks;
  double sum = 0, sum_sq = 0;
  std::vector<int32_t> chunk(static_cast<size_t>(ctx));
  for (int64_t c = 0; c < chunks; ++c) {
    std::copy_n(tokens.begin() + c * ctx, ctx, chunk.begin());
    if (bos_id >= 0) chunk[0] = bos_id;
    engine.reset();
    const std::span<const float> logits = engine.eval(chunk, true);
    for (int64_t j = first; j < ctx - 1; ++j) {
      const double nll = -log_softmax_at(
          logits.subspan(static_cast<size_t>(j * vocab), static_cast<size_t>(vocab)),
          tokens[static_cast<size_t>(c * ctx + j + 1)]);
      sum += nll;
      sum_sq += nll * nll;
      ++result.tokens_scored;
    }
    if (on_chunk)
      on_chunk(c + 1, chunks, std::exp(sum / static_cast<double>(result.tokens_scored)));
  }
  const auto n = static_cast<double>(result.tokens_scored);
  result.nll_mean = sum / n;
  const double variance = std::max(0.0, sum_sq / n - result.nll_mean * result.nll_mean);
  result.nll_stderr = std::sqrt(variance / std::max(1.0, n - 1));
  result.ppl = std::exp(result.nll_mean);
  return result;
}

}  // namespace etch::run
