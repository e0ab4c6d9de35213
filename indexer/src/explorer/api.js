// The explorer's one way to the indexer: GraphQL POSTs to /graphql, failing with a message a person can
// act on (the HTTP status, the API's own error messages, or that the indexer cannot be reached).

/// The data of `query` with `variables`, or an Error saying why there is none.
export async function graphql(query, variables = {}) {
  let res;
  try {
    res = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
    });
  } catch (err) {
    throw new Error(`the indexer cannot be reached (${err.message})`);
  }
  let body;
  try {
    body = await res.json();
  } catch {
    throw new Error(`the indexer answered HTTP ${res.status} ${res.statusText} without GraphQL JSON`);
  }
  if (body.errors && body.errors.length) {
    throw new Error(`the API refused the query: ${body.errors.map((e) => e.message).join("; ")}`);
  }
  if (!res.ok || !body.data) throw new Error(`the indexer answered HTTP ${res.status} ${res.statusText}`);
  return body.data;
}

let tokenRead;

/// The payment token amounts are counted in (`{ symbol, decimals }`), asked for once.
export function token() {
  tokenRead ??= graphql("{ token { symbol decimals } }").then((d) => d.token, (err) => {
    tokenRead = undefined;
    throw err;
  });
  return tokenRead;
}
