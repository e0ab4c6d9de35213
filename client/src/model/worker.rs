//! [`ModelWorker`]: a GGUF model loaded by llama.cpp on one dedicated OS thread (a llama.cpp context is
//! tied to its model and must not be used from two threads at once), fed by a command channel. Callers on
//! any thread or task send it generation, tokenization and detokenization requests; generations run
//! batched together on the context's slots ([`super::slots`]) and stream back as [`TokenEvent`]s over a
//! tokio channel.

use std::{
    num::NonZeroU32,
    path::PathBuf,
    sync::{
        Arc,
        mpsc::{self as std_mpsc, TryRecvError},
    },
    thread::JoinHandle,
    time::Instant,
};

use alloy::primitives::B256;
use llama_cpp_2::{
    context::{
        LlamaContext,
        params::{LlamaContextParams, LlamaPoolingType},
    },
    llama_batch::LlamaBatch,
    model::{
        LlamaChatMessage, LlamaChatTemplate, LlamaLoraAdapter, LlamaModel, params::LlamaModelParams,
    },
    token::LlamaToken,
};
use tokio::sync::{mpsc, oneshot};

use super::{
    ChatMessage, Generation, GenerationRequest, ModelError, ModelFile, Prompt, TokenEvent,
    backend::llama_backend,
    slots::{EventSender, SlotLoad, Slots, Waiting},
};

/// A running generation's events: [`TokenEvent::Token`] pieces, then one [`TokenEvent::Done`] (or one
/// error). Unbounded, so a slow reader never holds up the other slots (a generation sends at most
/// `max_tokens` + 2 events).
pub type TokenStream = mpsc::UnboundedReceiver<Result<TokenEvent, ModelError>>;

/// How a model is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOptions {
    /// CPU threads llama.cpp uses for generation and prompt evaluation.
    pub threads: u32,
    /// Context size in tokens of one request (prompt and output together); the context holds `parallel`
    /// times as many.
    pub context_size: u32,
    /// Slots: requests decoded together in one batch, each with its own KV cache.
    pub parallel: u32,
    /// The most prompt tokens evaluated in one llama.cpp batch.
    pub batch_size: u32,
    /// Route llama.cpp's own log lines into `tracing` (off: silent). The first worker of a process decides.
    pub llama_logs: bool,
}

impl Default for ModelOptions {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        Self {
            threads,
            context_size: 2048,
            parallel: 1,
            batch_size: 512,
            llama_logs: false,
        }
    }
}

/// What the loaded model reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// The GGUF file.
    pub path: PathBuf,
    /// The file's SHA-256 (the registered weights hash).
    pub sha256: B256,
    /// Tokens in the vocabulary.
    pub vocab_size: u32,
    /// The end-of-sequence token id.
    pub eos_token: u32,
    /// The context size in use for one request.
    pub context_size: u32,
    /// Requests decoded together.
    pub parallel: u32,
    /// The context size the model was trained with.
    pub trained_context_size: u32,
    /// Whether the GGUF metadata carries a chat template.
    pub has_chat_template: bool,
    /// The LoRA adapters loaded over the base, in the order given (a request's `adapter` indexes them).
    pub adapters: Vec<AdapterInfo>,
}

/// A LoRA adapter loaded over the base weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterInfo {
    /// The adapter's GGUF file.
    pub path: PathBuf,
    /// The file's SHA-256 (the adapter's registered weights hash).
    pub sha256: B256,
}

type Reply<T> = oneshot::Sender<Result<T, ModelError>>;

enum Command {
    Generate {
        request: GenerationRequest,
        events: EventSender,
    },
    Tokenize {
        texts: Vec<Vec<u8>>,
        reply: Reply<Vec<Vec<u32>>>,
    },
    Detokenize {
        tokens: Vec<u32>,
        reply: Reply<String>,
    },
    CountPrompt {
        prompt: Prompt,
        reply: Reply<usize>,
    },
    Embed {
        texts: Vec<String>,
        adapter: Option<usize>,
        reply: Reply<Vec<Embedding>>,
    },
}

/// A text's embedding: the mean of the model's last hidden states over its tokens, scaled to length 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// The vector (the model's embedding width).
    pub vector: Vec<f32>,
    /// Tokens the text was read as.
    pub tokens: usize,
}

/// A GGUF model running on its own thread. Dropping the worker stops the thread once the requests in
/// progress end.
#[derive(Debug)]
pub struct ModelWorker {
    commands: Option<std_mpsc::Sender<Command>>,
    thread: Option<JoinHandle<()>>,
    info: ModelInfo,
    load: Arc<SlotLoad>,
}

impl ModelWorker {
    /// Starts the model thread, loads `file` into llama.cpp there and creates its context; returns once
    /// the model is ready (blocking: call it from `spawn_blocking` in async code).
    pub fn spawn(file: &ModelFile, options: &ModelOptions) -> Result<Self, ModelError> {
        Self::spawn_with_adapters(file, &[], options)
    }

    /// [`Self::spawn`] with LoRA adapters loaded over the base once, before its context exists: a request
    /// picks one by index ([`GenerationRequest::adapter`]) and switching costs no reload of the base.
    pub fn spawn_with_adapters(
        file: &ModelFile,
        adapters: &[ModelFile],
        options: &ModelOptions,
    ) -> Result<Self, ModelError> {
        let (commands, inbox) = std_mpsc::channel();
        let (ready, loaded) = std_mpsc::sync_channel(1);
        let (file, adapters, options) = (file.clone(), adapters.to_vec(), options.clone());
        let load = Arc::new(SlotLoad::default());
        let recorded = Arc::clone(&load);
        let thread = std::thread::Builder::new()
            .name("soil-model".into())
            .spawn(move || serve(&file, &adapters, &options, &ready, &inbox, &recorded))
            .map_err(ModelError::Spawn)?;
        match loaded.recv() {
            Ok(Ok(info)) => Ok(Self {
                commands: Some(commands),
                thread: Some(thread),
                info,
                load,
            }),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => {
                let _ = thread.join();
                Err(ModelError::WorkerGone)
            }
        }
    }

    /// What the model reports about itself.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// How busy its slots are now.
    pub fn load(&self) -> &SlotLoad {
        &self.load
    }

    fn send(&self, command: Command) -> Result<(), ModelError> {
        self.commands
            .as_ref()
            .ok_or(ModelError::WorkerGone)?
            .send(command)
            .map_err(|_| ModelError::WorkerGone)
    }

    /// Starts a generation: it waits for a free slot, then runs batched with the others. Dropping the
    /// stream stops the generation.
    pub fn generate(&self, request: GenerationRequest) -> Result<TokenStream, ModelError> {
        request.sampling.validate()?;
        let (events, receiver) = mpsc::unbounded_channel();
        self.send(Command::Generate { request, events })?;
        Ok(receiver)
    }

    /// Runs a generation to its end and returns the whole text with its stats.
    pub async fn generate_text(
        &self,
        request: GenerationRequest,
    ) -> Result<Generation, ModelError> {
        let mut events = self.generate(request)?;
        let mut text = String::new();
        while let Some(event) = events.recv().await {
            match event? {
                TokenEvent::Token(piece) => text.push_str(&piece),
                TokenEvent::Done(stats) => return Ok(Generation { text, stats }),
            }
        }
        Err(ModelError::WorkerGone)
    }

    /// The model's token ids for `text` (no BOS/EOS added, special-token text kept as plain text): the
    /// tokenization attribution indexes documents and outputs with.
    pub async fn tokenize(&self, text: impl AsRef<[u8]>) -> Result<Vec<u32>, ModelError> {
        let mut all = self.tokenize_many(vec![text.as_ref().to_vec()]).await?;
        all.pop().ok_or(ModelError::WorkerGone)
    }

    /// [`Self::tokenize`] for many texts in one round trip to the model thread.
    pub async fn tokenize_many(&self, texts: Vec<Vec<u8>>) -> Result<Vec<Vec<u32>>, ModelError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Tokenize { texts, reply })?;
        answer.await.map_err(|_| ModelError::WorkerGone)?
    }

    /// How many tokens `prompt` is fed to the model as (after the chat template): what a receipt counts as
    /// its input tokens.
    pub async fn prompt_tokens(&self, prompt: Prompt) -> Result<usize, ModelError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::CountPrompt { prompt, reply })?;
        answer.await.map_err(|_| ModelError::WorkerGone)?
    }

    /// The embeddings of `texts` (with `adapter` applied over the base, if any), in order.
    pub async fn embed(
        &self,
        texts: Vec<String>,
        adapter: Option<usize>,
    ) -> Result<Vec<Embedding>, ModelError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Embed {
            texts,
            adapter,
            reply,
        })?;
        answer.await.map_err(|_| ModelError::WorkerGone)?
    }

    /// The text of `tokens` (special tokens omitted); invalid UTF-8 becomes U+FFFD.
    pub async fn detokenize(&self, tokens: Vec<u32>) -> Result<String, ModelError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Detokenize { tokens, reply })?;
        answer.await.map_err(|_| ModelError::WorkerGone)?
    }
}

impl Drop for ModelWorker {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; joining makes sure llama.cpp's memory is freed.
        drop(self.commands.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The model thread: load, report readiness, then serve commands until the channel closes.
fn serve(
    file: &ModelFile,
    adapter_files: &[ModelFile],
    options: &ModelOptions,
    ready: &std_mpsc::SyncSender<Result<ModelInfo, ModelError>>,
    inbox: &std_mpsc::Receiver<Command>,
    slot_load: &SlotLoad,
) {
    let loaded = load(file, adapter_files, options);
    let (model, adapters, params) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    let mut session = match Session::new(&model, adapters, params, options) {
        Ok(session) => session,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    let info = ModelInfo {
        path: file.path().to_path_buf(),
        sha256: file.sha256(),
        vocab_size: session.vocab_size,
        eos_token: model.vocab().eos().0 as u32,
        context_size: session.slots.slot_context() as u32,
        parallel: options.parallel.max(1),
        trained_context_size: model.n_ctx_train(),
        has_chat_template: session.template.is_some(),
        adapters: adapter_files
            .iter()
            .map(|adapter| AdapterInfo {
                path: adapter.path().to_path_buf(),
                sha256: adapter.sha256(),
            })
            .collect(),
    };
    if ready.send(Ok(info)).is_err() {
        return;
    }
    loop {
        // Wait for work while idle; between steps, take whatever has arrived. Once the worker is dropped,
        // the running generations finish before the thread ends.
        let command = if session.slots.is_idle() {
            match inbox.recv() {
                Ok(command) => command,
                Err(_) => return,
            }
        } else {
            match inbox.try_recv() {
                Ok(command) => command,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                    session.step();
                    slot_load.record(&session.slots);
                    continue;
                }
            }
        };
        match command {
            Command::Generate { request, events } => {
                session.enqueue(request, events);
                slot_load.record(&session.slots);
            }
            Command::Tokenize { texts, reply } => {
                let _ = reply.send(Ok(texts
                    .iter()
                    .map(|text| session.tokenize(text))
                    .collect()));
            }
            Command::Detokenize { tokens, reply } => {
                let _ = reply.send(session.detokenize(&tokens));
            }
            Command::CountPrompt { prompt, reply } => {
                let _ = reply.send(session.prompt_tokens(&prompt));
            }
            Command::Embed {
                texts,
                adapter,
                reply,
            } => {
                let _ = reply.send(
                    texts
                        .iter()
                        .map(|text| session.embed(text, adapter))
                        .collect(),
                );
            }
        }
    }
}

/// Loads the base and its adapters (each needs the model mutably, so all of them come before any context).
fn load(
    file: &ModelFile,
    adapter_files: &[ModelFile],
    options: &ModelOptions,
) -> Result<(LlamaModel, Vec<LlamaLoraAdapter>, LlamaContextParams), ModelError> {
    let backend = llama_backend(options.llama_logs)?;
    let path = file.path();
    if path.to_str().is_none() {
        return Err(ModelError::NonUtf8Path(path.to_path_buf()));
    }
    let mut model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
        .map_err(|error| ModelError::Load {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })?;
    let adapters = adapter_files
        .iter()
        .map(|adapter| {
            let path = adapter.path();
            if path.to_str().is_none() {
                return Err(ModelError::NonUtf8Path(path.to_path_buf()));
            }
            model
                .lora_adapter_init(path)
                .map_err(|error| ModelError::AdapterLoad {
                    path: path.to_path_buf(),
                    reason: error.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let threads = i32::try_from(options.threads.max(1)).unwrap_or(i32::MAX);
    let parallel = options.parallel.max(1);
    // One KV-cache stream per slot (not unified): each request attends over its own tokens alone.
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(
            options.context_size.max(16).saturating_mul(parallel),
        ))
        .with_n_seq_max(parallel)
        .with_kv_unified(false)
        .with_n_batch(options.batch_size.max(parallel))
        .with_n_ubatch(options.batch_size.max(parallel))
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    Ok((model, adapters, params))
}

/// Makes `context` apply `wanted` of `adapters` (or none) at full scale, `active` being the one it applies
/// now; asking for the active one costs nothing.
fn apply_adapter(
    context: &mut LlamaContext<'_>,
    adapters: &mut [LlamaLoraAdapter],
    active: &mut Option<usize>,
    wanted: Option<usize>,
) -> Result<(), ModelError> {
    if wanted == *active {
        return Ok(());
    }
    let loaded = adapters.len();
    let failed = |error: &dyn std::fmt::Display| ModelError::AdapterSet(error.to_string());
    match (wanted, *active) {
        (Some(slot), _) => {
            let lora = adapters
                .get_mut(slot)
                .ok_or(ModelError::UnknownAdapter { slot, loaded })?;
            context
                .lora_adapter_set(lora, 1.0)
                .map_err(|error| failed(&error))?;
        }
        (None, Some(current)) => context
            .lora_adapter_remove(&mut adapters[current])
            .map_err(|error| failed(&error))?,
        (None, None) => {}
    }
    *active = wanted;
    Ok(())
}

/// The model's context and chat template, living on the model thread.
struct Session<'m> {
    model: &'m LlamaModel,
    context: LlamaContext<'m>,
    template: Option<LlamaChatTemplate>,
    /// The generations running or waiting.
    slots: Slots,
    vocab_size: u32,
    adapters: Vec<LlamaLoraAdapter>,
    /// The adapter the context applies now.
    active_adapter: Option<usize>,
    /// The settings the contexts were made with (the embedding context is made from them on first use).
    params: LlamaContextParams,
    options: ModelOptions,
    /// A second context over the same weights that pools embeddings, and the adapter it applies.
    embedder: Option<(LlamaContext<'m>, Option<usize>)>,
}

impl<'m> Session<'m> {
    fn new(
        model: &'m LlamaModel,
        adapters: Vec<LlamaLoraAdapter>,
        params: LlamaContextParams,
        options: &ModelOptions,
    ) -> Result<Self, ModelError> {
        let backend = llama_backend(options.llama_logs)?;
        let context_size = options.context_size;
        let context = model
            .new_context(backend, params.clone())
            .map_err(|error| ModelError::Context {
                context_size,
                reason: error.to_string(),
            })?;
        let parallel = options.parallel.max(1);
        let slots = Slots::new(
            parallel as usize,
            options.batch_size.max(1) as usize,
            (context.n_ctx() / parallel) as usize,
        );
        Ok(Self {
            model,
            context,
            template: model.chat_template(None).ok(),
            slots,
            vocab_size: u32::try_from(model.n_vocab()).unwrap_or(0),
            adapters,
            active_adapter: None,
            params,
            options: options.clone(),
            embedder: None,
        })
    }

    /// The embedding of `text`: its tokens (BOS added) evaluated in the embedding context in one batch,
    /// mean-pooled and normalized.
    fn embed(&mut self, text: &str, adapter: Option<usize>) -> Result<Embedding, ModelError> {
        let tokens = self.model.vocab().tokenize(text.as_bytes(), true, false);
        let context_size = self.options.context_size;
        if tokens.is_empty() {
            return Err(ModelError::EmptyPrompt);
        }
        if tokens.len() > context_size as usize {
            return Err(ModelError::PromptTooLong {
                prompt_tokens: tokens.len(),
                context_size,
            });
        }
        if self.embedder.is_none() {
            let backend = llama_backend(self.options.llama_logs)?;
            // Pooling needs the whole text in one micro-batch.
            let params = self
                .params
                .clone()
                .with_n_ctx(NonZeroU32::new(context_size.max(16)))
                .with_n_seq_max(1)
                .with_embeddings(true)
                .with_pooling_type(LlamaPoolingType::Mean)
                .with_n_batch(context_size)
                .with_n_ubatch(context_size);
            let context =
                self.model
                    .new_context(backend, params)
                    .map_err(|error| ModelError::Context {
                        context_size,
                        reason: error.to_string(),
                    })?;
            self.embedder = Some((context, None));
        }
        let (context, active) = self.embedder.as_mut().ok_or(ModelError::WorkerGone)?;
        apply_adapter(context, &mut self.adapters, active, adapter)?;
        context.clear_kv_cache();
        let mut batch = LlamaBatch::new(tokens.len(), 1);
        for (position, &token) in tokens.iter().enumerate() {
            batch
                .add(token, position as i32, &[0], true)
                .map_err(|error| ModelError::Decode(error.to_string()))?;
        }
        context
            .decode(&mut batch)
            .map_err(|error| ModelError::Decode(error.to_string()))?;
        let pooled = context
            .embeddings_seq_ith(0)
            .map_err(|error| ModelError::Decode(error.to_string()))?;
        let norm = pooled
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        Ok(Embedding {
            vector: pooled.iter().map(|x| x / norm).collect(),
            tokens: tokens.len(),
        })
    }

    fn tokenize(&self, text: &[u8]) -> Vec<u32> {
        self.model
            .vocab()
            .tokenize(text, false, false)
            .into_iter()
            .map(|token| token.0 as u32)
            .collect()
    }

    fn detokenize(&self, tokens: &[u32]) -> Result<String, ModelError> {
        let tokens = tokens
            .iter()
            .map(|&token| self.checked_token(token))
            .collect::<Result<Vec<_>, _>>()?;
        let bytes = self.model.vocab().detokenize(&tokens, true, false);
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn checked_token(&self, token: u32) -> Result<LlamaToken, ModelError> {
        if token >= self.vocab_size {
            return Err(ModelError::TokenOutOfRange {
                token,
                vocab_size: self.vocab_size,
            });
        }
        Ok(LlamaToken(token as i32))
    }

    fn prompt_text(&self, prompt: &Prompt) -> Result<String, ModelError> {
        match prompt {
            Prompt::Raw(text) => Ok(text.clone()),
            Prompt::Chat(messages) => {
                let template = self.template.as_ref().ok_or(ModelError::NoChatTemplate)?;
                let messages = messages
                    .iter()
                    .map(|ChatMessage { role, content }| {
                        LlamaChatMessage::new(role.as_str().to_owned(), content.clone())
                            .map_err(|_| ModelError::NulInMessage)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                self.model
                    .apply_chat_template(template, &messages, true)
                    .map_err(|error| ModelError::ChatTemplate(error.to_string()))
            }
        }
    }

    /// The prompt's token ids, exactly as generation feeds them to the model.
    fn prompt_ids(&self, prompt: &Prompt) -> Result<Vec<LlamaToken>, ModelError> {
        let text = self.prompt_text(prompt)?;
        Ok(self.model.vocab().tokenize(text.as_bytes(), true, true))
    }

    fn prompt_tokens(&self, prompt: &Prompt) -> Result<usize, ModelError> {
        self.prompt_ids(prompt).map(|ids| ids.len())
    }

    /// Queues a generation for a slot, or answers its error at once (a prompt that is empty, does not fit a
    /// slot, or cannot be templated).
    fn enqueue(&mut self, request: GenerationRequest, events: EventSender) {
        let prompt = match self.prompt_ids(&request.prompt) {
            Ok(prompt) if prompt.is_empty() => Err(ModelError::EmptyPrompt),
            Ok(prompt) if prompt.len() >= self.slots.slot_context() => {
                Err(ModelError::PromptTooLong {
                    prompt_tokens: prompt.len(),
                    context_size: self.slots.slot_context() as u32,
                })
            }
            other => other,
        };
        match prompt {
            Ok(prompt) => self.slots.push(Waiting {
                request,
                prompt,
                events,
                arrived: Instant::now(),
            }),
            Err(error) => {
                let _ = events.send(Err(error));
            }
        }
    }

    /// Decodes one batch of the running generations (see [`Slots::step`]).
    fn step(&mut self) {
        let active = self.active_adapter;
        let (adapters, active_adapter) = (&mut self.adapters, &mut self.active_adapter);
        self.slots.step(
            self.model,
            &mut self.context,
            |context, wanted| apply_adapter(context, adapters, active_adapter, wanted),
            active,
        );
    }
}
