//! The `soil` command line: one file per subcommand (groups in their own folder), each a clap `Args`
//! struct with an async `run`. Every command prints a human table, or JSON with `--json`.

mod args;
mod attribute;
mod audit;
mod balance;
mod channel;
mod claim;
mod datanet;
mod deposit;
mod infer;
mod model;
mod output;
mod serve;
mod settle;
mod status;
mod wallet;
mod withdraw;

use clap::{Parser, Subcommand};

pub(crate) use args::Global;

/// Soil: run small models locally, pay for each use with wallet-signed receipts, and credit the data
/// that shaped every answer.
#[derive(Debug, Parser)]
#[command(name = "soil", version, about)]
pub(crate) struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or show the wallet.
    #[command(subcommand)]
    Wallet(wallet::WalletCommand),
    /// Datanets: create, contribute, review, release, list, sync.
    #[command(subcommand)]
    Datanet(datanet::DatanetCommand),
    /// Models: register, list, finetune, verify-training.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Deposit payment tokens into the escrow (approves the escrow for you).
    Deposit(deposit::Deposit),
    /// Request or execute a withdrawal from the escrow.
    Withdraw(withdraw::Withdraw),
    /// Token balance, deposit, pending withdrawal and claimable earnings.
    Balance(balance::Balance),
    /// Usage channels: open, fund, status, settle, close.
    #[command(subcommand)]
    Channel(channel::ChannelCommand),
    /// Claim your contributions' pool rewards, then your whole claimable balance.
    Claim(claim::Claim),
    /// Run the model on a prompt, attribute the output, sign and store the usage receipt.
    Infer(infer::Infer),
    /// Serve the model over an OpenAI-compatible HTTP API, settling receipts in the background.
    Serve(serve::Serve),
    /// Attribute a text to the contributions of a release.
    Attribute(attribute::Attribute),
    /// Audit settled receipts: fetch each published output, check its hash, recompute its attribution.
    Audit(audit::Audit),
    /// Send the outbox's receipts to the escrow.
    Settle(settle::Settle),
    /// Outbox counts, deposit and claimable balance.
    Status(status::Status),
}

impl Cli {
    /// The tensor-kernel threads (candle's `RAYON_NUM_THREADS`) the command asks for: `main` sets the
    /// variable before it starts the async runtime, while the process has one thread.
    pub(crate) fn kernel_threads(&self) -> Option<usize> {
        match &self.command {
            Command::Model(cmd) => cmd.kernel_threads(),
            _ => None,
        }
    }

    /// Runs the chosen subcommand.
    pub(crate) async fn run(self) -> anyhow::Result<()> {
        let global = &self.global;
        match self.command {
            Command::Wallet(cmd) => cmd.run(global).await,
            Command::Datanet(cmd) => cmd.run(global).await,
            Command::Model(cmd) => cmd.run(global).await,
            Command::Deposit(cmd) => cmd.run(global).await,
            Command::Withdraw(cmd) => cmd.run(global).await,
            Command::Balance(cmd) => cmd.run(global).await,
            Command::Channel(cmd) => cmd.run(global).await,
            Command::Claim(cmd) => cmd.run(global).await,
            Command::Infer(cmd) => cmd.run(global).await,
            Command::Serve(cmd) => cmd.run(global).await,
            Command::Attribute(cmd) => cmd.run(global).await,
            Command::Audit(cmd) => cmd.run(global).await,
            Command::Settle(cmd) => cmd.run(global).await,
            Command::Status(cmd) => cmd.run(global).await,
        }
    }
}
