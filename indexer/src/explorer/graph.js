// The attribution graph as SVG: a small deterministic force-directed layout, nodes sized by their value,
// edges as wide as their attribution weight; a click on a node opens that node's page.
import { formatAmount, percent } from "/format.js";

const SVG_NS = "http://www.w3.org/2000/svg";
export const KINDS = ["account", "datanet", "release", "model", "contribution", "inference"];

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

/// Draws `graph` (an `attributionGraph` answer) into the SVG `svg`, amounts in `token` units.
export function draw(svg, graph, token) {
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
    const weight = e.kind === "ATTRIBUTED" ? ` weight ${percent(e.weight)}` : "";
    const amount = e.amount !== null ? ` ${formatAmount(e.amount, token)}` : "";
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
    circle.appendChild(el("title", {}, `${node.label} (${formatAmount(node.value, token)})`));
    circle.addEventListener("click", () => { location.hash = `#${node.id}`; });
    nodes.appendChild(circle);
    nodes.appendChild(el("text", { x: pos[i].x + r + 2, y: pos[i].y + 3 }, node.label));
  });
  svg.appendChild(edges);
  svg.appendChild(nodes);
}
