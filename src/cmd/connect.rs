//! Reaching the server from a client command: a listen address turned into one to connect to,
//! and a TCP connection within a deadline.

use std::io;
use std::net::{Ipv6Addr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot resolve {addr}: {source}")]
    Resolve { addr: String, source: io::Error },
    #[error("{addr} resolves to no address")]
    NoAddress { addr: String },
    #[error("cannot connect to {addr}: no answer within {}s", .timeout.as_secs())]
    Timeout { addr: String, timeout: Duration },
    #[error("cannot connect to {addr}: {source}")]
    Refused { addr: String, source: io::Error },
}

/// Turns a listen address into one to connect to: an unspecified host (`0.0.0.0`, `[::]`, empty
/// as in `:1025`) becomes `127.0.0.1`, and a missing port becomes `default_port`.
pub fn connect_address(listen: &str, default_port: u16) -> String {
    let listen = listen.trim();
    let (host, port) = if let Some(bracketed) = listen.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((host, rest)) => (host, rest.strip_prefix(':')),
            None => (bracketed, None),
        }
    } else if listen.parse::<Ipv6Addr>().is_ok() {
        (listen, None)
    } else {
        match listen.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (listen, None),
        }
    };
    let host = match host {
        "" | "0.0.0.0" | "::" | "*" => "127.0.0.1",
        host => host,
    };
    let port = match port {
        Some(port) if !port.is_empty() => port.to_string(),
        _ => default_port.to_string(),
    };
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Connects to `addr` (`host:port`), trying each address it resolves to, all within `timeout`;
/// the stream's reads and writes time out after `timeout` too.
pub fn connect(addr: &str, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let deadline = Instant::now() + timeout;
    let targets: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|source| ConnectError::Resolve {
            addr: addr.into(),
            source,
        })?
        .collect();
    let mut last_error = None;
    for target in &targets {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(target, left) {
            Ok(stream) => {
                let set = |stream: &TcpStream| -> io::Result<()> {
                    stream.set_read_timeout(Some(timeout))?;
                    stream.set_write_timeout(Some(timeout))
                };
                return match set(&stream) {
                    Ok(()) => Ok(stream),
                    Err(source) => Err(ConnectError::Refused {
                        addr: addr.into(),
                        source,
                    }),
                };
            }
            Err(e) => last_error = Some(e),
        }
    }
    match last_error {
        None if targets.is_empty() => Err(ConnectError::NoAddress { addr: addr.into() }),
        Some(e) if !is_timeout(&e) => Err(ConnectError::Refused {
            addr: addr.into(),
            source: e,
        }),
        _ => Err(ConnectError::Timeout {
            addr: addr.into(),
            timeout,
        }),
    }
}

/// True for the errors a read or connect timeout gives.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_become_connect_addresses() {
        assert_eq!(connect_address(":1025", 25), "127.0.0.1:1025");
        assert_eq!(connect_address("0.0.0.0:2525", 25), "127.0.0.1:2525");
        assert_eq!(connect_address("[::]:1025", 25), "127.0.0.1:1025");
        assert_eq!(connect_address("[::1]:1025", 25), "[::1]:1025");
        assert_eq!(connect_address("::1", 25), "[::1]:25");
        assert_eq!(connect_address("mail", 1025), "mail:1025");
        assert_eq!(connect_address("", 1025), "127.0.0.1:1025");
    }

    #[test]
    fn a_closed_port_is_refused_not_timed_out() {
        // Bind and drop to find a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let err =
            connect(&format!("127.0.0.1:{port}"), Duration::from_secs(2)).expect_err("closed");
        assert!(matches!(err, ConnectError::Refused { .. }), "{err}");
    }
}
