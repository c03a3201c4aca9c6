//! The momentum lifecycle as library calls: what each `momentum` command does, without the
//! command line.
//!
//! It sits on top of every other crate (data -> features -> engine -> scanner, and tracking)
//! and owns the steps that tie them together: the typed `params.yaml` ([`Settings`]), fetching
//! prices ([`fetch()`]), the panel ([`build_features`]), the backtest that writes its reports and
//! the candidate model together ([`backtest()`]), promotion through the gates into the registry
//! and `params.yaml` ([`judge`], [`register`], [`rollback`]), the daily scan ([`run_scan`]),
//! the monitor ([`run_monitor`]), and what each of them records in tracking ([`track`]).
//!
//! | item | what |
//! |---|---|
//! | [`Settings`], [`SettingsError`] | `params.yaml`, parsed once; unknown keys and bad values named by their key ([`ServeSettings`]: the `serve` block of `momentum serve`) |
//! | [`FetchPlan`], [`fetch()`], [`refresh`] | the price cache and its manifest |
//! | [`PanelSource`], [`load_panel`], [`build_features`] | the aligned panel and its data digest |
//! | [`BacktestFiles`], [`backtest()`], [`Backtest`] | the experiment, its reports and the candidate, written all or nothing |
//! | [`judge`], [`register`], [`rollback`], [`load_model`], [`promote_challenger`], [`retire_challenger`] | the gates, the registry's `champion` and `challenger`, their blocks of params.yaml |
//! | [`AbRequest`], [`run_ab`] | the champion against the challenger: `reports/ab.json` and its decision |
//! | [`ScanRequest`], [`run_scan`], [`MonitorRequest`], [`run_monitor`] | picks and the live record |
//! | [`ReportContext`], [`LiveFiles`], [`report_of_run`], [`write_report`] | the tear sheet `report.html`, of a backtest or of a tracked run |
//! | [`GridTable`], [`GridFilter`] | the whole grid as one table (`grid.parquet`), queried with `test_sharpe > 1 and top_k = 5` |
//! | [`track`] | the runs each step logs |
//! | [`Progress`] | how long steps report progress |
//! | [`LifecycleError`] | the crate's error |
//!
//! ```no_run
//! use std::path::Path;
//! use momentum_lifecycle::{
//!     BacktestFiles, PanelSource, ReportContext, Settings, Silent, backtest, load_panel,
//! };
//! use momentum_scanner::model::CodeVersion;
//! let settings = Settings::load(Path::new("params.yaml"), false)?;
//! let (panel, digest) = load_panel(&PanelSource::Default, &settings)?;
//! let files = BacktestFiles { reports: "reports".into(), model: "models/candidate.json".into() };
//! let code = CodeVersion { version: "0.1.0".into(), git_commit: None };
//! let report = ReportContext { gates: settings.promotion, live: None };
//! let run = backtest(&panel, digest, &settings.backtest, (code, None), &files, &report, &Silent)?;
//! println!("selected {:?}", run.experiment.params);
//! # Ok::<(), momentum_lifecycle::LifecycleError>(())
//! ```
#![warn(missing_docs)]

mod ab;
mod backtest;
mod chart;
mod daily;
mod error;
mod fetch;
mod files;
mod grid_table;
mod progress;
mod promote;
mod report;
mod settings;
pub mod track;

pub use ab::{AbRequest, AbSource, run_ab};
pub use backtest::{
    Backtest, BacktestFiles, PanelSource, SHARD_EXTENSION, backtest, backtest_shard,
    build_features, load_panel, merge_backtest, panel_of_prices, read_prices, sha256_hex,
};
pub use daily::{MonitorRequest, ScanRequest, run_monitor, run_scan};
pub use error::{LifecycleError, Result};
pub use fetch::{FetchPlan, fetch, refresh};
pub use grid_table::{
    Condition, GRID_ARTIFACT, GRID_TOP_ARTIFACT, GRID_TOP_ROWS, GridFilter, GridTable,
};
pub use progress::{Progress, Silent};
pub use promote::{
    ARCHIVED_TAG, CHAMPION, CRASH_AT_ENV, CRASH_POINTS, ProductionSource, Promotion,
    RegistrationCheck, Rollback, Swap, Verdict, aliased, block_model, check_registration,
    journal_path, judge, load_model, promote_challenger, register, retire_challenger, rollback,
};
pub use report::{LiveFiles, REPORT_FILE, ReportContext, report_of_run, write_report};
pub use settings::{
    DataSettings, FeaturesSettings, ScanSettings, ServeSettings, Settings, SettingsError,
    TrackingSettings,
};
