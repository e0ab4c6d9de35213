// Drives the explorer in headless Chromium: node indexer/tests/explorer.mjs <url> <query> <screenshot.png>
// Loads the page, types <query> into the search box, waits for the graph and prints one JSON line:
// {"state", "nodes", "edges", "rootNodes", "figures": {label: value}, "links": the links out of the page
//  [{text, href, rel}],
//  "injected" (elements in the figures other than the table's own), "error"}.
import { args, launch, open } from "./browser.mjs";

const { url, query, screenshot } = args("explorer.mjs");

const browser = await launch();
try {
  const { page, failed } = await open(browser);
  await page.goto(url, { waitUntil: "load" });
  await page.fill("#query", query);
  await page.click("button[type=submit]");
  await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state), null,
    { timeout: 20000 });
  const result = await page.evaluate(() => ({
    state: document.body.dataset.state,
    nodes: document.querySelectorAll("#graph g.nodes circle").length,
    edges: document.querySelectorAll("#graph g.edges line").length,
    rootNodes: document.querySelectorAll("#graph circle.root").length,
    figures: Object.fromEntries([...document.querySelectorAll("#figures-table tr")]
      .map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent])),
    links: [...document.querySelectorAll("#figures-table a[target=_blank]")]
      .map((a) => ({ text: a.textContent, href: a.getAttribute("href"), rel: a.rel })),
    injected: document.querySelectorAll("#figures *:not(h2, table, tbody, tr, td, a)").length,
    error: document.getElementById("error").hidden ? null : document.getElementById("error").textContent,
  }));
  result.failedRequests = failed;
  await page.screenshot({ path: screenshot });
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
