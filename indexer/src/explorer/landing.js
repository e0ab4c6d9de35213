// The landing page: the network at a glance, with nothing typed — totals, datanets, models, the top
// contributors and the latest inferences with the contributions they were attributed to. Every id links
// to its entity's page; every amount is in token units.
import { graphql, token } from "/api.js";
import { entityLink, formatAmount, formatCount, percent } from "/format.js";

/// How many rows each list shows.
const LIST = 10;

const LANDING_QUERY = `query Landing($n: Int!) {
  totals { datanetCount contributionCount acceptedCount releaseCount modelCount inferenceCount
           inputTokens outputTokens fees dataRevenue }
  datanets(first: $n, order: DESC) {
    nodes { id owner { address } contributionCount acceptedCount revenue { total } }
    pageInfo { hasNextPage }
  }
  models(first: $n, order: DESC) {
    nodes { id owner { address } baseModel { id } usage { inferences } revenue { total } }
    pageInfo { hasNextPage }
  }
  topContributors(first: $n) { address reputation { accepted } earnings { total } }
  inferences(first: $n, order: DESC) {
    nodes { digest blockNumber fee model { id } payer { address }
            attributions { weight amount contribution { id } contributor { address } } }
  }
}`;

function h(name, attrs = {}, ...children) {
  const node = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function account(address) {
  return entityLink("account", address);
}

/// A card holding a table: `head` the column names, `rows` arrays of cells (text or nodes); `empty` says
/// what no row means, `more` that the list goes on.
function tableCard(id, title, head, rows, { empty, more } = {}) {
  const card = h("section", { class: "card", id });
  card.append(h("h2", {}, title));
  if (!rows.length) {
    card.append(h("p", { class: "hint" }, empty));
    return card;
  }
  const table = h("table", { class: "list" });
  table.createTHead().append(h("tr", {}, ...head.map((name) => h("th", {}, name))));
  const body = table.createTBody();
  for (const row of rows) body.append(h("tr", {}, ...row.map((c) => h("td", {}, c))));
  card.append(table);
  if (more) card.append(h("p", { class: "hint" }, more));
  return card;
}

function totals(t, tok) {
  const figures = [
    ["datanets", formatCount(t.datanetCount)],
    ["contributions", `${formatCount(t.contributionCount)} (${formatCount(t.acceptedCount)} accepted)`],
    ["releases", formatCount(t.releaseCount)], ["models", formatCount(t.modelCount)],
    ["inferences", formatCount(t.inferenceCount)],
    ["tokens processed", formatCount((BigInt(t.inputTokens) + BigInt(t.outputTokens)).toString())],
    ["fees settled", formatAmount(t.fees, tok)], ["paid to data", formatAmount(t.dataRevenue, tok)],
  ];
  const dl = h("dl", { class: "totals", id: "totals" });
  for (const [name, value] of figures) {
    dl.append(h("div", { "data-figure": name }, h("dt", {}, name), h("dd", {}, String(value))));
  }
  return dl;
}

function inference(node, tok) {
  const attributed = node.attributions.length
    ? h("ul", { class: "attributions" }, ...node.attributions.map((a) => h("li", {},
      a.contribution ? entityLink("contribution", a.contribution.id) : "a contribution not indexed",
      ` ${percent(a.weight)} · ${formatAmount(a.amount, tok)} to `, account(a.contributor.address))))
    : h("p", { class: "hint" }, "no attribution: the data share went to the model's release pools");
  return h("li", { class: "inference" },
    h("div", { class: "head" }, entityLink("inference", node.digest),
      " ran ", node.model ? entityLink("model", node.model.id) : "an unindexed model",
      " for ", account(node.payer.address), ` · ${formatAmount(node.fee, tok)} · block ${node.blockNumber}`),
    attributed);
}

/// The note under a list that shows only the newest of `count`.
const more = (page, count) => (page.pageInfo.hasNextPage ? `The ${LIST} newest of ${formatCount(count)}.` : undefined);

/// Reads the landing page; returns the function that shows it in `box`.
export async function loadLanding() {
  const [d, tok] = await Promise.all([graphql(LANDING_QUERY, { n: LIST }), token()]);
  return (box) => {
    if (d.totals) box.replaceChildren(...network(d, tok));
    else box.replaceChildren(h("p", { class: "hint" }, "Nothing has been indexed yet: the network appears here as the indexer reads it."));
  };
}

/// The landing page's sections for the answer `d`.
function network(d, tok) {
  const datanets = tableCard("datanets", "Datanets", ["datanet", "owner", "contributions", "revenue"],
    d.datanets.nodes.map((n) => [entityLink("datanet", n.id), account(n.owner.address),
      `${formatCount(n.contributionCount)} (${formatCount(n.acceptedCount)} accepted)`, formatAmount(n.revenue.total, tok)]),
    { empty: "No datanet yet.", more: more(d.datanets, d.totals.datanetCount) });
  const models = tableCard("models", "Models", ["model", "owner", "inferences", "revenue"],
    d.models.nodes.map((n) => [
      h("span", {}, entityLink("model", n.id), n.baseModel ? h("small", {}, " adapter of ", entityLink("model", n.baseModel.id)) : null),
      account(n.owner.address), formatCount(n.usage.inferences), formatAmount(n.revenue.total, tok)]),
    { empty: "No model yet.", more: more(d.models, d.totals.modelCount) });
  const contributors = tableCard("contributors", "Top contributors", ["contributor", "accepted", "earned"],
    d.topContributors.map((a) => [account(a.address), formatCount(a.reputation.accepted), formatAmount(a.earnings.total, tok)]),
    { empty: "No contributor yet." });
  const latest = h("section", { class: "card wide", id: "inferences" }, h("h2", {}, "Latest inferences"));
  latest.append(d.inferences.nodes.length
    ? h("ul", { class: "inferences" }, ...d.inferences.nodes.map((n) => inference(n, tok)))
    : h("p", { class: "hint" }, "No inference settled yet."));
  return [totals(d.totals, tok), h("div", { class: "cards" }, datanets, models, contributors, latest)];
}
