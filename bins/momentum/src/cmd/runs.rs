//! `momentum runs`: list, show, compare and sync tracked runs.
//!
//! Reads the local run store (`tracking.store`, default `mlruns/`) unless `--remote` is given,
//! in which case it asks the MLflow server (`--uri`, else `MLFLOW_TRACKING_URI`, else
//! `tracking.uri`). `sync` pushes the local runs the server has not received yet.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args as ClapArgs, Subcommand};
use momentum_tracking::{Filter, Listing, RestClient, Run, RunQuery, Tracker, TrackingError};

use crate::terminal::{note, say};
use momentum_lifecycle::track::{GRID_COMBINATIONS_TAG, query_grid_of_run};
use momentum_lifecycle::{GRID_ARTIFACT, GridFilter, GridTable, LifecycleError, Settings};

/// Inspect, compare and sync tracked runs.
///
/// Every run is first written to the local store (`tracking.store` in params.yaml, default
/// `mlruns/`). When a tracking server is configured (`MLFLOW_TRACKING_URI` or `tracking.uri`,
/// `http(s)://...`), finished runs are also pushed to it; `momentum runs sync` pushes the ones
/// it missed (server down, network error), without ever creating a run twice.
///
/// To browse runs in the MLflow UI: `make mlflow` (or `scripts/mlflow-ui.sh`), then
/// `MLFLOW_TRACKING_URI=http://127.0.0.1:5000 momentum runs sync`.
#[derive(Debug, ClapArgs)]
#[command(after_help = "Examples:\n  \
    momentum runs list --sort test_sharpe\n  \
    momentum runs compare --sort train_sharpe --limit 20\n  \
    momentum runs compare --filter 'params.lookback=60' --filter 'metrics.train_sharpe>0.5'\n  \
    momentum runs show 3f2a9c\n  \
    momentum runs compare 3f2a9c --where 'test_sharpe > 1 and top_k = 5' --sort test_sharpe --top 10\n  \
    momentum runs compare 3f2a9c --format csv > grid.csv\n  \
    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 momentum runs sync")]
pub struct Args {
    #[command(subcommand)]
    command: RunsCommand,

    /// Local run store (default: `tracking.store` from params.yaml, `mlruns`).
    #[arg(long, global = true, value_name = "DIR")]
    store: Option<PathBuf>,

    /// MLflow tracking server, http(s)://host:port. Overrides MLFLOW_TRACKING_URI and
    /// `tracking.uri`. Credentials: MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN.
    #[arg(long, global = true, value_name = "URL")]
    uri: Option<String>,

    /// Experiment that `list` and `compare` read, and where a short run id given with --remote
    /// is looked up (default: `tracking.experiment` from params.yaml, `momentum`); `sync`
    /// pushes every experiment.
    #[arg(long, short = 'e', global = true, value_name = "NAME")]
    experiment: Option<String>,
}

#[derive(Debug, Subcommand)]
enum RunsCommand {
    /// List runs: id, name, status, start time, children, and (for local runs) whether the
    /// server has them.
    List(ListArgs),
    /// Show one run: params, metrics, tags, dataset inputs, artifacts, sync state.
    Show(ShowArgs),
    /// Compare runs side by side, or every combination of one backtest's grid.
    ///
    /// With one backtest run id: one row per grid combination, read from the run's
    /// grid.parquet artifact (--where, --sort, --top, --format; the flags that select runs,
    /// --filter, --parent, --top-level, --limit and --show-*, are refused there). With several
    /// runs: one row per run, one column per param and metric. Without run ids or --parent,
    /// compares the children of the newest top-level run that has children (the latest grid
    /// search).
    Compare(CompareArgs),
    /// Push local runs the tracking server has not fully received (data, artifacts, parent
    /// links, final status). Safe to repeat: nothing is created twice.
    Sync(SyncArgs),
}

#[derive(Debug, Clone, ClapArgs)]
struct RunFilter {
    /// Read from the tracking server instead of the local store.
    #[arg(long)]
    remote: bool,

    /// Condition on runs, repeatable (all must hold): `metrics.KEY OP NUMBER`,
    /// `params.KEY OP VALUE`, `tags.KEY OP VALUE` or `status=FINISHED`, with OP one of
    /// = != < <= > >=. Params and tags compare as text: a number takes only = and !=.
    #[arg(long = "filter", short = 'f', value_name = "COND")]
    filters: Vec<String>,

    /// Only the children of this run (id or unique prefix).
    #[arg(long, value_name = "RUN")]
    parent: Option<String>,

    /// Only runs without a parent.
    #[arg(long, conflicts_with = "parent")]
    top_level: bool,

    /// Sort by this metric, best (largest) first; runs without it come last.
    #[arg(long, short = 's', value_name = "METRIC")]
    sort: Option<String>,

    /// Smallest first (with --sort) or oldest first.
    #[arg(long)]
    asc: bool,

    /// Show at most N runs.
    #[arg(long, short = 'n', value_name = "N")]
    limit: Option<usize>,
}

#[derive(Debug, ClapArgs)]
#[command(after_help = "Examples:\n  \
    momentum runs list --top-level --sort test_sharpe --limit 10\n  \
    momentum runs list -f 'tags.momentum.kind = ab' -f 'status=FINISHED'\n  \
    momentum runs list --remote --asc")]
struct ListArgs {
    #[command(flatten)]
    select: RunFilter,
}

#[derive(Debug, ClapArgs)]
#[command(after_help = "Examples:\n  \
    momentum runs show 3f2a9c\n  \
    momentum runs show --remote 0d5e2c4b9a7f4e61a3c2b1d0e9f8a7b6")]
struct ShowArgs {
    /// Run id (or a unique prefix; with --remote, of a run of the experiment -e).
    run: String,

    /// Read the run from the tracking server (the id is then the server's run id).
    #[arg(long)]
    remote: bool,
}

#[derive(Debug, ClapArgs)]
#[command(after_help = "Examples:\n  \
    momentum runs compare                                  # the latest grid search's children\n  \
    momentum runs compare 3f2a9c 7b1e04 --show-metrics test_sharpe,test_total_roi\n  \
    momentum runs compare 3f2a9c --where 'test_sharpe > 1 and top_k = 5' --sort test_sharpe --top 10\n  \
    momentum runs compare 3f2a9c --format json > grid.json")]
struct CompareArgs {
    /// Runs to compare (ids or unique prefixes); default: see above.
    runs: Vec<String>,

    #[command(flatten)]
    select: RunFilter,

    /// Only these params (comma-separated; default: all that differ between the runs).
    #[arg(long, value_delimiter = ',', value_name = "KEYS")]
    show_params: Vec<String>,

    /// Only these metrics (comma-separated; default: all).
    #[arg(long, value_delimiter = ',', value_name = "KEYS")]
    show_metrics: Vec<String>,

    /// With one backtest run: only the grid rows where all conditions hold, e.g.
    /// 'test_sharpe > 1 and top_k = 5' (COLUMN OP NUMBER joined by `and`, OP one of
    /// = != < <= > >=; a missing value satisfies none).
    #[arg(long = "where", value_name = "CONDITIONS")]
    where_: Option<String>,

    /// With one backtest run: at most N grid rows (after sorting).
    #[arg(long, value_name = "N")]
    top: Option<usize>,

    /// With one backtest run: how to print the grid rows.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// How `runs compare RUN` prints a grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Aligned columns.
    Table,
    /// Comma-separated, with a header.
    Csv,
    /// An array of objects keyed by column.
    Json,
}

#[derive(Debug, ClapArgs)]
#[command(after_help = "Examples:\n  \
    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 momentum runs sync\n  \
    momentum runs sync --uri http://127.0.0.1:5000 --store /data/mlruns")]
struct SyncArgs {
    /// Only list the runs this store has not recorded as pushed to the server, without asking
    /// the server (a run already there, pushed from another store, is listed and then skipped
    /// by the sync).
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let experiment = args
        .experiment
        .clone()
        .unwrap_or_else(|| settings.tracking.experiment.clone());
    let tracker = open_store(args.store.clone(), args.uri.clone(), settings)?;
    match args.command {
        RunsCommand::List(a) => list(&tracker, &experiment, &a.select),
        RunsCommand::Show(a) => show(&tracker, &experiment, &a),
        RunsCommand::Compare(a) => compare(&tracker, &experiment, &a),
        RunsCommand::Sync(a) => sync(&tracker, &a),
    }
}

/// The run store `--store` (else `tracking.store`) with the server `--uri` (else
/// `MLFLOW_TRACKING_URI`, else `tracking.uri`), as `runs` and `report` read runs.
pub(crate) fn open_store(
    store: Option<PathBuf>,
    uri: Option<String>,
    settings: &Settings,
) -> anyhow::Result<Tracker> {
    // A store named on the command line that is not there is a typo, not an empty store.
    if let Some(named) = store.as_ref().filter(|path| !path.is_dir()) {
        bail!("no run store at {} (--store)", named.display());
    }
    let store = store.unwrap_or_else(|| settings.tracking.store.clone());
    let uri =
        uri.unwrap_or_else(|| momentum_tracking::resolve_tracking_uri(&settings.tracking.uri));
    Tracker::open(&store, &uri)
        .with_context(|| format!("cannot open the run store {}", store.display()))
}

/// Resolves a run id or unique prefix of a local run, among the runs of `listing` (the
/// store's, listed once by the caller).
pub(crate) fn resolve(tracker: &Tracker, id: &str, listing: &Listing) -> anyhow::Result<String> {
    if tracker.get_run(id).is_ok() {
        return Ok(id.to_string());
    }
    let matches: Vec<&Run> = listing
        .runs
        .iter()
        .filter(|r| r.run_id.starts_with(id))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.run_id.clone()),
        [] => {
            // A folder of that id that cannot be read is there: say why, not "not found".
            let unreadable = listing.skipped.iter().find(|skipped| {
                skipped
                    .path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with(id))
            });
            match unreadable {
                Some(skipped) => bail!(
                    "run {id} cannot be read ({}): {}",
                    skipped.path.display(),
                    skipped.reason
                ),
                None => bail!("run {id} not found in {}", tracker.store().root().display()),
            }
        }
        many => bail!("run prefix {id} is ambiguous ({} runs match)", many.len()),
    }
}

/// What `runs` offers for a run of another experiment than `-e`'s, when a prefix is not found.
const OTHER_EXPERIMENT: &str = "-e NAME, or its whole id";

/// Resolves a run id or unique prefix of a server run of `experiment`: MLflow's `runs/get`
/// takes whole ids only, so a shorter one (what `runs list --remote` prints) is looked up with
/// one search. A whole id is taken as it is, whatever its experiment. `elsewhere` says how the
/// command reads a run of another experiment.
pub(crate) fn resolve_remote(
    remote: &RestClient,
    (experiment, elsewhere): (&str, &str),
    id: &str,
) -> anyhow::Result<String> {
    if id.len() >= 32 {
        return Ok(id.to_string());
    }
    let found = remote
        .run_ids_with_prefix(experiment, id, 2)
        .with_context(|| format!("cannot search runs on {}", remote.uri()))?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "run {id} not found in experiment {experiment:?} on {} (a run of another \
             experiment: {elsewhere})",
            remote.uri()
        ),
        _ => bail!(
            "run prefix {id} is ambiguous (several runs of experiment {experiment:?} on {} match)",
            remote.uri()
        ),
    }
}

/// A run id or unique prefix, of a local run or (`remote`) of a server run of `experiment`
/// ([`resolve_remote`]).
pub(crate) fn resolve_either(
    tracker: &Tracker,
    experiment: (&str, &str),
    id: &str,
    remote: bool,
) -> anyhow::Result<String> {
    if remote {
        let server = tracker.remote().context(
            "--remote needs a tracking server: pass --uri or set MLFLOW_TRACKING_URI / tracking.uri",
        )?;
        resolve_remote(server, experiment, id)
    } else {
        resolve(tracker, id, &tracker.list_runs()?)
    }
}

fn select(tracker: &Tracker, experiment: &str, s: &RunFilter) -> anyhow::Result<Vec<Run>> {
    let mut query = RunQuery::new(experiment);
    for f in &s.filters {
        query = query.filter(f.parse()?);
    }
    if s.top_level {
        query = query.filter(Filter::TopLevel);
    }
    if let Some(parent) = &s.parent {
        let id = resolve_either(tracker, (experiment, OTHER_EXPERIMENT), parent, s.remote)?;
        query = query.filter(Filter::ParentRunId(id));
    }
    query.order_by = match &s.sort {
        Some(key) => momentum_tracking::OrderBy::Metric {
            key: key.clone(),
            descending: !s.asc,
        },
        None => momentum_tracking::OrderBy::StartTime { descending: !s.asc },
    };
    query.max_results = s.limit;
    if s.remote {
        let remote = tracker.remote().context(
            "--remote needs a tracking server: pass --uri or set MLFLOW_TRACKING_URI / tracking.uri",
        )?;
        Ok(remote
            .search_runs(&query)
            .with_context(|| format!("cannot search runs on {}", remote.uri()))?)
    } else {
        Ok(tracker.search_runs(&query)?)
    }
}

fn list(tracker: &Tracker, experiment: &str, s: &RunFilter) -> anyhow::Result<ExitCode> {
    let runs = select(tracker, experiment, s)?;
    if let Some(metric) = &s.sort {
        none_have(&runs, "--sort", "metric", metric, |r| {
            r.metrics.contains_key(metric)
        })?;
    }
    let children = count_children(tracker, experiment, s.remote, &runs)?;
    let mut header = vec!["RUN", "NAME", "STATUS", "STARTED (UTC)", "CHILDREN"];
    if let Some(metric) = &s.sort {
        header.push(metric);
    }
    let sync_col = !s.remote && tracker.remote().is_some();
    if sync_col {
        header.push("SYNCED");
    }
    let mut rows = Vec::new();
    for run in &runs {
        let mut row = vec![
            short(&run.run_id),
            run.name.clone(),
            run.status.to_string(),
            timestamp(run.start_time),
            children
                .get(&run.run_id)
                .map_or("-".into(), ToString::to_string),
        ];
        if let Some(metric) = &s.sort {
            row.push(run.metric(metric).map_or("-".into(), number));
        }
        if sync_col {
            row.push(sync_state(tracker, run).into());
        }
        rows.push(row);
    }
    print_table(
        &header.iter().map(ToString::to_string).collect::<Vec<_>>(),
        &rows,
    );
    note!(
        "{} run(s) in experiment {experiment:?} ({})",
        runs.len(),
        source(tracker, s.remote)
    );
    Ok(ExitCode::SUCCESS)
}

/// Refuses a key named on the command line (`flag`) that none of `runs` has: a typo would
/// otherwise show a column of `-`.
fn none_have(
    runs: &[Run],
    flag: &str,
    what: &str,
    key: &str,
    has: impl Fn(&Run) -> bool,
) -> anyhow::Result<()> {
    if !runs.is_empty() && !runs.iter().any(has) {
        bail!(
            "{flag} {key}: none of the {} run(s) has the {what} {key:?}",
            runs.len()
        );
    }
    Ok(())
}

/// The number of children of each of `runs` that has any: from the local store, or (`remote`)
/// from the server's `mlflow.parentRunId` tags in `experiment` (a parent's children are in its
/// experiment), whatever the filters that chose `runs` (`--top-level` leaves the children out).
fn count_children(
    tracker: &Tracker,
    experiment: &str,
    remote: bool,
    runs: &[Run],
) -> anyhow::Result<BTreeMap<String, usize>> {
    let mut counts = BTreeMap::new();
    let shown: BTreeSet<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
    if shown.is_empty() {
        return Ok(counts);
    }
    if remote {
        let server = tracker
            .remote()
            .context("--remote needs a tracking server")?;
        let all = server
            .child_counts(experiment)
            .with_context(|| format!("cannot search runs on {}", server.uri()))?;
        counts.extend(all.into_iter().filter(|(p, _)| shown.contains(p.as_str())));
        return Ok(counts);
    }
    for run in tracker.list_runs()?.runs {
        if let Some(p) = run.parent_run_id
            && shown.contains(p.as_str())
        {
            *counts.entry(p).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

fn sync_state(tracker: &Tracker, run: &Run) -> &'static str {
    let Some(remote) = tracker.remote() else {
        return "-";
    };
    match run.remotes.get(remote.uri()) {
        Some(rec) if rec.complete => "yes",
        Some(_) => "partial",
        None => "no",
    }
}

fn source(tracker: &Tracker, remote: bool) -> String {
    match (remote, tracker.remote()) {
        (true, Some(r)) => format!("server {}", r.uri()),
        _ => format!("local store {}", tracker.store().root().display()),
    }
}

fn show(tracker: &Tracker, experiment: &str, a: &ShowArgs) -> anyhow::Result<ExitCode> {
    let run = if a.remote {
        let remote = tracker
            .remote()
            .context("--remote needs a tracking server (--uri or MLFLOW_TRACKING_URI)")?;
        remote.get_run(&resolve_remote(
            remote,
            (experiment, OTHER_EXPERIMENT),
            &a.run,
        )?)?
    } else {
        let id = resolve(tracker, &a.run, &tracker.list_runs()?)?;
        tracker.get_run(&id)?
    };
    say!("run        {}", run.run_id);
    say!("name       {}", run.name);
    if !run.experiment.is_empty() {
        say!("experiment {}", run.experiment);
    }
    say!("status     {}", run.status);
    say!("started    {}", timestamp(run.start_time));
    say!("ended      {}", run.end_time.map_or("-".into(), timestamp));
    if let Some(p) = &run.parent_run_id {
        say!("parent     {p}");
    }
    if let Some(combinations) = run.tags.get(GRID_COMBINATIONS_TAG) {
        say!(
            "grid       {combinations} combinations in {GRID_ARTIFACT} (`momentum runs compare {}{}`)",
            short(&run.run_id),
            if a.remote { " --remote" } else { "" }
        );
    }
    let children: Vec<String> = match tracker.remote().filter(|_| a.remote) {
        Some(remote) => remote.children_of(&run.run_id)?,
        None => tracker
            .list_runs()?
            .runs
            .into_iter()
            .filter(|r| r.parent_run_id.as_ref() == Some(&run.run_id))
            .collect(),
    }
    .into_iter()
    .map(|r| r.name)
    .collect();
    // Named when they are a backtest's best few, counted when a grid of the older layout made
    // one per combination.
    match children.len() {
        0 => {}
        n if n <= 50 => say!("children   {n} ({})", children.join(", ")),
        n => say!("children   {n}"),
    }
    section(
        "params",
        run.params
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect(),
    );
    section(
        "metrics",
        run.metrics
            .iter()
            .map(|(k, pts)| {
                let points = if pts.len() > 1 {
                    format!("({} points)", pts.len())
                } else {
                    String::new()
                };
                vec![k.clone(), run.metric(k).map_or("-".into(), number), points]
            })
            .collect(),
    );
    section(
        "tags",
        run.tags
            .iter()
            .map(|(k, v)| vec![k.clone(), one_line(v)])
            .collect(),
    );
    section(
        "inputs",
        run.inputs
            .iter()
            .map(|i| {
                vec![
                    i.name.clone(),
                    i.digest.clone(),
                    i.context.clone().unwrap_or_default(),
                    i.source.clone(),
                ]
            })
            .collect(),
    );
    let artifacts = if a.remote {
        tracker
            .remote()
            .map(|r| r.list_artifacts(&run.run_id))
            .transpose()?
            .unwrap_or_default()
    } else {
        tracker.store().list_artifacts(&run.run_id)?
    };
    section(
        "artifacts",
        artifacts.into_iter().map(|a| vec![a]).collect(),
    );
    section(
        "synced to",
        run.remotes
            .iter()
            .map(|(uri, rec)| {
                vec![
                    uri.clone(),
                    rec.run_id.clone(),
                    if rec.complete { "complete" } else { "partial" }.into(),
                ]
            })
            .collect(),
    );
    Ok(ExitCode::SUCCESS)
}

fn compare(tracker: &Tracker, experiment: &str, a: &CompareArgs) -> anyhow::Result<ExitCode> {
    if let [one] = a.runs.as_slice() {
        let remote = a.select.remote;
        let id = resolve_either(tracker, (experiment, OTHER_EXPERIMENT), one, remote)?;
        let filter: Option<GridFilter> = a.where_.as_deref().map(str::parse).transpose()?;
        let sort = (a.select.sort.as_deref(), a.select.asc);
        let query = query_grid_of_run(tracker, (&id, remote), filter.as_ref(), sort, a.top)
            .map_err(|err| {
                // A column named by --sort, not by a --where condition: named as the flag.
                if let LifecycleError::RunGrid { source, .. } = &err
                    && let LifecycleError::GridQuery { token, reason } = source.as_ref()
                    && sort.0 == Some(token.as_str())
                {
                    return anyhow::anyhow!("--sort {token}: {reason}");
                }
                err.into()
            })?;
        if let Some((rows, total)) = query {
            run_flags_unused(a)?;
            return print_grid(&rows, (total, &id), a.format);
        }
        grid_flags_unused(a)?;
        // A backtest of the older layout: its combinations are its child runs.
        let children = RunQuery::new(experiment).filter(Filter::ParentRunId(id.clone()));
        if !remote && !tracker.search_runs(&children)?.is_empty() {
            let mut of_children = a.select.clone();
            of_children.parent = Some(id);
            return compare_runs(
                tracker,
                experiment,
                a,
                select(tracker, experiment, &of_children)?,
            );
        }
    }
    grid_flags_unused(a)?;
    let mut select_args = a.select.clone();
    let runs = if !a.runs.is_empty() {
        if a.select.remote {
            let remote = tracker
                .remote()
                .context("--remote needs a tracking server")?;
            let mut runs = Vec::new();
            for id in &a.runs {
                let id = resolve_remote(remote, (experiment, OTHER_EXPERIMENT), id)?;
                runs.push(remote.get_run(&id)?);
            }
            runs
        } else {
            let listing = tracker.list_runs()?;
            let mut runs = Vec::new();
            for id in &a.runs {
                runs.push(tracker.get_run(&resolve(tracker, id, &listing)?)?);
            }
            let mut query = RunQuery::new("");
            if let Some(key) = &a.select.sort {
                query = query.order_by_metric(key.clone(), !a.select.asc);
            }
            query.apply(runs)
        }
    } else {
        if select_args.parent.is_none() && !select_args.top_level && !select_args.remote {
            let parents: BTreeSet<String> = tracker
                .list_runs()?
                .runs
                .into_iter()
                .filter_map(|r| r.parent_run_id)
                .collect();
            let latest = tracker
                .search_runs(&RunQuery::new(experiment).filter(Filter::TopLevel))?
                .into_iter()
                .find(|r| parents.contains(&r.run_id));
            if let Some(parent) = latest {
                note!(
                    "comparing the children of {} ({})",
                    short(&parent.run_id),
                    parent.name
                );
                select_args.parent = Some(parent.run_id);
            }
        }
        select(tracker, experiment, &select_args)?
    };
    compare_runs(tracker, experiment, a, runs)
}

/// Prints `runs` side by side: one row per run, the params that differ and the metrics.
fn compare_runs(
    tracker: &Tracker,
    experiment: &str,
    a: &CompareArgs,
    runs: Vec<Run>,
) -> anyhow::Result<ExitCode> {
    if runs.is_empty() {
        note!(
            "no runs to compare in experiment {experiment:?} ({})",
            source(tracker, a.select.remote)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let metrics = a.select.sort.iter().map(|m| ("--sort", m));
    for (flag, metric) in metrics.chain(a.show_metrics.iter().map(|m| ("--show-metrics", m))) {
        none_have(&runs, flag, "metric", metric, |r| {
            r.metrics.contains_key(metric)
        })?;
    }
    for param in &a.show_params {
        none_have(&runs, "--show-params", "param", param, |r| {
            r.params.contains_key(param)
        })?;
    }
    let param_keys: Vec<String> = if a.show_params.is_empty() {
        let all: BTreeSet<&String> = runs.iter().flat_map(|r| r.params.keys()).collect();
        let differing: Vec<String> = all
            .iter()
            .filter(|k| {
                runs.iter()
                    .map(|r| r.params.get(**k))
                    .collect::<BTreeSet<_>>()
                    .len()
                    > 1
            })
            .map(|k| (*k).clone())
            .collect();
        if differing.is_empty() || runs.len() == 1 {
            all.into_iter().cloned().collect()
        } else {
            differing
        }
    } else {
        a.show_params.clone()
    };
    let metric_keys: Vec<String> = if a.show_metrics.is_empty() {
        let mut keys: Vec<String> = runs
            .iter()
            .flat_map(|r| r.metrics.keys().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if let Some(sort) = &a.select.sort
            && let Some(pos) = keys.iter().position(|k| k == sort)
        {
            let k = keys.remove(pos);
            keys.insert(0, k);
        }
        keys
    } else {
        a.show_metrics.clone()
    };
    let mut header = vec!["RUN".to_string(), "NAME".to_string()];
    header.extend(param_keys.iter().cloned());
    header.extend(metric_keys.iter().cloned());
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let mut row = vec![short(&r.run_id), r.name.clone()];
            row.extend(
                param_keys
                    .iter()
                    .map(|k| r.params.get(k).cloned().unwrap_or_else(|| "-".into())),
            );
            row.extend(
                metric_keys
                    .iter()
                    .map(|k| r.metric(k).map_or("-".into(), number)),
            );
            row
        })
        .collect();
    print_table(&header, &rows);
    note!(
        "{} run(s), {} param(s), {} metric(s) ({})",
        runs.len(),
        param_keys.len(),
        metric_keys.len(),
        source(tracker, a.select.remote)
    );
    Ok(ExitCode::SUCCESS)
}

/// `--where`, `--top` and `--format` read a grid table: refused where there is none.
fn grid_flags_unused(a: &CompareArgs) -> anyhow::Result<()> {
    if a.where_.is_some() || a.top.is_some() || a.format != Format::Table {
        bail!(
            "--where, --top and --format apply to one backtest run with a grid table \
             ({GRID_ARTIFACT}); compare runs with --filter, --limit and --sort instead"
        );
    }
    Ok(())
}

/// `--filter`, `--parent`, `--top-level`, `--limit` and `--show-*` select and print runs:
/// refused for one run's grid table, whose rows they would not touch.
fn run_flags_unused(a: &CompareArgs) -> anyhow::Result<()> {
    let s = &a.select;
    let given = [
        ("--filter", !s.filters.is_empty()),
        ("--parent", s.parent.is_some()),
        ("--top-level", s.top_level),
        ("--limit", s.limit.is_some()),
        ("--show-params", !a.show_params.is_empty()),
        ("--show-metrics", !a.show_metrics.is_empty()),
    ];
    if let Some((flag, _)) = given.into_iter().find(|(_, given)| *given) {
        bail!(
            "{flag} selects or prints runs; the grid rows of one backtest run take --where, \
             --top, --sort and --format"
        );
    }
    Ok(())
}

/// Prints the rows of one backtest run's grid table that a query kept (of `total`) as `format`
/// asks.
fn print_grid(
    rows: &GridTable,
    (total, run_id): (usize, &str),
    format: Format,
) -> anyhow::Result<ExitCode> {
    match format {
        Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .rows()
                .iter()
                .map(|row| row.iter().map(|&v| grid_cell(v)).collect())
                .collect();
            print_table(rows.columns(), &cells);
        }
        Format::Csv => rows.write_csv(std::io::stdout().lock())?,
        Format::Json => rows.write_json(std::io::stdout().lock())?,
    }
    note!(
        "{} of {total} combinations of run {} ({GRID_ARTIFACT})",
        rows.rows().len(),
        short(run_id)
    );
    Ok(ExitCode::SUCCESS)
}

/// A grid cell: `-` when missing, whole numbers (parameters, counts) as they are.
fn grid_cell(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v}")
    } else {
        number(v)
    }
}

fn sync(tracker: &Tracker, a: &SyncArgs) -> anyhow::Result<ExitCode> {
    let remote = tracker
        .remote()
        .context("nothing to sync to: set MLFLOW_TRACKING_URI (or tracking.uri, or --uri) to an http(s):// MLflow server")?;
    // Unreadable run folders are skipped with a warning, once each.
    let listing = tracker.list_runs()?;
    if a.dry_run {
        let pending = tracker.unsynced()?;
        for run in &pending {
            let state = if run.remotes.contains_key(remote.uri()) {
                "partial"
            } else {
                "new"
            };
            say!("{}  {:<8} {}", run.run_id, state, run.name);
        }
        note!(
            "{} of {} local run(s) not recorded as pushed to {} (the server was not asked)",
            pending.len(),
            listing.runs.len(),
            remote.uri()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let report = tracker
        .sync()
        .with_context(|| format!("cannot sync to {}", remote.uri()))?;
    // A run the server refused is named, and its children are counted on one line; the runs
    // not pushed because the server went down are one line about the server (as when it is
    // down from the start), not one line each.
    for (run, err) in report
        .failed
        .iter()
        .filter(|(_, e)| !e.is_unreachable() && !matches!(e, TrackingError::ParentNotPushed { .. }))
    {
        note!("error: run {run}: {}", err.chain());
    }
    for (parent, children) in report.orphans() {
        note!(
            "error: {children} child run(s) of {parent} not pushed: their parent is not on the server"
        );
    }
    if let Some(cause) = report.outage() {
        let kept = report.failed.len();
        bail!(
            "cannot sync to {}: it stopped answering after {} of {} run(s) were pushed; the \
             other {kept} are kept locally, run `momentum runs sync` again once it is back: {}",
            report.uri,
            report.pushed.len(),
            report.pushed.len() + kept,
            cause.chain()
        );
    }
    say!(
        "pushed {} run(s) to {}; {} already there; {} failed",
        report.pushed.len(),
        report.uri,
        report.up_to_date,
        report.failed.len()
    );
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() || v.abs() >= 1e300 {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-4) {
        format!("{v:.4e}")
    } else {
        format!("{v:.4}")
    }
}

fn one_line(v: &str) -> String {
    let line = v.lines().next().unwrap_or("");
    let mut out: String = line.chars().take(100).collect();
    if out.len() < v.len() {
        out.push('…');
    }
    out
}

fn section(title: &str, rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        return;
    }
    say!("\n{title}:");
    let widths = widths(&[], &rows);
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        say!("  {}", cells.join("  ").trim_end());
    }
}

fn widths(header: &[String], rows: &[Vec<String>]) -> Vec<usize> {
    let n = header
        .len()
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    (0..n)
        .map(|i| {
            let h = header.get(i).map_or(0, |h| h.chars().count());
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
                .max(h)
        })
        .collect()
}

/// A plain aligned table on stdout: text left-aligned, numbers right-aligned.
fn print_table(header: &[String], rows: &[Vec<String>]) {
    let widths = widths(header, rows);
    let numeric: Vec<bool> = (0..widths.len())
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .filter(|c| c.as_str() != "-")
                .all(|c| c.parse::<f64>().is_ok() || matches!(c.as_str(), "NaN" | "inf" | "-inf"))
        })
        .collect();
    let fmt_row = |row: &[String]| {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if numeric[i] {
                    format!("{c:>w$}", w = widths[i])
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        cells.join("  ").trim_end().to_string()
    };
    say!("{}", fmt_row(header));
    for row in rows {
        say!("{}", fmt_row(row));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_readable() {
        assert_eq!(number(1.23456), "1.2346");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::MAX), "inf");
        assert_eq!(number(0.0), "0.0000");
    }
}
