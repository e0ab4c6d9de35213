//! `soil infer`.

use std::{io::Write as _, path::PathBuf};

use alloy::primitives::Address;
use soil_client::{
    channel::{SettleRound, settle_channel},
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
    /// Pay through this usage channel (for the model, signed by the wallet, to --node): sign its next
    /// voucher instead of a receipt of its own.
    #[arg(long, value_name = "CHANNEL_ID")]
    channel: Option<u64>,
    /// Settle right after signing: the outbox, or with --channel the channel (the wallet must be its
    /// node).
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
            channels: self.channel.into_iter().collect(),
            log_base: None,
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
        let config = self
            .settle_options
            .config(session.chain().deployment().chain_id);
        let report = match (self.settle, self.channel) {
            (false, _) => None,
            (true, None) => Some(serde_json::to_value(
                Settler::new(session.chain(), session.outbox(), config)
                    .run_once()
                    .await?,
            )?),
            (true, Some(channel_id)) => {
                let round = SettleRound {
                    cut: true,
                    confirmations: config.confirmations,
                    fail_point: config.fail_point,
                };
                Some(serde_json::to_value(
                    settle_channel(session.chain(), session.outbox(), channel_id, round).await?,
                )?)
            }
        };
        let receipt = &completion.receipt;
        let channel = completion.payment.channel();
        if global.json {
            return output::json(&serde_json::json!({
                "text": completion.text,
                "promptTokens": completion.stats.prompt_tokens,
                "outputTokens": completion.stats.output_tokens,
                "receipt": completion.digest,
                "outboxId": completion.payment.outbox_id(),
                "channel": channel.map(|paid| serde_json::json!({
                    "id": paid.channel_id,
                    "period": paid.period,
                    "cumulativeFee": paid.cumulative_fee.to_string(),
                })),
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
        match (completion.payment.outbox_id(), channel) {
            (Some(outbox_id), _) => outln!(
                "receipt {} (fee {}, {} + {} tokens) stored in the outbox as #{outbox_id}",
                completion.digest,
                receipt.fee,
                receipt.inputTokens,
                receipt.outputTokens,
            )?,
            (None, Some(paid)) => outln!(
                "receipt {} (fee {}, {} + {} tokens) is inference {} of channel {}, period {}: its voucher \
                 promises {} in total",
                completion.digest,
                receipt.fee,
                receipt.inputTokens,
                receipt.outputTokens,
                receipt.nonce,
                paid.channel_id,
                paid.period,
                paid.cumulative_fee
            )?,
            (None, None) => {}
        }
        if !receipt.outputURI.is_empty() {
            outln!("output {} at {}", receipt.outputHash, receipt.outputURI)?;
        }
        if let Some(report) = report {
            outln!("settlement: {report}")?;
        }
        Ok(())
    }
}
