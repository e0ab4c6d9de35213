//! Running a completion for a handler: to the end (plain JSON) or as server-sent events.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{AppState, Completion, openai::ApiError};
use crate::model::{GenerationRequest, TokenEvent};

/// The SSE body: events from the generation task, with keep-alive comments.
pub(crate) type EventStream = KeepAliveStream<ReceiverStream<Result<Event, Infallible>>>;

/// Runs `request` to its end and records the paid use.
pub(crate) async fn run(
    state: &AppState,
    request: GenerationRequest,
) -> Result<Completion, ApiError> {
    state
        .session
        .complete(request, |_| {})
        .await
        .map_err(|err| ApiError::from_client(&err))
}

/// Streams `request` as SSE: `first` (if any), one `piece(text)` event per piece, then `last(completion)`
/// once the use is recorded, then `data: [DONE]`. A failure midway is sent as an OpenAI error event.
pub(crate) async fn sse(
    state: AppState,
    request: GenerationRequest,
    first: Option<serde_json::Value>,
    piece: impl Fn(&str) -> serde_json::Value + Send + 'static,
    last: impl Fn(&Completion) -> serde_json::Value + Send + 'static,
) -> Result<Sse<EventStream>, ApiError> {
    let prompt = request.prompt.clone();
    let mut events = state
        .session
        .generate(request)
        .await
        .map_err(|err| ApiError::from_client(&err))?;
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(64);
    tokio::spawn(async move {
        let send = |value: serde_json::Value| {
            let tx = tx.clone();
            async move {
                tx.send(Ok(Event::default().data(value.to_string())))
                    .await
                    .is_ok()
            }
        };
        if let Some(first) = first
            && !send(first).await
        {
            return;
        }
        let mut text = String::new();
        while let Some(event) = events.recv().await {
            match event {
                Ok(TokenEvent::Token(p)) => {
                    text.push_str(&p);
                    // A closed connection drops `events`, which stops the generation: no receipt.
                    if !send(piece(&p)).await {
                        return;
                    }
                }
                Ok(TokenEvent::Done(stats)) => {
                    match state
                        .session
                        .record(&prompt, std::mem::take(&mut text), stats)
                        .await
                    {
                        Ok(completion) => {
                            send(last(&completion)).await;
                        }
                        Err(err) => {
                            send(ApiError::internal(&err).body()).await;
                        }
                    }
                    break;
                }
                Err(err) => {
                    send(ApiError::internal(&crate::error::ClientError::from(err)).body()).await;
                    break;
                }
            }
        }
        let _ = tx.send(Ok(Event::default().data("[DONE]"))).await;
    });
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()))
}
