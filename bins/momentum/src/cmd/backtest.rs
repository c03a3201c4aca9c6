//! `momentum backtest`: grid-search the strategy on the train window, validate the winner on the
//! test window, and write the reports and the candidate model ([`momentum_lifecycle::backtest`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use momentum_engine::{ExperimentSpec, GridSpec, Objective, ParamRange, SearchMethod, Shard};
use momentum_lifecycle::track::{git_commit, open_tracker, track_backtest};
use momentum_lifecycle::{
    BacktestFiles, PanelSource, Settings, backtest, backtest_shard, load_panel, merge_backtest,
};
use momentum_scanner::model::CodeVersion;

use crate::cmd::report::LiveArgs;
use crate::overrides::Overrides;
use crate::progress::Bar;
use crate::terminal::say;

const AFTER_HELP: &str = "\
Inputs: the panel written by `momentum features` (features.panel), or a price file with
--prices (CSV wide or long, gzip ok, or long Parquet: the layouts `momentum fetch` reads; in a
wide CSV an empty cell is a missing price). Without either, the cached prices (data.out) are
aligned on the fly.

Outputs (each written atomically):
  REPORTS/metrics.json      selected params, data lineage, train/test (or full) metrics of the
                            strategy and buy-and-hold, selection statistics (DVC metrics file)
  REPORTS/grid.csv          one row per combination (or trial): params, train and test metrics
  REPORTS/search.csv        the search's history: one row per trial, with its train objective
                            and the best so far (a grid's rows in grid order)
  REPORTS/trades.csv        per-rebalance trade log of the selected strategy
  REPORTS/equity_curve.csv  date, strategy, baseline, window
  REPORTS/equity_curve.png  strategy vs buy and hold, with a drawdown panel
  REPORTS/report.html       the tear sheet: one self-contained HTML page (summary, PSR/DSR/PBO
                            read in words, gates, equity, drawdown, monthly returns, rolling
                            Sharpe, return distribution, grid heatmaps, train vs test, costs,
                            latest picks and monitor status; see `momentum report --help`)
  REPORTS/walk_forward.csv  one row per fold, and REPORTS/walk_forward.png its stitched curve
                            (with a walk-forward)
  REPORTS/cpcv.csv          one row per CPCV split (with a CPCV)
  MODEL                     the candidate model (models/candidate.json)
All of them are replaced together: a failure leaves the previous set as it was.

Examples:
  momentum backtest
  momentum backtest --grid-lookback 20,60,120 --grid-skip 0 --grid-holding 5,20 --grid-top-k 3,5
  momentum backtest --no-grid --no-split --prices prices.csv --lookback 120 --holding 20 --top-k 5
  momentum backtest --no-grid --no-split --start 2003-06-01 --end 2009-12-31 --lookback 20 \
      --holding 7 --top-k 5     # these parameters over this period, scores from earlier prices
  momentum backtest --validation walk-forward --start 1995-01-01 --wf-train-days 1260 \
      --wf-test-days 252        # reselect every year on the last five, traded out of sample
  momentum backtest --validation walk-forward,cpcv --cpcv-groups 10 --cpcv-test-groups 2
  momentum backtest --search tpe --trials 1000 --seed 7 --validation split
                                # 1,000 trials of a TPE search over backtest.search's ranges
  momentum backtest --search tpe --trials 450 --search-lookback 5:250:5 --search-skip 0:0 \
      --search-holding 1:60 --search-top-k 3:7:2

Search (docs/search.md): --search tpe replaces the grid by a seeded TPE search of --trials
distinct combinations (never skip >= lookback) within the ranges --search-lookback,
--search-skip, --search-holding and --search-top-k (MIN:MAX or MIN:MAX:STEP; backtest.search
in params.yaml), proposed --search-batch at a time and simulated in parallel: a seed gives the
same trials, bit for bit, on any --threads. The DSR deflates by the trials, PBO ranks them all,
REPORTS/search.csv holds the history (trial, batch, params, train objective, best so far,
seconds; no seconds with --reproducible), metrics.json the method, seed, trials and best
trial. Each walk-forward fold runs a search of its own; no CPCV runs with a search (each split
would need its own). A search does not shard.

The evaluation window [--start, --end] is the spec's [start, end]: the first trading day on or
after --start to the last on or before --end. Prices before it feed the scores (the first
rebalance is max(start, lookback)), so the answer differs from cutting the data. With the
split, train_fraction cuts the window's days.

A walk-forward analysis (backtest.walk_forward in params.yaml, or --validation walk-forward)
runs the grid on a moving train window (--wf-train-days, or every day from the start with
--wf-anchored) and trades each fold's winner on the --wf-test-days after it; the folds are
written to REPORTS/walk_forward.csv and metrics.json (walk_forward), their stitched curve's
metrics are printed and tracked (walk_forward_*). A combinatorial purged cross-validation
(backtest.cpcv, or --validation cpcv: --cpcv-groups N, --cpcv-test-groups K, --embargo-days E)
selects on every choice of K of N groups as test (the rest, purged of the largest holding period
and E more days after each test group, as train) and reports the out-of-sample Sharpe ratio of
its K/N * C(N, K) paths: REPORTS/cpcv.csv, metrics.json (cpcv), tracked cpcv_sharpe_*. The
split's candidate is unchanged; a candidate carries both analyses, and `momentum promote` holds
it to their out-of-sample Sharpe (promotion.min_oos_sharpe).

Sharded grid (docs/operations.md, \"Sharded grid search\"): --shard I/N --shard-out DIR
evaluates only shard I of N (contiguous runs of whole (lookback, skip) groups, balanced by
work) and writes DIR/shard-I-of-N.shard, complete or absent, nothing else; --shard auto/N
takes I from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job). --merge DIR then reads all N and
writes what the unsharded backtest writes (with --reproducible, the same bytes), tracked like
any run. The merge refuses, naming the file, a shard evaluated with other parameters, on
other prices or by another version, a second copy of a shard, a truncated or foreign file,
and names a missing shard; nothing is written then.
  momentum backtest --shard 0/3 --shard-out shards     # on three machines: 0/3, 1/3, 2/3
  momentum backtest --merge shards";

/// Grid-search the strategy on the train window and validate the winner out of sample.
///
/// Every default comes from `params.yaml` (`backtest` section); each flag overrides it.
/// Combinations with skip >= lookback are left out of the grid (and counted).
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Price file (CSV or Parquet) to backtest instead of the panel.
    #[arg(long, value_name = "PATH", conflicts_with = "panel")]
    pub prices: Option<PathBuf>,

    /// Panel Parquet written by `momentum features` [default: features.panel].
    #[arg(long, value_name = "PATH")]
    pub panel: Option<PathBuf>,

    /// Fraction of the days in the train window, in (0, 1) [default: backtest.train_fraction].
    #[arg(long, value_name = "F")]
    pub train_fraction: Option<f64>,

    /// Evaluate on the whole panel (window `full`), no train/test split.
    #[arg(long, conflicts_with = "train_fraction")]
    pub no_split: bool,

    /// What validates the grid beside the train/test split, comma-separated: `walk-forward`
    /// (folds of --wf-train-days selecting, --wf-test-days trading), `cpcv` (combinatorial
    /// purged cross-validation); `split` alone runs neither. The list is the whole choice: an
    /// analysis set in params.yaml but not listed does not run [default: those set in
    /// backtest.walk_forward and backtest.cpcv (none with --no-grid: one combination has
    /// nothing to select), with those a --wf-* or --cpcv-* flag adds]
    #[arg(
        long,
        value_name = "KINDS",
        value_delimiter = ',',
        value_parser = ["split", "walk-forward", "cpcv"]
    )]
    pub validation: Vec<String>,

    /// Trading days each walk-forward fold selects on [params: backtest.walk_forward.train_days]
    #[arg(long, value_name = "N")]
    pub wf_train_days: Option<usize>,

    /// Trading days each walk-forward fold trades [params: backtest.walk_forward.test_days]
    #[arg(long, value_name = "M")]
    pub wf_test_days: Option<usize>,

    /// Walk-forward folds select on every day from the window's start (an expanding train
    /// window); `--wf-anchored=false` rolls them where params.yaml anchors
    /// [params: backtest.walk_forward.anchored, default false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub wf_anchored: Option<bool>,

    /// CPCV groups N [params: backtest.cpcv.groups, default 10]
    #[arg(long, value_name = "N")]
    pub cpcv_groups: Option<usize>,

    /// CPCV test groups K per split [params: backtest.cpcv.test_groups, default 2]
    #[arg(long, value_name = "K")]
    pub cpcv_test_groups: Option<usize>,

    /// CPCV embargo: train days dropped after each test group, beyond the purge of the largest
    /// holding period [params: backtest.cpcv.embargo_days, default 0]
    #[arg(long, value_name = "E")]
    pub embargo_days: Option<usize>,

    /// First day of the evaluation window: the first trading day on or after it; earlier
    /// prices still feed the scores [default: backtest.start, empty = the panel's first day]
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub start: Option<NaiveDate>,

    /// Last day of the evaluation window: the last trading day on or before it
    /// [default: backtest.end, empty = the panel's last day]
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub end: Option<NaiveDate>,

    /// What the grid maximises on the train window: sharpe, total_roi, sortino or calmar
    /// [default: backtest.objective].
    #[arg(long, value_name = "NAME")]
    pub objective: Option<Objective>,

    /// One-way cost in basis points per unit of traded notional, 0 to below 5000
    /// [default: backtest.cost_bps].
    #[arg(long, value_name = "BPS")]
    pub cost_bps: Option<f64>,

    /// CSCV blocks for PBO, even and 2 to 24 [default: backtest.pbo_blocks].
    #[arg(long, value_name = "S")]
    pub pbo_blocks: Option<usize>,

    /// Grid lookbacks, comma-separated [default: backtest.grid.lookback].
    #[arg(long, value_name = "LIST", value_delimiter = ',', num_args = 1..)]
    pub grid_lookback: Option<Vec<usize>>,

    /// Grid skips, comma-separated [default: backtest.grid.skip].
    #[arg(long, value_name = "LIST", value_delimiter = ',', num_args = 1..)]
    pub grid_skip: Option<Vec<usize>>,

    /// Grid holding periods, comma-separated [default: backtest.grid.holding].
    #[arg(long, value_name = "LIST", value_delimiter = ',', num_args = 1..)]
    pub grid_holding: Option<Vec<usize>>,

    /// Grid portfolio sizes, comma-separated [default: backtest.grid.top_k].
    #[arg(long, value_name = "LIST", value_delimiter = ',', num_args = 1..)]
    pub grid_top_k: Option<Vec<usize>>,

    /// How the combinations are chosen: `grid` (every combination of the --grid-* lists) or
    /// `tpe` (a seeded TPE search of --trials distinct combinations within the --search-*
    /// ranges) [default: backtest.search.method, grid]
    #[arg(long, value_name = "METHOD", value_parser = ["grid", "tpe"])]
    pub search: Option<String>,

    /// Distinct combinations a TPE search tries [default: backtest.search.trials, 450]
    #[arg(long, value_name = "N")]
    pub trials: Option<usize>,

    /// Seed of a TPE search: a seed gives the same trials on any thread count
    /// [default: backtest.search.seed, 0]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Proposals a TPE search simulates together before drawing the next; the trials depend
    /// on it, not on --threads [default: backtest.search.batch, 16]
    #[arg(long, value_name = "N")]
    pub search_batch: Option<usize>,

    /// Lookbacks a TPE search draws from, MIN:MAX or MIN:MAX:STEP
    /// [default: backtest.search.lookback, 2:500]
    #[arg(long, value_name = "RANGE")]
    pub search_lookback: Option<ParamRange>,

    /// Skips a TPE search draws from (never skip >= lookback)
    /// [default: backtest.search.skip, 0:60]
    #[arg(long, value_name = "RANGE")]
    pub search_skip: Option<ParamRange>,

    /// Holding periods a TPE search draws from [default: backtest.search.holding, 1:120]
    #[arg(long, value_name = "RANGE")]
    pub search_holding: Option<ParamRange>,

    /// Portfolio sizes a TPE search draws from [default: backtest.search.top_k, 1:20]
    #[arg(long, value_name = "RANGE")]
    pub search_top_k: Option<ParamRange>,

    /// Evaluate only the parameters given by --lookback --skip --holding --top-k.
    #[arg(
        long,
        requires_all = ["lookback", "holding", "top_k"],
        conflicts_with_all = [
            "search", "trials", "seed", "search_batch", "search_lookback", "search_skip",
            "search_holding", "search_top_k", "grid_lookback", "grid_skip", "grid_holding",
            "grid_top_k",
        ]
    )]
    pub no_grid: bool,

    /// Lookback L in days (with --no-grid).
    #[arg(long, value_name = "L", requires = "no_grid")]
    pub lookback: Option<usize>,

    /// Skip S in days (with --no-grid) [default: 0].
    #[arg(long, value_name = "S", requires = "no_grid")]
    pub skip: Option<usize>,

    /// Holding period H in days (with --no-grid).
    #[arg(long, value_name = "H", requires = "no_grid")]
    pub holding: Option<usize>,

    /// Number of tickers held K (with --no-grid).
    #[arg(long, value_name = "K", requires = "no_grid")]
    pub top_k: Option<usize>,

    /// Largest grid run; a larger one is refused at once with an estimate of its memory and
    /// time [default: backtest.max_combinations, 2000000].
    #[arg(long, value_name = "N")]
    pub max_combinations: Option<usize>,

    /// Worker threads for the grid, 1 to 1024 [default: all cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Leave the wall-clock creation time and the git commit out of candidate.json (the
    /// tracking run still records both), so the same data and parameters write byte-identical
    /// files: what `dvc repro` needs to reproduce dvc.lock.
    #[arg(long)]
    pub reproducible: bool,

    /// Do not log the runs to tracking.
    #[arg(long)]
    pub no_track: bool,

    /// Child runs: the best N combinations by the objective; the whole grid is the parent
    /// run's grid.parquet [default: tracking.children].
    #[arg(long, value_name = "N", conflicts_with = "no_track")]
    pub children: Option<usize>,

    /// Directory of the reports.
    #[arg(
        long,
        visible_alias = "out-dir",
        value_name = "DIR",
        default_value = "reports"
    )]
    pub reports: PathBuf,

    /// Where to write the candidate model.
    #[arg(long, value_name = "PATH", default_value = "models/candidate.json")]
    pub model: PathBuf,

    /// Evaluate only shard I (0-based) of N of the grid and write it to --shard-out instead
    /// of the reports; `auto/N` takes I from JOB_COMPLETION_INDEX (set by a Kubernetes Indexed
    /// Job). Merge the N shard files with --merge. The flags of the reports, the candidate and
    /// tracking belong to the merge: given with --shard, they are refused.
    #[arg(
        long,
        value_name = "I/N",
        requires = "shard_out",
        conflicts_with_all = [
            "merge", "no_track", "children", "reports", "model", "report_picks",
            "report_monitor", "report_no_live",
        ]
    )]
    pub shard: Option<String>,

    /// Directory of the shard file (`shard-I-of-N.shard`, written atomically).
    #[arg(long, value_name = "DIR", requires = "shard")]
    pub shard_out: Option<PathBuf>,

    /// Merge the shard files in DIR (all N of one --shard cut, evaluated with these
    /// parameters on these prices) into the reports, the candidate and the tracked run the
    /// unsharded backtest writes.
    #[arg(long, value_name = "DIR")]
    pub merge: Option<PathBuf>,

    #[command(flatten)]
    pub live: LiveArgs,
}

/// `--shard I/N`, or `auto/N` with I from `JOB_COMPLETION_INDEX`.
impl Args {
    /// Whether a `--wf-*` flag was given.
    fn walk_forward_flags(&self) -> bool {
        self.wf_train_days.is_some() || self.wf_test_days.is_some() || self.wf_anchored.is_some()
    }

    /// Whether a `--cpcv-*` or `--embargo-days` flag was given.
    fn cpcv_flags(&self) -> bool {
        self.cpcv_groups.is_some() || self.cpcv_test_groups.is_some() || self.embargo_days.is_some()
    }
}

fn parse_shard(text: &str) -> anyhow::Result<Shard> {
    let Some(count) = text.strip_prefix("auto/") else {
        return text
            .parse::<Shard>()
            .with_context(|| format!("--shard {text}"));
    };
    let index = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
        anyhow::anyhow!(
            "--shard {text}: JOB_COMPLETION_INDEX is not set (a Kubernetes Indexed Job sets it); \
             give the index instead, e.g. --shard 0/{count}"
        )
    })?;
    format!("{index}/{count}")
        .parse::<Shard>()
        .with_context(|| format!("--shard {text} with JOB_COMPLETION_INDEX={index}"))
}

/// The most worker threads `--threads` takes: far more than any machine has cores.
const MAX_THREADS: usize = 1024;

pub fn run(args: Args, settings: &Settings, params: &Path) -> anyhow::Result<ExitCode> {
    if let Some(n) = args.threads {
        // Each one an OS thread with its stack: 100,000 of them took minutes and gigabytes
        // before any other check ran.
        if !(1..=MAX_THREADS).contains(&n) {
            bail!("invalid --threads {n}: must be from 1 to {MAX_THREADS}");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot configure the thread pool")?;
    }
    let mut spec = settings.backtest.clone();
    let mut flags = Overrides::default();
    flags.set(
        &mut spec.objective,
        args.objective,
        "backtest.objective",
        "--objective",
    );
    flags.set(
        &mut spec.cost_bps,
        args.cost_bps,
        "backtest.cost_bps",
        "--cost-bps",
    );
    flags.set(
        &mut spec.pbo_blocks,
        args.pbo_blocks,
        "backtest.pbo_blocks",
        "--pbo-blocks",
    );
    flags.set(
        &mut spec.max_combinations,
        args.max_combinations,
        "backtest.max_combinations",
        "--max-combinations",
    );
    flags.set_some(&mut spec.start, args.start, "backtest.start", "--start");
    flags.set_some(&mut spec.end, args.end, "backtest.end", "--end");
    set_validation(&mut spec, &args, &mut flags)?;
    if args.no_split {
        spec.train_fraction = None;
    } else {
        flags.set_some(
            &mut spec.train_fraction,
            args.train_fraction,
            "backtest.train_fraction",
            "--train-fraction",
        );
    }
    set_search(&mut spec, &args, &mut flags)?;
    let grid = &mut spec.grid;
    match (args.lookback, args.holding, args.top_k) {
        (Some(lookback), Some(holding), Some(top_k)) if args.no_grid => {
            let skip = args.skip.unwrap_or(0);
            flags.record("backtest.grid.lookback", "--lookback", lookback);
            flags.record("backtest.grid.skip", "--skip", skip);
            flags.record("backtest.grid.holding", "--holding", holding);
            flags.record("backtest.grid.top_k", "--top-k", top_k);
            *grid = GridSpec {
                lookback: vec![lookback],
                skip: vec![skip],
                holding: vec![holding],
                top_k: vec![top_k],
            };
            spec.search.method = SearchMethod::Grid;
        }
        _ => {
            let lists = [
                (
                    &mut grid.lookback,
                    args.grid_lookback,
                    "backtest.grid.lookback",
                    "--grid-lookback",
                ),
                (
                    &mut grid.skip,
                    args.grid_skip,
                    "backtest.grid.skip",
                    "--grid-skip",
                ),
                (
                    &mut grid.holding,
                    args.grid_holding,
                    "backtest.grid.holding",
                    "--grid-holding",
                ),
                (
                    &mut grid.top_k,
                    args.grid_top_k,
                    "backtest.grid.top_k",
                    "--grid-top-k",
                ),
            ];
            for (list, flag_value, key, flag) in lists {
                flags.set_list(list, flag_value, key, flag);
            }
        }
    }
    // Before any work: a bad shard argument costs nothing.
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    // Only the flag sets it: an error about the shard names the flag, not params.yaml.
    if let Some(shard) = shard {
        flags.record("backtest.shard", "--shard", shard);
    }
    let source = match (args.prices, args.panel) {
        (Some(prices), _) => PanelSource::Prices(prices),
        (None, Some(panel)) => PanelSource::Panel(panel),
        (None, None) => PanelSource::Default,
    };
    let (panel, digest) = load_panel(&source, settings)?;
    // The checkout's commit: one `git` process, and only when something records it.
    let commit = std::cell::OnceCell::new();
    let commit = || commit.get_or_init(git_commit).clone();
    let code = CodeVersion {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        // Left out of a reproducible file; `null` outside a git checkout.
        git_commit: (!args.reproducible).then(commit),
    };
    // What a shard records and a merge checks: the commit too, --reproducible or not (a shard
    // file is not an output).
    let running = || CodeVersion {
        version: code.version.clone(),
        git_commit: Some(commit()),
    };
    if let (Some(shard), Some(dir)) = (shard, &args.shard_out) {
        let path = backtest_shard(&panel, digest, &spec, (shard, &running()), dir, &Bar::new())
            .map_err(|err| flags.explain(err, params))?;
        say!("wrote shard {shard} of the grid to {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let created_at = (!args.reproducible).then(crate::now);
    let report = args.live.context(settings)?;
    let files = BacktestFiles {
        reports: args.reports,
        model: args.model,
    };
    // Opened first: a store that cannot be opened fails the command before any report or
    // model is replaced.
    let tracking = if args.no_track {
        None
    } else {
        let mut settings = settings.clone();
        if let Some(children) = args.children {
            settings.tracking.children = children;
        }
        let tracker = open_tracker(&settings, "backtest", commit())?;
        Some((tracker, settings))
    };
    let run = match &args.merge {
        Some(dir) => merge_backtest(
            &panel,
            digest,
            &spec,
            ((code.clone(), created_at), &running()),
            (dir, &files),
            &report,
        ),
        None => backtest(
            &panel,
            digest,
            &spec,
            (code, created_at),
            &files,
            &report,
            &Bar::new(),
        ),
    }
    .map_err(|err| flags.explain(err, params))?;
    if let Some((tracker, settings)) = tracking {
        track_backtest(&tracker, &settings, &run, params)?;
    }
    let experiment = &run.experiment;
    let p = experiment.params;
    let selection = &experiment.selection;
    let tried = match (experiment.search.method, experiment.search.seed) {
        (SearchMethod::Tpe, Some(seed)) => format!(
            "trial {} of {} (tpe search, seed {seed})",
            experiment.search.best_trial,
            experiment.grid.len()
        ),
        _ => format!("{} combinations", experiment.grid.len()),
    };
    say!(
        "selected lookback={} skip={} holding={} top_k={} cost_bps={} of {tried} (train {} {:.3})",
        p.lookback,
        p.skip,
        p.holding,
        p.top_k,
        p.cost_bps,
        selection.objective,
        selection.objective.value(&experiment.best()?.train),
    );
    for (name, w) in &experiment.windows {
        say!(
            "{name:>5}: total_roi {:>8.3} sharpe {:>6.3} max_drawdown {:.3} | buy and hold total_roi \
             {:>8.3} sharpe {:>6.3}",
            w.strategy.total_roi,
            w.strategy.sharpe,
            w.strategy.max_drawdown,
            w.baseline.total_roi,
            w.baseline.sharpe,
        );
    }
    say!(
        "selection: psr {:.3} dsr {:.3} pbo {}",
        selection.psr,
        selection.dsr,
        selection
            .pbo
            .as_ref()
            .map_or_else(|| "n/a".to_owned(), |p| format!("{:.3}", p.pbo))
    );
    if let Some(analysis) = &experiment.walk_forward {
        let (first, last) = (
            &analysis.folds[0],
            &analysis.folds[analysis.folds.len() - 1],
        );
        let stitched = &analysis.stitched;
        say!(
            "walk-forward: {} folds, out of sample {} to {}: total_roi {:>8.3} sharpe {:>6.3} \
             max_drawdown {:.3} (reselected every {} days on {}{} days)",
            analysis.folds.len(),
            first.test_start,
            last.test_end,
            stitched.total_roi,
            stitched.sharpe,
            stitched.max_drawdown,
            analysis.spec.test_days,
            if analysis.spec.anchored {
                "at least "
            } else {
                ""
            },
            analysis.spec.train_days,
        );
    }
    if let Some(validation) = &experiment.cpcv {
        let paths = &validation.paths;
        say!(
            "cpcv: {} splits of {} groups, {} paths: out-of-sample sharpe mean {:.3} std {:.3}, \
             5-95 % [{:.3}, {:.3}], {:.0} % of paths below 0",
            validation.spec.splits(),
            validation.spec.groups,
            validation.path_sharpes.len(),
            paths.mean,
            paths.std,
            paths.q05,
            paths.q95,
            paths.below_zero * 100.0
        );
    }
    for f in &run.files {
        say!("wrote {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The search's method, budget, seed and ranges from their flags over `backtest.search`.
fn set_search(spec: &mut ExperimentSpec, args: &Args, flags: &mut Overrides) -> anyhow::Result<()> {
    let search = &mut spec.search;
    let method = args
        .search
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    flags.set(
        &mut search.method,
        method,
        "backtest.search.method",
        "--search",
    );
    flags.set(
        &mut search.trials,
        args.trials,
        "backtest.search.trials",
        "--trials",
    );
    flags.set(
        &mut search.seed,
        args.seed,
        "backtest.search.seed",
        "--seed",
    );
    flags.set(
        &mut search.batch,
        args.search_batch,
        "backtest.search.batch",
        "--search-batch",
    );
    for (range, flag_value, key, flag) in [
        (
            &mut search.lookback,
            args.search_lookback,
            "backtest.search.lookback",
            "--search-lookback",
        ),
        (
            &mut search.skip,
            args.search_skip,
            "backtest.search.skip",
            "--search-skip",
        ),
        (
            &mut search.holding,
            args.search_holding,
            "backtest.search.holding",
            "--search-holding",
        ),
        (
            &mut search.top_k,
            args.search_top_k,
            "backtest.search.top_k",
            "--search-top-k",
        ),
    ] {
        flags.set(range, flag_value, key, flag);
    }
    // A flag of the other method would be ignored without a word.
    let (grid_flags, tpe_flags) = (
        [
            ("--grid-lookback", args.grid_lookback.is_some()),
            ("--grid-skip", args.grid_skip.is_some()),
            ("--grid-holding", args.grid_holding.is_some()),
            ("--grid-top-k", args.grid_top_k.is_some()),
        ],
        [
            ("--trials", args.trials.is_some()),
            ("--seed", args.seed.is_some()),
            ("--search-batch", args.search_batch.is_some()),
            ("--search-lookback", args.search_lookback.is_some()),
            ("--search-skip", args.search_skip.is_some()),
            ("--search-holding", args.search_holding.is_some()),
            ("--search-top-k", args.search_top_k.is_some()),
        ],
    );
    let (other, method, instead) = match search.method {
        SearchMethod::Grid => (&tpe_flags[..], "grid", "--search tpe"),
        SearchMethod::Tpe => (&grid_flags[..], "tpe", "--search grid"),
    };
    if let Some((flag, _)) = other.iter().find(|(_, given)| *given) {
        bail!(
            "{flag} does not apply to a {method} search (backtest.search.method, --search): \
             add {instead} or leave {flag} out"
        );
    }
    // Asked for on the command line, a CPCV that a TPE search cannot run is an error (from
    // params.yaml, a warning: the file may serve both methods).
    let cpcv_asked = args.validation.iter().any(|kind| kind == "cpcv") || args.cpcv_flags();
    if search.method == SearchMethod::Tpe && cpcv_asked {
        bail!(
            "a CPCV does not run with a TPE search (each split would need a search of its own; \
             the walk-forward runs one per fold): leave cpcv and the --cpcv-* flags out, or add \
             --search grid"
        );
    }
    Ok(())
}

/// The analyses beside the split. A `--validation` list is the whole choice: the kinds it
/// leaves out do not run, whatever params.yaml sets, and a flag of a kind it leaves out is
/// refused (`split` alone: neither). Without the list, the analyses of params.yaml run, and a
/// `--wf-*` flag turns the walk-forward on, a `--cpcv-*`/`--embargo-days` flag the CPCV. Each
/// flag goes over its `backtest` key.
fn set_validation(
    spec: &mut ExperimentSpec,
    args: &Args,
    flags: &mut Overrides,
) -> anyhow::Result<()> {
    let kinds = &args.validation;
    let listed = |kind: &str| kinds.iter().any(|k| k == kind);
    let (walk_flags, cpcv_flags) = (args.walk_forward_flags(), args.cpcv_flags());
    if listed("split") && kinds.len() > 1 {
        bail!("--validation split runs the split alone: it takes no other kind");
    }
    if let Some(kind) = kinds
        .iter()
        .enumerate()
        .find_map(|(i, k)| kinds[..i].contains(k).then_some(k))
    {
        bail!("--validation {}: {kind} is listed twice", kinds.join(","));
    }
    // One combination has nothing to select: the walk-forward and CPCV of params.yaml would
    // repeat its backtest (and a window shorter than their schedule would fail it).
    if kinds.is_empty() && args.no_grid {
        spec.walk_forward = None;
        spec.cpcv = None;
    }
    if !kinds.is_empty() {
        for (kind, given, what) in [
            ("walk-forward", walk_flags, "--wf-* flags"),
            ("cpcv", cpcv_flags, "--cpcv-* and --embargo-days flags"),
        ] {
            if given && !listed(kind) {
                bail!(
                    "--validation {} leaves out {kind}: it takes no {what}",
                    kinds.join(",")
                );
            }
        }
        if !listed("walk-forward") {
            spec.walk_forward = None;
        }
        if !listed("cpcv") {
            spec.cpcv = None;
        }
    }
    let (walk, groups) = (
        listed("walk-forward") || walk_flags,
        listed("cpcv") || cpcv_flags,
    );
    if walk {
        set_walk_forward(spec, args, flags)?;
    }
    if groups {
        let mut schedule = spec.cpcv.unwrap_or_default();
        flags.set(
            &mut schedule.groups,
            args.cpcv_groups,
            "backtest.cpcv.groups",
            "--cpcv-groups",
        );
        flags.set(
            &mut schedule.test_groups,
            args.cpcv_test_groups,
            "backtest.cpcv.test_groups",
            "--cpcv-test-groups",
        );
        flags.set(
            &mut schedule.embargo_days,
            args.embargo_days,
            "backtest.cpcv.embargo_days",
            "--embargo-days",
        );
        spec.cpcv = Some(schedule);
    }
    Ok(())
}

/// The walk-forward schedule from its flags over `backtest.walk_forward`.
fn set_walk_forward(
    spec: &mut ExperimentSpec,
    args: &Args,
    flags: &mut Overrides,
) -> anyhow::Result<()> {
    let (Some(train_days), Some(test_days)) = (
        args.wf_train_days
            .or(spec.walk_forward.map(|wf| wf.train_days)),
        args.wf_test_days
            .or(spec.walk_forward.map(|wf| wf.test_days)),
    ) else {
        bail!(
            "a walk-forward needs --wf-train-days and --wf-test-days (or \
             backtest.walk_forward.train_days and test_days)"
        );
    };
    let mut schedule = momentum_engine::WalkForwardSpec {
        train_days,
        test_days,
        anchored: spec.walk_forward.is_some_and(|wf| wf.anchored),
    };
    flags.set(
        &mut schedule.train_days,
        args.wf_train_days,
        "backtest.walk_forward.train_days",
        "--wf-train-days",
    );
    flags.set(
        &mut schedule.test_days,
        args.wf_test_days,
        "backtest.walk_forward.test_days",
        "--wf-test-days",
    );
    if let Some(anchored) = args.wf_anchored {
        schedule.anchored = anchored;
    }
    spec.walk_forward = Some(schedule);
    Ok(())
}
