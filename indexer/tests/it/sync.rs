//! Every event kind lands in its projection and every aggregate is right to the wei, checked against
//! hand-computed amounts and against the contracts' own views.

use std::collections::BTreeSet;

use alloy::primitives::{Address, U256};
use soil_bindings::contracts::{IDatanetRegistry, IModelRegistry, IPaymentToken, IUsageEscrow};
use soil_bindings::testnet::LocalChain;
use soil_indexer::config::RpcConfig;
use soil_indexer::projection::rebuild::{dump, rebuild};
use soil_indexer::store::Store;
use soil_indexer::sync::Syncer;
use soil_indexer::sync::rpc::Rpc;
use soil_indexer::sync::status::SyncStatus;
use sqlx::Row;

use crate::support::{
    Actors, NEW_PRICE, TestResult, index, reader, setup_graph, sqlite, sync_config, use_graph,
};

async fn text(store: &Store, sql: &str) -> TestResult<String> {
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

async fn amount(store: &Store, sql: &str) -> TestResult<U256> {
    Ok(text(store, sql).await?.parse()?)
}

fn lower(address: Address) -> String {
    format!("{address:#x}")
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
        "Credited",
        "PoolAccrued",
        "PoolRewardClaimed",
        "Claimed",
        "NoncesInvalidated",
        "WithdrawalDelaySet",
        "MaxReceiptValiditySet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(kinds, expected);

    // Every projection.
    for (table, rows) in [
        ("datanets", 1),
        ("curators", 2),
        ("contributions", 4),
        ("releases", 1),
        ("models", 1),
        ("model_releases", 1),
        ("receipts", 3),
        ("attribution_edges", 3),
        ("pool_claims", 3),
        ("claims", 3),
        ("deposits", 2),
        ("withdrawals", 2),
        ("stake_returns", 1),
        ("reviews", 4),
        ("nonce_invalidations", 1),
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
    assert_eq!(int(store, "SELECT COUNT(*) FROM parameters").await?, 5);

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
    for id in 1..=4u64 {
        let c = registry.getContribution(id).call().await?;
        let returned = int(
            store,
            &format!("SELECT stake_returned FROM contributions WHERE contribution_id = {id}"),
        )
        .await?;
        assert_eq!(c.stakeReturned, returned == 1, "stake of contribution {id}");
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
    assert_eq!(U256::from(model.pricePerKiloToken), U256::from(NEW_PRICE));
    assert_eq!(
        U256::from(model.pricePerKiloToken),
        amount(store, "SELECT price_per_kilo_token FROM models").await?
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
    let head = alloy::providers::Provider::get_block_number(&reader(&chain)).await?;
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
