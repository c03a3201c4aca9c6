//! Exclusive access to the files of one directory between processes.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::FileError;
use crate::atomic::{created_parent, resolved};

/// An advisory lock on the directory that holds a file (a symbolic link's target's), released
/// when dropped (or when its process dies): the read-modify-write cycles of two processes on
/// the files of one directory (two scans appending to one history, two promotions of one
/// `params.yaml`) take turns instead of one losing the other's change. The lock is the
/// directory's own (`flock` on a handle of it), so no lock file is left beside the data; it
/// covers every file of the directory that is written under it.
#[derive(Debug)]
pub struct DirLock {
    _handle: File,
}

impl DirLock {
    /// Waits for the lock on the directory of `path` (`.` for a bare name), created when
    /// missing.
    ///
    /// # Errors
    /// A [`FileError`] naming the directory when it cannot be opened or locked.
    pub fn exclusive(path: &Path) -> Result<Self, FileError> {
        let (dir, handle) = open_dir(path)?;
        handle.lock().map_err(|err| FileError::io(dir, err))?;
        Ok(Self { _handle: handle })
    }

    /// The lock on the directory of `path` when no other process holds it, without waiting:
    /// `None` while one does.
    ///
    /// # Errors
    /// A [`FileError`] naming the directory when it cannot be opened or locked.
    pub fn try_exclusive(path: &Path) -> Result<Option<Self>, FileError> {
        let (dir, handle) = open_dir(path)?;
        match handle.try_lock() {
            Ok(()) => Ok(Some(Self { _handle: handle })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(err)) => Err(FileError::io(dir, err)),
        }
    }
}

fn open_dir(path: &Path) -> Result<(PathBuf, File), FileError> {
    // The directory a write replaces the file in (a link's target's, as `write_atomic`
    // resolves it); the first write of a file may come with its directory: it is made.
    let dir = created_parent(&resolved(path))?;
    let handle = File::open(&dir).map_err(|err| FileError::io(&dir, err))?;
    Ok((dir, handle))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second holder is refused while the first holds the lock (a lock on the same directory
    /// through another handle, as another process would take it), and gets it once the first
    /// is dropped; a holder that waits gets it when the first lets go.
    #[test]
    fn one_holder_at_a_time_per_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("params.yaml");
        let first = DirLock::exclusive(&file).unwrap();
        assert!(DirLock::try_exclusive(&file).unwrap().is_none());
        let other_dir = tempfile::tempdir().unwrap();
        assert!(
            DirLock::try_exclusive(&other_dir.path().join("params.yaml"))
                .unwrap()
                .is_some(),
            "another directory is not held"
        );
        let (sender, receiver) = std::sync::mpsc::channel();
        let waiter = {
            let file = file.clone();
            std::thread::spawn(move || {
                let second = DirLock::exclusive(&file).unwrap();
                sender.send(()).unwrap();
                drop(second);
            })
        };
        let waited = receiver.recv_timeout(std::time::Duration::from_millis(200));
        assert!(waited.is_err(), "the waiter got the lock while it was held");
        drop(first);
        receiver
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the waiter gets the lock once it is released");
        waiter.join().unwrap();
        assert!(DirLock::try_exclusive(&file).unwrap().is_some());
    }
}
