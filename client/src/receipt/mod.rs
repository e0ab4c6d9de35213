//! Usage receipts: what the payer's wallet signs for each inference.
//!
//! A receipt commits to keccak256 of the prompt and output bytes, where the output is published, the
//! token counts the model reported, the fee `price × (input + output) / 1000` rounded down at the price in
//! force for the receipt's deadline (the registry's `quoteFee`, computed here from the price schedule read
//! on chain), a random 256-bit unordered nonce, a deadline, the attribution protocol version and the
//! attribution's hash.

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    signers::{
        Signer,
        k256::elliptic_curve::rand_core::{OsRng, RngCore},
    },
};
use soil_bindings::{Attribution, ReceiptDomain, receipt::UsageReceipt};

use crate::error::{ClientError, Result};

/// The fee for `tokens` tokens at `price_per_kilo_token`: price × tokens / 1000, rounded down.
pub fn quote_fee(price_per_kilo_token: U256, tokens: u64) -> U256 {
    price_per_kilo_token * U256::from(tokens) / U256::from(1000u64)
}

/// A fresh random 256-bit nonce from the operating system's CSPRNG.
pub fn random_nonce() -> U256 {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    U256::from_be_bytes(bytes)
}

/// A model's price schedule as read on chain: one price, and possibly a change that applies to receipts
/// whose deadline is at or after `next_at` (the registry's `priceAt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceSchedule {
    /// Price per 1,000 tokens for deadlines before `next_at` (all deadlines when none is scheduled).
    pub price: U256,
    /// The scheduled price per 1,000 tokens.
    pub next_price: U256,
    /// When the scheduled price applies, by receipt deadline; 0 when none is scheduled.
    pub next_at: u64,
}

impl PriceSchedule {
    /// A schedule with one price and no change.
    pub fn fixed(price: U256) -> Self {
        Self {
            price,
            next_price: price,
            next_at: 0,
        }
    }

    /// The price per 1,000 tokens of a receipt with deadline `deadline`.
    pub fn price_at(&self, deadline: u64) -> U256 {
        if self.next_at != 0 && deadline >= self.next_at {
            self.next_price
        } else {
            self.price
        }
    }
}

/// The terms every receipt of one session shares: which model, which node, at what price, until when.
#[derive(Debug, Clone, Copy)]
pub struct ReceiptTerms {
    /// The model used.
    pub model_id: u64,
    /// The node that ran it (receives the node share).
    pub node: Address,
    /// The model's price schedule, as read on chain.
    pub prices: PriceSchedule,
    /// Last timestamp at which the receipt settles.
    pub deadline: u64,
}

impl ReceiptTerms {
    /// The fee of `tokens` tokens under these terms.
    pub fn fee(&self, tokens: u64) -> U256 {
        quote_fee(self.prices.price_at(self.deadline), tokens)
    }
}

/// One use of the model: the exact prompt and output bytes and the model's token counts.
#[derive(Debug, Clone, Copy)]
pub struct Usage<'a> {
    /// The prompt as sent to the model (after the chat template, if any).
    pub prompt: &'a [u8],
    /// The generated text.
    pub output: &'a [u8],
    /// Where the output is published ("" when it is not).
    pub output_uri: &'a str,
    /// Prompt tokens.
    pub input_tokens: usize,
    /// Generated tokens.
    pub output_tokens: usize,
}

/// A receipt with the attribution it commits to and the payer's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReceipt {
    /// The receipt.
    pub receipt: UsageReceipt,
    /// The attribution whose hash is `receipt.attributionHash`.
    pub attribution: Attribution,
    /// The payer's 65-byte signature over the EIP-712 digest.
    pub signature: Bytes,
}

impl SignedReceipt {
    /// The EIP-712 digest (the id the escrow's `ReceiptSettled` event carries).
    pub fn digest(&self, domain: &ReceiptDomain) -> B256 {
        domain.digest(&self.receipt)
    }
}

fn tokens(what: &'static str, count: usize) -> Result<u32> {
    u32::try_from(count).map_err(|_| ClientError::OutOfRange {
        what,
        value: count.to_string(),
    })
}

/// The receipt for `usage` under `terms` (model, node, deadline), paid by `payer` at `price_per_kilo_token`
/// with `nonce`, committing to `attribution` computed under attribution protocol `attribution_version`.
pub fn usage_receipt(
    payer: Address,
    terms: &ReceiptTerms,
    price_per_kilo_token: U256,
    nonce: U256,
    usage: &Usage<'_>,
    attribution_version: u16,
    attribution: &Attribution,
) -> Result<UsageReceipt> {
    let input_tokens = tokens("input token count", usage.input_tokens)?;
    let output_tokens = tokens("output token count", usage.output_tokens)?;
    Ok(UsageReceipt {
        payer,
        modelId: terms.model_id,
        node: terms.node,
        promptHash: keccak256(usage.prompt),
        outputHash: keccak256(usage.output),
        outputURI: usage.output_uri.to_owned(),
        inputTokens: input_tokens,
        outputTokens: output_tokens,
        fee: quote_fee(
            price_per_kilo_token,
            u64::from(input_tokens) + u64::from(output_tokens),
        ),
        nonce,
        deadline: terms.deadline,
        attributionVersion: attribution_version,
        attributionHash: attribution.hash(),
    })
}

/// Builds the receipt for `usage` under `terms` (at the price in force for its deadline, with a random
/// nonce), its attribution computed under attribution protocol `attribution_version`, and signs it with
/// the payer's `signer`.
pub async fn sign_usage<S: Signer + Sync>(
    domain: &ReceiptDomain,
    signer: &S,
    terms: &ReceiptTerms,
    usage: &Usage<'_>,
    attribution_version: u16,
    attribution: Attribution,
) -> Result<SignedReceipt> {
    let receipt = usage_receipt(
        signer.address(),
        terms,
        terms.prices.price_at(terms.deadline),
        random_nonce(),
        usage,
        attribution_version,
        &attribution,
    )?;
    let signature = domain.sign(&receipt, signer).await?;
    Ok(SignedReceipt {
        receipt,
        attribution,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::signers::local::PrivateKeySigner;

    #[test]
    fn fee_rounds_down() {
        assert_eq!(quote_fee(U256::from(1000u64), 37), U256::from(37u64));
        assert_eq!(quote_fee(U256::from(999u64), 1), U256::ZERO);
        assert_eq!(quote_fee(U256::from(2500u64), 3), U256::from(7u64));
    }

    #[test]
    fn price_follows_the_deadline() {
        let prices = PriceSchedule {
            price: U256::from(1000u64),
            next_price: U256::from(3000u64),
            next_at: 500,
        };
        assert_eq!(prices.price_at(499), U256::from(1000u64));
        assert_eq!(prices.price_at(500), U256::from(3000u64));
        assert_eq!(
            PriceSchedule::fixed(U256::from(7u64)).price_at(u64::MAX),
            U256::from(7u64)
        );
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(random_nonce(), random_nonce());
    }

    #[tokio::test]
    async fn receipt_commits_to_usage_and_recovers_to_payer() {
        let signer = PrivateKeySigner::random();
        let domain = ReceiptDomain {
            chain_id: 31337,
            escrow: Address::repeat_byte(7),
        };
        let terms = ReceiptTerms {
            model_id: 3,
            node: Address::repeat_byte(2),
            prices: PriceSchedule::fixed(U256::from(1_000_000u64)),
            deadline: 1_900_000_000,
        };
        let usage = Usage {
            prompt: b"hello",
            output: b"world",
            output_uri: "http://127.0.0.1:8080/v1/outputs/0xabc",
            input_tokens: 5,
            output_tokens: 12,
        };
        let attribution = Attribution::new(vec![(4, 250_000)]).unwrap();
        let signed = sign_usage(&domain, &signer, &terms, &usage, 1, attribution.clone())
            .await
            .unwrap();
        assert_eq!(signed.receipt.payer, signer.address());
        assert_eq!(signed.receipt.promptHash, keccak256("hello"));
        assert_eq!(signed.receipt.outputHash, keccak256("world"));
        assert_eq!(signed.receipt.fee, U256::from(17_000u64));
        assert_eq!(signed.receipt.outputURI, usage.output_uri);
        assert_eq!(signed.receipt.attributionVersion, 1);
        assert_eq!(signed.receipt.attributionHash, attribution.hash());
        let signature = alloy::primitives::Signature::try_from(signed.signature.as_ref()).unwrap();
        let recovered = signature
            .recover_address_from_prehash(&signed.digest(&domain))
            .unwrap();
        assert_eq!(recovered, signer.address());
    }
}
