// One entity's page: the attribution graph around it and its figures beside it, every id a link and
// every amount in token units. Opened from the URL's hash (`#datanet:1`, `#account:0x…`), so each page
// can be shared.
import { graphql, token } from "/api.js";
import { entityLink, formatAmount, percent, uriNode } from "/format.js";
import { draw } from "/graph.js";

const GRAPH_QUERY = `query Graph($root: ID!, $depth: Int!) {
  attributionGraph(root: $root, depth: $depth, limit: 200) {
    root truncated
    nodes { id kind label value }
    edges { source target kind weight amount }
  }
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
  datanet: `query($key: U64!) { datanet(id: $key) {
    id owner { address } minStake metadataUri acceptedCount acceptedTokens releaseCount
    revenue { total attributed pool }
  } }`,
  model: `query($key: U64!) { model(id: $key) {
    id owner { address } weightsHash pricePerKiloToken
    baseModel { id } baseShareBps adapters(first: 20) { nodes { id } pageInfo { hasNextPage } }
    trainedOn { id } manifestHash manifestUri derivativeShareBps
    split { ownerBps dataBps nodeBps treasuryBps }
    revenue { total owner base data node treasury derivative }
    usage { inferences inputTokens outputTokens }
  } }`,
  release: `query($key: U64!) { release(id: $key) {
    id datanet { id } root contributionCount tokenCount pool { accrued claimed }
  } }`,
  contribution: `query($key: U64!) { contribution(id: $key) {
    id datanet { id } contributor { address } status contentHash tokenCount stake uri
    earnings { total attributed pool inferences }
  } }`,
  inference: `query($key: String!) { inference(digest: $key) {
    digest model { id } payer { address } node { address } fee inputTokens outputTokens outputHash outputUri
    blockNumber txHash attributions { contribution { id } weight }
  } }`,
};

// Figures (flattened keys) that are amounts in base units of the payment token.
const AMOUNTS = new Set([
  "earnings total", "earnings attributed", "earnings pool", "earnings asModelOwner", "earnings asNode",
  "balances credited", "balances claimed", "reputation slashed", "usage feesPaid", "minStake",
  "revenue total", "revenue attributed", "revenue pool", "revenue owner", "revenue base", "revenue data",
  "revenue node", "revenue treasury", "revenue derivative", "pricePerKiloToken", "pool accrued",
  "pool claimed", "stake", "fee",
]);

// Figures (flattened keys) that are the id of another entity, and its kind.
const IDS = {
  "owner address": "account", "contributor address": "account", "payer address": "account",
  "node address": "account", "datanet id": "datanet", "model id": "model", "digest": "inference",
  "address": "account",
};

/// Reads what the user typed (or a link's hash) as a root `{ kind, key }`, or throws a message saying
/// what is wrong.
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

function flatten(prefix, value, rows) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) { rows.push([prefix, value]); return; }
  for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix} ${k}` : k, v, rows);
}

function words(name) {
  return name.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

/// The relations of a model or an inference as lists of links (`[kind, key, label?]`), in place of the
/// nested objects the query returns.
function relations(kind, figures) {
  if (kind === "model") {
    const { baseModel, adapters, trainedOn, ...rest } = figures;
    const out = { id: rest.id, owner: rest.owner, baseModel: baseModel ? [["model", baseModel.id]] : null };
    out.adapters = adapters.nodes.map((m) => ["model", m.id]);
    if (adapters.pageInfo.hasNextPage) out.adapters.push(["model", rest.id, "more on the graph"]);
    if (baseModel) out.trainedOn = trainedOn.map((r) => ["release", r.id]);
    return { ...out, ...rest };
  }
  if (kind === "inference") {
    const { attributions, ...rest } = figures;
    return { ...rest, attributions: attributions.filter((a) => a.contribution)
      .map((a) => ["contribution", a.contribution.id, `contribution ${a.contribution.id} (${percent(a.weight)})`]) };
  }
  return figures;
}

/// The table cell's content for figure `key` = `value`.
function cell(td, key, value, tok, rootKind) {
  if (value === null) { td.textContent = "—"; return; }
  if (Array.isArray(value)) {
    if (!value.length) { td.textContent = "none"; return; }
    value.forEach(([kind, id, label], i) => {
      if (i) td.append(", ");
      td.append(entityLink(kind, id, label));
    });
    return;
  }
  const kind = key === "id" ? rootKind : IDS[key];
  // A numeric id (a U64 string) reads "datanet 7"; an address or digest is shown whole.
  if (kind) td.append(entityLink(kind, value, /^[0-9]+$/.test(String(value)) ? `${kind} ${value}` : value));
  else if (AMOUNTS.has(key)) td.textContent = formatAmount(value, tok);
  else if (/uri$/i.test(key)) td.append(uriNode(value));
  else td.textContent = String(value);
  if (typeof value === "string" && value.startsWith("0x")) td.className = "mono";
}

function showFigures(box, root, figures, graph, tok) {
  const h2 = document.createElement("h2");
  h2.textContent = `${root.kind} ${root.key}`;
  const rows = [];
  flatten("", figures, rows);
  rows.push(["graph nodes", graph.nodes.length], ["graph edges", graph.edges.length]);
  if (graph.truncated) rows.push(["note", "graph truncated at 200 nodes"]);
  const table = document.createElement("table");
  table.id = "figures-table";
  for (const [k, v] of rows) {
    const tr = table.insertRow();
    tr.insertCell().textContent = words(k);
    cell(tr.insertCell(), k, v, tok, root.kind);
  }
  box.replaceChildren(h2, table);
}

/// Reads the page of `text` (a root as `parseRoot` reads it) at graph `depth`; returns the function that
/// shows it in `svg` and `box`.
export async function loadEntity(text, depth) {
  const root = parseRoot(text);
  // Numeric ids go as the U64 strings they are: Number() would round an id past 2^53.
  const key = root.key;
  const [g, f, tok] = await Promise.all([
    graphql(GRAPH_QUERY, { root: `${root.kind}:${root.key}`, depth }),
    graphql(FIGURE_QUERIES[root.kind], { key }),
    token(),
  ]);
  const figures = Object.values(f)[0];
  if (figures === null) throw new Error(`no ${root.kind} ${root.key} has been indexed`);
  return (svg, box) => {
    draw(svg, g.attributionGraph, tok);
    showFigures(box, root, relations(root.kind, figures), g.attributionGraph, tok);
  };
}
