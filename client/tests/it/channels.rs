//! Usage channels end to end: `soil serve` paying for a stream of real inferences through one channel,
//! settled period by period, closed and claimed, with every balance equal to the wei to what the logs'
//! period totals predict and to what settling the same receipts per receipt gives; the channel state
//! surviving crashes; the payer's close window; and the refusals (deposit exhausted, a foreign channel,
//! a stale outbox).

use std::{path::Path, time::Duration};

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use serde_json::{Value, json};
use soil_bindings::{
    ReceiptDomain,
    channel::{Channel, PeriodTotals, ReceiptsLog, SplitTerms, Voucher},
    contracts::{IUsageChannels, IUsageEscrow},
};

use crate::common::*;

/// A bounded HTTP client: a server that stops answering fails the test.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// One text completion of up to 16 tokens, greedy; returns its status and body.
pub(crate) async fn complete(base: &str, model: u64, prompt: &str) -> (u16, Value) {
    let response = http()
        .post(format!("{base}/v1/completions"))
        .json(
            &json!({ "model": format!("soil-{model}"), "prompt": prompt, "max_tokens": 16,
                       "temperature": 0 }),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Openings of the market's documents: the model carries on with their words, so the answers are
/// attributed to Alice's contributions.
pub(crate) const PROMPTS: [&str; 4] = [
    "The honey bee is a eusocial flying insect within the genus",
    "Compost is a mixture of ingredients used as plant fertilizer and to improve",
    "Honey bees are known for their construction of perennial colonial nests from",
    "Compost is commonly prepared by decomposing plant and food waste,",
];

/// Sentences of Alice's documents. The end-to-end stream asks the model to quote one through a JSON
/// schema whose only value is that sentence, so every answer is attributed to her contributions.
pub(crate) const QUOTES: [&str; 4] = [
    "Honey bees are known for their construction of perennial colonial nests from wax",
    "It is commonly prepared by decomposing plant and food waste, recycling organic materials, and manure",
    "The honey bee is a eusocial flying insect within the genus Apis of the bee clade",
    "Compost is a mixture of ingredients used as plant fertilizer and to improve soil",
];

/// A chat completion constrained to `{"quote": QUOTE}`; returns its status and body.
pub(crate) async fn quote(base: &str, model: u64, quote: &str) -> (u16, Value) {
    let schema = json!({ "type": "object", "properties": { "quote": { "const": quote } },
                         "required": ["quote"], "additionalProperties": false });
    let response = http()
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({ "model": format!("soil-{model}"), "max_tokens": 64, "temperature": 0,
                       "response_format": { "type": "json_schema",
                                            "json_schema": { "name": "quote", "schema": schema } },
                       "messages": [{ "role": "user", "content": "Quote a sentence about bees or compost." }] }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The channel's state on chain.
pub(crate) async fn channel(env: &Env, id: u64) -> Channel {
    IUsageChannels::new(env.chain.deployment.usage_channels, env.provider())
        .getChannel(id)
        .call()
        .await
        .unwrap()
}

/// Every settled voucher of channel `id`, in order, with the logURI it named.
pub(crate) async fn settled_vouchers(env: &Env, id: u64) -> Vec<(Voucher, String)> {
    let filter = Filter::new()
        .address(env.chain.deployment.usage_channels)
        .event_signature(IUsageChannels::VoucherSettled::SIGNATURE_HASH)
        .from_block(0);
    env.provider()
        .get_logs(&filter)
        .await
        .unwrap()
        .iter()
        .map(|log| {
            log.log_decode::<IUsageChannels::VoucherSettled>()
                .unwrap()
                .inner
                .data
        })
        .filter(|event| event.channelId == id)
        .map(|event| (event.voucher, event.logURI))
        .collect()
}

/// Opens a channel from `payer` to `node` for the market's model; returns its id.
pub(crate) fn open_channel(
    env: &Env,
    market: &Market,
    payer: usize,
    node: Address,
    deposit: &str,
) -> u64 {
    let opened = env.json(
        payer,
        &[
            "channel",
            "open",
            "--node",
            &node.to_string(),
            "--model-id",
            &market.model.to_string(),
            "--deposit",
            deposit,
        ],
    );
    opened["channelId"].as_u64().unwrap()
}

/// What the escrow credits: the claimable balances of the accounts that take a share, and the pool
/// rewards of the contributions in the market's release.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Credits {
    accounts: Vec<U256>,
    pools: Vec<U256>,
}

impl Credits {
    const ACCOUNTS: [usize; 5] = [MODEL_OWNER, PAYER, TREASURY, ALICE, BOB];

    async fn read(env: &Env, market: &Market) -> Self {
        let escrow = env.escrow();
        let mut accounts = Vec::new();
        for account in Self::ACCOUNTS {
            accounts.push(escrow.balanceOf(env.address(account)).call().await.unwrap());
        }
        let mut pools = Vec::new();
        for &(id, _) in &market.accepted {
            pools.push(
                escrow
                    .poolRewardOf(market.release, id)
                    .call()
                    .await
                    .unwrap(),
            );
        }
        Self { accounts, pools }
    }

    fn since(&self, before: &Self) -> Self {
        let minus = |a: &[U256], b: &[U256]| a.iter().zip(b).map(|(a, b)| a - b).collect();
        Self {
            accounts: minus(&self.accounts, &before.accounts),
            pools: minus(&self.pools, &before.pools),
        }
    }

    fn of(&self, account: usize) -> U256 {
        let at = Self::ACCOUNTS.iter().position(|&a| a == account).unwrap();
        self.accounts[at]
    }
}

pub(crate) const TERMS: SplitTerms = SplitTerms {
    owner_bps: SPLIT[0] as u16,
    base_share_bps: 0,
    node_bps: SPLIT[2] as u16,
    data_bps: SPLIT[1] as u16,
};

/// Settles `logs`' receipts through the escrow's per-receipt `settle`, in one batch, each re-signed by the
/// payer with a deadline and a fresh nonce (the channel's receipts carry neither), all else unchanged.
async fn settle_per_receipt(env: &Env, logs: &[ReceiptsLog]) {
    let payer = env.signer(PAYER).clone();
    let provider = env.wallet_provider(PAYER);
    let escrow = IUsageEscrow::new(env.chain.deployment.usage_escrow, &provider);
    let domain = ReceiptDomain {
        chain_id: env.chain.deployment.chain_id,
        escrow: env.chain.deployment.usage_escrow,
    };
    let now = provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    let (mut receipts, mut attributions, mut signatures) = (Vec::new(), Vec::new(), Vec::new());
    for (i, entry) in logs.iter().flat_map(|log| &log.entries).enumerate() {
        let mut receipt = entry.receipt.clone();
        receipt.deadline = now + 3600;
        receipt.nonce = U256::from(1_000_000 + i);
        signatures.push(domain.sign(&receipt, &payer).await.unwrap());
        receipts.push(receipt);
        attributions.push(entry.attribution.to_sol());
    }
    let mined = escrow
        .settle(receipts, attributions, signatures)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(mined.status());
    let skipped: Vec<_> = mined
        .inner
        .logs()
        .iter()
        .filter_map(|log| log.log_decode::<IUsageEscrow::ReceiptSkipped>().ok())
        .map(|log| soil_bindings::revert::describe(&log.inner.data.reason))
        .collect();
    assert!(
        skipped.is_empty(),
        "the escrow skipped receipts: {skipped:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn channels_pay_a_served_stream_settled_twice_closed_and_claimed() {
    let env = Env::start().await;
    let market = market(&env).await;
    let payer = env.address(PAYER);
    // The server's wallet pays and, as the default node, settles.
    let deposit = U256::from(10u64).pow(U256::from(17u64));
    let id = open_channel(&env, &market, PAYER, payer, &deposit.to_string());
    let wallet_before = env.token_balance(PAYER).await;
    let before = Credits::read(&env, &market).await;
    let (server, base) = serve_market(
        &env,
        &market,
        &[
            "--channel",
            &id.to_string(),
            "--channel-settle-value",
            "100000000000",
        ],
    );

    // A stream of inferences: each signs the next voucher; the server settles a period once it owes
    // 10^11. Go on until two periods settled.
    let mut nonces = Vec::new();
    for i in 0..40 {
        if channel(&env, id).await.period >= 2 {
            break;
        }
        let (status, answer) = quote(&base, market.model, QUOTES[i % QUOTES.len()]).await;
        assert_eq!(status, 200, "{answer}");
        let paid = &answer["choices"][0]["soil"];
        let paid = if paid.is_null() {
            &answer["soil"]
        } else {
            paid
        };
        assert_eq!(paid["channel"]["id"], json!(id), "{answer}");
        assert!(paid["outbox_id"].is_null(), "{answer}");
        nonces.push(
            paid["channel"]["nonce"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(nonces, (1..=nonces.len() as u64).collect::<Vec<_>>());
    for _ in 0..60 {
        if channel(&env, id).await.period >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let settled = settled_vouchers(&env, id).await;
    assert!(settled.len() >= 2, "{} settlement(s)", settled.len());

    // Each settled voucher names its log on the server; the log's root and period totals are the voucher's.
    let mut logs = Vec::new();
    let mut start_fee = U256::ZERO;
    let mut predicted = PeriodTotals::default();
    let mut predicted_rest = U256::ZERO;
    for (period, (voucher, uri)) in settled.iter().enumerate() {
        let root = voucher.logRoot;
        assert_eq!(uri, &format!("{base}/v1/logs/{root}"));
        let response = http().get(uri).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let log = ReceiptsLog::from_json(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(log.root(), root);
        assert_eq!((log.channel_id, log.period), (id, period as u32));
        let mut totals = PeriodTotals::default();
        for entry in &log.entries {
            assert_eq!(entry.receipt.payer, payer);
            assert_eq!(entry.receipt.deadline, 0);
            totals.add(&TERMS, entry.receipt.fee, &entry.attribution);
        }
        assert_eq!(&totals.voucher(id, period as u32, start_fee, root), voucher);
        start_fee = voucher.fee;
        predicted.owner += totals.owner;
        predicted.node += totals.node;
        for (c, amount) in &totals.contributions {
            *predicted.contributions.entry(*c).or_default() += *amount;
        }
        predicted_rest += totals.treasury() + totals.pool();
        logs.push(log);
    }
    let missing = http()
        .get(format!("{base}/v1/logs/0x{}", "ab".repeat(32)))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    drop(server);
    assert_eq!(U256::from(channel(&env, id).await.settledFee), start_fee);

    // The escrow credited exactly the period totals.
    let by_channel = Credits::read(&env, &market).await.since(&before);
    assert_eq!(by_channel.of(MODEL_OWNER), predicted.owner);
    assert_eq!(by_channel.of(PAYER), predicted.node);
    let alice: U256 = market
        .accepted
        .iter()
        .filter_map(|(c, _)| predicted.contributions.get(c))
        .copied()
        .sum();
    assert!(alice > U256::ZERO, "no contribution was attributed");
    assert_eq!(by_channel.of(ALICE), alice);
    assert_eq!(by_channel.of(BOB), U256::ZERO);
    assert_eq!(
        by_channel.of(TREASURY) + by_channel.pools.iter().copied().sum::<U256>(),
        predicted_rest
    );

    // Settling the same receipts per receipt, each period's as one batch, on a twin chain set up the same
    // way credits every account and pool the same, to the wei.
    let twin = Env::start().await;
    let twin_market = crate::common::market(&twin).await;
    assert_eq!(
        (
            twin_market.model,
            twin_market.release,
            &twin_market.accepted
        ),
        (market.model, market.release, &market.accepted)
    );
    let twin_before = Credits::read(&twin, &twin_market).await;
    for log in &logs {
        settle_per_receipt(&twin, std::slice::from_ref(log)).await;
    }
    let per_receipt = Credits::read(&twin, &twin_market).await.since(&twin_before);
    assert_eq!(per_receipt, by_channel);

    // The node closes (anything unsettled is settled first); the rest of the deposit goes back.
    let closed = env.json(PAYER, &["channel", "close", &id.to_string()]);
    assert_eq!(closed["closed"], json!(true), "{closed}");
    let final_fee = U256::from(channel(&env, id).await.settledFee);
    assert_eq!(u256(&closed["refund"]), deposit - final_fee);
    assert!(!channel(&env, id).await.open);
    assert_eq!(
        env.token_balance(PAYER).await,
        wallet_before + deposit - final_fee
    );

    // Claimed: the owner's and Alice's credits reach their wallets.
    for account in [MODEL_OWNER, ALICE] {
        let wallet = env.token_balance(account).await;
        let owed = env
            .escrow()
            .balanceOf(env.address(account))
            .call()
            .await
            .unwrap();
        assert!(owed > U256::ZERO);
        let claim = env.json(account, &["claim"]);
        assert_eq!(
            env.token_balance(account).await,
            wallet + owed + u256(&claim["poolRewards"])
        );
    }
}

/// Copies the outbox files of `account` (the database and its WAL) to `to`, or back.
fn copy_outbox(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(to).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("outbox.sqlite")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        if name.to_str().unwrap().starts_with("outbox.sqlite") {
            std::fs::copy(&path, to.join(name)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn channels_state_survives_crashes_and_never_settles_twice() {
    let env = Env::start().await;
    let market = market(&env).await;
    let payer = env.address(PAYER);
    let id = open_channel(&env, &market, PAYER, payer, "100000000000000000");
    let channel_arg = id.to_string();
    let args = ["--channel", channel_arg.as_str()];

    // Two inferences, then the server is killed (SIGKILL) before any settlement; a new server goes on
    // from the third.
    let mut fees = U256::ZERO;
    {
        let (_server, base) = serve_market(&env, &market, &args);
        for prompt in &PROMPTS[..2] {
            let (status, answer) = complete(&base, market.model, prompt).await;
            assert_eq!(status, 200, "{answer}");
            fees += u256(&answer["choices"][0]["soil"]["fee"]);
        }
    }
    let (server, base) = serve_market(&env, &market, &args);
    let (status, answer) = complete(&base, market.model, PROMPTS[2]).await;
    assert_eq!(status, 200, "{answer}");
    let paid = &answer["choices"][0]["soil"];
    fees += u256(&paid["fee"]);
    assert_eq!(paid["channel"]["nonce"], json!("3"), "{answer}");
    assert_eq!(paid["channel"]["period"], json!(0));
    assert_eq!(u256(&paid["channel"]["cumulative_fee"]), fees);
    drop(server);
    let status = env.json(PAYER, &["channel", "status", &channel_arg]);
    assert_eq!(status["local"]["unsettledInferences"], json!(3), "{status}");
    assert_eq!(u256(&status["local"]["unsettledFee"]), fees);

    // Settling crashes after the transaction is signed and recorded, before it is broadcast: nothing
    // reached the chain.
    let crashed = env
        .soil(PAYER)
        .env("SOIL_FAIL_AFTER_SIGN", "1")
        .args(["channel", "settle", &channel_arg])
        .output()
        .unwrap();
    assert!(!crashed.status.success());
    assert_eq!(channel(&env, id).await.period, 0);
    // Again, crashing right after the broadcast: the chain settled it, the outbox does not know yet.
    let crashed = env
        .soil(PAYER)
        .env("SOIL_FAIL_AFTER_SEND", "1")
        .args(["channel", "settle", &channel_arg])
        .output()
        .unwrap();
    assert!(!crashed.status.success());
    let on_chain = channel(&env, id).await;
    assert_eq!(
        (on_chain.period, U256::from(on_chain.settledFee)),
        (1, fees)
    );
    // The next run finds it settled and sends nothing.
    let report = env.json(PAYER, &["channel", "settle", &channel_arg]);
    assert_eq!(report["alreadySettled"], json!([0]), "{report}");
    assert_eq!(report["settled"], json!([]), "{report}");
    assert_eq!(report["transactions"], json!([]), "{report}");
    assert_eq!(settled_vouchers(&env, id).await.len(), 1);
    assert_eq!(U256::from(channel(&env, id).await.settledFee), fees);
    let status = env.json(PAYER, &["channel", "status", &channel_arg]);
    assert_eq!(status["local"]["unsettledInferences"], json!(0), "{status}");

    // The channel goes on in period 1 from the settled fee, numbering on from 4.
    let inferred = infer_ok(&env, &market, &["--channel", &channel_arg]);
    assert_eq!(inferred["channel"]["period"], json!(1), "{inferred}");
    assert_eq!(
        u256(&inferred["channel"]["cumulativeFee"]),
        fees + u256(&inferred["fee"])
    );
    assert_eq!(inferred["nonce"], json!("4"));
}

/// `soil infer` as the payer (its own node) with `extra` and the prompt "hello".
fn soil_infer(env: &Env, market: &Market, extra: &[&str]) -> std::process::Command {
    let mut command = env.soil(PAYER);
    command
        .args([
            "--json",
            "infer",
            "--model-id",
            &market.model.to_string(),
            "--model",
        ])
        .arg(model_path())
        .args([
            "--temperature",
            "0",
            "--max-tokens",
            "8",
            "--threads",
            "2",
            "--ctx-size",
            "512",
        ])
        .args(extra)
        .arg("hello");
    command
}

/// Runs [`soil_infer`], asserts it succeeds, returns its JSON.
fn infer_ok(env: &Env, market: &Market, extra: &[&str]) -> Value {
    let output = soil_infer(env, market, extra).output().unwrap();
    assert_success(&output, extra);
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Runs [`soil_infer`], asserts it fails, returns its stderr.
fn infer_fails(env: &Env, market: &Market, extra: &[&str]) -> String {
    let output = soil_infer(env, market, extra).output().unwrap();
    assert!(!output.status.success(), "soil infer {extra:?} should fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn channels_refuse_an_exhausted_deposit_a_foreign_channel_and_a_stale_outbox() {
    let env = Env::start().await;
    let market = market(&env).await;
    let payer = env.address(PAYER);
    let node = payer.to_string();

    // A deposit for about two answers: requests are served until the next one's largest fee would not
    // fit, then refused with a 402 naming the channel's shortfall; no voucher ever exceeds the deposit.
    let small = open_channel(&env, &market, PAYER, payer, "100000000000");
    let (server, base) = serve_market(&env, &market, &["--channel", &small.to_string()]);
    let mut served = 0;
    let refusal = loop {
        let (status, answer) = complete(&base, market.model, PROMPTS[served % 2]).await;
        if status != 200 {
            assert_eq!(status, 402, "{answer}");
            break answer;
        }
        served += 1;
        assert!(served < 10, "the deposit never ran out");
    };
    assert!(served >= 1);
    assert_eq!(
        refusal["error"]["type"], "insufficient_deposit",
        "{refusal}"
    );
    let message = refusal["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("channel {small}'s deposit cannot pay"))
            && message.contains("short by"),
        "{message}"
    );
    drop(server);
    let status = env.json(PAYER, &["channel", "status", &small.to_string()]);
    assert!(u256(&status["local"]["promisedFee"]) <= u256(&status["deposit"]));

    // A channel whose vouchers another wallet signs is refused by name.
    let foreign = open_channel(&env, &market, ALICE, payer, "100000000000000");
    let err = infer_fails(
        &env,
        &market,
        &["--channel", &foreign.to_string(), "--node", &node],
    );
    assert!(
        err.contains(&format!("channel {foreign} cannot be used here"))
            && err.contains(&format!("signed by {}", env.address(ALICE))),
        "{err}"
    );

    // A stale outbox: restored from before a settlement, its open period is one the chain settled with a
    // later voucher. It is refused, and nothing is signed or sent.
    let id = open_channel(&env, &market, PAYER, payer, "100000000000000000");
    let channel_arg = id.to_string();
    let with_channel = ["--channel", channel_arg.as_str()];
    infer_ok(&env, &market, &with_channel);
    let backup = env.dir.path().join("backup");
    copy_outbox(&env.home(PAYER), &backup);
    infer_ok(&env, &market, &with_channel);
    env.json(PAYER, &["channel", "settle", &channel_arg]);
    copy_outbox(&backup, &env.home(PAYER));
    let err = env.fails(PAYER, &["channel", "settle", &channel_arg]);
    assert!(
        err.contains("the outbox's vouchers disagree with the chain")
            && err.contains("restored backup"),
        "{err}"
    );
    let err = infer_fails(&env, &market, &with_channel);
    assert!(err.contains("disagree with the chain"), "{err}");
    assert_eq!(settled_vouchers(&env, id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn channels_payer_closes_only_after_the_window() {
    let env = Env::start().await;
    let market = market(&env).await;
    let deposit = U256::from(10u64).pow(U256::from(14u64));
    let id = open_channel(
        &env,
        &market,
        ALICE,
        env.address(NODE),
        &deposit.to_string(),
    );
    let arg = id.to_string();
    let wallet = env.token_balance(ALICE).await;

    // The payer asks; closing before the window passed is refused in words; after it, the deposit
    // comes back whole (nothing was settled).
    let asked = env.json(ALICE, &["channel", "close", &arg]);
    assert_eq!(asked["closed"], json!(false), "{asked}");
    let closes_at = asked["closesAt"].as_u64().unwrap();
    assert_eq!(channel(&env, id).await.closesAt, closes_at);
    let err = env.fails(ALICE, &["channel", "close", &arg]);
    assert!(
        err.contains(&format!("may be closed by its payer from {closes_at}")),
        "{err}"
    );
    // Someone else can neither close nor fund it.
    let err = env.fails(BOB, &["channel", "close", &arg]);
    assert!(err.contains("not by this wallet"), "{err}");
    let err = env.fails(ALICE, &["channel", "fund", &arg, "5"]);
    assert!(err.contains("ChannelClosing"), "{err}");
    env.advance_time(24 * 3600).await;
    let closed = env.json(ALICE, &["channel", "close", &arg]);
    assert_eq!(closed["closed"], json!(true), "{closed}");
    assert_eq!(u256(&closed["refund"]), deposit);
    assert_eq!(env.token_balance(ALICE).await, wallet + deposit);
    let status = env.json(ALICE, &["channel", "status", &arg]);
    assert_eq!(status["open"], json!(false), "{status}");
}
