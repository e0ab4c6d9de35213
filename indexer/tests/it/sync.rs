//! Every event kind lands in its projection and every aggregate is right to the wei, checked against
//! hand-computed amounts and against the contracts' own views.

use std::collections::BTreeSet;

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::Provider;
use alloy::signers::Signer;
use alloy::sol_types::{SolCall, SolError, SolStruct, SolValue};
use soil_bindings::contracts::IUsageEscrow::UsageReceipt;
use soil_bindings::contracts::{IDatanetRegistry, IModelRegistry, IPaymentToken, IUsageEscrow};
use soil_bindings::testnet::LocalChain;
use soil_bindings::{Attribution, ReceiptDomain};
use soil_indexer::config::RpcConfig;
use soil_indexer::projection::rebuild::{dump, rebuild};
use soil_indexer::store::Store;
use soil_indexer::sync::Syncer;
use soil_indexer::sync::rpc::Rpc;
use soil_indexer::sync::status::SyncStatus;
use sqlx::Row;

use crate::support::{
    ATTRIBUTION_VERSION, Actors, MAX_CONTRIBUTION_TOKENS, NEW_PRICE, PRICE, REVIEW_WINDOW, SWEPT,
    TestResult, domain, index, output_uri, reader, setup_graph, sqlite, sync_config, use_graph,
};

pub(crate) async fn text(store: &Store, sql: &str) -> TestResult<String> {
    Ok(sqlx::query(sql)
        .fetch_one(store.pool())
        .await?
        .try_get::<String, _>(0)?)
}

async fn int(store: &Store, sql: &str) -> TestResult<i64> {
    Ok(sqlx::query(sql)
        .fetch_one(store.pool())
        .await?
        .try_get::<i64, _>(0)?)
}

pub(crate) async fn amount(store: &Store, sql: &str) -> TestResult<U256> {
    Ok(text(store, sql).await?.parse()?)
}

pub(crate) fn lower(address: Address) -> String {
    format!("{address:#x}")
}

/// A stored receipt row: the signed receipt and what the escrow said of it.
#[derive(Debug)]
pub(crate) struct StoredReceipt {
    pub(crate) digest: B256,
    pub(crate) receipt: UsageReceipt,
    /// The output URI's signed bytes when `receipt.outputURI` (the stored text) is not them.
    pub(crate) uri_bytes: Option<Bytes>,
    pub(crate) attribution: Bytes,
}

/// Every receipt row of `store`, in chain order.
pub(crate) async fn stored_receipts(store: &Store) -> TestResult<Vec<StoredReceipt>> {
    let rows = sqlx::query(
        "SELECT digest, payer, model_id, node, prompt_hash, output_hash, output_uri, output_uri_bytes, \
         input_tokens, output_tokens, fee, nonce, deadline, attribution_version, attribution_hash, attribution \
         FROM receipts ORDER BY block_number, log_index",
    )
    .fetch_all(store.pool())
    .await?;
    let mut out = Vec::new();
    for row in &rows {
        let text = |c: &str| row.try_get::<String, _>(c);
        let int = |c: &str| row.try_get::<i64, _>(c);
        out.push(StoredReceipt {
            digest: text("digest")?.parse()?,
            receipt: UsageReceipt {
                payer: text("payer")?.parse()?,
                modelId: u64::try_from(int("model_id")?)?,
                node: text("node")?.parse()?,
                promptHash: text("prompt_hash")?.parse()?,
                outputHash: text("output_hash")?.parse()?,
                outputURI: text("output_uri")?,
                inputTokens: u32::try_from(int("input_tokens")?)?,
                outputTokens: u32::try_from(int("output_tokens")?)?,
                fee: text("fee")?.parse()?,
                nonce: text("nonce")?.parse()?,
                deadline: u64::try_from(int("deadline")?)?,
                attributionVersion: u16::try_from(int("attribution_version")?)?,
                attributionHash: text("attribution_hash")?.parse()?,
            },
            uri_bytes: row
                .try_get::<Option<String>, _>("output_uri_bytes")?
                .map(|hex| hex.parse())
                .transpose()?,
            attribution: text("attribution")?.parse()?,
        });
    }
    Ok(out)
}

/// The EIP-712 digest of `receipt` with its output URI taken as `uri` (bytes that need not be UTF-8:
/// the struct hash takes keccak256 of them, as of a string's bytes).
pub(crate) fn digest_with_uri(domain: &ReceiptDomain, receipt: &UsageReceipt, uri: &[u8]) -> B256 {
    let r = receipt;
    let fields = (
        r.eip712_type_hash(),
        r.payer,
        r.modelId,
        r.node,
        r.promptHash,
        r.outputHash,
        keccak256(uri),
        r.inputTokens,
        r.outputTokens,
        r.fee,
        r.nonce,
        r.deadline,
        r.attributionVersion,
        r.attributionHash,
    );
    let struct_hash = keccak256(fields.abi_encode_params());
    let separator = domain.eip712().hash_struct();
    keccak256([&[0x19, 0x01], separator.as_slice(), struct_hash.as_slice()].concat())
}

/// The digest of a stored receipt, recomputed from its row alone: with the bindings' `digest` when the
/// stored URI text is the signed URI, from the stored bytes otherwise.
pub(crate) fn recomputed_digest(domain: &ReceiptDomain, stored: &StoredReceipt) -> B256 {
    match &stored.uri_bytes {
        None => domain.digest(&stored.receipt),
        Some(bytes) => digest_with_uri(domain, &stored.receipt, bytes),
    }
}

/// The scenario's receipts as stored: the signed fields, each digest recomputed from its row, and the
/// skipped receipts kept out of every figure.
async fn check_receipts(chain: &LocalChain, store: &Store) -> TestResult {
    let domain = domain(chain);
    let stored = stored_receipts(store).await?;
    assert_eq!(stored.len(), 3);
    for r in &stored {
        assert_eq!(recomputed_digest(&domain, r), r.digest, "{r:?}");
        assert_eq!(r.uri_bytes, None, "plain URIs are stored as they are");
        assert_eq!(
            r.receipt.outputURI,
            output_uri(u64::try_from(r.receipt.nonce)?)
        );
        assert_eq!(r.receipt.attributionVersion, ATTRIBUTION_VERSION);
        assert_eq!(
            Attribution::from_packed(&r.attribution)?.hash(),
            r.receipt.attributionHash
        );
        assert_eq!(
            r.receipt.promptHash,
            keccak256(format!("prompt {}", r.receipt.nonce))
        );
    }
    // The third paid the scheduled price: its deadline is the change's first second.
    let next_at = int(store, "SELECT next_price_at FROM models").await?;
    assert_eq!(stored[2].receipt.deadline as i64, next_at);
    assert_eq!(stored[2].receipt.fee, U256::from(NEW_PRICE * 999 / 1000));
    assert!(stored[0].receipt.deadline < stored[2].receipt.deadline);

    // Two receipts skipped: the third one's batch mate (its fee a unit short) and a stranger's garbage.
    let skipped = sqlx::query(
        "SELECT batch_index, digest, reason, tx_hash FROM skipped_receipts ORDER BY block_number, log_index",
    )
    .fetch_all(store.pool())
    .await?;
    assert_eq!(skipped.len(), 2);
    let reason =
        |i: usize| -> TestResult<Bytes> { Ok(skipped[i].try_get::<String, _>("reason")?.parse()?) };
    assert_eq!(skipped[0].try_get::<i64, _>("batch_index")?, 1);
    assert_eq!(
        reason(0)?.get(..4),
        Some(&IUsageEscrow::FeeMismatch::SELECTOR[..])
    );
    let settled_with = text(
        store,
        &format!(
            "SELECT tx_hash FROM receipts WHERE digest = '{:#x}'",
            stored[2].digest
        ),
    )
    .await?;
    assert_eq!(
        skipped[0].try_get::<String, _>("tx_hash")?,
        settled_with,
        "one batch"
    );
    assert_eq!(skipped[1].try_get::<i64, _>("batch_index")?, 0);
    assert_eq!(
        reason(1)?.get(..4),
        Some(&IUsageEscrow::InvalidParty::SELECTOR[..])
    );
    // No figure counts them: three inferences, and the fees are the three settled ones'.
    assert_eq!(int(store, "SELECT receipt_count FROM totals").await?, 3);
    assert_eq!(
        amount(store, "SELECT fees FROM totals").await?,
        stored.iter().map(|r| r.receipt.fee).sum::<U256>()
    );
    Ok(())
}

/// Asserts the indexed graph against hand-computed amounts and the chain's views.
pub(crate) async fn check_against_chain(
    chain: &LocalChain,
    actors: &Actors,
    store: &Store,
) -> TestResult {
    // Every event kind of the three interfaces (the escrow's EIP712DomainChanged is never emitted).
    let rows = sqlx::query("SELECT DISTINCT event FROM raw_events")
        .fetch_all(store.pool())
        .await?;
    let kinds: BTreeSet<String> = rows
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    let expected: BTreeSet<String> = [
        "DatanetCreated",
        "CuratorSet",
        "ContributionSubmitted",
        "ContributionReviewed",
        "StakeReturned",
        "ContributionWithdrawn",
        "ReleasePublished",
        "StakeLockPeriodSet",
        "TreasurySet",
        "ModelRegistered",
        "ModelPriceSet",
        "ModelOwnerSet",
        "Deposited",
        "WithdrawalRequested",
        "Withdrawn",
        "ReceiptSettled",
        "ReceiptSkipped",
        "Credited",
        "PoolAccrued",
        "PoolRewardClaimed",
        "Claimed",
        "SignerAuthorized",
        "SignerRevoked",
        "Swept",
        "WithdrawalDelaySet",
        "MaxReceiptValiditySet",
        // The deployment's: the escrow learns its UsageChannels.
        "ChannelsSet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(kinds, expected);

    // Every projection.
    for (table, rows) in [
        ("datanets", 1),
        ("curators", 2),
        ("contributions", 5),
        ("releases", 1),
        ("models", 1),
        ("model_releases", 1),
        ("receipts", 3),
        ("attribution_edges", 3),
        ("pool_claims", 3),
        ("claims", 3),
        ("deposits", 2),
        ("withdrawals", 2),
        ("stake_returns", 2),
        ("reviews", 4),
        ("skipped_receipts", 2),
    ] {
        assert_eq!(
            int(store, &format!("SELECT COUNT(*) FROM {table}")).await?,
            rows,
            "rows in {table}"
        );
    }
    assert!(int(store, "SELECT COUNT(*) FROM pool_accruals").await? >= 2);
    assert!(int(store, "SELECT COUNT(*) FROM credits").await? >= 8);
    let curator = lower(actors.curator.address());
    let bob = lower(actors.bob.address());
    assert_eq!(
        int(
            store,
            &format!("SELECT enabled FROM curators WHERE curator = '{curator}'")
        )
        .await?,
        1
    );
    assert_eq!(
        int(
            store,
            &format!("SELECT enabled FROM curators WHERE curator = '{bob}'")
        )
        .await?,
        0
    );
    assert_eq!(
        int(
            store,
            "SELECT curator_count FROM datanets WHERE datanet_id = 1"
        )
        .await?,
        1
    );
    assert_eq!(
        text(
            store,
            "SELECT status FROM contributions WHERE contribution_id = 4"
        )
        .await?,
        "rejected"
    );
    // The contribution left unreviewed past the review window and withdrawn: its stake went back.
    assert_eq!(
        text(
            store,
            "SELECT status FROM contributions WHERE contribution_id = 5"
        )
        .await?,
        "withdrawn"
    );
    assert_eq!(
        text(
            store,
            "SELECT amount FROM stake_returns WHERE contribution_id = 5"
        )
        .await?,
        "300"
    );
    assert_eq!(
        text(
            store,
            &format!("SELECT stake_returned FROM accounts WHERE address = '{bob}'")
        )
        .await?,
        "300"
    );
    assert_eq!(
        int(store, "SELECT review_window FROM datanets").await?,
        REVIEW_WINDOW as i64
    );
    assert_eq!(
        int(store, "SELECT max_contribution_tokens FROM datanets").await?,
        i64::from(MAX_CONTRIBUTION_TOKENS)
    );
    check_receipts(chain, store).await?;
    assert_eq!(
        int(
            store,
            "SELECT COUNT(*) FROM withdrawals WHERE kind = 'requested'"
        )
        .await?,
        1
    );
    assert_eq!(text(store, "SELECT value FROM parameters WHERE contract = 'DatanetRegistry' AND name = 'stakeLockPeriod'").await?, "86400");
    assert_eq!(text(store, "SELECT value FROM parameters WHERE contract = 'UsageEscrow' AND name = 'withdrawalDelay'").await?, "172800");
    assert_eq!(
        text(
            store,
            "SELECT value FROM parameters WHERE contract = 'UsageEscrow' AND name = 'channels'"
        )
        .await?,
        format!("{:#x}", chain.deployment.usage_channels)
    );
    assert_eq!(int(store, "SELECT COUNT(*) FROM parameters").await?, 6);

    // Hand-computed splits. r1: fee 377 000 (377 tokens at 1e6/1000): owner 20 %, data 60 %, node 15 %.
    let r1 = "(SELECT digest FROM receipts WHERE fee = '377000')";
    assert_eq!(
        text(
            store,
            &format!("SELECT owner_amount FROM receipts WHERE digest = {r1}")
        )
        .await?,
        "75400"
    );
    assert_eq!(
        text(
            store,
            &format!("SELECT data_amount FROM receipts WHERE digest = {r1}")
        )
        .await?,
        "226200"
    );
    assert_eq!(
        text(
            store,
            &format!("SELECT node_amount FROM receipts WHERE digest = {r1}")
        )
        .await?,
        "56550"
    );
    assert_eq!(
        text(
            store,
            &format!("SELECT treasury_amount FROM receipts WHERE digest = {r1}")
        )
        .await?,
        "18850"
    );
    // 226 200 × 0.5 and 226 200 × 0.333333 rounded down; the rest to the release pool.
    assert_eq!(
        text(
            store,
            &format!("SELECT amount FROM attribution_edges WHERE digest = {r1} AND position = 0")
        )
        .await?,
        "113100"
    );
    assert_eq!(
        text(
            store,
            &format!("SELECT amount FROM attribution_edges WHERE digest = {r1} AND position = 1")
        )
        .await?,
        "75399"
    );
    assert_eq!(
        text(
            store,
            &format!("SELECT unattributed_amount FROM receipts WHERE digest = {r1}")
        )
        .await?,
        "37701"
    );
    // r3 after the price change: 1 234 567 × 999 / 1000 = 1 233 332; no attribution, data to the pool.
    assert_eq!(
        text(
            store,
            "SELECT unattributed_amount FROM receipts WHERE fee = '1233332'"
        )
        .await?,
        "739999"
    );
    assert_eq!(
        text(
            store,
            "SELECT attributed_earnings FROM contributions WHERE contribution_id = 1"
        )
        .await?,
        "113100"
    );
    assert_eq!(
        text(
            store,
            "SELECT attributed_earnings FROM contributions WHERE contribution_id = 2"
        )
        .await?,
        "75399"
    );
    assert_eq!(
        text(
            store,
            "SELECT attributed_earnings FROM contributions WHERE contribution_id = 3"
        )
        .await?,
        "600000"
    );
    assert_eq!(
        text(store, "SELECT revenue FROM models WHERE model_id = 1").await?,
        "2610332"
    );
    assert_eq!(
        int(store, "SELECT receipt_count FROM models WHERE model_id = 1").await?,
        3
    );
    assert_eq!(
        int(
            store,
            "SELECT input_tokens + output_tokens FROM models WHERE model_id = 1"
        )
        .await?,
        2376
    );
    assert_eq!(text(store, "SELECT fees FROM totals").await?, "2610332");

    // The contracts' views, for every account.
    let provider = reader(chain);
    let d = chain.deployment;
    let escrow = IUsageEscrow::new(d.usage_escrow, provider.clone());
    let registry = IDatanetRegistry::new(d.datanet_registry, provider.clone());
    let models = IModelRegistry::new(d.model_registry, provider.clone());
    for account in actors.all() {
        let a = lower(account);
        let row = sqlx::query(&format!(
            "SELECT credited, claimed, deposit_balance, accepted_count, rejected_count, accepted_tokens, slashed, \
             earnings, node_earnings, owner_earnings FROM accounts WHERE address = '{a}'"
        ))
        .fetch_optional(store.pool())
        .await?;
        let get = |c: &str| -> U256 {
            row.as_ref().map_or(U256::ZERO, |r| {
                r.try_get::<String, _>(c).unwrap().parse().unwrap()
            })
        };
        let count =
            |c: &str| -> i64 { row.as_ref().map_or(0, |r| r.try_get::<i64, _>(c).unwrap()) };
        assert_eq!(
            escrow.balanceOf(account).call().await?,
            get("credited") - get("claimed"),
            "balance of {a}"
        );
        assert_eq!(
            escrow.depositOf(account).call().await?,
            get("deposit_balance"),
            "deposit of {a}"
        );
        let reputation = registry.reputationOf(account).call().await?;
        assert_eq!(
            i64::from(reputation.accepted),
            count("accepted_count"),
            "accepted of {a}"
        );
        assert_eq!(
            i64::from(reputation.rejected),
            count("rejected_count"),
            "rejected of {a}"
        );
        assert_eq!(
            reputation.acceptedTokens as i64,
            count("accepted_tokens"),
            "tokens of {a}"
        );
        assert_eq!(
            U256::from(reputation.slashed),
            get("slashed"),
            "slashed of {a}"
        );
        // Σ Credited events of a pure contributor / node / owner == what the projection says it earned.
        let credited = get("credited");
        if account == actors.alice.address() || account == actors.bob.address() {
            assert_eq!(credited, get("earnings"), "earnings of {a}");
        } else if account == actors.node.address() {
            assert_eq!(credited, get("node_earnings"), "node earnings");
        } else if account == actors.model_owner.address() {
            assert_eq!(credited, get("owner_earnings"), "owner earnings");
        }
    }
    let datanet = registry.getDatanet(1).call().await?;
    assert_eq!(
        i64::from(datanet.acceptedCount),
        int(store, "SELECT accepted_count FROM datanets").await?
    );
    assert_eq!(
        datanet.acceptedTokens as i64,
        int(store, "SELECT accepted_tokens FROM datanets").await?
    );
    assert_eq!(
        i64::from(datanet.releaseCount),
        int(store, "SELECT release_count FROM datanets").await?
    );
    assert_eq!(
        datanet.reviewWindow as i64,
        int(store, "SELECT review_window FROM datanets").await?
    );
    assert_eq!(
        i64::from(datanet.maxContributionTokens),
        int(store, "SELECT max_contribution_tokens FROM datanets").await?
    );
    for id in 1..=5u64 {
        let c = registry.getContribution(id).call().await?;
        let returned = int(
            store,
            &format!("SELECT stake_returned FROM contributions WHERE contribution_id = {id}"),
        )
        .await?;
        assert_eq!(c.stakeReturned, returned == 1, "stake of contribution {id}");
        let status = text(
            store,
            &format!("SELECT status FROM contributions WHERE contribution_id = {id}"),
        )
        .await?;
        let statuses = ["none", "pending", "accepted", "rejected", "withdrawn"];
        assert_eq!(
            statuses.get(usize::from(c.status)).copied(),
            Some(status.as_str()),
            "status of contribution {id}"
        );
        if id <= 3 {
            // Members of release 1 (contribution 4 was rejected): all pool rewards claimed.
            assert_eq!(escrow.poolRewardOf(1, id).call().await?, U256::ZERO);
        }
    }
    let model = models.getModel(1).call().await?;
    assert_eq!(
        lower(model.owner),
        text(store, "SELECT owner FROM models").await?
    );
    // The change is scheduled, not folded in: the registry keeps the price before it until the next one.
    assert_eq!(U256::from(model.pricePerKiloToken), U256::from(PRICE));
    assert_eq!(
        U256::from(model.nextPricePerKiloToken),
        U256::from(NEW_PRICE)
    );
    assert_eq!(
        U256::from(model.pricePerKiloToken),
        amount(store, "SELECT price_per_kilo_token FROM models").await?
    );
    assert_eq!(
        U256::from(model.nextPricePerKiloToken),
        amount(store, "SELECT next_price_per_kilo_token FROM models").await?
    );
    assert_eq!(
        model.nextPriceAt as i64,
        int(store, "SELECT next_price_at FROM models").await?
    );
    assert_eq!(
        escrow.rewardPerToken(1).call().await?,
        amount(store, "SELECT reward_per_token FROM releases").await?
    );
    let totals = |c: &'static str| {
        amount(
            store,
            Box::leak(format!("SELECT {c} FROM totals").into_boxed_str()),
        )
    };
    let unclaimed = escrow.unclaimedPoolRewards().call().await?;
    assert_eq!(
        unclaimed,
        totals("pool_accrued").await? - totals("pool_claimed").await?
    );
    let release_unclaimed = amount(store, "SELECT pool_accrued FROM releases").await?
        - amount(store, "SELECT pool_claimed FROM releases").await?;
    assert_eq!(unclaimed, release_unclaimed);
    let deposits = escrow.totalDeposits().call().await?;
    assert_eq!(
        deposits,
        totals("deposited").await? - totals("withdrawn").await? - totals("fees").await?
    );
    let credited = escrow.totalCredited().call().await?;
    assert_eq!(
        credited,
        totals("credited").await? - totals("claimed").await?
    );
    assert_eq!(
        totals("swept").await?,
        U256::from(SWEPT),
        "the sweep, credited to the treasury"
    );
    let held = IPaymentToken::new(d.token, provider)
        .balanceOf(d.usage_escrow)
        .call()
        .await?;
    assert_eq!(
        held,
        deposits + credited + unclaimed,
        "the escrow's accounting invariant"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_kind_lands_with_exact_aggregates_and_rebuilds_identically() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    setup_graph(&chain, &actors).await?;
    use_graph(&chain, &actors).await?;
    let dir = tempfile::tempdir()?;
    let (store, _) = sqlite(dir.path(), "sync.db").await?;
    // Finality depth 3: most blocks are backfilled in (small) log ranges, the last ones followed.
    let syncer = index(&chain, &store, sync_config(3)).await?;
    let head = reader(&chain).get_block_number().await?;
    assert_eq!(syncer.checkpoint().block_number, head);
    check_against_chain(&chain, &actors, &store).await?;

    let before = dump(&store).await?;
    let rebuilt = rebuild(&store).await?;
    assert_eq!(
        rebuilt.events,
        int(&store, "SELECT COUNT(*) FROM raw_events").await? as u64
    );
    assert_eq!(
        dump(&store).await?,
        before,
        "rebuild from raw events re-derives the same graph"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_deployment_of_another_chain_or_without_code() -> TestResult {
    let chain = LocalChain::start().await?;
    let dir = tempfile::tempdir()?;
    let (store, _) = sqlite(dir.path(), "refuse.db").await?;
    let path = std::path::PathBuf::from("deployments/1.json");
    let connect = || async {
        Ok::<_, soil_indexer::IndexerError>(std::sync::Arc::new(
            Rpc::connect(&chain.rpc_url(), RpcConfig::default()).await?,
        ))
    };

    let mut other_chain = chain.deployment;
    other_chain.chain_id = 1;
    let err = Syncer::new(
        connect().await?,
        store.clone(),
        other_chain,
        &path,
        sync_config(3),
        SyncStatus::default().into(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("is for chain 1, but the RPC endpoint serves chain 31337"),
        "{err}"
    );

    let mut no_code = chain.deployment;
    no_code.usage_escrow = Address::repeat_byte(0x42);
    let err = Syncer::new(
        connect().await?,
        store,
        no_code,
        &path,
        sync_config(3),
        SyncStatus::default().into(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains(
            "no contract code at 0x4242424242424242424242424242424242424242 (UsageEscrow)"
        ),
        "{err}"
    );
    Ok(())
}

alloy::sol! {
    /// `UsageReceipt` with its output URI as `bytes`: ABI-encoded exactly as the `string`, so a call built
    /// with it reaches `settle` with URIs no Rust `String` can hold.
    struct ReceiptBytes {
        address payer;
        uint64 modelId;
        address node;
        bytes32 promptHash;
        bytes32 outputHash;
        bytes outputURI;
        uint32 inputTokens;
        uint32 outputTokens;
        uint256 fee;
        uint256 nonce;
        uint64 deadline;
        uint16 attributionVersion;
        bytes32 attributionHash;
    }
}

/// The output URIs the hostile test settles: plain non-ASCII UTF-8, a NUL (which PostgreSQL text cannot
/// hold), and bytes that are not UTF-8 at all; with the text each is stored as.
const HOSTILE_URIS: [(&[u8], &str); 3] = [
    ("ipfs://plain-\u{fc}".as_bytes(), "ipfs://plain-\u{fc}"),
    (b"ipfs://nul\0here", "ipfs://nul\u{fffd}here"),
    (
        b"ipfs://\xff\xfe-not-utf8\xc3",
        "ipfs://\u{fffd}\u{fffd}-not-utf8\u{fffd}",
    ),
];

/// Receipts whose output URIs are the payer's to choose, and so arbitrary bytes, settled (the escrow
/// checks no encoding) and indexed: neither store stops, the text stored is the same on both, and every
/// digest is recomputed from its row, through the stored bytes where the text is not them.
async fn settle_hostile_uris(chain: &LocalChain, actors: &Actors) -> TestResult {
    let domain = domain(chain);
    let deadline = crate::support::now(chain).await? + 3_600;
    let (mut receipts, mut attributions, mut signatures) = (vec![], vec![], vec![]);
    for (k, (uri, _)) in HOSTILE_URIS.iter().enumerate() {
        let (mut receipt, attribution) =
            crate::support::receipt(chain, actors, 40 + k as u64, deadline, &(7, 8, vec![]))
                .await?;
        receipt.outputURI = String::new();
        let digest = digest_with_uri(&domain, &receipt, uri);
        let signature = actors.payer.sign_hash(&digest).await?;
        let r = receipt;
        receipts.push(ReceiptBytes {
            payer: r.payer,
            modelId: r.modelId,
            node: r.node,
            promptHash: r.promptHash,
            outputHash: r.outputHash,
            outputURI: Bytes::copy_from_slice(uri),
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
    }
    let input = [
        IUsageEscrow::settleCall::SELECTOR.as_slice(),
        &(receipts, attributions, signatures).abi_encode_params(),
    ]
    .concat();
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(chain.deployment.usage_escrow)
        .input(Bytes::from(input).into());
    let receipt = crate::support::wallet(chain, &actors.relayer)
        .send_transaction(tx)
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status(), "settle reverted: {receipt:?}");
    Ok(())
}

/// What `store` holds of the hostile receipts, on its own and through GraphQL.
async fn check_hostile_uris(chain: &LocalChain, store: &Store) -> TestResult {
    let domain = domain(chain);
    let stored = stored_receipts(store).await?;
    assert_eq!(
        stored.len(),
        HOSTILE_URIS.len(),
        "every receipt settled and indexed"
    );
    for (r, (signed, text)) in stored.iter().zip(HOSTILE_URIS) {
        assert_eq!(r.receipt.outputURI, text);
        let expected = (signed != text.as_bytes()).then(|| Bytes::copy_from_slice(signed));
        assert_eq!(r.uri_bytes, expected, "{text:?}");
        assert_eq!(recomputed_digest(&domain, r), r.digest, "{text:?}");
    }
    let api = crate::api::Served::start(store, soil_indexer::api::ApiConfig::default()).await?;
    let data = api
        .data(
            "{ inferences(first: 10) { nodes { digest outputUri outputUriBytes } } }",
            serde_json::json!({}),
        )
        .await?;
    let nodes = data["inferences"]["nodes"].as_array().ok_or("nodes")?;
    for (node, (r, (_, text))) in nodes.iter().zip(stored.iter().zip(HOSTILE_URIS)) {
        assert_eq!(node["outputUri"], serde_json::json!(text));
        assert_eq!(
            node["outputUriBytes"],
            serde_json::json!(r.uri_bytes.as_ref().map(|b| format!("{b}")))
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_output_uris_stop_neither_store_and_keep_every_digest() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    setup_graph(&chain, &actors).await?;
    settle_hostile_uris(&chain, &actors).await?;
    let dir = tempfile::tempdir()?;
    let (lite, _) = sqlite(dir.path(), "hostile.db").await?;
    index(&chain, &lite, sync_config(2)).await?;
    check_hostile_uris(&chain, &lite).await?;
    let cluster = crate::support::PgCluster::start()?;
    let pg = Store::open(&cluster.database("hostile")?).await?;
    index(&chain, &pg, sync_config(2)).await?;
    check_hostile_uris(&chain, &pg).await?;
    let graph = dump(&lite).await?;
    assert_eq!(dump(&pg).await?, graph, "the same text on both stores");
    // The raw events keep the signed bytes: a rebuild stores them again.
    rebuild(&lite).await?;
    assert_eq!(dump(&lite).await?, graph);
    rebuild(&pg).await?;
    assert_eq!(dump(&pg).await?, graph);
    Ok(())
}
