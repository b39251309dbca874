// Load benchmark for any OpenAI-compatible server (etch serve, llama-server, vLLM, ...):
// aggregate generated tokens/s and p50/p99 time to first token with 1, 8, 64 ... concurrent
// streaming users, each sending its next request as soon as its last one ends.
//
//   node bench/serve_load.mjs --url http://127.0.0.1:8080 [--label NAME] [--users 1,8,64]
//        [--seconds 20] [--max-tokens 64] [--api-key KEY] [--model NAME] [--header]
//
// Prints one Markdown table row per concurrency level (--header adds the table's header).
// Tokens are the server's own usage.completion_tokens (stream_options.include_usage); a
// server that sends no usage chunk is counted one token per streamed chunk that carries text.
// Greedy sampling with a fixed prompt set, so every server is asked for the same work.
import http from "node:http";
import { parseArgs } from "node:util";

const { values: opt } = parseArgs({
  options: {
    url: { type: "string" },
    label: { type: "string", default: "" },
    users: { type: "string", default: "1,8,64" },
    seconds: { type: "string", default: "20" },
    "max-tokens": { type: "string", default: "64" },
    "api-key": { type: "string", default: "" },
    model: { type: "string", default: "" },
    header: { type: "boolean", default: false },
  },
});
if (!opt.url) {
  console.error("serve_load: --url BASE (an OpenAI-compatible server) is required");
  process.exit(2);
}
const base = opt.url.replace(/\/+$/, "");
const seconds = Number(opt.seconds), maxTokens = Number(opt["max-tokens"]);
const levels = opt.users.split(",").map(Number);
if (!(seconds > 0) || !(maxTokens > 0) || levels.some((n) => !(n >= 1))) {
  console.error("serve_load: --seconds, --max-tokens and --users must be positive");
  process.exit(2);
}
const headers = { "Content-Type": "application/json" };
if (opt["api-key"]) headers.Authorization = `Bearer ${opt["api-key"]}`;
const prompts = ["In the beginning", "And God said", "The LORD is my shepherd",
                 "Blessed are the meek", "And it came to pass", "Now these are the generations"];

// POSTs `body` on a connection of its own (no keep-alive: a server that closes idle
// connections, as llama-server's HTTP library does after a few requests, would otherwise race
// the client reusing them) and returns the response as a stream.
function post(path, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(`${base}${path}`, { method: "POST", headers, agent: false },
                                 resolve);
    request.on("error", reject);
    request.end(JSON.stringify(body));
  });
}

// One streamed completion: [milliseconds to the first text, generated tokens].
async function complete(index) {
  const began = performance.now();
  const body = { prompt: prompts[index % prompts.length], max_tokens: maxTokens, temperature: 0,
                 stream: true, stream_options: { include_usage: true } };
  if (opt.model) body.model = opt.model;
  const response = await post("/v1/completions", body);
  if (response.statusCode !== 200) {
    let text = "";
    for await (const bytes of response) text += bytes;
    throw new Error(`HTTP ${response.statusCode}: ${text}`);
  }
  const decoder = new TextDecoder();
  let pending = "", firstMs = null, textChunks = 0, usage = null, done = false;
  for await (const bytes of response) {
    pending += decoder.decode(bytes, { stream: true });
    let end;
    while ((end = pending.indexOf("\n\n")) >= 0) {
      const event = pending.slice(0, end).trim();
      pending = pending.slice(end + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") {
        done = true;
        continue;
      }
      const chunk = JSON.parse(data);
      if (chunk.usage) usage = chunk.usage;
      const text = chunk.choices?.[0]?.text ?? chunk.content ?? "";
      if (text.length > 0) {
        firstMs ??= performance.now() - began;
        textChunks++;
      }
    }
  }
  if (!done) throw new Error("stream ended without data: [DONE]");
  return [firstMs ?? performance.now() - began, usage ? usage.completion_tokens : textChunks];
}

async function level(users) {
  const deadline = performance.now() + seconds * 1000;
  const firstMs = [];
  let tokens = 0, requests = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: users }, async (_, id) => {
    for (let i = id; performance.now() < deadline; i += users) {
      const [first, generated] = await complete(i);
      firstMs.push(first);
      tokens += generated;
      requests++;
    }
  }));
  const wall = (performance.now() - started) / 1000;
  firstMs.sort((a, b) => a - b);
  const at = (q) => firstMs[Math.min(firstMs.length - 1, Math.floor(q * firstMs.length))];
  return { users, requests, tokens, wall, tps: tokens / wall, p50: at(0.5), p99: at(0.99) };
}

if (opt.header) {
  console.log("| server | users | requests | tokens | aggregate tok/s | TTFT p50 ms | TTFT p99 ms |");
  console.log("|---|---:|---:|---:|---:|---:|---:|");
}
for (const users of levels) {
  const r = await level(users);
  console.log(`| ${opt.label || base} | ${r.users} | ${r.requests} | ${r.tokens} | ` +
              `${r.tps.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`);
}
