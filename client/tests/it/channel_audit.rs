//! `soil audit` of a settled channel period: the period's log is fetched from the URI the node named and
//! checked against the settled voucher, and each receipt chosen is proved into the settled root and
//! audited like a settled receipt (output fetched, attribution recomputed). A log that is gone, another
//! log, and a voucher whose totals its log does not add up to all fail, naming why.

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use serde_json::{Value, json};
use soil_bindings::{
    Attribution,
    channel::{ChannelDomain, LogEntry, PeriodTotals, ReceiptsLog, SplitTerms},
    contracts::IUsageChannels,
    merkle,
    receipt::UsageReceipt,
};

use crate::{
    channels::{QUOTES, open_channel, quote, settled_vouchers},
    common::*,
};

/// Runs `soil --json audit ARGS` as Bob (no stake in the channel); returns whether it succeeded and the
/// JSON it printed.
fn audit(env: &Env, args: &[&str]) -> (bool, Value) {
    let output = env
        .soil(BOB)
        .args(["--json", "audit"])
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "soil audit printed no JSON ({err}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.success(), json)
}

fn domain(env: &Env) -> ChannelDomain {
    ChannelDomain {
        chain_id: env.chain.deployment.chain_id,
        channels: env.chain.deployment.usage_channels,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_proves_a_settled_period_s_receipts_and_recomputes_them() {
    let env = Env::start().await;
    let market = market(&env).await;
    let payer = env.address(PAYER);
    let id = open_channel(&env, &market, PAYER, payer, "100000000000000000");
    let outputs = env.dir.path().join("outputs");
    let (server, base) = serve_market(
        &env,
        &market,
        &[
            "--channel",
            &id.to_string(),
            "--publish-dir",
            path_str(&outputs),
        ],
    );
    for text in &QUOTES[..3] {
        let (status, answer) = quote(&base, market.model, text).await;
        assert_eq!(status, 200, "{answer}");
    }
    // The node (the payer's own wallet here) settles the period; the server keeps publishing its log.
    let settled = env.json(PAYER, &["channel", "settle", &id.to_string()]);
    let vouchers = settled_vouchers(&env, id).await;
    assert_eq!(vouchers.len(), 1, "{settled}");
    let (voucher, uri) = &vouchers[0];
    let digest = domain(&env).digest(voucher);

    let (ok, audited) = audit(&env, &[&digest.to_string()]);
    assert!(ok, "{audited}");
    let period = &audited["periods"][0];
    assert_eq!(period["passed"], json!(true), "{period}");
    assert_eq!(period["logUri"], json!(uri));
    assert_eq!(period["findings"], json!([]));
    let receipts = period["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 3);
    for (i, receipt) in receipts.iter().enumerate() {
        assert_eq!(receipt["number"], json!((i + 1).to_string()), "{receipt}");
        assert_eq!(receipt["proved"], json!(true));
        assert_eq!(receipt["audit"]["passed"], json!(true), "{receipt}");
        assert!(
            !receipt["audit"]["settledAttribution"]
                .as_array()
                .unwrap()
                .is_empty(),
            "every quote is attributed: {receipt}"
        );
        // The proof stands on its own: it leads from the leaf to the root the voucher committed to.
        let leaf: B256 = receipt["leaf"].as_str().unwrap().parse().unwrap();
        let proof: Vec<B256> = serde_json::from_value(receipt["proof"].clone()).unwrap();
        assert!(merkle::verify(voucher.logRoot, leaf, &proof));
    }

    // One receipt by its number, a sample, and the settlement transaction itself.
    let (ok, one) = audit(&env, &[&digest.to_string(), "--receipt", "2"]);
    assert!(ok, "{one}");
    assert_eq!(one["periods"][0]["receipts"][0]["index"], json!(1));
    let (ok, sampled) = audit(&env, &[&digest.to_string(), "--sample", "2"]);
    assert!(ok, "{sampled}");
    let indexes: Vec<_> = sampled["periods"][0]["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].clone())
        .collect();
    assert_eq!(indexes, vec![json!(0), json!(2)]);
    let (ok, missing) = audit(&env, &[&digest.to_string(), "--receipt", "9"]);
    assert!(!ok);
    assert_eq!(
        missing["periods"][0]["findings"][0]["kind"],
        json!("receiptNotInLog")
    );
    let tx = period["tx"].as_str().unwrap();
    let (ok, by_tx) = audit(&env, &[tx]);
    assert!(ok, "{by_tx}");
    assert_eq!(by_tx["periods"][0]["digest"], json!(digest));

    // The node stops publishing: the period cannot be audited.
    drop(server);
    let (ok, gone) = audit(&env, &[&digest.to_string()]);
    assert!(!ok);
    assert_eq!(
        gone["periods"][0]["findings"][0]["kind"],
        json!("logUnavailable")
    );
    assert_eq!(gone["periods"][0]["receipts"], json!([]));
}

/// A receipt of the channel's model, payer and node, as a node logs it.
fn entry(market: &Market, payer: Address, nonce: u64, attribution: Attribution) -> LogEntry {
    LogEntry {
        receipt: UsageReceipt {
            payer,
            modelId: market.model,
            node: payer,
            promptHash: keccak256(format!("prompt {nonce}")),
            outputHash: keccak256(format!("output {nonce}")),
            outputURI: String::new(),
            inputTokens: 100,
            outputTokens: 50,
            // A multiple of 20: every share of it is exact, so the voucher below has a wei of slack.
            fee: U256::from(1_000_020u64 * nonce),
            nonce: U256::from(nonce),
            deadline: 0,
            attributionVersion: 1,
            attributionHash: attribution.hash(),
        },
        attribution,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_fails_another_log_and_totals_the_log_does_not_add_up_to() {
    let env = Env::start().await;
    let market = market(&env).await;
    let payer = env.address(PAYER);
    let id = open_channel(&env, &market, PAYER, payer, "100000000000000000");
    let terms = SplitTerms {
        owner_bps: SPLIT[0] as u16,
        base_share_bps: 0,
        node_bps: SPLIT[2] as u16,
        data_bps: SPLIT[1] as u16,
    };
    let alice = market.accepted[0].0;
    let log = ReceiptsLog {
        channel_id: id,
        period: 0,
        entries: vec![
            entry(
                &market,
                payer,
                1,
                Attribution::new(vec![(alice, 400_000)]).unwrap(),
            ),
            entry(&market, payer, 2, Attribution::default()),
        ],
    };
    // Period 0 settles a voucher whose node share is a wei short (within two receipts' rounding, so the
    // escrow takes it) over the honest log; period 1 names a log other than the one its root commits to.
    let mut totals = PeriodTotals::default();
    for e in &log.entries {
        totals.add(&terms, e.receipt.fee, &e.attribution);
    }
    let mut short = totals.voucher(id, 0, U256::ZERO, log.root());
    short.nodeShare -= U256::from(1u64);
    let other = ReceiptsLog {
        channel_id: id,
        period: 1,
        entries: vec![entry(&market, payer, 3, Attribution::default())],
    };
    let mut next = PeriodTotals::default();
    next.add(
        &terms,
        other.entries[0].receipt.fee,
        &other.entries[0].attribution,
    );
    let mut altered = other.clone();
    altered.entries[0].receipt.inputTokens += 1;
    let second = next.voucher(id, 1, short.fee, other.root());
    let files = http_files(vec![
        ("period-0.json".to_owned(), log.to_json()),
        ("period-1.json".to_owned(), altered.to_json()),
    ]);

    let signer = env.signer(PAYER).clone();
    let provider = env.wallet_provider(PAYER);
    let channels = IUsageChannels::new(env.chain.deployment.usage_channels, &provider);
    let mut digests = Vec::new();
    for (voucher, file) in [(short, "period-0.json"), (second, "period-1.json")] {
        let signature: Bytes = domain(&env).sign(&voucher, &signer).await.unwrap();
        digests.push(domain(&env).digest(&voucher));
        let mined = channels
            .settle(voucher, signature, format!("{files}/{file}"))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(mined.status());
    }

    let (ok, first) = audit(&env, &[&digests[0].to_string(), "--sample", "0"]);
    assert!(!ok);
    let finding = &first["periods"][0]["findings"][0];
    assert_eq!(finding["kind"], json!("logMismatch"), "{first}");
    let reason = finding["reason"].as_str().unwrap();
    assert!(reason.contains("node share"), "{reason}");
    assert_eq!(first["periods"][0]["findings"].as_array().unwrap().len(), 1);
    let (ok, second) = audit(&env, &[&digests[1].to_string(), "--sample", "0"]);
    assert!(!ok);
    let finding = &second["periods"][0]["findings"][0];
    assert_eq!(finding["kind"], json!("logMismatch"), "{second}");
    let reason = finding["reason"].as_str().unwrap();
    assert!(reason.contains("is not the voucher's logRoot"), "{reason}");
}
