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

#[cfg(test)]
mod tests {
    use momentum_engine::{
        ChainedCurve, ComboResult, Experiment, ExperimentSpec, GridRows, GridSpec, PricePanel,
        SearchMethod, SearchReport, WindowName, run_experiment,
    };

    use super::*;

    /// 400 days of three tickers that wander differently; a grid of eight combinations.
    fn experiment(grid: GridSpec, train_fraction: Option<f64>) -> (Experiment, ChainedCurve) {
        let start = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        let dates = (0..400).map(|d| start + chrono::Days::new(d)).collect();
        let close = ndarray::Array2::from_shape_fn((400, 3), |(t, i)| {
            let t = t as f64;
            100.0 * (1.0 + 0.001 * (i as f64 + 1.0) * t)
                + 5.0 * ((t * (0.1 + 0.05 * i as f64)).sin())
        });
        let panel =
            PricePanel::new(dates, vec!["A".into(), "B".into(), "C".into()], close).unwrap();
        let spec = ExperimentSpec {
            train_fraction,
            pbo_blocks: 4,
            grid,
            ..Default::default()
        };
        let experiment = run_experiment(&panel, &spec, None, &|_| {}).unwrap();
        let curve = experiment.chained_curve().unwrap();
        (experiment, curve)
    }

    fn grid() -> GridSpec {
        GridSpec {
            lookback: vec![5, 10],
            skip: vec![0],
            holding: vec![5, 10],
            top_k: vec![1, 2],
        }
    }

    fn html(experiment: &Experiment, curve: &ChainedCurve) -> String {
        render(&Report {
            experiment,
            curve,
            gates: None,
            live: Some(Live::default()),
            origin: "a test".into(),
        })
    }

    #[test]
    fn every_section_and_chart_is_there_and_nothing_is_fetched() {
        let (experiment, curve) = experiment(grid(), Some(0.7));
        let page = html(&experiment, &curve);
        for id in SECTIONS {
            assert!(page.contains(&format!("<section id=\"{id}\">")), "{id}");
        }
        for chart in [
            "equity",
            "underwater",
            "monthly",
            "rolling-sharpe",
            "rolling-volatility",
            "distribution",
            "heatmap-legend",
            "train-vs-test",
        ] {
            assert!(page.contains(&format!("data-chart=\"{chart}\"")), "{chart}");
        }
        // Two (top_k, skip) pairs of a train and a test map.
        assert_eq!(page.matches("data-chart=\"heatmap\"").count(), 2);
        assert_eq!(page.matches("<svg class=\"chart heatmap\"").count(), 4);
        // Self-contained: no script, no link, no URL of any scheme.
        for forbidden in ["<script", "<link", "src=", "url(", "http:", "https:", "//"] {
            assert!(!page.contains(forbidden), "{forbidden}");
        }
        // The same report is the same bytes.
        assert_eq!(page, html(&experiment, &curve));
    }

    #[test]
    fn a_metric_that_could_not_be_computed_reads_n_a_and_is_grey() {
        let (mut experiment, curve) = experiment(grid(), Some(0.7));
        let mut rows = rows_of(&experiment);
        rows[0].train.sharpe = f64::NAN;
        experiment.grid = GridRows::new(&rows, None).unwrap();
        experiment.selection.psr = f64::NAN;
        experiment
            .windows
            .get_mut(&WindowName::Test)
            .unwrap()
            .strategy
            .sharpe = f64::NAN;
        let page = html(&experiment, &curve);
        assert!(!page.to_lowercase().contains("nan"), "NaN printed");
        assert!(page.contains("<tr><td>PSR</td><td>n/a</td>"));
        // The test row: total return, CAGR, then the missing Sharpe.
        assert!(page.contains("</td><td>n/a</td><td>"));
        // The missing train cell is drawn in the "n/a" grey, which the legend names.
        assert!(page.contains(&format!("<path fill=\"{}\" d=\"M", colour::MISSING)));
        assert!(page.contains(">n/a</text>"));
    }

    #[test]
    fn a_single_combination_and_no_split_say_what_is_missing() {
        let one = GridSpec {
            lookback: vec![10],
            skip: vec![0],
            holding: vec![5],
            top_k: vec![1],
        };
        let (experiment, curve) = experiment(one, None);
        let page = html(&experiment, &curve);
        assert!(page.contains("No grid: this backtest evaluated one combination (--no-grid)"));
        assert!(!page.contains("data-chart=\"heatmap\""));
        assert!(page.contains("full (no split)"));
        assert!(page.contains("Not judged: the gates hold the candidate to its test window"));

        let (experiment, curve) = super::tests::experiment(grid(), None);
        let page = html(&experiment, &curve);
        assert!(page.contains("No test window (--no-split)"));
        assert_eq!(page.matches("<svg class=\"chart heatmap\"").count(), 2);

        let mut unrecorded = experiment.clone();
        unrecorded.grid = GridRows::default();
        let page = html(&unrecorded, &curve);
        assert!(page.contains("the run recorded no grid table"));
    }

    #[test]
    fn a_search_draws_its_trials_in_order_and_a_grid_does_not() {
        let (mut experiment, curve) = experiment(grid(), Some(0.7));
        assert!(!html(&experiment, &curve).contains("data-chart=\"search\""));
        // The same rows as the trials of a search.
        experiment.search = SearchReport {
            method: SearchMethod::Tpe,
            seed: Some(3),
            batch: Some(4),
            space: Some(1000),
            ..experiment.search.clone()
        };
        let page = html(&experiment, &curve);
        assert!(page.contains("data-chart=\"search\""));
        assert!(page.contains("trials of a TPE search (seed 3, batches of 4, of 1000 valid"));
        // The selected trial's (top_k, skip) panel only: one pair of maps of the grid's two.
        assert_eq!(page.matches("data-chart=\"heatmap\"").count(), 1);
        // The best-so-far line and the selected trial's mark.
        let chart = &page[page.find("data-chart=\"search\"").unwrap()..];
        let chart = &chart[..chart.find("</figure>").unwrap()];
        assert!(chart.contains("<polyline") && chart.contains("<circle"));
        assert!(chart.contains("the best so far"));
    }

    #[test]
    fn the_report_of_a_9000_combination_grid_over_32_years_is_under_3_mb() {
        use momentum_engine::{CurvePoint, StrategyParams};
        // The issue's sample grid (lookback 5..=250 step 5, holding 1..=60, top_k 3, 5, 7) with
        // made-up metrics, and a curve of 8,000 days: the size is the grid's and the days'.
        let (mut experiment, _) = experiment(grid(), Some(0.7));
        let mut rows = Vec::new();
        for top_k in [3, 5, 7] {
            for lookback in (5..=250).step_by(5) {
                for holding in 1..=60 {
                    let mut train = experiment.windows[&WindowName::Train].strategy;
                    train.sharpe = (lookback * holding % 97) as f64 / 60.0;
                    let mut test = train;
                    test.sharpe = (lookback + holding * top_k) as f64 % 83.0 / 60.0;
                    rows.push(ComboResult {
                        params: StrategyParams {
                            lookback,
                            skip: 0,
                            holding,
                            top_k,
                            cost_bps: 10.0,
                        },
                        train,
                        test: Some(test),
                    });
                }
            }
        }
        experiment.grid = GridRows::new(&rows, None).unwrap();
        experiment.grid_rank = 4321;
        let start = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
        let points = (0..8000u32).map(|d| {
            let t = f64::from(d);
            CurvePoint {
                date: start + chrono::Days::new(u64::from(d)),
                strategy: (t * 4e-4).exp() * (1.0 + 0.05 * (t / 37.0).sin()),
                baseline: (t * 3e-4).exp() * (1.0 + 0.04 * (t / 53.0).cos()),
                window: if d < 5600 {
                    WindowName::Train
                } else {
                    WindowName::Test
                },
            }
        });
        let curve = ChainedCurve::chain(points);
        let page = html(&experiment, &curve);
        assert_eq!(page.matches("<svg class=\"chart heatmap\"").count(), 6);
        assert!(page.len() < 3 * 1024 * 1024, "{} bytes", page.len());
    }

    #[test]
    fn the_live_side_shows_the_picks_and_the_monitor_or_says_why_not() {
        let (experiment, curve) = experiment(grid(), Some(0.7));
        let left_out = render(&Report {
            experiment: &experiment,
            curve: &curve,
            gates: None,
            live: None,
            origin: "a test".into(),
        });
        assert!(left_out.contains("Left out of this report (--report-no-live)"));
        let monitor: MonitorStatus = serde_json::from_str(
            r#"{"as_of": "2022-12-28", "model_version": "3", "retrain_recommended": true,
                "live": [], "checks": [{"name": "psi", "value": 0.31, "threshold": 0.25,
                "breached": true, "detail": "scores <shifted>"}]}"#,
        )
        .unwrap();
        let page = render(&Report {
            experiment: &experiment,
            curve: &curve,
            gates: None,
            live: Some(Live {
                picks: None,
                monitor: Some(monitor),
            }),
            origin: "a test".into(),
        });
        assert!(page.contains("No picks: <code>momentum scan</code>"));
        assert!(page.contains("retraining recommended"));
        assert!(
            page.contains(
                "<td>psi</td><td>0.310</td><td>0.250</td><td class=\"fail\">breached</td>"
            )
        );
        assert!(page.contains("scores &lt;shifted&gt;"));
    }

    /// The experiment's grid rows, in grid order.
    fn rows_of(experiment: &Experiment) -> Vec<ComboResult> {
        let mut rows = Vec::new();
        for chunk in experiment.grid.chunks() {
            rows.extend_from_slice(&chunk.unwrap().rows);
        }
        rows
    }

    #[test]
    fn a_grid_too_large_for_a_page_draws_the_selected_panel_or_nothing() {
        use momentum_engine::StrategyParams;
        let (mut experiment, curve) = super::tests::experiment(grid(), Some(0.7));
        let base = rows_of(&experiment)[0];
        // 2 x 2 panels of 100 lookbacks x 60 holdings: 24,000 rows, above the page's 20,000.
        let mut rows = Vec::new();
        for top_k in [3, 5] {
            for skip in [0, 1] {
                for lookback in 2..102 {
                    for holding in 1..=60 {
                        let params = StrategyParams {
                            lookback,
                            skip,
                            holding,
                            top_k,
                            cost_bps: 10.0,
                        };
                        rows.push(ComboResult { params, ..base });
                    }
                }
            }
        }
        // The selected combination: top_k 5, skip 0, lookback 3, holding 1.
        let selected = rows
            .iter()
            .position(|c| {
                (
                    c.params.top_k,
                    c.params.skip,
                    c.params.lookback,
                    c.params.holding,
                ) == (5, 0, 3, 1)
            })
            .unwrap();
        experiment.grid = GridRows::new(&rows, None).unwrap();
        experiment.grid_rank = selected;
        let page = html(&experiment, &curve);
        assert!(page.contains("The grid's 24000 combinations are too many for one page"));
        assert!(page.contains("drawn are the 6000 of the selected portfolio size and skip"));
        assert!(page.contains("<h3>top_k = 5, skip = 0</h3>"));
        assert_eq!(page.matches("data-chart=\"heatmap\"").count(), 1);
        // The selected cell outlined on both maps, as on the page of a small grid.
        let outlines = |page: &str| page.matches("class=\"selected-outer\"").count();
        let (small, small_curve) = super::tests::experiment(grid(), Some(0.7));
        assert_eq!(outlines(&page), outlines(&html(&small, &small_curve)));
        assert!(outlines(&page) >= 2);

        // One panel of 21,000 rows: nothing drawn, and the page says where the rows are.
        let rows: Vec<ComboResult> = (0..21_000)
            .map(|i| ComboResult {
                params: StrategyParams {
                    lookback: 2 + i / 100,
                    skip: 0,
                    holding: 1 + i % 100,
                    top_k: 3,
                    cost_bps: 10.0,
                },
                ..base
            })
            .collect();
        experiment.grid = GridRows::new(&rows, None).unwrap();
        experiment.grid_rank = 7;
        let page = html(&experiment, &curve);
        assert!(page.contains("The grid's 21000 combinations are too many to draw"));
        assert!(!page.contains("data-chart=\"heatmap\""));
    }
}
