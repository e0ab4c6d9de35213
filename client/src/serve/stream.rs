//! Running a completion for a handler: to the end (plain JSON) or as server-sent events.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{
    AppState, Completion, Generation,
    admission::Admitted,
    error::RequestError,
    openai::{ApiError, Plan},
};
use crate::{error::ClientError, model::TokenEvent};

/// The SSE body: events from the generation task, with keep-alive comments.
pub(crate) type EventStream = KeepAliveStream<ReceiverStream<Result<Event, Infallible>>>;

/// Checks that the prompt fits the context with room for the tokens asked for (OpenAI's
/// `context_length_exceeded`, answered before anything is generated); when the request set no maximum,
/// the server's default is cut to the room the context leaves.
pub(crate) async fn fit_context(state: &AppState, plan: &mut Plan) -> Result<(), ApiError> {
    let worker = state.session.worker();
    let prompt_tokens = worker
        .prompt_tokens(plan.request.prompt.clone())
        .await
        .map_err(|err| ApiError::from_client(&ClientError::from(err)))?;
    let context_size = worker.info().context_size;
    let room = u32::try_from((context_size as usize).saturating_sub(prompt_tokens)).unwrap_or(0);
    let sampling = &mut plan.request.sampling;
    if room == 0 || (plan.max_tokens_given && sampling.max_tokens > room) {
        return Err(RequestError::ContextLengthExceeded {
            param: plan.prompt_param,
            context_size,
            prompt_tokens,
            max_tokens: if plan.max_tokens_given {
                sampling.max_tokens
            } else {
                0
            },
        }
        .into());
    }
    sampling.max_tokens = sampling.max_tokens.min(room);
    Ok(())
}

/// Runs the plan's choices to their ends, side by side on the model's slots (choice `i` draws with
/// `seed + i`), each recorded as a paid use of its own.
pub(crate) async fn run(state: &AppState, plan: &Plan) -> Result<Vec<Completion>, ApiError> {
    let model = &state.session.models()[plan.model];
    let choices = (0..plan.choices).map(|choice| {
        let mut request = plan.request.clone();
        request.sampling.seed = request.sampling.seed.wrapping_add(choice);
        async move {
            let completion = state
                .session
                .complete(model, request, |_| {})
                .await
                .map_err(|err| ApiError::from_client(&err))?;
            super::metrics::completed(model.name(), &completion);
            Ok(completion)
        }
    });
    futures::future::try_join_all(choices).await
}

/// How a stream is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SseStyle {
    /// Chat and text completions: `data:` lines only, ending with `data: [DONE]`; a failure is an error
    /// object.
    Chat,
    /// The Responses API: each event named by its `type`, no `[DONE]`; a failure is an `error` event.
    Responses,
}

impl SseStyle {
    /// The event that reports `error` midway.
    fn error(self, error: &ApiError) -> serde_json::Value {
        let body = error.body();
        match self {
            Self::Chat => body,
            Self::Responses => {
                let mut event = body["error"].clone();
                event["type"] = serde_json::json!("error");
                event
            }
        }
    }
}

/// Streams the plan's request on its served model, holding `admitted`
/// until the stream ends, as SSE framed in `style`: the events of `first`, one `piece(text)` event per
/// piece (`None`: held back, `last` sees the whole text), then the events of `last(completion)` once the
/// use is recorded. A failure midway is sent as an error event.
pub(crate) async fn sse(
    state: AppState,
    admitted: Admitted,
    plan: Plan,
    style: SseStyle,
    first: Vec<serde_json::Value>,
    piece: impl Fn(&str) -> Option<serde_json::Value> + Send + 'static,
    last: impl Fn(&Completion) -> Vec<serde_json::Value> + Send + 'static,
) -> Result<Sse<EventStream>, ApiError> {
    let (model, request) = (plan.model, plan.request);
    let prompt = request.prompt.clone();
    let Generation {
        mut events,
        reservation,
    } = state
        .session
        .generate(&state.session.models()[model], request)
        .await
        .map_err(|err| ApiError::from_client(&err))?;
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(64);
    tokio::spawn(async move {
        // The completion keeps its place (and its channel hold) until its stream ends or is abandoned.
        let _admitted = admitted;
        let send = |value: serde_json::Value| {
            let tx = tx.clone();
            let mut event = Event::default();
            if style == SseStyle::Responses
                && let Some(kind) = value["type"].as_str()
            {
                event = event.event(kind);
            }
            async move { tx.send(Ok(event.data(value.to_string()))).await.is_ok() }
        };
        for value in first {
            if !send(value).await {
                return;
            }
        }
        let mut text = String::new();
        while let Some(event) = events.recv().await {
            match event {
                Ok(TokenEvent::Token(p)) => {
                    text.push_str(&p);
                    // A closed connection drops `events`, which stops the generation: no receipt.
                    if let Some(value) = piece(&p)
                        && !send(value).await
                    {
                        return;
                    }
                }
                Ok(TokenEvent::Done(stats)) => {
                    let served = &state.session.models()[model];
                    match state
                        .session
                        .record(
                            served,
                            &prompt,
                            std::mem::take(&mut text),
                            stats,
                            reservation,
                        )
                        .await
                    {
                        Ok(completion) => {
                            super::metrics::completed(served.name(), &completion);
                            for value in last(&completion) {
                                if !send(value).await {
                                    return;
                                }
                            }
                        }
                        Err(err) => {
                            send(style.error(&ApiError::internal(&err))).await;
                        }
                    }
                    break;
                }
                Err(err) => {
                    send(style.error(&ApiError::internal(&ClientError::from(err)))).await;
                    break;
                }
            }
        }
        if style == SseStyle::Chat {
            let _ = tx.send(Ok(Event::default().data("[DONE]"))).await;
        }
    });
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()))
}
