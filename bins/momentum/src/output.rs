//! Writing the commands' reports: always atomically (a temp file renamed into place), so a
//! failure leaves the previous file as it was.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

/// Writes `value` as pretty JSON with a final newline.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> anyhow::Result<()> {
    momentum_data::write_atomic(path, |file| -> anyhow::Result<()> {
        serde_json::to_writer_pretty(&mut *file, value)?;
        file.write_all(b"\n")?;
        Ok(())
    })
    .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `text` as it is.
pub fn write_text(path: &Path, text: &str) -> anyhow::Result<()> {
    momentum_data::write_atomic(path, |file| -> anyhow::Result<()> {
        file.write_all(text.as_bytes())?;
        Ok(())
    })
    .with_context(|| format!("cannot write {}", path.display()))
}
