//! The crate's errors: [`ServeError`], what stops the server from starting or running, and
//! [`ApiError`], what one request is answered with.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use momentum_data::DataError;
use momentum_scanner::ScanError;
use serde::Serialize;

/// Why the server could not start, reload or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The `serve` settings are out of range (a flag or the `serve` block).
    #[error(transparent)]
    Settings(#[from] momentum_lifecycle::SettingsError),
    /// The model could not be loaded (a malformed block, a registry that refuses).
    #[error("cannot load the model from {}", path.display())]
    Load {
        /// The params file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<momentum_lifecycle::LifecycleError>,
    },
    /// The address is taken or not ours.
    #[error("cannot listen on {addr}")]
    Bind {
        /// `host:port` as configured.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The runtime or a signal handler failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A task of the server (the model load, the reload watcher) panicked or was cancelled.
    #[error("{what}")]
    Join {
        /// Which task.
        what: &'static str,
        /// Why.
        #[source]
        source: tokio::task::JoinError,
    },
    /// A reload found no block (or registry alias) for the served model: the served model
    /// stays until the file stays that way for a second poll, or `SIGHUP` forces the reload.
    #[error("{}: {what}; still serving the current model", path.display())]
    ModelGone {
        /// The params file.
        path: PathBuf,
        /// What is missing, in words.
        what: String,
    },
    /// Requests were still running when the drain time ran out.
    #[error("{addr}: in-flight requests still running after {seconds} s of draining")]
    DrainTimeout {
        /// The address served.
        addr: SocketAddr,
        /// `serve.drain_seconds`.
        seconds: u64,
    },
}

/// The crate's result.
pub type Result<T, E = ServeError> = std::result::Result<T, E>;

/// An HTTP error answer: a status and MLflow's body `{"error_code": ..., "message": ...}`.
/// Client errors are 4xx and name what was wrong (the row, the ticker, the limit).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// MLflow's error code (`BAD_REQUEST`, `INVALID_PARAMETER_VALUE`, ...).
    pub code: &'static str,
    /// What was wrong, in words.
    pub message: String,
}

impl ApiError {
    /// 400 `BAD_REQUEST`: a body that does not parse.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    /// 400 `INVALID_PARAMETER_VALUE`: a body that parses but whose values cannot be scored.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }

    /// 404 `RESOURCE_DOES_NOT_EXIST`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }

    /// 503 `TEMPORARILY_UNAVAILABLE`: no model is loaded; `missing` says where it was looked
    /// for (the params file's block, or the registry's alias) and what gives it one.
    pub fn no_model(missing: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TEMPORARILY_UNAVAILABLE",
            format!("no model is loaded: {missing}"),
        )
    }

    /// 500 `INTERNAL_ERROR`: the server's own files or model failed, not the request.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", message)
    }

    /// Any status with its code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

/// What a request can get wrong once its body parses, and what the model can: the scanner's
/// errors (which carry the data crate's, `the request: ...`) as answers. The client's
/// mistakes are 400 (`BAD_REQUEST` for a body that does not parse, `INVALID_PARAMETER_VALUE`
/// for values that cannot be scored); the model's own are 500.
impl From<ScanError> for ApiError {
    fn from(err: ScanError) -> Self {
        let message = momentum_http::chain(&err);
        match err {
            ScanError::Data(data) => match data {
                DataError::Csv { .. }
                | DataError::MissingColumn { .. }
                | DataError::InvalidNumber { .. }
                | DataError::InvalidDate { .. }
                | DataError::EmptyTicker { .. }
                | DataError::Layout { .. }
                | DataError::InputTooLarge { .. } => Self::malformed(message),
                DataError::MissingTickers { tickers, .. } => Self::invalid(format!(
                    "{}: the model's tickers {} have no close",
                    crate::frame::ORIGIN,
                    capped(&tickers)
                )),
                DataError::ControlCharacter { .. }
                | DataError::DuplicateTicker { .. }
                | DataError::DuplicateRow { .. }
                | DataError::DuplicateDate { .. }
                | DataError::NonPositivePrice { .. }
                | DataError::InvalidValue { .. }
                | DataError::Unsorted { .. }
                | DataError::EmptyUniverse { .. } => Self::invalid(message),
                _ => Self::internal(message),
            },
            ScanError::MissingTickers { tickers, origin } => Self::invalid(format!(
                "the model's tickers {} are missing from {origin}",
                capped(&tickers)
            )),
            ScanError::TooShort { .. }
            | ScanError::NoData
            | ScanError::MissingTicker { .. }
            | ScanError::ScoreOverflow { .. }
            | ScanError::Features(_) => Self::invalid(message),
            _ => Self::internal(message),
        }
    }
}

/// How many names an answer lists before it only counts the rest.
const NAMED: usize = 10;

/// `names` joined by `, `, the first ten only, then `and N more`: a request with thousands of
/// unknown tickers gets a short answer.
pub(crate) fn capped(names: &[impl AsRef<str>]) -> String {
    let shown: Vec<&str> = names.iter().take(NAMED).map(AsRef::as_ref).collect();
    let mut text = shown.join(", ");
    if names.len() > NAMED {
        text.push_str(&format!(" and {} more", names.len() - NAMED));
    }
    text
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error_code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A failure of the server's own is an error. No model (503) is a state, logged once by
        // the model watcher when it begins: a readiness probe would repeat it every few
        // seconds. A request out of time (504) is a warning.
        match self.status {
            StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!("{} {}: {}", self.status, self.code, self.message);
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                tracing::debug!("{} {}: {}", self.status, self.code, self.message);
            }
            status if status.is_server_error() => {
                tracing::warn!("{} {}: {}", self.status, self.code, self.message);
            }
            _ => tracing::debug!("{} {}: {}", self.status, self.code, self.message),
        }
        let body = ErrorBody {
            error_code: self.code,
            message: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_of_names_are_capped() {
        let names: Vec<String> = (0..13).map(|i| format!("T{i}")).collect();
        assert_eq!(capped(&names[..2]), "T0, T1");
        assert_eq!(
            capped(&names[..10]),
            "T0, T1, T2, T3, T4, T5, T6, T7, T8, T9"
        );
        assert_eq!(
            capped(&names),
            "T0, T1, T2, T3, T4, T5, T6, T7, T8, T9 and 3 more"
        );
    }
}
