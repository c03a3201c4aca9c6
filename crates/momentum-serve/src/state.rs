//! The served model and how it changes without a restart.
//!
//! The server holds one [`Snapshot`] (the settings read from the params file and the model, if
//! any) behind an `Arc`. A request clones the `Arc` and scores with that snapshot to the end,
//! so a reload that swaps in a new one never fails or mixes a request. [`watch`] checks the
//! params file every `serve.poll_ms` (and at once on `SIGHUP`): a changed file, or with a
//! tracking server any poll (the `champion` alias may have moved), loads the model again. A
//! reload that fails (a half-written file, a registry that is down) keeps the model served
//! and is logged and counted. A file without a block for the alias (or a registry without the
//! alias) unloads the model (503) only once it has stayed so for two polls at least
//! [`UNLOAD_AFTER`] apart, or at once on `SIGHUP`: until then each poll is a failed reload and
//! the model stays, so an editor that truncates the file and writes it within that time
//! never unloads it (left without the block longer, the file reads as a withdrawal).
//!
//! A registry that cannot be reached when the server starts (its tracking server is down or
//! answers 5xx) does not keep the server from starting when params.yaml has the block of the
//! alias: that block is served (it is what the last promotion wrote beside the alias), with a
//! warning, and every poll asks the registry again until it answers; then the registry's
//! model is served. Once a registry model is served, a registry that goes down keeps it, as any
//! failed reload does.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use momentum_engine::Arm;
use momentum_lifecycle::track::open_tracker;
use momentum_lifecycle::{LifecycleError, ProductionSource, Settings, block_model, load_model};
use momentum_scanner::Model;
use momentum_scanner::ScanError;
use momentum_scanner::history::read_history;
use momentum_scanner::scan::Picks;

use crate::error::{Result, ServeError};

/// What one load of the params file gave.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The whole params file (its paths: prices, history; its tracking server).
    pub settings: Settings,
    /// The file's text, to see whether it changed.
    text: Option<String>,
    /// Where the model came from: the block of params.yaml, or the registry alias when
    /// tracking points at a server.
    pub source: ProductionSource,
    /// The model served; `None` before the first promotion (the server answers 503).
    pub model: Option<Model>,
    /// Without a model: where it was looked for and what gives it one, in words
    /// (`params.yaml has no production block (run `momentum promote`)`), for the 503's message.
    pub missing: Option<String>,
    /// The registry could not be reached, so the block of params.yaml is served in its place
    /// (`source` is [`ProductionSource::Params`]) until it answers.
    pub registry_down: bool,
}

impl Snapshot {
    /// What a request without a model is told: 503 naming where the model was looked for.
    pub fn no_model(&self) -> crate::ApiError {
        crate::ApiError::no_model(self.missing.as_deref().unwrap_or("no model is configured"))
    }
}

/// The model slot shared by every request and the watcher.
#[derive(Debug)]
pub struct Served {
    params_file: PathBuf,
    required: bool,
    alias: Arm,
    current: RwLock<Arc<Snapshot>>,
    /// Since when, and with which file text, a reload has found the served model gone.
    gone: Mutex<Option<(Option<String>, Instant)>>,
}

/// How long a served model's block (or registry alias) must stay missing before the model is
/// unloaded without `SIGHUP` (and for at least two polls).
pub const UNLOAD_AFTER: Duration = Duration::from_secs(1);

impl Served {
    /// Loads the model of `alias` from `params_file` (required: a file the user named must
    /// exist; the default one may be missing, then no model is served).
    ///
    /// # Errors
    /// [`ServeError::Load`] when the file or the model is malformed, or the registry refuses.
    pub fn load(params_file: &Path, required: bool, alias: Arm) -> Result<Self> {
        let snapshot = load_snapshot(params_file, required, alias, None)?
            .expect("a first load always gives a snapshot");
        if let Some(missing) = &snapshot.missing {
            // Said once here, not on every 503 (a readiness probe asks every few seconds).
            tracing::warn!("no {alias} model yet: {missing}; answering 503 until there is one");
        }
        Ok(Self {
            params_file: params_file.into(),
            required,
            alias,
            current: RwLock::new(Arc::new(snapshot)),
            gone: Mutex::new(None),
        })
    }

    /// The snapshot to answer one request with.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        // A writer never panics while holding the lock, so it cannot be poisoned; recover anyway.
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The alias served.
    pub fn alias(&self) -> Arm {
        self.alias
    }

    /// Loads again if the file changed (or `force`, or the model comes from the registry) and
    /// swaps the new snapshot in. Blocking: the registry client runs its own runtime.
    ///
    /// # Errors
    /// As [`Served::load`]; [`ServeError::ModelGone`] when a served model's block or alias
    /// has gone (see the module's documentation); the served snapshot stays.
    pub fn reload(&self, force: bool) -> Result<bool> {
        let previous = self.snapshot();
        let since = Some((previous.as_ref(), force));
        let Some(next) = load_snapshot(&self.params_file, self.required, self.alias, since)? else {
            return Ok(false);
        };
        {
            let mut gone = self.gone.lock().unwrap_or_else(|e| e.into_inner());
            if previous.model.is_some() && next.model.is_none() && !force {
                let now = Instant::now();
                let first = match &*gone {
                    Some((text, since)) if *text == next.text => *since,
                    _ => now,
                };
                *gone = Some((next.text.clone(), first));
                if now.duration_since(first) < UNLOAD_AFTER {
                    return Err(ServeError::ModelGone {
                        path: self.params_file.clone(),
                        what: next.missing.clone().unwrap_or_default(),
                    });
                }
            }
            *gone = None;
        }
        let changed = next.model != previous.model;
        if changed {
            match &next.model {
                Some(model) => tracing::info!(
                    "serving model v{} ({}) from {}",
                    model.version().unwrap_or("?"),
                    self.alias,
                    source_name(next.source)
                ),
                None => tracing::warn!(
                    "{} has no {} model any more: answering 503",
                    self.params_file.display(),
                    self.alias
                ),
            }
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(changed)
    }
}

/// `params` or `registry`, as `/v1/model` and the info metric say.
pub fn source_name(source: ProductionSource) -> &'static str {
    match source {
        ProductionSource::Params => "params",
        ProductionSource::Registry => "registry",
    }
}

/// How long a changed params file must stay the same before it is loaded: an editor or
/// `dvc exp run -S` that rewrites it in place truncates it first, and a poll between the two
/// writes would otherwise serve an empty file (no model: 503s).
const SETTLE: Duration = Duration::from_millis(50);

/// Reads the params file and loads the model. With `since` (a reload), returns `None` when
/// nothing can have changed: the same text and a model from the file (a registry alias can
/// move at any time, so a registry-backed snapshot is always loaded again, as is any snapshot
/// when `force`); and `None` too when the text is still changing (the next poll tries again).
fn load_snapshot(
    params_file: &Path,
    required: bool,
    alias: Arm,
    since: Option<(&Snapshot, bool)>,
) -> Result<Option<Snapshot>> {
    let failed = |source: LifecycleError| ServeError::Load {
        path: params_file.into(),
        source: Box::new(source),
    };
    let read = || match std::fs::read_to_string(params_file) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !required => Ok(None),
        Err(source) => {
            let err = momentum_lifecycle::SettingsError::Read {
                path: params_file.into(),
                source,
            };
            Err(failed(err.into()))
        }
    };
    let text = read()?;
    if let Some((previous, force)) = since {
        let unchanged = previous.text == text;
        let from_file = previous.source == ProductionSource::Params && !previous.registry_down;
        if unchanged && !force && from_file {
            return Ok(None);
        }
        if !unchanged {
            std::thread::sleep(SETTLE);
            if read()? != text {
                tracing::debug!(
                    "{} is being written; loading it later",
                    params_file.display()
                );
                return Ok(None);
            }
        }
    }
    let settings = match &text {
        Some(text) => Settings::parse(text, params_file).map_err(|e| failed(e.into()))?,
        None => Settings::default(),
    };
    let opened = open_tracker(&settings, "serve", None);
    let source = match &opened {
        Ok(tracker) if tracker.remote().is_some() => ProductionSource::Registry,
        _ => ProductionSource::Params,
    };
    let shown = params_file.display();
    // Only a server that starts, or that serves the block in the registry's place already,
    // falls back to the block: a served registry model outlives an outage.
    let may_fall_back = since.is_none_or(|(previous, _)| previous.registry_down);
    let (mut source, mut registry_down) = (source, false);
    let (model, missing) = match load_model(&settings, params_file, (alias, source), move || opened)
    {
        Ok(model) => (Some(model), None),
        Err(err) if may_fall_back && unreachable(&err) => {
            let Some(model) = block_model(&settings, alias).map_err(failed)? else {
                return Err(failed(err));
            };
            // Only at start (a later fallback continues it): warned once.
            if since.is_none() {
                tracing::warn!(
                    "the registry cannot be reached ({}): serving the {alias} block of {shown} \
                     until it answers",
                    momentum_http::chain(&err)
                );
            }
            (source, registry_down) = (ProductionSource::Params, true);
            (Some(model), None)
        }
        Err(LifecycleError::NoChampion { name } | LifecycleError::NoChallenger { name, .. })
            if source == ProductionSource::Registry =>
        {
            let missing = format!("registered model {name} has no `{alias}` alias");
            (None, Some(format!("{missing} ({})", promotion_of(alias))))
        }
        Err(LifecycleError::NoProduction { .. } | LifecycleError::NoChallenger { .. }) => {
            let missing = match (&text, alias) {
                (None, _) => format!("{shown} does not exist"),
                (Some(_), Arm::Champion) => format!("{shown} has no production block"),
                (Some(_), Arm::Challenger) => format!("{shown} has no challenger block"),
            };
            (None, Some(format!("{missing} ({})", promotion_of(alias))))
        }
        Err(err) => return Err(failed(err)),
    };
    Ok(Some(Snapshot {
        settings,
        text,
        source,
        model,
        missing,
        registry_down,
    }))
}

/// The command that gives `alias` a model.
fn promotion_of(alias: Arm) -> &'static str {
    match alias {
        Arm::Champion => "run `momentum promote`",
        Arm::Challenger => "run `momentum promote --alias challenger`",
    }
}

/// Whether `err` says the registry could not be asked (no connection, a timeout, a 5xx), not
/// what it answered.
fn unreachable(err: &LifecycleError) -> bool {
    use momentum_tracking::TrackingError;
    matches!(
        err,
        LifecycleError::Tracking(TrackingError::Http { .. })
            | LifecycleError::Tracking(TrackingError::Api { status: 500.., .. })
    )
}

/// The scans of `alias` in the picks history at `path`, oldest first; none when the file does
/// not exist yet. Blocking: Parquet.
///
/// # Errors
/// As [`read_history`].
pub fn scans_of(path: &Path, alias: Arm) -> std::result::Result<Vec<Picks>, ScanError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut scans: Vec<Picks> = read_history(path)?
        .into_iter()
        .filter(|s| s.alias == alias)
        .collect();
    scans.sort_by_key(|s| s.as_of);
    Ok(scans)
}

/// Reloads every `poll` and on each `hangup` (`SIGHUP`) until `stop` resolves. Runs the loads
/// on the blocking pool.
pub async fn watch(
    served: Arc<Served>,
    (poll, mut hangup): (Duration, tokio::signal::unix::Signal),
    metrics: crate::metrics::Metrics,
    stop: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let mut ticks = tokio::time::interval(poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    tokio::pin!(stop);
    // A file that stays malformed fails every poll: say so when the failure changes, not
    // every poll (the counter still counts each).
    let mut last_failure: Option<String> = None;
    loop {
        let force = tokio::select! {
            _ = ticks.tick() => false,
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading the model");
                true
            }
            () = &mut stop => return Ok(()),
        };
        let served = Arc::clone(&served);
        let outcome = tokio::task::spawn_blocking(move || served.reload(force)).await;
        match outcome {
            Ok(Ok(changed)) => {
                if changed || force {
                    metrics.reloaded(true);
                }
                if last_failure.take().is_some() {
                    tracing::info!("reloading works again");
                }
            }
            Ok(Err(err)) => {
                metrics.reloaded(false);
                let failure = momentum_http::chain(&err);
                if last_failure.as_ref() != Some(&failure) {
                    tracing::warn!("reload failed, the served model stays: {failure}");
                    last_failure = Some(failure);
                }
            }
            Err(join) => {
                metrics.reloaded(false);
                tracing::error!("reload task failed: {join}");
            }
        }
    }
}
