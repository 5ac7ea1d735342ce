//! Live updates: `GET /api/events`, a WebSocket carrying Mailpit's frames (`new`, `delete`,
//! `truncate`, `update`, `stats`). One hub task turns store events into JSON once; every client
//! forwards the shared frames, so a slow client never slows ingest or other clients.

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};

use super::AppState;
use super::mailpit::MessageSummary;
use crate::store::{Event, Store};

/// Frames a client may fall behind by before it is disconnected and told to reload.
pub const CLIENT_BUFFER: usize = 2048;
/// WebSocket close code 1013 ("try again later"): the client lagged and must reload its view.
pub const CLOSE_LAGGED: u16 = 1013;

/// The shared stream of serialized frames.
#[derive(Debug, Clone)]
pub struct EventHub {
    frames: broadcast::Sender<Utf8Bytes>,
}

impl EventHub {
    /// Starts the hub task on the current runtime (none outside a runtime: then no frames flow).
    pub fn start(store: &Store) -> EventHub {
        let (frames, _) = broadcast::channel(CLIENT_BUFFER);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(run_hub(store.clone(), store.subscribe(), frames.clone()));
        }
        EventHub { frames }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.frames.subscribe()
    }

    /// How many live-update clients are connected.
    pub fn clients(&self) -> usize {
        self.frames.receiver_count()
    }
}

async fn run_hub(
    store: Store,
    mut events: broadcast::Receiver<Event>,
    frames: broadcast::Sender<Utf8Bytes>,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => Some(event),
            // The hub itself fell behind: clients can only be told the totals.
            Err(RecvError::Lagged(_)) => None,
            Err(RecvError::Closed) => return,
        };
        if frames.receiver_count() == 0 {
            continue;
        }
        if let Some(frame) = event.as_ref().map(frame) {
            let _ = frames.send(frame);
        }
        // One stats frame per burst, not per event: it is sent once the queue is drained.
        if events.is_empty() {
            let counts = store.counts();
            let stats = json!({"Type": "stats", "Data": {"Total": counts.total, "Unread": counts.unread,
                "Version": env!("CARGO_PKG_VERSION")}});
            let _ = frames.send(Utf8Bytes::from(stats.to_string()));
        }
    }
}

/// The JSON frame for one store event.
pub fn frame(event: &Event) -> Utf8Bytes {
    let value = match event {
        Event::New(m) => json!({"Type": "new", "Data": MessageSummary::new(m)}),
        Event::Deleted(id) => json!({"Type": "delete", "Data": {"ID": id.to_string()}}),
        Event::Cleared => json!({"Type": "truncate", "Data": null}),
        Event::Read { id, read } => {
            json!({"Type": "update", "Data": {"ID": id.to_string(), "Read": read}})
        }
    };
    Utf8Bytes::from(value.to_string())
}

/// GET /api/events
pub async fn events(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let frames = state.hub.subscribe();
    let stopping = state.stopping();
    upgrade.on_upgrade(move |socket| forward(socket, frames, stopping))
}

async fn forward(
    mut socket: WebSocket,
    mut frames: broadcast::Receiver<Utf8Bytes>,
    stopping: impl std::future::Future<Output = ()>,
) {
    let mut stopping = std::pin::pin!(stopping);
    loop {
        tokio::select! {
            () = &mut stopping => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            frame = frames.recv() => match frame {
                Ok(frame) => {
                    if socket.send(Message::Text(frame)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    let close = CloseFrame { code: CLOSE_LAGGED, reason: Utf8Bytes::from_static("lagged: reload") };
                    let _ = socket.send(Message::Close(Some(close))).await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                // Clients send nothing we act on; pings are answered by the library.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
