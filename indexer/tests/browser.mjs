// Headless Chromium for the browser tests (explorer.mjs, landing.mjs, graphiql.mjs), through playwright-core.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.resolve(process.cwd(), "package.json"));
const { chromium } = require("playwright-core");

// The command line of a browser script: the arguments `names` (by default <url> <query> <screenshot.png>)
// as an object, or its usage and exit 2.
export function args(script, names = ["url", "query", "screenshot"]) {
  const values = process.argv.slice(2);
  if (values.length < names.length || values.some((v) => !v)) {
    console.error(`usage: node indexer/tests/${script} ${names.map((n) => `<${n}>`).join(" ")}`);
    process.exit(2);
  }
  return Object.fromEntries(names.map((name, i) => [name, values[i]]));
}

// Chromium ($CHROMIUM, else Debian's /usr/bin/chromium), headless, with no background traffic.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// A page of `viewport` (1280×800 unless given) whose failed requests and script errors are collected in
// `failed`, and its console errors and HTTP error answers in `errors`.
export async function open(browser, viewport = { width: 1280, height: 800 }) {
  const page = await browser.newPage({ viewport });
  const failed = [];
  const errors = [];
  page.on("requestfailed", (r) => failed.push(r.url()));
  page.on("pageerror", (e) => failed.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") errors.push(`console: ${m.text()}`); });
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`); });
  return { page, failed, errors };
}
