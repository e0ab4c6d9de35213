//! A paid session with a registered model and the LoRA adapters registered on it: each GGUF file checked
//! against its registered weights hash, the base loaded once with every adapter over it, every release of
//! each served model synced and indexed (cached by root), and each finished generation attributed over
//! the releases of the model that produced it, turned into a signed usage receipt naming that model and
//! written to the outbox before anything else happens with it (for a model paid through a usage channel:
//! a log entry and the channel's next signed voucher, written together).

use std::{path::PathBuf, sync::Arc};

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    signers::local::PrivateKeySigner,
};
use soil_bindings::{contracts::IModelRegistry, receipt::UsageReceipt};

use crate::{
    attribution::{self, DocumentFetcher, Index, IndexCache},
    chain::Chain,
    channel::{ChannelBook, ChannelPayment, Inference, Reservation},
    error::{ClientError, DepositShortfall, Result},
    model::{
        GenerationRequest, GenerationStats, ModelError, ModelFile, ModelOptions, ModelWorker,
        Prompt, TokenEvent, TokenStream,
    },
    outbox::Outbox,
    outputs::{self, OutputStore},
    receipt::{PriceSchedule, ReceiptTerms, Usage, quote_fee, sign_usage},
};

/// How a session is opened.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The registered model served by default: a whole model, or an adapter (then listed in `adapters`).
    pub model_id: u64,
    /// The whole model's GGUF file (the base's, when `model_id` is an adapter), checked against its
    /// registered weights hash.
    pub model_path: PathBuf,
    /// LoRA adapters registered on that base, by model id, with their GGUF files (each checked against
    /// the adapter's registered weights hash).
    pub adapters: Vec<(u64, PathBuf)>,
    /// The name clients give as `model` for `model_id` [default: soil-<model id>]; every other served
    /// model is soil-<model id>.
    pub model_name: Option<String>,
    /// llama.cpp settings.
    pub model_options: ModelOptions,
    /// Where release indexes are cached.
    pub cache_dir: PathBuf,
    /// The node receiving the node share [default: the payer's wallet].
    pub node: Option<Address>,
    /// Receipt lifetime in seconds [default and maximum: the escrow's `maxReceiptValidity`].
    pub receipt_validity: Option<u64>,
    /// Base URL outputs are published under: a receipt's output URI is `<base>/<outputHash>` (none when
    /// unset).
    pub output_base: Option<String>,
    /// Where each output is published (content-addressed) before its receipt is signed (nowhere when
    /// unset).
    pub outputs: Option<OutputStore>,
    /// Usage channels to pay through, at most one per served model: a completion of a model with a
    /// channel signs the channel's next voucher instead of a receipt of its own.
    pub channels: Vec<u64>,
    /// Base URL the channels' receipts logs are published under: a settled period's `logURI` is
    /// `<base>/0x<logRoot>` (none when unset).
    pub log_base: Option<String>,
}

/// A paid generation under way: its tokens, and for a model paid through a channel the request's largest
/// fee held against the channel until [`Session::record`] takes it.
#[derive(Debug)]
pub struct Generation {
    /// The generation's events.
    pub events: TokenStream,
    /// The request's hold on its channel (`None` for a model paid per receipt).
    pub reservation: Option<Reservation>,
}

/// A finished, paid use of the model.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The generated text.
    pub text: String,
    /// Token counts and ids.
    pub stats: GenerationStats,
    /// The output's attribution.
    pub attribution: attribution::Attribution,
    /// The receipt, already durable (in the outbox, or in its channel's log).
    pub receipt: UsageReceipt,
    /// Its id: the EIP-712 digest of a receipt settled on its own, the log leaf of one in a channel.
    pub digest: B256,
    /// How it is paid.
    pub payment: Payment,
}

/// How a completion is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    /// By its own signed receipt, in the outbox at this row.
    Receipt {
        /// The outbox row.
        outbox_id: i64,
    },
    /// Through a usage channel: a new voucher covers it.
    Channel(ChannelPayment),
}

impl Payment {
    /// The receipt's outbox row, when it is paid on its own.
    pub fn outbox_id(&self) -> Option<i64> {
        match self {
            Self::Receipt { outbox_id } => Some(*outbox_id),
            Self::Channel(_) => None,
        }
    }

    /// The channel payment, when it is paid through a channel.
    pub fn channel(&self) -> Option<&ChannelPayment> {
        match self {
            Self::Receipt { .. } => None,
            Self::Channel(payment) => Some(payment),
        }
    }
}

/// One model a session serves: the whole model it loaded, or a LoRA adapter applied over it.
#[derive(Debug)]
pub struct ServedModel {
    name: String,
    base_model_id: Option<u64>,
    adapter: Option<usize>,
    index: Index,
    release_ids: Vec<u64>,
    terms: ReceiptTerms,
    channel: Option<ChannelBook>,
}

impl ServedModel {
    /// The name clients give as `model`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The registered model's id (what its receipts name).
    pub fn model_id(&self) -> u64 {
        self.terms.model_id
    }

    /// The whole model an adapter applies to (`None` for the whole model itself).
    pub fn base_model_id(&self) -> Option<u64> {
        self.base_model_id
    }

    /// The adapter the worker applies for it (an index into its loaded adapters; `None` for the base).
    pub fn adapter(&self) -> Option<usize> {
        self.adapter
    }

    /// The releases its outputs are attributed over.
    pub fn release_ids(&self) -> &[u64] {
        &self.release_ids
    }

    /// The channel its completions are paid through, if any.
    pub fn channel(&self) -> Option<&ChannelBook> {
        self.channel.as_ref()
    }
}

/// An open session.
#[derive(Debug)]
pub struct Session {
    chain: Chain,
    signer: PrivateKeySigner,
    outbox: Outbox,
    worker: ModelWorker,
    /// The default model first.
    models: Vec<ServedModel>,
    validity: u64,
    output_base: Option<String>,
    outputs: Option<OutputStore>,
}

/// The bytes a receipt's `promptHash` commits to: a raw prompt's UTF-8 text, or for chat the JSON array
/// of `{"role","content"}` messages as serde_json writes it (compact, fields in that order).
pub fn prompt_bytes(prompt: &Prompt) -> Vec<u8> {
    match prompt {
        Prompt::Raw(text) => text.as_bytes().to_vec(),
        Prompt::Chat(messages) => serde_json::to_vec(messages).unwrap_or_default(),
    }
}

/// The cache key of the attribution index over several releases: the release root itself for one
/// release, else keccak256 of the roots concatenated in the model's order.
pub fn releases_key(roots: &[B256]) -> B256 {
    match roots {
        [root] => *root,
        _ => keccak256(roots.iter().flat_map(|r| r.0).collect::<Vec<u8>>()),
    }
}

/// A contribution that declared more tokens than its document holds (its words, docs/PROTOCOL.md): it
/// would take more of its release pool than its data is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overclaim {
    /// The contribution.
    pub contribution_id: u64,
    /// Its declared token count (on chain).
    pub declared: u32,
    /// The words its document holds.
    pub counted: u64,
}

/// Fetches and verifies each release's documents, counts their words and returns every contribution
/// whose declared token count is above it. A count below the declaration's only costs its contributor,
/// so it is not reported.
pub async fn overclaims(chain: &Chain, release_ids: &[u64]) -> Result<Vec<Overclaim>> {
    let fetcher = DocumentFetcher::new(std::time::Duration::from_secs(60))?;
    let mut found = Vec::new();
    for &id in release_ids {
        for document in chain.fetch_release(id, &fetcher).await?.documents {
            let declared = chain
                .contribution(document.contribution_id)
                .await?
                .tokenCount;
            let counted = attribution::word_count(&document.bytes) as u64;
            if u64::from(declared) > counted {
                found.push(Overclaim {
                    contribution_id: document.contribution_id,
                    declared,
                    counted,
                });
            }
        }
    }
    Ok(found)
}

/// Fetches, verifies and indexes `release_ids` (documents of several releases merged, each contribution
/// once), or loads the cached index.
pub async fn sync_releases(
    chain: &Chain,
    cache: &IndexCache,
    release_ids: &[u64],
) -> Result<Index> {
    let fetcher = DocumentFetcher::new(std::time::Duration::from_secs(60))?;
    let mut roots = Vec::with_capacity(release_ids.len());
    for &id in release_ids {
        roots.push(chain.release(id).await?.root);
    }
    let key = releases_key(&roots);
    if let Ok(Some(index)) = cache.load(key) {
        return Ok(index);
    }
    let mut documents = std::collections::BTreeMap::new();
    for &id in release_ids {
        for document in chain.fetch_release(id, &fetcher).await?.documents {
            documents
                .entry(document.contribution_id)
                .or_insert(document);
        }
    }
    let documents: Vec<attribution::Document> = documents.into_values().collect();
    let cache = cache.clone();
    let index = tokio::task::spawn_blocking(move || cache.load_or_build(key, || Ok(documents)))
        .await
        .map_err(|err| ClientError::Rpc {
            action: "indexing releases".to_owned(),
            reason: err.to_string(),
        })??;
    Ok(index)
}

/// Checks the base file and each adapter file against their registered hashes and loads them all, on a
/// blocking thread.
async fn load_with_adapters(
    base: (PathBuf, B256),
    adapters: Vec<(PathBuf, B256)>,
    options: ModelOptions,
) -> Result<ModelWorker> {
    tokio::task::spawn_blocking(move || {
        let file = ModelFile::open(&base.0, Some(base.1))?;
        let adapters = adapters
            .iter()
            .map(|(path, hash)| ModelFile::open(path, Some(*hash)))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        ModelWorker::spawn_with_adapters(&file, &adapters, &options)
    })
    .await
    .map_err(|_| ClientError::Model(ModelError::WorkerGone))?
    .map_err(ClientError::from)
}

/// Opens each of `config.channels` on the served model it pays for (the wallet signing its vouchers, the
/// session's node running it); a channel for a model not served, or a second one for a model, is an
/// error.
async fn attach_channels(
    chain: &Chain,
    outbox: &Outbox,
    signer: &PrivateKeySigner,
    models: &mut [ServedModel],
    config: &SessionConfig,
) -> Result<()> {
    let log_base = config.log_base.as_deref().unwrap_or_default();
    for &channel_id in &config.channels {
        let on_chain = chain.channel(channel_id).await?;
        let model = models
            .iter_mut()
            .find(|m| m.model_id() == on_chain.modelId)
            .ok_or_else(|| ClientError::UnusableChannel {
                channel_id,
                reason: format!(
                    "it pays for model {}, which is not served here",
                    on_chain.modelId
                ),
            })?;
        if let Some(other) = &model.channel {
            return Err(ClientError::UnusableChannel {
                channel_id,
                reason: format!(
                    "model {} is already paid through channel {}",
                    on_chain.modelId,
                    other.channel_id()
                ),
            });
        }
        model.channel = Some(
            ChannelBook::open(
                chain,
                outbox,
                channel_id,
                signer.address(),
                model.terms.node,
                Some(model.model_id()),
                log_base,
            )
            .await?,
        );
    }
    Ok(())
}

/// The registered models a session serves, read from the chain: the whole model first, then each adapter
/// (which must be registered on it), with the adapter files in the same order.
struct Lineup {
    base_id: u64,
    base: IModelRegistry::Model,
    adapters: Vec<(u64, IModelRegistry::Model, PathBuf)>,
}

impl Lineup {
    async fn read(chain: &Chain, config: &SessionConfig) -> Result<Self> {
        let primary = chain.model(config.model_id).await?;
        let base_id = match primary.baseModelId {
            0 => config.model_id,
            base => base,
        };
        if base_id != config.model_id
            && !config.adapters.iter().any(|(id, _)| *id == config.model_id)
        {
            return Err(ClientError::MissingAdapterFile(config.model_id));
        }
        let base = if base_id == config.model_id {
            primary
        } else {
            chain.model(base_id).await?
        };
        let mut adapters = Vec::with_capacity(config.adapters.len());
        for (id, path) in &config.adapters {
            let adapter = chain.model(*id).await?;
            if adapter.baseModelId != base_id {
                return Err(ClientError::AdapterOnOtherBase {
                    adapter: *id,
                    base: base_id,
                    actual: adapter.baseModelId,
                });
            }
            adapters.push((*id, adapter, path.clone()));
        }
        Ok(Self {
            base_id,
            base,
            adapters,
        })
    }
}

impl Session {
    /// Opens a session: reads the models on chain, checks and loads the files (the base once, every adapter
    /// over it), syncs each model's releases.
    pub async fn open(
        chain: Chain,
        signer: PrivateKeySigner,
        outbox: Outbox,
        config: SessionConfig,
    ) -> Result<Self> {
        let lineup = Lineup::read(&chain, &config).await?;
        let worker = load_with_adapters(
            (config.model_path.clone(), lineup.base.weightsHash),
            lineup
                .adapters
                .iter()
                .map(|(_, model, path)| (path.clone(), model.weightsHash))
                .collect(),
            config.model_options.clone(),
        )
        .await?;
        let node = config.node.unwrap_or_else(|| signer.address());
        let cache = IndexCache::new(config.cache_dir.clone());
        let whole = std::iter::once((lineup.base_id, lineup.base, None));
        let adapters = lineup
            .adapters
            .into_iter()
            .enumerate()
            .map(|(slot, (id, model, _))| (id, model, Some(slot)));
        let mut models = Vec::new();
        for (model_id, model, adapter) in whole.chain(adapters) {
            let name = match &config.model_name {
                Some(name) if model_id == config.model_id => name.clone(),
                _ => format!("soil-{model_id}"),
            };
            models.push(ServedModel {
                name,
                base_model_id: adapter.map(|_| lineup.base_id),
                adapter,
                index: sync_releases(&chain, &cache, &model.releaseIds).await?,
                terms: ReceiptTerms {
                    model_id,
                    node,
                    prices: PriceSchedule {
                        price: U256::from(model.pricePerKiloToken),
                        next_price: U256::from(model.nextPricePerKiloToken),
                        next_at: model.nextPriceAt,
                    },
                    deadline: 0,
                },
                release_ids: model.releaseIds,
                channel: None,
            });
        }
        attach_channels(&chain, &outbox, &signer, &mut models, &config).await?;
        if let Some(at) = models.iter().position(|m| m.model_id() == config.model_id) {
            models.swap(0, at);
        }
        let max_validity = chain.max_receipt_validity().await?;
        let validity = config.receipt_validity.unwrap_or(max_validity);
        if validity == 0 || validity > max_validity {
            return Err(ClientError::OutOfRange {
                what: "receipt validity (seconds, between 1 and the escrow's maxReceiptValidity)",
                value: format!("{validity} (max {max_validity})"),
            });
        }
        Ok(Self {
            chain,
            signer,
            outbox,
            worker,
            models,
            validity,
            output_base: config.output_base,
            outputs: config.outputs,
        })
    }

    /// The chain connection.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The outbox receipts go to.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The model.
    pub fn worker(&self) -> &ModelWorker {
        &self.worker
    }

    /// The served models, the default one first.
    pub fn models(&self) -> &[ServedModel] {
        &self.models
    }

    /// The model served by default (the session's `model_id`).
    pub fn default_model(&self) -> &ServedModel {
        &self.models[0]
    }

    /// Where outputs are published, if they are.
    pub fn outputs(&self) -> Option<&OutputStore> {
        self.outputs.as_ref()
    }

    /// Starts a paid generation of `model` (see [`ModelWorker::generate`]; the request's adapter is the
    /// model's) and hands over its stream once the payer is known to cover it
    /// ([`Session::ensure_funded`]); pass its end and its reservation to [`Session::record`].
    pub async fn generate(
        &self,
        model: &ServedModel,
        mut request: GenerationRequest,
    ) -> Result<Generation> {
        request.adapter = model.adapter;
        let prompt_tokens = self.worker.prompt_tokens(request.prompt.clone()).await?;
        let max_tokens = u64::from(request.sampling.max_tokens);
        // The model reads the prompt while the deposit is checked; nothing reaches the caller before the
        // check passes, and a refused request's stream is dropped, which ends its generation.
        let events = self.worker.generate(request)?;
        let reservation = self
            .ensure_funded(
                model,
                u64::try_from(prompt_tokens).unwrap_or(u64::MAX),
                max_tokens,
            )
            .await?;
        Ok(Generation {
            events,
            reservation,
        })
    }

    /// `model`'s terms for a receipt signed now: its deadline `validity` seconds past the chain's head.
    async fn terms_now(&self, model: &ServedModel) -> Result<ReceiptTerms> {
        let (_, now) = self.chain.head().await?;
        Ok(ReceiptTerms {
            deadline: now + self.validity,
            ..model.terms
        })
    }

    /// The price per 1,000 tokens of `model` in force now (what a channel's receipt signed now charges).
    async fn price_now(&self, model: &ServedModel) -> Result<U256> {
        let (_, now) = self.chain.head().await?;
        Ok(model.terms.prices.price_at(now))
    }

    /// Refuses paid work the payer cannot cover: the fee of `prompt_tokens + max_output_tokens` tokens
    /// of `model` (the most the next receipt can charge) must fit in the deposit less the pending
    /// withdrawal and the receipts already waiting in the outbox, so every receipt this session signs can
    /// settle. For a model paid through a channel it must fit in the channel's deposit less what its
    /// vouchers promise and what the requests under way hold, and is held until the request is recorded
    /// (the returned reservation).
    pub async fn ensure_funded(
        &self,
        model: &ServedModel,
        prompt_tokens: u64,
        max_output_tokens: u64,
    ) -> Result<Option<Reservation>> {
        if let Some(channel) = &model.channel {
            let price = self.price_now(model).await?;
            let needed = quote_fee(price, prompt_tokens.saturating_add(max_output_tokens));
            return channel
                .reserve(&self.chain, &self.outbox, needed)
                .await
                .map(Some);
        }
        let payer = self.signer.address();
        // Four independent reads (three of the chain, one of the outbox), side by side.
        let (terms, deposit, (withdrawing, _), committed) = tokio::try_join!(
            self.terms_now(model),
            self.chain.deposit_of(payer),
            self.chain.pending_withdrawal(payer),
            self.outbox.committed_fees(payer),
        )?;
        let shortfall = DepositShortfall {
            needed: terms.fee(prompt_tokens.saturating_add(max_output_tokens)),
            deposit,
            withdrawing,
            committed,
        };
        if shortfall.missing() > U256::ZERO {
            return Err(ClientError::InsufficientDeposit(Box::new(shortfall)));
        }
        Ok(None)
    }

    /// Attributes a finished generation of `model` over its releases, publishes it (when the session
    /// publishes outputs), signs its receipt and writes it to the outbox — or, for a model paid through a
    /// channel, adds the receipt to the channel's log and signs the channel's next voucher, giving back the
    /// request's `reservation`. The output is published before the receipt exists, so a receipt never
    /// names an output URI with nothing behind it.
    pub async fn record(
        &self,
        model: &ServedModel,
        prompt: &Prompt,
        text: String,
        stats: GenerationStats,
        reservation: Option<Reservation>,
    ) -> Result<Completion> {
        // The published bytes, not the sampled ids: an auditor holding only the text gets the same words.
        let attribution = model.index.attribute(text.as_bytes());
        if let Some(store) = &self.outputs {
            store.publish(text.as_bytes()).await?;
        }
        let output_uri = self.output_uri(text.as_bytes());
        let usage = Usage {
            prompt: &prompt_bytes(prompt),
            output: text.as_bytes(),
            output_uri: &output_uri,
            input_tokens: stats.prompt_tokens as usize,
            output_tokens: stats.output_tokens as usize,
        };
        if let Some(channel) = &model.channel {
            let price = self.price_now(model).await?;
            let (payment, receipt) = channel
                .record(
                    &self.chain,
                    &self.outbox,
                    &self.signer,
                    reservation,
                    Inference {
                        usage,
                        price_per_kilo_token: price,
                        attribution_version: attribution::PROTOCOL_VERSION,
                        attribution: attribution.to_receipt(),
                    },
                )
                .await?;
            return Ok(Completion {
                digest: payment.leaf,
                text,
                stats,
                attribution,
                receipt,
                payment: Payment::Channel(payment),
            });
        }
        let terms = self.terms_now(model).await?;
        let domain = self.chain.receipt_domain();
        let receipt = sign_usage(
            &domain,
            &self.signer,
            &terms,
            &usage,
            attribution::PROTOCOL_VERSION,
            attribution.to_receipt(),
        )
        .await?;
        let outbox_id = self.outbox.push(&domain, &receipt).await?;
        Ok(Completion {
            digest: receipt.digest(&domain),
            text,
            stats,
            attribution,
            receipt: receipt.receipt,
            payment: Payment::Receipt { outbox_id },
        })
    }

    /// Where `output` is published: `<output_base>/<keccak256(output)>`, or "" when outputs are not
    /// published.
    fn output_uri(&self, output: &[u8]) -> String {
        self.output_base
            .as_deref()
            .map_or_else(String::new, |base| outputs::output_uri(base, output))
    }

    /// Generates with `model` to the end, calling `on_piece` with each piece of text, then records the use.
    pub async fn complete(
        &self,
        model: &ServedModel,
        request: GenerationRequest,
        mut on_piece: impl FnMut(&str),
    ) -> Result<Completion> {
        let prompt = request.prompt.clone();
        let Generation {
            mut events,
            reservation,
        } = self.generate(model, request).await?;
        let mut text = String::new();
        while let Some(event) = events.recv().await {
            match event? {
                TokenEvent::Token(piece) => {
                    on_piece(&piece);
                    text.push_str(&piece);
                }
                TokenEvent::Done(stats) => {
                    return self.record(model, &prompt, text, stats, reservation).await;
                }
            }
        }
        Err(ModelError::WorkerGone.into())
    }
}

/// A session shared by the HTTP handlers.
pub type SharedSession = Arc<Session>;
