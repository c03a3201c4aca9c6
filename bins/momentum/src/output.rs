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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use momentum_data::write_together;

    use super::*;

    #[test]
    fn files_written_together_replace_all_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let targets: Vec<PathBuf> = ["a.json", "b.csv", "c.png"]
            .iter()
            .map(|name| dir.path().join(name))
            .collect();
        for target in &targets {
            std::fs::write(target, "old").unwrap();
        }
        // The last writer fails: the first two were written, yet nothing is replaced.
        let err = write_together(&targets, |staged| {
            write_text(&staged[0], "new")?;
            write_text(&staged[1], "new")?;
            anyhow::bail!("the chart cannot be drawn")
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "the chart cannot be drawn");
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["a.json", "b.csv", "c.png"],
            "no staged file is left"
        );
        for target in &targets {
            assert_eq!(std::fs::read_to_string(target).unwrap(), "old");
        }
        write_together(&targets, |staged| {
            staged.iter().try_for_each(|path| write_text(path, "new"))
        })
        .unwrap();
        for target in &targets {
            assert_eq!(std::fs::read_to_string(target).unwrap(), "new");
        }
    }
}
