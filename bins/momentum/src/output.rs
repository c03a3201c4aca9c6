//! Writing the commands' reports: always atomically (a temp file renamed into place), so a
//! failure leaves the previous file as it was.

use std::io::Write;
use std::path::{Path, PathBuf};

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

/// Writes several files as one: `write` gets a hidden sibling path for each target (the same
/// name after a `.staged-<pid>-` prefix, so the extension stays), and only when it has written
/// them all are they renamed into place. A failure part way (a chart that cannot be drawn, a
/// full disk) leaves every previous file as it was and no staged file behind; only a rename
/// failing among the last steps could leave a mix.
pub fn write_together(
    targets: &[PathBuf],
    write: impl FnOnce(&[PathBuf]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let staged: Vec<PathBuf> = targets
        .iter()
        .map(|target| {
            let name = target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            target.with_file_name(format!(".staged-{}-{name}", std::process::id()))
        })
        .collect();
    let result = write(&staged).and_then(|()| {
        for (from, to) in staged.iter().zip(targets) {
            std::fs::rename(from, to).with_context(|| format!("cannot write {}", to.display()))?;
        }
        Ok(())
    });
    if result.is_err() {
        for path in &staged {
            let _ = std::fs::remove_file(path);
        }
    }
    result
}

#[cfg(test)]
mod tests {
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
