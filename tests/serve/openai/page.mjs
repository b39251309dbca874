// The chat page in a real browser: headless Chromium opens /?ask=..., driven over the DevTools
// protocol, and the page must show the model's information, its chip's figures from etch plan,
// and stream an answer to its end.
// node page.mjs ETCH CHROMIUM DEFAULT_FIXTURES
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import WebSocket from "ws";  // Debian 12's Node.js 18 has no WebSocket of its own

const [etch, chromium, defaultFixtures] = process.argv.slice(2);
const model = `${process.env.ETCH_FIXTURES || defaultFixtures}/models/kjv-8m/kjv-8m-q8_0.gguf`;

// Resolves with the first match of `pattern` in the process's stderr.
function waitFor(child, pattern, name) {
  return new Promise((resolve, reject) => {
    let log = "";
    child.stderr.on("data", (d) => {
      log += d;
      const m = log.match(pattern);
      if (m) resolve(m);
    });
    child.on("exit", (code) => reject(new Error(`${name} exited with ${code}: ${log}`)));
  });
}

const server = spawn(etch, ["serve", model, "--port", "0", "-t", "2", "--chat-template", "chatml"],
                     { stdio: ["ignore", "ignore", "pipe"] });
const profile = mkdtempSync(join(tmpdir(), "etch-page-"));
let browser = null;
try {
  const [, port] = await waitFor(server, /listening on http:\/\/[^:]+:(\d+)[\s\S]*ready/, "etch serve");
  browser = spawn(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
                             `--user-data-dir=${profile}`, `http://127.0.0.1:${port}/?ask=Who%20made%20the%20heaven`],
                  { stdio: ["ignore", "ignore", "pipe"] });
  const [, devtools] = await waitFor(browser, /DevTools listening on ws:\/\/([^/]+)\//, "chromium");
  const pages = await fetch(`http://${devtools}/json/list`).then((r) => r.json());
  const socket = new WebSocket(pages.find((p) => p.type === "page").webSocketDebuggerUrl);
  await new Promise((resolve) => socket.addEventListener("open", resolve));
  let next = 1;
  const evaluate = (expression) => new Promise((resolve) => {
    const id = next++;
    const listener = (event) => {
      const message = JSON.parse(event.data);
      if (message.id !== id) return;
      socket.removeEventListener("message", listener);
      resolve(message.result?.result?.value ?? null);  // null before the page has loaded
    };
    socket.addEventListener("message", listener);
    socket.send(JSON.stringify({ id, method: "Runtime.evaluate", params: { expression, returnByValue: true } }));
  });

  const deadline = Date.now() + 30000;
  let state = null;
  while (Date.now() < deadline) {
    state = await evaluate(`(() => { const a = document.getElementById("answer-1");
      return { done: a?.dataset.done === "true", answer: a?.textContent ?? "",
               model: document.getElementById("model").textContent,
               chip: document.getElementById("chip").textContent,
               question: document.querySelector(".turn.user")?.textContent,
               errors: document.querySelectorAll(".turn.error").length }; })()`);
    if (state?.done) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  socket.close();
  assert.ok(state?.done, `the answer did not finish: ${JSON.stringify(state)}`);
  assert.equal(state.errors, 0);
  assert.equal(state.question, "Who made the heaven");
  assert.ok(state.answer.trim().length > 0, "the answer is empty");
  assert.match(state.model, /^kjv-8m-q8_0\.gguf: gguf, 8 layers/);
  assert.match(state.chip, /as a hardwired chip \(etch plan, 6 nm, 1 chip\): [\d,]+ tokens\/s per user/);
  console.log(`page: streamed answer of ${state.answer.length} characters`);
} finally {
  browser?.kill("SIGTERM");
  server.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 300));
  rmSync(profile, { recursive: true, force: true });
}
