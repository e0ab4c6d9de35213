//! `soil model`: register, register-adapter, list, share, finetune, verify-training.

mod finetune;
mod list;
mod register;
mod register_adapter;
mod share;
mod verify_training;

use super::Global;

/// Model subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ModelCommand {
    /// Register a GGUF model (its SHA-256 is the weights hash) against releases, with a price and split.
    Register(register::Register),
    /// List registered models.
    List(list::List),
    /// Register a LoRA adapter trained by `soil model finetune` on a registered whole model.
    RegisterAdapter(register_adapter::RegisterAdapter),
    /// Declare the share of each fee that adapters registered on a model from now on pay its owner.
    Share(share::Share),
    /// Fine-tune a LoRA adapter of a GGUF llama base on releases' documents (CPU, candle).
    Finetune(finetune::Finetune),
    /// Verify a registered adapter's training: re-run it (same CPU class) or re-evaluate its held-out loss.
    VerifyTraining(verify_training::VerifyTraining),
}

impl ModelCommand {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        match self {
            Self::Register(cmd) => cmd.run(global).await,
            Self::List(cmd) => cmd.run(global).await,
            Self::RegisterAdapter(cmd) => cmd.run(global).await,
            Self::Share(cmd) => cmd.run(global).await,
            Self::Finetune(cmd) => cmd.run(global).await,
            Self::VerifyTraining(cmd) => cmd.run(global).await,
        }
    }

    /// The tensor-kernel threads the command asks for, set before any thread starts.
    pub(crate) fn kernel_threads(&self) -> Option<usize> {
        match self {
            Self::Finetune(cmd) => Some(cmd.threads),
            Self::VerifyTraining(cmd) => Some(cmd.threads),
            _ => None,
        }
    }
}
