// Drives the playground of a running `manyfold serve` in headless Chromium (Debian's `chromium`
// package) over the DevTools protocol on a pipe (no npm packages): it opens
//   URL/?prompt=...&max_tokens=...&run=BUDGET&run=BUDGET...
// (a BUDGET may be followed by the manyfold field as JSON: 'run {"decoder": "self-speculative", "draft": 2}'),
// waits until one streamed answer per budget is in the history table, checks each row, saves a
// screenshot and prints the rows. Exit 0 when every budget answered, 1 otherwise.
//   node examples/serve/playground-check.mjs http://127.0.0.1:8080 docs/playground.png run:exit-2 run
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";

const [url, png, ...budgets] = process.argv.slice(2);
if (!url || !png || budgets.length === 0) {
  console.error("usage: node playground-check.mjs URL SCREENSHOT.png BUDGET [BUDGET...]");
  process.exit(2);
}
const page = url.replace(/\/$/, "") + "/?prompt=" + encodeURIComponent("The computer") + "&max_tokens=48&"
  + budgets.map(b => "run=" + encodeURIComponent(b)).join("&");
const chrome = spawn(process.env.CHROMIUM || "chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
  "--window-size=1280,760", "about:blank"], { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"] });
const toChrome = chrome.stdio[3], fromChrome = chrome.stdio[4];
let nextId = 1, buffer = "";
const pending = new Map();
fromChrome.on("data", data => {
  buffer += data.toString("utf8");
  let end;
  while ((end = buffer.indexOf("\0")) >= 0) {
    const message = JSON.parse(buffer.slice(0, end));
    buffer = buffer.slice(end + 1);
    if (message.id && pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      message.error ? reject(new Error(JSON.stringify(message.error))) : resolve(message.result);
    }
  }
});
function send(method, params = {}, sessionId) {
  const id = nextId++;
  toChrome.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + "\0");
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}
const sleep = ms => new Promise(r => setTimeout(r, ms));

let ok = false;
try {
  const { targetId } = await send("Target.createTarget", { url: page });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  const evaluate = async expression => (await send("Runtime.evaluate", { expression, returnByValue: true }, sessionId)).result.value;
  let rows = [];
  for (let i = 0; i < 300 && rows.length < budgets.length; i++) { // at most 60 s
    await sleep(200);
    rows = await evaluate(`[...document.querySelectorAll("#history tbody tr")].map(r => [...r.cells].map(c => c.textContent))`) || [];
  }
  const error = await evaluate(`document.getElementById("error").textContent`);
  const output = await evaluate(`document.getElementById("output").textContent`);
  const shot = await send("Page.captureScreenshot", { format: "png" }, sessionId);
  writeFileSync(png, Buffer.from(shot.data, "base64"));
  console.log("output: " + JSON.stringify(output));
  for (const r of rows) console.log(r.join(" | "));
  ok = !error && rows.length === budgets.length && rows.every(r => Number(r[1]) > 0 && r[5] !== "–");
  if (error) console.log("error shown: " + error);
  console.log(ok ? "playground check passed" : "playground check FAILED");
} catch (e) {
  console.error(e);
} finally {
  chrome.kill();
}
process.exit(ok ? 0 : 1);
