//! File descriptors: every connection costs one, and a process out of them can accept nothing,
//! SMTP included. At start the soft limit is raised to the hard one, and the connection bounds
//! are fitted inside what it allows, with room kept for listeners, storage files and the like.

/// Descriptors kept for everything but client connections (listeners, storage, logs, DNS).
pub const RESERVED: u64 = 64;

/// The connection bounds that fit the descriptor limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fitted {
    pub smtp: u32,
    pub http: usize,
    /// The descriptor limit in force.
    pub limit: u64,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and fits `smtp` and `http` connections
/// inside it: when both do not fit, each gets its share of what is left after [`RESERVED`].
pub fn fit(smtp: u32, http: usize) -> Fitted {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .map(|(soft, _)| soft)
                .unwrap_or(1024)
        }
    };
    fit_within(limit, smtp, http)
}

/// [`fit`] for a given limit.
pub fn fit_within(limit: u64, smtp: u32, http: usize) -> Fitted {
    let budget = limit.saturating_sub(RESERVED).max(2);
    let wanted = u64::from(smtp) + http as u64;
    if wanted <= budget {
        return Fitted { smtp, http, limit };
    }
    // Shared in proportion to what was asked, at least one each.
    let smtp_share = (budget * u64::from(smtp) / wanted).max(1);
    let http_share = budget.saturating_sub(smtp_share).max(1);
    let fitted = Fitted {
        smtp: u32::try_from(smtp_share).unwrap_or(smtp),
        http: usize::try_from(http_share).unwrap_or(http),
        limit,
    };
    tracing::warn!(
        "{limit} open files allowed: keeping at most {} SMTP and {} HTTP connections (asked for {smtp} and {http}); raise `ulimit -n` for more",
        fitted.smtp,
        fitted.http
    );
    fitted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_fit_the_limit() {
        assert_eq!(
            fit_within(1_048_576, 4096, 512),
            Fitted {
                smtp: 4096,
                http: 512,
                limit: 1_048_576
            }
        );
        let tight = fit_within(1024, 4096, 512);
        assert!(u64::from(tight.smtp) + tight.http as u64 <= 1024 - RESERVED);
        assert!(tight.smtp > 700 && tight.http > 90, "{tight:?}");
        let tiny = fit_within(10, 4096, 512);
        assert!(tiny.smtp >= 1 && tiny.http >= 1);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let fitted = fit(1, 1);
        let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("getrlimit");
        assert_eq!(soft, hard);
        assert_eq!(fitted.limit, soft);
    }
}
