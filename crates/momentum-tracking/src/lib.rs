//! Experiment tracking for momentum: a local-first run store, an MLflow REST client, and the
//! model registry.
//!
//! Every run is written to a [`LocalStore`] on disk first (`mlruns/` by default: one folder
//! per run, JSON files, each write atomic). When a tracking server is configured
//! (`MLFLOW_TRACKING_URI=http(s)://...`), finished runs are then pushed to it through its REST
//! API; a server that is down, slow or failing only costs a warning, and [`Tracker::sync`]
//! (`momentum runs sync`) later pushes whatever it missed, idempotently.
//!
//! # Contents
//! - [`Tracker`]: the entry point. Experiments, step-by-step runs ([`Tracker::start_run`],
//!   [`Tracker::log_metrics`], [`Tracker::end_run`], ...), whole runs ([`Tracker::log_run`]),
//!   grid searches as nested runs ([`Tracker::log_grid`] with [`RunSpec`]s), local search
//!   ([`RunQuery`], [`Filter`]), [`Tracker::sync`], and the model registry
//!   ([`Tracker::create_model_version`], [`Tracker::set_alias`],
//!   [`Tracker::get_version_by_alias`], [`Tracker::list_versions`]).
//! - [`LocalStore`]: the on-disk layout (documented in its module), crash-safe listing; on
//!   open, the RUNNING runs of processes that died are marked KILLED and their half-written
//!   staging folders removed.
//! - [`RestClient`]: MLflow's REST API: batching within the server limits, NaN/Inf as
//!   strings, Basic/Bearer auth, retries with backoff, artifacts through the server's proxy,
//!   searches, registry.
//! - [`model`]: the shared data types and the validation MLflow does not do itself.
//! - [`TrackingError`]: the one error type.
//!
//! # Example
//! ```
//! use momentum_tracking::{DatasetInput, RunQuery, RunSpec, Tracker};
//! # let dir = tempfile::tempdir().unwrap();
//! let tracker = Tracker::open(dir.path().join("mlruns"), "")?; // "" = local only
//! let parent = RunSpec::new("backtest")
//!     .input(DatasetInput::from_sha256("prices", &"ab".repeat(32), "data/raw/prices.parquet"));
//! let children = vec![
//!     RunSpec::new("lb20").param("lookback", 20).metric("train_sharpe", 0.9),
//!     RunSpec::new("lb60").param("lookback", 60).metric("train_sharpe", 1.2),
//! ];
//! let grid = tracker.log_grid("momentum", parent, children)?;
//! let best = tracker.search_runs(&RunQuery::new("momentum").order_by_metric("train_sharpe", true).limit(1))?;
//! assert_eq!(best[0].params["lookback"], "60");
//! assert_eq!(grid.child_run_ids.len(), 2);
//! # Ok::<(), momentum_tracking::TrackingError>(())
//! ```
#![warn(missing_docs)]

mod error;
mod local;
pub mod model;
mod rest;
mod tracker;

pub use error::{Result, TrackingError};
pub use local::{Listing, LocalStore, NewRun, SkippedRun};
pub use model::{
    ArtifactFile, Cmp, DatasetInput, Experiment, Filter, Metric, MetricPoint, ModelVersion,
    OrderBy, RemoteRecord, Run, RunQuery, RunStatus,
};
pub use rest::{
    Auth, DEFAULT_RETRY, MAX_BATCH_METRICS, MAX_BATCH_PARAMS, MAX_BATCH_TAGS, MAX_BATCH_TOTAL,
    RestClient, RestConfig, RetryPolicy, normalize_uri,
};
pub use tracker::{Clock, GridLog, RunContext, RunSpec, SyncReport, Tracker, resolve_tracking_uri};
