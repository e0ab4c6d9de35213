// Soil explorer: one page, no dependencies. With nothing in the URL's hash it shows the network (the
// landing page); with an entity's id in it (`#datanet:1`, `#account:0x…`, `#inference:0x…`) the
// attribution graph around that entity and its figures. Links change the hash, so pages can be shared.
import { graphql } from "/api.js";
import { KINDS } from "/graph.js";
import { loadEntity } from "/entity.js";
import { loadLanding } from "/landing.js";

const $ = (id) => document.getElementById(id);

function showError(message) {
  const p = $("error");
  p.textContent = message;
  p.hidden = false;
  document.body.dataset.state = "error";
}

async function showMeta() {
  try {
    const { _meta: meta } = await graphql("{ _meta { blockNumber synced } }");
    $("meta").textContent = meta
      ? `block ${meta.blockNumber} · ${meta.synced ? "synced" : "catching up"}`
      : "no block indexed yet";
  } catch (err) {
    $("meta").textContent = `status unknown: ${err.message}`;
  }
}

// Routes started; only the latest one shows what it read.
let routes = 0;

/// Shows what the hash names: the landing page when empty, else that entity.
async function route() {
  const turn = ++routes;
  const text = decodeURIComponent(location.hash.slice(1));
  $("error").hidden = true;
  $("query").value = text;
  document.body.dataset.view = text ? "entity" : "landing";
  document.body.dataset.state = "loading";
  try {
    const show = text ? await loadEntity(text, Number($("depth").value)) : await loadLanding();
    if (turn !== routes) return;
    if (text) show($("graph"), $("figures"));
    else show($("landing"));
    document.body.dataset.state = "ready";
  } catch (err) {
    if (turn === routes) showError(err.message);
  }
  showMeta();
}

function legend() {
  for (const kind of KINDS) {
    const i = document.createElement("i");
    i.style.background = `var(--${kind})`;
    const span = document.createElement("span");
    span.append(i, kind);
    $("legend").append(span);
  }
}

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const hash = `#${encodeURIComponent($("query").value.trim())}`;
  if (location.hash === hash) route();
  else location.hash = hash;
});
$("depth").addEventListener("change", () => { if (location.hash.length > 1) route(); });
window.addEventListener("hashchange", route);
legend();
route();
