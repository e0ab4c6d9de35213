// Headless Chromium for the browser tests (explorer.mjs, graphiql.mjs), through playwright-core.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.resolve(process.cwd(), "package.json"));
const { chromium } = require("playwright-core");

// The command line of a browser script: <url> <query> <screenshot.png>, or its usage and exit 2.
export function args(script) {
  const [url, query, screenshot] = process.argv.slice(2);
  if (!url || !query || !screenshot) {
    console.error(`usage: node indexer/tests/${script} <url> <query> <screenshot.png>`);
    process.exit(2);
  }
  return { url, query, screenshot };
}

// Chromium ($CHROMIUM, else Debian's /usr/bin/chromium), headless, with no background traffic.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// A 1280×800 page whose failed requests and script errors are collected in `failed`.
export async function open(browser) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const failed = [];
  page.on("requestfailed", (r) => failed.push(r.url()));
  page.on("pageerror", (e) => failed.push(`page error: ${e.message}`));
  return { page, failed };
}
