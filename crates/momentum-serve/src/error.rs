//! The crate's errors: [`ServeError`], what stops the server from starting or running, and
//! [`ApiError`], what one request is answered with.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
    /// The runtime, a signal handler or the listener failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
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

    /// 503 `TEMPORARILY_UNAVAILABLE`: no model is loaded.
    pub fn no_model() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TEMPORARILY_UNAVAILABLE",
            "no model is loaded: params.yaml has no block for the served alias (run `momentum promote`)",
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

#[derive(Serialize)]
struct ErrorBody<'a> {
    error_code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!("{} {}: {}", self.status, self.code, self.message);
        } else {
            tracing::debug!("{} {}: {}", self.status, self.code, self.message);
        }
        let body = ErrorBody {
            error_code: self.code,
            message: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}
