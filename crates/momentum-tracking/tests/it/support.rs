//! Starts real `mlflow server` processes for the integration tests.
//!
//! Each server runs under a small bash wrapper in its own process group. The wrapper reads its
//! stdin until EOF: when the test drops the [`Server`] (or the test process exits, for the
//! shared server in a `static`), the pipe closes, the wrapper sends SIGTERM to MLflow, waits up
//! to 10 s, and then SIGKILLs whatever is left in the group (uvicorn workers included).

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use momentum_tracking::{Auth, DEFAULT_RETRY, RestClient, RestConfig, RetryPolicy};

/// The `mlflow` executable: `$MOMENTUM_MLFLOW`, else `<workspace>/.venv/bin/mlflow`.
/// Panics (the tests fail, never skip) when it is missing.
pub fn mlflow_bin() -> PathBuf {
    let path = match std::env::var_os("MOMENTUM_MLFLOW") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/mlflow"),
    };
    assert!(
        path.is_file(),
        "the MLflow server is not installed at {}: run scripts/python-env.sh (it creates .venv with mlflow==3.17.2), \
         or set MOMENTUM_MLFLOW to an mlflow executable",
        path.display()
    );
    path
}

const WRAPPER: &str = r#"
"$MLFLOW" server --host 127.0.0.1 --port "$PORT" --workers 1 \
  --backend-store-uri "sqlite:///$DATA/mlflow.db" --artifacts-destination "$DATA/artifacts" \
  $EXTRA >>"$DATA/server.log" 2>&1 &
srv=$!
cat >/dev/null
kill -TERM "$srv" 2>/dev/null
for _ in $(seq 40); do kill -0 "$srv" 2>/dev/null || break; sleep 0.25; done
if [ "$CLEANUP" = 1 ]; then rm -rf "$DATA"; fi
kill -KILL 0
"#;

/// A running MLflow server on 127.0.0.1.
pub struct Server {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:<port>`.
    pub uri: String,
    port: u16,
    data: PathBuf,
    /// Arguments added to `mlflow server`.
    extra: String,
    cleanup: bool,
}

/// The admin password the basic-auth server is started with. MLflow 3.17.2 ships none and refuses
/// the old default `password1234` (GHSA-gq3w-7jj3-x7gr), so the tests set their own.
pub const ADMIN_PASSWORD: &str = "momentum-it-admin-2026";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Starts a server storing into `data` (created); `auth` adds `--app-name basic-auth`.
    /// `cleanup`: remove `data` when the server stops.
    pub fn start(data: &Path, auth: bool, cleanup: bool) -> Server {
        let extra = if auth { "--app-name basic-auth" } else { "" };
        Self::start_with(data, extra.to_owned(), cleanup)
    }

    /// A server that keeps new experiments' artifacts in a directory of its own instead of
    /// behind its artifact proxy (`--no-serve-artifacts --default-artifact-root`): one a client
    /// cannot upload to. Removes `data` when it stops.
    pub fn start_unproxied(data: &Path) -> Server {
        let root = data.join("unproxied");
        let extra = format!(
            "--no-serve-artifacts --default-artifact-root {}",
            root.display()
        );
        Self::start_with(data, extra, true)
    }

    fn start_with(data: &Path, extra: String, cleanup: bool) -> Server {
        let mut server = Server {
            child: None,
            stdin: None,
            uri: String::new(),
            port: free_port(),
            data: data.to_path_buf(),
            extra,
            cleanup,
        };
        server.spawn();
        server
    }

    /// A shared server for tests that do not interfere, stopped when the test process exits.
    pub fn shared() -> &'static Server {
        static SERVER: std::sync::OnceLock<Server> = std::sync::OnceLock::new();
        SERVER.get_or_init(|| {
            let data = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("mlflow-shared-{}", std::process::id()));
            Server::start(&data, false, true)
        })
    }

    fn spawn(&mut self) {
        std::fs::create_dir_all(&self.data).unwrap();
        let started = Instant::now();
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(WRAPPER)
            .current_dir(&self.data)
            .env("MLFLOW", mlflow_bin())
            .env("PORT", self.port.to_string())
            .env("DATA", &self.data)
            .env("EXTRA", &self.extra)
            .env("CLEANUP", if self.cleanup { "1" } else { "0" })
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .env("MLFLOW_DISABLE_TELEMETRY", "true")
            .env("DO_NOT_TRACK", "true")
            .env("MLFLOW_AUTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("MLFLOW_FLASK_SERVER_SECRET_KEY", "momentum-tests")
            .env_remove("MLFLOW_TRACKING_URI")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().expect("bash starts");
        self.stdin = child.stdin.take();
        self.uri = format!("http://127.0.0.1:{}", self.port);
        let probe = RestClient::new(RestConfig {
            retry: RetryPolicy {
                max_retries: 0,
                ..DEFAULT_RETRY
            },
            timeout: Duration::from_secs(5),
            auth: Auth::None,
            ..RestConfig::new(&self.uri)
        })
        .unwrap();
        loop {
            if probe.health() {
                eprintln!(
                    "mlflow server {} up after {:.1?}",
                    self.uri,
                    started.elapsed()
                );
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "mlflow server exited ({status}) before answering /health:\n{}",
                    self.log_tail()
                );
            }
            if started.elapsed() > Duration::from_secs(120) {
                panic!(
                    "mlflow server {} did not answer /health within 120 s:\n{}",
                    self.uri,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        self.child = Some(child);
    }

    /// The last lines of the server log.
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(self.data.join("server.log")) {
            let _ = f.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Kills the server at once (SIGKILL to the whole process group), like a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
        }
        self.stdin = None;
    }

    /// Starts the server again on the same port and data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// A client with the given auth and fast retries.
    pub fn client_config(&self, auth: Auth) -> RestConfig {
        RestConfig {
            auth,
            retry: RetryPolicy {
                max_retries: 2,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(200),
                max_retry_after: Duration::from_millis(200),
            },
            timeout: Duration::from_secs(30),
            ..RestConfig::new(&self.uri)
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stdin = None; // EOF: the wrapper stops MLflow
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }
}
