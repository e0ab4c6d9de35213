//! Usage channels with two wallets: the payer's `soil serve` signs the vouchers (`--node` another wallet),
//! and the node takes them with `soil channel settle <id> --from <server>`, which asks the server to cut
//! (`POST /v1/channels/{id}/cut`), checks each voucher and its published log, and settles them. Also: a
//! tampered hand-over from a fake server is refused by name with nothing sent, and concurrent requests
//! near a channel's deposit are refused before the model works for them.

use alloy::primitives::U256;
use serde_json::{Value, json};
use soil_bindings::channel::{ChannelDomain, PeriodTotals, ReceiptsLog};
use soil_client::channel::Handover;

use crate::{
    channels::{QUOTES, TERMS, channel, http, open_channel, quote, settled_vouchers},
    common::*,
};

/// Soil's extension of a chat completion.
fn soil_of(answer: &Value) -> &Value {
    let choice = &answer["choices"][0]["soil"];
    if choice.is_null() {
        &answer["soil"]
    } else {
        choice
    }
}

/// The escrow's credits to the model owner, the node, Alice (her contributions), the treasury, and the
/// pool rewards of the release's contributions.
async fn credits(env: &Env, market: &Market) -> [U256; 5] {
    let escrow = env.escrow();
    let balance = |account: usize| {
        let escrow = &escrow;
        let who = env.address(account);
        async move { escrow.balanceOf(who).call().await.unwrap() }
    };
    let mut pools = U256::ZERO;
    for &(id, _) in &market.accepted {
        pools += escrow
            .poolRewardOf(market.release, id)
            .call()
            .await
            .unwrap();
    }
    [
        balance(MODEL_OWNER).await,
        balance(NODE).await,
        balance(ALICE).await,
        balance(TREASURY).await,
        pools,
    ]
}

/// The receipts log at `uri`.
async fn fetch_log(uri: &str) -> ReceiptsLog {
    let response = http().get(uri).send().await.unwrap();
    assert_eq!(response.status(), 200, "{uri}");
    ReceiptsLog::from_json(&response.bytes().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn channel_handover_the_node_settles_two_periods_from_the_payers_server() {
    let env = Env::start().await;
    let market = market(&env).await;
    let node = env.address(NODE);
    let id = open_channel(&env, &market, PAYER, node, "100000000000000000");
    let (arg, node_arg) = (id.to_string(), node.to_string());
    // A settlement threshold of 1: were the server to settle on its own it would try at every check.
    let (server, base) = serve_market(
        &env,
        &market,
        &[
            "--node",
            &node_arg,
            "--channel",
            &arg,
            "--channel-settle-value",
            "1",
        ],
    );
    let before = credits(&env, &market).await;

    // Three inferences, the node settles; two more, the node settles again.
    for (period, count) in [(0u32, 3usize), (1, 2)] {
        let mut fee = U256::ZERO;
        for i in 0..count {
            let (status, answer) = quote(&base, market.model, QUOTES[i % QUOTES.len()]).await;
            assert_eq!(status, 200, "{answer}");
            let paid = soil_of(&answer);
            assert_eq!(paid["channel"]["period"], json!(period), "{answer}");
            fee += u256(&paid["fee"]);
        }
        let report = env.json(NODE, &["channel", "settle", &arg, "--from", &base]);
        assert!(report["refused"].is_null(), "{report}");
        assert_eq!(report["settled"].as_array().unwrap().len(), 1, "{report}");
        let settled = &report["settled"][0];
        assert_eq!(settled["period"], json!(period), "{report}");
        assert_eq!(settled["inferences"], json!(count), "{report}");
        assert_eq!(u256(&settled["fee"]), fee, "{report}");
        assert_eq!(u256(&report["settledFee"]), fee, "{report}");
        assert_eq!(channel(&env, id).await.period, period + 1);
    }
    // Nothing new to hand over: a third run settles nothing and refuses nothing.
    let report = env.json(NODE, &["channel", "settle", &arg, "--from", &base]);
    assert_eq!(report["settled"], json!([]), "{report}");
    assert!(report["refused"].is_null(), "{report}");

    // Each settled voucher names its log on the payer's server; the escrow credited exactly what the
    // logs' period totals predict.
    let settled = settled_vouchers(&env, id).await;
    assert_eq!(settled.len(), 2);
    let mut predicted = [U256::ZERO; 5];
    for (voucher, uri) in &settled {
        assert_eq!(uri, &format!("{base}/v1/logs/{}", voucher.logRoot));
        let log = fetch_log(uri).await;
        let mut totals = PeriodTotals::default();
        for entry in &log.entries {
            assert_eq!(entry.receipt.node, node);
            totals.add(&TERMS, entry.receipt.fee, &entry.attribution);
        }
        assert_eq!(
            &totals.voucher(id, log.period, voucher.startFee, log.root()),
            voucher
        );
        predicted[0] += totals.owner;
        predicted[1] += totals.node;
        predicted[2] += market
            .accepted
            .iter()
            .filter_map(|(c, _)| totals.contributions.get(c))
            .copied()
            .sum::<U256>();
        predicted[3] += totals.treasury() + totals.pool();
    }
    assert!(predicted[2] > U256::ZERO, "no contribution was attributed");
    let after = credits(&env, &market).await;
    let credited: Vec<U256> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(credited[..3], predicted[..3], "owner, node, Alice");
    assert_eq!(
        credited[3] + credited[4],
        predicted[3],
        "treasury and pools"
    );

    // The payer's server learns what the node settled at its next reconciliation; its own settlement
    // never tried to send, so it never failed.
    let mut local = Value::Null;
    for _ in 0..40 {
        local = env.json(PAYER, &["channel", "status", &arg])["local"].clone();
        if local["unsettledInferences"] == json!(0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(local["unsettledInferences"], json!(0), "{local}");
    let states: Vec<&str> = local["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["settled", "settled", "open"], "{local}");
    let metrics = http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("soil_serve_channel_settlement_errors_total"),
        "{metrics}"
    );
    drop(server);
}

/// Serves a fake payer on a free local port, from a thread of its own: `answer(base)` gives the
/// hand-over it answers every cut with and the bytes it answers every log with.
fn fake_payer(answer: impl FnOnce(&str) -> (Handover, Vec<u8>)) -> String {
    use axum::{
        Json, Router,
        routing::{get, post},
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (handover, log) = answer(&base);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let router = Router::new()
                .route(
                    "/v1/channels/{id}/cut",
                    post(move || async move { Json(handover) }),
                )
                .route("/v1/logs/{root}", get(move || async move { log }));
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, router).await.unwrap();
        });
    });
    base
}

#[tokio::test(flavor = "multi_thread")]
async fn channel_handover_refuses_a_tampered_voucher_or_log_and_sends_nothing() {
    let env = Env::start().await;
    let market = market(&env).await;
    let node = env.address(NODE);
    let id = open_channel(&env, &market, PAYER, node, "100000000000000000");
    let arg = id.to_string();
    let (_server, base) = serve_market(
        &env,
        &market,
        &["--node", &node.to_string(), "--channel", &arg],
    );
    for quoted in &QUOTES[..2] {
        let (status, answer) = quote(&base, market.model, quoted).await;
        assert_eq!(status, 200, "{answer}");
    }

    // The payer's server answers a cut with its one cut period; a channel it does not serve is a 404.
    let response = http()
        .post(format!("{base}/v1/channels/{id}/cut"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let genuine: Handover = response.json().await.unwrap();
    assert_eq!(genuine.channel_id, id);
    assert_eq!(genuine.periods.len(), 1, "{genuine:?}");
    let period = genuine.periods[0].clone();
    assert_eq!((period.period, period.voucher.inferences), (0, 2));
    assert_eq!(
        period.log_uri,
        format!("{base}/v1/logs/{}", period.voucher.logRoot)
    );
    let log = fetch_log(&period.log_uri).await;
    let response = http()
        .post(format!("{base}/v1/channels/{}/cut", id + 100))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "not_found_error", "{body}");

    // Three fake servers, each handing over period 0 with one thing wrong.
    let domain = ChannelDomain {
        chain_id: env.chain.deployment.chain_id,
        channels: env.chain.deployment.usage_channels,
    };
    let mut greedy = period.voucher.clone();
    greedy.nodeShare += U256::from(1u64);
    let greedy_signature = domain.sign(&greedy, env.signer(PAYER)).await.unwrap();
    let mut short_log = log.clone();
    short_log.entries.pop();
    let cases: Vec<(&str, _, Vec<u8>, &str)> = vec![
        (
            "a voucher altered after it was signed",
            (greedy.clone(), period.signature.clone()),
            log.to_json(),
            "its voucher is signed by",
        ),
        (
            "a log whose root is not the voucher's",
            (period.voucher.clone(), period.signature.clone()),
            short_log.to_json(),
            "is not the voucher's logRoot",
        ),
        (
            "a voucher the payer signed that its log does not add up to",
            (greedy, greedy_signature),
            log.to_json(),
            "its log does not prove its voucher: the receipts' node share is",
        ),
    ];
    for (case, (voucher, signature), log_bytes, expected) in cases {
        let fake = fake_payer(|fake| {
            let mut handed = period.clone();
            handed.log_uri = format!("{fake}/v1/logs/{}", voucher.logRoot);
            handed.voucher = voucher;
            handed.signature = signature;
            let handover = Handover {
                channel_id: id,
                periods: vec![handed],
            };
            (handover, log_bytes)
        });
        let err = env.fails(NODE, &["channel", "settle", &arg, "--from", &fake]);
        assert!(
            err.contains(&format!("period 0 of channel {id} refused, not sent"))
                && err.contains(expected),
            "{case}: {err}"
        );
        assert!(settled_vouchers(&env, id).await.is_empty(), "{case}");
        assert_eq!(channel(&env, id).await.period, 0, "{case}");
    }

    // The payer's own server hands over the genuine period, which settles.
    let report = env.json(NODE, &["channel", "settle", &arg, "--from", &base]);
    assert_eq!(report["settled"][0]["period"], json!(0), "{report}");
    assert_eq!(
        u256(&report["settled"][0]["cumulativeFee"]),
        period.voucher.fee
    );
    // A wallet that is not the channel's node is refused before it asks.
    let err = env.fails(ALICE, &["channel", "settle", &arg, "--from", &base]);
    assert!(err.contains("only its node"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn channel_concurrent_requests_near_the_deposit_are_refused_before_the_work() {
    let env = Env::start().await;
    let market = market(&env).await;
    let payer = env.address(PAYER);
    let deposit = U256::from(400_000_000_000u64);
    let id = open_channel(&env, &market, PAYER, payer, &deposit.to_string());
    let (_server, base) = serve_market(&env, &market, &["--channel", &id.to_string()]);

    // One answer tells the request's largest fee (prompt + 64 tokens) and its actual one, lower: the
    // quoted JSON ends before 64 tokens.
    let (status, probe) = quote(&base, market.model, QUOTES[0]).await;
    assert_eq!(status, 200, "{probe}");
    let fee = u256(&soil_of(&probe)["fee"]);
    let prompt_tokens = soil_of(&probe)["input_tokens"].as_u64().unwrap();
    let largest = U256::from(PRICE) * U256::from(prompt_tokens + 64) / U256::from(1000u64);
    assert!(fee < largest, "{probe}");

    // Twice as many requests at once as the rest of the deposit pays for: each one served or refused
    // with a 402 naming its largest fee (at admission), none failing once its answer is done.
    let left = deposit - fee;
    let requests = usize::try_from(left * U256::from(2u64) / fee).unwrap() + 1;
    let answers =
        futures::future::join_all((0..requests).map(|_| quote(&base, market.model, QUOTES[0])))
            .await;
    let mut paid = U256::ZERO;
    let (mut served, mut refused) = (0u64, 0u64);
    for (status, answer) in &answers {
        match status {
            200 => {
                served += 1;
                paid += u256(&soil_of(answer)["fee"]);
            }
            402 => {
                refused += 1;
                let message = answer["error"]["message"].as_str().unwrap();
                assert!(
                    message.contains(&format!("it needs up to {largest} but")),
                    "refused after its work: {message}"
                );
            }
            _ => panic!("{status}: {answer}"),
        }
    }
    assert!(
        served >= 1 && refused >= 1,
        "{served} served, {refused} refused"
    );
    assert!(paid <= left);
    let status = env.json(PAYER, &["channel", "status", &id.to_string()]);
    assert_eq!(status["local"]["inferences"], json!(served + 1), "{status}");
    assert_eq!(
        u256(&status["local"]["promisedFee"]),
        fee + paid,
        "{status}"
    );
}
