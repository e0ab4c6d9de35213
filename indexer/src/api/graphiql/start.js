// Mounts GraphiQL on this indexer's /graphql: queries over HTTP, subscriptions over WebSocket
// (graphql-transport-ws). `?query=` in the page's URL opens the editor with that query.
"use strict";

const endpoint = new URL("/graphql", window.location.href);
const subscriptions = new URL(endpoint);
subscriptions.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

const fetcher = GraphiQL.createFetcher({
  url: endpoint.href,
  subscriptionUrl: subscriptions.href,
});

const defaultQuery = `# Soil's attribution graph. Press the run button (or Ctrl-Enter).
{
  _meta { blockNumber synced }
  totals { inferenceCount fees dataRevenue }
}
`;

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery,
    query: new URLSearchParams(window.location.search).get("query") ?? undefined,
    defaultEditorToolsVisibility: true,
  }),
);
