// The HTTP side of etch serve: routes, authentication, limits and the OpenAI response shapes.
// Generation itself is the scheduler's; a handler turns a request into a Job, submits it and
// relays its updates, cancelling it when the client goes away.
#include <fmt/format.h>
#include <httplib.h>
#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "compile/compile.hpp"
#include "core/error.hpp"
#include "plan/plan.hpp"
#include "run/pipeline.hpp"
#include "serve/api.hpp"
#include "serve/scheduler.hpp"
#include "serve/serve.hpp"
#include "tokenize/chat.hpp"

namespace etch::serve {

extern const std::string_view kChatPage;  // chat_page.html, embedded at build time

namespace {

using nlohmann::json;
constexpr auto kPoll = std::chrono::milliseconds(100);

std::vector<run::AdapterSpec> adapter_specs(const std::vector<std::string>& lora) {
  std::vector<run::AdapterSpec> specs;
  for (const std::string& text : lora) specs.push_back(run::parse_adapter_spec(text));
  return specs;
}

struct Loaded {
  explicit Loaded(const ServeOptions& o)
      : model(o.model, adapter_specs(o.lora)),
        tokenizer(model.vocab()),
        engine(model.engine({.threads = o.threads, .context = o.context, .sequences = o.parallel})),
        scheduler(*engine, tokenizer, {.queue_limit = o.queue, .prompt_chunk = o.prompt_chunk}) {}
  run::LoadedModel model;
  tokenize::Tokenizer tokenizer;
  std::unique_ptr<run::Engine> engine;
  Scheduler scheduler;
  std::optional<tokenize::ChatFormat> chat_format;
  std::string chat_format_problem;  // why chat is refused when chat_format is empty
  json chip;                        // etch plan's figures for this model, null if none
};

// What the hardwired chip of this model would do, from etch plan's defaults (6 nm, the hc1
// recipe unless the file is a .etch, whose formats are fixed), at this server's context: the
// page sets it beside the speed measured here.
json chip_figures(const ServeOptions& options, const run::Engine& engine) {
  try {
    plan::PlanInput in;
    in.model = plan::shape_from_config(engine.config(), options.model);
    in.weights = compile::is_etch_file(options.model)
                     ? plan::weights_of_etch(compile::read_etch(options.model))
                     : plan::weights_for_recipe(in.model, "hc1");
    in.context = engine.context();
    in.prompt_tokens = std::min<int64_t>(in.prompt_tokens, in.context / 2);
    in.answer_tokens = std::min<int64_t>(in.answer_tokens, in.context - in.prompt_tokens);
    const plan::Plan chip = plan::make_plan(in);
    return {{"node_nm", in.node_nm},
            {"chips", chip.chip_count()},
            {"tokens_per_second_per_user", chip.timing.tokens_per_second_per_user},
            {"tokens_per_second_aggregate", chip.timing.tokens_per_second_aggregate},
            {"users", chip.timing.users_max}};
  } catch (const Error&) {
    return nullptr;  // a shape the planner does not model: the page shows no chip figures
  }
}

struct State {
  const ServeOptions& options;
  std::string model_id;
  std::time_t created = std::time(nullptr);
  std::atomic<Loaded*> loaded{nullptr};
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> next_id{1};
};

// Generated text may end in a cut UTF-8 character; it is written with U+FFFD in its place.
std::string dump(const json& body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& error) {
  send_json(res, error.status, error_body(error));
}

// Compares in time that depends only on the lengths, so a wrong key reveals nothing of the
// right one through timing.
bool same_key(std::string_view given, std::string_view expected) {
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i)
    difference |= static_cast<unsigned char>(given[i] ^ expected[i % expected.size()]);
  return difference == 0;
}

const char* finish_reason(const Update& update) {
  // A generation cut short by its deadline ended at a limit, like one that reached max_tokens.
  if (update.expired || update.reason == run::StopReason::kLength ||
      update.reason == run::StopReason::kCancelled)
    return "length";
  return "stop";
}

json usage_of(const run::GenerationCounts& counts) {
  return {{"prompt_tokens", counts.prompt},
          {"completion_tokens", counts.generated},
          {"total_tokens", counts.prompt + counts.generated}};
}

Loaded& ready(State& state) {
  Loaded* loaded = state.loaded.load();
  if (!loaded) throw ApiError(503, "server_error", "the model is still loading");
  return *loaded;
}

std::vector<int32_t> prompt_ids(const CompletionRequest& request, const Loaded& loaded) {
  const tokenize::Vocabulary& vocab = loaded.model.vocab();
  std::vector<int32_t> ids;
  if (request.endpoint == Endpoint::kChat) {
    if (!loaded.chat_format)
      throw ApiError(400, "invalid_request_error", loaded.chat_format_problem, "messages");
    std::string text;
    try {
      text = tokenize::render_chat(*loaded.chat_format, request.messages, true, vocab);
    } catch (const Error& e) {
      throw ApiError(400, "invalid_request_error", e.what(), "messages");
    }
    ids = loaded.tokenizer.encode(text, false, true);
  } else if (request.prompt_ids) {
    ids = *request.prompt_ids;
    for (int32_t id : ids)
      if (id >= static_cast<int32_t>(vocab.size()))
        throw ApiError(400, "invalid_request_error",
                       fmt::format("token id {} is outside the vocabulary of {}", id, vocab.size()),
                       "prompt");
  } else {
    ids = loaded.tokenizer.encode(request.prompt, true);
  }
  const std::string param = request.endpoint == Endpoint::kChat ? "messages" : "prompt";
  if (ids.empty()) throw ApiError(400, "invalid_request_error", "the prompt is empty", param);
  const int64_t context = loaded.engine->context();
  if (static_cast<int64_t>(ids.size()) >= context)
    throw ApiError(400, "invalid_request_error",
                   fmt::format("the prompt is {} tokens; the context holds {}, and one must "
                               "be left to generate",
                               ids.size(), context),
                   param);
  if (request.max_tokens && static_cast<int64_t>(ids.size()) + *request.max_tokens > context)
    throw ApiError(400, "invalid_request_error",
                   fmt::format("the prompt ({} tokens) and max_tokens ({}) exceed the context "
                               "of {} tokens",
                               ids.size(), *request.max_tokens, context),
                   "max_tokens");
  return ids;
}

// The chunk of a streamed answer: a chat delta or a completion's text.
json stream_chunk(const CompletionRequest& request, const State& state, const std::string& id,
                  const json& delta_or_text, const json& finish) {
  json choice = {{"index", 0}, {"finish_reason", finish}, {"logprobs", nullptr}};
  json chunk = {{"id", id}, {"created", std::time(nullptr)}, {"model", state.model_id}};
  if (request.endpoint == Endpoint::kChat) {
    chunk["object"] = "chat.completion.chunk";
    choice["delta"] = delta_or_text;
  } else {
    chunk["object"] = "text_completion";
    choice["text"] = delta_or_text;
  }
  chunk["choices"] = json::array({choice});
  if (request.include_usage) chunk["usage"] = nullptr;
  return chunk;
}

bool send_event(httplib::DataSink& sink, const json& event) {
  const std::string line = "data: " + dump(event) + "\n\n";
  return sink.write(line.data(), line.size());
}

// The engine's adapter scales for a request: the --lora defaults unless it chose its own.
std::vector<float> adapter_scales(const CompletionRequest& request, const Loaded& loaded) {
  const std::vector<run::AdapterEntry>& adapters = loaded.model.adapters();
  std::vector<float> scales;
  for (const run::AdapterEntry& a : adapters) scales.push_back(request.lora ? 0.0f : a.scale);
  if (!request.lora) return scales;
  for (const AdapterChoice& choice : *request.lora) {
    size_t index = 0;
    if (choice.id) {
      if (*choice.id >= static_cast<int64_t>(adapters.size()))
        throw ApiError(400, "invalid_request_error",
                       fmt::format("no adapter {}: the server has {}", *choice.id, adapters.size()),
                       "lora");
      index = static_cast<size_t>(*choice.id);
    } else {
      const auto it = std::ranges::find(adapters, choice.name, &run::AdapterEntry::name);
      if (it == adapters.end()) {
        std::string names;
        for (const run::AdapterEntry& a : adapters) names += (names.empty() ? "" : ", ") + a.name;
        throw ApiError(400, "invalid_request_error",
                       fmt::format("no adapter named '{}' (the server has: {})", choice.name,
                                   names.empty() ? "none" : names),
                       "lora");
      }
      index = static_cast<size_t>(it - adapters.begin());
    }
    scales[index] = choice.scale.value_or(adapters[index].scale);
  }
  return scales;
}

void handle_completion(State& state, Endpoint endpoint, const httplib::Request& req,
                       httplib::Response& res) {
  Loaded& loaded = ready(state);
  const Limits limits{.max_prompt_bytes = state.options.max_prompt_bytes,
                      .max_tokens = loaded.engine->context()};
  auto request =
      std::make_shared<CompletionRequest>(parse_completion_request(req.body, endpoint, limits));
  const std::vector<int32_t> ids = prompt_ids(*request, loaded);

  Job job;
  job.prompt = ids;
  job.generation.max_tokens =
      request->max_tokens.value_or(loaded.engine->context() - static_cast<int64_t>(ids.size()));
  job.generation.stop = request->stop;
  job.generation.adapter_scales = adapter_scales(*request, loaded);
  job.sampling = request->sampling;
  if (!request->seeded) job.sampling.seed = std::random_device{}();
  job.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(state.options.timeout_seconds));
  const std::shared_ptr<Request> running = loaded.scheduler.submit(std::move(job));
  if (!running)
    throw ApiError(429, "rate_limit_error", "the server's queue is full; try again later");
  while (!running->wait_started(kPoll))
    if (state.stopping) running->cancel();
  Update first = running->take(std::chrono::milliseconds(0));
  if (first.done && !first.error.empty())
    throw ApiError(first.expired || state.stopping ? 503 : 500, "server_error", first.error);

  const std::string id =
      fmt::format("{}-{}", endpoint == Endpoint::kChat ? "chatcmpl" : "cmpl", state.next_id++);
  const char* content_type = request->stream ? "text/event-stream" : "application/json";
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(content_type, [&state, request, running, id, first](
                                                     size_t, httplib::DataSink& sink) {
    const bool chat = request->endpoint == Endpoint::kChat;
    Update update = first;
    std::string text;
    bool opened = false;
    // The client went away: its generation stops and its slot is freed at the next step.
    auto abandon = [&running] {
      running->cancel();
      return false;
    };
    while (true) {
      if (!sink.is_writable()) return abandon();
      if (state.stopping) running->cancel();
      if (request->stream) {
        if (chat && !opened) {
          opened = true;
          if (!send_event(sink, stream_chunk(*request, state, id,
                                             {{"role", "assistant"}, {"content", ""}}, nullptr)))
            return abandon();
        }
        if (!update.text.empty()) {
          const json piece = chat ? json{{"content", update.text}} : json(update.text);
          if (!send_event(sink, stream_chunk(*request, state, id, piece, nullptr)))
            return abandon();
        }
      } else {
        text += update.text;
      }
      if (update.done) break;
      update = running->take(kPoll);
    }
    if (!update.error.empty()) {
      const json error = error_body(ApiError(500, "server_error", update.error));
      if (request->stream) {
        send_event(sink, error);
      } else {
        const std::string out = dump(error);
        sink.write(out.data(), out.size());
      }
    } else if (request->stream) {
      send_event(sink, stream_chunk(*request, state, id, chat ? json::object() : json(""),
                                    finish_reason(update)));
      if (request->include_usage) {
        json usage_chunk = stream_chunk(*request, state, id, json(), nullptr);
        usage_chunk["choices"] = json::array();
        usage_chunk["usage"] = usage_of(update.counts);
        send_event(sink, usage_chunk);
      }
      const std::string done = "data: [DONE]\n\n";
      sink.write(done.data(), done.size());
    } else {
      json choice = {{"index", 0}, {"finish_reason", finish_reason(update)}, {"logprobs", nullptr}};
      if (chat)
        choice["message"] = {{"role", "assistant"}, {"content", text}};
      else
        choice["text"] = text;
      const json body = {{"id", id},
                         {"object", chat ? "chat.completion" : "text_completion"},
                         {"created", std::time(nullptr)},
                         {"model", state.model_id},
                         {"choices", json::array({choice})},
                         {"usage", usage_of(update.counts)}};
      const std::string out = dump(body);
      sink.write(out.data(), out.size());
    }
    sink.done();
    return true;
  });
}

std::string metrics_text(const State& state) {
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, double value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
  };
  const Loaded* loaded = state.loaded.load();
  metric("etch_model_ready", "gauge", "1 once the model is loaded", loaded ? 1 : 0);
  if (!loaded) return out;
  const SchedulerStats s = loaded->scheduler.stats();
  metric("etch_requests_total", "counter", "Requests accepted", static_cast<double>(s.requests));
  metric("etch_requests_rejected_total", "counter", "Requests refused because the queue was full",
         static_cast<double>(s.rejected));
  metric("etch_prompt_tokens_total", "counter", "Prompt tokens evaluated",
         static_cast<double>(s.prompt_tokens));
  metric("etch_generated_tokens_total", "counter", "Tokens generated",
         static_cast<double>(s.generated_tokens));
  metric("etch_engine_steps_total", "counter", "Engine steps", static_cast<double>(s.steps));
  metric("etch_engine_busy_seconds_total", "counter", "Seconds spent in engine steps",
         s.busy_seconds);
  metric("etch_generated_tokens_per_second", "gauge", "Generated tokens per second of engine time",
         s.busy_seconds > 0 ? static_cast<double>(s.generated_tokens) / s.busy_seconds : 0);
  metric("etch_slots", "gauge", "Slots (sequences per engine step)", s.slots);
  metric("etch_slots_busy", "gauge", "Slots running a request", s.busy_slots);
  metric("etch_queue_length", "gauge", "Requests waiting for a slot", s.queued);
  return out;
}

void add_routes(httplib::Server& server, State& state) {
  // Every handler's ApiError becomes its error object; anything else is a 500 that names it.
  auto guarded = [&state](auto handler) {
    return [&state, handler](const httplib::Request& req, httplib::Response& res) {
      try {
        handler(req, res);
      } catch (const ApiError& e) {
        send_error(res, e);
      } catch (const Error& e) {
        send_error(res, ApiError(500, "server_error", e.what()));
      }
    };
  };
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kChatPage.data(), kChatPage.size(), "text/html; charset=utf-8");
  });
  server.Get("/health", [&state](const httplib::Request&, httplib::Response& res) {
    if (state.loaded.load())
      send_json(res, 200, {{"status", "ok"}});
    else
      send_json(res, 503, {{"status", "loading"}});
  });
  server.Get("/v1/models", guarded([&state](const httplib::Request&, httplib::Response& res) {
               Loaded& loaded = ready(state);
               send_json(res, 200,
                         {{"object", "list"},
                          {"data", json::array({{{"id", state.model_id},
                                                 {"object", "model"},
                                                 {"created", state.created},
                                                 {"owned_by", "etch"},
                                                 {"meta",
                                                  {{"description", loaded.model.description()},
                                                   {"context", loaded.engine->context()},
                                                   {"slots", loaded.engine->sequences()},
                                                   {"chip", loaded.chip}}}}})}});
             }));
  server.Get("/metrics", [&state](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_text(state), "text/plain; version=0.0.4");
  });
  server.Post("/v1/chat/completions",
              guarded([&state](const httplib::Request& req, httplib::Response& res) {
                handle_completion(state, Endpoint::kChat, req, res);
              }));
  server.Post("/v1/completions",
              guarded([&state](const httplib::Request& req, httplib::Response& res) {
                handle_completion(state, Endpoint::kCompletion, req, res);
              }));
  server.Post(
      "/tokenize", guarded([&state](const httplib::Request& req, httplib::Response& res) {
        Loaded& loaded = ready(state);
        const json body = parse_object(req.body);
        const auto content = body.find("content");
        if (content == body.end() || !content->is_string())
          throw ApiError(400, "invalid_request_error", "'content' must be a string", "content");
        if (content->get_ref<const std::string&>().size() > state.options.max_prompt_bytes)
          throw ApiError(413, "invalid_request_error", "'content' is longer than the prompt limit",
                         "content");
        bool add_special = false;
        if (const auto it = body.find("add_special"); it != body.end()) {
          if (!it->is_boolean())
            throw ApiError(400, "invalid_request_error", "'add_special' must be true or false",
                           "add_special");
          add_special = it->get<bool>();
        }
        send_json(res, 200,
                  {{"tokens", loaded.tokenizer.encode(content->get<std::string>(), add_special)}});
      }));
  server.Post("/detokenize", guarded([&state](const httplib::Request& req, httplib::Response& res) {
                Loaded& loaded = ready(state);
                const json body = parse_object(req.body);
                const auto tokens = body.find("tokens");
                if (tokens == body.end() || !tokens->is_array())
                  throw ApiError(400, "invalid_request_error", "'tokens' must be an array",
                                 "tokens");
                std::vector<int32_t> ids;
                for (const json& id : *tokens) {
                  if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
                      id.get<int64_t>() >= static_cast<int64_t>(loaded.model.vocab().size()))
                    throw ApiError(400, "invalid_request_error",
                                   "'tokens' must hold ids within the vocabulary", "tokens");
                  ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
                }
                send_json(res, 200, {{"content", loaded.tokenizer.decode(ids)}});
              }));
}

}  // namespace

void serve(const ServeOptions& options) {
  if (options.parallel < 1) fail("--parallel must be at least 1");
  std::optional<tokenize::ChatFormat> chosen_format;
  if (!options.chat_template.empty())
    chosen_format = tokenize::chat_format_named(options.chat_template);

  // SIGINT and SIGTERM are taken by a thread of their own (sigwait) rather than a handler, so
  // that stopping runs ordinary code; SIGPIPE from a vanished client must not end the server.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  State state{.options = options,
              .model_id = std::filesystem::path(options.model).filename().string()};
  httplib::Server server;
  const size_t workers = static_cast<size_t>(options.parallel + options.queue) + 8;
  server.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server.set_payload_max_length(options.max_body_bytes);
  server.set_read_timeout(30);
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string message =
        res.status == 404   ? fmt::format("no route for {} {}", req.method, req.path)
        : res.status == 413 ? std::string("the request body is larger than the server's limit")
                            : fmt::format("HTTP {}", res.status);
    send_error(res, ApiError(res.status, "invalid_request_error", message));
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        send_error(res, ApiError(500, "server_error", what));
      });
  if (!options.api_key.empty()) {
    server.set_pre_routing_handler([&options](const httplib::Request& req, httplib::Response& res) {
      // The page itself is public; it sends the key (from ?key=) with its own requests.
      if (req.path == "/health" || req.path == "/")
        return httplib::Server::HandlerResponse::Unhandled;
      const std::string header = req.get_header_value("Authorization");
      const std::string_view prefix = "Bearer ";
      const bool ok = header.starts_with(prefix) &&
                      same_key(std::string_view(header).substr(prefix.size()), options.api_key);
      if (ok) return httplib::Server::HandlerResponse::Unhandled;
      send_error(res, ApiError(401, "authentication_error", "a valid API key is required"));
      return httplib::Server::HandlerResponse::Handled;
    });
  }
  add_routes(server, state);

  // Debian's cpp-httplib is compiled with a listen backlog of 5: when many streaming clients
  // finish in one engine step and reconnect together, the kernel drops the excess connections
  // and their clients retry after 1, 3, 7, 15 s (the p99 time to first token at 64 users was
  // 4.4 s). Listening again on the bound socket raises the backlog to the kernel's limit.
  int listening_socket = -1;
  server.set_socket_options([&listening_socket](socket_t sock) {
    httplib::default_socket_options(sock);
    listening_socket = sock;
  });
  int port = options.port;
  if (port == 0)
    port = server.bind_to_any_port(options.host);
  else if (!server.bind_to_port(options.host, port))
    port = -1;
  if (port <= 0) fail("cannot listen on {}:{}", options.host, options.port);
  if (::listen(listening_socket, SOMAXCONN) != 0)
    fail("cannot listen on {}:{}: {}", options.host, port, std::strerror(errno));
  fmt::print(stderr, "etch serve: listening on http://{}:{}\n", options.host, port);
  std::fflush(stderr);
  std::thread listener([&server] { server.listen_after_bind(); });

  std::atomic<bool> finished{false};
  std::thread stopper([&] {
    const timespec wait{0, 200'000'000};
    while (!finished) {
      if (sigtimedwait(&stop_signals, nullptr, &wait) > 0) break;
    }
    state.stopping = true;
    server.stop();
  });

  std::unique_ptr<Loaded> loaded;
  std::string load_error;
  try {
    loaded = std::make_unique<Loaded>(options);
    loaded->chip = chip_figures(options, *loaded->engine);
    if (chosen_format) {
      loaded->chat_format = chosen_format;
    } else {
      try {
        loaded->chat_format = tokenize::chat_format_for(loaded->model.vocab(), "");
      } catch (const Error& e) {
        loaded->chat_format_problem =
            fmt::format("chat is unavailable: {}; start etch serve with --chat-template", e.what());
      }
    }
    fmt::print(stderr, "etch serve: ready: {}, {} slots of {} tokens\n",
               loaded->model.description(), loaded->engine->sequences(), loaded->engine->context());
    std::fflush(stderr);
    state.loaded = loaded.get();
  } catch (const Error& e) {
    load_error = e.what();
    finished = true;
  }
  if (!load_error.empty()) {
    stopper.join();
    listener.join();
    fail("{}", load_error);
  }
  listener.join();
  finished = true;
  stopper.join();
  fmt::print(stderr, "etch serve: stopped\n");
}

}  // namespace etch::serve
