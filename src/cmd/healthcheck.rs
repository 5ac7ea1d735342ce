//! `mailsnare healthcheck`: exits 0 when the server answers `GET /readyz` with 200 within five
//! seconds, else 1 with the reason on stderr, so a container's HEALTHCHECK needs no curl.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned,
};

use mailsnare::config::{DEFAULT_HTTP_PORT, HTTP_ADDR_ENV, HTTP_TLS_ENV, first_env};

use super::connect::{ConnectError, connect, connect_address, is_timeout};

/// The whole check (connect, TLS handshake, request, status line) must finish within this.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Longest status line read.
const MAX_STATUS_LINE: u64 = 1024;

/// `mailsnare healthcheck`'s flags.
#[derive(Debug, Parser)]
#[command(
    name = "mailsnare healthcheck",
    about = "Exit 0 when a running mailsnare answers GET /readyz with 200 within 5 seconds, else 1"
)]
pub struct HealthcheckCli {
    /// The server's HTTP address [default: MAILSNARE_HTTP, MP_UI_BIND_ADDR, MH_UI_BIND_ADDR or 127.0.0.1:8025; 0.0.0.0 means 127.0.0.1]
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// Use HTTPS, without checking the certificate [default: on when MAILSNARE_HTTP_TLS_CERT or MP_UI_TLS_CERT is set]
    #[arg(long)]
    pub tls: bool,
}

/// Why the server is not considered healthy.
#[derive(Debug, thiserror::Error)]
pub enum Unhealthy {
    #[error("cannot resolve {addr}: {source}")]
    Resolve { addr: String, source: io::Error },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("no answer from {addr} within {}s", TIMEOUT.as_secs())]
    Timeout { addr: String },
    #[error("TLS setup failed: {0}")]
    TlsSetup(String),
    #[error("GET /readyz on {addr} failed: {source}")]
    Io { addr: String, source: io::Error },
    #[error("GET /readyz on {addr} answered {status:?}")]
    Status { addr: String, status: String },
}

/// Checks `GET /readyz` on `addr` (`host:port`), over HTTPS when `tls`.
pub fn check(addr: &str, tls: bool) -> Result<(), Unhealthy> {
    let deadline = Instant::now() + TIMEOUT;
    let tcp = connect(addr, TIMEOUT).map_err(|e| match e {
        ConnectError::Timeout { .. } => Unhealthy::Timeout { addr: addr.into() },
        ConnectError::Resolve { source, .. } => Unhealthy::Resolve {
            addr: addr.into(),
            source,
        },
        ConnectError::NoAddress { .. } => Unhealthy::Connect {
            addr: addr.into(),
            source: io::Error::new(io::ErrorKind::NotFound, "no address"),
        },
        ConnectError::Refused { source, .. } => Unhealthy::Connect {
            addr: addr.into(),
            source,
        },
    })?;
    let stream = WithDeadline { tcp, deadline };
    let request = format!(
        "GET /readyz HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: mailsnare-healthcheck\r\nConnection: close\r\n\r\n"
    );
    let status = if tls {
        let connection =
            ClientConnection::new(Arc::new(insecure_client_config()?), server_name(addr))
                .map_err(|e| Unhealthy::TlsSetup(e.to_string()))?;
        exchange(StreamOwned::new(connection, stream), &request)
    } else {
        exchange(stream, &request)
    };
    let status = status.map_err(|source| {
        if is_timeout(&source) {
            Unhealthy::Timeout { addr: addr.into() }
        } else {
            Unhealthy::Io {
                addr: addr.into(),
                source,
            }
        }
    })?;
    let ok = status
        .split_whitespace()
        .collect::<Vec<_>>()
        .get(..2)
        .is_some_and(|w| w[0].starts_with("HTTP/1.") && w[1] == "200");
    if ok {
        Ok(())
    } else {
        Err(Unhealthy::Status {
            addr: addr.into(),
            status,
        })
    }
}

/// Writes the request and returns the response's status line.
fn exchange(mut stream: impl Read + Write, request: &str) -> io::Result<String> {
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    let mut line = Vec::new();
    BufReader::new(stream)
        .take(MAX_STATUS_LINE)
        .read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection without answering",
        ));
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_string())
}

/// A TCP stream whose every read and write may only wait until one shared deadline, so a server
/// that trickles bytes cannot stretch the check beyond [`TIMEOUT`].
struct WithDeadline {
    tcp: TcpStream,
    deadline: Instant,
}

impl WithDeadline {
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::ErrorKind::TimedOut.into())
        } else {
            Ok(left)
        }
    }
}

impl Read for WithDeadline {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.set_read_timeout(Some(self.left()?))?;
        self.tcp.read(buf)
    }
}

impl Write for WithDeadline {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.set_write_timeout(Some(self.left()?))?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// The name sent in SNI: the host part of `addr` (a DNS name or an IP address).
fn server_name(addr: &str) -> ServerName<'static> {
    let host = match addr.rsplit_once(':') {
        Some((host, _port)) => host,
        None => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    // Any name will do when it is not a valid one: the certificate is not checked against it.
    ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::from(std::net::IpAddr::from([127, 0, 0, 1])))
}

/// A TLS client that accepts any certificate. The check talks to our own server, whose
/// certificate is typically self-signed (`sans:…`) or issued for a public name rather than the
/// loopback address; what matters is that it answers, not who it is.
fn insecure_client_config() -> Result<ClientConfig, Unhealthy> {
    let provider = Arc::new(crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Unhealthy::TlsSetup(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(config)
}

/// Accepts every certificate, but still checks the handshake signatures, so the server must hold
/// the key of the certificate it shows.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Resolves the address and the TLS switch from the flags and `env`.
pub fn target(cli: &HealthcheckCli, env: &dyn Fn(&str) -> Option<String>) -> (String, bool) {
    let addr = cli
        .http
        .clone()
        .or_else(|| first_env(env, &HTTP_ADDR_ENV))
        .unwrap_or_default();
    let tls = cli.tls || first_env(env, &HTTP_TLS_ENV).is_some();
    (connect_address(&addr, DEFAULT_HTTP_PORT), tls)
}

/// Entry point for `mailsnare healthcheck …` (`args` without the program and subcommand names).
pub fn main(args: &[OsString]) -> ExitCode {
    let argv = std::iter::once(OsString::from("mailsnare healthcheck")).chain(args.iter().cloned());
    let cli = match HealthcheckCli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Docker reserves exit code 2; a health check only ever says 0 or 1.
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let (addr, tls) = target(&cli, &|name| std::env::var(name).ok());
    match check(&addr, tls) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailsnare healthcheck: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> HealthcheckCli {
        let argv = std::iter::once("healthcheck").chain(args.iter().copied());
        match HealthcheckCli::try_parse_from(argv) {
            Ok(cli) => cli,
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    #[test]
    fn address_and_tls_come_from_flags_then_environment() {
        let none = |_: &str| None;
        assert_eq!(
            target(&cli(&[]), &none),
            ("127.0.0.1:8025".to_string(), false)
        );
        let env = |name: &str| match name {
            "MAILSNARE_HTTP" => Some(String::new()),
            "MP_UI_BIND_ADDR" => Some("0.0.0.0:9000".into()),
            "MH_UI_BIND_ADDR" => Some("10.0.0.1:1".into()),
            "MP_UI_TLS_CERT" => Some("sans:localhost".into()),
            _ => None,
        };
        assert_eq!(
            target(&cli(&[]), &env),
            ("127.0.0.1:9000".to_string(), true)
        );
        assert_eq!(
            target(&cli(&["--http", ":7000"]), &none),
            ("127.0.0.1:7000".to_string(), false)
        );
        assert!(target(&cli(&["--tls"]), &none).1);
        assert!(HealthcheckCli::try_parse_from(["healthcheck", "--bogus"]).is_err());
    }

    #[test]
    fn sni_names() {
        assert_eq!(
            server_name("localhost:8025"),
            ServerName::try_from("localhost").unwrap_or_else(|e| panic!("{e}"))
        );
        assert!(matches!(
            server_name("[::1]:8025"),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("127.0.0.1:8025"),
            ServerName::IpAddress(_)
        ));
    }

    #[test]
    fn status_lines() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string();
        let server = std::thread::spawn(move || {
            for answer in [
                "HTTP/1.1 200 OK\r\n\r\nok",
                "HTTP/1.1 503 Service Unavailable\r\n\r\n",
            ] {
                let (mut conn, _) = listener.accept().unwrap_or_else(|e| panic!("{e}"));
                let mut request = [0u8; 1024];
                let _ = conn.read(&mut request);
                let _ = conn.write_all(answer.as_bytes());
            }
        });
        assert!(check(&addr, false).is_ok());
        let err = check(&addr, false).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("503")), "{err:?}");
        let _ = server.join();
    }
}
