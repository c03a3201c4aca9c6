//! `momentum serve`: the production model behind an HTTP scoring API in MLflow's conventions,
//! with Prometheus metrics, reloaded without a restart.
//!
//! It owns the HTTP side of serving and nothing of the model: the model is loaded by
//! `momentum-lifecycle` ([`load_model`](momentum_lifecycle::load_model): the `production` block
//! of params.yaml, or the registry's `champion` alias when tracking points at a server), and a
//! request is scored by the scanner's [`scan`](momentum_scanner::scan::scan), the code
//! `momentum scan` runs, so the API and the daily scan pick the same tickers from the same
//! prices.
//!
//! | item | what |
//! |---|---|
//! | [`run`], [`ServeConfig`] | start the server: bind, load the model, serve until `SIGTERM`/`SIGINT`, drain |
//! | [`Frame`], [`score`], [`Predictions`], [`Prediction`] | the `/invocations` body (MLflow's `dataframe_split` or a wide CSV), checked, and its answer |
//! | [`ModelInfo`] | the answer of `GET /v1/model` |
//! | [`ServeError`], [`ApiError`] | why the server stopped; what a request is answered with (`{"error_code", "message"}`) |
//!
//! Each request is bounded (`serve.header_timeout_seconds`, `serve.request_timeout_seconds`,
//! `serve.body_timeout_seconds`, `serve.max_body_bytes`, `serve.max_concurrency`), and the CPU
//! work of one (parsing the table, scoring it, reading the picks history) runs on tokio's
//! blocking pool, never on the threads that accept and answer connections.
//!
//! The routes are listed in the `api` module, the connections and their head timeout in
//! `conn`, the metrics in `metrics`, the reload in `state` (`docs/serving.md`, "Scoring API",
//! is the user's guide).
//!
//! ```no_run
//! use momentum_lifecycle::ServeSettings;
//! use momentum_serve::{ServeConfig, run};
//!
//! let config = ServeConfig {
//!     params_file: "params.yaml".into(),
//!     params_required: false,
//!     serve: ServeSettings { port: 0, ..ServeSettings::default() },
//! };
//! // Blocks until SIGTERM, then drains the requests in flight.
//! run(config, |addr| println!("listening on http://{addr}"))?;
//! # Ok::<(), momentum_serve::ServeError>(())
//! ```
#![warn(missing_docs)]

mod api;
mod conn;
mod error;
mod frame;
mod metrics;
mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use momentum_lifecycle::ServeSettings;
use tokio::signal::unix::{Signal, SignalKind, signal};

pub use api::ModelInfo;
pub use error::{ApiError, Result, ServeError};
pub use frame::{Frame, Prediction, Predictions, score};

/// What [`run`] serves and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// The params file the model blocks (and every path) are read from, again on each change.
    pub params_file: PathBuf,
    /// Whether the file must exist (the user named it); the default one may be missing, and
    /// then no model is served until it appears.
    pub params_required: bool,
    /// Host, port, alias, limits: the `serve` block with the flags applied.
    pub serve: ServeSettings,
}

/// Serves until `SIGTERM` or `SIGINT`, then stops accepting (new connections are refused),
/// closes the connections without a request in flight (idle, or still sending a head), lets
/// the requests in flight finish (at most `serve.drain_seconds`) and returns. `ready` is called
/// with the bound address once the server accepts connections and its signal handlers are
/// installed. Work still running on the blocking pool when the drain ends (a scoring a timed-out
/// request left, a registry call of the reload) is given one more second, then abandoned.
///
/// # Errors
/// Settings out of range, a model that cannot be loaded at start (a malformed block; no block
/// is not an error: the server answers 503 until one appears), an address that cannot be
/// bound, requests still running when the drain time is up ([`ServeError::DrainTimeout`]).
pub fn run(config: ServeConfig, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    config.serve.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServeError::Io {
            what: "cannot start the runtime",
            source,
        })?;
    let served = runtime.block_on(serve(config, ready));
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    served
}

/// How long blocking work may outlive the drain before the runtime is dropped without it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

async fn serve(config: ServeConfig, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    let settings = config.serve;
    let addr = format!("{}:{}", settings.host, settings.port);
    // Installed before the server is announced: until then these signals would kill it.
    let handler =
        |kind: SignalKind, what| signal(kind).map_err(|source| ServeError::Io { what, source });
    let terminate = handler(
        SignalKind::terminate(),
        "cannot install the SIGTERM handler",
    )?;
    let interrupt = handler(SignalKind::interrupt(), "cannot install the SIGINT handler")?;
    let hangup = handler(SignalKind::hangup(), "cannot install the SIGHUP handler")?;
    let shown = config.params_file.display().to_string();
    let (params_file, required, alias) =
        (config.params_file, config.params_required, settings.alias);
    // Blocking: a registry client runs (and drops) its own runtime.
    let served =
        tokio::task::spawn_blocking(move || state::Served::load(&params_file, required, alias))
            .await
            .map_err(|source| ServeError::Join {
                what: "the model load stopped",
                source,
            })??;
    let served = Arc::new(served);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: addr.clone(),
        source,
    })?;
    let metrics = metrics::Metrics::new();
    let app = Arc::new(api::App {
        served: Arc::clone(&served),
        metrics: metrics.clone(),
        monitor_report: settings.monitor_report.clone(),
        limits: api::Limits {
            max_body_bytes: settings.max_body_bytes,
            body_timeout: Duration::from_secs(settings.body_timeout_seconds),
            request_timeout: Duration::from_secs(settings.request_timeout_seconds),
        },
        slots: Arc::new(tokio::sync::Semaphore::new(settings.max_concurrency)),
    });
    let router = api::router(app);

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let poll = Duration::from_millis(settings.poll_ms);
    let watcher = tokio::spawn(state::watch(
        served,
        (poll, hangup),
        metrics,
        until_stopped(stopped.clone()),
    ));
    tracing::info!(
        "listening on http://{local} (alias {}, params {})",
        settings.alias,
        shown,
    );
    ready(local);
    let header_timeout = Duration::from_secs(settings.header_timeout_seconds);
    let server = conn::serve(listener, router, header_timeout, stopped);
    let drain = Duration::from_secs(settings.drain_seconds);
    // The stop signal, then the drain time.
    let timed_out = async move {
        let name = stop_signal(terminate, interrupt).await;
        tracing::info!("{name}: draining the requests in flight, then stopping");
        let _ = stop.send(true);
        tokio::time::sleep(drain).await;
    };
    // Biased: a server that finished draining wins over a drain time that ran out at the
    // same poll.
    let outcome = tokio::select! {
        biased;
        () = server => Ok(()),
        () = timed_out => Err(ServeError::DrainTimeout { addr: local, seconds: settings.drain_seconds }),
    };
    // The watcher stops at the stop signal between reloads; one in a registry call would hold
    // the exit past the drain, so it is not waited for.
    watcher.abort();
    match watcher.await {
        Ok(watched) => watched?,
        Err(join) if join.is_cancelled() => {}
        Err(source) => {
            return Err(ServeError::Join {
                what: "the reload task stopped",
                source,
            });
        }
    }
    outcome?;
    tracing::info!("stopped");
    Ok(())
}

/// Returns once `stopped` turns true (or its sender is gone, which is a stop too).
async fn until_stopped(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// The first of `SIGTERM` and `SIGINT`.
async fn stop_signal(mut terminate: Signal, mut interrupt: Signal) -> &'static str {
    tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    }
}
