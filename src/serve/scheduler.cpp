#include "serve/scheduler.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace etch::serve {

namespace {

size_t shared_prefix(std::span<const int32_t> a, std::span<const int32_t> b) {
  const size_t most = std::min(a.size(), b.size());
  size_t n = 0;
  while (n < most && a[n] == b[n]) ++n;
  return n;
}

}  // namespace

Update Request::take(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  auto has_news = [&] {
    return !pending_.text.empty() || !pending_.tokens.empty() || pending_.done || pending_.started;
  };
  changed_.wait_for(lock, timeout, has_news);
  Update update = pending_;
  pending_.text.clear();
  pending_.tokens.clear();
  pending_.started = false;  // reported once
  return update;
}

bool Request::wait_started(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return pending_.started || pending_.done; });
}

void Request::cancel() {
  const std::lock_guard lock(mutex_);
  cancelled_ = true;
}

Scheduler::Scheduler(run::Engine& engine, const tokenize::Tokenizer& tokenizer,
                     SchedulerOptions options)
    : engine_(engine), tokenizer_(tokenizer), options_(options) {
  if (options_.queue_limit < 0) fail("the queue limit must not be negative");
  if (options_.prompt_chunk < 1) fail("the prompt chunk must be at least one token");
  slots_.resize(static_cast<size_t>(engine.sequences()));
  for (size_t i = 0; i < slots_.size(); ++i)
    slots_[i].session = std::make_unique<run::Session>(engine, tokenizer, static_cast<int>(i));
  stats_.slots = engine.sequences();
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  for (Queued& queued : queue_) {
    const std::lock_guard lock(queued.request->mutex_);
    queued.request->pending_.done = true;
    queued.request->pending_.error = "the server is shutting down";
    queued.request->changed_.notify_all();
  }
  for (Slot& slot : slots_)
    if (slot.request) finish(slot, slot.session->cancel(), "the server is shutting down", false);
}

std::shared_ptr<Request> Scheduler::submit(Job job) {
  auto request = std::make_shared<Request>();
  {
    const std::lock_guard lock(mutex_);
    if (static_cast<int>(queue_.size()) >= options_.queue_limit) {
      ++stats_.rejected;
      return nullptr;
    }
    queue_.push_back({std::move(job), request});
    ++stats_.requests;
    stats_.queued = static_cast<int>(queue_.size());
  }
  wake_.notify_all();
  return request;
}

SchedulerStats Scheduler::stats() const {
  const std::lock_guard lock(mutex_);
  return stats_;
}

void Scheduler::finish(Slot& slot, std::string text, const std::string& error, bool expired) {
  Request& request = *slot.request;
  {
    const std::lock_guard lock(request.mutex_);
    request.pending_.text += text;
    request.pending_.done = true;
    request.pending_.expired = expired;
    request.pending_.reason = slot.session->stop_reason();
    request.pending_.counts = slot.session->counts();
    request.pending_.error = error;
  }
  request.changed_.notify_all();
  slot.request.reset();
}

void Scheduler::assign() {
  const Clock::time_point now = Clock::now();
  // A request whose deadline passed in the queue ends without a slot.
  std::erase_if(queue_, [&](Queued& queued) {
    if (now < queued.job.deadline) return false;
    const std::lock_guard request_lock(queued.request->mutex_);
    queued.request->pending_.done = true;
    queued.request->pending_.expired = true;
    queued.request->pending_.error = "the request's deadline passed while it waited for a slot";
    queued.request->changed_.notify_all();
    return true;
  });
  while (!queue_.empty()) {
    Queued& queued = queue_.front();
    Slot* best = nullptr;
    size_t best_shared = 0;
    for (Slot& slot : slots_) {
      if (slot.request) continue;
      const size_t shared = shared_prefix(slot.session->cached(), queued.job.prompt);
      if (!best || shared > best_shared) {
        best = &slot;
        best_shared = shared;
      }
    }
    if (!best) break;
    best->request = queued.request;
    best->deadline = queued.job.deadline;
    best->sampler.emplace(queued.job.sampling);
    try {
      best->session->start(queued.job.prompt, queued.job.generation, *best->sampler);
      const std::lock_guard request_lock(queued.request->mutex_);
      queued.request->pending_.started = true;
      queued.request->changed_.notify_all();
    } catch (const Error& e) {
      finish(*best, "", e.what(), false);
    }
    queue_.erase(queue_.begin());
  }
  stats_.queued = static_cast<int>(queue_.size());
  stats_.busy_slots = static_cast<int>(
      std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.request; }));
}

void Scheduler::reap() {
  const Clock::time_point now = Clock::now();
  for (Slot& slot : slots_) {
    if (!slot.request) continue;
    bool cancelled;
    {
      const std::lock_guard lock(slot.request->mutex_);
      cancelled = slot.request->cancelled_;
    }
    const bool expired = now >= slot.deadline;
    if (cancelled || expired) finish(slot, slot.session->cancel(), "", expired && !cancelled);
  }
}

void Scheduler::loop() {
  std::vector<run::SequenceTokens> batch;
  std::vector<Slot*> owners;
  std::vector<bool> feeding_prompt;
  const auto vocab = static_cast<size_t>(engine_.config().vocab_size);
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] {
        return stop_ || !queue_.empty() ||
               std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.request; });
      });
      if (stop_) return;
      assign();
    }
    reap();
    batch.clear();
    owners.clear();
    feeding_prompt.clear();
    for (Slot& slot : slots_) {
      if (!slot.request) continue;
      const run::SequenceTokens input = slot.session->input(options_.prompt_chunk);
      if (input.tokens.empty()) continue;
      batch.push_back(input);
      owners.push_back(&slot);
      feeding_prompt.push_back(slot.session->counts().generated == 0);
    }
    if (batch.empty()) {
      // Every slot ended in reap(): none is busy any more.
      const std::lock_guard lock(mutex_);
      stats_.busy_slots = 0;
      continue;
    }

    const Clock::time_point begin = Clock::now();
    std::span<const float> logits;
    try {
      logits = engine_.step(batch);
    } catch (const Error& e) {
      for (Slot* slot : owners) finish(*slot, slot->session->cancel(), e.what(), false);
      continue;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();

    int64_t prompt_tokens = 0;
    int64_t generated_tokens = 0;
    for (size_t i = 0; i < owners.size(); ++i) {
      Slot& slot = *owners[i];
      if (feeding_prompt[i]) prompt_tokens += static_cast<int64_t>(batch[i].tokens.size());
      const run::SessionStep step = slot.session->advance(logits.subspan(i * vocab, vocab));
      if (step.token >= 0) ++generated_tokens;
      if (!step.text.empty() || step.token >= 0) {
        {
          const std::lock_guard lock(slot.request->mutex_);
          slot.request->pending_.text += step.text;
          if (step.token >= 0) slot.request->pending_.tokens.push_back(step.token);
        }
        slot.request->changed_.notify_all();
      }
      if (!slot.session->running()) finish(slot, "", "", false);
    }
    const std::lock_guard lock(mutex_);
    stats_.prompt_tokens += prompt_tokens;
    stats_.generated_tokens += generated_tokens;
    stats_.busy_seconds += seconds;
    ++stats_.steps;
    stats_.busy_slots = static_cast<int>(
        std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.request; }));
  }
}

}  // namespace etch::serve
