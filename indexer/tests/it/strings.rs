//! Hostile strings, fuzzed: seeded random bytes (NULs, bytes that are not UTF-8, lone surrogates, overlong
//! encodings, U+FFFD itself, quotes, backslashes, SQL and `COPY` metacharacters, emoji, very long ones)
//! written through the contracts into every string an event carries, the set of them read from the
//! contracts' ABI (a string added to an event fails the test until it is fuzzed too). Indexed on SQLite
//! and PostgreSQL, through a reorg that writes journalled rows holding them back: both reach the head,
//! hold the same rows as a clean run, and the API serves each string's bytes as the chain holds them.
//! `SOIL_FUZZ_SEED=<u64>` fuzzes with another seed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use alloy::primitives::{Address, Bytes, aliases::U96, keccak256};
use alloy::providers::Provider;
use alloy::signers::Signer;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use soil_bindings::contracts::{IDatanetRegistry, IModelRegistry, IUsageEscrow};
use soil_bindings::testnet::LocalChain;
use soil_indexer::api::ApiConfig;
use soil_indexer::projection::rebuild::{dump, rebuild};
use soil_indexer::store::Store;

use crate::api::Served;
use crate::reorg::reorg;
use crate::support::{self, Actors, PgCluster, TestResult, index, sqlite, sync_config, wallet};
use crate::sync::{ReceiptBytes, digest_with_uri};

alloy::sol! {
    /// The contracts' functions that take a string, with `bytes` in its place: ABI-encoded alike, so
    /// any bytes can be sent (under the real functions' selectors).
    interface Hostile {
        struct HostileSplit { uint16 ownerBps; uint16 dataBps; uint16 nodeBps; uint16 treasuryBps; }
        struct HostileRegistration {
            uint64 baseModelId;
            bytes32 adapterHash;
            bytes uri;
            bytes32 manifestHash;
            bytes manifestUri;
            uint64[] releaseIds;
            uint64[] trainedOnReleaseIds;
            uint96 pricePerKiloToken;
            HostileSplit split;
            uint16 maxBaseShareBps;
        }
        function createDatanet(bytes metadataURI, uint96 minStake, uint64 reviewWindow, uint32 maxContributionTokens, address[] curators);
        function contribute(uint64 datanetId, bytes32 contentHash, uint32 tokenCount, bytes uri, uint96 stake);
        function registerModel(bytes32 weightsHash, bytes uri, uint64[] releaseIds, uint96 pricePerKiloToken, HostileSplit split);
        function registerAdapter(HostileRegistration registration);
    }
}

/// Strings written per function.
const SAMPLES: usize = 10;

/// The seed used unless `SOIL_FUZZ_SEED` names another.
const SEED: u64 = 0x501_1f22;

/// What hostile strings are made of.
const PIECES: &[&[u8]] = &[
    b"\0",
    b"\0\0\0",
    b"'",
    b"\"",
    b"\\",
    b"\\\\",
    b"\\.",
    b"\n\\.\n",
    b"\\N",
    b"\\x00",
    b"';--",
    b"' OR 1=1; DROP TABLE datanets; --",
    b"%_*",
    b"$1",
    b"$$",
    b"\t",
    b"\r\n",
    b"\x7f",
    b"\x1b[31m",
    b"\xff",
    b"\xfe\xff",
    b"\x80",
    b"\xc3",
    b"\xc0\x80",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    b"\xf5\x80\x80\x80",
    b"\xf4\x90\x80\x80",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xed\xa0\xbd\xed\xb8\x80",
    "\u{fffd}".as_bytes(),
    "\u{1f600}".as_bytes(),
    "\u{1f469}\u{200d}\u{1f469}\u{200d}\u{1f467}".as_bytes(),
    "e\u{301}".as_bytes(),
    "\u{202e}".as_bytes(),
    "\u{feff}".as_bytes(),
    "\u{200b}".as_bytes(),
    "\u{65e5}\u{672c}\u{8a9e}".as_bytes(),
    "\u{10ffff}".as_bytes(),
    b"ipfs://",
    b"https://x.example/?a=1&b=2#f",
    b"<script>alert(1)</script>",
    b"{\"json\": [1, null]}",
];

/// Hostile string number `k` of a function's: the empty string, a very long one, random bytes, U+FFFD
/// alone, then random runs of pieces and bytes.
fn hostile(rng: &mut StdRng, k: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let piece = |rng: &mut StdRng, out: &mut Vec<u8>| {
        if rng.random_range(0..4) == 0 {
            let n = rng.random_range(1..8);
            out.extend((0..n).map(|_| rng.random::<u8>()));
        } else {
            out.extend_from_slice(PIECES[rng.random_range(0..PIECES.len())]);
        }
    };
    match k {
        0 => {}
        1 => {
            let length = rng.random_range(3_000..6_000);
            while out.len() < length {
                piece(rng, &mut out);
            }
        }
        2 => {
            let n = rng.random_range(1..64);
            out.extend((0..n).map(|_| rng.random::<u8>()));
        }
        3 => out.extend_from_slice("\u{fffd}".as_bytes()),
        _ => {
            for _ in 0..rng.random_range(1..12) {
                piece(rng, &mut out);
            }
        }
    }
    out
}

/// Every string parameter of the contracts' events, as `Event.param` (`Event.param.field` inside a
/// struct), read from the ABI the bindings are generated from.
fn event_strings() -> TestResult<BTreeSet<String>> {
    fn walk(path: &str, input: &Value, out: &mut BTreeSet<String>) {
        let path = format!("{path}.{}", input["name"].as_str().unwrap_or_default());
        if input["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("string"))
        {
            out.insert(path.clone());
        }
        for component in input["components"].as_array().into_iter().flatten() {
            walk(&path, component, out);
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/bindings/abi");
    let mut out = BTreeSet::new();
    for contract in ["IDatanetRegistry", "IModelRegistry", "IUsageEscrow"] {
        let abi: Value = serde_json::from_str(&std::fs::read_to_string(
            dir.join(format!("{contract}.json")),
        )?)?;
        for item in abi.as_array().ok_or("an ABI is an array")? {
            if item["type"] == "event" {
                let event = item["name"].as_str().unwrap_or_default();
                for input in item["inputs"].as_array().into_iter().flatten() {
                    walk(event, input, &mut out);
                }
            }
        }
    }
    Ok(out)
}

/// Where the API serves each event string: the list it is on, the node's key field, the text field
/// and its bytes field.
const SERVED: &[(&str, &str, &str, &str, &str)] = &[
    (
        "DatanetCreated.metadataURI",
        "datanets",
        "id",
        "metadataUri",
        "metadataUriBytes",
    ),
    (
        "ContributionSubmitted.uri",
        "contributions",
        "id",
        "uri",
        "uriBytes",
    ),
    ("ModelRegistered.uri", "models", "id", "uri", "uriBytes"),
    (
        "AdapterRegistered.manifestUri",
        "models",
        "id",
        "manifestUri",
        "manifestUriBytes",
    ),
    (
        "ReceiptSettled.receipt.outputURI",
        "inferences",
        "digest",
        "outputUri",
        "outputUriBytes",
    ),
];

/// The strings written: per event string, per key of the node that serves it, the bytes.
type Written = BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>;

/// Sends `params` (ABI-encoded) to `to` under `selector`, by `by`; the call must succeed.
async fn call(
    chain: &LocalChain,
    by: &PrivateKeySigner,
    to: Address,
    selector: [u8; 4],
    params: Vec<u8>,
) -> TestResult {
    let input = [selector.as_slice(), &params].concat();
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(to)
        .input(Bytes::from(input).into());
    let receipt = wallet(chain, by)
        .send_transaction(tx)
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status(), "reverted: {receipt:?}");
    Ok(())
}

fn split() -> Hostile::HostileSplit {
    let (owner_bps, data_bps, node_bps, treasury_bps) = support::SPLIT;
    Hostile::HostileSplit {
        ownerBps: owner_bps,
        dataBps: data_bps,
        nodeBps: node_bps,
        treasuryBps: treasury_bps,
    }
}

/// Writes hostile strings through every function that takes one, after the scenario's setup (datanet
/// 1, contributions 1–4, model 1): returns what was written where.
async fn write_hostile(
    chain: &LocalChain,
    actors: &Actors,
    rng: &mut StdRng,
) -> TestResult<Written> {
    let d = &chain.deployment;
    let mut written = Written::new();
    let mut put = |field: &'static str, key: String, bytes: &[u8]| {
        written
            .entry(field)
            .or_default()
            .insert(key, bytes.to_vec());
    };
    for k in 0..SAMPLES {
        let uri = hostile(rng, k);
        let params = Hostile::createDatanetCall {
            metadataURI: uri.clone().into(),
            minStake: U96::from(100u64),
            reviewWindow: support::REVIEW_WINDOW,
            maxContributionTokens: support::MAX_CONTRIBUTION_TOKENS,
            curators: vec![actors.curator.address()],
        };
        let selector = IDatanetRegistry::createDatanetCall::SELECTOR;
        call(
            chain,
            &actors.datanet_owner,
            d.datanet_registry,
            selector,
            params.abi_encode()[4..].to_vec(),
        )
        .await?;
        put("DatanetCreated.metadataURI", (k + 2).to_string(), &uri);
    }
    for k in 0..SAMPLES {
        let uri = hostile(rng, k);
        let params = Hostile::contributeCall {
            datanetId: 1,
            contentHash: keccak256(format!("hostile document {k}")),
            tokenCount: 100,
            uri: uri.clone().into(),
            stake: U96::from(100u64),
        };
        let selector = IDatanetRegistry::contributeCall::SELECTOR;
        call(
            chain,
            &actors.alice,
            d.datanet_registry,
            selector,
            params.abi_encode()[4..].to_vec(),
        )
        .await?;
        put("ContributionSubmitted.uri", (k + 5).to_string(), &uri);
    }
    for k in 0..SAMPLES {
        let uri = hostile(rng, k);
        let params = Hostile::registerModelCall {
            weightsHash: keccak256(format!("hostile weights {k}")),
            uri: uri.clone().into(),
            releaseIds: vec![1],
            pricePerKiloToken: U96::from(support::PRICE),
            split: split(),
        };
        let selector = IModelRegistry::registerModelCall::SELECTOR;
        call(
            chain,
            &actors.model_owner,
            d.model_registry,
            selector,
            params.abi_encode()[4..].to_vec(),
        )
        .await?;
        put("ModelRegistered.uri", (k + 2).to_string(), &uri);
    }
    for k in 0..SAMPLES {
        let (uri, manifest_uri) = (hostile(rng, k), hostile(rng, SAMPLES - 1 - k));
        let params = Hostile::registerAdapterCall {
            registration: Hostile::HostileRegistration {
                baseModelId: 1,
                adapterHash: keccak256(format!("hostile adapter {k}")),
                uri: uri.clone().into(),
                manifestHash: keccak256(format!("hostile manifest {k}")),
                manifestUri: manifest_uri.clone().into(),
                releaseIds: vec![1],
                trainedOnReleaseIds: vec![1],
                pricePerKiloToken: U96::from(support::PRICE),
                split: split(),
                maxBaseShareBps: 1_000,
            },
        };
        let selector = IModelRegistry::registerAdapterCall::SELECTOR;
        call(
            chain,
            &actors.bob,
            d.model_registry,
            selector,
            params.abi_encode()[4..].to_vec(),
        )
        .await?;
        let model = (k + 2 + SAMPLES).to_string();
        put("ModelRegistered.uri", model.clone(), &uri);
        put("AdapterRegistered.manifestUri", model, &manifest_uri);
    }
    // One batch of receipts, each signed over its output URI's bytes.
    let domain = support::domain(chain);
    let deadline = support::now(chain).await? + 3_600;
    let (mut receipts, mut attributions, mut signatures) = (vec![], vec![], vec![]);
    for k in 0..SAMPLES {
        let uri = hostile(rng, k);
        let (receipt, attribution) =
            support::receipt(chain, actors, 1_000 + k as u64, deadline, &(7, 8, vec![])).await?;
        let digest = digest_with_uri(&domain, &receipt, &uri);
        let signature = actors.payer.sign_hash(&digest).await?;
        let r = receipt;
        receipts.push(ReceiptBytes {
            payer: r.payer,
            modelId: r.modelId,
            node: r.node,
            promptHash: r.promptHash,
            outputHash: r.outputHash,
            outputURI: uri.clone().into(),
            inputTokens: r.inputTokens,
            outputTokens: r.outputTokens,
            fee: r.fee,
            nonce: r.nonce,
            deadline: r.deadline,
            attributionVersion: r.attributionVersion,
            attributionHash: r.attributionHash,
        });
        attributions.push(attribution.to_sol());
        signatures.push(Bytes::from(signature.as_bytes().to_vec()));
        put("ReceiptSettled.receipt.outputURI", digest.to_string(), &uri);
    }
    let params = (receipts, attributions, signatures).abi_encode_params();
    let selector = IUsageEscrow::settleCall::SELECTOR;
    call(chain, &actors.relayer, d.usage_escrow, selector, params).await?;
    Ok(written)
}

/// The text a string is stored and served as: U+FFFD for each invalid UTF-8 sequence and each NUL.
fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\0', "\u{fffd}")
}

/// Indexes `chain` into `store` to the head, and checks that the API serves every written string.
async fn check(chain: &LocalChain, store: &Store, written: &Written) -> TestResult {
    let syncer = index(chain, store, sync_config(2)).await?;
    let head = support::reader(chain).get_block_number().await?;
    assert_eq!(
        syncer.checkpoint().block_number,
        head,
        "the indexer keeps up"
    );
    let api = Served::start(store, ApiConfig::default()).await?;
    for (field, list, key, text, bytes) in SERVED {
        let query = format!("{{ {list}(first: 100) {{ nodes {{ {key} {text} {bytes} }} }} }}");
        let data = api.data(&query, json!({})).await?;
        let nodes = data[*list]["nodes"].as_array().ok_or("nodes")?;
        let expected = written.get(field).ok_or(*field)?;
        let (mut seen, mut not_text) = (0, 0);
        for node in nodes {
            let id = match &node[*key] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let Some(wrote) = expected.get(&id) else {
                continue;
            };
            seen += 1;
            not_text += usize::from(!node[*bytes].is_null());
            let served_text = node[*text].as_str().ok_or(format!("{field} {id}: text"))?;
            assert_eq!(served_text, text_of(wrote), "{field} {id}: text");
            let served = match node[*bytes].as_str() {
                Some(hex) => alloy::primitives::hex::decode(hex)?,
                None => served_text.as_bytes().to_vec(),
            };
            assert!(
                served == *wrote,
                "{field} {id}: served {:?}, written {:?}",
                Bytes::from(served),
                Bytes::from(wrote.clone())
            );
            assert_eq!(
                node[*bytes].is_null(),
                served_text.as_bytes() == wrote.as_slice(),
                "{field} {id}: bytes only where the text is not them"
            );
        }
        assert_eq!(
            seen,
            expected.len(),
            "{field}: every string written is served"
        );
        assert!(not_text > 0, "{field}: no string needed its bytes");
    }
    Ok(())
}

/// The longest one step of the test may take: a hang names its step instead of running into the test
/// runner's limit.
const STEP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs the step `name` of the test, failing with its name past [`STEP_TIMEOUT`].
async fn step<T, E>(
    name: &str,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> TestResult<T>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match tokio::time::timeout(STEP_TIMEOUT, work).await {
        Ok(done) => done.map_err(Into::into),
        Err(_) => Err(format!("{name}: not done after {STEP_TIMEOUT:?}").into()),
    }
}

/// Asserts two dumps are equal, naming the first row where they are not (a dump is long).
fn same_rows(dump: &str, expected: &str, what: &str) {
    if let Some((got, want)) = dump.lines().zip(expected.lines()).find(|(a, b)| a != b) {
        panic!("{what}: first different row:\n{got}\nexpected:\n{want}");
    }
    assert_eq!(
        dump.lines().count(),
        expected.lines().count(),
        "{what}: row count"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_strings_in_every_event_stop_neither_store_and_are_served_as_written() -> TestResult
{
    let seed = std::env::var("SOIL_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    eprintln!("fuzzing with SOIL_FUZZ_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let fuzzed: BTreeSet<String> = SERVED.iter().map(|s| s.0.to_owned()).collect();
    assert_eq!(
        event_strings()?,
        fuzzed,
        "every string an event carries is fuzzed: give a new one a writer and a place in SERVED"
    );

    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    step("set up the graph", support::setup_graph(&chain, &actors)).await?;
    let written = step(
        "write hostile strings",
        write_hostile(&chain, &actors, &mut rng),
    )
    .await?;
    // Reviews of the hostile contributions, indexed (journalled: the undo journal keeps the rows with
    // their hostile URIs as they were before) and then orphaned: the revert writes those rows back.
    let fork = support::reader(&chain).get_block_number().await?;
    let curator = IDatanetRegistry::new(
        chain.deployment.datanet_registry,
        wallet(&chain, &actors.curator),
    );
    step("review the hostile contributions", async {
        for id in written["ContributionSubmitted.uri"].keys() {
            support::send!(curator.review(id.parse()?, true));
        }
        TestResult::Ok(())
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let (lite, _) = sqlite(dir.path(), "fuzzed.db").await?;
    let cluster = PgCluster::start()?;
    let pg = Store::open(&cluster.database("fuzzed")?).await?;
    for (name, store) in [("index into SQLite", &lite), ("index into PostgreSQL", &pg)] {
        step(name, index(&chain, store, sync_config(64))).await?;
    }
    let head = support::reader(&chain).get_block_number().await?;
    step("reorg the reviews away", reorg(&chain, head - fork)).await?;

    for (name, store) in [("check SQLite", &lite), ("check PostgreSQL", &pg)] {
        step(name, check(&chain, store, &written)).await?;
        let undone: Vec<(i64,)> = sqlx::query_as("SELECT undone FROM reorgs")
            .fetch_all(store.pool())
            .await?;
        assert!(
            matches!(undone[..], [(n,)] if n > 0),
            "one reorg, undone from the journal: {undone:?}"
        );
    }
    let graph = dump(&lite).await?;
    same_rows(
        &dump(&pg).await?,
        &graph,
        "SQLite and PostgreSQL hold the same rows",
    );
    let (clean, _) = sqlite(dir.path(), "clean.db").await?;
    step("index a clean run", index(&chain, &clean, sync_config(64))).await?;
    same_rows(&dump(&clean).await?, &graph, "reverted == a clean run");
    // The raw events keep the bytes: a rebuild stores the same rows again.
    step("rebuild PostgreSQL", rebuild(&pg)).await?;
    same_rows(&dump(&pg).await?, &graph, "rebuilt from the raw events");
    Ok(())
}
