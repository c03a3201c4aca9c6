//! `params.yaml` as typed settings, parsed once.
//!
//! Each block is the type of the crate that uses it, so a parameter has one form from the file
//! to the code that reads it: `backtest` is the engine's [`ExperimentSpec`], `promotion` the
//! scanner's [`Gates`], `production` and `challenger` the [`ProductionBlock`] encoding of a
//! [`momentum_scanner::Model`], `monitor` the scanner's [`MonitorSettings`], `ab` its
//! [`AbSettings`], `serve` the scoring server's [`ServeSettings`]. Every block has
//! defaults, so the file (or any key) may be absent; an unknown or misspelt key is an error
//! naming its path (`backtest.grid.top_kk: unknown field ...`).
//!
//! Validation names the key ([`SettingsError::Invalid`]); a caller that took a value from
//! elsewhere (a command-line flag) maps the key to its own name when it reports the error.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use momentum_data::{PlausibleRange, Source};
use momentum_engine::Arm;
use momentum_engine::{EngineError, ExperimentSpec};
use momentum_scanner::ScanError;
use momentum_scanner::ab::AbSettings;
use momentum_scanner::model::ProductionBlock;
use momentum_scanner::monitor::MonitorSettings;
use momentum_scanner::promotion::Gates;
use serde::{Deserialize, Deserializer};

/// The whole `params.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where prices come from (`momentum fetch`).
    pub data: DataSettings,
    /// Where the aligned panel goes (`momentum features`).
    pub features: FeaturesSettings,
    /// The experiment (`momentum backtest`).
    pub backtest: ExperimentSpec,
    /// The promotion gates (`momentum promote`).
    pub promotion: Gates,
    /// The production model (the champion), as `momentum promote` writes it.
    pub production: ProductionBlock,
    /// The model scanned beside it in shadow, as `momentum promote --alias challenger` writes
    /// it; empty when there is none.
    pub challenger: ProductionBlock,
    /// The champion-challenger comparison (`momentum ab`).
    pub ab: AbSettings,
    /// The run store and the tracking server.
    pub tracking: TrackingSettings,
    /// The daily scan.
    pub scan: ScanSettings,
    /// The monitor's thresholds.
    pub monitor: MonitorSettings,
    /// The scoring server (`momentum serve`).
    pub serve: ServeSettings,
}

/// The `data` block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataSettings {
    /// `sample`, `csv`, `parquet` or `financialdatasets`.
    #[serde(deserialize_with = "from_str")]
    pub source: Source,
    /// Input file of the csv and parquet sources (empty: none).
    pub path: PathBuf,
    /// Tickers in universe order; empty: every ticker the source has.
    pub tickers: Vec<String>,
    /// First date kept.
    pub start: NaiveDate,
    /// Last date kept.
    pub end: NaiveDate,
    /// The price cache (Parquet); its manifest goes beside it.
    pub out: PathBuf,
    /// Drop requested tickers without prices instead of failing.
    pub allow_missing: bool,
    /// Client-side API rate limit.
    pub requests_per_minute: u32,
    /// Tickers downloaded at the same time.
    pub concurrency: usize,
    /// Prices above this are implausible (a warning, or refused with `strict_prices`).
    pub max_price: f64,
    /// A close that moves by more than this factor from the previous close is implausible.
    pub max_daily_jump: f64,
    /// Refuse implausible prices instead of warning.
    pub strict_prices: bool,
}

impl Default for DataSettings {
    fn default() -> Self {
        Self {
            source: Source::Sample,
            path: PathBuf::new(),
            tickers: Vec::new(),
            start: NaiveDate::from_ymd_opt(1990, 1, 1).expect("a valid date"),
            end: NaiveDate::from_ymd_opt(2022, 12, 31).expect("a valid date"),
            out: PathBuf::from("data/raw/prices.parquet"),
            allow_missing: false,
            requests_per_minute: 60,
            concurrency: 4,
            max_price: PlausibleRange::default().max_price,
            max_daily_jump: PlausibleRange::default().max_daily_jump,
            strict_prices: false,
        }
    }
}

/// The `features` block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeaturesSettings {
    /// The aligned panel (Parquet).
    pub panel: PathBuf,
}

impl Default for FeaturesSettings {
    fn default() -> Self {
        Self {
            panel: PathBuf::from("data/features/panel.parquet"),
        }
    }
}

/// The `tracking` block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackingSettings {
    /// Empty: the local store only; `http(s)://...`: an MLflow server too
    /// (`MLFLOW_TRACKING_URI` overrides it). Never holds credentials.
    pub uri: String,
    /// The local run store.
    pub store: PathBuf,
    /// The experiment runs go to.
    pub experiment: String,
    /// The registered model's name.
    pub model_name: String,
    /// Child runs of a backtest: the best combinations by the objective (0: none). The whole
    /// grid is the parent run's `grid.parquet` artifact.
    pub children: usize,
    /// The key of the layout before `grid.parquet` (grid runs pushed at once); read so that
    /// older params files still parse, and otherwise ignored with a warning.
    pub remote_children: Option<usize>,
}

impl Default for TrackingSettings {
    fn default() -> Self {
        Self {
            uri: String::new(),
            store: PathBuf::from("mlruns"),
            experiment: "momentum".into(),
            model_name: "momentum-xs".into(),
            children: 20,
            remote_children: None,
        }
    }
}

/// The `scan` block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanSettings {
    /// Refuse to score when the newest price is older than this many calendar days.
    pub max_staleness_days: i64,
    /// The picks JSON; the CSV goes beside it.
    pub picks: PathBuf,
    /// The picks history (Parquet).
    pub history: PathBuf,
}

impl Default for ScanSettings {
    fn default() -> Self {
        Self {
            max_staleness_days: 7,
            picks: PathBuf::from("reports/picks.json"),
            history: PathBuf::from("data/predictions/picks.parquet"),
        }
    }
}

/// The `serve` block: how `momentum serve` listens and what it watches. Read once at start
/// (the server reloads the model blocks of the file, not these).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeSettings {
    /// The address to listen on (`0.0.0.0` in a container).
    pub host: String,
    /// The port (0: any free port, printed at start).
    pub port: u16,
    /// Which model to serve: `champion` (the production block or alias) or `challenger`.
    pub alias: Arm,
    /// The largest request body accepted, in bytes; a larger one is refused with 413.
    pub max_body_bytes: usize,
    /// How often the params file (and, with a tracking server, the registry alias) is checked
    /// for a new model, in milliseconds. `SIGHUP` checks at once.
    pub poll_ms: u64,
    /// The longest wait for in-flight requests after `SIGTERM`, in seconds (at least 1).
    pub drain_seconds: u64,
    /// The monitor's report, read for the drift and live-record metrics.
    pub monitor_report: PathBuf,
    /// The longest a client may take to send a request head, in seconds, from the
    /// connection's start or, on a kept-alive connection, from the previous answer; the
    /// connection is closed after (a client sending part of a head cannot hold it).
    pub header_timeout_seconds: u64,
    /// The longest a request may take, from its head to its answer (body, queue and scoring
    /// included), in seconds; a slower one is answered 504.
    pub request_timeout_seconds: u64,
    /// The longest a client may take to send a request body, in seconds; a slower one is
    /// answered 408.
    pub body_timeout_seconds: u64,
    /// How many requests may score (or read the picks history) at once; more wait for a slot
    /// (within `request_timeout_seconds`).
    pub max_concurrency: usize,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            alias: Arm::Champion,
            max_body_bytes: 1 << 20,
            poll_ms: 2000,
            drain_seconds: 30,
            monitor_report: PathBuf::from("reports/monitor.json"),
            header_timeout_seconds: 10,
            request_timeout_seconds: 30,
            body_timeout_seconds: 10,
            max_concurrency: 8,
        }
    }
}

impl ServeSettings {
    /// Checks the ranges: a body limit, a concurrency or a timeout of 0 would refuse every
    /// request, a poll faster than 10 ms would spin, a drain of 0 s would cut the requests in
    /// flight at `SIGTERM`.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the first key out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_lifecycle::ServeSettings;
    ///
    /// assert!(ServeSettings::default().validate().is_ok());
    /// let err = ServeSettings { poll_ms: 1, ..ServeSettings::default() }.validate().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid serve.poll_ms = 1: must be at least 10");
    /// let forever = ServeSettings { header_timeout_seconds: u64::MAX, ..ServeSettings::default() };
    /// assert_eq!(
    ///     forever.validate().unwrap_err().to_string(),
    ///     "invalid serve.header_timeout_seconds = 18446744073709551615: must be at most 86400 (a day)"
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), SettingsError> {
        let at_least = |key: &str, value: u64, min: u64| {
            (value < min)
                .then(|| SettingsError::Invalid {
                    key: format!("serve.{key}"),
                    value: Some(value.to_string()),
                    reason: format!("must be at least {min}"),
                })
                .map_or(Ok(()), Err)
        };
        // A duration is added to the clock's instants: one beyond a day is no limit anyway,
        // and near u64::MAX the sum overflows (every connection's task panicked).
        let at_most = |key: &str, value: u64, max: u64| {
            (value > max)
                .then(|| SettingsError::Invalid {
                    key: format!("serve.{key}"),
                    value: Some(value.to_string()),
                    reason: format!("must be at most {max} (a day)"),
                })
                .map_or(Ok(()), Err)
        };
        const DAY_SECONDS: u64 = 86_400;
        at_least("max_body_bytes", self.max_body_bytes as u64, 1)?;
        at_least("poll_ms", self.poll_ms, 10)?;
        at_most("poll_ms", self.poll_ms, DAY_SECONDS * 1000)?;
        for (key, seconds) in [
            ("drain_seconds", self.drain_seconds),
            ("header_timeout_seconds", self.header_timeout_seconds),
            ("request_timeout_seconds", self.request_timeout_seconds),
            ("body_timeout_seconds", self.body_timeout_seconds),
        ] {
            at_least(key, seconds, 1)?;
            at_most(key, seconds, DAY_SECONDS)?;
        }
        at_least("max_concurrency", self.max_concurrency as u64, 1)?;
        Ok(())
    }
}

/// What is wrong with the settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file exists (or was named) but cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML for the schema: the key path and the parser's message (with
    /// its line and column).
    #[error("invalid {}: {key}: {error}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where in the schema (`backtest.grid.lookback[1]`), `.` for the root.
        key: String,
        /// The parser's error, in this error's message (not a source too, which a cause
        /// chain would print twice).
        error: Box<serde_saphyr::Error>,
    },
    /// A key given twice in one mapping: which value was meant cannot be told, so neither is
    /// taken.
    #[error("invalid {}: {key} is set twice (again at line {line}, column {column})", path.display())]
    DuplicateKey {
        /// The file.
        path: PathBuf,
        /// The key's path (`backtest.cost_bps`).
        key: String,
        /// Where the second one is, 1-based.
        line: u64,
        /// Its column, 1-based.
        column: u64,
    },
    /// A value out of its range, named by its key.
    #[error("invalid {key}{}: {reason}", value.as_ref().map(|v| format!(" = {v}")).unwrap_or_default())]
    Invalid {
        /// The key, e.g. `backtest.cost_bps`.
        key: String,
        /// The value, where it helps.
        value: Option<String>,
        /// What the range is.
        reason: String,
    },
}

impl SettingsError {
    /// A value out of range at `key`.
    pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            value: None,
            reason: reason.into(),
        }
    }

    /// The engine's refusal of an experiment parameter, named by its key in `params.yaml`
    /// (`cost_bps` is `backtest.cost_bps`, `top_k` is `backtest.grid.top_k`); other errors
    /// are returned as they are.
    ///
    /// # Errors
    /// `err` itself when it is not [`EngineError::InvalidParameter`].
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_engine::{EngineError, GridSpec, split};
    /// use momentum_lifecycle::SettingsError;
    ///
    /// let grid = GridSpec { lookback: vec![20], skip: vec![0], holding: vec![5], top_k: vec![0] };
    /// let refused = grid.combinations(10.0).unwrap_err();
    /// let named = SettingsError::from_engine(refused).unwrap();
    /// assert_eq!(named.to_string(), "invalid backtest.grid.top_k = 0: must be at least 1");
    ///
    /// let named = SettingsError::from_engine(split(100, 1.0).unwrap_err()).unwrap();
    /// assert!(matches!(&named, SettingsError::Invalid { key, .. } if key == "backtest.train_fraction"));
    ///
    /// // Not a parameter: handed back.
    /// let other = EngineError::EmptyPanel { days: 0, tickers: 0 };
    /// assert!(matches!(SettingsError::from_engine(other), Err(EngineError::EmptyPanel { .. })));
    /// ```
    pub fn from_engine(err: EngineError) -> Result<Self, EngineError> {
        match &err {
            EngineError::InvalidParameter {
                name,
                value,
                reason,
            } => {
                let key = match *name {
                    "lookback" | "skip" | "holding" | "top_k" => format!("backtest.grid.{name}"),
                    other => format!("backtest.{other}"),
                };
                Ok(Self::Invalid {
                    key,
                    value: Some(value.clone()),
                    reason: (*reason).into(),
                })
            }
            _ => Err(err),
        }
    }

    /// A monitor setting out of range, named by its key.
    pub fn from_scan(err: ScanError) -> Result<Self, ScanError> {
        match err {
            ScanError::InvalidSetting { name, reason } => Ok(Self::invalid(name, reason)),
            other => Err(other),
        }
    }
}

/// A scanner's check of its settings as the lifecycle reports it: a setting out of range as
/// [`SettingsError::Invalid`] (so the binary can name the flag that set it), anything else as
/// it is.
pub(crate) fn setting_check(err: ScanError) -> crate::LifecycleError {
    match SettingsError::from_scan(err) {
        Ok(named) => crate::LifecycleError::Settings(named),
        Err(other) => crate::LifecycleError::Scan(other),
    }
}

impl Settings {
    /// The block of `arm`: `production` for the champion, `challenger` for the challenger.
    pub fn block(&self, arm: Arm) -> &ProductionBlock {
        match arm {
            Arm::Champion => &self.production,
            Arm::Challenger => &self.challenger,
        }
    }

    /// Reads `path`. A missing file is an error only when `required` (the user named it); the
    /// default `params.yaml` may be absent, and then every default applies.
    ///
    /// # Errors
    /// [`SettingsError::Read`], [`SettingsError::Parse`] naming the key, or
    /// [`SettingsError::Invalid`] for credentials in `tracking.uri` or an empty path (`data.out`,
    /// `features.panel`, `tracking.store`, `scan.picks`, `scan.history`,
    /// `serve.monitor_report`).
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_lifecycle::{Settings, SettingsError};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("params.yaml");
    /// // The default file may be missing; a file the user named may not.
    /// assert_eq!(Settings::load(&path, false)?, Settings::default());
    /// assert!(matches!(Settings::load(&path, true), Err(SettingsError::Read { .. })));
    ///
    /// std::fs::write(&path, "# Settings.\npromotion:\n  min_roi: 0.1\n")?;
    /// assert_eq!(Settings::load(&path, true)?.promotion.min_roi, 0.1);
    /// // Credentials do not belong in a committed file.
    /// std::fs::write(&path, "tracking:\n  uri: http://bob:secret@localhost:5000\n")?;
    /// let err = Settings::load(&path, true).unwrap_err();
    /// assert!(err.to_string().starts_with("invalid tracking.uri: must not hold credentials"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(path: &Path, required: bool) -> Result<Self, SettingsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Self::default());
            }
            Err(source) => {
                return Err(SettingsError::Read {
                    path: path.into(),
                    source,
                });
            }
        };
        Self::parse(&text, path)
    }

    /// Parses the text of a params file (`path` names it in errors).
    ///
    /// # Errors
    /// As [`Settings::load`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::path::Path;
    /// use momentum_engine::Objective;
    /// use momentum_lifecycle::{Settings, SettingsError};
    ///
    /// let text = "backtest:\n  objective: sortino\n  cost_bps: 5\nmonitor:\n  recent_days: 21\n";
    /// let settings = Settings::parse(text, Path::new("params.yaml"))?;
    /// assert_eq!(settings.backtest.objective, Objective::Sortino);
    /// assert_eq!(settings.backtest.cost_bps, 5.0);
    /// assert_eq!(settings.monitor.recent_days, 21);
    /// // A key left out keeps its default.
    /// assert_eq!(settings.backtest.train_fraction, Some(0.7));
    /// assert_eq!(settings.backtest.grid.top_k, [3, 5]);
    /// assert_eq!(settings.production.model()?, None);
    ///
    /// // A misspelt key is an error naming its path.
    /// let typo = "backtest:\n  grid:\n    top_kk: [3]\n";
    /// let err = Settings::parse(typo, Path::new("params.yaml")).unwrap_err();
    /// assert!(matches!(&err, SettingsError::Parse { key, .. } if key == "backtest.grid.top_kk"));
    /// assert!(err.to_string().starts_with(
    ///     "invalid params.yaml: backtest.grid.top_kk: unknown field `top_kk`"
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(text: &str, path: &Path) -> Result<Self, SettingsError> {
        // Without the source snippet the parser's message is one line ("line 3 column 20:
        // invalid u64"), as every error of the CLI is.
        let options = serde_saphyr::options! { with_snippet: false };
        let mut key = String::from(".");
        let parsed = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
            serde_path_to_error::deserialize(de).map_err(|err| {
                key = err.path().to_string();
                err.into_inner()
            })
        });
        let settings: Self = parsed.map_err(|error| match error {
            // The parser names the repeated key; the path ends in the map that holds it (`?`,
            // an entry not yet read).
            serde_saphyr::Error::DuplicateMappingKey {
                key: Some(name),
                location,
            } => SettingsError::DuplicateKey {
                path: path.into(),
                key: match key.trim_end_matches('?').trim_end_matches('.') {
                    "" => name,
                    parent => format!("{parent}.{name}"),
                },
                line: location.line(),
                column: location.column(),
            },
            error => SettingsError::Parse {
                path: path.into(),
                key,
                error: Box::new(error),
            },
        })?;
        settings.check_tracking_uri()?;
        settings.check_not_empty()?;
        if settings.tracking.remote_children.is_some() {
            tracing::warn!(
                "{}: tracking.remote_children is ignored: a backtest logs its best \
                 tracking.children combinations as child runs and the whole grid as grid.parquet",
                path.display()
            );
        }
        Ok(settings)
    }

    /// params.yaml is committed and attached to every backtest run as an artifact, so a
    /// password in it would be readable by everyone who can read the runs. Any `@` is refused:
    /// a password may hold `/` or `@`, and a tracking URI needs neither.
    fn check_tracking_uri(&self) -> Result<(), SettingsError> {
        if self.tracking.uri.contains('@') {
            return Err(SettingsError::invalid(
                "tracking.uri",
                "must not hold credentials (they would be uploaded with every run's \
                 params.yaml); set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or \
                 MLFLOW_TRACKING_TOKEN",
            ));
        }
        Ok(())
    }

    /// Every key whose value names a file or directory a command reads or writes must name
    /// one: an empty path is the working directory (an empty `tracking.store` would put the
    /// run store's `models/` beside the project's) or no file at all, an error naming no path.
    /// `data.path` is not among them: empty, it means none (the data crate refuses a file
    /// source without one). A flag cannot set an empty path (the command line refuses an
    /// empty value), so the file's values are the ones to check. The same holds for the
    /// names of the tracking experiment and the registered model (blank, MLflow refuses them
    /// mid-run and the local store files runs under no name).
    fn check_not_empty(&self) -> Result<(), SettingsError> {
        let tracking = &self.tracking;
        let empty = [
            ("data.out", self.data.out.as_os_str().is_empty()),
            ("features.panel", self.features.panel.as_os_str().is_empty()),
            ("tracking.store", tracking.store.as_os_str().is_empty()),
            ("scan.picks", self.scan.picks.as_os_str().is_empty()),
            ("scan.history", self.scan.history.as_os_str().is_empty()),
            (
                "serve.monitor_report",
                self.serve.monitor_report.as_os_str().is_empty(),
            ),
            ("tracking.experiment", tracking.experiment.trim().is_empty()),
            ("tracking.model_name", tracking.model_name.trim().is_empty()),
        ];
        match empty.iter().find(|(_, is_empty)| *is_empty) {
            Some((key, _)) => Err(SettingsError::invalid(*key, "must not be empty")),
            None => Ok(()),
        }
    }
}

/// A field read through its `FromStr` (the data crate's [`Source`] names).
fn from_str<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, SettingsError> {
        Settings::parse(text, Path::new("params.yaml"))
    }

    #[test]
    fn the_committed_params_file_parses_with_its_grid_and_model() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../params.yaml");
        let settings = Settings::load(&path, true).expect("params.yaml parses");
        assert_eq!(settings.data.source, Source::Sample);
        assert_eq!(settings.backtest.grid.lookback, vec![20, 60, 120, 250]);
        assert_eq!(settings.backtest.grid.top_k, vec![3, 5]);
        assert_eq!(settings.backtest.train_fraction, Some(0.7));
        // The committed production model is the one promoted from the sample.
        let model = settings.production.model().unwrap().expect("a model");
        assert_eq!(model.universe.len(), 20);
        assert_eq!(model.params.lookback, 250);
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_its_path_and_the_known_keys() {
        let err = parse("backtest:\n  grid:\n    top_kk: [3]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid params.yaml: backtest.grid.top_kk: unknown field `top_kk`"),
            "{err}"
        );
        assert!(
            err.contains("expected one of lookback, skip, holding, top_k"),
            "{err}"
        );
        let err = parse("backtest:\n  cost_bsp: 5\n").unwrap_err().to_string();
        assert!(err.contains("backtest.cost_bsp"), "{err}");
        let err = parse("monitor:\n  recent_dayz: 5\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("monitor.recent_dayz"), "{err}");
        let err = parse("production:\n  versoin: '1'\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("production.versoin"), "{err}");
    }

    #[test]
    fn a_key_set_twice_is_named_with_its_path_and_second_line() {
        let err = parse("backtest:\n  cost_bps: 10\n  objective: sharpe\n  cost_bps: 5\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid params.yaml: backtest.cost_bps is set twice (again at line 4, column 3)"
        );
        let err = parse("data:\n  source: sample\ndata:\n  source: csv\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid params.yaml: data is set twice (again at line 3, column 1)"
        );
        let err = parse("backtest:\n  grid:\n    top_k: [3]\n    top_k: [5]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(" backtest.grid.top_k is set twice (again at line 4,"),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_value_names_its_key_line_and_column() {
        let err = parse("backtest:\n  grid:\n    lookback: [20, x]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("backtest.grid.lookback[1]"), "{err}");
        assert!(err.contains("line 3, column 20"), "{err}");
        let err = parse("data:\n  source: ftp\n").unwrap_err().to_string();
        assert!(err.contains("data.source") && err.contains("ftp"), "{err}");
        let err = parse("data:\n  start: 2020-13-01\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("data.start"), "{err}");
        let err = parse("backtest:\n  objective: sharp\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("backtest.objective") && err.contains("sharpe"),
            "{err}"
        );
    }

    #[test]
    fn credentials_in_the_tracking_uri_are_refused_without_echoing_them() {
        for uri in [
            "http://bob:s3cret@127.0.0.1:5000",
            "bob:s3cret@host:5000/x",
            "http://bob:s3/cret@host",
        ] {
            let err = parse(&format!("tracking:\n  uri: \"{uri}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("invalid tracking.uri: must not hold credentials"),
                "{err}"
            );
            assert!(!err.contains("s3") && !err.contains("cret"), "{err}");
        }
        assert!(parse("tracking:\n  uri: \"http://127.0.0.1:5000/prefix\"\n").is_ok());
    }

    #[test]
    fn an_empty_path_or_name_is_refused_naming_its_key() {
        for (block, key) in [
            ("data", "out"),
            ("features", "panel"),
            ("tracking", "store"),
            ("scan", "picks"),
            ("scan", "history"),
            ("serve", "monitor_report"),
            ("tracking", "experiment"),
            ("tracking", "model_name"),
        ] {
            let err = parse(&format!("{block}:\n  {key}: \"\"\n")).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid {block}.{key}: must not be empty")
            );
        }
        // Blank is empty for a name.
        let err = parse("tracking:\n  experiment: \"  \"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid tracking.experiment: must not be empty"
        );
        // Empty, the input file of a csv or parquet source means none: the sample needs none.
        assert!(parse("data:\n  path: \"\"\n").is_ok());
    }

    #[test]
    fn a_missing_default_file_gives_defaults_but_a_named_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("params.yaml");
        assert_eq!(Settings::load(&path, false).unwrap(), Settings::default());
        let err = Settings::load(&path, true).unwrap_err();
        assert!(matches!(err, SettingsError::Read { .. }), "{err}");
    }

    #[test]
    fn a_train_fraction_of_null_means_no_split() {
        let settings = parse("backtest:\n  train_fraction: null\n").unwrap();
        assert_eq!(settings.backtest.train_fraction, None);
    }

    #[test]
    fn engine_parameters_are_named_by_their_keys() {
        let err = EngineError::InvalidParameter {
            name: "top_k",
            value: "0".into(),
            reason: "must be at least 1",
        };
        let named = SettingsError::from_engine(err).unwrap();
        assert_eq!(
            named.to_string(),
            "invalid backtest.grid.top_k = 0: must be at least 1"
        );
        let err = EngineError::InvalidParameter {
            name: "cost_bps",
            value: "5000".into(),
            reason: "must be below 5000",
        };
        let named = SettingsError::from_engine(err).unwrap();
        assert!(
            matches!(named, SettingsError::Invalid { ref key, .. } if key == "backtest.cost_bps")
        );
    }
}
