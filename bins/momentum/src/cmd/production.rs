//! The production model, read from `params.yaml` or from the registry's `champion` alias.
//!
//! `momentum promote` writes both: the `production` block, and a registry version whose tags
//! hold the same fields (so the registry alone can serve the model, and a rollback can restore
//! the block from it).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use momentum_data::{PriceTable, Selection, select};
use momentum_scanner::promotion::ProductionModel;
use momentum_tracking::{ModelVersion, Tracker};

use crate::config::Config;

/// The alias of the production model in the registry.
pub const CHAMPION: &str = "champion";

/// Where `scan` and `monitor` take the production model from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductionSource {
    /// The `production` block of params.yaml.
    Params,
    /// The registry version behind the `champion` alias.
    Registry,
}

/// `table` (read from `path`) kept to a model's universe, every date, in the order of
/// `tickers`: what `scan` ranks and `monitor` watches are the tickers the backtest chose the
/// model on, whatever else the price file holds.
pub fn universe_only(
    table: &PriceTable,
    tickers: &[String],
    path: &Path,
) -> anyhow::Result<PriceTable> {
    let universe = Selection {
        tickers: tickers.to_vec(),
        start: NaiveDate::MIN,
        end: NaiveDate::MAX,
        allow_missing: false,
    };
    Ok(select(table, &universe, &path.display().to_string())?.table)
}

/// Loads the production model, or fails with the command that makes one.
pub fn load_production(
    config: &Config,
    source: ProductionSource,
) -> anyhow::Result<ProductionModel> {
    match source {
        ProductionSource::Params => from_params(config),
        ProductionSource::Registry => {
            let tracker = crate::tracking::open(config, "registry")?;
            let name = &config.tracking.model_name;
            let version = champion(&tracker, name)?
                .with_context(|| format!("no production model yet: registered model {name} has no `{CHAMPION}` alias (run `momentum promote`)"))?;
            from_version(&version)
        }
    }
}

fn from_params(config: &Config) -> anyhow::Result<ProductionModel> {
    let p = &config.production;
    let (Some(version), Some(lookback), Some(skip), Some(holding), Some(top_k)) =
        (p.version.clone(), p.lookback, p.skip, p.holding, p.top_k)
    else {
        bail!(
            "no production model yet: params.yaml production block is empty (run `momentum backtest` then `momentum promote`)"
        );
    };
    Ok(ProductionModel {
        version,
        lookback,
        skip,
        holding,
        top_k,
        cost_bps: p.cost_bps.unwrap_or(0.0),
        tickers: p.tickers.clone(),
        data_digest: p.data_digest.clone().unwrap_or_default(),
        promoted_at: p.promoted_at.clone().unwrap_or_default(),
    })
}

/// The registry tags that describe a model version (see [`version_tags`]).
pub fn from_version(version: &ModelVersion) -> anyhow::Result<ProductionModel> {
    let tag = |key: &str| {
        version.tags.get(key).cloned().with_context(|| {
            format!("registry version {} of {} has no `{key}` tag (not registered by `momentum promote`)", version.version, version.name)
        })
    };
    let number = |key: &str| -> anyhow::Result<usize> {
        let text = tag(key)?;
        text.parse().with_context(|| {
            format!(
                "registry version {}: tag {key} = {text:?} is not a whole number",
                version.version
            )
        })
    };
    Ok(ProductionModel {
        version: version.version.clone(),
        lookback: number("lookback")?,
        skip: number("skip")?,
        holding: number("holding")?,
        top_k: number("top_k")?,
        cost_bps: tag("cost_bps")?.parse().context("registry tag cost_bps")?,
        tickers: tag("tickers")?
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        data_digest: tag("data_digest")?,
        promoted_at: tag("promoted_at")?,
    })
}

/// The tags a promoted version carries: every production field (the version number aside) and
/// the version it replaced, which `--rollback` returns to.
pub fn version_tags(model: &ProductionModel, previous: Option<&str>) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([
        ("lookback".to_owned(), model.lookback.to_string()),
        ("skip".to_owned(), model.skip.to_string()),
        ("holding".to_owned(), model.holding.to_string()),
        ("top_k".to_owned(), model.top_k.to_string()),
        ("cost_bps".to_owned(), model.cost_bps.to_string()),
        ("tickers".to_owned(), model.tickers.join(",")),
        ("data_digest".to_owned(), model.data_digest.clone()),
        ("promoted_at".to_owned(), model.promoted_at.clone()),
    ]);
    if let Some(previous) = previous {
        tags.insert(PREVIOUS_CHAMPION.to_owned(), previous.to_owned());
    }
    tags
}

/// Version tag naming the champion a promotion replaced.
pub const PREVIOUS_CHAMPION: &str = "previous_champion";

/// The current champion; `None` when the model or its alias does not exist yet.
pub fn champion(tracker: &Tracker, name: &str) -> anyhow::Result<Option<ModelVersion>> {
    match tracker.get_version_by_alias(name, CHAMPION) {
        Ok(version) => Ok(version),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err.into()),
    }
}
