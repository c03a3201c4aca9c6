//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while tracking. Messages are lowercase and name the run, key,
/// path or URL involved; URLs never carry credentials, nor does what the server wrote (it is
/// scrubbed of them first).
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    /// A file or directory of the local store could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file of the local store could not be parsed or written.
    #[error("invalid json in {path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A param, metric or tag key that MLflow would reject.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key.
        key: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A value longer than MLflow stores (it would silently truncate it).
    #[error("{what} {key:?} is {len} characters long, more than the maximum of {max}")]
    ValueTooLong {
        /// `param value`, `tag value`, `dataset digest`, ...
        what: &'static str,
        /// The key (or dataset name) the value belongs to.
        key: String,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A name that is not usable (empty experiment, model or alias name, bad characters).
    #[error("invalid {what} {name:?}: {reason}")]
    InvalidName {
        /// `experiment name`, `model name`, `alias`, ...
        what: &'static str,
        /// The offending name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A run status that is not one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED.
    #[error("invalid run status {0:?}: expected RUNNING, SCHEDULED, FINISHED, FAILED or KILLED")]
    InvalidStatus(String),
    /// Params are immutable once logged (MLflow rejects a change too).
    #[error(
        "param {key:?} of run {run_id} was already logged as {old:?}, cannot change it to {new:?}"
    )]
    ParamChanged {
        /// The run.
        run_id: String,
        /// The param key.
        key: String,
        /// The logged value.
        old: String,
        /// The rejected value.
        new: String,
    },
    /// The same param key twice in one call.
    #[error("param {key:?} given twice for run {run_id}")]
    DuplicateParam {
        /// The run.
        run_id: String,
        /// The key.
        key: String,
    },
    /// A run filter that does not parse.
    #[error("filter {text:?}: {reason}")]
    InvalidFilter {
        /// The condition as written.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No run with this id in the store or on the server.
    #[error("run {0} not found")]
    RunNotFound(String),
    /// No registered model with this name.
    #[error("registered model {0:?} not found")]
    ModelNotFound(String),
    /// No such version of a registered model.
    #[error("version {version} of registered model {name:?} not found")]
    VersionNotFound {
        /// The model.
        name: String,
        /// The version.
        version: String,
    },
    /// An artifact path that escapes the run's artifact directory or names no file.
    #[error("invalid artifact path {0:?}")]
    InvalidArtifactPath(String),
    /// The tracking URI is neither empty (local) nor http(s).
    #[error(
        "unsupported tracking uri {0:?}: expected http:// or https:// (or nothing for the local store)"
    )]
    UnsupportedUri(String),
    /// The user or password of a tracking URI is not UTF-8 once percent-decoded (the URI is
    /// shown without them).
    #[error("tracking uri {0:?}: its user or password is not UTF-8 once percent-decoded")]
    UriCredentials(String),
    /// The HTTP request could not be sent or its response not read (after retries).
    #[error("request to {url} failed")]
    Http {
        /// The URL, without credentials.
        url: String,
        /// The underlying error, without its URL (`url` names it once).
        #[source]
        source: reqwest::Error,
    },
    /// A response body longer than the client's `max_body_bytes`.
    #[error("response of {url}")]
    Body {
        /// The URL, without credentials.
        url: String,
        /// The cap that was passed.
        #[source]
        source: momentum_http::BodyError,
    },
    /// The server answered with an error status.
    #[error("{url} answered {status}{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Api {
        /// The URL, without credentials.
        url: String,
        /// HTTP status code.
        status: u16,
        /// MLflow's `error_code` when the body was JSON.
        code: Option<String>,
        /// MLflow's `message`, or the text body when it was not JSON; scrubbed of the
        /// credentials the client sent, on one line, shortened
        /// ([`momentum_http::Secrets::scrub`]).
        message: String,
    },
    /// A success response whose body was not what the API documents.
    #[error("unexpected response from {url}: {reason}")]
    Decode {
        /// The URL.
        url: String,
        /// What was wrong (scrubbed like [`TrackingError::Api`]'s `message`: it may quote the
        /// body).
        reason: String,
    },
    /// The server keeps an experiment's artifacts somewhere this client cannot write (not
    /// behind its artifact proxy): found before any run is pushed.
    #[error(
        "{url} keeps the artifacts of experiment {experiment:?} at {location:?}, outside its \
         artifact proxy: nothing was pushed (runs with artifacts need a server that serves them \
         as mlflow-artifacts:/, without --no-serve-artifacts or a --default-artifact-root)"
    )]
    UnproxiedArtifacts {
        /// The tracking server.
        url: String,
        /// The experiment.
        experiment: String,
        /// Its artifact location (scrubbed).
        location: String,
    },
    /// The server stores artifacts somewhere this client cannot reach (no `--serve-artifacts`).
    #[error(
        "run {run_id} has artifact uri {uri:?}; only proxied mlflow-artifacts:/ uris are supported"
    )]
    UnsupportedArtifactUri {
        /// The remote run.
        run_id: String,
        /// Its artifact URI.
        uri: String,
    },
    /// A push was not attempted because the server had stopped answering earlier in the batch.
    #[error("not pushed: {url} stopped answering")]
    Unreachable {
        /// The server, without credentials.
        url: String,
    },
    /// A child run was not pushed because its parent could not be.
    #[error("run {run_id} not pushed: its parent {parent} is not on the server")]
    ParentNotPushed {
        /// The child.
        run_id: String,
        /// The parent.
        parent: String,
    },
    /// The async runtime behind the blocking client could not start.
    #[error("cannot start the http runtime")]
    Runtime(#[source] std::io::Error),
    /// An operation that needs a remote server was called on a local-only tracker.
    #[error("no tracking server configured (set MLFLOW_TRACKING_URI or tracking.uri)")]
    NoRemote,
}

impl TrackingError {
    /// The message and every cause, on one line (`a: b: c`).
    pub fn chain(&self) -> String {
        momentum_http::chain(self)
    }

    /// True for MLflow's answer "does not exist" (RESOURCE_DOES_NOT_EXIST), or a run, model or
    /// version missing from the local store. A bare 404 without that code (a wrong path prefix
    /// in the URI, a proxy's page) is not: it would pass a misconfigured server off as empty.
    pub fn is_not_found(&self) -> bool {
        match self {
            TrackingError::Api { code, .. } => code.as_deref() == Some("RESOURCE_DOES_NOT_EXIST"),
            TrackingError::RunNotFound(_)
            | TrackingError::ModelNotFound(_)
            | TrackingError::VersionNotFound { .. } => true,
            _ => false,
        }
    }

    /// True when the server gave no answer ([`TrackingError::Http`]: refused, reset, timed out)
    /// or was not asked because it had stopped answering ([`TrackingError::Unreachable`]): the
    /// server is down, nothing is wrong with the run.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            TrackingError::Http { .. } | TrackingError::Unreachable { .. }
        )
    }

    /// `missing()` in place of a "does not exist" answer ([`Self::is_not_found`]), `self`
    /// otherwise: a 404 from the server becomes the error that names what is missing.
    pub(crate) fn not_found_as(self, missing: impl FnOnce() -> TrackingError) -> TrackingError {
        if self.is_not_found() { missing() } else { self }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrackingError::Io {
            path: path.into(),
            source,
        }
    }
}

/// `Result` with this crate's [`TrackingError`].
pub type Result<T, E = TrackingError> = std::result::Result<T, E>;

impl From<momentum_files::FileError> for TrackingError {
    fn from(err: momentum_files::FileError) -> Self {
        Self::Io {
            path: err.path,
            source: err.source,
        }
    }
}
