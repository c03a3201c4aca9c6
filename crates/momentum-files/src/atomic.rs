//! All-or-nothing file writes.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::FileError;
use crate::owner::{dead_owned, owned_name};

/// Writes `path` through `write` so that readers see either the old file or the complete new
/// one, never a partial file.
///
/// `write` gets a fresh temporary file in the same directory as `path` (so the final `rename`
/// does not cross file systems). When it returns `Ok`, the file is flushed to disk (`fsync`) and
/// renamed over `path`, then the directory is synced so the rename survives a crash. When it
/// returns `Err` or panics, the temporary file is removed and `path` is untouched. Missing
/// parent directories are created.
///
/// The error type is the caller's, so a binary can use `anyhow::Error` and a library its own
/// enum; I/O failures of the helper itself arrive as [`FileError`] converted with `From`.
///
/// ```
/// # fn main() -> Result<(), momentum_files::FileError> {
/// use std::io::Write;
/// use momentum_files::FileError;
/// let dir = std::env::temp_dir().join(format!("momentum-doc-{}", std::process::id()));
/// let path = dir.join("report.txt");
/// momentum_files::write_atomic(&path, |file| {
///     file.write_all(b"hello\n").map_err(|err| FileError::io(&path, err))
/// })?;
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\n");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok(())
/// # }
/// ```
pub fn write_atomic<E, F>(path: &Path, write: F) -> Result<(), E>
where
    E: From<FileError>,
    F: FnOnce(&mut File) -> Result<(), E>,
{
    replace(path, write, Durability::Synced)
}

/// [`write_atomic`] of `bytes` without the two `fsync`s: readers still see the old file or
/// the new one, and a killed writer still leaves the old file, but a power failure may lose
/// the write. For stores of many small files (the tracking store writes about a hundred for
/// one backtest), where an `fsync` of about 5 ms each (measured on this project's machine)
/// would double the time of a tracked backtest.
///
/// # Errors
/// A [`FileError`] naming the file that could not be written or renamed.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    replace(
        path,
        |file| std::io::Write::write_all(file, bytes).map_err(|err| FileError::io(path, err)),
        Durability::Unsynced,
    )
}

/// [`write_atomic_unsynced`] of the contents of the file `source`, copied through a small
/// buffer: a copy of a large artifact does not hold it in memory.
///
/// # Errors
/// A [`FileError`] naming `source` when it cannot be read, or `path` when it cannot be written.
pub fn copy_atomic_unsynced(source: &Path, path: &Path) -> Result<(), FileError> {
    let mut input = File::open(source).map_err(|err| FileError::io(source, err))?;
    replace(
        path,
        |file| {
            std::io::copy(&mut input, file)
                .map(drop)
                .map_err(|err| FileError::io(path, err))
        },
        Durability::Unsynced,
    )
}

/// [`write_atomic_unsynced`] for a writer that opens its file by name (an image encoder that
/// picks the format from the extension): `write` gets the path of an empty temporary file
/// beside `path` whose name ends in `.{extension}` (whatever `path`'s own name, which may be a
/// file staged by [`write_together`]), and overwrites it; it is renamed over `path` when
/// `write` returns `Ok`, and removed otherwise. A killed writer's file is removed by the next
/// write of `path`.
///
/// # Errors
/// `write`'s error, or a [`FileError`] naming the file that could not be created or renamed.
pub fn write_atomic_by_path<E, F>(path: &Path, extension: &str, write: F) -> Result<(), E>
where
    E: From<FileError>,
    F: FnOnce(&Path) -> Result<(), E>,
{
    replace_through(
        path,
        &format!(".{extension}"),
        Durability::Unsynced,
        |temp| write(&temp.path),
    )
}

/// Whether a replacement waits for the disk.
#[derive(Clone, Copy, PartialEq)]
enum Durability {
    Synced,
    Unsynced,
}

fn replace<E, F>(path: &Path, write: F, durability: Durability) -> Result<(), E>
where
    E: From<FileError>,
    F: FnOnce(&mut File) -> Result<(), E>,
{
    replace_through(path, "", durability, |temp| {
        let mut file = temp
            .file
            .try_clone()
            .map_err(|err| FileError::io(&temp.path, err))?;
        write(&mut file)
    })
}

/// The one replacement every writer here goes through: a temporary file beside `path` (its
/// name ending in `suffix`) handed to `write`, synced when `durability` asks, renamed over
/// `path`.
fn replace_through<E, F>(
    path: &Path,
    suffix: &str,
    durability: Durability,
    write: F,
) -> Result<(), E>
where
    E: From<FileError>,
    F: FnOnce(&TempFile) -> Result<(), E>,
{
    let target = resolved(path);
    let path = target.as_path();
    check_replaceable(path)?;
    let dir = created_parent(path)?;
    let temp = TempFile::create(&dir, path, suffix)?;
    write(&temp)?;
    if durability == Durability::Synced {
        temp.file
            .sync_all()
            .map_err(|err| FileError::io(&temp.path, err))?;
    }
    temp.persist(path)?;
    if durability == Durability::Synced {
        sync_dir(&dir);
    }
    Ok(())
}

/// Replaces several files as one: `write` gets a reserved temporary path beside each target
/// (an empty file, which the writer replaces, atomically or not), and only when it has written
/// them all are they renamed over their targets. An error or a panic in `write` leaves every
/// previous file as it was and no temporary file behind; only a rename failing among the last
/// steps could leave a mix. Missing parent directories are created.
///
/// # Errors
/// `write`'s error, or a [`FileError`] naming the file that could not be reserved or renamed.
///
/// # Example
/// ```
/// use std::path::PathBuf;
/// use momentum_files::{FileError, write_together};
/// let dir = tempfile::tempdir().unwrap();
/// let targets: Vec<PathBuf> = ["report.json", "model.json"].map(|f| dir.path().join(f)).to_vec();
/// write_together(&targets, |staged| -> Result<(), FileError> {
///     for (path, text) in staged.iter().zip(["{\"roi\": 0.5}\n", "{\"lookback\": 60}\n"]) {
///         std::fs::write(path, text).map_err(|err| FileError::io(path, err))?;
///     }
///     Ok(())
/// })?;
/// assert_eq!(std::fs::read_to_string(&targets[1]).unwrap(), "{\"lookback\": 60}\n");
/// // A failing writer replaces nothing.
/// let failed = write_together(&targets, |staged| -> Result<(), FileError> {
///     std::fs::write(&staged[0], "half done").map_err(|err| FileError::io(&staged[0], err))?;
///     Err(FileError::io(&staged[1], std::io::Error::other("disk full")))
/// });
/// assert!(failed.is_err());
/// assert_eq!(std::fs::read_to_string(&targets[0]).unwrap(), "{\"roi\": 0.5}\n");
/// # Ok::<(), FileError>(())
/// ```
pub fn write_together<E, F>(targets: &[PathBuf], write: F) -> Result<(), E>
where
    E: From<FileError>,
    F: FnOnce(&[PathBuf]) -> Result<(), E>,
{
    let targets: Vec<PathBuf> = targets.iter().map(|t| resolved(t)).collect();
    for (i, target) in targets.iter().enumerate() {
        check_replaceable(target)?;
        // One file given twice (an output flag naming another output): the second write would
        // silently replace the first.
        if targets[..i].contains(target) {
            return Err(FileError::io(
                target,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "two of the files written together are this one",
                ),
            )
            .into());
        }
    }
    let mut staged = Vec::with_capacity(targets.len());
    let mut dirs = Vec::new();
    for target in &targets {
        let dir = created_parent(target)?;
        staged.push(TempFile::create(&dir, target, "")?);
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    let paths: Vec<PathBuf> = staged.iter().map(|temp| temp.path.clone()).collect();
    write(&paths)?;
    for (temp, target) in staged.into_iter().zip(&targets) {
        temp.persist(target)?;
    }
    for dir in &dirs {
        sync_dir(dir);
    }
    Ok(())
}

/// The file a write replaces: a symbolic link's target (the link stays a link and the file it
/// points at gets the new content), else `path` itself.
pub(crate) fn resolved(path: &Path) -> PathBuf {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link && let Ok(target) = std::fs::canonicalize(path) {
        return target;
    }
    path.to_path_buf()
}

/// Refuses what a write must not replace, as every writer here does before it writes: a file
/// made read-only (`chmod a-w`; DVC's cache behind a link: renaming over a file needs only a
/// writable directory, so without this check a write would go through where a plain one is
/// refused), and a directory standing where the file goes (the rename would fail only after
/// the file was written). A caller that changes other state before its write (a registry, a
/// history) checks first.
///
/// # Errors
/// A [`FileError`] naming `target`: of kind `PermissionDenied` for a read-only file,
/// `IsADirectory` for a directory.
pub fn check_replaceable(target: &Path) -> Result<(), FileError> {
    let refused =
        |kind, reason: &str| Err(FileError::io(target, std::io::Error::new(kind, reason)));
    match std::fs::metadata(target) {
        Ok(meta) if meta.is_file() && meta.permissions().readonly() => refused(
            std::io::ErrorKind::PermissionDenied,
            "the file is read-only, so it was left as it is (make it writable to replace it)",
        ),
        Ok(meta) if meta.is_dir() => refused(
            std::io::ErrorKind::IsADirectory,
            "a directory stands where the file goes",
        ),
        _ => Ok(()),
    }
}

/// Removes the temporary files that writers of `target` left in `dir` when they were killed
/// ([`dead_owned`] with the prefix `.{name}.tmp-`), and those of the files staged for it
/// (`..{name}.tmp-`: a writer that writes a staged file atomically in turn): a pid reused by
/// a later process is not the writer; off Linux they stay.
fn remove_stale_temps(dir: &Path, name: &str) {
    for prefix in [format!(".{name}.tmp-"), format!("..{name}.tmp-")] {
        for stale in dead_owned(dir, &prefix) {
            let _ = std::fs::remove_file(stale);
        }
    }
}

/// The directory of `path` (`.` for a bare name), created when missing. A failure names
/// `path`, the file that cannot be written, or the file that stands where one of its
/// directories must be (the OS says only `File exists` or `Not a directory`).
pub(crate) fn created_parent(path: &Path) -> Result<PathBuf, FileError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|err| {
        // The deepest of the directories that exists in some form: a file there is in the way.
        let existing = dir
            .ancestors()
            .find_map(|a| Some((a, std::fs::metadata(a).ok()?)));
        match existing {
            Some((file, meta)) if !meta.is_dir() => FileError::io(
                file,
                std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    format!(
                        "a file, where a directory must be to hold {}",
                        path.display()
                    ),
                ),
            ),
            _ => FileError::io(path, err),
        }
    })?;
    Ok(dir)
}

/// Without syncing the directory a rename may be lost on power failure; some file systems
/// refuse to open a directory for syncing, which only weakens durability, so it is ignored.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// A temporary file removed on drop unless persisted, so an error or a panic in the writer
/// leaves no debris.
struct TempFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl TempFile {
    /// A new empty file in `dir` named for `target`, ending in `suffix`.
    fn create(dir: &Path, target: &Path, suffix: &str) -> Result<Self, FileError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = target
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        remove_stale_temps(dir, &name);
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(
                "{}{n}{suffix}",
                owned_name(&format!(".{name}.tmp-"))
            ));
            match File::options().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(Self {
                        path,
                        file,
                        persisted: false,
                    });
                }
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(FileError::io(path, err)),
            }
        }
    }

    fn persist(mut self, target: &Path) -> Result<(), FileError> {
        // The replaced file's permissions carry over (a 0600 file stays 0600).
        if let Ok(existing) = std::fs::metadata(target) {
            std::fs::set_permissions(&self.path, existing.permissions())
                .map_err(|err| FileError::io(&self.path, err))?;
        }
        std::fs::rename(&self.path, target).map_err(|err| FileError::io(target, err))?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::owner::Owner;

    #[test]
    fn a_file_in_the_way_of_a_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("reports");
        std::fs::write(&file, "not a directory").unwrap();
        for target in [file.join("metrics.json"), file.join("deeper/metrics.json")] {
            let err = write_atomic_unsynced(&target, b"{}").unwrap_err();
            assert_eq!(err.path, file);
            assert_eq!(
                err.source.to_string(),
                format!(
                    "a file, where a directory must be to hold {}",
                    target.display()
                )
            );
        }
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_killed_writers_nested_and_suffixed_temps_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let me = Owner::current().expect("/proc is readable");
        let dead = Owner {
            pid: crate::owner::exited_pid(),
            ..me.clone()
        }
        .tag();
        // A staged file's own temporary file (a writer that writes a staged file atomically),
        // and a chart's temporary file, which keeps the extension.
        let stale = [
            format!("..prices.parquet.tmp-{dead}-0.tmp-{dead}-1"),
            format!(".chart.png.tmp-{dead}-0.png"),
            format!("..chart.png.tmp-{dead}-3.tmp-{dead}-4.png"),
        ];
        let live = format!("..prices.parquet.tmp-{}-7.tmp-{}-8", me.tag(), me.tag());
        for name in stale.iter().chain([&live]) {
            std::fs::write(dir.path().join(name), "partial").unwrap();
        }
        write_atomic_unsynced(&dir.path().join("prices.parquet"), b"table").unwrap();
        write_atomic_by_path::<FileError, _>(&dir.path().join("chart.png"), "png", |temp| {
            assert_eq!(temp.extension().and_then(|e| e.to_str()), Some("png"));
            std::fs::write(temp, "png").map_err(|e| FileError::io(temp, e))
        })
        .unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [live, "chart.png".into(), "prices.parquet".into()]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("chart.png")).unwrap(),
            "png"
        );
        // A failed render leaves the chart as it was, and no temporary file.
        let failed = write_atomic_by_path(&dir.path().join("chart.png"), "png", |temp| {
            std::fs::write(temp, "half").unwrap();
            Err(FileError::io(temp, std::io::Error::other("no font")))
        });
        assert!(failed.is_err());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("chart.png")).unwrap(),
            "png"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
        // A file staged by `write_together` has no extension of its own: the encoder still
        // gets one.
        let staged = dir.path().join(".chart.png.tmp-1.2.vm-4");
        write_atomic_by_path::<FileError, _>(&staged, "png", |temp| {
            assert!(
                temp.to_str().unwrap().ends_with(".png"),
                "{}",
                temp.display()
            );
            std::fs::write(temp, "png").map_err(|e| FileError::io(temp, e))
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&staged).unwrap(), "png");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_write_follows_a_symlink_keeps_the_mode_and_clears_a_dead_writers_temp() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.yaml");
        let link = dir.path().join("params.yaml");
        std::fs::write(&real, "old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        // A writer killed mid-write left its temp file; its process runs no more. A live
        // writer's temp (this process's) stays.
        let me = Owner::current().expect("/proc is readable");
        let dead = Owner {
            pid: crate::owner::exited_pid(),
            ..me.clone()
        };
        let stale = dir.path().join(format!(".real.yaml.tmp-{}-0", dead.tag()));
        let live = dir.path().join(format!(".real.yaml.tmp-{}-99", me.tag()));
        std::fs::write(&stale, "partial").unwrap();
        std::fs::write(&live, "in progress").unwrap();
        write_atomic::<FileError, _>(&link, |f| {
            f.write_all(b"new").map_err(|e| FileError::io("x", e))
        })
        .unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!stale.exists(), "the dead writer's temp file is gone");
        assert!(live.exists(), "a live writer's temp file stays");
    }

    /// Renaming over a read-only file needs only a writable directory (and root may write
    /// anything): every writer refuses it instead, before writing anything, through a link too.
    #[cfg(unix)]
    #[test]
    fn a_read_only_file_is_not_replaced_by_any_writer() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("params.yaml");
        let link = dir.path().join("link.yaml");
        std::fs::write(&real, "old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o444)).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let other = dir.path().join("other.json");
        let refusals = [
            write_atomic::<FileError, _>(&real, |_| panic!("not called")).unwrap_err(),
            write_atomic_unsynced(&link, b"new").unwrap_err(),
            write_atomic_by_path::<FileError, _>(&real, "png", |_| panic!("not called"))
                .unwrap_err(),
            write_together::<FileError, _>(&[other.clone(), link.clone()], |_| {
                panic!("not called")
            })
            .unwrap_err(),
        ];
        for err in refusals {
            assert_eq!(err.path, real);
            assert_eq!(err.source.kind(), std::io::ErrorKind::PermissionDenied);
            assert!(err.source.to_string().contains("read-only"), "{err:?}");
        }
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "old");
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["link.yaml", "params.yaml"],
            "nothing staged or written"
        );
    }

    /// Two targets that are one file (by name, or through a link) are refused before anything
    /// is written.
    #[cfg(unix)]
    #[test]
    fn one_file_written_together_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = dir.path().join("metrics.json");
        std::fs::write(&metrics, "old").unwrap();
        let link = dir.path().join("model.json");
        std::os::unix::fs::symlink(&metrics, &link).unwrap();
        let err =
            write_together::<FileError, _>(&[metrics.clone(), link], |_| panic!("not called"))
                .unwrap_err();
        assert_eq!(err.path, metrics);
        assert_eq!(err.source.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(std::fs::read_to_string(&metrics).unwrap(), "old");
    }

    /// A directory where the file goes is refused before anything is written: the rename over
    /// it would fail only after the writer had run (and a caller had changed other state).
    #[test]
    fn a_directory_in_the_files_place_is_refused_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let taken = dir.path().join("picks.json");
        std::fs::create_dir(&taken).unwrap();
        let other = dir.path().join("picks.csv");
        let refusals = [
            write_atomic::<FileError, _>(&taken, |_| panic!("not called")).unwrap_err(),
            write_together::<FileError, _>(&[other.clone(), taken.clone()], |_| {
                panic!("not called")
            })
            .unwrap_err(),
        ];
        for err in refusals {
            assert_eq!(err.path, taken);
            assert_eq!(err.source.kind(), std::io::ErrorKind::IsADirectory);
        }
        assert!(!other.exists());
        assert_eq!(std::fs::read_dir(&taken).unwrap().count(), 0);
    }

    #[test]
    fn a_failed_or_panicking_write_keeps_the_old_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("out.txt");
        write_atomic::<FileError, _>(&path, |f| {
            f.write_all(b"old").map_err(|e| FileError::io("x", e))
        })
        .unwrap();
        let failed = write_atomic::<FileError, _>(&path, |f| {
            f.write_all(b"partial").map_err(|e| FileError::io("x", e))?;
            Err(FileError::io(
                "x",
                std::io::Error::other("the writer failed"),
            ))
        });
        assert!(failed.is_err());
        let panicked = std::panic::catch_unwind(|| {
            let _ = write_atomic::<FileError, _>(&path, |_| panic!("writer panicked"));
        });
        assert!(panicked.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["out.txt"]);
    }
}
