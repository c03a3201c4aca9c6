//! Opening the experiment tracker the way every command does: `MLFLOW_TRACKING_URI` wins over
//! `params.yaml` `tracking.uri`, runs carry the command, the user and the git commit.

use anyhow::Context;
use momentum_tracking::{RunContext, Tracker};

use crate::config::Config;

/// Opens the local store (and the server, when one is configured) for `command`'s runs.
pub fn open(config: &Config, command: &str) -> anyhow::Result<Tracker> {
    let mut context = RunContext::from_env(&format!("momentum {command}"));
    context.git_commit = git_commit();
    let tracker = Tracker::open_with_env(&config.tracking.store, &config.tracking.uri)
        .with_context(|| {
            format!(
                "cannot open the tracking store {}",
                config.tracking.store.display()
            )
        })?;
    Ok(tracker
        .with_context(context)
        .with_remote_child_limit(config.tracking.remote_children))
}

/// `git rev-parse HEAD` of the working directory, when it is a git checkout.
pub fn git_commit() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !commit.is_empty()).then_some(commit)
}
