//! TLS: server certificates from PEM files or generated self-signed at startup (rcgen), turned into
//! rustls acceptors for STARTTLS, implicit-TLS SMTP and HTTPS.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish a TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server side of a TLS handshake, within [`HANDSHAKE_TIMEOUT`]: for the implicit-TLS
/// listeners and every in-session upgrade (STARTTLS, STLS).
pub async fn handshake<IO>(acceptor: &TlsAcceptor, stream: IO) -> std::io::Result<TlsStream<IO>>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "TLS handshake timed out",
        )),
    }
}

/// Where a certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    /// Generated at startup for these DNS names / IP addresses.
    SelfSigned {
        names: Vec<String>,
    },
}

impl CertSource {
    /// From a `--…-tls-cert` / `--…-tls-key` pair. A cert of the form `sans:NAME,NAME` (Mailpit's
    /// convention) asks for a self-signed certificate for those names and needs no key.
    pub fn from_flags(
        what: &str,
        cert: Option<String>,
        key: Option<String>,
    ) -> Result<Option<CertSource>, String> {
        match (cert, key) {
            (None, None) => Ok(None),
            (Some(cert), key) if cert.starts_with("sans:") => {
                if key.is_some() {
                    return Err(format!(
                        "{what}: a self-signed certificate (sans:…) takes no key"
                    ));
                }
                let names: Vec<String> = cert["sans:".len()..]
                    .split(',')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect();
                if names.is_empty() {
                    return Err(format!(
                        "{what}: sans: needs at least one name, e.g. sans:localhost,127.0.0.1"
                    ));
                }
                Ok(Some(CertSource::SelfSigned { names }))
            }
            (Some(cert), Some(key)) => Ok(Some(CertSource::Files {
                cert: cert.into(),
                key: key.into(),
            })),
            _ => Err(format!(
                "{what}: give both a certificate and a key (or a certificate of the form sans:NAME,…)"
            )),
        }
    }

    /// Loads or generates the certificate and builds an acceptor.
    pub fn acceptor(&self) -> Result<TlsAcceptor, String> {
        let (chain, key) = match self {
            CertSource::Files { cert, key } => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        format!("cannot read certificates from {}: {e}", cert.display())
                    })?;
                if chain.is_empty() {
                    return Err(format!("no certificate in {}", cert.display()));
                }
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    format!("cannot read a private key from {}: {e}", key.display())
                })?;
                (chain, key)
            }
            CertSource::SelfSigned { names } => {
                let generated = rcgen::generate_simple_self_signed(names.clone())
                    .map_err(|e| format!("cannot generate a self-signed certificate: {e}"))?;
                let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der())
                    .map_err(|e| format!("generated key unusable: {e}"))?;
                (vec![generated.cert.der().clone()], key)
            }
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("certificate and key do not fit together: {e}"))?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// The negotiated protocol, as people write it: `TLSv1.3`.
pub fn protocol_name<IO>(stream: &TlsStream<IO>) -> String {
    match stream.get_ref().1.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".into(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".into(),
        Some(other) => format!("{other:?}"),
        None => "TLS".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert_eq!(CertSource::from_flags("x", None, None), Ok(None));
        assert_eq!(
            CertSource::from_flags("x", Some("sans:localhost, 127.0.0.1".into()), None),
            Ok(Some(CertSource::SelfSigned {
                names: vec!["localhost".into(), "127.0.0.1".into()]
            }))
        );
        assert!(CertSource::from_flags("x", Some("sans:".into()), None).is_err());
        assert!(CertSource::from_flags("x", Some("cert.pem".into()), None).is_err());
        assert!(CertSource::from_flags("x", None, Some("key.pem".into())).is_err());
        assert!(CertSource::from_flags("x", Some("sans:a".into()), Some("k".into())).is_err());
    }

    #[test]
    fn self_signed_and_file_certificates_load() {
        let source = CertSource::SelfSigned {
            names: vec!["localhost".into()],
        };
        assert!(source.acceptor().is_ok());
        let generated =
            rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("generate");
        let dir = std::env::temp_dir().join(format!("mailsnare-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, generated.cert.pem()).expect("write cert");
        std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write key");
        let files = CertSource::Files {
            cert: cert.clone(),
            key,
        };
        assert!(files.acceptor().is_ok());
        let missing = CertSource::Files {
            cert: dir.join("nope.pem"),
            key: dir.join("nope.key"),
        };
        assert!(missing.acceptor().is_err_and(|e| e.contains("nope.pem")));
        let _ = std::fs::remove_dir_all(dir);
    }
}
