//! The one rustls/reqwest client set-up.

use std::time::Duration;

/// Installs rustls' ring crypto provider as the process default, once. reqwest is built without
/// a provider (ring builds far faster than aws-lc) and panics on `Client::new()` without one;
/// a second call, or a provider another part of the process installed first, is fine.
///
/// # Example
/// ```
/// // Before building a reqwest client by hand (momentum_http::client() calls this itself).
/// momentum_http::install_crypto_provider();
/// momentum_http::install_crypto_provider(); // a second call is harmless
/// let http = reqwest::Client::builder().build();
/// assert!(http.is_ok());
/// ```
pub fn install_crypto_provider() {
    // An Err only means a provider was already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A `reqwest::Client` on rustls (ring) with a timeout for each whole request (connect plus
/// body), the given redirect policy and `User-Agent`. Installs the crypto provider first.
///
/// # Errors
/// reqwest's, when the client cannot be built (its TLS back end failed to initialise).
///
/// # Example
/// ```
/// use std::time::Duration;
/// let http = momentum_http::client(
///     concat!("momentum/", env!("CARGO_PKG_VERSION")),
///     Duration::from_secs(30),
///     reqwest::redirect::Policy::limited(5),
/// )?;
/// let request = http.get("https://example.invalid/prices/").build()?; // built, not sent
/// assert_eq!(request.method(), reqwest::Method::GET);
/// # Ok::<(), reqwest::Error>(())
/// ```
pub fn client(
    user_agent: &str,
    timeout: Duration,
    redirect: reqwest::redirect::Policy,
) -> reqwest::Result<reqwest::Client> {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(redirect)
        .user_agent(user_agent)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_builds_twice_in_one_process() {
        for _ in 0..2 {
            assert!(
                client(
                    "momentum-http-test",
                    Duration::from_secs(1),
                    reqwest::redirect::Policy::none()
                )
                .is_ok()
            );
        }
    }
}
