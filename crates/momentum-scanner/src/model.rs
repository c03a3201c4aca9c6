//! The model: one type from the backtest's candidate to the production version, and each of
//! its encodings in one place.
//!
//! A [`Model`] is the strategy parameters a backtest selected, the universe and the data they
//! were selected on, and its [`Stage`] in the lifecycle: a [`Stage::Candidate`] carries the
//! experiment that chose it (what the promotion gates read); a [`Stage::Registered`] model has
//! a registry version and a promotion time (what `scan` and `monitor` serve).
//!
//! | encoding | read | write |
//! |---|---|---|
//! | `models/candidate.json` | [`Model::from_candidate_json`] | [`Model::write_candidate_json`] |
//! | the `production` (or `challenger`) block of `params.yaml` | [`ProductionBlock::model`] | [`set_model_block`], [`clear_model_block`] |
//! | the registry version's tags | [`Model::from_registry_tags`] | [`Model::registry_tags`] |

use std::collections::BTreeMap;
use std::io::Write;
use std::str::FromStr;

use momentum_engine::{
    Arm, Cpcv, DataLineage, Experiment, GridRows, SearchReport, SelectionStats, StrategyParams,
    WalkForward, WindowName, WindowReport, write_canonical_json,
};
use serde::{Deserialize, Serialize};

use crate::ScanError;

/// The `kind` of a candidate file: the strategy family the model belongs to.
pub const MODEL_KIND: &str = "momentum-xs";

/// Registry tag naming the version a promotion replaced (where `--rollback` returns to).
pub const PREVIOUS_CHAMPION_TAG: &str = "previous_champion";

/// A momentum model at some stage of its lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The strategy parameters (the cost is the one the model was validated with).
    pub params: StrategyParams,
    /// The tickers the model was selected on, in order: what a scan ranks.
    pub universe: Vec<String>,
    /// Content digest of the prices it was selected on, when known.
    pub data_digest: Option<String>,
    /// Where it stands.
    pub stage: Stage,
}

/// Where a model stands in the lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Written by a backtest, not registered: the experiment that selected it.
    Candidate(Box<Candidate>),
    /// A registered version.
    Registered(Registration),
}

/// What a candidate carries besides its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The experiment that selected the model (its summary: windows, selection statistics).
    pub experiment: Experiment,
    /// The code that ran it.
    pub code: CodeVersion,
    /// When it was written (RFC 3339, UTC); `None` for a reproducible file.
    pub created_at: Option<String>,
}

/// The code behind a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeVersion {
    /// The package version.
    pub version: String,
    /// The git commit of the working directory: `None` leaves it out (a reproducible file),
    /// `Some(None)` writes `null` (not a git checkout), `Some(Some(commit))` the commit.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub git_commit: Option<Option<String>>,
}

/// A field that is there, `null` included (`Some(None)`); a missing one is `None` by default.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A registered model version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The registry version, e.g. `"3"`.
    pub version: String,
    /// When it was promoted (RFC 3339, UTC).
    pub promoted_at: String,
}

impl Model {
    /// The candidate an experiment selected.
    pub fn candidate(
        experiment: Experiment,
        code: CodeVersion,
        created_at: Option<String>,
    ) -> Self {
        Self {
            params: experiment.params,
            universe: experiment.data.universe.clone(),
            data_digest: experiment.data.digest.clone(),
            stage: Stage::Candidate(Box::new(Candidate {
                experiment,
                code,
                created_at,
            })),
        }
    }

    /// The same model registered as `version`, promoted at `promoted_at`.
    #[must_use]
    pub fn registered(self, version: impl Into<String>, promoted_at: impl Into<String>) -> Self {
        Self {
            stage: Stage::Registered(Registration {
                version: version.into(),
                promoted_at: promoted_at.into(),
            }),
            ..self
        }
    }

    /// The registry version, for a registered model.
    pub fn version(&self) -> Option<&str> {
        match &self.stage {
            Stage::Registered(registration) => Some(&registration.version),
            Stage::Candidate(_) => None,
        }
    }

    /// The experiment that selected a candidate.
    ///
    /// # Errors
    /// [`ScanError::NotACandidate`] for a registered model.
    pub fn experiment(&self) -> Result<&Experiment, ScanError> {
        match &self.stage {
            Stage::Candidate(candidate) => Ok(&candidate.experiment),
            Stage::Registered(_) => Err(ScanError::NotACandidate),
        }
    }

    /// Writes `models/candidate.json`: `kind`, the experiment's `params`, `data`, `windows` and
    /// `selection` (as in `metrics.json`), `grid_rank`, `code` and `created_at` (the last two
    /// left out when `None`), keys sorted, pretty-printed.
    ///
    /// # Errors
    /// [`ScanError::NotACandidate`] for a registered model; [`ScanError::Engine`] when writing
    /// fails.
    pub fn write_candidate_json(&self, out: impl Write) -> Result<(), ScanError> {
        let Stage::Candidate(candidate) = &self.stage else {
            return Err(ScanError::NotACandidate);
        };
        let experiment = &candidate.experiment;
        let file = CandidateFile {
            kind: MODEL_KIND.to_owned(),
            params: experiment.params,
            data: experiment.data.clone(),
            windows: experiment
                .windows
                .iter()
                .map(|(name, window)| (name.to_string(), window.clone()))
                .collect(),
            selection: experiment.selection.clone(),
            search: experiment.search.clone(),
            grid_rank: experiment.grid_rank,
            code: candidate.code.clone(),
            created_at: candidate.created_at.clone(),
            walk_forward: experiment.walk_forward.clone(),
            cpcv: experiment.cpcv.clone(),
        };
        Ok(write_canonical_json(out, &file)?)
    }

    /// Reads a candidate file written by [`Model::write_candidate_json`].
    ///
    /// # Errors
    /// [`ScanError::Candidate`] naming the first field that is missing or malformed;
    /// [`ScanError::NotAModel`] for a `kind` other than [`MODEL_KIND`].
    ///
    /// # Examples
    ///
    /// The candidate of an experiment, written and read back:
    ///
    /// ```
    /// use momentum_engine::{ExperimentSpec, GridSpec, Objective, PricePanel, run_experiment};
    /// use momentum_scanner::Model;
    /// use momentum_scanner::model::CodeVersion;
    ///
    /// // Forty days: A climbs by 1 a day from 10, B stays at 10; half of them out of sample.
    /// let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    /// let dates = (0..40).map(|d| start + chrono::Days::new(d)).collect();
    /// let close = ndarray::Array2::from_shape_fn((40, 2), |(t, i)| {
    ///     if i == 0 { 10.0 + t as f64 } else { 10.0 }
    /// });
    /// let panel = PricePanel::new(dates, vec!["A".into(), "B".into()], close)?;
    /// let spec = ExperimentSpec {
    ///     train_fraction: Some(0.5),
    ///     objective: Objective::TotalRoi,
    ///     cost_bps: 0.0,
    ///     pbo_blocks: 2,
    ///     grid: GridSpec { lookback: vec![2, 3], skip: vec![0], holding: vec![2], top_k: vec![1] },
    ///     max_combinations: 100,
    ///     ..Default::default()
    /// };
    /// let experiment = run_experiment(&panel, &spec, None, &|_| {})?;
    /// let code = CodeVersion { version: "0.1.0".into(), git_commit: None };
    /// let candidate = Model::candidate(experiment, code, None);
    /// let mut file = Vec::new();
    /// candidate.write_candidate_json(&mut file)?;
    /// let read = Model::from_candidate_json(&file)?;
    /// assert_eq!(read.params, candidate.params);
    /// assert_eq!(read.universe, ["A", "B"]);
    /// // The summary only: the grid rows and the recorded runs are not in the file.
    /// assert!(read.experiment()?.grid.is_empty());
    /// let (written, original) = (&read.experiment()?.selection, &candidate.experiment()?.selection);
    /// assert_eq!((written.trials, written.dsr), (original.trials, original.dsr));
    ///
    /// let err = Model::from_candidate_json(br#"{"kind": "momentum-xs"}"#).unwrap_err();
    /// assert!(err.to_string().starts_with("not a candidate model"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_candidate_json(bytes: &[u8]) -> Result<Self, ScanError> {
        let mut json = serde_json::Deserializer::from_slice(bytes);
        let file: CandidateFile =
            serde_path_to_error::deserialize(&mut json).map_err(|err| ScanError::Candidate {
                path: err.path().to_string(),
                source: err.into_inner(),
            })?;
        if file.kind != MODEL_KIND {
            return Err(ScanError::NotAModel { kind: file.kind });
        }
        file.params.validate().map_err(ScanError::InvalidModel)?;
        let windows = file
            .windows
            .into_iter()
            .map(|(name, window)| Ok((name.parse()?, window)))
            .collect::<Result<_, ScanError>>()?;
        let experiment = Experiment {
            params: file.params,
            data: file.data,
            windows,
            selection: file.selection,
            search: file.search,
            grid: GridRows::default(),
            grid_rank: file.grid_rank,
            dates: Vec::new(),
            walk_forward: file.walk_forward,
            cpcv: file.cpcv,
        };
        Ok(Self::candidate(experiment, file.code, file.created_at))
    }

    /// The tags of a registry version: every field of the production block but the version
    /// number (which the registry holds), and the version it replaced.
    ///
    /// # Errors
    /// [`ScanError::NotRegistered`] for a candidate (it has no promotion time).
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_scanner::Model;
    /// use momentum_scanner::model::PREVIOUS_CHAMPION_TAG;
    ///
    /// # use momentum_engine::StrategyParams;
    /// # use momentum_scanner::model::{Registration, Stage};
    /// let model = Model {
    ///     params: StrategyParams { lookback: 120, skip: 20, holding: 5, top_k: 3, cost_bps: 10.0 },
    ///     universe: vec!["AAPL".into(), "MSFT".into()],
    ///     data_digest: Some("abc123".into()),
    ///     stage: Stage::Registered(Registration {
    ///         version: "3".into(),
    ///         promoted_at: "2026-11-27T00:00:00Z".into(),
    ///     }),
    /// };
    /// // Version 3 replaced version 2.
    /// let tags = model.registry_tags(Some("2"))?;
    /// assert_eq!(tags["lookback"], "120");
    /// assert_eq!(tags["cost_bps"], "10");
    /// assert_eq!(tags["tickers"], "AAPL,MSFT");
    /// assert_eq!(tags["promoted_at"], "2026-11-27T00:00:00Z");
    /// assert_eq!(tags[PREVIOUS_CHAMPION_TAG], "2");
    /// // The registry holds the version number itself.
    /// assert!(!tags.contains_key("version"));
    /// assert_eq!(Model::from_registry_tags("3", &tags)?, model);
    /// # Ok::<(), momentum_scanner::ScanError>(())
    /// ```
    pub fn registry_tags(
        &self,
        previous: Option<&str>,
    ) -> Result<BTreeMap<String, String>, ScanError> {
        let Stage::Registered(registration) = &self.stage else {
            return Err(ScanError::NotRegistered);
        };
        let p = &self.params;
        let mut tags = BTreeMap::from([
            ("lookback".to_owned(), p.lookback.to_string()),
            ("skip".to_owned(), p.skip.to_string()),
            ("holding".to_owned(), p.holding.to_string()),
            ("top_k".to_owned(), p.top_k.to_string()),
            ("cost_bps".to_owned(), p.cost_bps.to_string()),
            ("tickers".to_owned(), self.universe.join(",")),
            (
                "data_digest".to_owned(),
                self.data_digest.clone().unwrap_or_default(),
            ),
            ("promoted_at".to_owned(), registration.promoted_at.clone()),
        ]);
        if let Some(previous) = previous {
            tags.insert(PREVIOUS_CHAMPION_TAG.to_owned(), previous.to_owned());
        }
        Ok(tags)
    }

    /// The model registered as `version` with these tags ([`Model::registry_tags`]).
    ///
    /// # Errors
    /// [`ScanError::RegistryTag`] naming a missing or malformed tag;
    /// [`ScanError::InvalidModel`] for parameters out of the spec's ranges.
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_scanner::{Model, ScanError};
    ///
    /// # use momentum_engine::StrategyParams;
    /// # use momentum_scanner::model::{Registration, Stage};
    /// let model = Model {
    ///     params: StrategyParams { lookback: 120, skip: 20, holding: 5, top_k: 3, cost_bps: 10.0 },
    ///     universe: vec!["AAPL".into(), "MSFT".into()],
    ///     data_digest: Some("abc123".into()),
    ///     stage: Stage::Registered(Registration {
    ///         version: "3".into(),
    ///         promoted_at: "2026-11-27T00:00:00Z".into(),
    ///     }),
    /// };
    /// let mut tags = model.registry_tags(None)?;
    /// assert_eq!(Model::from_registry_tags("3", &tags)?, model);
    ///
    /// tags.insert("top_k".into(), "three".into());
    /// let err = Model::from_registry_tags("3", &tags).unwrap_err();
    /// assert!(matches!(err, ScanError::RegistryTag { key: "top_k", .. }));
    /// assert!(err.to_string().starts_with("registry version 3: tag top_k: \"three\": "));
    /// tags.remove("top_k");
    /// let err = Model::from_registry_tags("3", &tags).unwrap_err();
    /// assert!(err.to_string().contains("tag top_k: missing"));
    /// // Tags that decode but break the spec: skip must be below lookback.
    /// tags.insert("top_k".into(), "3".into());
    /// tags.insert("skip".into(), "120".into());
    /// let err = Model::from_registry_tags("3", &tags).unwrap_err();
    /// assert!(matches!(err, ScanError::InvalidModel(_)));
    /// # Ok::<(), ScanError>(())
    /// ```
    pub fn from_registry_tags(
        version: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<Self, ScanError> {
        let tag = |key: &'static str| {
            tags.get(key).ok_or_else(|| ScanError::RegistryTag {
                version: version.to_owned(),
                key,
                reason: "missing (not registered by `momentum promote`)".into(),
            })
        };
        fn parse<T: FromStr>(version: &str, key: &'static str, text: &str) -> Result<T, ScanError>
        where
            T::Err: std::fmt::Display,
        {
            text.parse().map_err(|err: T::Err| ScanError::RegistryTag {
                version: version.to_owned(),
                key,
                reason: format!("{text:?}: {err}"),
            })
        }
        let params = StrategyParams {
            lookback: parse(version, "lookback", tag("lookback")?)?,
            skip: parse(version, "skip", tag("skip")?)?,
            holding: parse(version, "holding", tag("holding")?)?,
            top_k: parse(version, "top_k", tag("top_k")?)?,
            cost_bps: parse(version, "cost_bps", tag("cost_bps")?)?,
        };
        params.validate().map_err(ScanError::InvalidModel)?;
        let universe = split_tickers(tag("tickers")?);
        if let Some(reason) = universe_fault(&universe) {
            return Err(ScanError::RegistryTag {
                version: version.to_owned(),
                key: "tickers",
                reason,
            });
        }
        let digest = tag("data_digest")?;
        Ok(Self {
            params,
            universe,
            data_digest: (!digest.is_empty()).then(|| digest.clone()),
            stage: Stage::Registered(Registration {
                version: version.to_owned(),
                promoted_at: tag("promoted_at")?.clone(),
            }),
        })
    }
}

/// What is wrong with a universe written by hand, naming the ticker: an empty one, or one
/// listed twice (a scan ranks each ticker of the panel once, so the universe would not be the
/// panel's).
fn universe_fault(universe: &[String]) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    universe.iter().enumerate().find_map(|(i, ticker)| {
        let as_read = ticker.trim().to_uppercase();
        if as_read.is_empty() {
            Some(format!("ticker {} of the list is empty", i + 1))
        } else if *ticker != as_read {
            // Price readers trim and upper-case every ticker, so `aapl` would only ever be
            // reported missing from the prices.
            Some(format!(
                "ticker `{ticker}` is not written as prices name it: {as_read}"
            ))
        } else if !seen.insert(ticker) {
            Some(format!("ticker {ticker} is listed twice"))
        } else {
            None
        }
    })
}

fn split_tickers(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `models/candidate.json`, field for field: the experiment's summary spelt out (not
/// flattened, so that an error names the path of the field, `windows.test.strategy`).
#[derive(Serialize, Deserialize)]
struct CandidateFile {
    kind: String,
    params: StrategyParams,
    data: DataLineage,
    /// By name: string keys, so that an error's path names the window.
    windows: BTreeMap<String, WindowReport>,
    selection: SelectionStats,
    /// How the combinations were chosen (`grid` in a candidate written before searches).
    #[serde(default)]
    search: SearchReport,
    grid_rank: usize,
    code: CodeVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    /// The walk-forward analysis, when the backtest ran one (its out-of-sample Sharpe ratio
    /// is a promotion gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    walk_forward: Option<WalkForward>,
    /// The combinatorial purged cross-validation, when the backtest ran one (its paths'
    /// out-of-sample Sharpe is a promotion gate too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cpcv: Option<Cpcv>,
}

/// The `production` block of `params.yaml` as `momentum promote` writes it: every field `null`
/// (and `tickers` empty) before the first promotion. Unknown keys are an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProductionBlock {
    /// Registry version.
    pub version: Option<String>,
    /// Lookback `L`.
    pub lookback: Option<usize>,
    /// Skip `S`.
    pub skip: Option<usize>,
    /// Holding period `H`.
    pub holding: Option<usize>,
    /// Tickers held `K`.
    pub top_k: Option<usize>,
    /// Cost in basis points the model was validated with.
    pub cost_bps: Option<f64>,
    /// The universe, in order.
    pub tickers: Vec<String>,
    /// Digest of the prices the model was selected on.
    pub data_digest: Option<String>,
    /// When it was promoted.
    pub promoted_at: Option<String>,
}

impl ProductionBlock {
    /// The production model; `None` before the first promotion (no version).
    ///
    /// # Errors
    /// [`ScanError::IncompleteProduction`] naming the first field missing from a block that
    /// has a version; [`ScanError::InvalidBlock`] for an empty version, or a ticker empty or
    /// listed twice; [`ScanError::InvalidModel`] for parameters out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use momentum_scanner::ScanError;
    /// use momentum_scanner::model::ProductionBlock;
    ///
    /// // Before the first promotion every field is null.
    /// assert_eq!(ProductionBlock::default().model()?, None);
    ///
    /// let block = ProductionBlock {
    ///     version: Some("2".into()),
    ///     lookback: Some(60),
    ///     skip: Some(10),
    ///     holding: Some(20),
    ///     top_k: Some(5),
    ///     cost_bps: Some(10.0),
    ///     tickers: vec!["AAPL".into(), "MSFT".into()],
    ///     promoted_at: Some("2026-12-01T00:00:00Z".into()),
    ///     ..ProductionBlock::default()
    /// };
    /// let model = block.model()?.expect("a promoted model");
    /// assert_eq!(model.version(), Some("2"));
    /// assert_eq!((model.params.lookback, model.params.top_k), (60, 5));
    /// assert_eq!(model.universe, ["AAPL", "MSFT"]);
    ///
    /// let no_skip = ProductionBlock { skip: None, ..block.clone() };
    /// assert!(matches!(no_skip.model(), Err(ScanError::IncompleteProduction { key: "skip" })));
    /// // A block edited by hand: a scan ranks each ticker once.
    /// let twice = ProductionBlock { tickers: vec!["AAPL".into(), "AAPL".into()], ..block };
    /// let err = twice.model().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid tickers of a production block: ticker AAPL is listed twice");
    /// # Ok::<(), ScanError>(())
    /// ```
    pub fn model(&self) -> Result<Option<Model>, ScanError> {
        let Some(version) = &self.version else {
            return Ok(None);
        };
        // `null` is "no model yet"; an empty version would be scanned and recorded as one.
        if version.trim().is_empty() {
            return Err(ScanError::InvalidBlock {
                key: "version",
                reason: "must not be empty (null before the first promotion)".into(),
            });
        }
        let missing = |key: &'static str| ScanError::IncompleteProduction { key };
        let params = StrategyParams {
            lookback: self.lookback.ok_or_else(|| missing("lookback"))?,
            skip: self.skip.ok_or_else(|| missing("skip"))?,
            holding: self.holding.ok_or_else(|| missing("holding"))?,
            top_k: self.top_k.ok_or_else(|| missing("top_k"))?,
            cost_bps: self.cost_bps.ok_or_else(|| missing("cost_bps"))?,
        };
        if self.tickers.is_empty() {
            return Err(missing("tickers"));
        }
        if let Some(reason) = universe_fault(&self.tickers) {
            return Err(ScanError::InvalidBlock {
                key: "tickers",
                reason,
            });
        }
        params.validate().map_err(ScanError::InvalidModel)?;
        Ok(Some(Model {
            params,
            universe: self.tickers.clone(),
            data_digest: self.data_digest.clone().filter(|d| !d.is_empty()),
            stage: Stage::Registered(Registration {
                version: version.clone(),
                promoted_at: self
                    .promoted_at
                    .clone()
                    .ok_or_else(|| missing("promoted_at"))?,
            }),
        }))
    }
}

/// Returns `yaml` with the top-level block of `arm` ([`params_block`]: `production` or
/// `challenger`) set to `model`, everything else kept byte for byte (comments, order, blank
/// lines). The block is created when missing.
///
/// # Errors
/// [`ScanError::NotRegistered`] for a candidate; [`ScanError::ParamsEdit`] when `yaml` is not
/// a YAML mapping.
///
/// # Examples
///
/// The block written, then read back with [`ProductionBlock::model`]:
///
/// ```
/// use momentum_scanner::Model;
/// use momentum_engine::Arm;
/// use momentum_scanner::model::{ProductionBlock, set_model_block};
///
/// # use momentum_engine::StrategyParams;
/// # use momentum_scanner::model::{Registration, Stage};
/// let model = Model {
///     params: StrategyParams { lookback: 120, skip: 20, holding: 5, top_k: 3, cost_bps: 10.0 },
///     universe: vec!["AAPL".into(), "MSFT".into()],
///     data_digest: Some("abc123".into()),
///     stage: Stage::Registered(Registration {
///         version: "3".into(),
///         promoted_at: "2026-11-27T00:00:00Z".into(),
///     }),
/// };
/// let params_yaml = "# Settings.\nbacktest:\n  cost_bps: 10.0  # one way\n\nproduction:\n  version: null\n";
/// let written = set_model_block(params_yaml, Arm::Champion, &model)?;
/// // What is outside the block is kept as it was.
/// assert!(written.starts_with("# Settings.\nbacktest:\n  cost_bps: 10.0  # one way\n\nproduction:\n"));
/// assert!(written.contains("  lookback: 120\n"));
/// // Quoted, so that YAML reads a string rather than a timestamp.
/// assert!(written.contains("  promoted_at: '2026-11-27T00:00:00Z'\n"));
/// // Setting it again changes nothing.
/// assert_eq!(set_model_block(&written, Arm::Champion, &model)?, written);
///
/// #[derive(serde::Deserialize)]
/// struct ParamsFile {
///     production: ProductionBlock,
/// }
/// let file: ParamsFile = serde_saphyr::from_str(&written)?;
/// assert_eq!(file.production.model()?, Some(model));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn set_model_block(yaml: &str, arm: Arm, model: &Model) -> Result<String, ScanError> {
    let Stage::Registered(registration) = &model.stage else {
        return Err(ScanError::NotRegistered);
    };
    let p = &model.params;
    p.validate().map_err(ScanError::InvalidModel)?;
    // Validated: every parameter fits an i64.
    let int = |value: usize| i64::try_from(value).unwrap_or(i64::MAX);
    edit_block(yaml, params_block(arm), |block| {
        block.set("version", registration.version.as_str());
        block.set("lookback", int(p.lookback));
        block.set("skip", int(p.skip));
        block.set("holding", int(p.holding));
        block.set("top_k", int(p.top_k));
        block.set("cost_bps", p.cost_bps);
        let tickers: Vec<yaml_edit::YamlValue> = model
            .universe
            .iter()
            .map(|t| yaml_edit::YamlValue::from(t.as_str()))
            .collect();
        block.set("tickers", tickers);
        block.set(
            "data_digest",
            model.data_digest.as_deref().unwrap_or_default(),
        );
        // Quoted: a bare RFC 3339 time is a YAML timestamp, which DVC cannot hash as a param.
        block.set(
            "promoted_at",
            yaml_edit::ScalarValue::single_quoted(registration.promoted_at.as_str()),
        );
    })
}

/// Returns `yaml` with the top-level block of `arm` emptied (every field `null`, no tickers),
/// as before its first promotion: what retiring a challenger leaves.
///
/// # Errors
/// [`ScanError::ParamsEdit`] when `yaml` is not a YAML mapping.
///
/// ```
/// use momentum_engine::Arm;
/// use momentum_scanner::model::clear_model_block;
///
/// let yaml = "challenger:\n  version: '4'\n  lookback: 60\n  tickers:\n  - AAPL\n";
/// let cleared = clear_model_block(yaml, Arm::Challenger)?;
/// assert!(cleared.contains("  version: null\n") && cleared.contains("  lookback: null\n"));
/// assert!(cleared.contains("  tickers: []"));
/// # Ok::<(), momentum_scanner::ScanError>(())
/// ```
pub fn clear_model_block(yaml: &str, arm: Arm) -> Result<String, ScanError> {
    edit_block(yaml, params_block(arm), |block| {
        for key in [
            "version",
            "lookback",
            "skip",
            "holding",
            "top_k",
            "cost_bps",
            "data_digest",
            "promoted_at",
        ] {
            block.set(key, yaml_edit::ScalarValue::null());
        }
        block.set("tickers", Vec::<yaml_edit::YamlValue>::new());
    })
}

/// The top-level key of `params.yaml` that holds the model of `arm`: `production` for the
/// champion, `challenger` for the challenger.
pub const fn params_block(arm: Arm) -> &'static str {
    match arm {
        Arm::Champion => "production",
        Arm::Challenger => "challenger",
    }
}

/// `yaml` with the top-level mapping `name` (created when missing) changed by `fill`, the rest
/// byte for byte.
fn edit_block(
    yaml: &str,
    name: &str,
    fill: impl FnOnce(&yaml_edit::Mapping),
) -> Result<String, ScanError> {
    let edit_error = |reason: String| ScanError::ParamsEdit { reason };
    // A missing or empty params.yaml (nothing but comments) gets the block as its first key.
    let blank = yaml.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---"
    });
    let seeded;
    let yaml = if blank {
        let gap = if yaml.is_empty() || yaml.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        seeded = format!("{yaml}{gap}{name}:\n  version: null\n");
        seeded.as_str()
    } else {
        yaml
    };
    let doc = yaml_edit::Document::from_str(yaml).map_err(|err| edit_error(err.to_string()))?;
    let root = doc
        .as_mapping()
        .ok_or_else(|| edit_error("the file is not a mapping".into()))?;
    let block = match root.get_mapping(name) {
        Some(block) => block,
        None => {
            root.set(
                name,
                yaml_edit::Document::from_str("version: null\n")
                    .map_err(|err| edit_error(err.to_string()))?
                    .as_mapping()
                    .ok_or_else(|| edit_error("internal block".into()))?,
            );
            root.get_mapping(name)
                .ok_or_else(|| edit_error("cannot create the block".into()))?
        }
    };
    fill(&block);
    Ok(doc.to_string())
}

/// The promotion gates read a candidate's out-of-sample window.
pub(crate) fn test_window(model: &Model) -> Result<&momentum_engine::WindowReport, ScanError> {
    model
        .experiment()?
        .windows
        .get(&WindowName::Test)
        .ok_or(ScanError::NoTestWindow)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &str = "# top comment\ndata:\n  source: sample  # inline\n\n# Written by promote.\nproduction:\n  version: null\n  lookback: null\n  skip: null\n  holding: null\n  top_k: null\n  cost_bps: null\n  tickers: []\n  data_digest: null\n  promoted_at: null\n\ntracking:\n  uri: \"\"\n# trailing comment\n";

    fn model() -> Model {
        Model {
            params: StrategyParams {
                lookback: 120,
                skip: 20,
                holding: 5,
                top_k: 3,
                cost_bps: 10.0,
            },
            universe: vec!["AAPL".into(), "MSFT".into()],
            data_digest: Some("abc123".into()),
            stage: Stage::Registered(Registration {
                version: "3".into(),
                promoted_at: "2026-11-27T00:00:00Z".into(),
            }),
        }
    }

    #[test]
    fn only_the_production_block_changes() {
        let out = set_model_block(PARAMS, Arm::Champion, &model()).unwrap();
        let again = set_model_block(&out, Arm::Champion, &model()).unwrap();
        assert_eq!(again, out);
        let before_block = PARAMS.split("production:").next().unwrap();
        assert!(out.starts_with(before_block), "{out}");
        assert!(
            out.ends_with("\ntracking:\n  uri: \"\"\n# trailing comment\n"),
            "{out}"
        );
        assert!(out.contains("  lookback: 120\n"), "{out}");
        assert!(
            out.contains("  promoted_at: '2026-11-27T00:00:00Z'\n"),
            "{out}"
        );
        assert!(
            out.contains("  version: '3'\n") || out.contains("  version: \"3\"\n"),
            "{out}"
        );
    }

    #[test]
    fn a_missing_or_comment_only_params_yaml_gets_the_block() {
        for (text, kept) in [("", ""), ("# just a comment", "# just a comment\n")] {
            let out = set_model_block(text, Arm::Champion, &model()).unwrap();
            assert!(out.starts_with(&format!("{kept}production:\n")), "{out}");
            assert!(out.contains("  lookback: 120\n"), "{out}");
            let again = set_model_block(&out, Arm::Champion, &model()).unwrap();
            assert_eq!(again, out);
        }
    }

    #[test]
    fn the_production_block_round_trips_through_yaml() {
        let text = set_model_block(PARAMS, Arm::Champion, &model()).unwrap();
        #[derive(Deserialize)]
        struct File {
            production: ProductionBlock,
        }
        let file: File =
            serde_saphyr::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"));
        assert_eq!(file.production.model().unwrap(), Some(model()));
        let empty = ProductionBlock::default();
        assert_eq!(empty.model().unwrap(), None);
        let partial = ProductionBlock {
            version: Some("2".into()),
            lookback: Some(10),
            cost_bps: Some(10.0),
            promoted_at: Some("2026-12-01T00:00:00Z".into()),
            ..ProductionBlock::default()
        };
        assert_eq!(
            partial.model().unwrap_err().to_string(),
            "the production block of params.yaml has a version but no skip (run `momentum promote`)"
        );
    }

    #[test]
    fn a_parameter_beyond_an_i64_is_refused_not_wrapped() {
        let block = ProductionBlock {
            version: Some("4".into()),
            lookback: Some(60),
            skip: Some(0),
            holding: Some(usize::MAX),
            top_k: Some(5),
            cost_bps: Some(10.0),
            tickers: vec!["AAPL".into()],
            data_digest: None,
            promoted_at: Some("2026-12-01T00:00:00Z".into()),
        };
        assert_eq!(
            block.model().unwrap_err().to_string(),
            "model: invalid holding = 18446744073709551615: must be at most 2^63 - 1"
        );
        let mut huge = model();
        huge.params.top_k = usize::MAX;
        assert!(matches!(
            set_model_block(PARAMS, Arm::Champion, &huge),
            Err(ScanError::InvalidModel(_))
        ));
    }

    #[test]
    fn registry_tags_round_trip_and_name_a_bad_tag() {
        let tags = model().registry_tags(Some("2")).unwrap();
        assert_eq!(tags[PREVIOUS_CHAMPION_TAG], "2");
        assert_eq!(tags["tickers"], "AAPL,MSFT");
        assert_eq!(Model::from_registry_tags("3", &tags).unwrap(), model());
        let mut bad = tags.clone();
        bad.insert("top_k".into(), "three".into());
        let err = Model::from_registry_tags("3", &bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("registry version 3: tag top_k: \"three\": "),
            "{err}"
        );
        bad.remove("top_k");
        let err = Model::from_registry_tags("3", &bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("tag top_k: missing"), "{err}");
        let mut twice = tags.clone();
        twice.insert("tickers".into(), "AAPL,MSFT,AAPL".into());
        let err = Model::from_registry_tags("3", &twice)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "registry version 3: tag tickers: ticker AAPL is listed twice"
        );
    }

    #[test]
    fn a_block_edited_by_hand_is_refused_naming_the_field_and_ticker() {
        let block = |version: &str, tickers: &[&str]| ProductionBlock {
            version: Some(version.into()),
            lookback: Some(60),
            skip: Some(0),
            holding: Some(20),
            top_k: Some(1),
            cost_bps: Some(10.0),
            tickers: tickers.iter().map(|t| (*t).to_owned()).collect(),
            data_digest: None,
            promoted_at: Some("2026-12-01T00:00:00Z".into()),
        };
        for (block, expected) in [
            (
                block("", &["AAPL"]),
                "invalid version of a production block: must not be empty (null before the \
                 first promotion)",
            ),
            (
                block("2", &["AAPL", "MSFT", "AAPL"]),
                "invalid tickers of a production block: ticker AAPL is listed twice",
            ),
            (
                block("2", &["AAPL", " "]),
                "invalid tickers of a production block: ticker 2 of the list is empty",
            ),
            (
                block("2", &["AAPL", "msft"]),
                "invalid tickers of a production block: ticker `msft` is not written as prices \
                 name it: MSFT",
            ),
            (
                block("2", &["AAPL ", "MSFT"]),
                "invalid tickers of a production block: ticker `AAPL ` is not written as prices \
                 name it: AAPL",
            ),
        ] {
            assert_eq!(block.model().unwrap_err().to_string(), expected);
        }
        assert!(block("2", &["AAPL", "MSFT"]).model().unwrap().is_some());
    }
}
