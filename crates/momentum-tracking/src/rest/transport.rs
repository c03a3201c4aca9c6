//! One request to the server: URL, authentication, body, the retry loop and what counts as
//! retryable here, and the error an answer becomes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;

use momentum_http::Secrets;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Auth;
use crate::error::{Result, TrackingError};

/// The async client behind [`super::RestClient`]: cheap to clone (clones share the connection
/// pool and the experiment id cache).
#[derive(Debug, Clone)]
pub(crate) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) base: Url,
    pub(super) auth: Auth,
    /// What `auth` sends, scrubbed from the server's text before it reaches an error.
    pub(super) secrets: Secrets,
    pub(super) retry: momentum_http::RetryPolicy,
    pub(super) max_body_bytes: usize,
    pub(super) experiments: Arc<Mutex<HashMap<String, String>>>,
}

/// A request body.
pub(super) enum Body {
    /// No body.
    None,
    /// A JSON document.
    Json(Value),
    /// An artifact file, streamed from disk with its length (opened again for each attempt:
    /// memory holds a buffer, not the file).
    File(PathBuf),
}

impl Inner {
    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            for s in segments {
                for part in s.split('/') {
                    path.push(part);
                }
            }
        }
        url
    }

    /// Sends with retries; returns the body of a 2xx answer (at most `max_body_bytes`).
    pub(super) async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Body,
    ) -> Result<Vec<u8>> {
        let (url, resp) = self.respond(method, segments, query, body).await?;
        momentum_http::read_body(resp, self.max_body_bytes)
            .await
            .map_err(|err| match err {
                momentum_http::BodyError::Read(e) => http_error(&url, e),
                too_large => TrackingError::Body {
                    url: url.to_string(),
                    source: too_large,
                },
            })
    }

    /// A GET with retries whose 2xx body goes to the file `dest` as it arrives, whatever its
    /// size (an artifact: `max_body_bytes` bounds what is held in memory, not this); removed
    /// again when the body breaks off. Returns the number of bytes written.
    pub(super) async fn download(&self, segments: &[&str], dest: &Path) -> Result<u64> {
        let (url, mut resp) = self.respond(Method::GET, segments, &[], Body::None).await?;
        let io = |e| TrackingError::io(dest, e);
        let mut file = tokio::fs::File::create(dest).await.map_err(io)?;
        let mut written = 0u64;
        let copied: Result<()> = async {
            loop {
                let chunk = resp.chunk().await.map_err(|e| http_error(&url, e))?;
                let Some(chunk) = chunk else {
                    return file.flush().await.map_err(io);
                };
                file.write_all(&chunk).await.map_err(io)?;
                written += chunk.len() as u64;
            }
        }
        .await;
        if let Err(err) = copied {
            drop(file);
            let _ = tokio::fs::remove_file(dest).await;
            return Err(err);
        }
        Ok(written)
    }

    /// Sends with retries until a 2xx answer, whose response it returns with the URL.
    async fn respond(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Body,
    ) -> Result<(Url, reqwest::Response)> {
        let url = self.url(segments);
        // A retried runs/create or model-versions/create whose first attempt did reach the
        // server would create a second run or version: those are only retried when the server
        // cannot have processed the request (no connection, 429, 503).
        let creates_duplicates = segments
            .last()
            .is_some_and(|s| matches!(*s, "runs/create" | "model-versions/create"));
        let mut attempt = 0u32;
        loop {
            let mut req = self.http.request(method.clone(), url.clone());
            if !query.is_empty() {
                req = req.query(query);
            }
            req = match &self.auth {
                Auth::None => req,
                Auth::Basic { username, password } => req.basic_auth(username, Some(password)),
                Auth::Bearer(token) => req.bearer_auth(token),
            };
            req = match &body {
                Body::None => req,
                Body::Json(v) => req.json(v),
                Body::File(path) => {
                    let io = |e| TrackingError::io(path, e);
                    let file = tokio::fs::File::open(path).await.map_err(io)?;
                    let len = file.metadata().await.map_err(io)?.len();
                    req.header(reqwest::header::CONTENT_LENGTH, len)
                        .body(reqwest::Body::from(file))
                }
            };
            let resp = match req.send().await {
                Ok(resp) => resp,
                Err(e) => {
                    // A timeout is not retried: a server that hung for the whole timeout
                    // would make a best-effort push stall the pipeline for minutes.
                    let transient = e.is_connect()
                        || (!creates_duplicates && !e.is_timeout() && e.is_request());
                    match self.retry.retry_in(attempt, None).filter(|_| transient) {
                        Some(delay) => {
                            tracing::debug!("{url}: {e}; retrying in {delay:?}");
                            tokio::time::sleep(delay).await;
                            attempt += 1;
                            continue;
                        }
                        None => {
                            return Err(http_error(&url, e));
                        }
                    }
                }
            };
            let status = resp.status();
            if status.is_success() {
                return Ok((url, resp));
            }
            let retryable = match status.as_u16() {
                429 | 503 => true,
                408 | 500 | 502 | 504 => !creates_duplicates,
                _ => false,
            };
            let after = momentum_http::retry_after(resp.headers());
            if retryable && let Some(delay) = self.retry.retry_in(attempt, after) {
                tracing::debug!("{url}: {status}; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                attempt += 1;
                continue;
            }
            // Only the start: an error page is shown cut short, and one that never ends
            // would hold the request until the timeout.
            let text = momentum_http::read_error_text(resp).await;
            return Err(api_error(&url, status, &text, &self.secrets));
        }
    }

    pub(super) async fn call(&self, method: Method, endpoint: &str, body: Body) -> Result<Value> {
        self.call_q(method, endpoint, &[], body).await
    }

    pub(super) async fn call_q(
        &self,
        method: Method,
        endpoint: &str,
        query: &[(&str, String)],
        body: Body,
    ) -> Result<Value> {
        let bytes = self
            .send(method, &["api/2.0/mlflow", endpoint], query, body)
            .await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(json!({}));
        }
        // serde's message may quote the body.
        serde_json::from_slice(&bytes).map_err(|e| TrackingError::Decode {
            url: self.url(&["api/2.0/mlflow", endpoint]).to_string(),
            reason: self.secrets.scrub(&e.to_string()),
        })
    }

    pub(super) fn decode<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &str,
        value: Value,
        field: &str,
    ) -> Result<T> {
        let inner = value.get(field).cloned().unwrap_or(Value::Null);
        serde_json::from_value(inner).map_err(|e| TrackingError::Decode {
            url: self.url(&["api/2.0/mlflow", endpoint]).to_string(),
            reason: self.secrets.scrub(&format!("field {field:?}: {e}")),
        })
    }

    /// Follows `next_page_token` through every page of a GET listing and concatenates the
    /// `field` arrays (a page without the field contributes nothing).
    pub(super) async fn get_all_pages<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &str,
        query: &[(&str, String)],
        field: &str,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = query.to_vec();
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let v = self.call_q(Method::GET, endpoint, &q, Body::None).await?;
            token = v
                .get("next_page_token")
                .and_then(Value::as_str)
                .map(str::to_string);
            let page: Option<Vec<T>> = self.decode(endpoint, v, field)?;
            out.extend(page.unwrap_or_default());
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}

/// A transport error of a request to `url` (named once, without credentials).
fn http_error(url: &Url, e: reqwest::Error) -> TrackingError {
    TrackingError::Http {
        url: url.to_string(),
        source: e.without_url(),
    }
}

/// The error of a non-2xx answer whose body is `text`: MLflow's `error_code` and `message` when
/// it is MLflow's JSON, else the body itself; what the server wrote scrubbed of `secrets`.
fn api_error(url: &Url, status: StatusCode, text: &str, secrets: &Secrets) -> TrackingError {
    #[derive(Deserialize)]
    struct Body {
        error_code: Option<String>,
        message: Option<String>,
    }
    let (code, message) = match serde_json::from_str::<Body>(text) {
        Ok(b) if b.error_code.is_some() || b.message.is_some() => (
            b.error_code.map(|c| secrets.scrub(&c)),
            secrets.scrub(&b.message.unwrap_or_default()),
        ),
        _ => (None, secrets.scrub(text)),
    };
    let message = if message.is_empty() && code.is_none() {
        status
            .canonical_reason()
            .unwrap_or("no body")
            .to_lowercase()
    } else {
        message
    };
    TrackingError::Api {
        url: url.to_string(),
        status: status.as_u16(),
        code,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_json_errors_keep_their_text() {
        let url = Url::parse("http://127.0.0.1:1/x").unwrap();
        let none = Secrets::default();
        let e = api_error(
            &url,
            StatusCode::UNAUTHORIZED,
            "<html>You are not authenticated</html>",
            &none,
        );
        assert!(
            e.to_string().contains("401") && e.to_string().contains("not authenticated"),
            "{e}"
        );
        // A 404 page of a wrong path prefix is an error of its own, on one line, not "missing".
        let e = api_error(
            &url,
            StatusCode::NOT_FOUND,
            "<!doctype html>\n<html>\n  <title>404 Not Found</title>\n</html>\n",
            &none,
        );
        assert!(!e.is_not_found(), "{e}");
        assert!(
            e.to_string()
                .contains("<!doctype html> <html> <title>404 Not Found</title> </html>"),
            "{e}"
        );
        let e = api_error(
            &url,
            StatusCode::NOT_FOUND,
            r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Could not find experiment"}"#,
            &none,
        );
        assert!(e.is_not_found(), "{e}");
        let e = api_error(
            &url,
            StatusCode::BAD_REQUEST,
            r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"bad"}"#,
            &none,
        );
        assert!(
            matches!(e, TrackingError::Api { status: 400, code: Some(ref c), .. } if c == "INVALID_PARAMETER_VALUE")
        );
        let e = api_error(&url, StatusCode::BAD_GATEWAY, "\n", &none);
        assert!(e.to_string().ends_with("answered 502: bad gateway"), "{e}");
    }

    #[test]
    fn what_the_server_wrote_is_scrubbed_of_the_credentials_sent() {
        let url = Url::parse("http://127.0.0.1:1/x").unwrap();
        let basic = Auth::Basic {
            username: "USERNAME_ZZ".into(),
            password: "SECRETPW_ZZ".into(),
        };
        let echo = "unauthorized: {'authorization': 'Basic VVNFUk5BTUVfWlo6U0VDUkVUUFdfWlo=',\n \
                    'x-password': 'SECRETPW_ZZ', 'x-token': 'TOKEN_ZZ'}";
        let e = api_error(&url, StatusCode::UNAUTHORIZED, echo, &basic.secrets());
        assert_eq!(
            e.to_string(),
            "http://127.0.0.1:1/x answered 401: unauthorized: {'authorization': 'Basic <redacted>', \
             'x-password': '<redacted>', 'x-token': 'TOKEN_ZZ'}"
        );
        // MLflow's JSON: the message and the code are the server's text too.
        let json = r#"{"error_code":"TOKEN_ZZ","message":"bad token TOKEN_ZZ\nagain"}"#;
        let bearer = Auth::Bearer("TOKEN_ZZ".into()).secrets();
        let e = api_error(&url, StatusCode::FORBIDDEN, json, &bearer);
        assert_eq!(
            e.to_string(),
            "http://127.0.0.1:1/x answered 403 <redacted>: bad token <redacted> again"
        );
    }
}
