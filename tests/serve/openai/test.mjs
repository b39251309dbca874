// The official openai client against a real `etch serve` on kjv-8m:
// node test.mjs ETCH DEFAULT_FIXTURES (ETCH_FIXTURES, when set, names the fixtures instead).
import { spawn } from "node:child_process";
import assert from "node:assert/strict";
import OpenAI from "openai";

const [etch, defaultFixtures] = process.argv.slice(2);
const model = `${process.env.ETCH_FIXTURES || defaultFixtures}/models/kjv-8m/kjv-8m-q8_0.gguf`;
const server = spawn(etch, ["serve", model, "--port", "0", "--parallel", "4", "-t", "2",
                            "--chat-template", "chatml", "--api-key", "secret"],
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
const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "secret", maxRetries: 0 });
const chat = [{ role: "user", content: "Who made the heaven?" }];

try {
  // Chat, not streamed: exact usage and a finish reason.
  const reply = await client.chat.completions.create({ model: "kjv", messages: chat, max_tokens: 8, seed: 1 });
  assert.equal(reply.choices[0].message.role, "assistant");
  assert.equal(reply.choices[0].finish_reason, "length");
  assert.equal(reply.usage.completion_tokens, 8);
  assert.equal(reply.usage.total_tokens, reply.usage.prompt_tokens + 8);

  // Chat, streamed through the SDK's strict stream helper: the same text as unstreamed.
  const runner = client.beta.chat.completions.stream({ model: "kjv", messages: chat, max_tokens: 8, seed: 1,
                                                     stream_options: { include_usage: true } });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.content, reply.choices[0].message.content);
  assert.equal(final.choices[0].finish_reason, "length");
  assert.equal(final.usage.completion_tokens, 8);

  // Completions, streamed by hand: the usage chunk has no choices and comes last.
  const stream = await client.completions.create({ model: "kjv", prompt: "In the beginning", max_tokens: 10,
                                                   seed: 3, stream: true, stream_options: { include_usage: true } });
  let text = "", usage = null, finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) { usage = chunk.usage; assert.equal(chunk.choices.length, 0); continue; }
    text += chunk.choices[0].text;
    if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  }
  assert.equal(finish, "length");
  assert.equal(usage.completion_tokens, 10);
  const tokens = await fetch(`http://127.0.0.1:${port}/tokenize`, {
    method: "POST", headers: { Authorization: "Bearer secret" },
    body: JSON.stringify({ content: "In the beginning", add_special: true }) }).then((r) => r.json());
  assert.equal(usage.prompt_tokens, tokens.tokens.length);
  const plain = await client.completions.create({ model: "kjv", prompt: "In the beginning", max_tokens: 10, seed: 3 });
  assert.equal(plain.choices[0].text, text);

  // Stop strings: the text ends before the first one, and the reason is stop.
  const stopped = await client.completions.create({ model: "kjv", prompt: "And God said", max_tokens: 60,
                                                    temperature: 0, stop: [","] });
  assert.equal(stopped.choices[0].finish_reason, "stop");
  assert.ok(!stopped.choices[0].text.includes(","));

  // Seed repeatability while other requests run.
  const ask = () => client.completions.create({ model: "kjv", prompt: "The LORD is my shepherd", max_tokens: 24, seed: 42 });
  const alone = await ask();
  const crowd = await Promise.all([
    client.completions.create({ model: "kjv", prompt: "Blessed are the meek", max_tokens: 40, seed: 1 }),
    ask(),
    client.chat.completions.create({ model: "kjv", messages: chat, max_tokens: 30, seed: 5 }),
    ask(),
  ]);
  assert.equal(crowd[1].choices[0].text, alone.choices[0].text);
  assert.equal(crowd[3].choices[0].text, alone.choices[0].text);

  // Error objects reach the client as APIError with the status and message.
  await assert.rejects(client.chat.completions.create({ model: "kjv", messages: chat, n: 2 }),
                       (e) => e.status === 400 && e.error.param === "n" && /n = 1/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: "kjv", messages: [{ role: "wizard", content: "x" }] }),
                       (e) => e.status === 400 && e.error.type === "invalid_request_error");
  await assert.rejects(client.completions.create({ model: "kjv", prompt: "x", max_tokens: 100000 }),
                       (e) => e.status === 400);
  const wrongKey = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "nope", maxRetries: 0 });
  await assert.rejects(wrongKey.models.list(), (e) => e.status === 401);
  const models = await client.models.list();
  assert.equal(models.data.length, 1);
  console.log("openai client: all checks passed");
} finally {
  server.kill("SIGTERM");
}
