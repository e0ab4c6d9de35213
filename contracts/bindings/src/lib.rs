//! Rust bindings for Soil's contracts.
//!
//! - [`contracts`]: `sol!` types for the registries, the escrow and the payment token, generated from the
//!   ABI that `make abi` exports from `contracts/src/interfaces` into `contracts/bindings/abi/`.
//! - [`receipt`]: the EIP-712 [`UsageReceipt`](contracts::IUsageEscrow::UsageReceipt), its attribution
//!   hash, digest and signing.
//! - [`channel`]: usage channels — the EIP-712 voucher, the receipts log and a period's totals.
//! - [`merkle`]: the Merkle tree of release roots and receipts-log roots.
//! - [`deployment`]: the `deployments/<chainId>.json` files written by `contracts/script/Deploy.s.sol`.
//! - [`revert`]: the contracts' custom errors decoded into words.

pub mod channel;
pub mod contracts;
pub mod deployment;
pub mod error;
pub mod merkle;
pub mod receipt;
pub mod revert;
#[cfg(feature = "testnet")]
pub mod testnet;

pub use deployment::Deployment;
pub use error::BindingsError;
pub use receipt::{Attribution, ReceiptDomain};
