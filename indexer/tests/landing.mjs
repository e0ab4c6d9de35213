// Drives the explorer's landing page in headless Chromium:
//   node indexer/tests/landing.mjs <url> <width>x<height> <screenshot.png> <cases>
// Opens <url> at that window size with nothing typed, waits for the page and prints one JSON line:
// {"state", "view", "error", "empty" (what the page says when nothing is indexed), "totals": {name: value}, "datanets", "models", "contributors": rows of cell
//  texts, "inferences": [{"head", "links", "attributions": [text]}], "links": every id link on the page
//  [{text, href, title}], "layout": overflow() of the landing page, "formats": formatAmount (symbol TOK) of
//  each of <cases> (JSON: [[wei, decimals]]), "counts": formatCount of counts past 2^31 and 2^53 (COUNTS),
//  "visits": for the first link of each kind, the entity page
//  it opened {href, state, view, heading, error, layout} (its screenshot beside <screenshot>, named
//  <screenshot>-<kind>.png), and "back" (the landing page again after the
//  browser's back button), "failedRequests", "errors" (console errors, HTTP error answers), "apiDown"
//  ({state, error} of the page when /graphql answers HTTP 503)}.
import { args, launch, open } from "./browser.mjs";
import { overflow } from "./layout.mjs";

const { url, viewport, screenshot, cases } = args("landing.mjs", ["url", "viewport", "screenshot", "cases"]);
const [width, height] = viewport.split("x").map(Number);
// Counts as the API's U64 writes them (decimal strings), some past what a JavaScript number holds exactly.
const COUNTS = ["0", "7", "1234", "2147483648", "9007199254740993", "18446744073709551615"];

const settled = (page) => page.waitForFunction(
  () => ["ready", "error"].includes(document.body.dataset.state), null, { timeout: 20000 });
const texts = (page, selector) => page.$$eval(selector,
  (rows) => rows.map((tr) => [...tr.cells].map((td) => td.textContent)));

const browser = await launch();
try {
  const { page, failed, errors } = await open(browser, { width, height });
  await page.goto(url, { waitUntil: "load" });
  await settled(page);
  const result = await page.evaluate(() => ({
    state: document.body.dataset.state,
    view: document.body.dataset.view,
    error: document.getElementById("error").hidden ? null : document.getElementById("error").textContent,
    empty: document.querySelector("#landing > p.hint")?.textContent ?? null,
    totals: Object.fromEntries([...document.querySelectorAll("#totals [data-figure]")]
      .map((div) => [div.dataset.figure, div.querySelector("dd").textContent])),
    inferences: [...document.querySelectorAll("#inferences li.inference")].map((li) => ({
      head: li.querySelector(".head").textContent,
      links: [...li.querySelectorAll(".head a")].map((a) => a.getAttribute("href")),
      attributions: [...li.querySelectorAll("ul.attributions li")].map((a) => a.textContent),
    })),
    links: [...document.querySelectorAll("#landing a")]
      .map((a) => ({ text: a.textContent, href: a.getAttribute("href"), title: a.title })),
  }));
  result.datanets = await texts(page, "#datanets tbody tr");
  result.models = await texts(page, "#models tbody tr");
  result.contributors = await texts(page, "#contributors tbody tr");
  result.layout = await overflow(page);
  await page.screenshot({ path: screenshot, fullPage: true });
  result.formats = await page.evaluate(async (cases) => {
    const { formatAmount } = await import("/format.js");
    return cases.map(([wei, decimals]) => formatAmount(wei, { symbol: "TOK", decimals }));
  }, JSON.parse(cases));
  result.counts = await page.evaluate(async (counts) => {
    const { formatCount } = await import("/format.js");
    return counts.map(formatCount);
  }, COUNTS);

  result.visits = [];
  const seen = new Set();
  for (const link of result.links) {
    const kind = link.href.slice(1).split(":")[0];
    if (seen.has(kind)) continue;
    seen.add(kind);
    await page.click(`#landing a[href="${link.href}"] >> nth=0`);
    await page.waitForFunction(() => document.body.dataset.view === "entity", null, { timeout: 20000 });
    await settled(page);
    result.visits.push(await page.evaluate((href) => ({
      href, hash: location.hash, state: document.body.dataset.state, view: document.body.dataset.view,
      heading: document.querySelector("#figures h2")?.textContent ?? null,
      nodes: document.querySelectorAll("#graph g.nodes circle").length,
      error: document.getElementById("error").hidden ? null : document.getElementById("error").textContent,
    }), link.href));
    result.visits.at(-1).layout = await overflow(page);
    await page.screenshot({ path: screenshot.replace(/\.png$/, `-${kind}.png`), fullPage: true });
    await page.goBack();
    await page.waitForFunction(() => document.body.dataset.view === "landing", null, { timeout: 20000 });
    await settled(page);
  }
  result.back = await page.evaluate(() => ({
    state: document.body.dataset.state, totals: document.querySelectorAll("#totals [data-figure]").length,
  }));
  result.failedRequests = failed;
  result.errors = errors;

  // An API that fails: the page says so instead of staying empty.
  const down = (await open(browser, { width, height })).page;
  await down.route("**/graphql", (route) => route.fulfill({ status: 503, body: "the database is down" }));
  await down.goto(url, { waitUntil: "load" });
  await settled(down);
  result.apiDown = await down.evaluate(() => ({
    state: document.body.dataset.state, error: document.getElementById("error").textContent,
  }));
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
