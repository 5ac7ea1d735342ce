//! MailHog's live updates: `GET /api/v1/events` (Server-Sent Events) and `GET /api/v2/websocket`.
//! Both carry only new messages, as Message JSON; deletions are not announced (MailHog never did,
//! and its clients treat every event or frame as a message).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message as Frame, WebSocket, WebSocketUpgrade};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use super::model::Message;
use crate::http::AppState;
use crate::store::Event;

/// How often an idle event stream sends a comment, so proxies and clients keep the connection.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// The next new message's JSON; `None` once the store is gone. A lagging subscriber skips what it
/// missed: MailHog has no way to resync, and clients only wait for specific messages.
async fn next_message(events: &mut Receiver<Event>) -> Option<String> {
    loop {
        match events.recv().await {
            Ok(Event::New(message)) => match serde_json::to_string(&Message::new(&message)) {
                Ok(json) => return Some(json),
                Err(e) => tracing::warn!(id = %message.id, "cannot serialize message: {e}"),
            },
            Ok(_) => {}
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "live-update client lagged; skipping");
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

/// GET /api/v1/events: one `data:` event per new message, and a keepalive comment when idle.
pub async fn sse(State(state): State<AppState>) -> Response {
    // Subscribed before the response starts, so nothing stored after the request is missed.
    let events = state.store.subscribe();
    let stream = futures_util::stream::unfold(events, |mut events| async move {
        let json = next_message(&mut events).await?;
        Some((Ok::<_, Infallible>(SseEvent::default().data(json)), events))
    });
    // The stream ends at shutdown, or graceful shutdown would wait for it forever.
    let stream = futures_util::StreamExt::take_until(stream, Box::pin(state.stopping()));
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEPALIVE))
        .into_response()
}

/// GET /api/v2/websocket: one text frame per new message. Client frames are read only to notice
/// the close; pings are answered by the WebSocket layer.
pub async fn websocket(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let events = state.store.subscribe();
    let stopping = state.stopping();
    upgrade.on_upgrade(move |socket| push(socket, events, stopping))
}

async fn push(
    mut socket: WebSocket,
    mut events: Receiver<Event>,
    stopping: impl Future<Output = ()>,
) {
    let mut stopping = std::pin::pin!(stopping);
    loop {
        tokio::select! {
            () = &mut stopping => break,
            json = next_message(&mut events) => {
                let Some(json) = json else { break };
                if socket.send(Frame::Text(json.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Frame::Close(_))) => break,
                Some(Ok(_)) => {}
            },
        }
    }
}
