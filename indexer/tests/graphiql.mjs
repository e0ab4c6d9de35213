// Drives GraphiQL in headless Chromium: node indexer/tests/graphiql.mjs <url of /graphiql> <query> <screenshot.png>
// Opens /graphiql?query=<query>, presses the run button, waits for the answer and prints one JSON line:
// {"response": the response pane's text, "foreign": requests to any other origin, "failedRequests"}.
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
  await page.screenshot({ path: screenshot });
  console.log(JSON.stringify({ response, foreign, failedRequests: failed }));
} finally {
  await browser.close();
}
