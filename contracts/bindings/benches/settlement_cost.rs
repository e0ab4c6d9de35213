//! What settling one inference costs on an OP-stack chain: L2 gas (from the committed gas snapshots, which
//! `forge test --match-path 'contracts/test/gas/*'` writes in the same `make bench` run) and the L1 data fee
//! of the settlement transaction (Fjord: FastLZ-compressed size, `op-alloy-flz`).
//!
//! The transactions are built here exactly as the gas tests build them: a channel voucher covering n
//! inferences of 500 tokens, each attributing 8 of 100 contributions (`ChannelGas.t.sol`), and a batch of 50
//! receipts (`Gas.t.sol`). The voucher's calldata size is checked against the snapshot's, so both speak of
//! the same bytes. Each call is wrapped in a signed EIP-1559 transaction, the bytes an OP-stack sequencer
//! posts to L1.

use std::{collections::BTreeMap, path::Path};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolCall, SolValue},
};
use soil_bindings::{
    Attribution,
    channel::{ChannelDomain, PeriodTotals, SplitTerms},
    contracts::{IUsageChannels, IUsageEscrow},
    receipt::{ReceiptDomain, UsageReceipt},
};

/// The gas fixtures' 100 contributions are ids 5…104 (the base fixture's four come first).
const FIRST_POOL_ID: u64 = 5;
const CONTRIBUTIONS: u64 = 100;
const PER_RECEIPT: u64 = 8;
const FEE: u128 = 1_000_000_000_000_000_000; // 500 tokens at 2e18 per 1000
const TERMS: SplitTerms = SplitTerms {
    owner_bps: 3000,
    base_share_bps: 0,
    node_bps: 1500,
    data_bps: 5000,
};
const LOG_URI: &str = "http://127.0.0.1:8080/v1/logs/0x1111111111111111111111111111111111111111111111111111111111111111";

/// An OP-stack L1 fee setting: Base mainnet's scalars, an L1 base fee and a blob base fee.
struct L1Prices {
    base_fee_scalar: u64,
    blob_base_fee_scalar: u64,
    l1_base_fee_wei: u64,
    blob_base_fee_wei: u64,
}

const PRICES: L1Prices = L1Prices {
    base_fee_scalar: 2269,
    blob_base_fee_scalar: 1_055_762,
    l1_base_fee_wei: 10_000_000_000,  // 10 gwei
    blob_base_fee_wei: 1_000_000_000, // 1 gwei
};

fn main() {
    let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).expect("key");
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots");
    let channel_gas = read_snapshot(&snapshots.join("UsageChannels.json"));
    let escrow_gas = read_snapshot(&snapshots.join("UsageEscrow.json"));
    let reference = read_snapshot(&snapshots.join("Reference.json"));

    println!(
        "L1 prices: L1 base fee {} gwei, blob base fee {} gwei, scalars {} / {} (Base mainnet)",
        PRICES.l1_base_fee_wei / 1_000_000_000,
        PRICES.blob_base_fee_wei / 1_000_000_000,
        PRICES.base_fee_scalar,
        PRICES.blob_base_fee_scalar
    );
    println!(
        "{:<28} {:>12} {:>14} {:>16} {:>14} {:>18}",
        "settlement",
        "L2 gas/inf",
        "calldata B/inf",
        "FastLZ B (tx)",
        "Fjord size B",
        "L1 fee/inf (gwei)"
    );
    for n in [1u64, 10, 100, 1000, 10_000] {
        let calldata = voucher_calldata(n, &signer);
        let name = format!("channel_settle_{n}_inferences");
        let snapshot_bytes = channel_gas[&format!("{name}_calldata_bytes")];
        assert_eq!(
            calldata.len() as u64,
            snapshot_bytes,
            "{name}: calldata differs from the gas test's"
        );
        let gas = channel_gas[&name];
        report(
            &format!("voucher, {n} inferences"),
            n,
            gas,
            &calldata,
            &signer,
        );
    }
    let batch = batch_calldata(&signer);
    report(
        "50 receipts, one batch",
        50,
        escrow_gas["settle_batch50_credited_recipients"],
        &batch,
        &signer,
    );
    let transfer = transfer_calldata();
    report(
        "ERC-20 transfer (reference)",
        1,
        reference["erc20_transfer_to_existing_holder"],
        &transfer,
        &signer,
    );
}

fn read_snapshot(path: &Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (run the gas tests first)", path.display()));
    let raw: BTreeMap<String, String> = serde_json::from_str(&text).expect("snapshot JSON");
    raw.into_iter()
        .map(|(k, v)| (k, v.parse().expect("a number")))
        .collect()
}

fn report(label: &str, inferences: u64, gas: u64, calldata: &[u8], signer: &PrivateKeySigner) {
    let tx = signed_tx(calldata, gas, signer);
    let flz = op_alloy_flz::flz_compress_len(&tx);
    let size_scaled = op_alloy_flz::tx_estimated_size_fjord(&tx);
    let scaled_price = u128::from(PRICES.base_fee_scalar) * u128::from(PRICES.l1_base_fee_wei) * 16
        + u128::from(PRICES.blob_base_fee_scalar) * u128::from(PRICES.blob_base_fee_wei);
    let fee_wei = u128::from(size_scaled) * scaled_price / 1_000_000_000_000;
    let per = |x: f64| x / inferences as f64;
    println!(
        "{label:<28} {:>12.0} {:>14.2} {:>16} {:>14} {:>18.4}",
        per(gas as f64),
        per(calldata.len() as f64),
        flz,
        size_scaled / 1_000_000,
        per(fee_wei as f64 / 1e9)
    );
}

/// Inference `i`'s attribution in the gas tests' second batch or period (salt 1): 8 of the 100
/// contributions, from a pseudo-random start in steps of 13, at 10.0–10.7 % each.
fn attribution(i: u64) -> Attribution {
    let start = u64::try_from(
        U256::from_be_bytes(keccak256((U256::from(1u64), U256::from(i)).abi_encode()).0)
            % U256::from(CONTRIBUTIONS),
    )
    .expect("below 100");
    let entries = (0..PER_RECEIPT)
        .map(|k| {
            let id = FIRST_POOL_ID + (start + k * 13) % CONTRIBUTIONS;
            (id, 100_000 + u32::try_from(k).expect("small") * 1000)
        })
        .collect();
    Attribution::new(entries).expect("attribution")
}

/// `settle(voucher, signature, logURI)` for period 1 of channel 1 after a 100-inference period 0, as
/// `ChannelGas.t.sol` sends it.
fn voucher_calldata(n: u64, signer: &PrivateKeySigner) -> Vec<u8> {
    let mut totals = PeriodTotals::default();
    for i in 0..n {
        totals.add(&TERMS, U256::from(FEE), &attribution(i));
    }
    let voucher = totals.voucher(1, 1, U256::from(100 * FEE), keccak256("log"));
    let domain = ChannelDomain {
        chain_id: 31337,
        channels: Address::repeat_byte(0xc4),
    };
    let signature = signer
        .sign_hash_sync(&domain.digest(&voucher))
        .expect("sign");
    IUsageChannels::settleCall {
        voucher,
        signature: Bytes::from(signature.as_bytes().to_vec()),
        logURI: LOG_URI.to_owned(),
    }
    .abi_encode()
}

/// `settle(receipts, attributions, signatures)` of 50 receipts of 500 tokens, 8 attributions each, random
/// nonces and a 99-byte output URI, as `Gas.t.sol`'s `_batch` builds them.
fn batch_calldata(signer: &PrivateKeySigner) -> Vec<u8> {
    let domain = ReceiptDomain {
        chain_id: 31337,
        escrow: Address::repeat_byte(0xe5),
    };
    let mut receipts = Vec::new();
    let mut attributions = Vec::new();
    let mut signatures = Vec::new();
    for i in 0..50u64 {
        let attribution = attribution(i);
        let output_hash = keccak256(("output", i).abi_encode());
        let receipt = UsageReceipt {
            payer: Address::repeat_byte(u8::try_from(i % 10).expect("small") + 1),
            modelId: 2,
            node: Address::repeat_byte(0xaa),
            promptHash: keccak256("prompt"),
            outputHash: output_hash,
            outputURI: format!("http://127.0.0.1:8080/v1/outputs/{output_hash}"),
            inputTokens: 300,
            outputTokens: 200,
            fee: U256::from(FEE),
            nonce: U256::from_be_bytes(keccak256(("nonce", 1u64, i).abi_encode()).0),
            deadline: 1_700_003_600,
            attributionVersion: 1,
            attributionHash: attribution.hash(),
        };
        let signature = signer
            .sign_hash_sync(&domain.digest(&receipt))
            .expect("sign");
        signatures.push(Bytes::from(signature.as_bytes().to_vec()));
        attributions.push(attribution.to_sol());
        receipts.push(receipt);
    }
    IUsageEscrow::settleCall {
        receipts,
        attributions,
        signatures,
    }
    .abi_encode()
}

fn transfer_calldata() -> Vec<u8> {
    soil_bindings::contracts::IPaymentToken::transferCall {
        to: Address::repeat_byte(0x77),
        value: U256::from(FEE),
    }
    .abi_encode()
}

/// `calldata` in a signed EIP-1559 transaction with `gas` as its limit: the bytes posted to L1.
fn signed_tx(calldata: &[u8], gas: u64, signer: &PrivateKeySigner) -> Vec<u8> {
    let mut tx = TxEip1559 {
        chain_id: 8453,
        nonce: 1234,
        gas_limit: gas + gas / 5,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000,
        to: TxKind::Call(Address::repeat_byte(0xc4)),
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::copy_from_slice(calldata),
    };
    let signature = signer.sign_transaction_sync(&mut tx).expect("sign tx");
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
}
