//! The SpamAssassin check (`GET /api/v1/message/{ID}/sa-check`, Mailpit's): the stored message
//! is sent to a spamd (`--enable-spamassassin HOST:PORT` or `unix:/path`) with the spamc
//! `REPORT` command ([`super::spamc`]) and the answer given in Mailpit's shape,
//! `{IsSpam, Error, Score, Rules[{Score, Name, Description}]}`. This is the only file that does
//! the I/O: one connection per check, all of it under one time limit; a spamd that is down, slow
//! or confused gives `Error`, never a failed request.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::spamc::{self, Parsed};

/// The longest reply read from spamd. A `REPORT` reply is a few kilobytes; more is not spamd.
pub const MAX_REPLY: usize = 256 * 1024;

/// Where spamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spamd {
    /// `host:port`.
    Tcp(String),
    /// `unix:/path/to/socket`.
    Unix(PathBuf),
}

impl std::fmt::Display for Spamd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Spamd::Tcp(addr) => f.write_str(addr),
            Spamd::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl std::str::FromStr for Spamd {
    type Err = String;

    fn from_str(s: &str) -> Result<Spamd, String> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs a socket path, e.g. unix:/run/spamd.sock".into());
            }
            return Ok(Spamd::Unix(PathBuf::from(path)));
        }
        if s.eq_ignore_ascii_case("postmark") {
            // Mailpit can send each message to Postmark's public API; a capture server sending
            // captured mail to a third party is what mailsnare exists to avoid.
            return Err("postmark is not supported: run a spamd and give its HOST:PORT".into());
        }
        match s.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(Spamd::Tcp(s.to_string()))
            }
            _ => Err(format!(
                "{s:?} is not a spamd address: use HOST:PORT (spamd listens on 783) or unix:/path"
            )),
        }
    }
}

/// How spam checks are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamConfig {
    pub spamd: Spamd,
    /// The whole exchange, connect to last byte (`--spamassassin-timeout`).
    pub timeout: Duration,
    /// Larger messages are not sent; `Error` says why (`--spamassassin-max-size`).
    pub max_size: usize,
}

impl SpamConfig {
    pub fn new(spamd: Spamd) -> SpamConfig {
        SpamConfig {
            spamd,
            timeout: crate::config::DEFAULT_SPAMASSASSIN_TIMEOUT,
            max_size: crate::config::DEFAULT_SPAMASSASSIN_MAX_SIZE as usize,
        }
    }
}

/// Mailpit's `SpamAssassinResponse`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SpamReport {
    pub is_spam: bool,
    /// Empty when the check ran; otherwise what went wrong (the other fields are then empty).
    pub error: String,
    pub score: f64,
    pub rules: Vec<Rule>,
}

/// One rule that hit.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    pub score: f64,
    pub name: String,
    pub description: String,
}

impl SpamReport {
    fn failed(error: impl Into<String>) -> SpamReport {
        SpamReport {
            error: error.into(),
            ..SpamReport::default()
        }
    }

    /// The answer for spamd's reply. Scores are rounded down to one decimal, as Mailpit does;
    /// the verdict is spamd's own (against its `required_score`, 5.0 unless configured).
    pub fn from_reply(reply: &spamc::Reply) -> SpamReport {
        let Some(verdict) = reply.verdict else {
            return SpamReport::failed("spamd sent no verdict (no Spam: header)");
        };
        SpamReport {
            is_spam: verdict.is_spam,
            error: String::new(),
            score: round_down(verdict.score),
            rules: spamc::parse_report(&reply.body)
                .into_iter()
                .map(|r| Rule {
                    score: round_down(r.points),
                    name: r.name,
                    description: r.description,
                })
                .collect(),
        }
    }
}

fn round_down(n: f64) -> f64 {
    (n * 10.0).floor() / 10.0
}

/// Why an exchange failed; shown as `Error`.
#[derive(Debug, thiserror::Error)]
enum SpamError {
    #[error("cannot reach spamd at {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("talking to spamd: {0}")]
    Io(#[from] std::io::Error),
    #[error("spamd did not answer within {0:?} (--spamassassin-timeout)")]
    Timeout(Duration),
    #[error("spamd closed the connection before its reply was complete")]
    Truncated,
    #[error("spamd's reply is larger than {MAX_REPLY} bytes")]
    TooLarge,
    #[error(transparent)]
    Reply(#[from] spamc::ReplyError),
}

/// Asks spamd for a `PONG`, within the time limit: at startup, so a wrong address shows in the
/// log before anyone opens a check.
pub async fn ping(config: &SpamConfig) -> Result<(), String> {
    let exchange = tokio::time::timeout(config.timeout, exchange(&config.spamd, spamc::PING, b""));
    match exchange.await {
        Ok(Ok(reply)) if reply.message == "PONG" => Ok(()),
        Ok(Ok(reply)) => Err(format!("spamd answered {:?} to PING", reply.message)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(SpamError::Timeout(config.timeout).to_string()),
    }
}

/// Checks `raw` with spamd. Never fails: a failure is the report's `Error`.
pub async fn check(config: &SpamConfig, raw: &[u8]) -> SpamReport {
    if raw.len() > config.max_size {
        return SpamReport::failed(format!(
            "the message ({} bytes) is larger than --spamassassin-max-size ({} bytes)",
            raw.len(),
            config.max_size
        ));
    }
    let head = spamc::report_request(raw.len());
    let exchange = tokio::time::timeout(config.timeout, exchange(&config.spamd, &head, raw));
    let reply = match exchange.await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => {
            tracing::warn!("spam check: {e}");
            return SpamReport::failed(e.to_string());
        }
        Err(_) => {
            tracing::warn!("spam check: spamd at {} timed out", config.spamd);
            return SpamReport::failed(SpamError::Timeout(config.timeout).to_string());
        }
    };
    SpamReport::from_reply(&reply)
}

/// One request (`head`, then `body` as is) and its reply, over a fresh connection.
async fn exchange(spamd: &Spamd, head: &[u8], body: &[u8]) -> Result<spamc::Reply, SpamError> {
    match spamd {
        Spamd::Tcp(addr) => {
            let stream = tokio::net::TcpStream::connect(addr.as_str())
                .await
                .map_err(|e| SpamError::Connect(addr.clone(), e))?;
            converse(stream, head, body).await
        }
        #[cfg(unix)]
        Spamd::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path)
                .await
                .map_err(|e| SpamError::Connect(spamd.to_string(), e))?;
            converse(stream, head, body).await
        }
        #[cfg(not(unix))]
        Spamd::Unix(_) => Err(SpamError::Connect(
            spamd.to_string(),
            std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "unix sockets need a unix system",
            ),
        )),
    }
}

/// Sends the request, half-closes (spamd reads to end of input), reads the reply.
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    head: &[u8],
    body: &[u8],
) -> Result<spamc::Reply, SpamError> {
    stream.write_all(head).await?;
    stream.write_all(body).await?;
    stream.shutdown().await?;
    let mut received = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await?;
        if received.len() + n > MAX_REPLY {
            return Err(SpamError::TooLarge);
        }
        received.extend_from_slice(&chunk[..n]);
        match spamc::parse_reply(&received, n == 0)? {
            Parsed::Complete(reply) => return Ok(reply),
            Parsed::Incomplete if n == 0 => return Err(SpamError::Truncated),
            Parsed::Incomplete => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            "127.0.0.1:783".parse(),
            Ok(Spamd::Tcp("127.0.0.1:783".into()))
        );
        assert_eq!("spamd:783".parse(), Ok(Spamd::Tcp("spamd:783".into())));
        assert_eq!("[::1]:783".parse(), Ok(Spamd::Tcp("[::1]:783".into())));
        assert_eq!(
            "unix:/run/spamd.sock".parse(),
            Ok(Spamd::Unix("/run/spamd.sock".into()))
        );
        for bad in ["spamd", "spamd:port", ":783", "unix:", "postmark", ""] {
            assert!(bad.parse::<Spamd>().is_err(), "{bad:?}");
        }
        assert_eq!(
            Spamd::Unix("/s".into()).to_string(),
            "unix:/s",
            "shown as given"
        );
    }

    #[test]
    fn the_report_has_mailpits_shape_and_rounding() {
        let reply = spamc::Reply {
            code: 0,
            message: "EX_OK".into(),
            verdict: Some(spamc::Verdict {
                is_spam: false,
                score: 2.56,
                threshold: 5.0,
            }),
            body: "Content analysis details:   (2.6 points, 5.0 required)\n\n pts rule name              description\n---- ---------------------- ----\n 2.5 HTML_SHORT             HTML is very short\n".into(),
        };
        let report = SpamReport::from_reply(&reply);
        assert_eq!(
            serde_json::to_value(&report).unwrap_or_default(),
            serde_json::json!({
                "IsSpam": false,
                "Error": "",
                "Score": 2.5,
                "Rules": [{"Score": 2.5, "Name": "HTML_SHORT", "Description": "HTML is very short"}],
            })
        );
        let failed = serde_json::to_value(SpamReport::failed("down")).unwrap_or_default();
        assert_eq!(
            failed,
            serde_json::json!({"IsSpam": false, "Error": "down", "Score": 0.0, "Rules": []})
        );
    }

    #[tokio::test]
    async fn a_confused_or_silent_spamd_is_an_error_not_a_hang() {
        // An in-memory spamd: the I/O path without a socket.
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let spamd = tokio::spawn(async move {
            let mut request = Vec::new();
            let _ = server.read_to_end(&mut request).await;
            let _ = server
                .write_all(b"SPAMD/1.1 0 EX_OK\r\nContent-length: 99\r\n\r\nshort")
                .await;
            request
        });
        let body = b"Subject: x\r\n\r\nbody\r\n";
        let result = converse(client, &spamc::report_request(body.len()), body).await;
        assert!(matches!(result, Err(SpamError::Truncated)), "{result:?}");
        let request = spamd.await.unwrap_or_default();
        assert_eq!(
            request,
            b"REPORT SPAMC/1.5\r\nContent-length: 20\r\n\r\nSubject: x\r\n\r\nbody\r\n"
        );

        let silent = SpamConfig {
            timeout: Duration::from_millis(200),
            ..SpamConfig::new(Spamd::Unix("/nonexistent/spamd.sock".into()))
        };
        let report = check(&silent, b"x").await;
        assert!(report.error.contains("cannot reach spamd"), "{report:?}");
        let small = SpamConfig {
            max_size: 1,
            ..silent
        };
        assert!(check(&small, b"xy").await.error.contains("larger than"));
    }
}
