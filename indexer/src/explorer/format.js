// How the explorer writes what the API returns: amounts in token units, counts grouped by thousands, ids
// as links to their entity. Ids, blocks and counts come as the API's U64 (a decimal string, exact past
// 2^53) and stay strings: never Number(), which would round them.
// Chain data is hostile: it is only ever set as text, an attribute or a parsed URL's href, never as HTML.

/// `wei` (a decimal string of base units, as the API's BigInt) in token units, exactly: the integer
/// part grouped by thousands, the fraction without trailing zeros, then the symbol ("1,234.5 SOIL").
export function formatAmount(wei, token) {
  const digits = String(wei);
  if (!/^[0-9]+$/.test(digits)) throw new Error(`not an amount in base units: "${digits}"`);
  const padded = digits.replace(/^0+(?=.)/, "").padStart(token.decimals + 1, "0");
  const whole = padded.slice(0, padded.length - token.decimals);
  const fraction = padded.slice(padded.length - token.decimals).replace(/0+$/, "");
  const grouped = whole.replace(/\B(?=([0-9]{3})+$)/g, ",");
  return `${grouped}${fraction ? `.${fraction}` : ""} ${token.symbol}`;
}

/// `count` (a decimal string, as the API's U64) grouped by thousands, exactly ("1,234,567").
export function formatCount(count) {
  const digits = String(count);
  if (!/^[0-9]+$/.test(digits)) throw new Error(`not a count: "${digits}"`);
  return digits.replace(/^0+(?=.)/, "").replace(/\B(?=([0-9]{3})+$)/g, ",");
}

/// A long hash or address as its first and last characters ("0x1234…abcd"); anything short as is.
function shorten(text) {
  const s = String(text);
  return s.length > 14 ? `${s.slice(0, 6)}…${s.slice(-4)}` : s;
}

/// The page of the entity `kind:key` (shareable: the explorer opens it from the URL's hash).
function entityHref(kind, key) {
  return `#${kind}:${key}`;
}

/// A link to the entity `kind:key`, labelled `label` (by default "kind key", hashes shortened), with the
/// full id in its title.
export function entityLink(kind, key, label) {
  const a = document.createElement("a");
  a.href = entityHref(kind, key);
  a.className = "id";
  a.dataset.kind = kind;
  a.textContent = label ?? (typeof key === "string" && key.startsWith("0x") ? shorten(key) : `${kind} ${key}`);
  a.title = `${kind} ${key}`;
  return a;
}

/// Makes a URI read from the chain a link when it is http or https, opened in a new tab without opener
/// or referrer; any other URI stays text.
export function uriNode(uri) {
  let url;
  try { url = new URL(uri); } catch { return document.createTextNode(uri); }
  if (url.protocol !== "http:" && url.protocol !== "https:") return document.createTextNode(uri);
  const a = document.createElement("a");
  a.href = url.href;
  a.textContent = uri;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  return a;
}

/// A weight in parts of one as a percentage with two decimals ("33.33 %").
export function percent(weight) {
  return `${(weight * 100).toFixed(2)} %`;
}
