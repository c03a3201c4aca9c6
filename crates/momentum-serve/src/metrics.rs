//! `GET /metrics`: the Prometheus text format, from a registry of this server's own (no global
//! recorder, so two servers in one process, as in tests, never share counts).
//!
//! Two kinds of series:
//! - counted as requests run: `momentum_http_requests_total` and
//!   `momentum_http_request_duration_seconds` by route, method and status, and
//!   `momentum_model_reloads_total` by outcome;
//! - read from the served snapshot and the pipeline's files at each scrape ([`Metrics::refresh`]):
//!   the model (`momentum_model_info`, `momentum_model_loaded`), the data's age, the latest
//!   picks of the picks history and the monitor's report (`reports/monitor.json`).
//!
//! An age whose file is missing is `+Inf` (never written is as stale as it gets, so the
//! staleness alerts fire); a monitor statistic the report has no value for (too little live
//! data) is `NaN`, which no alert threshold crosses. A report of another model version than
//! the one served (the monitor has not run since a promotion) is not this model's: every
//! monitor series is then `NaN`, and `momentum_monitor_model_matches` is 0.
//!
//! A scrape ([`Metrics::scrape`]) refreshes and renders under one lock, so two concurrent
//! scrapes never see each other's half-refreshed series.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveTime, Utc};
use momentum_engine::Arm;
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry,
    TextEncoder,
};
use serde::Deserialize;

use crate::state::{Snapshot, scans_of, source_name};

/// The server's metrics; cheap to clone (one registry behind an `Arc`).
#[derive(Clone)]
pub struct Metrics(Arc<Families>);

struct Families {
    /// Held from the refresh of a scrape to its rendering.
    scrape: Mutex<()>,
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    reloads: IntCounterVec,
    model_info: GaugeVec,
    model_loaded: Gauge,
    price_age: Gauge,
    price_max_age: Gauge,
    scan_age: Gauge,
    picks_selected: Gauge,
    picks_scans: Gauge,
    pick_score: GaugeVec,
    pick_rank: GaugeVec,
    pick_selected: GaugeVec,
    monitor_matches: Gauge,
    check_value: GaugeVec,
    check_threshold: GaugeVec,
    check_breached: GaugeVec,
    retrain: Gauge,
    live_mean: Gauge,
    promised_mean: Gauge,
    live_periods: Gauge,
    live_equity: GaugeVec,
}

impl Metrics {
    /// A registry with every family registered.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let family = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(family.clone()))
                .expect("registered once");
            family
        };
        let gauges = |name: &str, help: &str, labels: &[&str]| {
            let family = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(family.clone()))
                .expect("registered once");
            family
        };
        let gauge = |name: &str, help: &str| {
            let family = Gauge::with_opts(Opts::new(name, help)).expect("valid metric");
            registry
                .register(Box::new(family.clone()))
                .expect("registered once");
            family
        };
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "momentum_http_request_duration_seconds",
                "Time from the request to the response head, by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(latency.clone()))
            .expect("registered once");
        let families = Families {
            requests: counter(
                "momentum_http_requests_total",
                "HTTP requests answered, by route, method and status",
                &["route", "method", "status"],
            ),
            latency,
            reloads: counter(
                "momentum_model_reloads_total",
                "Model reloads (a changed params file, the registry, SIGHUP), by outcome",
                &["outcome"],
            ),
            model_info: gauges(
                "momentum_model_info",
                "The served model: always 1, its version and parameters as labels",
                &[
                    "alias", "source", "version", "lookback", "skip", "holding", "top_k",
                ],
            ),
            model_loaded: gauge(
                "momentum_model_loaded",
                "1 when a model is served, 0 when requests are answered 503",
            ),
            price_age: gauge(
                "momentum_price_age_seconds",
                "Seconds since the newest price of the price cache (its date at 00:00 UTC)",
            ),
            price_max_age: gauge(
                "momentum_price_max_age_seconds",
                "scan.max_staleness_days in seconds: the scan refuses older prices",
            ),
            scan_age: gauge(
                "momentum_scan_age_seconds",
                "Seconds since the as-of day (00:00 UTC) of the served alias's newest scan in the picks history",
            ),
            picks_selected: gauge(
                "momentum_picks_selected",
                "Tickers selected by the latest scan of the served alias",
            ),
            picks_scans: gauge(
                "momentum_picks_history_scans",
                "Scans of the served alias in the picks history",
            ),
            pick_score: gauges(
                "momentum_pick_score",
                "Momentum score of each ticker in the latest scan (eligible tickers)",
                &["ticker"],
            ),
            pick_rank: gauges(
                "momentum_pick_rank",
                "1-based rank of each ticker in the latest scan (eligible tickers)",
                &["ticker"],
            ),
            pick_selected: gauges(
                "momentum_pick_selected",
                "1 for each ticker the latest scan selected, 0 otherwise",
                &["ticker"],
            ),
            check_value: gauges(
                "momentum_monitor_check_value",
                "Each monitor statistic (psi; ks: its p-value; mean_return: its p-value; sharpe: the live Sharpe)",
                &["check"],
            ),
            check_threshold: gauges(
                "momentum_monitor_check_threshold",
                "The threshold each monitor statistic is held to",
                &["check"],
            ),
            check_breached: gauges(
                "momentum_monitor_check_breached",
                "1 when the monitor found the check breached",
                &["check"],
            ),
            monitor_matches: gauge(
                "momentum_monitor_model_matches",
                "1 when the monitor report is of the served model version; 0 (and every monitor series NaN) when not",
            ),
            retrain: gauge(
                "momentum_monitor_retrain_recommended",
                "1 when the monitor recommends retraining",
            ),
            live_mean: gauge(
                "momentum_monitor_live_mean_return",
                "Mean realised return per holding period of the live record",
            ),
            promised_mean: gauge(
                "momentum_monitor_promised_mean_return",
                "Mean return per holding period the backtest promised",
            ),
            live_periods: gauge(
                "momentum_monitor_live_periods",
                "Non-overlapping holding periods in the live record",
            ),
            live_equity: gauges(
                "momentum_live_equity",
                "Growth of 1 over the live record's periods: the picks, and buy and hold",
                &["series"],
            ),
            registry,
            scrape: Mutex::new(()),
        };
        // Both outcomes from the start: a rate over a series that appears with its first
        // increment misses that increment.
        for outcome in ["ok", "error"] {
            families.reloads.with_label_values(&[outcome]);
        }
        Self(Arc::new(families))
    }

    /// Counts one answered request.
    pub fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        let labels = [route, method, status.as_str()];
        self.0.requests.with_label_values(&labels).inc();
        self.0
            .latency
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one reload.
    pub fn reloaded(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.0.reloads.with_label_values(&[outcome]).inc();
    }

    /// One scrape: [`Metrics::refresh`] then [`Metrics::render`], under the scrape lock.
    pub fn scrape(
        &self,
        snapshot: &Snapshot,
        alias: Arm,
        monitor_report: &Path,
        now: SystemTime,
    ) -> String {
        let _scrape = self.0.scrape.lock().unwrap_or_else(|e| e.into_inner());
        self.refresh(snapshot, alias, monitor_report, now);
        self.render()
    }

    /// Sets the model and file series from `snapshot` and the files its settings name, as of
    /// `now`. Blocking: it reads the picks history (Parquet) and the monitor report. Called by
    /// [`Metrics::scrape`], which holds the lock that keeps a concurrent scrape from rendering
    /// the series between their reset and their new values.
    fn refresh(&self, snapshot: &Snapshot, alias: Arm, monitor_report: &Path, now: SystemTime) {
        let f = &self.0;
        f.model_info.reset();
        f.model_loaded
            .set(f64::from(u8::from(snapshot.model.is_some())));
        if let Some(model) = &snapshot.model {
            let p = &model.params;
            let numbers = [p.lookback, p.skip, p.holding, p.top_k].map(|n| n.to_string());
            f.model_info
                .with_label_values(&[
                    alias.as_str(),
                    source_name(snapshot.source),
                    model.version().unwrap_or_default(),
                    &numbers[0],
                    &numbers[1],
                    &numbers[2],
                    &numbers[3],
                ])
                .set(1.0);
        }
        let settings = &snapshot.settings;
        let now_utc = DateTime::<Utc>::from(now);
        let manifest = momentum_data::manifest_path(&settings.data.out);
        f.price_age
            .set(match momentum_data::read_manifest(&manifest) {
                Ok(manifest) => {
                    let newest = manifest.end.and_time(NaiveTime::MIN).and_utc();
                    (now_utc - newest).as_seconds_f64()
                }
                Err(_) => f64::INFINITY,
            });
        #[expect(
            clippy::cast_precision_loss,
            reason = "days of staleness, far below 2^52"
        )]
        f.price_max_age
            .set(settings.scan.max_staleness_days as f64 * 86_400.0);
        self.refresh_picks(&settings.scan.history, alias, now_utc);
        let served = snapshot.model.as_ref().and_then(|m| m.version());
        self.refresh_monitor(monitor_report, served);
    }

    fn refresh_picks(&self, history: &Path, alias: Arm, now: DateTime<Utc>) {
        let f = &self.0;
        f.pick_score.reset();
        f.pick_rank.reset();
        f.pick_selected.reset();
        let mine = match scans_of(history, alias) {
            Ok(mine) => mine,
            Err(err) => {
                tracing::warn!("metrics: {}", momentum_http::chain(&err));
                // Unknown, not none: a history that cannot be read has no count, and no scan
                // as recent as an alert would want.
                f.picks_scans.set(f64::NAN);
                f.picks_selected.set(f64::NAN);
                f.scan_age.set(f64::INFINITY);
                return;
            }
        };
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        f.picks_scans.set(mine.len() as f64);
        // The newest scan's day, not the file's time: a scan of another alias, or a copy of
        // the file, rewrites the file without a new scan of this one.
        f.scan_age.set(mine.last().map_or(f64::INFINITY, |latest| {
            (now - latest.as_of.and_time(NaiveTime::MIN).and_utc()).as_seconds_f64()
        }));
        let Some(latest) = mine.last() else {
            f.picks_selected.set(0.0);
            return;
        };
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        f.picks_selected.set(latest.selected().count() as f64);
        for pick in &latest.picks {
            f.pick_selected
                .with_label_values(&[pick.ticker.as_str()])
                .set(f64::from(u8::from(pick.selected)));
            if let (Some(score), Some(rank)) = (pick.score, pick.rank) {
                let ticker = [pick.ticker.as_str()];
                f.pick_score.with_label_values(&ticker).set(score);
                #[expect(clippy::cast_precision_loss, reason = "ranks far below 2^52")]
                f.pick_rank.with_label_values(&ticker).set(rank as f64);
            }
        }
    }

    /// The monitor's series from the report at `path` when it is of the `served` version;
    /// when it is of another (or no model is served, or there is no report), every value is
    /// `NaN` (the checks keep their names) and `momentum_monitor_model_matches` is 0.
    fn refresh_monitor(&self, path: &Path, served: Option<&str>) {
        let f = &self.0;
        f.check_value.reset();
        f.check_threshold.reset();
        f.check_breached.reset();
        let report = std::fs::read(path)
            .ok()
            .and_then(
                |bytes| match serde_json::from_slice::<MonitorView>(&bytes) {
                    Ok(report) => Some(report),
                    Err(err) => {
                        tracing::warn!("metrics: {}: {err}", path.display());
                        None
                    }
                },
            )
            .unwrap_or_default();
        let matches = served.is_some() && report.model_version.as_deref() == served;
        f.monitor_matches.set(f64::from(u8::from(matches)));
        if !matches && report.model_version.is_some() {
            tracing::debug!(
                "metrics: {} is of model {}, not the served {}: its series are NaN",
                path.display(),
                report.model_version.as_deref().unwrap_or_default(),
                served.unwrap_or("(none)")
            );
        }
        // The report's value when it is of the served model.
        let own = |value: Option<f64>| value.filter(|_| matches).unwrap_or(f64::NAN);
        let flag = |value: Option<bool>| own(value.map(|b| f64::from(u8::from(b))));
        for check in &report.checks {
            let labels = [check.name.as_str()];
            f.check_value
                .with_label_values(&labels)
                .set(own(check.value));
            f.check_threshold
                .with_label_values(&labels)
                .set(own(check.threshold));
            f.check_breached
                .with_label_values(&labels)
                .set(flag(Some(check.breached)));
        }
        f.retrain.set(flag(report.retrain_recommended));
        f.live_mean.set(own(report.live_mean_return));
        f.promised_mean.set(own(report.promised_mean_return));
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        f.live_periods.set(own(Some(report.live.len() as f64)));
        let grow = |pick: fn(&LiveView) -> f64| {
            own(Some(report.live.iter().map(|p| 1.0 + pick(p)).product()))
        };
        f.live_equity
            .with_label_values(&["picks"])
            .set(grow(|p| p.basket_return));
        f.live_equity
            .with_label_values(&["buy_and_hold"])
            .set(grow(|p| p.baseline_return));
    }

    /// Every series in the Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.0.registry.gather(), &mut out)
            .expect("encoding into memory");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The fields of `reports/monitor.json` the metrics read. The scanner's `MonitorReport` is
/// the writer's type and cannot be shared cheaply: it derives `Serialize` only, its check
/// names are `&'static str` and its parameters use a write-side encoding; giving it a reading
/// side would change the scanner for one reader. A reader of a file another process wrote
/// takes what it needs and tolerates the rest.
#[derive(Debug, Default, Deserialize)]
struct MonitorView {
    model_version: Option<String>,
    #[serde(default)]
    checks: Vec<CheckView>,
    retrain_recommended: Option<bool>,
    live_mean_return: Option<f64>,
    promised_mean_return: Option<f64>,
    #[serde(default)]
    live: Vec<LiveView>,
}

#[derive(Debug, Deserialize)]
struct CheckView {
    name: String,
    value: Option<f64>,
    threshold: Option<f64>,
    breached: bool,
}

#[derive(Debug, Deserialize)]
struct LiveView {
    basket_return: f64,
    baseline_return: f64,
}

/// The text format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
