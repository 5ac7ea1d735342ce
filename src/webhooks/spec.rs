//! One hook as configured: `--webhook 'URL [secret=S] [mailbox=NAME] [delay=DURATION] [query=…]'`
//! (`query=` takes the rest of the line, spaces and all), or Mailpit's `--webhook-url`.

use std::time::Duration;

use reqwest::Url;

/// A configured hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSpec {
    pub url: Url,
    /// Signs each body (`X-Mailsnare-Signature`) when set.
    pub secret: Option<String>,
    /// Only messages this search matches.
    pub query: Option<String>,
    /// Only this mailbox's messages; every message without it.
    pub mailbox: Option<String>,
    /// The pause before a message's first attempt.
    pub delay: Duration,
    /// Mailpit's rate limit: at most one message per interval, the others skipped.
    pub min_interval: Option<Duration>,
}

/// Why a hook's line was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("{0:?}: a webhook needs an http:// or https:// URL")]
    Url(String),
    #[error("{0:?}: unknown webhook option (use secret=, mailbox=, delay= or query=)")]
    Option(String),
    #[error("{0:?}: {1}")]
    Value(String, String),
}

impl HookSpec {
    /// Mailpit's hook (`--webhook-url`, `--webhook-limit`, `--webhook-delay`).
    pub fn mailpit(
        url: &str,
        limit_seconds: u64,
        delay_seconds: u64,
        secret: Option<String>,
    ) -> Result<HookSpec, SpecError> {
        Ok(HookSpec {
            url: parse_url(url)?,
            secret,
            query: None,
            mailbox: None,
            delay: Duration::from_secs(delay_seconds),
            min_interval: (limit_seconds > 0).then(|| Duration::from_secs(limit_seconds)),
        })
    }

    /// One `--webhook` value.
    pub fn parse(line: &str) -> Result<HookSpec, SpecError> {
        let line = line.trim();
        let (url, mut rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let mut spec = HookSpec {
            url: parse_url(url)?,
            secret: None,
            query: None,
            mailbox: None,
            delay: Duration::ZERO,
            min_interval: None,
        };
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            if let Some(query) = rest.strip_prefix("query=") {
                let query = query.trim();
                if !query.is_empty() {
                    crate::search::Query::parse(query)
                        .map_err(|e| SpecError::Value(query.to_string(), e.0))?;
                    spec.query = Some(query.to_string());
                }
                break;
            }
            let (word, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            rest = tail;
            let Some((key, value)) = word.split_once('=') else {
                return Err(SpecError::Option(word.to_string()));
            };
            match key {
                "secret" if !value.is_empty() => spec.secret = Some(value.to_string()),
                "mailbox" => {
                    crate::mailbox::MailboxName::new(value).ok_or_else(|| {
                        SpecError::Value(value.to_string(), "not a mailbox name".into())
                    })?;
                    spec.mailbox = Some(value.to_string());
                }
                "delay" => {
                    spec.delay = crate::config::parse_duration(value)
                        .map_err(|e| SpecError::Value(value.to_string(), e))?;
                }
                _ => return Err(SpecError::Option(word.to_string())),
            }
        }
        Ok(spec)
    }
}

fn parse_url(url: &str) -> Result<Url, SpecError> {
    Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| SpecError::Url(url.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_line_takes_its_options_and_a_query_to_the_end() {
        let spec = HookSpec::parse(
            "https://ci.test/hook secret=s3 mailbox=job1 delay=2s query=to:alice subject:\"Sign up\"",
        )
        .unwrap();
        assert_eq!(spec.url.as_str(), "https://ci.test/hook");
        assert_eq!(spec.secret.as_deref(), Some("s3"));
        assert_eq!(spec.mailbox.as_deref(), Some("job1"));
        assert_eq!(spec.delay, Duration::from_secs(2));
        assert_eq!(spec.query.as_deref(), Some("to:alice subject:\"Sign up\""));
        assert_eq!(HookSpec::parse("http://h.test").unwrap().secret, None);
        assert!(matches!(
            HookSpec::parse("ftp://h.test"),
            Err(SpecError::Url(_))
        ));
        assert!(matches!(
            HookSpec::parse("http://h.test colour=red"),
            Err(SpecError::Option(_))
        ));
        assert!(matches!(
            HookSpec::parse("http://h.test mailbox=no/slash"),
            Err(SpecError::Value(..))
        ));
        let mailpit = HookSpec::mailpit("http://h.test/x", 1, 0, None).unwrap();
        assert_eq!(mailpit.min_interval, Some(Duration::from_secs(1)));
        assert_eq!(
            HookSpec::mailpit("http://h.test/x", 0, 3, None)
                .unwrap()
                .min_interval,
            None
        );
    }
}
