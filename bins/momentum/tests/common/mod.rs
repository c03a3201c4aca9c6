//! What the binary's integration tests share: running `momentum` in a directory, with or
//! without a tracking server, and reading its outcome.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `momentum ARGS` in `cwd`, tracking to `uri` when given (credentials of the caller's
/// environment removed), with warnings only on stderr.
pub fn momentum(cwd: &Path, uri: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_momentum"));
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("MLFLOW_TRACKING_USERNAME")
        .env_remove("MLFLOW_TRACKING_PASSWORD")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .env("RUST_LOG", "warn");
    match uri {
        Some(uri) => command.env("MLFLOW_TRACKING_URI", uri),
        None => command.env_remove("MLFLOW_TRACKING_URI"),
    };
    command.output().expect("momentum runs")
}

/// The stdout of a command that succeeded (its output on failure).
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Asserts the exit code 1 of a refused command, one line on stderr, and `message` in it.
pub fn fails(out: Output, message: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(message), "{stderr}");
}
