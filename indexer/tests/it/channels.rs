//! Usage channels: a channel opened, vouchers settled with their receipts logs served by a small HTTP
//! server here (one that proves its voucher, one never published, one tampered with, and hostile ones:
//! not http, too large, too slow), on SQLite and PostgreSQL. GraphQL shows the channel, its settlements,
//! each log's status and the verified receipts; every earning equals the escrow's balances to the wei;
//! a reorg that removes a settlement removes its rows and receipts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use serde_json::json;
use soil_bindings::Attribution;
use soil_bindings::channel::{ChannelDomain, LogEntry, PeriodTotals, ReceiptsLog, SplitTerms};
use soil_bindings::contracts::IUsageEscrow::UsageReceipt;
use soil_bindings::contracts::{IPaymentToken, IUsageChannels, IUsageEscrow};
use soil_bindings::testnet::LocalChain;
use soil_indexer::api::ApiConfig;
use soil_indexer::logs::fetch::FetchLimits;
use soil_indexer::logs::{LogConfig, LogFetcher};
use soil_indexer::store::Store;
use sqlx::Row;

use crate::api::Served;
use crate::reorg::reorg;
use crate::support::{
    Actors, PgCluster, SPLIT, TestResult, index, reader, send, setup_graph, sqlite, sync_config,
    wallet,
};

/// A channel: its id, its model, and the model's split as a voucher's totals use it.
#[derive(Debug, Clone, Copy)]
struct Paying {
    channel_id: u64,
    model_id: u64,
    terms: SplitTerms,
}

/// Channel 1, for model 1 (a whole model: no base share).
const MODEL_1: Paying = Paying {
    channel_id: 1,
    model_id: 1,
    terms: SplitTerms {
        owner_bps: SPLIT.0,
        base_share_bps: 0,
        node_bps: SPLIT.2,
        data_bps: SPLIT.1,
    },
};

/// What the test's log server answers, by name.
#[derive(Clone, Default)]
struct LogBodies {
    bodies: HashMap<String, Vec<u8>>,
}

/// A log server on a free loopback port: `/logs/<name>` answers the body stored under `name`, `/slow`
/// answers after a minute, `/huge` streams more than the fetcher reads, anything else is a 404.
async fn log_server(
    bodies: HashMap<String, Vec<u8>>,
) -> TestResult<(String, tokio::task::JoinHandle<()>)> {
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::routing::get;
    let state = Arc::new(LogBodies { bodies });
    let app = axum::Router::new()
        .route(
            "/logs/{name}",
            get(
                |State(s): State<Arc<LogBodies>>, Path(name): Path<String>| async move {
                    s.bodies.get(&name).cloned().ok_or(StatusCode::NOT_FOUND)
                },
            ),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        )
        .route("/huge", get(|| async { vec![b' '; 4 << 20] }))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("log server");
    });
    Ok((base, server))
}

/// One inference of a period: its fee and attribution `(contributionId, weightPpm)`.
type Inference = (u64, Vec<(u64, u32)>);

/// One period of the channel: its receipts log and the voucher over it.
struct Period {
    log: ReceiptsLog,
    voucher: IUsageChannels::Voucher,
}

/// Period `period` of `paying`'s channel, starting at cumulative fee `start_fee`, with `uses` inferences
/// (`(fee, attribution)`), numbered from `first_nonce`.
fn period(
    actors: &Actors,
    paying: Paying,
    period: u32,
    start_fee: U256,
    first_nonce: u64,
    uses: &[Inference],
) -> TestResult<Period> {
    let mut totals = PeriodTotals::default();
    let mut entries = Vec::new();
    for (k, (fee, attribution)) in uses.iter().enumerate() {
        let nonce = first_nonce + k as u64;
        let attribution = Attribution::new(attribution.clone())?;
        totals.add(&paying.terms, U256::from(*fee), &attribution);
        entries.push(LogEntry {
            receipt: UsageReceipt {
                payer: actors.payer.address(),
                modelId: paying.model_id,
                node: actors.node.address(),
                promptHash: keccak256(format!("channel prompt {nonce}")),
                outputHash: keccak256(format!("channel output {nonce}")),
                outputURI: format!("ipfs://channel-output-{nonce}"),
                inputTokens: 100,
                outputTokens: 200,
                fee: U256::from(*fee),
                nonce: U256::from(nonce),
                deadline: 0,
                attributionVersion: 1,
                attributionHash: attribution.hash(),
            },
            attribution,
        });
    }
    let log = ReceiptsLog {
        channel_id: paying.channel_id,
        period,
        entries,
    };
    let voucher = totals.voucher(paying.channel_id, period, start_fee, log.root());
    Ok(Period { log, voucher })
}

/// The node settles `voucher`, signed by the payer, naming `uri`.
async fn settle(
    chain: &LocalChain,
    actors: &Actors,
    voucher: &IUsageChannels::Voucher,
    uri: &str,
) -> TestResult {
    let domain = ChannelDomain {
        chain_id: chain.deployment.chain_id,
        channels: chain.deployment.usage_channels,
    };
    let signature = domain.sign(voucher, &actors.payer).await?;
    let channels =
        IUsageChannels::new(chain.deployment.usage_channels, wallet(chain, &actors.node));
    send!(channels.settle(voucher.clone(), signature, uri.to_owned()));
    Ok(())
}

/// The settlements of the scenario, by name, with the URI each names.
struct Scenario {
    periods: Vec<(&'static str, Period, String)>,
    _server: tokio::task::JoinHandle<()>,
}

impl Scenario {
    fn digest(&self, chain: &LocalChain, name: &str) -> B256 {
        let domain = ChannelDomain {
            chain_id: chain.deployment.chain_id,
            channels: chain.deployment.usage_channels,
        };
        let (_, period, _) = self
            .periods
            .iter()
            .find(|(n, _, _)| *n == name)
            .expect("a period of the scenario");
        domain.digest(&period.voucher)
    }
}

/// Datanet, contributions, release and model (`setup_graph`), a channel of the payer's to the node for
/// model 1, and seven settlements: `good` (its log served), `missing` (never published), `tampered` (a
/// receipt's output hash changed), `not-http`, `huge`, `slow`, and `last` (served, proving).
async fn scenario(chain: &LocalChain, actors: &Actors) -> TestResult<Scenario> {
    setup_graph(chain, actors).await?;
    let d = &chain.deployment;
    let token = IPaymentToken::new(d.token, wallet(chain, &actors.payer));
    send!(token.approve(d.usage_channels, U256::MAX));
    let channels = IUsageChannels::new(d.usage_channels, wallet(chain, &actors.payer));
    send!(channels.open(
        actors.node.address(),
        1,
        actors.payer.address(),
        U256::from(10_000_000u64)
    ));
    send!(channels.fund(1, U256::from(5_000_000u64)));
    let uses: [&[Inference]; 7] = [
        &[
            (999_999, vec![(1, 500_000), (2, 333_333)]),
            (123_457, vec![(3, 1_000_000)]),
            (77_777, vec![]),
        ],
        &[(500_001, vec![(2, 250_000)])],
        &[(300_003, vec![(1, 100_000)]), (41, vec![(3, 7)])],
        &[(10_000, vec![(1, 1)])],
        &[(20_000, vec![(2, 2)])],
        &[(30_000, vec![(3, 3)])],
        &[
            (654_321, vec![(3, 600_000), (1, 400_000)]),
            (1_111, vec![(2, 999_999)]),
        ],
    ];
    let names = [
        "good", "missing", "tampered", "not-http", "huge", "slow", "last",
    ];
    let mut built = Vec::new();
    let (mut start_fee, mut nonce) = (U256::ZERO, 1u64);
    for (p, (name, uses)) in names.iter().zip(uses).enumerate() {
        let period = period(actors, MODEL_1, p as u32, start_fee, nonce, uses)?;
        start_fee = period.voucher.fee;
        nonce += uses.len() as u64;
        built.push((*name, period));
    }
    let mut bodies = HashMap::new();
    for (name, period) in &built {
        let json = match *name {
            "tampered" => {
                let mut log = period.log.clone();
                log.entries[1].receipt.outputHash = keccak256("another output");
                log.to_json()
            }
            _ => period.log.to_json(),
        };
        bodies.insert((*name).to_owned(), json);
    }
    let (base, server) = log_server(bodies).await?;
    let closed = format!(
        "http://127.0.0.1:{}/logs/missing",
        crate::support::free_port()?
    );
    let mut periods = Vec::new();
    for (name, period) in built {
        let uri = match name {
            "missing" => closed.clone(),
            "not-http" => "ipfs://bafy-not-fetched".to_owned(),
            "huge" => format!("{base}/huge"),
            "slow" => format!("{base}/slow"),
            _ => format!("{base}/logs/{name}"),
        };
        settle(chain, actors, &period.voucher, &uri).await?;
        periods.push((name, period, uri));
    }
    Ok(Scenario {
        periods,
        _server: server,
    })
}

/// The fetcher of the tests: short limits, two tries, no wait between them.
fn fetcher(store: &Store) -> LogFetcher {
    LogFetcher::new(
        store.clone(),
        LogConfig {
            limits: FetchLimits {
                timeout: Duration::from_millis(500),
                max_bytes: 64 << 10,
            },
            max_attempts: 2,
            backoff: Duration::ZERO,
            poll_interval: Duration::from_millis(20),
            concurrency: 4,
        },
    )
}

/// Runs the fetcher's rounds until no log is pending (within a bound), each by a new fetcher as after a
/// restart: what is pending (and how many tries it had) is in the store.
async fn fetch_all(store: &Store) -> TestResult {
    for _ in 0..50 {
        fetcher(store).round().await?;
        let pending: i64 =
            sqlx::query("SELECT COUNT(*) FROM voucher_settlements WHERE log_status = 'PENDING'")
                .fetch_one(store.pool())
                .await?
                .try_get(0)?;
        if pending == 0 {
            return Ok(());
        }
    }
    Err("logs still pending after 50 rounds".into())
}

fn addr(a: Address) -> String {
    format!("{a:#x}")
}

const CHANNEL: &str = "query($id: U64!) { channel(id: $id) {
    id state deposit settledFee period settlementCount signer
    payer { address } node { address } model { id }
    settlements(first: 7) { nodes {
        digest period inferences fee amount ownerShare baseShare nodeShare dataShare
        contributions { contribution { id } amount }
        logRoot logUri logStatus logProblem channel { id }
        receipts(first: 3) { nodes { digest fee channelPeriod channel { id } voucherSettlement { digest }
            attributions { contribution { id } amount } } }
    } }
} }";

/// What GraphQL and the chain say agree: the channel, each settlement's fields and log status, the
/// verified receipts, and every account's earnings against the escrow's balances.
async fn check(chain: &LocalChain, actors: &Actors, store: &Store, s: &Scenario) -> TestResult {
    let config = ApiConfig {
        response_cache_bytes: 0,
        ..ApiConfig::default()
    };
    let api = Served::start(store, config).await?;
    let data = api.data(CHANNEL, json!({ "id": "1" })).await?;
    let channel = &data["channel"];
    let on_chain = IUsageChannels::new(chain.deployment.usage_channels, reader(chain))
        .getChannel(1)
        .call()
        .await?;
    assert_eq!(channel["state"], "OPEN");
    assert_eq!(channel["deposit"], on_chain.deposit.to_string());
    assert_eq!(channel["settledFee"], on_chain.settledFee.to_string());
    assert_eq!(channel["period"], on_chain.period.to_string());
    assert_eq!(channel["settlementCount"], s.periods.len().to_string());
    assert_eq!(channel["payer"]["address"], addr(actors.payer.address()));
    assert_eq!(channel["node"]["address"], addr(actors.node.address()));
    assert_eq!(channel["model"]["id"], "1");
    let settlements = channel["settlements"]["nodes"]
        .as_array()
        .ok_or("settlements")?;
    assert_eq!(settlements.len(), s.periods.len());
    for ((name, period, uri), got) in s.periods.iter().zip(settlements) {
        let v = &period.voucher;
        assert_eq!(got["digest"], addr_hash(s.digest(chain, name)), "{name}");
        assert_eq!(got["period"], v.period.to_string(), "{name}");
        assert_eq!(got["inferences"], v.inferences.to_string(), "{name}");
        assert_eq!(got["fee"], v.fee.to_string(), "{name}");
        assert_eq!(got["amount"], (v.fee - v.startFee).to_string(), "{name}");
        assert_eq!(got["ownerShare"], v.ownerShare.to_string(), "{name}");
        assert_eq!(got["baseShare"], "0", "{name}");
        assert_eq!(got["nodeShare"], v.nodeShare.to_string(), "{name}");
        assert_eq!(got["dataShare"], v.dataShare.to_string(), "{name}");
        assert_eq!(got["logRoot"], addr_hash(v.logRoot), "{name}");
        assert_eq!(got["logUri"], uri.as_str(), "{name}");
        assert_eq!(got["channel"]["id"], "1", "{name}");
        let contributions: Vec<(String, String)> = got["contributions"]
            .as_array()
            .ok_or("contributions")?
            .iter()
            .map(|c| {
                (
                    c["contribution"]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    c["amount"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = v
            .contributionIds
            .iter()
            .zip(&v.contributionAmounts)
            .map(|(id, amount)| (id.to_string(), amount.to_string()))
            .collect();
        assert_eq!(contributions, expected, "{name}");
        let (status, problem) = match *name {
            "good" | "last" => ("VERIFIED", None),
            "missing" => ("MISSING", Some("after 2 tries")),
            "tampered" => ("MISMATCH", Some("is not the voucher's logRoot")),
            "not-http" => ("MISSING", Some("not an http(s) URI")),
            "huge" => ("MISSING", Some("larger than 65536 bytes")),
            "slow" => ("MISSING", Some("no whole answer within 500 ms")),
            other => unreachable!("{other}"),
        };
        assert_eq!(got["logStatus"], status, "{name}: {got}");
        match problem {
            None => assert!(got["logProblem"].is_null(), "{name}: {got}"),
            Some(p) => assert!(
                got["logProblem"].as_str().unwrap_or_default().contains(p),
                "{name}: {got}"
            ),
        }
        let receipts = got["receipts"]["nodes"].as_array().ok_or("receipts")?;
        if status != "VERIFIED" {
            assert!(
                receipts.is_empty(),
                "{name}: an unproven log adds no receipts"
            );
            continue;
        }
        assert_eq!(receipts.len(), period.log.entries.len(), "{name}");
        for (entry, receipt) in period.log.entries.iter().zip(receipts) {
            assert_eq!(receipt["digest"], addr_hash(entry.leaf(1)), "{name}");
            assert_eq!(receipt["fee"], entry.receipt.fee.to_string());
            assert_eq!(receipt["channelPeriod"], v.period.to_string());
            assert_eq!(receipt["channel"]["id"], "1");
            assert_eq!(
                receipt["voucherSettlement"]["digest"],
                addr_hash(s.digest(chain, name))
            );
            let named: Vec<&str> = receipt["attributions"]
                .as_array()
                .ok_or("attributions")?
                .iter()
                .filter_map(|a| a["contribution"]["id"].as_str())
                .collect();
            let ids: Vec<String> = entry
                .attribution
                .entries
                .iter()
                .map(|(id, _)| id.to_string())
                .collect();
            assert_eq!(named, ids, "{name}");
        }
    }
    // A verified log's receipts are inferences like any: listed, and found by their digest.
    let (_, last, _) = s.periods.last().ok_or("periods")?;
    let leaf = addr_hash(last.log.entries[0].leaf(1));
    let found = api
        .data(
            "query($d: String!) { inference(digest: $d) { digest channelPeriod channel { id } } }",
            json!({ "d": leaf }),
        )
        .await?;
    assert_eq!(found["inference"]["channelPeriod"], "6");
    // In the attribution graph like any inference: the first `good` receipt, sized by its fee, to its
    // model, payer, node and the two contributions it names.
    let (_, good, _) = &s.periods[0];
    let receipt = &good.log.entries[0];
    let q = "query($root: ID!) { attributionGraph(root: $root, depth: 1) {
        nodes { id value } edges { target kind weight } } }";
    let g = &api
        .data(q, json!({ "root": addr_hash(receipt.leaf(1)) }))
        .await?["attributionGraph"];
    let root = format!("inference:{}", addr_hash(receipt.leaf(1)));
    let root_node = g["nodes"]
        .as_array()
        .ok_or("nodes")?
        .iter()
        .find(|n| n["id"] == root.as_str())
        .ok_or("the receipt's node")?;
    assert_eq!(root_node["value"], receipt.receipt.fee.to_string(), "{g}");
    assert_eq!(g["nodes"].as_array().map(Vec::len), Some(6), "{g}");
    let attributed: Vec<(&str, f64)> = g["edges"]
        .as_array()
        .ok_or("edges")?
        .iter()
        .filter(|e| e["kind"] == "ATTRIBUTED")
        .filter_map(|e| Some((e["target"].as_str()?, e["weight"].as_f64()?)))
        .collect();
    assert_eq!(
        attributed,
        [("contribution:1", 0.5), ("contribution:2", 0.333333)],
        "{g}"
    );
    let listed = api
        .data(
            "{ channels(first: 5, payer: \"PAYER\") { nodes { id } } }"
                .replace("PAYER", &addr(actors.payer.address()))
                .as_str(),
            json!({}),
        )
        .await?;
    assert_eq!(listed["channels"]["nodes"], json!([{ "id": "1" }]));
    earnings_agree_with_the_escrow(chain, actors, &api).await
}

fn addr_hash(h: B256) -> String {
    format!("{h:#x}")
}

/// Every contributor's, the node's and the model owner's earnings equal the escrow's balances to the wei
/// (no claim in this scenario: a balance is everything credited), and the network's fees are the
/// channel's settled fee.
async fn earnings_agree_with_the_escrow(
    chain: &LocalChain,
    actors: &Actors,
    api: &Served,
) -> TestResult {
    let escrow = IUsageEscrow::new(chain.deployment.usage_escrow, reader(chain));
    let q =
        "query($a: String!) { account(address: $a) { earnings { total asModelOwner asNode } } }";
    let earning = |who: &PrivateKeySigner, field: &'static str| {
        let address = addr(who.address());
        async move {
            let data = api.data(q, json!({ "a": address })).await?;
            TestResult::Ok(
                data["account"]["earnings"][field]
                    .as_str()
                    .unwrap_or("0")
                    .to_owned(),
            )
        }
    };
    for (who, field) in [
        (&actors.alice, "total"),
        (&actors.bob, "total"),
        (&actors.node, "asNode"),
        (&actors.model_owner, "asModelOwner"),
    ] {
        assert_eq!(
            earning(who, field).await?,
            escrow.balanceOf(who.address()).call().await?.to_string(),
            "{field} of {}",
            who.address()
        );
    }
    let on_chain = IUsageChannels::new(chain.deployment.usage_channels, reader(chain))
        .getChannel(1)
        .call()
        .await?;
    let totals = api
        .data("{ totals { fees poolAccrued credited } }", json!({}))
        .await?;
    assert_eq!(totals["totals"]["fees"], on_chain.settledFee.to_string());
    assert_eq!(
        totals["totals"]["poolAccrued"],
        escrow.unclaimedPoolRewards().call().await?.to_string()
    );
    assert_eq!(
        totals["totals"]["credited"],
        escrow.totalCredited().call().await?.to_string()
    );
    // Each contributor's contributions earned its balance; the top contributors' earnings are theirs;
    // the model's revenue is the settled fee and its owner and node parts the balances.
    let q = "{ c1: contribution(id: 1) { earnings { total } } c2: contribution(id: 2) { earnings { total } }
        c3: contribution(id: 3) { earnings { total } }
        topContributors(first: 5) { address earnings { total } }
        model(id: 1) { revenue { total owner node } } }";
    let data = api.data(q, json!({})).await?;
    let earned = |c: &str| -> U256 {
        data[c]["earnings"]["total"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or_default()
    };
    let escrow = &escrow;
    let balance = |who: Address| async move { escrow.balanceOf(who).call().await };
    assert_eq!(
        earned("c1") + earned("c2"),
        balance(actors.alice.address()).await?
    );
    assert_eq!(earned("c3"), balance(actors.bob.address()).await?);
    let top = data["topContributors"]
        .as_array()
        .ok_or("topContributors")?;
    assert!(!top.is_empty());
    for account in top {
        let address: Address = account["address"].as_str().ok_or("address")?.parse()?;
        assert_eq!(
            account["earnings"]["total"],
            balance(address).await?.to_string(),
            "top contributor {address}"
        );
    }
    let revenue = &data["model"]["revenue"];
    assert_eq!(revenue["total"], on_chain.settledFee.to_string());
    assert_eq!(
        revenue["owner"],
        balance(actors.model_owner.address()).await?.to_string()
    );
    assert_eq!(
        revenue["node"],
        balance(actors.node.address()).await?.to_string()
    );
    Ok(())
}

async fn count(store: &Store, sql: &str, digest: B256) -> TestResult<i64> {
    Ok(sqlx::query(sql)
        .bind(addr_hash(digest))
        .fetch_one(store.pool())
        .await?
        .try_get(0)?)
}

/// The last settlement reorged away: its settlement, contributions, receipts and edges are gone from
/// `store`, the channel is back a period, and the earnings still equal the balances.
async fn reorg_removes_the_last_settlement(
    chain: &LocalChain,
    actors: &Actors,
    s: &Scenario,
    stores: &[&Store],
) -> TestResult {
    let digest = s.digest(chain, "last");
    let (_, last, _) = s.periods.last().ok_or("periods")?;
    let leaves: Vec<String> = last
        .log
        .entries
        .iter()
        .map(|e| addr_hash(e.leaf(1)))
        .collect();
    for store in stores {
        assert_eq!(
            count(
                store,
                "SELECT COUNT(*) FROM receipts WHERE settlement = $1",
                digest
            )
            .await?,
            2
        );
    }
    reorg(chain, 1).await?;
    for store in stores {
        index(chain, store, sync_config(64)).await?;
        for (sql, what) in [
            (
                "SELECT COUNT(*) FROM voucher_settlements WHERE digest = $1",
                "settlement",
            ),
            (
                "SELECT COUNT(*) FROM voucher_contributions WHERE digest = $1",
                "contributions",
            ),
            (
                "SELECT COUNT(*) FROM receipts WHERE settlement = $1",
                "receipts",
            ),
        ] {
            assert_eq!(count(store, sql, digest).await?, 0, "the reverted {what}");
        }
        for leaf in &leaves {
            let edges: i64 =
                sqlx::query("SELECT COUNT(*) FROM attribution_edges WHERE digest = $1")
                    .bind(leaf)
                    .fetch_one(store.pool())
                    .await?
                    .try_get(0)?;
            assert_eq!(edges, 0, "the reverted receipts' edges");
        }
        let api = Served::start(
            store,
            ApiConfig {
                response_cache_bytes: 0,
                ..ApiConfig::default()
            },
        )
        .await?;
        let data = api
            .data(
                "{ channel(id: \"1\") { period settlementCount } }",
                json!({}),
            )
            .await?;
        assert_eq!(data["channel"]["period"], "6");
        assert_eq!(data["channel"]["settlementCount"], "6");
        earnings_agree_with_the_escrow(chain, actors, &api).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_settle_verify_their_logs_and_agree_with_the_chain_on_sqlite_and_postgres()
-> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    let s = scenario(&chain, &actors).await?;
    let dir = tempfile::tempdir()?;
    let (lite, _) = sqlite(dir.path(), "channels.db").await?;
    let cluster = PgCluster::start()?;
    let pg = Store::open(&cluster.database("channels")?).await?;
    for store in [&lite, &pg] {
        index(&chain, store, sync_config(64)).await?;
        fetch_all(store).await?;
        check(&chain, &actors, store, &s).await?;
    }
    reorg_removes_the_last_settlement(&chain, &actors, &s, &[&lite, &pg]).await
}

/// The fetcher keeps going past what hostile servers do (a slow answer, a huge one, a URI that is not
/// http), and a settlement indexed while a fetch hangs is not held up: the sync path never waits on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_sync_is_not_held_up_by_a_hanging_log() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    let s = scenario(&chain, &actors).await?;
    let dir = tempfile::tempdir()?;
    let (store, _) = sqlite(dir.path(), "hanging.db").await?;
    // A fetcher that would wait a minute on `/slow`, running the whole time the indexer syncs.
    let patient = LogFetcher::new(
        store.clone(),
        LogConfig {
            limits: FetchLimits {
                timeout: Duration::from_secs(120),
                max_bytes: 64 << 10,
            },
            ..LogConfig::default()
        },
    );
    let background = tokio::spawn(patient.run());
    let started = std::time::Instant::now();
    index(&chain, &store, sync_config(64)).await?;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "indexing took {:?}",
        started.elapsed()
    );
    let settled: i64 = sqlx::query("SELECT COUNT(*) FROM voucher_settlements")
        .fetch_one(store.pool())
        .await?
        .try_get(0)?;
    assert_eq!(settled, s.periods.len() as i64);
    background.abort();
    Ok(())
}

/// The payer asks to close, waits the close window and closes: the channel is `CLOSING` with the chain's
/// `closesAt`, then `CLOSED` with what went back to the payer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_close_with_their_refund() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    let _s = scenario(&chain, &actors).await?;
    let dir = tempfile::tempdir()?;
    let (store, _) = sqlite(dir.path(), "close.db").await?;
    let as_payer = IUsageChannels::new(
        chain.deployment.usage_channels,
        wallet(&chain, &actors.payer),
    );
    send!(as_payer.requestClose(1));
    index(&chain, &store, sync_config(64)).await?;
    let config = || ApiConfig {
        response_cache_bytes: 0,
        ..ApiConfig::default()
    };
    let q = "{ channel(id: 1) { state closesAt refund settledFee deposit } }";
    let on_chain = IUsageChannels::new(chain.deployment.usage_channels, reader(&chain))
        .getChannel(1)
        .call()
        .await?;
    let api = Served::start(&store, config()).await?;
    let closing = api.data(q, json!({})).await?;
    assert_eq!(closing["channel"]["state"], "CLOSING");
    assert_eq!(
        closing["channel"]["closesAt"],
        on_chain.closesAt.to_string()
    );
    assert_eq!(closing["channel"]["refund"], "0");

    let window = IUsageChannels::new(chain.deployment.usage_channels, reader(&chain))
        .CLOSE_WINDOW()
        .call()
        .await?;
    crate::support::advance_time(&chain, window).await?;
    let as_payer = IUsageChannels::new(
        chain.deployment.usage_channels,
        wallet(&chain, &actors.payer),
    );
    send!(as_payer.close(1));
    index(&chain, &store, sync_config(64)).await?;
    let closed = api.data(q, json!({})).await?;
    assert_eq!(closed["channel"]["state"], "CLOSED");
    assert_eq!(
        closed["channel"]["refund"],
        (on_chain.deposit - on_chain.settledFee).to_string()
    );
    assert_eq!(
        closed["channel"]["settledFee"],
        on_chain.settledFee.to_string()
    );
    Ok(())
}

/// A channel for an adapter (model 2 on model 1, whose owner takes a derivative share): the voucher's
/// base share reaches the base model's owner, its log verifies with the adapter's terms, and every
/// balance agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_for_an_adapter_pays_the_base_share() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    setup_graph(&chain, &actors).await?;
    crate::adapters::set_share(&chain, &actors).await?;
    crate::adapters::register_adapter(&chain, &actors, "adapter for a channel").await?;
    let d = &chain.deployment;
    let token = IPaymentToken::new(d.token, wallet(&chain, &actors.payer));
    send!(token.approve(d.usage_channels, U256::MAX));
    let channels = IUsageChannels::new(d.usage_channels, wallet(&chain, &actors.payer));
    send!(channels.open(
        actors.node.address(),
        2,
        actors.payer.address(),
        U256::from(10_000_000u64)
    ));
    let adapter = Paying {
        channel_id: 1,
        model_id: 2,
        terms: SplitTerms {
            base_share_bps: crate::adapters::SHARE_BPS,
            ..MODEL_1.terms
        },
    };
    let uses: &[Inference] = &[
        (999_999, vec![(1, 500_000)]),
        (333_337, vec![(1, 250_000), (3, 1)]),
    ];
    let p = period(&actors, adapter, 0, U256::ZERO, 1, uses)?;
    assert!(!p.voucher.baseShare.is_zero());
    let (base, _server) =
        log_server(HashMap::from([("adapter".to_owned(), p.log.to_json())])).await?;
    settle(&chain, &actors, &p.voucher, &format!("{base}/logs/adapter")).await?;

    let dir = tempfile::tempdir()?;
    let (store, _) = sqlite(dir.path(), "adapter.db").await?;
    index(&chain, &store, sync_config(64)).await?;
    fetch_all(&store).await?;
    let api = Served::start(
        &store,
        ApiConfig {
            response_cache_bytes: 0,
            ..ApiConfig::default()
        },
    )
    .await?;
    let q = "{ channel(id: 1) { settlements { nodes { baseShare logStatus logProblem
            receipts { nodes { model { id } } } } } }
        adapter: model(id: 2) { revenue { total owner base } }
        base: model(id: 1) { revenue { derivative } } }";
    let data = api.data(q, json!({})).await?;
    let settlement = &data["channel"]["settlements"]["nodes"][0];
    assert_eq!(settlement["logStatus"], "VERIFIED", "{settlement}");
    assert_eq!(settlement["baseShare"], p.voucher.baseShare.to_string());
    assert_eq!(
        settlement["receipts"]["nodes"],
        json!([{ "model": { "id": "2" } }, { "model": { "id": "2" } }])
    );
    assert_eq!(
        data["adapter"]["revenue"]["base"],
        p.voucher.baseShare.to_string()
    );
    assert_eq!(
        data["base"]["revenue"]["derivative"],
        p.voucher.baseShare.to_string()
    );
    assert_eq!(
        data["adapter"]["revenue"]["total"],
        p.voucher.fee.to_string()
    );
    let escrow = IUsageEscrow::new(d.usage_escrow, reader(&chain));
    let q = "query($a: String!) { account(address: $a) { earnings { total asModelOwner asBaseModelOwner asNode } } }";
    let earnings = |who: &PrivateKeySigner| {
        let address = addr(who.address());
        let api = &api;
        async move {
            let data = api.data(q, json!({ "a": address })).await?;
            TestResult::Ok(data["account"]["earnings"].clone())
        }
    };
    // The base's owner: its owner earnings are the derivative share (model 1 earned nothing itself).
    let base_owner = earnings(&actors.model_owner).await?;
    assert_eq!(
        base_owner["asBaseModelOwner"],
        p.voucher.baseShare.to_string()
    );
    for (who, earned) in [
        (&actors.model_owner, base_owner["asModelOwner"].clone()),
        (
            &actors.bob,
            earnings(&actors.bob).await?["asModelOwner"].clone(),
        ),
        (
            &actors.node,
            earnings(&actors.node).await?["asNode"].clone(),
        ),
        (
            &actors.alice,
            earnings(&actors.alice).await?["total"].clone(),
        ),
    ] {
        assert_eq!(
            earned,
            escrow.balanceOf(who.address()).call().await?.to_string(),
            "{}",
            who.address()
        );
    }
    Ok(())
}
