//! What the binary's integration tests share: running `momentum` in a directory, with or
//! without a tracking server, and reading its outcome.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `momentum ARGS` in `cwd`, tracking to `uri` when given (credentials of the caller's
/// environment removed), with warnings only on stderr.
pub fn momentum(cwd: &Path, uri: Option<&str>, args: &[&str]) -> Output {
    command(cwd, uri, args).output().expect("momentum runs")
}

/// The command [`momentum`] runs, to add to before running it.
pub fn command(cwd: &Path, uri: Option<&str>, args: &[&str]) -> Command {
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
    command
}

/// A project on the sample with the committed params.yaml (its 48-combination grid, the
/// walk-forward and the CPCV), the prices and the panel; no backtest yet.
pub fn sample_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../params.yaml");
    std::fs::copy(committed, dir.path().join("params.yaml")).unwrap();
    ok(momentum(dir.path(), None, &["fetch"]));
    ok(momentum(dir.path(), None, &["features"]));
    dir
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

/// Asserts the exit code 1 of a refused command, one line on stderr, and `message` in it once.
pub fn fails(out: Output, message: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    // Once: a message repeated by the cause chain (an error that displays its source and
    // also returns it) would show it twice.
    assert_eq!(stderr.matches(message).count(), 1, "{stderr}");
}

/// A server on 127.0.0.1 that answers every request (up to 8) with 200 and a chunked JSON-ish
/// body that never ends: it stops writing when the client hangs up, or after 2 GiB. Returns
/// its base URL.
pub fn endless_server() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut stream = stream;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                            transfer-encoding: chunked\r\n\r\n";
                let chunk = format!("{:x}\r\n[{}\r\n", 1 << 20, "1,".repeat((1 << 19) - 1) + "1");
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                for _ in 0..2048 {
                    if stream.write_all(chunk.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// A server on 127.0.0.1 that answers every request with `status` and a plain-text body that
/// echoes the request's head (request line and headers, one per line), as some servers and
/// proxies do in their error pages: credentials sent in a header come back in the body. Runs
/// until the test process ends; returns its base URL.
pub fn echo_server(status: u16) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut body = String::from("rejected, you sent:\n");
                let mut line = String::new();
                let mut length = 0;
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    body.push_str(&line);
                    line.clear();
                }
                // The request's own body is read, not echoed: unread, it would make the close
                // a reset that the client may see before the answer.
                let _ = std::io::copy(&mut reader.by_ref().take(length), &mut std::io::sink());
                let reply = format!(
                    "HTTP/1.1 {status} Echo\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let mut stream = stream;
                let _ = stream.write_all(reply.as_bytes());
            });
        }
    });
    format!("http://{addr}")
}

/// `--grid-lookback L --grid-skip S --grid-holding H --grid-top-k K` for the given lists.
pub fn grid_flags(
    lookback: impl IntoIterator<Item = usize>,
    skip: impl IntoIterator<Item = usize>,
    holding: impl IntoIterator<Item = usize>,
    top_k: impl IntoIterator<Item = usize>,
) -> Vec<String> {
    let list = |values: &mut dyn Iterator<Item = usize>| {
        values.map(|v| v.to_string()).collect::<Vec<_>>().join(",")
    };
    vec![
        "--grid-lookback".into(),
        list(&mut lookback.into_iter()),
        "--grid-skip".into(),
        list(&mut skip.into_iter()),
        "--grid-holding".into(),
        list(&mut holding.into_iter()),
        "--grid-top-k".into(),
        list(&mut top_k.into_iter()),
    ]
}
