//! Flags over `params.yaml`: each flag that replaces a setting is recorded under the setting's
//! key, so an error the library reports about that key names the flag instead.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use momentum_lifecycle::{LifecycleError, SettingsError};

/// The settings a command's flags replaced.
#[derive(Debug, Default)]
pub struct Overrides {
    /// `(key, flag, value as typed)`.
    applied: Vec<(&'static str, &'static str, String)>,
}

impl Overrides {
    /// Sets `target` (the setting at `key`) from `flag` when the flag was given.
    pub fn set<T: Display>(
        &mut self,
        target: &mut T,
        value: Option<T>,
        key: &'static str,
        flag: &'static str,
    ) {
        if let Some(value) = value {
            self.applied.push((key, flag, value.to_string()));
            *target = value;
        }
    }

    /// Sets the optional setting at `key` (empty in `params.yaml`: `None`) from `flag` when the
    /// flag was given.
    pub fn set_some<T: Display>(
        &mut self,
        target: &mut Option<T>,
        value: Option<T>,
        key: &'static str,
        flag: &'static str,
    ) {
        if let Some(value) = value {
            self.applied.push((key, flag, value.to_string()));
            *target = Some(value);
        }
    }

    /// Sets the list at `key` from `flag` when the flag was given.
    pub fn set_list<T: Display>(
        &mut self,
        target: &mut Vec<T>,
        value: Option<Vec<T>>,
        key: &'static str,
        flag: &'static str,
    ) {
        if let Some(list) = value {
            let text = list.iter().map(ToString::to_string).collect::<Vec<_>>();
            self.applied.push((key, flag, text.join(",")));
            *target = list;
        }
    }

    /// Sets the path at `key` from `flag` when the flag was given.
    pub fn set_path(
        &mut self,
        target: &mut PathBuf,
        value: Option<PathBuf>,
        key: &'static str,
        flag: &'static str,
    ) {
        if let Some(path) = value {
            self.applied.push((key, flag, path.display().to_string()));
            *target = path;
        }
    }

    /// Records that `flag` set `key` (to `value`) by other means.
    pub fn record(&mut self, key: &'static str, flag: &'static str, value: impl Display) {
        self.applied.push((key, flag, value.to_string()));
    }

    /// `err` with a setting named where its value came from: `invalid --ks-alpha 2: ...` when
    /// a flag set it, `invalid monitor.ks_alpha in alt.yaml: ...` when the params file did.
    pub fn explain(&self, err: LifecycleError, params: &Path) -> anyhow::Error {
        // The refresh before a scan is a fetch with the params file's `data` settings.
        if let LifecycleError::Refresh(fetch) = err {
            return self
                .explain(*fetch, params)
                .context("refreshing the price cache");
        }
        let LifecycleError::Settings(SettingsError::Invalid { key, value, reason }) = &err else {
            return err.into();
        };
        match self.applied.iter().rev().find(|(k, _, _)| k == key) {
            Some((_, flag, given)) => anyhow::anyhow!("invalid {flag} {given}: {reason}"),
            None => {
                let value = value
                    .as_ref()
                    .map(|v| format!(" = {v}"))
                    .unwrap_or_default();
                anyhow::anyhow!("invalid {key}{value} in {}: {reason}", params.display())
            }
        }
    }
}

/// `err` with a setting it names placed in the params file (`invalid production.top_k = 0 in
/// alt.yaml: ...`), for an error that no command explained: one about a setting that no flag
/// sets. Every other error is returned as it is.
pub fn in_params_file(err: anyhow::Error, params: &Path) -> anyhow::Error {
    // A refused setting has no source; an error that has one may be a context around a
    // lifecycle error, which taking that error out would drop.
    if err.source().is_some() {
        return err;
    }
    match err.downcast::<LifecycleError>() {
        Ok(err) => Overrides::default().explain(err, params),
        Err(err) => err,
    }
}
