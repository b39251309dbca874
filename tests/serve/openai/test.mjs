// The official openai client against a real `etch serve` on kjv-8m:
// node test.mjs ETCH DEFAULT_FIXTURES (ETCH_FIXTURES, when set, names the fixtures instead).
import { spawn, spawnSync } from "node:child_process";
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
  // Streaming clients that finish in one engine step reconnect together: a listen backlog of 5
  // (Debian's cpp-httplib) dropped their connections, each retried a second or more later.
  const listening = spawnSync("ss", ["-Hltn", `sport = :${port}`], { encoding: "utf8" });
  assert.equal(listening.status, 0, `ss: ${listening.stderr}`);
  const backlog = Number(listening.stdout.trim().split(/\s+/)[2]);
  assert.ok(backlog >= 1024, `etch serve listens with a backlog of ${backlog}`);

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
  // Malformed requests over HTTP: each a 4xx with an OpenAI error object, and the server lives.
  const auth = { Authorization: "Bearer secret" };
  const chatBody = (extra) => JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...extra });
  const bad = [
    ["/v1/chat/completions", "{"], ["/v1/chat/completions", "[]"], ["/v1/chat/completions", "null"],
    ["/v1/chat/completions", Buffer.concat([Buffer.from('{"messages":[{"role":"user","content":"'),
                                            Buffer.from([0xff]), Buffer.from('"}]}')])],
    ["/v1/chat/completions", Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d])],
    ["/v1/chat/completions", "{}"], ["/v1/chat/completions", '{"messages":[]}'],
    ["/v1/chat/completions", '{"messages":[{"role":"robot","content":"x"}]}'],
    ["/v1/chat/completions", '{"messages":[{"role":"user"}]}'],
    ["/v1/chat/completions", '{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}'],
    ["/v1/chat/completions", chatBody({ max_tokens: 1e9 })], ["/v1/chat/completions", chatBody({ max_tokens: 1000 })],
    ["/v1/chat/completions", chatBody({ max_tokens: "5" })], ["/v1/chat/completions", chatBody({ temperature: -1 })],
    ["/v1/chat/completions", chatBody({ n: 3 })], ["/v1/chat/completions", chatBody({ tools: [] })],
    ["/v1/chat/completions", chatBody({ logprobs: true })], ["/v1/chat/completions", chatBody({ stop: [""] })],
    ["/v1/chat/completions", chatBody({ seed: 1.5 })], ["/v1/chat/completions", chatBody({ stream: 1 })],
    ["/v1/completions", '{"prompt":[99999]}'], ["/v1/completions", '{"prompt":3}'],
    ["/v1/completions", JSON.stringify({ prompt: "In the beginning ".repeat(400) })],
    ["/v1/completions", JSON.stringify({ prompt: "x", best_of: 2 })],
    ["/v1/completions", "x".repeat(5 << 20)],
    ["/tokenize", '{"content":5}'], ["/tokenize", "{"], ["/detokenize", '{"tokens":[-1]}'],
    ["/detokenize", '{"tokens":"1 2"}'], ["/v1/nothing", "{}"],
  ];
  for (const [path, body] of bad) {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", headers: auth, body });
    assert.ok(response.status >= 400 && response.status < 500, `${path} ${String(body).slice(0, 80)}: ${response.status}`);
    const error = (await response.json()).error;
    assert.ok(typeof error.message === "string" && error.message.length > 0, `${path}: no message`);
  }
  assert.equal((await fetch(`http://127.0.0.1:${port}/v1/models`)).status, 401);  // no key at all
  assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);

  const models = await client.models.list();
  assert.equal(models.data.length, 1);
  console.log("openai client: all checks passed");
} finally {
  server.kill("SIGTERM");
}
