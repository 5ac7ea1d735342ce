//! The server side of RFC 6455, as far as the live streams need it: they only ever send text
//! frames, answer pings and closes, and read nothing else. Frames are written straight from the
//! shared bytes the hub serialized once (a header, then the payload), so twenty clients that stop
//! reading a 10 MB message hold one copy of it, not twenty (a general-purpose WebSocket library
//! copies every frame into a per-connection buffer). Client frames are capped small: nothing a
//! client may send is needed.

use std::io;

use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use super::error::AppError;

/// The largest frame a client may send (pings, closes): anything larger ends the connection.
pub const MAX_CLIENT_FRAME: usize = 4096;

/// RFC 6455 1.3.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 4.2.2).
fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// A WebSocket handshake request, checked and ready to be answered.
pub struct Upgrade {
    accept: HeaderValue,
    on_upgrade: hyper::upgrade::OnUpgrade,
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let bad = |why: &'static str, status: StatusCode| {
            let mut response = AppError::BadRequest(why.into()).into_response();
            *response.status_mut() = status;
            response
        };
        if parts.method != Method::GET {
            return Err(bad(
                "a WebSocket handshake is a GET",
                StatusCode::METHOD_NOT_ALLOWED,
            ));
        }
        let has = |headers: &HeaderMap, name: header::HeaderName, token: &str| {
            headers.get_all(name).iter().any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            })
        };
        if !has(&parts.headers, header::CONNECTION, "upgrade") {
            return Err(bad(
                "this is a WebSocket: send Connection: Upgrade",
                StatusCode::BAD_REQUEST,
            ));
        }
        if !has(&parts.headers, header::UPGRADE, "websocket") {
            return Err(bad(
                "this is a WebSocket: send Upgrade: websocket",
                StatusCode::BAD_REQUEST,
            ));
        }
        if parts
            .headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_none_or(|v| v != "13")
        {
            return Err(bad(
                "send Sec-WebSocket-Version: 13",
                StatusCode::BAD_REQUEST,
            ));
        }
        let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY) else {
            return Err(bad("send Sec-WebSocket-Key", StatusCode::BAD_REQUEST));
        };
        let accept = accept_key(key.as_bytes());
        let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
            return Err(bad(
                "this connection cannot be upgraded",
                StatusCode::UPGRADE_REQUIRED,
            ));
        };
        Ok(Upgrade {
            accept: HeaderValue::from_str(&accept).unwrap_or(HeaderValue::from_static("")),
            on_upgrade,
        })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Upgrade {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <Upgrade as FromRequestParts<S>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

/// The upgraded connection.
pub type Io = TokioIo<hyper::upgrade::Upgraded>;

impl Upgrade {
    /// Answers 101 and runs `serve` on the connection once the client has it.
    pub fn on_upgrade<F, Fut>(self, serve: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => serve(Socket::new(TokioIo::new(upgraded))).await,
                Err(e) => tracing::debug!("WebSocket upgrade failed: {e}"),
            }
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, self.accept);
        response
    }
}

/// One live-stream connection: a writer half and a reader half.
pub struct Socket {
    pub reader: Reader<ReadHalf<Io>>,
    pub writer: Writer<WriteHalf<Io>>,
}

impl Socket {
    fn new(io: Io) -> Socket {
        let (read, write) = tokio::io::split(io);
        Socket {
            reader: Reader { io: read },
            writer: Writer { io: write },
        }
    }
}

/// Writes server frames (never masked, RFC 6455 5.1).
pub struct Writer<W> {
    io: W,
}

/// The header of an unfragmented server frame of `len` payload bytes.
fn frame_header(opcode: u8, len: usize) -> ([u8; 10], usize) {
    let mut header = [0u8; 10];
    header[0] = 0x80 | opcode;
    let used = if len < 126 {
        header[1] = len as u8;
        2
    } else if let Ok(short) = u16::try_from(len) {
        header[1] = 126;
        header[2..4].copy_from_slice(&short.to_be_bytes());
        4
    } else {
        header[1] = 127;
        header[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    (header, used)
}

impl<W: AsyncWrite + Unpin> Writer<W> {
    async fn frame(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let (header, used) = frame_header(opcode, payload.len());
        self.io.write_all(&header[..used]).await?;
        // Straight from the caller's bytes: no copy of the payload is made here.
        self.io.write_all(payload).await
    }

    /// Writes one text frame (call [`Writer::flush`] after a batch).
    pub async fn text(&mut self, text: &str) -> io::Result<()> {
        self.frame(0x1, text.as_bytes()).await
    }

    pub async fn pong(&mut self, payload: &[u8]) -> io::Result<()> {
        self.frame(0xA, payload).await?;
        self.io.flush().await
    }

    /// Sends a close frame with `code` (and `reason`) and flushes.
    pub async fn close(&mut self, code: Option<u16>, reason: &str) -> io::Result<()> {
        let mut payload = Vec::with_capacity(2 + reason.len());
        if let Some(code) = code {
            payload.extend_from_slice(&code.to_be_bytes());
            payload.extend_from_slice(reason.as_bytes());
        }
        self.frame(0x8, &payload).await?;
        self.io.flush().await?;
        self.io.shutdown().await
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        self.io.flush().await
    }
}

/// What a client sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Ping(Vec<u8>),
    /// The client closes (or the connection ended).
    Close,
    /// A data or pong frame: read and ignored.
    Other,
    /// A frame over [`MAX_CLIENT_FRAME`], unmasked, or otherwise not WebSocket: end it (1009 or
    /// 1002).
    Refused(u16),
}

/// Reads client frames.
pub struct Reader<R> {
    io: R,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// The next client frame; ends with [`Incoming::Close`] when the connection does.
    pub async fn next(&mut self) -> Incoming {
        match self.read().await {
            Ok(incoming) => incoming,
            Err(_) => Incoming::Close,
        }
    }

    async fn read(&mut self) -> io::Result<Incoming> {
        let mut head = [0u8; 2];
        self.io.read_exact(&mut head).await?;
        let opcode = head[0] & 0x0F;
        let masked = head[1] & 0x80 != 0;
        if !masked {
            // RFC 6455 5.1: a client frame that is not masked is a protocol error.
            return Ok(Incoming::Refused(1002));
        }
        let len = match head[1] & 0x7F {
            126 => {
                let mut b = [0u8; 2];
                self.io.read_exact(&mut b).await?;
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                self.io.read_exact(&mut b).await?;
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        if len > MAX_CLIENT_FRAME as u64 {
            return Ok(Incoming::Refused(1009));
        }
        let mut mask = [0u8; 4];
        self.io.read_exact(&mut mask).await?;
        let mut payload = vec![0u8; len as usize];
        self.io.read_exact(&mut payload).await?;
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        Ok(match opcode {
            0x8 => Incoming::Close,
            0x9 => Incoming::Ping(payload),
            _ => Incoming::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1, 2, 3, 4];
        let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    }

    #[test]
    fn accept_key_is_rfc_6455s() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn headers_encode_each_length_form() {
        assert_eq!(frame_header(1, 5).0[..2], [0x81, 5]);
        let (h, n) = frame_header(1, 300);
        assert_eq!((&h[..n], n), (&[0x81, 126, 1, 44][..], 4));
        let (h, n) = frame_header(1, 70_000);
        assert_eq!(&h[..n], &[0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    }

    #[tokio::test]
    async fn client_frames_are_read_and_capped() {
        let mut input = masked(0x9, b"hi");
        input.extend(masked(0x1, b"ignored"));
        input.extend(masked(0x8, &[3, 232]));
        let mut reader = Reader { io: &input[..] };
        assert_eq!(reader.next().await, Incoming::Ping(b"hi".to_vec()));
        assert_eq!(reader.next().await, Incoming::Other);
        assert_eq!(reader.next().await, Incoming::Close);
        assert_eq!(reader.next().await, Incoming::Close, "end of input");
        let unmasked = [0x81u8, 1, b'x'];
        assert_eq!(
            Reader { io: &unmasked[..] }.next().await,
            Incoming::Refused(1002)
        );
        let big = [0x82u8, 0x80 | 127, 0, 0, 0, 0, 0x40, 0, 0, 0];
        assert_eq!(
            Reader { io: &big[..] }.next().await,
            Incoming::Refused(1009)
        );
    }

    #[tokio::test]
    async fn text_frames_are_written_whole() {
        let mut out = Vec::new();
        let mut writer = Writer { io: &mut out };
        writer.text("hello").await.expect("write");
        writer.close(Some(1013), "lagged").await.expect("close");
        assert_eq!(&out[..7], &[0x81, 5, b'h', b'e', b'l', b'l', b'o']);
        assert_eq!(
            &out[7..],
            &[0x88, 8, 0x03, 0xF5, b'l', b'a', b'g', b'g', b'e', b'd']
        );
    }
}
