// Drives GraphiQL in headless Chromium: node indexer/tests/graphiql.mjs <url of /graphiql> <query> <screenshot.png>
// Opens /graphiql?query=<query>, presses the run button, waits for the answer and prints one JSON line:
// {"response": the response pane's text, "docTypes": the type names the docs pane lists (built from
// GraphiQL's own introspection query), "foreign": requests to any other origin, "failedRequests"}.
import { args, launch, open } from "./browser.mjs";

const { url, query, screenshot } = args("graphiql.mjs");

const browser = await launch();
try {
  const { page, failed } = await open(browser);
  const origin = new URL(url).origin;
  const foreign = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) foreign.push(r.url());
  });
  await page.goto(`${url}?query=${encodeURIComponent(query)}`, { waitUntil: "load" });
  await page.waitForSelector(".graphiql-execute-button", { timeout: 20000 });
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(
    () => (document.querySelector(".graphiql-response")?.textContent ?? "").includes("data"),
    null, { timeout: 20000 });
  const response = await page.evaluate(() => document.querySelector(".graphiql-response").textContent);
  if (!(await page.$(".graphiql-doc-explorer"))) {
    await page.click('.graphiql-sidebar button[aria-label*="Documentation Explorer"]');
  }
  const typeNames = ".graphiql-doc-explorer .graphiql-doc-explorer-type-name";
  await page.waitForFunction((s) => document.querySelectorAll(s).length > 10, typeNames, { timeout: 20000 });
  const docTypes = await page.$$eval(typeNames, (links) => links.map((a) => a.textContent));
  await page.screenshot({ path: screenshot });
  console.log(JSON.stringify({ response, docTypes, foreign, failedRequests: failed }));
} finally {
  await browser.close();
}
