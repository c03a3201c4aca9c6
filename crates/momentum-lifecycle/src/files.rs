//! The lifecycle's small output files, each replaced atomically
//! ([`momentum_data::write_atomic`]): a failure leaves the previous file as it was.

use std::path::{Path, PathBuf};

use crate::error::{LifecycleError, Result};

/// Replaces `path` with `text` atomically.
pub(crate) fn write_text(path: &Path, text: &str) -> Result<()> {
    let target: PathBuf = path.into();
    momentum_data::write_atomic(path, |file| {
        std::io::Write::write_all(file, text.as_bytes())
            .map_err(|err| LifecycleError::write(&target, err))
    })
}

/// Writes `value` as pretty JSON in its fields' order with a final newline, atomically.
pub(crate) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = json_text(value).map_err(|err| LifecycleError::write(path, err))?;
    write_text(path, &text)
}

/// `value` as pretty JSON in its fields' order with a final newline.
pub(crate) fn json_text<T: serde::Serialize>(value: &T) -> serde_json::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}
