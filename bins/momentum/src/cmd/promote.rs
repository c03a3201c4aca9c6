//! `momentum promote`: gate the candidate model, then register it and make it production or the
//! challenger ([`momentum_lifecycle::judge`], [`momentum_lifecycle::register`]); swap or retire
//! the challenger ([`momentum_lifecycle::promote_challenger`],
//! [`momentum_lifecycle::retire_challenger`]); roll back.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::overrides::Overrides;
use crate::terminal::say;
use momentum_engine::Arm;
use momentum_lifecycle::track::{git_commit, open_tracker};
use momentum_lifecycle::{
    ARCHIVED_TAG, CHAMPION, Settings, check_registration, judge, promote_challenger, register,
    retire_challenger, rollback,
};

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
  min_oos_sharpe      the lower of the walk-forward's stitched out-of-sample Sharpe and the
                      CPCV paths' mean Sharpe, of those the backtest ran, >= --min-oos-sharpe
                      (default 0.50; `min_oos_sharpe: null` turns the gate off)
A metric that could not be computed (null in the candidate) fails its gate. Thresholds are
numbers (a negative one as --min-roi -0.1); min_dsr, max_drawdown and max_pbo are in [0, 1].

On pass: registers a new version of the model (tracking.model_name) whose source is the
backtest run that wrote the candidate, moves the `champion` alias to it, and rewrites only the
production block of params.yaml (comments and everything else stay byte for byte). With
--alias challenger the version gets the `challenger` alias and params.yaml's challenger block
instead: `momentum scan` then scores it in shadow beside the champion (its picks go to the
history, never to the production picks) and `momentum ab` compares the two.
On fail: changes nothing.

--from-challenger makes the challenger the champion when reports/ab.json (`momentum ab`) decided
promote_challenger for the two current versions, on a live record no scan has added to since
(refused otherwise, with the reason: run `momentum ab` again): the old
champion's version is tagged `archived`, `champion` moves to the challenger's version and
`challenger` is removed; params.yaml's production block becomes the challenger's and its
challenger block is emptied. --retire-challenger tags the challenger `archived`, removes its
alias and empties its block.

--rollback moves `champion` and the production block back to the version the current champion
replaced. When an alias and its block disagree (a promotion, swap or rollback was killed
between moving the alias and writing params.yaml; `scan` refuses to run then), --rollback moves
only the alias, back to the version of params.yaml: the state before the interrupted step.
--dry-run prints the verdict and changes nothing.

Exit codes:
  0  promoted (or, with --dry-run, would be promoted; with --rollback, rolled back)
  1  error: unreadable candidate, no test window, tracking store or registry failure, ...
  3  rejected: a gate failed, nothing changed

Examples:
  momentum promote
  momentum promote --dry-run --min-roi 0.5
  momentum promote --alias challenger     # run beside the champion in shadow first
  momentum ab && momentum promote --from-challenger
  momentum promote --retire-challenger
  momentum promote --rollback";

/// Promote the candidate model to production when it passes the gates.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Candidate model written by `momentum backtest`
    #[arg(long, value_name = "PATH", default_value = "models/candidate.json")]
    candidate: PathBuf,

    /// Minimum out-of-sample total_roi [params: promotion.min_roi, default 0.20]
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    min_roi: Option<f64>,

    /// Minimum Deflated Sharpe Ratio [params: promotion.min_dsr, default 0.50]
    #[arg(long, value_name = "P")]
    min_dsr: Option<f64>,

    /// Maximum out-of-sample max_drawdown [params: promotion.max_drawdown, default 0.60]
    #[arg(long, value_name = "X")]
    max_drawdown: Option<f64>,

    /// Maximum Probability of Backtest Overfitting of the selection [params:
    /// promotion.max_pbo]
    #[arg(long, value_name = "P")]
    max_pbo: Option<f64>,

    /// Minimum out-of-sample Sharpe ratio of the walk-forward and the CPCV [params:
    /// promotion.min_oos_sharpe]
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    min_oos_sharpe: Option<f64>,

    /// Print the verdict and run every check the promotion runs before its first change (the
    /// tracked source run, the params file, the registry's alias); change nothing
    #[arg(long)]
    dry_run: bool,

    /// Register the candidate as the champion (production) or as the challenger (shadow)
    #[arg(long, value_enum, default_value_t = AliasArg::Champion)]
    alias: AliasArg,

    /// Move production and `champion` back to the previous version
    #[arg(long, conflicts_with_all = ["candidate", "dry_run", "min_roi", "min_dsr", "max_drawdown", "max_pbo", "min_oos_sharpe", "alias"])]
    rollback: bool,

    /// Make the challenger the champion, as reports/ab.json decided
    #[arg(long, conflicts_with_all = ["candidate", "rollback", "retire_challenger", "dry_run", "min_roi", "min_dsr", "max_drawdown", "max_pbo", "min_oos_sharpe", "alias"])]
    from_challenger: bool,

    /// The comparison --from-challenger acts on
    #[arg(
        long,
        value_name = "PATH",
        default_value = "reports/ab.json",
        requires = "from_challenger"
    )]
    ab_report: PathBuf,

    /// Archive the challenger: remove its alias and empty its block
    #[arg(long, conflicts_with_all = ["candidate", "rollback", "dry_run", "min_roi", "min_dsr", "max_drawdown", "max_pbo", "min_oos_sharpe", "alias"])]
    retire_challenger: bool,
}

/// `--alias`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AliasArg {
    /// The production model
    Champion,
    /// The model scanned beside it in shadow
    Challenger,
}

pub fn run(args: Args, settings: &Settings, params: &Path) -> anyhow::Result<ExitCode> {
    let name = &settings.tracking.model_name;
    if args.rollback {
        let tracker = open_tracker(settings, "promote", git_commit())?;
        let done = rollback(&tracker, settings, params)?;
        let alias = done.arm;
        // An interrupted first promotion may have left no alias to move back from.
        let was = match done.from.as_str() {
            "" => "it had none".to_owned(),
            from => format!("was version {from}"),
        };
        match (&done.to, done.interrupted) {
            (Some(to), false) => say!(
                "rolled back: {name} version {to} is `{CHAMPION}` again (was {})",
                done.from
            ),
            (Some(to), true) => say!(
                "undid an interrupted step: {name} version {to} is `{alias}` again, as in {} \
                 ({was})",
                params.display()
            ),
            (None, _) => say!(
                "undid an interrupted step: {name} has no `{alias}` again ({was}), as before \
                 the step: the {alias} block of {} is empty or not a registered version",
                params.display()
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.from_challenger {
        let tracker = open_tracker(settings, "promote", git_commit())?;
        let swap = promote_challenger(&tracker, settings, params, &args.ab_report)?;
        say!(
            "promoted the challenger: {name} version {} is `{CHAMPION}`; version {} is tagged \
             `{ARCHIVED_TAG}`; {} updated",
            swap.champion,
            swap.archived,
            params.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if args.retire_challenger {
        let tracker = open_tracker(settings, "promote", git_commit())?;
        let version = retire_challenger(&tracker, settings, params)?;
        say!(
            "retired the challenger: {name} version {version} is tagged `{ARCHIVED_TAG}`; {} \
             has no challenger",
            params.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut gates = settings.promotion;
    let mut flags = Overrides::default();
    flags.set(
        &mut gates.min_roi,
        args.min_roi,
        "promotion.min_roi",
        "--min-roi",
    );
    flags.set(
        &mut gates.min_dsr,
        args.min_dsr,
        "promotion.min_dsr",
        "--min-dsr",
    );
    flags.set(
        &mut gates.max_drawdown,
        args.max_drawdown,
        "promotion.max_drawdown",
        "--max-drawdown",
    );
    flags.set_some(
        &mut gates.max_pbo,
        args.max_pbo,
        "promotion.max_pbo",
        "--max-pbo",
    );
    flags.set_some(
        &mut gates.min_oos_sharpe,
        args.min_oos_sharpe,
        "promotion.min_oos_sharpe",
        "--min-oos-sharpe",
    );
    let verdict = judge(&args.candidate, &gates).map_err(|err| flags.explain(err, params))?;
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
    let tracker = open_tracker(settings, "promote", git_commit())?;
    let arm = match args.alias {
        AliasArg::Champion => Arm::Champion,
        AliasArg::Challenger => Arm::Challenger,
    };
    if args.dry_run {
        // What the promotion would refuse after the gates, it refuses here too.
        let checked = check_registration(&tracker, settings, &verdict, (params, arm))?;
        say!(
            "dry run: the candidate would be promoted to `{arm}` (source run {}); nothing changed",
            checked.source_run
        );
        return Ok(ExitCode::SUCCESS);
    }
    let promotion = register(&tracker, settings, &verdict, params, (arm, &crate::now()))?;
    say!(
        "promoted: {name} version {} is `{arm}` (source run {}); {} {} block updated",
        promotion.model.version().unwrap_or_default(),
        promotion.source_run,
        params.display(),
        momentum_scanner::model::params_block(arm)
    );
    Ok(ExitCode::SUCCESS)
}
