// Soil explorer: one page, no dependencies. Asks the indexer's GraphQL API for the attribution graph
// around a root (an address, a datanet, a model, a release, a contribution or an inference) and the
// figures that go with it, lays the graph out with a small force-directed simulation and draws it as SVG.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const KINDS = ["account", "datanet", "release", "model", "contribution", "inference"];

const GRAPH_QUERY = `query Graph($root: ID!, $depth: Int!) {
  attributionGraph(root: $root, depth: $depth, limit: 200) {
    root truncated
    nodes { id kind label value }
    edges { source target kind weight amount }
  }
  _meta { blockNumber blockHash synced }
}`;

// The figures shown beside the graph, one query per root kind; all read precomputed aggregates.
const FIGURE_QUERIES = {
  account: `query($key: String!) { account(address: $key) {
    address
    earnings { total attributed pool asModelOwner asNode }
    balances { credited claimed }
    reputation { contributions accepted rejected acceptedTokens slashed }
    usage { inferencesPaid feesPaid inferencesServed }
  } }`,
  datanet: `query($key: Int!) { datanet(id: $key) {
    id owner { address } minStake metadataUri acceptedCount acceptedTokens releaseCount
    revenue { total attributed pool }
  } }`,
  model: `query($key: Int!) { model(id: $key) {
    id owner { address } weightsHash pricePerKiloToken
    baseModel { id } baseShareBps adapters(first: 20) { nodes { id } pageInfo { hasNextPage } }
    trainedOn { id } manifestHash manifestUri derivativeShareBps
    split { ownerBps dataBps nodeBps treasuryBps }
    revenue { total owner base data node treasury derivative }
    usage { inferences inputTokens outputTokens }
  } }`,
  release: `query($key: Int!) { release(id: $key) {
    id datanet { id } root contributionCount tokenCount pool { accrued claimed }
  } }`,
  contribution: `query($key: Int!) { contribution(id: $key) {
    id datanet { id } contributor { address } status contentHash tokenCount stake uri
    earnings { total attributed pool inferences }
  } }`,
  inference: `query($key: String!) { inference(digest: $key) {
    digest model { id } payer { address } node { address } fee inputTokens outputTokens outputHash outputUri
    blockNumber txHash
  } }`,
};

const $ = (id) => document.getElementById(id);

/// Turns what the user typed into a root id (`kind:key`), or throws a message saying what is wrong.
function parseRoot(text) {
  const q = text.trim();
  if (/^0x[0-9a-fA-F]{40}$/.test(q)) return { kind: "account", key: q.toLowerCase() };
  if (/^0x[0-9a-fA-F]{64}$/.test(q)) return { kind: "inference", key: q.toLowerCase() };
  const m = /^(account|address|datanet|model|release|contribution|inference)[\s:#]*(\S+)$/i.exec(q);
  if (m) {
    const kind = m[1].toLowerCase() === "address" ? "account" : m[1].toLowerCase();
    if (kind === "account" || kind === "inference") return parseRoot(m[2]);
    if (!/^[0-9]+$/.test(m[2])) throw new Error(`${kind} ids are numbers, got "${m[2]}"`);
    return { kind, key: m[2] };
  }
  throw new Error(`cannot read "${q}": type an address (0x + 40 hex), an inference digest (0x + 64 hex), ` +
    `or a kind and a number such as "datanet 1", "model 2", "release 3", "contribution 7"`);
}

async function graphql(query, variables) {
  const res = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors && body.errors.length) throw new Error(body.errors.map((e) => e.message).join("; "));
  return body.data;
}

/// Fruchterman–Reingold layout, deterministic: nodes start on rings by kind, the root in the middle.
function layout(nodes, edges, width, height, rootId) {
  const n = nodes.length;
  const index = new Map(nodes.map((node, i) => [node.id, i]));
  const pos = nodes.map((node, i) => {
    if (node.id === rootId) return { x: width / 2, y: height / 2 };
    const ring = 1 + KINDS.indexOf(node.kind) % 3;
    const angle = (2 * Math.PI * i) / n + KINDS.indexOf(node.kind);
    const r = (Math.min(width, height) / 8) * ring;
    return { x: width / 2 + r * Math.cos(angle), y: height / 2 + r * Math.sin(angle) };
  });
  const links = edges.map((e) => [index.get(e.source), index.get(e.target), e.weight])
    .filter(([a, b]) => a !== undefined && b !== undefined);
  const k = Math.sqrt((width * height) / Math.max(n, 1)) * 0.6;
  let temperature = Math.min(width, height) / 8;
  const iterations = 300;
  for (let it = 0; it < iterations; it++) {
    const disp = pos.map(() => ({ x: 0, y: 0 }));
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        let dx = pos[i].x - pos[j].x, dy = pos[i].y - pos[j].y;
        let d = Math.hypot(dx, dy);
        if (d < 0.01) { dx = 0.01 * (i - j); dy = 0.01; d = Math.hypot(dx, dy); }
        const f = (k * k) / d;
        disp[i].x += (dx / d) * f; disp[i].y += (dy / d) * f;
        disp[j].x -= (dx / d) * f; disp[j].y -= (dy / d) * f;
      }
    }
    for (const [a, b] of links) {
      const dx = pos[a].x - pos[b].x, dy = pos[a].y - pos[b].y;
      const d = Math.max(Math.hypot(dx, dy), 0.01);
      const f = (d * d) / k;
      disp[a].x -= (dx / d) * f; disp[a].y -= (dy / d) * f;
      disp[b].x += (dx / d) * f; disp[b].y += (dy / d) * f;
    }
    for (let i = 0; i < n; i++) {
      if (nodes[i].id === rootId) continue;
      const d = Math.max(Math.hypot(disp[i].x, disp[i].y), 0.01);
      const step = Math.min(d, temperature);
      pos[i].x = Math.min(width - 20, Math.max(20, pos[i].x + (disp[i].x / d) * step));
      pos[i].y = Math.min(height - 20, Math.max(20, pos[i].y + (disp[i].y / d) * step));
    }
    temperature *= 1 - 1 / iterations * 4;
    temperature = Math.max(temperature, 0.5);
  }
  return pos;
}

function el(name, attrs, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function draw(graph) {
  const svg = $("graph");
  svg.replaceChildren();
  const { width, height } = svg.getBoundingClientRect();
  const pos = layout(graph.nodes, graph.edges, width, height, graph.root);
  const index = new Map(graph.nodes.map((node, i) => [node.id, i]));
  const maxValue = Math.max(1, ...graph.nodes.map((node) => Number(node.value) || 0));

  const edges = el("g", { class: "edges" });
  for (const e of graph.edges) {
    const a = pos[index.get(e.source)], b = pos[index.get(e.target)];
    if (!a || !b) continue;
    const line = el("line", {
      x1: a.x, y1: a.y, x2: b.x, y2: b.y,
      class: e.kind.toLowerCase(),
      "stroke-width": (1 + 9 * e.weight).toFixed(2),
      "data-source": e.source, "data-target": e.target,
    });
    const weight = e.kind === "ATTRIBUTED" ? ` weight ${(e.weight * 100).toFixed(2)}%` : "";
    const amount = e.amount !== null ? ` amount ${e.amount}` : "";
    line.appendChild(el("title", {}, `${e.source} → ${e.target} (${e.kind.toLowerCase()}${weight}${amount})`));
    edges.appendChild(line);
  }
  const nodes = el("g", { class: "nodes" });
  graph.nodes.forEach((node, i) => {
    const r = 6 + 14 * Math.sqrt((Number(node.value) || 0) / maxValue);
    const circle = el("circle", {
      cx: pos[i].x, cy: pos[i].y, r: r.toFixed(1),
      class: `k-${node.kind}${node.id === graph.root ? " root" : ""}`,
      "data-id": node.id,
    });
    circle.appendChild(el("title", {}, `${node.label} (value ${node.value})`));
    circle.addEventListener("click", () => search(node.id.replace(":", " ")));
    nodes.appendChild(circle);
    nodes.appendChild(el("text", { x: pos[i].x + r + 2, y: pos[i].y + 3 }, node.label));
  });
  svg.appendChild(edges);
  svg.appendChild(nodes);
}

function flatten(prefix, value, rows) {
  if (value === null || typeof value !== "object") { rows.push([prefix, value]); return; }
  for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix} ${k}` : k, v, rows);
}

function words(name) {
  return name.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

/// A model's base, adapters and training releases as short lines of text ("model 1", "release 2, release
/// 3"), in place of the nested objects the query returns.
function modelRelations(model) {
  const ids = (kind, list) => list.map((x) => `${kind} ${x.id}`).join(", ");
  const { baseModel, adapters, trainedOn, ...rest } = model;
  const out = { id: rest.id, owner: rest.owner };
  out.baseModel = baseModel ? `model ${baseModel.id}` : null;
  out.adapters = adapters.nodes.length
    ? ids("model", adapters.nodes) + (adapters.pageInfo.hasNextPage ? ", …" : "")
    : "none";
  if (baseModel) out.trainedOn = ids("release", trainedOn);
  return { ...out, ...rest };
}

function showFigures(kind, data, graph) {
  const box = $("figures");
  box.replaceChildren();
  const h2 = document.createElement("h2");
  h2.textContent = `${kind} ${graph.root.slice(graph.root.indexOf(":") + 1)}`;
  box.appendChild(h2);
  const rows = [];
  flatten("", data, rows);
  rows.push(["graph nodes", graph.nodes.length], ["graph edges", graph.edges.length]);
  if (graph.truncated) rows.push(["note", "graph truncated at 200 nodes"]);
  const table = document.createElement("table");
  table.id = "figures-table";
  for (const [k, v] of rows) {
    const tr = table.insertRow();
    tr.insertCell().textContent = words(k);
    const td = tr.insertCell();
    td.textContent = v === null ? "—" : String(v);
    if (typeof v === "string" && v.startsWith("0x")) td.className = "mono";
    if (typeof v === "string" && /uri$/i.test(k)) linkUri(td, v);
  }
  box.appendChild(table);
}

/// Makes a URI read from the chain (an output, a document, a datanet's metadata, a training manifest) a link when it is http or
/// https, opened in a new tab without opener or referrer; any other URI stays text. Chain data is
/// hostile: it is only ever set as text and as a parsed URL's href, never parsed as HTML.
function linkUri(td, uri) {
  let url;
  try { url = new URL(uri); } catch { return; }
  if (url.protocol !== "http:" && url.protocol !== "https:") return;
  const a = document.createElement("a");
  a.href = url.href;
  a.textContent = uri;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  td.replaceChildren(a);
}

function showMeta(meta) {
  $("meta").textContent = meta
    ? `block ${meta.blockNumber} · ${meta.synced ? "synced" : "catching up"}`
    : "no block indexed yet";
}

function showError(message) {
  const p = $("error");
  p.textContent = message;
  p.hidden = false;
  document.body.dataset.state = "error";
}

async function search(text) {
  $("error").hidden = true;
  document.body.dataset.state = "loading";
  $("query").value = text;
  try {
    const root = parseRoot(text);
    const id = `${root.kind}:${root.key}`;
    const key = root.kind === "account" || root.kind === "inference" ? root.key : Number(root.key);
    const depth = Number($("depth").value);
    const [g, f] = await Promise.all([
      graphql(GRAPH_QUERY, { root: id, depth }),
      graphql(FIGURE_QUERIES[root.kind], { key }),
    ]);
    showMeta(g._meta);
    let figures = Object.values(f)[0];
    if (figures === null) throw new Error(`no ${root.kind} ${root.key} has been indexed`);
    if (root.kind === "model") figures = modelRelations(figures);
    draw(g.attributionGraph);
    showFigures(root.kind, figures, g.attributionGraph);
    history.replaceState(null, "", `#${encodeURIComponent(text)}`);
    document.body.dataset.state = "ready";
  } catch (err) {
    showError(err.message);
  }
}

function legend() {
  const box = $("legend");
  for (const kind of KINDS) {
    const span = document.createElement("span");
    span.innerHTML = `<i style="background: var(--${kind})"></i>${kind}`;
    box.appendChild(span);
  }
}

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  search($("query").value);
});
legend();
graphql("{ _meta { blockNumber blockHash synced } }", {}).then((d) => showMeta(d._meta)).catch((e) => showError(e.message));
if (location.hash.length > 1) search(decodeURIComponent(location.hash.slice(1)));
