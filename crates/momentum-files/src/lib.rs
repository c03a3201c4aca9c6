//! Files written all or nothing, and the processes that write them.
//!
//! This crate owns how every momentum crate replaces a file on disk and how it tells debris
//! of a killed process from work in progress:
//! - [`write_atomic`] and [`write_together`]: readers see the old file or the complete new
//!   one, never a partial file; a symbolic link keeps pointing at its target, which gets the
//!   new content; the replaced file's permissions carry over, and a read-only file is refused
//!   rather than replaced; and the temporary files that a killed writer of the same file left
//!   are removed. [`write_atomic_unsynced`] does the same without waiting for the disk, for
//!   stores of many small files.
//! - [`Owner`]: a process named by its host, pid and start time, and whether it still runs
//!   (the tracking store marks the runs of a dead owner KILLED with it); [`owned_name`] and
//!   [`dead_owned`] name files and folders after their writer and find a dead writer's.
//! - [`DirLock`]: one process at a time changing the files of a directory.
//! - [`FileError`]: an I/O failure naming its file.
#![warn(missing_docs)]

mod atomic;
mod lock;
mod owner;

use std::path::PathBuf;

pub use atomic::{
    check_replaceable, copy_atomic_unsynced, write_atomic, write_atomic_by_path,
    write_atomic_unsynced, write_together,
};
pub use lock::DirLock;
pub use owner::{Owner, dead_owned, owned_name};

/// An I/O failure of a write, naming the file or directory it was about.
#[derive(Debug, thiserror::Error)]
#[error("{}", path.display())]
pub struct FileError {
    /// The file or directory involved.
    pub path: PathBuf,
    /// The underlying I/O error.
    #[source]
    pub source: std::io::Error,
}

impl FileError {
    /// An I/O failure about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self {
            path: path.into(),
            source,
        }
    }
}
