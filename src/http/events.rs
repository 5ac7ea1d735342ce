//! Live updates: `GET /api/events`, a WebSocket carrying Mailpit's frames (`new`, `delete`,
//! `truncate`, `update`, `stats`). One hub task turns store events into JSON once; every client
//! forwards the shared frames, so a slow client never slows ingest or other clients.

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::json;
use std::time::Duration;

use futures_util::SinkExt;
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

/// How often the hub looks at the event rate.
pub const WINDOW: Duration = Duration::from_millis(100);
/// More events than this in one window is a flood (500/s): frames are coalesced until it ends.
pub const FLOOD_EVENTS: usize = 50;

/// Turns store events into frames. Under a flood (a test suite sending thousands of messages a
/// second) per-message frames would cost every client a frame per message and take CPU from SMTP
/// ingest, and no person can read them anyway: the hub then sends an EXT `resync` frame and the
/// totals once per window instead, and a last `resync` when the flood ends.
async fn run_hub(
    store: Store,
    mut events: broadcast::Receiver<Event>,
    frames: broadcast::Sender<Utf8Bytes>,
) {
    let mut tick = tokio::time::interval(WINDOW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_window = 0usize;
    let mut flooding = false;
    // Changes were coalesced since the last `resync`.
    let mut dirty = false;
    let stats = |store: &Store| {
        let counts = store.counts();
        let stats = json!({"Type": "stats", "Data": {"Total": counts.total, "Unread": counts.unread,
            "Version": env!("CARGO_PKG_VERSION")}});
        Utf8Bytes::from(stats.to_string())
    };
    loop {
        tokio::select! {
            event = events.recv() => {
                let event = match event {
                    Ok(event) => event,
                    // The hub itself fell behind: what clients hold is stale.
                    Err(RecvError::Lagged(_)) => {
                        flooding = true;
                        dirty = true;
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                };
                in_window += 1;
                if in_window > FLOOD_EVENTS {
                    flooding = true;
                }
                if flooding {
                    dirty = true;
                    continue;
                }
                if frames.receiver_count() == 0 {
                    continue;
                }
                let _ = frames.send(frame(&event));
                // One stats frame per burst, not per event: sent once the queue is drained.
                if events.is_empty() {
                    let _ = frames.send(stats(&store));
                }
            }
            _ = tick.tick() => {
                if dirty && frames.receiver_count() > 0 {
                    let _ = frames.send(Utf8Bytes::from_static(RESYNC));
                    let _ = frames.send(stats(&store));
                }
                dirty = false;
                if in_window <= FLOOD_EVENTS {
                    flooding = false;
                }
                in_window = 0;
            }
        }
    }
}

/// EXT frame: changes were coalesced; reload what is shown.
pub const RESYNC: &str = r#"{"Type":"resync","Data":null}"#;

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

/// Frames written per flush: a client that has fallen behind catches up in few syscalls.
const WRITE_BATCH: usize = 64;

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
            frame = frames.recv() => {
                // Everything already queued goes out together, flushed every WRITE_BATCH frames.
                let mut next = Some(frame);
                let mut written = 0;
                while let Some(item) = next.take() {
                    match item {
                        Ok(frame) => {
                            if socket.feed(Message::Text(frame)).await.is_err() {
                                return;
                            }
                        }
                        Err(RecvError::Lagged(_)) => {
                            let close = CloseFrame { code: CLOSE_LAGGED, reason: Utf8Bytes::from_static("lagged: reload") };
                            let _ = socket.send(Message::Close(Some(close))).await;
                            return;
                        }
                        Err(RecvError::Closed) => return,
                    }
                    written += 1;
                    if written % WRITE_BATCH == 0 && socket.flush().await.is_err() {
                        return;
                    }
                    next = match frames.try_recv() {
                        Ok(frame) => Some(Ok(frame)),
                        Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
                        Err(_) => None,
                    };
                }
                if socket.flush().await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                // Clients send nothing we act on; pings are answered by the library.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
