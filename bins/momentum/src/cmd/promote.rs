//! `momentum promote`: gate the candidate model, then register it and make it production.
//! The gates and the `params.yaml` edit live in `momentum-scanner::promotion`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use momentum_scanner::promotion::{
    GateInputs, Gates, ProductionModel, evaluate, set_production_block,
};
use momentum_tracking::{Cmp, Filter, RunQuery, Tracker};
use serde_json::Value;

use crate::cmd::production::{CHAMPION, PREVIOUS_CHAMPION, champion, from_version, version_tags};
use crate::config::Config;
use crate::output::write_text;

/// Exit code of a candidate that failed a gate (nothing was changed).
pub const EXIT_REJECTED: u8 = 3;

/// Tag of the backtest run that wrote a candidate: the sha256 of the candidate file's bytes,
/// which is how `promote` finds the run to register as the model version's source.
pub const CANDIDATE_SHA256_TAG: &str = "momentum.candidate_sha256";

const AFTER_HELP: &str = "\
Gates (all must pass; each threshold from params.yaml promotion, or its flag):
  min_roi             out-of-sample (test window) total_roi >= --min-roi (default 0.20)
  beats_buy_and_hold  out-of-sample total_roi > buy and hold's total_roi on the same days
  min_dsr             Deflated Sharpe Ratio of the grid's winner >= --min-dsr (default 0.50)
  max_drawdown        out-of-sample max_drawdown <= --max-drawdown (default 0.60)
A metric that could not be computed (null in the candidate) fails its gate.

On pass: registers a new version of the model (tracking.model_name) whose source is the
backtest run that wrote the candidate, moves the `champion` alias to it, and rewrites only the
production block of params.yaml (comments and everything else stay byte for byte).
On fail: changes nothing.

--rollback moves `champion` and the production block back to the version the current champion
replaced. --dry-run prints the verdict and changes nothing.

Exit codes:
  0  promoted (or, with --dry-run, would be promoted; with --rollback, rolled back)
  1  error: unreadable candidate, no test window, tracking store or registry failure, ...
  3  rejected: a gate failed, nothing changed

Examples:
  momentum promote
  momentum promote --dry-run --min-roi 0.5
  momentum promote --rollback";

/// Promote the candidate model to production when it passes the gates.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Candidate model written by `momentum backtest`
    #[arg(long, value_name = "PATH", default_value = "models/candidate.json")]
    candidate: PathBuf,

    /// Minimum out-of-sample total_roi [params: promotion.min_roi]
    #[arg(long, value_name = "X")]
    min_roi: Option<f64>,

    /// Minimum Deflated Sharpe Ratio [params: promotion.min_dsr]
    #[arg(long, value_name = "P")]
    min_dsr: Option<f64>,

    /// Maximum out-of-sample max_drawdown [params: promotion.max_drawdown]
    #[arg(long, value_name = "X")]
    max_drawdown: Option<f64>,

    /// Print the verdict, change nothing
    #[arg(long)]
    dry_run: bool,

    /// Move production and `champion` back to the previous version
    #[arg(long, conflicts_with_all = ["dry_run", "min_roi", "min_dsr", "max_drawdown"])]
    rollback: bool,
}

pub fn run(args: Args, config: &Config, params_path: &Path) -> anyhow::Result<ExitCode> {
    if args.rollback {
        return rollback(config, params_path);
    }
    let gates = Gates {
        min_roi: args.min_roi.unwrap_or(config.promotion.min_roi),
        min_dsr: args.min_dsr.unwrap_or(config.promotion.min_dsr),
        max_drawdown: args.max_drawdown.unwrap_or(config.promotion.max_drawdown),
    };
    let bytes = std::fs::read(&args.candidate).with_context(|| {
        format!(
            "cannot read the candidate {} (run `momentum backtest`)",
            args.candidate.display()
        )
    })?;
    let candidate: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not valid JSON", args.candidate.display()))?;
    let inputs = gate_inputs(&candidate)
        .with_context(|| format!("candidate {}", args.candidate.display()))?;
    let results = evaluate(&gates, &inputs);
    println!(
        "{:<20} {:>10} {:>4} {:>10}  verdict",
        "gate", "value", "", "threshold"
    );
    for gate in &results {
        let verdict = if gate.passed { "pass" } else { "FAIL" };
        println!(
            "{:<20} {:>10.4} {:>4} {:>10.4}  {verdict}",
            gate.gate, gate.value, gate.rule, gate.threshold
        );
    }
    if results.iter().any(|gate| !gate.passed) {
        println!("rejected: the candidate stays a candidate; nothing changed");
        return Ok(ExitCode::from(EXIT_REJECTED));
    }
    if args.dry_run {
        println!("dry run: the candidate would be promoted; nothing changed");
        return Ok(ExitCode::SUCCESS);
    }

    let tracker = crate::tracking::open(config, "promote")?;
    let source_run = candidate_run(&tracker, config, &sha256_hex(&bytes))?;
    let mut model = production_model(&candidate)?;
    // Check that params.yaml can be rewritten before touching the registry (the edit does not
    // depend on the version number the registry hands out).
    production_text(params_path, &model)?;
    let name = &config.tracking.model_name;
    let previous = champion(&tracker, name)?;
    tracker.create_registered_model(name)?;
    let description = format!(
        "lookback {} skip {} holding {} top_k {} on data {}",
        model.lookback, model.skip, model.holding, model.top_k, model.data_digest
    );
    let version = tracker.create_model_version(
        name,
        &source_run,
        "model",
        &description,
        &version_tags(&model, previous.as_ref().map(|v| v.version.as_str())),
    )?;
    model.version = version.version.clone();
    tracker.set_alias(name, CHAMPION, &version.version)?;
    if let Err(err) = write_production(params_path, &model) {
        // Keep the registry and params.yaml in agreement: undo the alias move.
        match &previous {
            Some(previous) => tracker.set_alias(name, CHAMPION, &previous.version)?,
            None => tracker.delete_alias(name, CHAMPION)?,
        }
        return Err(err);
    }
    println!(
        "promoted: {name} version {} is `{CHAMPION}` (source run {source_run}); {} production block updated",
        version.version,
        params_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn rollback(config: &Config, params_path: &Path) -> anyhow::Result<ExitCode> {
    let tracker = crate::tracking::open(config, "promote")?;
    let name = &config.tracking.model_name;
    let current = champion(&tracker, name)?
        .with_context(|| format!("nothing to roll back: {name} has no `{CHAMPION}` alias"))?;
    let Some(previous_version) = current.tags.get(PREVIOUS_CHAMPION) else {
        bail!(
            "nothing to roll back to: {name} version {} was the first production model",
            current.version
        );
    };
    let previous = tracker
        .list_versions(name)?
        .into_iter()
        .find(|v| &v.version == previous_version)
        .with_context(|| {
            format!(
                "{name} version {previous_version} (before {}) is not in the registry",
                current.version
            )
        })?;
    let model = from_version(&previous)?;
    // Check that params.yaml can be rewritten before touching the registry.
    let text = production_text(params_path, &model)?;
    tracker.set_alias(name, CHAMPION, &previous.version)?;
    write_text(params_path, &text)?;
    println!(
        "rolled back: {name} version {} is `{CHAMPION}` again (was {})",
        previous.version, current.version
    );
    Ok(ExitCode::SUCCESS)
}

fn number(candidate: &Value, pointer: &str) -> anyhow::Result<f64> {
    candidate
        .pointer(pointer)
        .and_then(Value::as_f64)
        .with_context(|| format!("no number at {pointer}"))
}

fn gate_inputs(candidate: &Value) -> anyhow::Result<GateInputs> {
    if candidate.pointer("/windows/test").is_none() {
        bail!(
            "no out-of-sample `test` window (was it backtested with --no-split?): the gates need one"
        );
    }
    // A metric that could not be computed is NaN, which JSON writes as null: it fails its gate
    // as NaN. A value that is not there at all means the file is not a candidate.
    let gate_value = |pointer: &str| -> anyhow::Result<f64> {
        match candidate.pointer(pointer) {
            Some(Value::Null) => Ok(f64::NAN),
            _ => number(candidate, pointer),
        }
    };
    Ok(GateInputs {
        test_roi: gate_value("/windows/test/strategy/total_roi")?,
        test_baseline_roi: gate_value("/windows/test/baseline/total_roi")?,
        dsr: gate_value("/selection/dsr")?,
        test_max_drawdown: gate_value("/windows/test/strategy/max_drawdown")?,
    })
}

fn production_model(candidate: &Value) -> anyhow::Result<ProductionModel> {
    let whole = |pointer: &str| -> anyhow::Result<usize> {
        candidate
            .pointer(pointer)
            .and_then(Value::as_u64)
            .and_then(|v| usize::try_from(v).ok())
            .with_context(|| format!("candidate: no whole number at {pointer}"))
    };
    let tickers = candidate
        .pointer("/data/universe")
        .and_then(Value::as_array)
        .context("candidate: no /data/universe list")?
        .iter()
        .map(|t| {
            t.as_str()
                .map(str::to_owned)
                .context("candidate: a ticker is not a string")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ProductionModel {
        version: String::new(),
        lookback: whole("/params/lookback")?,
        skip: whole("/params/skip")?,
        holding: whole("/params/holding")?,
        top_k: whole("/params/top_k")?,
        cost_bps: number(candidate, "/params/cost_bps")?,
        tickers,
        data_digest: candidate
            .pointer("/data/digest")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        promoted_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// The backtest parent run that wrote this exact candidate file.
fn candidate_run(tracker: &Tracker, config: &Config, sha256: &str) -> anyhow::Result<String> {
    let query = RunQuery::new(&config.tracking.experiment).filter(Filter::Tag(
        CANDIDATE_SHA256_TAG.into(),
        Cmp::Eq,
        sha256.into(),
    ));
    let runs = tracker.search_runs(&query)?;
    let run = runs.first().with_context(|| {
        format!(
            "the backtest run that wrote this candidate is not in the tracking store {} (experiment {}): rerun `momentum backtest`",
            config.tracking.store.display(),
            config.tracking.experiment
        )
    })?;
    Ok(run.run_id.clone())
}

/// Hex sha256 of a file's bytes, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn production_text(params_path: &Path, model: &ProductionModel) -> anyhow::Result<String> {
    let text = match std::fs::read_to_string(params_path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read {}", params_path.display()));
        }
    };
    set_production_block(&text, model).with_context(|| params_path.display().to_string())
}

fn write_production(params_path: &Path, model: &ProductionModel) -> anyhow::Result<()> {
    let text = production_text(params_path, model)?;
    write_text(params_path, &text)
}
