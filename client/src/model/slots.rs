//! Continuous batching: the model's context holds one KV-cache sequence per slot (llama.cpp's server
//! calls them slots too), and every step decodes one batch with the next token of each generating slot and
//! a chunk of each prompt being read. A request joins the running batch as soon as a slot is free, so a
//! short request is never queued behind a long one.
//!
//! Two rules keep each output what it would be alone:
//! - the context applies one LoRA adapter at a time, so a batch never mixes requests for different
//!   adapters: requests are admitted in arrival order, and one for another adapter waits until the
//!   running ones finish, then the context switches;
//! - a slot keeps the tokens its cache holds after a request ends (the prompt cache): the next request
//!   whose prompt shares a prefix with them, under the same adapter, reads only the rest of its prompt.

use std::{
    collections::VecDeque,
    sync::atomic::{AtomicUsize, Ordering},
    time::Instant,
};

use llama_cpp_2::{
    context::LlamaContext,
    llama_batch::{BatchAddError, LlamaBatch},
    model::LlamaModel,
    token::LlamaToken,
};
use tokio::sync::mpsc;

use super::{
    GenerationRequest, GenerationStats, ModelError, StopReason, TokenEvent,
    generation::{StopMatcher, Utf8Stream},
    sampling::{TokenDraw, token_logprob},
};

/// Where a generation's events go.
pub(super) type EventSender = mpsc::UnboundedSender<Result<TokenEvent, ModelError>>;

/// How busy a worker's slots are, as the model thread last recorded it (read from any thread).
#[derive(Debug, Default)]
pub struct SlotLoad {
    busy: AtomicUsize,
    waiting: AtomicUsize,
}

impl SlotLoad {
    /// Slots running a generation.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }

    /// Generation requests waiting for a slot.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    pub(super) fn record(&self, slots: &Slots) {
        let busy = slots.slots.iter().filter(|slot| slot.job.is_some()).count();
        self.busy.store(busy, Ordering::Relaxed);
        self.waiting.store(slots.waiting.len(), Ordering::Relaxed);
    }
}

/// The context's slots and the requests waiting for one.
pub(super) struct Slots {
    slots: Vec<Slot>,
    waiting: VecDeque<Waiting>,
    batch: LlamaBatch<'static>,
    batch_size: usize,
    /// Tokens one slot's sequence may hold (prompt and output).
    slot_context: usize,
}

/// A generation request whose prompt is tokenized, waiting for a slot.
pub(super) struct Waiting {
    pub(super) request: GenerationRequest,
    pub(super) prompt: Vec<LlamaToken>,
    pub(super) events: EventSender,
    /// When the request reached the model thread.
    pub(super) arrived: Instant,
}

/// One sequence of the context.
struct Slot {
    seq: i32,
    /// The tokens the slot's KV cache holds, in position order.
    cached: Vec<LlamaToken>,
    /// The adapter the cached tokens were read under.
    adapter: Option<usize>,
    job: Option<Job>,
}

/// A generation running on a slot.
struct Job {
    prompt: Vec<LlamaToken>,
    /// Prompt tokens found in the cache when the job started.
    cached: usize,
    /// Prompt tokens in the cache so far.
    read: usize,
    events: EventSender,
    /// When the request reached the model thread, and when the slot took it.
    arrived: Instant,
    started: Instant,
    /// Set once the prompt is read: when generation began.
    prompt_read: Option<Instant>,
    /// The token drawn last, fed to the model in the next batch.
    feed: Option<LlamaToken>,
    /// Where this job's logits are in the batch just decoded.
    logits_at: Option<i32>,
    decoding: Decoding,
}

/// A generation's drawing and text state.
struct Decoding {
    token_draw: TokenDraw,
    max_tokens: usize,
    logprobs: Option<usize>,
    utf8: Utf8Stream,
    stops: StopMatcher,
    piece: Vec<u8>,
    output: Vec<u32>,
    token_logprobs: Vec<super::TokenLogprob>,
    /// Bytes of text sent, bytes the tokens spelled, and where each token's bytes begin.
    sent: usize,
    spelled: usize,
    starts: Vec<usize>,
}

/// What became of a job after its token was drawn.
enum Drawn {
    /// Feed the token and go on.
    Continue(LlamaToken),
    /// The generation ended.
    Finished(StopReason),
    /// The reader went away.
    Abandoned,
}

impl Slots {
    /// `count` slots of `slot_context` tokens each, decoding at most `batch_size` tokens a step.
    pub(super) fn new(count: usize, batch_size: usize, slot_context: usize) -> Self {
        let batch_size = batch_size.max(count);
        Self {
            slots: (0..count)
                .map(|seq| Slot {
                    seq: seq as i32,
                    cached: Vec::new(),
                    adapter: None,
                    job: None,
                })
                .collect(),
            waiting: VecDeque::new(),
            batch: LlamaBatch::new(batch_size, 1),
            batch_size,
            slot_context,
        }
    }

    /// Tokens one request may use, prompt and output together.
    pub(super) fn slot_context(&self) -> usize {
        self.slot_context
    }

    /// Whether nothing is running or waiting.
    pub(super) fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.slots.iter().all(|slot| slot.job.is_none())
    }

    /// Queues a request (its prompt checked to fit a slot).
    pub(super) fn push(&mut self, waiting: Waiting) {
        self.waiting.push_back(waiting);
    }

    /// One step: admits waiting requests to free slots, decodes one batch and draws each generating
    /// slot's next token. `adapt` makes the context apply an adapter (it is asked only while no slot runs).
    pub(super) fn step(
        &mut self,
        model: &LlamaModel,
        context: &mut LlamaContext<'_>,
        mut adapt: impl FnMut(&mut LlamaContext<'_>, Option<usize>) -> Result<(), ModelError>,
        active: Option<usize>,
    ) {
        self.drop_abandoned(context);
        self.admit(model, context, &mut adapt, active);
        if let Err(error) = self.fill_batch() {
            self.fail_running(context, &error.to_string());
            return;
        }
        if self.batch.n_tokens() == 0 {
            return;
        }
        if let Err(error) = context.decode(&mut self.batch) {
            self.fail_running(context, &error.to_string());
            return;
        }
        self.draw(model, context);
    }

    /// Frees the slots whose readers went away.
    fn drop_abandoned(&mut self, context: &mut LlamaContext<'_>) {
        self.waiting.retain(|waiting| !waiting.events.is_closed());
        for slot in &mut self.slots {
            if slot.job.as_ref().is_some_and(|job| job.events.is_closed()) {
                slot.job = None;
                slot.forget_unread(context);
            }
        }
    }

    /// Moves waiting requests onto free slots, in arrival order, while they ask for the adapter the running
    /// slots use (any adapter when none runs).
    fn admit(
        &mut self,
        model: &LlamaModel,
        context: &mut LlamaContext<'_>,
        adapt: &mut impl FnMut(&mut LlamaContext<'_>, Option<usize>) -> Result<(), ModelError>,
        mut active: Option<usize>,
    ) {
        while let Some(next) = self.waiting.front() {
            let wanted = next.request.adapter;
            let running = self.slots.iter().any(|slot| slot.job.is_some());
            if running && wanted != active {
                return;
            }
            let Some(index) = self.best_free_slot(&next.prompt, wanted) else {
                return;
            };
            let Some(waiting) = self.waiting.pop_front() else {
                return;
            };
            if !running && wanted != active {
                if let Err(error) = adapt(context, wanted) {
                    let _ = waiting.events.send(Err(error));
                    continue;
                }
                active = wanted;
            }
            match Decoding::new(model, &waiting.request) {
                Ok(decoding) => self.slots[index].start(context, waiting, wanted, decoding),
                Err(error) => {
                    let _ = waiting.events.send(Err(error));
                }
            }
        }
    }

    /// The free slot whose cache shares the longest prefix with `prompt` under `adapter` (the first free
    /// one when none shares any).
    fn best_free_slot(&self, prompt: &[LlamaToken], adapter: Option<usize>) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.job.is_none())
            .max_by_key(|(index, slot)| {
                let shared = if slot.adapter == adapter {
                    common_prefix(&slot.cached, prompt)
                } else {
                    0
                };
                (shared, std::cmp::Reverse(*index))
            })
            .map(|(index, _)| index)
    }

    /// Puts the next token of each generating slot, then as much of each prompt being read as fits, into
    /// the batch.
    fn fill_batch(&mut self) -> Result<(), BatchAddError> {
        self.batch.clear();
        for slot in &mut self.slots {
            let Some(job) = slot.job.as_mut() else {
                continue;
            };
            job.logits_at = None;
            if let Some(token) = job.feed.take() {
                job.logits_at = Some(self.batch.n_tokens());
                self.batch
                    .add(token, slot.cached.len() as i32, &[slot.seq], true)?;
                slot.cached.push(token);
            }
        }
        for slot in &mut self.slots {
            let Some(job) = slot.job.as_mut() else {
                continue;
            };
            if job.read == job.prompt.len() {
                continue;
            }
            let room = self.batch_size - self.batch.n_tokens() as usize;
            let take = room.min(job.prompt.len() - job.read);
            for &token in &job.prompt[job.read..job.read + take] {
                job.read += 1;
                let last = job.read == job.prompt.len();
                if last {
                    job.logits_at = Some(self.batch.n_tokens());
                }
                self.batch
                    .add(token, slot.cached.len() as i32, &[slot.seq], last)?;
                slot.cached.push(token);
            }
        }
        Ok(())
    }

    /// Draws the next token of every slot whose logits the batch produced, and ends the generations that
    /// are done.
    fn draw(&mut self, model: &LlamaModel, context: &mut LlamaContext<'_>) {
        let slot_context = self.slot_context;
        for slot in &mut self.slots {
            let Some(job) = slot.job.as_mut() else {
                continue;
            };
            let Some(index) = job.logits_at else {
                continue;
            };
            job.prompt_read.get_or_insert_with(Instant::now);
            let position = slot.cached.len();
            match job.decoding.draw(model, context, index, &job.events) {
                Drawn::Abandoned => {
                    slot.job = None;
                }
                Drawn::Finished(stop) => {
                    if let Some(job) = slot.job.take() {
                        job.finish(stop);
                    }
                }
                Drawn::Continue(_) if job.decoding.output.len() >= job.decoding.max_tokens => {
                    if let Some(job) = slot.job.take() {
                        job.finish(StopReason::MaxTokens);
                    }
                }
                Drawn::Continue(_) if position + 1 >= slot_context => {
                    if let Some(job) = slot.job.take() {
                        job.finish(StopReason::ContextFull);
                    }
                }
                Drawn::Continue(token) => job.feed = Some(token),
            }
        }
    }

    /// Ends every running generation with a decode error (the batch's state is unknown).
    fn fail_running(&mut self, context: &mut LlamaContext<'_>, reason: &str) {
        for slot in &mut self.slots {
            if let Some(job) = slot.job.take() {
                let _ = job.events.send(Err(ModelError::Decode(reason.to_owned())));
                slot.cached.clear();
                context
                    .clear_kv_cache_seq(Some(slot.seq as u32), None, None)
                    .ok();
            }
        }
    }
}

impl Slot {
    /// Starts `waiting` on this slot, keeping the cached prefix its prompt shares (at least the prompt's
    /// last token is read again, for its logits).
    fn start(
        &mut self,
        context: &mut LlamaContext<'_>,
        waiting: Waiting,
        adapter: Option<usize>,
        decoding: Decoding,
    ) {
        let kept = if self.adapter == adapter {
            common_prefix(&self.cached, &waiting.prompt).min(waiting.prompt.len() - 1)
        } else {
            0
        };
        self.cached.truncate(kept);
        self.adapter = adapter;
        self.forget_unread(context);
        self.job = Some(Job {
            prompt: waiting.prompt,
            cached: kept,
            read: kept,
            events: waiting.events,
            arrived: waiting.arrived,
            started: Instant::now(),
            prompt_read: None,
            feed: None,
            logits_at: None,
            decoding,
        });
    }

    /// Drops from the KV cache every position past the tokens `cached` names.
    fn forget_unread(&mut self, context: &mut LlamaContext<'_>) {
        let from = self.cached.len() as u32;
        if context
            .clear_kv_cache_seq(Some(self.seq as u32), Some(from), None)
            .is_err()
        {
            self.cached.clear();
            context
                .clear_kv_cache_seq(Some(self.seq as u32), None, None)
                .ok();
        }
    }
}

impl Job {
    /// Sends what the stream still holds back and the generation's stats.
    fn finish(mut self, mut stop: StopReason) {
        let decoding = &mut self.decoding;
        let rest = if stop == StopReason::StopString {
            String::new()
        } else {
            let (mut text, found) = decoding.stops.push(&decoding.utf8.finish());
            if found {
                stop = StopReason::StopString;
            } else {
                text.push_str(&decoding.stops.finish());
            }
            text
        };
        decoding.sent += rest.len();
        if !rest.is_empty() {
            let _ = self.events.send(Ok(TokenEvent::Token(rest)));
        }
        // Drop the tokens that only spelled a stop string (their text begins past the text sent).
        let sent = decoding.sent;
        let kept = decoding
            .starts
            .iter()
            .take_while(|&&start| start < sent)
            .count();
        decoding.token_logprobs.truncate(kept);
        let generating = self.prompt_read.unwrap_or_else(Instant::now);
        let micros = |from: Instant, to: Instant| to.duration_since(from).as_micros() as u64;
        let output = std::mem::take(&mut decoding.output);
        let stats = GenerationStats {
            prompt_tokens: self.prompt.len() as u32,
            cached_prompt_tokens: self.cached as u32,
            output_tokens: output.len() as u32,
            output_token_ids: output,
            stop,
            logprobs: std::mem::take(&mut decoding.token_logprobs),
            prompt_micros: micros(self.started, generating),
            first_token_micros: micros(self.arrived, generating),
            generation_micros: generating.elapsed().as_micros() as u64,
        };
        let _ = self.events.send(Ok(TokenEvent::Done(stats)));
    }
}

impl Decoding {
    fn new(model: &LlamaModel, request: &GenerationRequest) -> Result<Self, ModelError> {
        Ok(Self {
            token_draw: TokenDraw::new(model, &request.sampling, request.grammar.as_deref())?,
            max_tokens: request.sampling.max_tokens as usize,
            logprobs: request.logprobs,
            utf8: Utf8Stream::default(),
            stops: StopMatcher::new(request.stop.clone()),
            piece: Vec::with_capacity(32),
            output: Vec::new(),
            token_logprobs: Vec::new(),
            sent: 0,
            spelled: 0,
            starts: Vec::new(),
        })
    }

    /// Draws a token from the logits at `index` of the batch just decoded and streams its text.
    fn draw(
        &mut self,
        model: &LlamaModel,
        context: &LlamaContext<'_>,
        index: i32,
        events: &EventSender,
    ) -> Drawn {
        let vocab = model.vocab();
        let token = self.token_draw.draw(context, index);
        if vocab.is_eog(token) {
            return Drawn::Finished(StopReason::EndOfGeneration);
        }
        self.output.push(token.0 as u32);
        self.piece.clear();
        vocab.token_to_piece_into(token, &mut self.piece, false, None);
        if let Some(top) = self.logprobs {
            let logits = context.get_logits_ith(index);
            self.token_logprobs
                .push(token_logprob(&vocab, logits, token, top));
            self.starts.push(self.spelled);
            self.spelled += self.piece.len();
        }
        let (text, stopped) = self.stops.push(&self.utf8.push(&self.piece));
        self.sent += text.len();
        if !text.is_empty() && events.send(Ok(TokenEvent::Token(text))).is_err() {
            return Drawn::Abandoned;
        }
        if stopped {
            Drawn::Finished(StopReason::StopString)
        } else {
            Drawn::Continue(token)
        }
    }
}

/// How many tokens `a` and `b` share from their start.
fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
