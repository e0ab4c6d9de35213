//! `soil serve`.

use std::{io::Write as _, path::PathBuf, sync::Arc, time::Duration};

use alloy::primitives::{Address, U256};
use soil_client::{
    channel::{SettlePolicy, SettleRound},
    model::ModelOptions,
    outbox::FailPoint,
    outputs::OutputStore,
    serve::{
        Admission, AppState, Session, SessionConfig, bind, serve, spawn_channel_settlement,
        spawn_settlement,
    },
};

use super::{
    Global,
    args::{ModelArgs, SamplingArgs, ServedModelArgs, parse_amount},
    output::outln,
    settle::SettleOptions,
};

/// Serves the registered model, and any LoRA adapters registered on it (loaded once over the base and
/// picked per request by the OpenAI `model` field), over an OpenAI-compatible API. The server's wallet pays: every
/// completion leaves a signed receipt in the outbox, settled in the background every --interval; or, for a
/// model with a --channel, signs the channel's next voucher, settled once --channel-settle-value or
/// --channel-settle-after is reached when the wallet is the channel's node, else handed to the node when
/// it asks (`POST /v1/channels/<id>/cut`, used by `soil channel settle <id> --from <this server>`).
#[derive(Debug, clap::Args)]
pub(crate) struct Serve {
    #[command(flatten)]
    served: ServedModelArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The name clients give as `model` for --model-id [default: soil-<model id>; every other served
    /// model is soil-<its id>].
    #[arg(long)]
    model_name: Option<String>,
    /// The node credited with the node share [default: the wallet].
    #[arg(long)]
    node: Option<Address>,
    /// Receipt lifetime in seconds [default: the escrow's maxReceiptValidity].
    #[arg(long)]
    receipt_validity: Option<u64>,
    /// Base URL the outputs are published under: each receipt signs `<URL>/<keccak256 of the output>` as
    /// its output URI [default: with --publish-dir, this server's http://<listen address>/v1/outputs;
    /// without it, no output URI].
    #[arg(long, value_name = "URL")]
    output_base: Option<String>,
    /// Publish each output to DIR/<keccak256 of the output> (written before the receipt is signed) and
    /// answer GET /v1/outputs/<keccak256> with it.
    #[arg(long, value_name = "DIR")]
    publish_dir: Option<PathBuf>,
    /// Slots: completions decoded together in one batch (continuous batching), each with its own KV cache
    /// of --ctx-size tokens; a request joins the running batch as soon as a slot is free.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    parallel: u32,
    /// The most completions running or waiting for the model at once; past it a request is refused with
    /// HTTP 429 and `Retry-After`.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    max_queue: u16,
    /// Seconds between background settlement rounds.
    #[arg(long, default_value_t = 10)]
    interval: u64,
    /// Pay a served model's completions through this usage channel (repeatable, one per model): the
    /// wallet signs the channel's next voucher after each completion instead of a receipt of its own.
    /// The channel's signer must be the wallet and its node --node; when --node is another wallet, that
    /// node settles with `soil channel settle <id> --from <this server's URL>`.
    #[arg(long = "channel", value_name = "CHANNEL_ID")]
    channels: Vec<u64>,
    /// Base URL the channels' receipts logs are published under (answered at GET /v1/logs/0x<root>):
    /// each settlement names `<URL>/0x<logRoot>` as its logURI [default: this server's
    /// http://<listen address>/v1/logs].
    #[arg(long, value_name = "URL")]
    log_base: Option<String>,
    /// Settle a channel once the vouchers since its last settlement owe at least this much (token units);
    /// only when the wallet is the channel's node (another node decides itself when to settle).
    #[arg(long, default_value = "1000000000000000000", value_name = "AMOUNT", value_parser = parse_amount)]
    channel_settle_value: U256,
    /// Settle a channel once the first inference since its last settlement is this many seconds old (when
    /// the wallet is its node).
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    channel_settle_after: u64,
    #[command(flatten)]
    settle_options: SettleOptions,
    #[command(flatten)]
    sampling: SamplingArgs,
    #[command(flatten)]
    model_args: ModelArgs,
}

impl Serve {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let signer = global.wallet().open()?;
        let chain = global.connect(signer.clone()).await?;
        let chain_id = chain.deployment().chain_id;
        let outbox = global.outbox().await?;
        // Bound first: the default output base names the address actually listened on (--port 0 included).
        let listener = bind(&format!("{}:{}", self.host, self.port)).await?;
        let local = listener.local_addr()?;
        let outputs = self
            .publish_dir
            .as_deref()
            .map(OutputStore::open)
            .transpose()?;
        let output_base = match (&self.output_base, &outputs) {
            (Some(base), _) => Some(base.clone()),
            (None, Some(_)) => {
                if local.ip().is_unspecified() {
                    anyhow::bail!(
                        "--publish-dir on {local} needs --output-base: the URL others reach this server at"
                    );
                }
                Some(format!("http://{local}/v1/outputs"))
            }
            (None, None) => None,
        };
        let log_base = match (&self.log_base, self.channels.is_empty()) {
            (Some(base), _) => Some(base.clone()),
            (None, true) => None,
            (None, false) => {
                if local.ip().is_unspecified() {
                    anyhow::bail!(
                        "--channel on {local} needs --log-base: the URL others reach this server's logs at"
                    );
                }
                Some(format!("http://{local}/v1/logs"))
            }
        };
        let config = SessionConfig {
            model_id: self.served.model_id,
            model_path: self.served.model.clone(),
            adapters: self.served.adapters.clone(),
            model_name: self.model_name.clone(),
            model_options: ModelOptions {
                parallel: self.parallel,
                ..self.model_args.options()
            },
            cache_dir: global.cache_dir(),
            node: self.node,
            receipt_validity: self.receipt_validity,
            output_base,
            outputs,
            channels: self.channels.clone(),
            log_base,
        };
        let session = Arc::new(Session::open(chain, signer, outbox, config).await?);
        let settlement = spawn_settlement(
            Arc::clone(&session),
            self.settle_options.config(chain_id),
            Duration::from_secs(self.interval.max(1)),
        );
        let channel_settlement = spawn_channel_settlement(
            Arc::clone(&session),
            SettlePolicy {
                value: self.channel_settle_value,
                after: Duration::from_secs(self.channel_settle_after),
            },
            SettleRound {
                cut: false,
                confirmations: self.settle_options.config(chain_id).confirmations,
                fail_point: FailPoint::from_env(),
            },
        );
        let state = AppState {
            session,
            defaults: self.sampling.sampling(),
            admission: Admission::new(usize::from(self.max_queue)),
            metrics: soil_client::serve::metrics::install()?,
        };
        outln!("listening on http://{local}")?;
        std::io::stdout().flush()?;
        let result = serve(listener, state).await;
        settlement.abort();
        channel_settlement.abort();
        Ok(result?)
    }
}
