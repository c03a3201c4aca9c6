//! The backtest's tear sheet: `reports/report.html`, one self-contained HTML file a quant
//! reads to judge a momentum backtest.
//!
//! It owns the page and its charts, and nothing else: the caller (`momentum-lifecycle`)
//! gathers the inputs ([`Report`]) from a backtest it just ran or from a tracked run's
//! artifacts, and writes the text [`render`] returns. The charts are SVG written by hand
//! (a small tested writer, no plotting crate), inline with the CSS, with no script and no
//! external reference, so the file opens offline, in MLflow's artifact view and as a CI
//! artifact. Colours are colour-blind safe: viridis for scales, blue against orange for signs
//! and the two curves, one grey for "n/a".
//!
//! | item | what |
//! |---|---|
//! | [`Report`], [`Live`], [`MonitorStatus`] | what the page shows |
//! | [`render`] | the page's HTML |
//! | [`SECTIONS`] | the sections' ids, in page order |
//!
//! Sections: the summary (parameters, strategy against buy and hold per window, walk-forward
//! and CPCV, PSR/DSR/PBO read in plain words, the promotion gates), the equity curves on a
//! log scale and the underwater drawdown, monthly returns, rolling one-year Sharpe ratio and
//! volatility, the distribution of daily returns against a normal, the grid's train and test
//! heatmaps with the train-against-test scatter, turnover and cost drag, and the latest picks
//! and monitor status. `docs/reports.md` explains how to read each.
//!
//! ```
//! use momentum_engine::{ExperimentSpec, GridSpec, PricePanel, run_experiment};
//! use momentum_report::{Report, render};
//!
//! let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
//! let dates = (0..60).map(|d| start + chrono::Days::new(d)).collect();
//! let close = ndarray::Array2::from_shape_fn((60, 2), |(t, i)| 10.0 + (t * (i + 1)) as f64);
//! let panel = PricePanel::new(dates, vec!["A".into(), "B".into()], close)?;
//! let spec = ExperimentSpec {
//!     grid: GridSpec { lookback: vec![2, 5], skip: vec![0], holding: vec![2, 3], top_k: vec![1] },
//!     pbo_blocks: 2,
//!     ..Default::default()
//! };
//! let experiment = run_experiment(&panel, &spec, None, &|_| {})?;
//! let curve = experiment.chained_curve()?;
//! let report = Report {
//!     experiment: &experiment,
//!     curve: &curve,
//!     gates: None,
//!     live: None,
//!     origin: "a doctest".into(),
//! };
//! let html = render(&report);
//! assert!(html.starts_with("<!DOCTYPE html>") && html.contains("id=\"grid\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod charts;
mod colour;
mod page;
mod series;
mod svg;

use chrono::NaiveDate;
use momentum_engine::{ChainedCurve, Experiment};
use momentum_scanner::promotion::GateResult;
use momentum_scanner::scan::Picks;
use serde::Deserialize;

pub use page::SECTIONS;

/// What the report shows.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// The experiment: its summary (parameters, windows, selection statistics, walk-forward
    /// and CPCV) and its grid (`grid` in grid order, `grid_rank` the selected row). An empty
    /// grid is a run that recorded none, a grid of one a `--no-grid` backtest: the grid
    /// section says so.
    pub experiment: &'a Experiment,
    /// The equity curves of the windows end to end, with the split.
    pub curve: &'a ChainedCurve,
    /// Every promotion gate's result for this candidate; `None` when it has no test window
    /// (the gates need one).
    pub gates: Option<Vec<GateResult>>,
    /// The latest picks and monitor status; `None` when they are left out (a reproducible
    /// pipeline report, in which they would be other stages' outputs).
    pub live: Option<Live>,
    /// Where the results come from, said under the title (`momentum backtest`, a run id).
    pub origin: String,
}

/// The production side: what `momentum scan` and `momentum monitor` last wrote, each `None`
/// when its file does not exist.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The latest picks (`reports/picks.json`).
    pub picks: Option<Picks>,
    /// The monitor's latest status (`reports/monitor.json`).
    pub monitor: Option<MonitorStatus>,
}

/// What the report reads of `reports/monitor.json`: the day, the model, the verdict and each
/// check. (The scanner's `MonitorReport` is write-only: its check names are static strings.)
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MonitorStatus {
    /// Last day of the price data.
    pub as_of: NaiveDate,
    /// Model version monitored.
    pub model_version: String,
    /// Whether any check was breached.
    pub retrain_recommended: bool,
    /// The checks, in the file's order.
    pub checks: Vec<MonitorCheck>,
}

/// One check of [`MonitorStatus`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MonitorCheck {
    /// `mean_return`, `sharpe`, `psi`, `ks`.
    pub name: String,
    /// The statistic, `None` when there was not enough data.
    pub value: Option<f64>,
    /// What it is held to.
    pub threshold: Option<f64>,
    /// Whether it signals drift.
    pub breached: bool,
    /// A sentence about it.
    pub detail: String,
}

/// The HTML of `report`: one self-contained page (UTF-8), byte for byte the same for the same
/// report.
pub fn render(report: &Report<'_>) -> String {
    page::render(report)
}
