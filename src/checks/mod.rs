//! Message checks: what the UI's check tabs and Mailpit's check routes report about a stored
//! message. Each check reads the stored bytes and answers in Mailpit's shape; a check that fails
//! says so in that shape, never with a failed request.
//!
//! - [`links`]: the status of every link (`/link-check`), through [`address_policy`] (the SSRF
//!   guard) and [`throttle`] (per-site rate, result cache).
//! - [`spam`]: a spamd's verdict and rules (`/sa-check`), over [`spamc`] (the protocol, no I/O).
//! - [`html`]: HTML and CSS features against email clients' support (`/html-check`, caniemail's
//!   data).

pub mod address_policy;
pub mod html;
pub mod links;
pub mod spam;
pub mod spamc;
pub mod throttle;

use std::sync::Arc;

/// The check settings, from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChecksConfig {
    pub links: links::LinkCheckConfig,
    /// `None` unless `--enable-spamassassin` names a spamd.
    pub spamassassin: Option<spam::SpamConfig>,
}

/// What the check handlers share; created once per server.
#[derive(Debug, Default)]
pub struct Checks {
    pub links: links::LinkChecker,
    pub spamassassin: Option<spam::SpamConfig>,
}

impl Checks {
    pub fn new(config: &ChecksConfig) -> Arc<Checks> {
        Arc::new(Checks {
            links: links::LinkChecker::new(config.links),
            spamassassin: config.spamassassin.clone(),
        })
    }
}
