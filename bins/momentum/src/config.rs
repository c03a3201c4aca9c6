//! `params.yaml`: the pipeline's parameters, read once and handed to each subcommand.
//!
//! Every field has a default so the binary works without the file (in Docker, or from another
//! directory); flags override what the file says. Unknown keys are an error so a typo in
//! `params.yaml` is reported instead of silently ignored.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The whole `params.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data: DataConfig,
    pub features: FeaturesConfig,
    pub backtest: BacktestConfig,
    pub promotion: PromotionConfig,
    pub production: ProductionConfig,
    pub tracking: TrackingConfig,
    pub scan: ScanConfig,
    pub monitor: MonitorConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    pub source: String,
    pub path: String,
    pub tickers: Vec<String>,
    pub start: String,
    pub end: String,
    pub out: PathBuf,
    pub allow_missing: bool,
    pub requests_per_minute: u32,
    pub concurrency: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            source: "sample".into(),
            path: String::new(),
            tickers: Vec::new(),
            start: "1990-01-01".into(),
            end: "2022-12-31".into(),
            out: PathBuf::from("data/raw/prices.parquet"),
            allow_missing: false,
            requests_per_minute: 60,
            concurrency: 4,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeaturesConfig {
    pub panel: PathBuf,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        Self {
            panel: PathBuf::from("data/features/panel.parquet"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BacktestConfig {
    pub train_fraction: f64,
    pub objective: String,
    pub cost_bps: f64,
    pub pbo_blocks: usize,
    pub grid: GridConfig,
}

impl Default for BacktestConfig {
    fn default() -> Self {
        Self {
            train_fraction: 0.7,
            objective: "sharpe".into(),
            cost_bps: 10.0,
            pbo_blocks: 16,
            grid: GridConfig::default(),
        }
    }
}

/// The parameter lists whose cartesian product is the grid search.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GridConfig {
    pub lookback: Vec<usize>,
    pub skip: Vec<usize>,
    pub holding: Vec<usize>,
    pub top_k: Vec<usize>,
}

impl Default for GridConfig {
    fn default() -> Self {
        Self {
            lookback: vec![20, 60, 120, 250],
            skip: vec![0, 10],
            holding: vec![5, 20, 60],
            top_k: vec![3, 5],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromotionConfig {
    pub min_roi: f64,
    pub min_dsr: f64,
    pub max_drawdown: f64,
}

impl Default for PromotionConfig {
    fn default() -> Self {
        Self {
            min_roi: 0.20,
            min_dsr: 0.50,
            max_drawdown: 0.60,
        }
    }
}

/// The production model, as `momentum promote` last wrote it (all `None` before the first one).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProductionConfig {
    pub version: Option<String>,
    pub lookback: Option<usize>,
    pub skip: Option<usize>,
    pub holding: Option<usize>,
    pub top_k: Option<usize>,
    pub cost_bps: Option<f64>,
    pub tickers: Vec<String>,
    pub data_digest: Option<String>,
    pub promoted_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackingConfig {
    pub uri: String,
    pub store: PathBuf,
    pub experiment: String,
    pub model_name: String,
    pub remote_children: Option<usize>,
}

impl Default for TrackingConfig {
    fn default() -> Self {
        Self {
            uri: String::new(),
            store: PathBuf::from("mlruns"),
            experiment: "momentum".into(),
            model_name: "momentum-xs".into(),
            remote_children: Some(500),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanConfig {
    pub max_staleness_days: i64,
    pub picks: PathBuf,
    pub history: PathBuf,
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self {
            max_staleness_days: 7,
            picks: PathBuf::from("reports/picks.json"),
            history: PathBuf::from("data/predictions/picks.parquet"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    pub recent_days: usize,
    pub psi_threshold: f64,
    pub ks_alpha: f64,
    pub mean_return_alpha: f64,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            recent_days: 63,
            psi_threshold: 0.25,
            ks_alpha: 0.01,
            mean_return_alpha: 0.05,
        }
    }
}

impl Config {
    /// Reads `path`. A missing file is an error only when the user named it (`explicit`); the
    /// default `params.yaml` may be absent, and then every default applies.
    pub fn load(path: &Path, explicit: bool) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Self::default());
            }
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        // Without the source snippet the parser's message is one line ("line 3 column 20:
        // invalid u64"), as every error of the CLI is.
        let options = serde_saphyr::options! { with_snippet: false };
        let config: Self = serde_saphyr::from_str_with_options(&text, options)
            .with_context(|| format!("invalid {}", path.display()))?;
        // params.yaml is committed and attached to every backtest run as an artifact, so a
        // password in it would be readable by everyone who can read the runs. Any `@` is
        // refused: a password may hold `/` or `@`, and a tracking URI needs neither.
        if config.tracking.uri.contains('@') {
            anyhow::bail!(
                "{}: tracking.uri must not hold credentials (they would be uploaded with every \
                 run's params.yaml); set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, \
                 or MLFLOW_TRACKING_TOKEN",
                path.display()
            );
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_params_file_parses_with_its_grid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../params.yaml");
        let config = Config::load(&path, true).expect("params.yaml parses");
        assert_eq!(config.data.source, "sample");
        assert_eq!(config.backtest.grid.lookback, vec![20, 60, 120, 250]);
        assert_eq!(config.backtest.grid.top_k, vec![3, 5]);
        // The committed production model is the one promoted from the sample.
        assert!(config.production.version.is_some());
        assert_eq!(config.production.tickers.len(), 20);
    }

    #[test]
    fn a_typo_in_a_key_is_an_error_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("params.yaml");
        std::fs::write(&path, "backtest:\n  cost_bsp: 5\n").unwrap();
        let err = format!("{:#}", Config::load(&path, true).unwrap_err());
        assert!(err.contains("cost_bsp"), "{err}");
    }

    #[test]
    fn credentials_in_the_tracking_uri_are_refused_without_echoing_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("params.yaml");
        for uri in [
            "http://bob:s3cret@127.0.0.1:5000",
            "bob:s3cret@host:5000/x",
            "http://bob:s3/cret@host",
        ] {
            std::fs::write(&path, format!("tracking:\n  uri: \"{uri}\"\n")).unwrap();
            let err = format!("{:#}", Config::load(&path, true).unwrap_err());
            assert!(
                err.contains("tracking.uri must not hold credentials"),
                "{err}"
            );
            assert!(!err.contains("s3") && !err.contains("cret"), "{err}");
        }
        std::fs::write(
            &path,
            "tracking:\n  uri: \"http://127.0.0.1:5000/prefix\"\n",
        )
        .unwrap();
        assert!(Config::load(&path, true).is_ok());
    }

    #[test]
    fn a_missing_default_file_gives_defaults_but_a_named_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("params.yaml");
        assert_eq!(Config::load(&path, false).unwrap().data.source, "sample");
        assert!(Config::load(&path, true).is_err());
    }
}
