//! The `mailsnare` binary: dispatches to the `sendmail` and `healthcheck` commands ([`cmd`]), or
//! parses the server's flags, sets up logging, and runs the library's [`Server`].

mod cmd;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use mailsnare::Server;
use mailsnare::config::Cli;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    // Installed as (or linked to) `sendmail`, every argument is a sendmail argument.
    let program = args.first().map(Path::new).and_then(Path::file_name);
    if program.is_some_and(|name| name == "sendmail") {
        return cmd::sendmail::main(args.get(1..).unwrap_or_default());
    }
    let rest = args.get(2..).unwrap_or_default();
    match args.get(1).and_then(|a| a.to_str()) {
        Some("sendmail") => return cmd::sendmail::main(rest),
        Some("healthcheck") => return cmd::healthcheck::main(rest),
        _ => {}
    }

    let cli = Cli::parse_from(args);
    // Quiet by default: startup lines and warnings. RUST_LOG=debug shows every session and message.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("mailsnare=info,warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();

    let config = match cli.into_config(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("mailsnare: {e}");
            return ExitCode::from(2);
        }
    };
    // One worker is the main thread itself (a current-thread runtime): no hand-over to a worker,
    // and its allocations come from glibc's main heap, which grows in large steps. A spawned
    // worker's heap grew a page at a time: one mprotect call per message stored (profiled).
    let mut builder = if config.worker_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(config.worker_threads);
        builder
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailsnare: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailsnare: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: mailsnare::Config) -> std::io::Result<()> {
    // Handlers first: a SIGTERM that arrives while the listeners start must still drain them.
    let shutdown = shutdown_signal()?;
    let server = Server::bind(config).await?;
    // Scripts and tests read the "listening on" lines to find the ports (port 0 picks free
    // ones). The others are what container wait strategies match: Testcontainers' Mailpit module
    // waits for `.*accessible via.*8025.*` (Mailpit's server/server.go line), MailHog setups for
    // `[SMTP] Binding to address:` or `Serving under http://`.
    let smtp = server.smtp_addr()?;
    tracing::info!("SMTP listening on {smtp}");
    tracing::info!("[SMTP] Binding to address: {smtp}");
    if let Some(addr) = server.smtps_addr() {
        tracing::info!("SMTPS listening on {}", addr?);
    }
    let (label, scheme) = if server.http_is_tls() {
        ("HTTPS", "https")
    } else {
        ("HTTP", "http")
    };
    for (name, (plain, tls)) in [("POP3", server.pop3_addrs()), ("IMAP", server.imap_addrs())] {
        if let Some(addr) = plain {
            tracing::info!("{name} listening on {addr}");
        }
        if let Some(addr) = tls {
            tracing::info!("{name}S listening on {addr}");
        }
    }
    let http = server.http_addr()?;
    tracing::info!("{label} listening on {http}");
    let url = format!("{scheme}://{}{}/", browsable(http), server.webroot());
    tracing::info!("[http] accessible via {url}");
    tracing::info!("Serving under {scheme}://{http}{}/", server.webroot());
    server.run(shutdown).await
}

/// The address a browser can use: `localhost` for the unspecified address, as Mailpit prints.
fn browsable(addr: std::net::SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// Completes on SIGINT (ctrl-c) or SIGTERM. The handlers are installed when this is called.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
