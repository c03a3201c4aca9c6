//! `momentum promote`: gate the candidate model, then register it and make it production
//! ([`momentum_lifecycle::judge`], [`momentum_lifecycle::register`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::terminal::say;
use momentum_lifecycle::track::{git_commit, open_tracker};
use momentum_lifecycle::{CHAMPION, Settings, judge, register, rollback};

/// Exit code of a candidate that failed a gate (nothing was changed).
const EXIT_REJECTED: u8 = 3;

const AFTER_HELP: &str = "\
Gates (all must pass; each threshold from params.yaml promotion, or its flag):
  min_roi             out-of-sample (test window) total_roi >= --min-roi (default 0.20)
  beats_buy_and_hold  out-of-sample total_roi > buy and hold's total_roi on the same days
  min_dsr             Deflated Sharpe Ratio of the grid's winner >= --min-dsr (default 0.50)
  max_drawdown        out-of-sample max_drawdown <= --max-drawdown (default 0.60)
  max_pbo             Probability of Backtest Overfitting of the grid's selection <= --max-pbo
                      (default 0.50; `max_pbo: null` in params.yaml turns the gate off)
  min_oos_sharpe      the walk-forward's stitched out-of-sample Sharpe >= --min-oos-sharpe
                      (default 0.50), for a candidate whose backtest ran a walk-forward
                      (`min_oos_sharpe: null` turns the gate off)
A metric that could not be computed (null in the candidate) fails its gate.

On pass: registers a new version of the model (tracking.model_name) whose source is the
backtest run that wrote the candidate, moves the `champion` alias to it, and rewrites only the
production block of params.yaml (comments and everything else stay byte for byte).
On fail: changes nothing.

--rollback moves `champion` and the production block back to the version the current champion
replaced. When the two disagree (a promotion or rollback was killed between moving the alias
and writing params.yaml; `scan` refuses to run then), --rollback moves only `champion`, back to
the version of params.yaml: the state before the interrupted step.
--dry-run prints the verdict and changes nothing.

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

    /// Maximum Probability of Backtest Overfitting of the selection [params:
    /// promotion.max_pbo]
    #[arg(long, value_name = "P")]
    max_pbo: Option<f64>,

    /// Minimum out-of-sample Sharpe ratio of the walk-forward [params:
    /// promotion.min_oos_sharpe]
    #[arg(long, value_name = "X")]
    min_oos_sharpe: Option<f64>,

    /// Print the verdict, change nothing
    #[arg(long)]
    dry_run: bool,

    /// Move production and `champion` back to the previous version
    #[arg(long, conflicts_with_all = ["dry_run", "min_roi", "min_dsr", "max_drawdown", "max_pbo", "min_oos_sharpe"])]
    rollback: bool,
}

pub fn run(args: Args, settings: &Settings, params: &Path) -> anyhow::Result<ExitCode> {
    let name = &settings.tracking.model_name;
    if args.rollback {
        let tracker = open_tracker(settings, "promote", git_commit())?;
        let done = rollback(&tracker, settings, params)?;
        match (&done.to, done.interrupted) {
            (Some(to), false) => say!(
                "rolled back: {name} version {to} is `{CHAMPION}` again (was {})",
                done.from
            ),
            (Some(to), true) => say!(
                "undid an interrupted promotion or rollback: {name} version {to} is `{CHAMPION}` \
                 again, as in {} (was {})",
                params.display(),
                done.from
            ),
            (None, _) => say!(
                "undid an interrupted first promotion: `{CHAMPION}` removed from {name} version \
                 {} ({} has no production model)",
                done.from,
                params.display()
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut gates = settings.promotion;
    for (gate, flag) in [
        (&mut gates.min_roi, args.min_roi),
        (&mut gates.min_dsr, args.min_dsr),
        (&mut gates.max_drawdown, args.max_drawdown),
    ] {
        if let Some(value) = flag {
            *gate = value;
        }
    }
    for (gate, flag) in [
        (&mut gates.max_pbo, args.max_pbo),
        (&mut gates.min_oos_sharpe, args.min_oos_sharpe),
    ] {
        if flag.is_some() {
            *gate = flag;
        }
    }
    let verdict = judge(&args.candidate, &gates)?;
    say!(
        "{:<20} {:>10} {:>4} {:>10}  verdict",
        "gate",
        "value",
        "",
        "threshold"
    );
    for gate in &verdict.gates {
        let passed = if gate.passed { "pass" } else { "FAIL" };
        say!(
            "{:<20} {:>10.4} {:>4} {:>10.4}  {passed}",
            gate.gate,
            gate.value,
            gate.rule,
            gate.threshold
        );
    }
    if !verdict.passed() {
        say!("rejected: the candidate stays a candidate; nothing changed");
        return Ok(ExitCode::from(EXIT_REJECTED));
    }
    if args.dry_run {
        say!("dry run: the candidate would be promoted; nothing changed");
        return Ok(ExitCode::SUCCESS);
    }
    let tracker = open_tracker(settings, "promote", git_commit())?;
    let promotion = register(&tracker, settings, &verdict, params, &crate::now())?;
    say!(
        "promoted: {name} version {} is `{CHAMPION}` (source run {}); {} production block updated",
        promotion.model.version().unwrap_or_default(),
        promotion.source_run,
        params.display()
    );
    Ok(ExitCode::SUCCESS)
}
