//! Retry with exponential backoff, equal jitter and the server's `Retry-After`.

use std::time::Duration;

use rand::Rng;

/// When and how long to wait before retrying a failed request. Each client decides which
/// failures are worth a retry and keeps its own defaults; this type decides the rest
/// ([`RetryPolicy::retry_in`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: no retry).
    pub max_retries: u32,
    /// The backoff before the first retry; it doubles with each retry ([`RetryPolicy::backoff`]).
    pub base_delay: Duration,
    /// Cap on one backoff (before jitter).
    pub max_delay: Duration,
    /// Longest server-requested wait (`Retry-After`, or a wait named in the body) honoured;
    /// a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// The decision after a failure worth retrying, when `retries` retries have already been
    /// made: `Some(wait)` to retry after `wait`, `None` to give up (`retries >= max_retries`).
    /// The wait is what the server asked for (`server_wait`, at most `max_retry_after`), else
    /// [`RetryPolicy::backoff`]`(retries)`.
    ///
    /// # Example
    /// A retry loop around any fallible call, here one that fails twice with a 503:
    /// ```
    /// use std::time::Duration;
    /// use momentum_http::RetryPolicy;
    /// let policy = RetryPolicy {
    ///     max_retries: 3,
    ///     base_delay: Duration::from_millis(1),
    ///     max_delay: Duration::from_millis(4),
    ///     max_retry_after: Duration::from_secs(5),
    /// };
    /// let mut attempts = 0;
    /// let mut call = || {
    ///     attempts += 1;
    ///     if attempts < 3 { Err(503) } else { Ok("prices") }
    /// };
    /// let mut retries = 0;
    /// let body = loop {
    ///     match call() {
    ///         Ok(body) => break Ok(body),
    ///         Err(status) => match policy.retry_in(retries, None) {
    ///             Some(wait) => {
    ///                 retries += 1;
    ///                 std::thread::sleep(wait);
    ///             }
    ///             None => break Err(status),
    ///         },
    ///     }
    /// };
    /// assert_eq!((body, retries), (Ok("prices"), 2));
    /// ```
    pub fn retry_in(&self, retries: u32, server_wait: Option<Duration>) -> Option<Duration> {
        if retries >= self.max_retries {
            return None;
        }
        Some(match server_wait {
            Some(wait) => wait.min(self.max_retry_after),
            None => self.backoff(retries),
        })
    }

    /// The backoff before retry number `retry + 1`: a random wait in `[d/2, d]` ([`equal_jitter`])
    /// with `d = min(base_delay * 2^retry, max_delay)`, so clients that failed together spread
    /// out, yet none retries at once.
    ///
    /// # Example
    /// ```
    /// use std::time::Duration;
    /// use momentum_http::RetryPolicy;
    /// let policy = RetryPolicy {
    ///     max_retries: 5,
    ///     base_delay: Duration::from_millis(100),
    ///     max_delay: Duration::from_millis(1000),
    ///     max_retry_after: Duration::from_secs(30),
    /// };
    /// let ceilings: Vec<u128> = (0..5).map(|retry| policy.ceiling(retry).as_millis()).collect();
    /// assert_eq!(ceilings, [100, 200, 400, 800, 1000]);
    /// let wait = policy.backoff(2);
    /// assert!(wait >= Duration::from_millis(200) && wait <= Duration::from_millis(400));
    /// ```
    pub fn backoff(&self, retry: u32) -> Duration {
        equal_jitter(self.ceiling(retry), &mut rand::rng())
    }

    /// `min(base_delay * 2^retry, max_delay)`, the longest [`RetryPolicy::backoff`] of `retry`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        self.base_delay
            .saturating_mul(2u32.saturating_pow(retry.min(20)))
            .min(self.max_delay)
    }
}

/// "Equal jitter": half of `full` plus a random part of the other half, so a wait in
/// `[full/2, full]` (microsecond steps).
///
/// # Example
/// ```
/// use std::time::Duration;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(7); // reproducible waits in a test
/// let wait = momentum_http::equal_jitter(Duration::from_secs(2), &mut rng);
/// assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(2));
/// assert_eq!(momentum_http::equal_jitter(Duration::ZERO, &mut rng), Duration::ZERO);
/// ```
pub fn equal_jitter(full: Duration, rng: &mut impl Rng) -> Duration {
    let half = full / 2;
    let span = u64::try_from(half.as_micros()).unwrap_or(u64::MAX);
    half + Duration::from_micros(rng.random_range(0..=span))
}

/// The wait a response's `Retry-After` header asks for, in whole seconds (`Retry-After: 39`).
/// `None` when the header is missing or not a number of seconds (an HTTP date is not read).
///
/// # Example
/// ```
/// use std::time::Duration;
/// use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
/// let mut headers = HeaderMap::new();
/// assert_eq!(momentum_http::retry_after(&headers), None);
/// headers.insert(RETRY_AFTER, HeaderValue::from_static("39"));
/// assert_eq!(momentum_http::retry_after(&headers), Some(Duration::from_secs(39)));
/// ```
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(5),
        }
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let p = policy();
        assert_eq!(p.ceiling(0), Duration::from_millis(100));
        assert_eq!(p.ceiling(1), Duration::from_millis(200));
        assert_eq!(p.ceiling(3), Duration::from_millis(800));
        assert_eq!(p.ceiling(4), Duration::from_millis(1000));
        assert_eq!(p.ceiling(u32::MAX), Duration::from_millis(1000));
        for _ in 0..200 {
            for retry in [0, 1, 2, 3, 4, 30] {
                let full = p.ceiling(retry);
                let wait = p.backoff(retry);
                assert!(wait >= full / 2 && wait <= full, "{retry}: {wait:?}");
            }
        }
        let huge = RetryPolicy {
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
            ..p
        };
        assert!(huge.backoff(40) >= Duration::MAX / 2);
    }

    #[test]
    fn equal_jitter_stays_in_its_bounds_and_spreads() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let full = Duration::from_millis(10);
        let waits: Vec<Duration> = (0..1000).map(|_| equal_jitter(full, &mut rng)).collect();
        assert!(waits.iter().all(|w| *w >= full / 2 && *w <= full));
        let low = waits.iter().filter(|w| **w < full * 3 / 4).count();
        assert!((300..700).contains(&low), "{low} of 1000 in the lower half");
        assert_eq!(equal_jitter(Duration::ZERO, &mut rng), Duration::ZERO);
    }

    #[test]
    fn retries_stop_at_the_limit_and_a_server_wait_is_capped() {
        let p = policy();
        assert_eq!(
            p.retry_in(0, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            p.retry_in(2, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(5))
        );
        let wait = p.retry_in(2, None).unwrap();
        assert!(wait >= Duration::from_millis(200) && wait <= Duration::from_millis(400));
        assert_eq!(p.retry_in(3, None), None);
        assert_eq!(p.retry_in(3, Some(Duration::ZERO)), None);
        let never = RetryPolicy {
            max_retries: 0,
            ..p
        };
        assert_eq!(never.retry_in(0, None), None);
    }

    #[test]
    fn retry_after_reads_whole_seconds_only() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_static(value));
            retry_after(&headers)
        };
        assert_eq!(with("39"), Some(Duration::from_secs(39)));
        assert_eq!(with(" 0 "), Some(Duration::ZERO));
        assert_eq!(with("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(with("-1"), None);
        assert_eq!(with("1.5"), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
