//! Which process writes something, and whether it still lives: how a writer tells the
//! debris of a killed process (a temporary file, a run left RUNNING, a staging folder) from
//! work in progress.
//!
//! An [`Owner`] is a process named by its host, its pid and its start time (field 22 of
//! `/proc/<pid>/stat`, clock ticks after boot). The start time guards against pid reuse: a new
//! process that got the pid of a dead writer has another start time. An owner is dead when its
//! host is this host (compared by [`Owner::tag`]'s host form) and no process with its pid and
//! start time runs here (a zombie counts as dead). An owner on another host is never judged:
//! this host cannot see its processes. Nor can it see another user's processes when `/proc` is
//! mounted with `hidepid`: such a store must not be shared between users.
//!
//! Linux only: elsewhere there is no `/proc` to read the start time from, so no owner is
//! recorded and nothing is ever found dead.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A process: the writer of a file, a RUNNING run or a staging folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// Host name (`/proc/sys/kernel/hostname`).
    pub host: String,
    /// Start time of the process: field 22 of `/proc/<pid>/stat`, clock ticks after boot.
    pub start_ticks: u64,
}

impl Owner {
    /// This process, read once; `None` off Linux or when `/proc` cannot be read.
    pub fn current() -> Option<&'static Owner> {
        static CURRENT: std::sync::OnceLock<Option<Owner>> = std::sync::OnceLock::new();
        CURRENT
            .get_or_init(|| {
                if !cfg!(target_os = "linux") {
                    return None;
                }
                let pid = std::process::id();
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
                Some(Owner {
                    pid,
                    host: host.trim().to_owned(),
                    start_ticks: start_ticks(pid)?,
                })
            })
            .as_ref()
    }

    /// Whether this owner, seen from the process `me`, has died: same host, and its pid is gone
    /// or now belongs to a process started at another time.
    pub fn is_dead(&self, me: &Owner) -> bool {
        host_key(&self.host) == host_key(&me.host)
            && start_ticks(self.pid) != Some(self.start_ticks)
    }

    /// `<pid>.<start_ticks>.<host>`, the host with every character but ASCII letters, digits
    /// and `-` written `_`, so that the tag splits on `.` and is a valid file name.
    pub fn tag(&self) -> String {
        format!("{}.{}.{}", self.pid, self.start_ticks, host_key(&self.host))
    }

    /// The owner written by [`Owner::tag`] (its host in the tag's form).
    pub fn from_tag(tag: &str) -> Option<Owner> {
        let mut parts = tag.split('.');
        let (pid, start, host) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || host.is_empty() {
            return None;
        }
        Some(Owner {
            pid: pid.parse().ok()?,
            host: host.to_owned(),
            start_ticks: start.parse().ok()?,
        })
    }
}

/// `{prefix}{tag}-`: the start of a name that carries its writer, this process's
/// [`Owner::tag`] (its pid alone where no owner is known); the caller appends a suffix that
/// tells its own names apart.
pub fn owned_name(prefix: &str) -> String {
    let tag = Owner::current().map_or_else(|| std::process::id().to_string(), Owner::tag);
    format!("{prefix}{tag}-")
}

/// The entries of `dir` named by [`owned_name`] with `prefix` whose owner is dead, as
/// [`Owner::is_dead`] judges from this process: debris of killed writers. A name may go on
/// after its suffix (`.png`), and a temporary file of a temporary file
/// (`{prefix}{tag}-{n}.tmp-{tag}-{m}`, written by the same process) is its first tag's. Entries
/// of live writers, of other hosts and of another form are not listed; off Linux none are.
pub fn dead_owned(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let (Some(me), Ok(entries)) = (Owner::current(), std::fs::read_dir(dir)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let owner = name
                .to_str()
                .and_then(|n| n.strip_prefix(prefix))
                .and_then(|rest| rest.split(".tmp-").next())
                .and_then(|own| own.rsplit_once('-'))
                .and_then(|(tag, _)| Owner::from_tag(tag));
            owner.is_some_and(|owner| owner.is_dead(me))
        })
        .map(|entry| entry.path())
        .collect()
}

/// The host as a tag writes it. Hosts are always compared in this form, so that the owner of a
/// `run.json` (which keeps the real name) and that of a staging folder agree.
fn host_key(host: &str) -> String {
    host.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Field 22 of `/proc/<pid>/stat`, `None` when no such process runs or it is a zombie.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces and parentheses itself,
    // so the fields are counted from the last `)`: field 3 (the state) comes first.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    if matches!(fields.next()?, "Z" | "X" | "x") {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// The pid of a process that ran and was reaped: a dead owner for tests.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn exited_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_round_trips_with_the_host_in_file_name_form() {
        let owner = Owner {
            pid: 42,
            host: "build.example.com".into(),
            start_ticks: 7,
        };
        assert_eq!(owner.tag(), "42.7.build_example_com");
        let back = Owner::from_tag(&owner.tag()).unwrap();
        assert_eq!((back.pid, back.start_ticks), (42, 7));
        assert_eq!(host_key(&back.host), host_key(&owner.host));
        for bad in ["", "42", "42.7", "x.7.h", "42.7.h.extra", "42.7."] {
            assert!(Owner::from_tag(bad).is_none(), "{bad}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_lives_and_an_exited_or_reused_pid_is_dead() {
        let me = Owner::current().expect("/proc is readable");
        assert!(!me.is_dead(me));
        let exited = Owner {
            pid: exited_pid(),
            ..me.clone()
        };
        assert!(exited.is_dead(me));
        let reused = Owner {
            start_ticks: me.start_ticks + 1,
            ..me.clone()
        };
        assert!(reused.is_dead(me));
        let elsewhere = Owner {
            host: format!("{}-elsewhere", me.host),
            ..exited
        };
        assert!(
            !elsewhere.is_dead(me),
            "another host's processes are not judged"
        );
    }
}
