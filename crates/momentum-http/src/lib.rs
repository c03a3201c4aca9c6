//! HTTP plumbing shared by momentum's two web clients, the Financial Datasets price client
//! (`momentum-data`) and the MLflow REST client (`momentum-tracking`).
//!
//! This crate owns the mechanism both need in the same way; each client keeps its own decisions:
//! what is worth retrying (the MLflow client never retries a timeout, nor a create call that may
//! have reached the server; the price client retries 429 with the seconds of the API's `detail`),
//! its settings' defaults, and its error type.
//!
//! # Contents
//! - [`client()`]: a `reqwest::Client` on rustls with ring's crypto provider
//!   ([`install_crypto_provider`]), with the caller's timeout, redirect policy and user agent.
//! - [`RetryPolicy`]: how many retries, exponential backoff with equal jitter
//!   ([`RetryPolicy::backoff`]), a cap on a server's wait, and the one decision
//!   [`RetryPolicy::retry_in`]: wait this long and retry, or give up. [`retry_after`] reads a
//!   response's `Retry-After` seconds.
//! - [`describe`]: a request error with its causes but without its URL ("Connection refused"
//!   is a cause reqwest's own message leaves out); [`chain()`] for any error.
//! - [`Secrets`]: the credentials a client sends; [`Secrets::scrub`] makes a server's text
//!   (an error body, a message) fit for an error: every credential replaced by [`REDACTED`]
//!   (a server or proxy may echo the request headers), one line, at most [`MAX_SERVER_TEXT`]
//!   characters.
//!
//! Retries are written here rather than taken from `reqwest-retry`, which does not honour
//! `Retry-After` and would change the client type.
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use momentum_http::RetryPolicy;
//!
//! let policy = RetryPolicy {
//!     max_retries: 2,
//!     base_delay: Duration::from_millis(100),
//!     max_delay: Duration::from_secs(1),
//!     max_retry_after: Duration::from_secs(5),
//! };
//! // A server that asks for 30 s gets 5 s; after two retries the caller gives up.
//! assert_eq!(policy.retry_in(0, Some(Duration::from_secs(30))), Some(Duration::from_secs(5)));
//! let wait = policy.retry_in(1, None).unwrap();
//! assert!(wait >= Duration::from_millis(100) && wait <= Duration::from_millis(200));
//! assert_eq!(policy.retry_in(2, None), None);
//! ```
#![warn(missing_docs)]

mod body;
mod chain;
mod client;
mod redact;
mod retry;

pub use body::{BodyError, DEFAULT_MAX_BODY, read_body, read_error_text};
pub use chain::{chain, describe};
pub use client::{client, install_crypto_provider};
pub use redact::{MAX_SERVER_TEXT, REDACTED, Secrets};
pub use retry::{RetryPolicy, equal_jitter, retry_after};
