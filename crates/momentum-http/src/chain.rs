//! Errors described with their causes.

use std::error::Error;

/// `err`'s message followed by each of its causes (`source()`), on one line: `a: b: c`.
///
/// # Example
/// ```
/// use std::error::Error;
/// #[derive(Debug)]
/// struct ReadParams(std::io::Error);
/// impl std::fmt::Display for ReadParams {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("cannot read params.yaml")
///     }
/// }
/// impl Error for ReadParams {
///     fn source(&self) -> Option<&(dyn Error + 'static)> {
///         Some(&self.0)
///     }
/// }
/// let err = ReadParams(std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"));
/// assert_eq!(err.to_string(), "cannot read params.yaml");
/// assert_eq!(momentum_http::chain(&err), "cannot read params.yaml: no such file");
/// ```
pub fn chain(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

/// A request error and its causes, without its URL: reqwest's own message stops at the first
/// cause ("error sending request"), so "Connection refused" or a DNS or TLS failure would not
/// show. The callers name the URL themselves where it helps (once, and without its query).
///
/// # Example
/// A refused connection on 127.0.0.1 says so, without the URL (and its query):
/// ```
/// # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # runtime.block_on(async {
/// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(); // now closed
/// let http = momentum_http::client(
///     "momentum-doc",
///     std::time::Duration::from_secs(5),
///     reqwest::redirect::Policy::none(),
/// )?;
/// let err = http.get(format!("http://127.0.0.1:{port}/?key=secret")).send().await.unwrap_err();
/// let text = momentum_http::describe(err);
/// assert!(text.contains("Connection refused"), "{text}");
/// assert!(!text.contains("secret"), "{text}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })
/// # .unwrap();
/// ```
pub fn describe(err: reqwest::Error) -> String {
    chain(&err.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1
                .as_deref()
                .map(|inner| inner as &(dyn Error + 'static))
        }
    }

    #[test]
    fn every_cause_follows_the_message() {
        let err = Layer(
            "a",
            Some(Box::new(Layer("b", Some(Box::new(Layer("c", None)))))),
        );
        assert_eq!(chain(&err), "a: b: c");
        assert_eq!(chain(&Layer("alone", None)), "alone");
    }

    #[tokio::test]
    async fn a_refused_connection_shows_its_cause_and_not_its_url() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = crate::client(
            "momentum-http-test",
            std::time::Duration::from_secs(5),
            reqwest::redirect::Policy::none(),
        )
        .unwrap();
        let err = http
            .get(format!("http://127.0.0.1:{port}/secret?q=1"))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
        let shown = describe(err);
        assert!(shown.contains("Connection refused"), "{shown}");
        assert!(
            !shown.contains(&port.to_string()) && !shown.contains("secret"),
            "{shown}"
        );
    }
}
