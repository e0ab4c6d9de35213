//! A paid session with one registered model: the GGUF file checked against the model's registered
//! weights hash, every release of the model synced and indexed (cached by root), and each finished
//! generation attributed, turned into a signed usage receipt and written to the outbox before anything
//! else happens with it.

use std::{path::PathBuf, sync::Arc};

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    signers::local::PrivateKeySigner,
};
use tokio::sync::mpsc;

use crate::{
    attribution::{self, DocumentFetcher, Index, IndexCache},
    chain::Chain,
    error::{ClientError, DepositShortfall, Result},
    model::{
        GenerationRequest, GenerationStats, ModelError, ModelFile, ModelOptions, ModelWorker,
        Prompt, TokenEvent,
    },
    outbox::Outbox,
    outputs::{self, OutputStore},
    receipt::{PriceSchedule, ReceiptTerms, SignedReceipt, Usage, sign_usage},
};

/// How a session is opened.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The registered model's id.
    pub model_id: u64,
    /// The local GGUF file (checked against the registered weights hash).
    pub model_path: PathBuf,
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
    /// The signed receipt, already in the outbox.
    pub receipt: SignedReceipt,
    /// Its EIP-712 digest.
    pub digest: B256,
    /// Its outbox row.
    pub outbox_id: i64,
}

/// An open session.
#[derive(Debug)]
pub struct Session {
    chain: Chain,
    signer: PrivateKeySigner,
    outbox: Outbox,
    worker: ModelWorker,
    index: Index,
    release_ids: Vec<u64>,
    terms: ReceiptTerms,
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

/// Loads the GGUF at `path` after checking its SHA-256 against `expected` (if given), on a blocking thread.
pub async fn load_model(
    path: PathBuf,
    expected: Option<B256>,
    options: ModelOptions,
) -> Result<ModelWorker> {
    tokio::task::spawn_blocking(move || {
        let file = ModelFile::open(&path, expected)?;
        ModelWorker::spawn(&file, &options)
    })
    .await
    .map_err(|_| ClientError::Model(ModelError::WorkerGone))?
    .map_err(ClientError::from)
}

impl Session {
    /// Opens a session: reads the model on chain, checks and loads the file, syncs its releases.
    pub async fn open(
        chain: Chain,
        signer: PrivateKeySigner,
        outbox: Outbox,
        config: SessionConfig,
    ) -> Result<Self> {
        let model = chain.model(config.model_id).await?;
        let worker = load_model(
            config.model_path.clone(),
            Some(model.weightsHash),
            config.model_options.clone(),
        )
        .await?;
        let cache = IndexCache::new(config.cache_dir.clone());
        let index = sync_releases(&chain, &cache, &model.releaseIds).await?;
        let max_validity = chain.max_receipt_validity().await?;
        let validity = config.receipt_validity.unwrap_or(max_validity);
        if validity == 0 || validity > max_validity {
            return Err(ClientError::OutOfRange {
                what: "receipt validity (seconds, between 1 and the escrow's maxReceiptValidity)",
                value: format!("{validity} (max {max_validity})"),
            });
        }
        let terms = ReceiptTerms {
            model_id: config.model_id,
            node: config.node.unwrap_or_else(|| signer.address()),
            prices: PriceSchedule {
                price: U256::from(model.pricePerKiloToken),
                next_price: U256::from(model.nextPricePerKiloToken),
                next_at: model.nextPriceAt,
            },
            deadline: 0,
        };
        Ok(Self {
            chain,
            signer,
            outbox,
            worker,
            index,
            release_ids: model.releaseIds,
            terms,
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

    /// The registered model's id.
    pub fn model_id(&self) -> u64 {
        self.terms.model_id
    }

    /// Where outputs are published, if they are.
    pub fn outputs(&self) -> Option<&OutputStore> {
        self.outputs.as_ref()
    }

    /// The releases the model is bound to.
    pub fn release_ids(&self) -> &[u64] {
        &self.release_ids
    }

    /// Starts a paid generation (see [`ModelWorker::generate`]) once the payer is known to cover it
    /// ([`Session::ensure_funded`]); pass its end to [`Session::record`].
    pub async fn generate(
        &self,
        request: GenerationRequest,
    ) -> Result<mpsc::Receiver<Result<TokenEvent, ModelError>>> {
        let prompt_tokens = self.worker.prompt_tokens(request.prompt.clone()).await?;
        self.ensure_funded(
            u64::try_from(prompt_tokens).unwrap_or(u64::MAX),
            u64::from(request.sampling.max_tokens),
        )
        .await?;
        Ok(self.worker.generate(request)?)
    }

    /// The session's terms for a receipt signed now: its deadline `validity` seconds past the chain's head.
    async fn terms_now(&self) -> Result<ReceiptTerms> {
        let (_, now) = self.chain.head().await?;
        Ok(ReceiptTerms {
            deadline: now + self.validity,
            ..self.terms
        })
    }

    /// Refuses paid work the payer cannot cover: the fee of `prompt_tokens + max_output_tokens` tokens
    /// (the most the next receipt can charge) must fit in the deposit less the pending withdrawal and the
    /// receipts already waiting in the outbox, so every receipt this session signs can settle.
    pub async fn ensure_funded(&self, prompt_tokens: u64, max_output_tokens: u64) -> Result<()> {
        let payer = self.signer.address();
        let terms = self.terms_now().await?;
        let needed = terms.fee(prompt_tokens.saturating_add(max_output_tokens));
        let shortfall = DepositShortfall {
            needed,
            deposit: self.chain.deposit_of(payer).await?,
            withdrawing: self.chain.pending_withdrawal(payer).await?.0,
            committed: self.outbox.committed_fees(payer).await?,
        };
        if shortfall.missing() > U256::ZERO {
            return Err(ClientError::InsufficientDeposit(Box::new(shortfall)));
        }
        Ok(())
    }

    /// Attributes a finished generation, publishes it (when the session publishes outputs), signs its
    /// receipt and writes it to the outbox. The output is published before the receipt exists, so a
    /// receipt never names an output URI with nothing behind it.
    pub async fn record(
        &self,
        prompt: &Prompt,
        text: String,
        stats: GenerationStats,
    ) -> Result<Completion> {
        // The published bytes, not the sampled ids: an auditor holding only the text gets the same words.
        let attribution = self.index.attribute(text.as_bytes());
        if let Some(store) = &self.outputs {
            store.publish(text.as_bytes()).await?;
        }
        let terms = self.terms_now().await?;
        let output_uri = self.output_uri(text.as_bytes());
        let usage = Usage {
            prompt: &prompt_bytes(prompt),
            output: text.as_bytes(),
            output_uri: &output_uri,
            input_tokens: stats.prompt_tokens as usize,
            output_tokens: stats.output_tokens as usize,
        };
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
            receipt,
            outbox_id,
        })
    }

    /// Where `output` is published: `<output_base>/<keccak256(output)>`, or "" when outputs are not
    /// published.
    fn output_uri(&self, output: &[u8]) -> String {
        self.output_base
            .as_deref()
            .map_or_else(String::new, |base| outputs::output_uri(base, output))
    }

    /// Generates to the end, calling `on_piece` with each piece of text, then records the use.
    pub async fn complete(
        &self,
        request: GenerationRequest,
        mut on_piece: impl FnMut(&str),
    ) -> Result<Completion> {
        let prompt = request.prompt.clone();
        let mut events = self.generate(request).await?;
        let mut text = String::new();
        while let Some(event) = events.recv().await {
            match event? {
                TokenEvent::Token(piece) => {
                    on_piece(&piece);
                    text.push_str(&piece);
                }
                TokenEvent::Done(stats) => return self.record(&prompt, text, stats).await,
            }
        }
        Err(ModelError::WorkerGone.into())
    }
}

/// A session shared by the HTTP handlers.
pub type SharedSession = Arc<Session>;
