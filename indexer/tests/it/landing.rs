//! The explorer's landing page in a real browser: headless Chromium (driven by
//! `indexer/tests/landing.mjs`) opens `/` with nothing typed, at 1400×900 and at a phone's 390×844, over a
//! store the indexer filled from anvil. The page must show the network as the API holds it (totals,
//! datanets, models, top contributors, latest inferences with their attributions), every amount in token
//! units written exactly (what it reads answered alike on SQLite and PostgreSQL), every id a link that
//! opens its entity, nothing wider than the window, no failed request or console error, and a full-page
//! screenshot of the window's width; over an empty store it says that nothing has been indexed yet, and
//! when `/graphql` fails it says how.

use serde_json::{Value, json};
use soil_bindings::testnet::{LocalChain, repo_root};
use soil_indexer::api::ApiConfig;
use soil_indexer::store::Store;

use crate::api::Served;
use crate::explorer::browse;
use crate::support::{self, Actors, PgCluster, TestResult};

/// What the landing page shows, read from the API.
const NETWORK: &str = "{
  token { symbol decimals }
  totals { datanetCount contributionCount acceptedCount modelCount inferenceCount fees dataRevenue }
  datanets(first: 10, order: DESC) { nodes { id revenue { total } } }
  models(first: 10, order: DESC) { nodes { id revenue { total } } }
  topContributors(first: 10) { address earnings { total } }
  inferences(first: 10, order: DESC) { nodes { digest fee attributions { amount contribution { id } } } }
}";

/// `wei` base units in token units, written as the explorer must: the integer part grouped by thousands
/// with commas, the fraction without trailing zeros, then the symbol.
pub(crate) fn units(wei: &str, decimals: usize, symbol: &str) -> String {
    let digits = wei.trim_start_matches('0');
    let padded = format!("{digits:0>width$}", width = decimals + 1);
    let (whole, fraction) = padded.split_at(padded.len() - decimals);
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction.trim_end_matches('0') {
        "" => format!("{grouped} {symbol}"),
        fraction => format!("{grouped}.{fraction} {symbol}"),
    }
}

/// A count (a `U64`: a decimal string) as the explorer writes it: grouped by thousands with commas.
fn count(value: &Value) -> String {
    units(&text(value), 0, "").trim_end().to_owned()
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// The width and height a PNG file declares (its IHDR chunk).
fn png_size(path: &std::path::Path) -> TestResult<(u32, u32)> {
    let bytes = std::fs::read(path)?;
    assert!(
        bytes.len() > 10_000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG with something drawn in it ({} bytes)",
        path.display(),
        bytes.len()
    );
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Ok((word(16), word(20)))
}

/// No element crosses the window's edges or is cut off inside its own box, and the document does not
/// scroll sideways.
fn assert_fits(layout: &Value, at: &str) {
    assert!(
        layout["document"]["scrollWidth"].as_i64() <= layout["document"]["clientWidth"].as_i64(),
        "{at}: the document scrolls sideways: {layout}"
    );
    assert_eq!(
        layout["outside"],
        json!([]),
        "{at}: elements outside the window"
    );
    assert_eq!(
        layout["clipped"],
        json!([]),
        "{at}: elements wider than their box"
    );
}

#[test]
fn explorer_amounts_are_written_in_token_units() {
    assert_eq!(units("0", 18, "SOIL"), "0 SOIL");
    assert_eq!(units("1", 18, "SOIL"), "0.000000000000000001 SOIL");
    assert_eq!(
        units("1234567890123456789012", 18, "SOIL"),
        "1,234.567890123456789012 SOIL"
    );
    assert_eq!(units("1000000", 6, "USDC"), "1 USDC");
    assert_eq!(units("123456789", 0, "T"), "123,456,789 T");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explorer_landing_page_shows_the_network_in_chromium() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    support::setup_graph(&chain, &actors).await?;
    support::use_graph(&chain, &actors).await?;
    // More models than a list shows: the page says how many there are.
    support::register_more_models(&chain, &actors, 11).await?;
    let dir = tempfile::tempdir()?;

    // Before the indexer has read anything the page says so.
    let (empty, _) = support::sqlite(dir.path(), "empty.db").await?;
    let api = Served::start(&empty, ApiConfig::default()).await?;
    let page = browse_landing(&api, "1400x900", &dir.path().join("empty.png"), &[])?;
    assert_eq!(page["state"], "ready", "{page}");
    assert!(
        text(&page["empty"]).starts_with("Nothing has been indexed yet"),
        "{page}"
    );
    assert_eq!(page["links"], json!([]), "{page}");
    drop(api);

    let (store, _) = support::sqlite(dir.path(), "landing.db").await?;
    support::index(&chain, &store, support::sync_config(2)).await?;
    let api = Served::start(&store, ApiConfig::default()).await?;
    let network = api.data(NETWORK, json!({})).await?;
    // PostgreSQL answers what the page reads as SQLite does (`topContributors` orders amounts as text).
    let cluster = PgCluster::start()?;
    let pg = Store::open(&cluster.database("landing")?).await?;
    support::index(&chain, &pg, support::sync_config(2)).await?;
    let on_pg = Served::start(&pg, ApiConfig::default()).await?;
    assert_eq!(on_pg.data(NETWORK, json!({})).await?, network);
    drop(on_pg);
    let symbol = text(&network["token"]["symbol"]);
    let decimals = network["token"]["decimals"].as_u64().unwrap_or_default() as usize;
    assert_eq!((symbol.as_str(), decimals), ("SOIL", 18));
    let amount = |wei: &Value| units(&text(wei), decimals, &symbol);
    let totals = &network["totals"];
    let models = network["models"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let inferences = network["inferences"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let contributors = network["topContributors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        models.len() == 10
            && totals["modelCount"] == json!("12")
            && !inferences.is_empty()
            && contributors.len() >= 2,
        "the scenario fills every list: {network}"
    );
    // Contributors come largest earnings first, and the list is capped like any page.
    let earned: Vec<u128> = contributors
        .iter()
        .map(|a| text(&a["earnings"]["total"]).parse().unwrap_or_default())
        .collect();
    assert!(earned.windows(2).all(|w| w[0] >= w[1]), "{earned:?}");
    let (message, _) = api
        .error("{ topContributors(first: 101) { address } }", json!({}))
        .await?;
    assert!(message.contains("between 0 and 100"), "{message}");
    let cases = [
        ("0", 18),
        ("1", 18),
        ("1000000000000000000", 18),
        ("1234567890123456789012", 18),
        ("000120", 2),
        ("1000000", 6),
        ("123456789", 0),
    ];

    for (width, height) in [(1400u32, 900u32), (390, 844)] {
        let at = format!("{width}x{height}");
        let screenshot = repo_root()
            .join("target")
            .join(format!("explorer-landing-{at}.png"));
        let _ = std::fs::remove_file(&screenshot);
        let page = browse_landing(&api, &at, &screenshot, &cases)?;
        assert_eq!(page["state"], "ready", "{at}: {page}");
        assert_eq!(page["view"], "landing", "{at}");
        assert_eq!(page["error"], Value::Null, "{at}: {page}");
        assert_eq!(page["failedRequests"], json!([]), "{at}: {page}");
        assert_eq!(page["errors"], json!([]), "{at}: {page}");

        // The totals, counts as the API has them and amounts in token units.
        let shown = &page["totals"];
        assert_eq!(
            shown["datanets"],
            json!(count(&totals["datanetCount"])),
            "{at}: {shown}"
        );
        assert_eq!(
            shown["models"],
            json!(count(&totals["modelCount"])),
            "{at}: {shown}"
        );
        assert_eq!(
            shown["inferences"],
            json!(count(&totals["inferenceCount"])),
            "{at}: {shown}"
        );
        assert_eq!(
            shown["contributions"],
            json!(format!(
                "{} ({} accepted)",
                count(&totals["contributionCount"]),
                count(&totals["acceptedCount"])
            )),
            "{at}: {shown}"
        );
        assert_eq!(
            shown["fees settled"],
            json!(amount(&totals["fees"])),
            "{at}: {shown}"
        );
        assert_eq!(
            shown["paid to data"],
            json!(amount(&totals["dataRevenue"])),
            "{at}: {shown}"
        );

        // The lists: one row per entity, newest first, each with its id and amount.
        for (list, rows) in [
            ("datanets", &network["datanets"]["nodes"]),
            ("models", &network["models"]["nodes"]),
        ] {
            let rows = rows.as_array().cloned().unwrap_or_default();
            let shown = page[list].as_array().cloned().unwrap_or_default();
            assert_eq!(shown.len(), rows.len(), "{at}: {list}: {page}");
            let kind = list.trim_end_matches('s');
            for (row, node) in shown.iter().zip(&rows) {
                assert!(
                    text(&row[0]).starts_with(&format!("{kind} {}", text(&node["id"]))),
                    "{at}: {row}"
                );
                assert_eq!(
                    row.as_array().and_then(|r| r.last()),
                    Some(&json!(amount(&node["revenue"]["total"]))),
                    "{at}: {row}"
                );
            }
        }
        let shown = page["contributors"].as_array().cloned().unwrap_or_default();
        assert_eq!(shown.len(), contributors.len(), "{at}: {page}");
        for (row, account) in shown.iter().zip(&contributors) {
            assert_eq!(
                row[2],
                json!(amount(&account["earnings"]["total"])),
                "{at}: {row}"
            );
            let href = format!("#account:{}", text(&account["address"]));
            assert!(
                page["links"]
                    .as_array()
                    .is_some_and(|links| links.iter().any(|l| l["href"] == json!(href))),
                "{at}: {href}"
            );
        }
        let shown = page["inferences"].as_array().cloned().unwrap_or_default();
        assert_eq!(shown.len(), inferences.len(), "{at}: {page}");
        for (item, node) in shown.iter().zip(&inferences) {
            assert_eq!(
                item["links"][0],
                json!(format!("#inference:{}", text(&node["digest"]))),
                "{at}: {item}"
            );
            assert!(
                text(&item["head"]).contains(&amount(&node["fee"])),
                "{at}: {item}"
            );
            let attributions = node["attributions"].as_array().cloned().unwrap_or_default();
            assert_eq!(
                item["attributions"].as_array().map(Vec::len),
                Some(attributions.len()),
                "{at}: {item}"
            );
            for (line, edge) in item["attributions"]
                .as_array()
                .into_iter()
                .flatten()
                .zip(&attributions)
            {
                let line = text(line);
                assert!(
                    line.starts_with(&format!(
                        "contribution {}",
                        text(&edge["contribution"]["id"])
                    )) && line.contains(&amount(&edge["amount"])),
                    "{at}: {line} shows {edge}"
                );
            }
        }
        assert!(
            page["inferences"].as_array().is_some_and(|items| items
                .iter()
                .any(|i| i["attributions"].as_array().is_some_and(|a| !a.is_empty()))),
            "{at}: some inference shows its attributions: {page}"
        );

        // Every link names an entity, and one of each kind opens that entity's page.
        let links = page["links"].as_array().cloned().unwrap_or_default();
        for link in &links {
            let href = text(&link["href"]);
            let (kind, key) = href
                .trim_start_matches('#')
                .split_once(':')
                .unwrap_or_default();
            assert!(
                href.starts_with('#')
                    && ["account", "datanet", "model", "contribution", "inference"].contains(&kind)
                    && !key.is_empty()
                    && link["title"] == json!(format!("{kind} {key}")),
                "{at}: {link}"
            );
        }
        let visits = page["visits"].as_array().cloned().unwrap_or_default();
        assert_eq!(visits.len(), 5, "{at}: one visit per kind: {page}");
        for visit in &visits {
            let href = text(&visit["href"]);
            let (kind, key) = href
                .trim_start_matches('#')
                .split_once(':')
                .unwrap_or_default();
            assert_eq!(visit["hash"], json!(href), "{at}: {visit}");
            assert_eq!(visit["state"], "ready", "{at}: {visit}");
            assert_eq!(
                visit["heading"],
                json!(format!("{kind} {key}")),
                "{at}: {visit}"
            );
            assert!(
                visit["nodes"].as_u64() > Some(0),
                "{at}: the graph is drawn: {visit}"
            );
            assert_fits(&visit["layout"], &format!("{at} {href}"));
            let shot = screenshot.with_file_name(format!("explorer-landing-{at}-{kind}.png"));
            assert_eq!(png_size(&shot)?.0, width, "{}", shot.display());
        }
        assert_eq!(
            page["back"],
            json!({ "state": "ready", "totals": 8 }),
            "{at}: back to the landing page"
        );

        assert_eq!(
            page["apiDown"],
            json!({ "state": "error",
                    "error": "the indexer answered HTTP 503 Service Unavailable without GraphQL JSON" }),
            "{at}: an API that fails is reported on the page"
        );
        assert_fits(&page["layout"], &at);
        let expected: Vec<String> = cases.iter().map(|(wei, d)| units(wei, *d, "TOK")).collect();
        assert_eq!(page["formats"], json!(expected), "{at}");
        assert_eq!(
            page["counts"],
            json!([
                "0",
                "7",
                "1,234",
                "2,147,483,648",
                "9,007,199,254,740,993",
                "18,446,744,073,709,551,615"
            ]),
            "{at}: counts (U64 strings) grouped exactly"
        );
        let (png_width, png_height) = png_size(&screenshot)?;
        assert!(
            png_width == width && png_height >= height,
            "{at}: screenshot {png_width}x{png_height}"
        );
    }
    Ok(())
}

/// Runs `landing.mjs` at `viewport` (`WxH`), writing `screenshot` and formatting `cases` in the page.
fn browse_landing(
    api: &Served,
    viewport: &str,
    screenshot: &std::path::Path,
    cases: &[(&str, usize)],
) -> TestResult<Value> {
    browse(
        "landing.mjs",
        [
            &format!("{}/", api.base),
            viewport,
            &screenshot.display().to_string(),
            &serde_json::to_string(cases)?,
        ],
    )
}
