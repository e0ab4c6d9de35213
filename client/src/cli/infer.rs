//! `soil infer`.

use std::{io::Write as _, path::PathBuf};

use alloy::primitives::Address;
use soil_client::{
    model::{ChatMessage, GenerationRequest, Prompt, Role},
    outbox::Settler,
    outputs::OutputStore,
    serve::{Session, SessionConfig},
};

use super::{
    Global,
    args::{ModelArgs, SamplingArgs, ServedModelArgs, attribution_json, print_attribution},
    output::{self, outln},
    settle::SettleOptions,
};

/// Runs the registered model (a whole model, or an adapter over its base) on PROMPT: checks the files
/// against the registered weights hashes, syncs the model's releases, streams the answer, attributes it, signs the usage receipt and stores it in the
/// outbox (and settles it with --settle).
#[derive(Debug, clap::Args)]
pub(crate) struct Infer {
    /// The prompt (a user chat message; with --raw, fed to the model as is).
    prompt: String,
    #[command(flatten)]
    served: ServedModelArgs,
    /// Feed the prompt as raw text instead of through the model's chat template.
    #[arg(long)]
    raw: bool,
    /// The node credited with the node share [default: the wallet].
    #[arg(long)]
    node: Option<Address>,
    /// Receipt lifetime in seconds [default: the escrow's maxReceiptValidity].
    #[arg(long)]
    receipt_validity: Option<u64>,
    /// Base URL the outputs are published under: each receipt signs `<URL>/<keccak256 of the output>` as
    /// its output URI [default: the file:// URL of --publish-dir; without it, no output URI].
    #[arg(long, value_name = "URL")]
    output_base: Option<String>,
    /// Publish each output to DIR/<keccak256 of the output> (written before the receipt is signed).
    #[arg(long, value_name = "DIR")]
    publish_dir: Option<PathBuf>,
    /// Settle the outbox right after signing.
    #[arg(long)]
    settle: bool,
    #[command(flatten)]
    settle_options: SettleOptions,
    #[command(flatten)]
    sampling: SamplingArgs,
    #[command(flatten)]
    model_args: ModelArgs,
}

impl Infer {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let signer = global.wallet().open()?;
        let chain = global.connect(signer.clone()).await?;
        let outbox = global.outbox().await?;
        let outputs = self
            .publish_dir
            .as_deref()
            .map(OutputStore::open)
            .transpose()?;
        let output_base = self
            .output_base
            .clone()
            .or_else(|| outputs.as_ref().map(OutputStore::file_base));
        let config = SessionConfig {
            model_id: self.served.model_id,
            model_path: self.served.model.clone(),
            adapters: self.served.adapters.clone(),
            model_name: None,
            model_options: self.model_args.options(),
            cache_dir: global.cache_dir(),
            node: self.node,
            receipt_validity: self.receipt_validity,
            output_base,
            outputs,
        };
        let session = Session::open(chain, signer, outbox, config).await?;
        let prompt = if self.raw {
            Prompt::Raw(self.prompt.clone())
        } else {
            Prompt::Chat(vec![ChatMessage::new(Role::User, self.prompt.clone())])
        };
        let request = GenerationRequest {
            prompt,
            sampling: self.sampling.sampling(),
            stop: Vec::new(),
            logprobs: None,
            grammar: None,
            adapter: None,
        };
        let stream = !global.json;
        let completion = session
            .complete(session.default_model(), request, |piece| {
                if stream {
                    // A closed stdout ends the command at its next line, once the use is recorded.
                    let mut stdout = std::io::stdout().lock();
                    let _ = write!(stdout, "{piece}").and_then(|()| stdout.flush());
                }
            })
            .await?;
        let report = if self.settle {
            let config = self
                .settle_options
                .config(session.chain().deployment().chain_id);
            Some(
                Settler::new(session.chain(), session.outbox(), config)
                    .run_once()
                    .await?,
            )
        } else {
            None
        };
        let receipt = &completion.receipt.receipt;
        if global.json {
            return output::json(&serde_json::json!({
                "text": completion.text,
                "promptTokens": completion.stats.prompt_tokens,
                "outputTokens": completion.stats.output_tokens,
                "receipt": completion.digest,
                "outboxId": completion.outbox_id,
                "fee": receipt.fee.to_string(),
                "outputHash": receipt.outputHash,
                "outputUri": receipt.outputURI,
                "nonce": receipt.nonce.to_string(),
                "deadline": receipt.deadline,
                "attribution": attribution_json(&completion.attribution),
                "settlement": report,
            }));
        }
        outln!()?;
        outln!()?;
        print_attribution(&completion.attribution)?;
        outln!(
            "receipt {} (fee {}, {} + {} tokens) stored in the outbox as #{}",
            completion.digest,
            receipt.fee,
            receipt.inputTokens,
            receipt.outputTokens,
            completion.outbox_id
        )?;
        if !receipt.outputURI.is_empty() {
            outln!("output {} at {}", receipt.outputHash, receipt.outputURI)?;
        }
        if let Some(report) = report {
            outln!(
                "settled {} receipt(s) ({} already settled, {} failed)",
                report.settled,
                report.already_settled,
                report.failed
            )?;
        }
        Ok(())
    }
}
