// Load test of `etch serve` on loopback: CLIENTS concurrent streaming clients for SECONDS,
// every ABANDON-th request abandoned mid-stream (0: none, for a benchmark). Fails on any error,
// a stream without its end, a slot or queue entry left behind, or memory that keeps growing.
// node load.mjs ETCH DEFAULT_FIXTURES [SECONDS=30] [CLIENTS=64] [MODEL=kjv-8m-q8_0.gguf] [ABANDON=4]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

const [etch, defaultFixtures, seconds = "30", clients = "64", file = "kjv-8m-q8_0.gguf",
       abandonEvery = "4"] = process.argv.slice(2);
const fixtures = process.env.ETCH_FIXTURES || defaultFixtures;
const model = file.includes("/") ? file : `${fixtures}/models/kjv-8m/${file}`;
const server = spawn(etch, ["serve", model, "--port", "0", "--parallel", "8", "--queue", "128"],
                     { stdio: ["ignore", "ignore", "pipe"] });
const port = await new Promise((resolve, reject) => {
  let log = "";
  server.stderr.on("data", (d) => {
    log += d;
    const m = log.match(/listening on http:\/\/[^:]+:(\d+)/);
    if (m && log.includes("ready")) resolve(m[1]);
  });
  server.on("exit", (code) => reject(new Error(`etch serve exited with ${code}: ${log}`)));
});
const base = `http://127.0.0.1:${port}`;
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))[1]) * 1024;
const prompts = ["In the beginning", "And God said", "The LORD is my shepherd", "Blessed are the meek"];

const end = Date.now() + Number(seconds) * 1000;
const firstTokenMs = [];
let completed = 0, abandoned = 0, generated = 0, failures = [];
const samples = [];
const sampler = setInterval(() => samples.push(rss()), 1000);

async function one(index) {
  const abandon = Number(abandonEvery) > 0 && index % Number(abandonEvery) === Number(abandonEvery) - 1;
  const controller = new AbortController();
  const began = performance.now();
  const response = await fetch(`${base}/v1/completions`, {
    method: "POST", signal: controller.signal,
    body: JSON.stringify({ prompt: prompts[index % prompts.length], max_tokens: 8 + (index % 5) * 10,
                           seed: index, stream: true, stream_options: { include_usage: true } }),
  });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "", chunks = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (!chunks && text.includes("\"text\"")) firstTokenMs.push(performance.now() - began);
    chunks++;
    if (abandon && chunks >= 2) {
      controller.abort();
      abandoned++;
      return;
    }
  }
  if (!text.endsWith("data: [DONE]\n\n")) throw new Error(`stream without its end: ${text.slice(-200)}`);
  const usage = JSON.parse(text.split("\n\n").filter((l) => l.includes("\"usage\":{")).pop().slice(6)).usage;
  generated += usage.completion_tokens;
  completed++;
}

async function client(id) {
  for (let i = id; Date.now() < end; i += Number(clients)) {
    try {
      await one(i);
    } catch (e) {
      if (e.name !== "AbortError") failures.push(String(e.message || e));
    }
  }
}

try {
  const started = performance.now();
  await Promise.all(Array.from({ length: Number(clients) }, (_, i) => client(i)));
  const wall = (performance.now() - started) / 1000;
  clearInterval(sampler);
  assert.deepEqual(failures.slice(0, 5), []);
  // Abandoned streams must have freed their slots by the time the engine has taken a step.
  await new Promise((r) => setTimeout(r, 500));
  const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
  assert.match(metrics, /^etch_slots_busy 0$/m);
  assert.match(metrics, /^etch_queue_length 0$/m);
  // Memory: after the first quarter the resident set may not keep growing. An AddressSanitizer
  // build (scripts/test.sh sets ASAN_OPTIONS for it) holds freed memory in quarantine, so its
  // growth says nothing; LeakSanitizer checks that build instead.
  const settled = samples[Math.floor(samples.length / 4)];
  const peak = Math.max(...samples);
  if (!process.env.ASAN_OPTIONS)
    assert.ok(peak - settled < 64 << 20, `resident memory grew from ${settled} to ${peak} bytes`);
  firstTokenMs.sort((a, b) => a - b);
  const at = (q) => firstTokenMs[Math.min(firstTokenMs.length - 1, Math.floor(q * firstTokenMs.length))];
  console.log(`load: ${clients} clients, ${wall.toFixed(1)} s: ${completed} completed, ${abandoned} abandoned, ` +
              `${(generated / wall).toFixed(0)} generated tokens/s (completed streams), ` +
              `first token p50 ${at(0.5).toFixed(0)} ms p99 ${at(0.99).toFixed(0)} ms, ` +
              `peak RSS ${(peak / 1048576).toFixed(0)} MiB`);
} finally {
  server.kill("SIGTERM");
}
