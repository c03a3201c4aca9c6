//! `momentum serve`: the production model over HTTP ([`momentum_serve::run`]); this module only
//! merges the flags into the `serve` settings and starts it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use momentum_engine::Arm;
use momentum_lifecycle::{LifecycleError, Settings};
use momentum_serve::{ServeConfig, run as serve};

use crate::overrides::Overrides;
use crate::terminal::say;

const AFTER_HELP: &str = "\
Serves the model of params.yaml's production block (with --alias challenger, its challenger
block), or the registry's `champion` alias when tracking points at an MLflow server
(MLFLOW_TRACKING_URI or tracking.uri). Requests are scored by the same code as `momentum scan`.

Endpoints (MLflow scoring-server conventions; docs/serving.md, \"Scoring API\"):
  GET  /ping, /health      200 when a model is loaded, 503 when not
  GET  /version            the momentum version
  POST /invocations        closes as application/json {\"dataframe_split\": {\"columns\": [tickers],
                           \"index\": [dates], \"data\": [[closes or null]]}} or text/csv
                           (Date,TICKER,...): {\"predictions\": [{ticker, score, rank, selected,
                           eligible}]} for the last date; other content types 415
  GET  /v1/model           alias, source, version, params, tickers, data digest, promoted_at
  GET  /v1/picks/latest    the latest scan of the picks history (scan.history)
  GET  /v1/picks?date=D    the scan as of D
  GET  /metrics            Prometheus: requests and latency, the model, data and scan age,
                           the picks, the monitor's statistics (serve.monitor_report)

Errors are JSON {\"error_code\": ..., \"message\": ...}: 400 for a malformed or unscorable body,
408 for a body slower than --body-timeout-seconds, 413 above --max-body-bytes (refused from
Content-Length before the body is read), 404, 405 (with Allow) for a method a path does not
take, 415, 503 without a model, 504 for a request
longer than --request-timeout-seconds. A connection that takes longer than
--header-timeout-seconds to send a request head (or stays idle that long between requests) is
closed without an answer. At most --max-concurrency requests score at once; the others wait
for a slot.

The model reloads without a restart when the params file changes (checked every --poll-ms)
or the registry alias moves, and at once on SIGHUP; requests in flight keep the model they
started with. A reload that fails keeps the served model (logged, and counted in
momentum_model_reloads_total{outcome=\"error\"}); so does a file that lost the model's block,
until it has stayed so for two polls a second apart (or SIGHUP). A registry that cannot be reached
at start (down, or answering 5xx) does not stop the server when params.yaml has the alias's
block: the block is served until the registry answers. SIGTERM or SIGINT stops accepting,
closes the connections without a request in flight (idle, or still sending a head), lets the
requests in flight finish (at most --drain-seconds, else it exits 1) and exits 0.

Prints `listening on http://HOST:PORT` on stdout once it accepts connections (--port 0 takes
a free port).

Examples:
  momentum serve
  momentum serve --host 0.0.0.0 --port 8080
  curl -s localhost:8080/invocations -H 'Content-Type: text/csv' --data-binary @closes.csv";

/// Serve the production model over HTTP: MLflow-style scoring API and Prometheus metrics.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Address to listen on [params: serve.host, default 127.0.0.1]
    #[arg(long, value_name = "ADDR")]
    host: Option<String>,

    /// Port; 0 takes a free one [params: serve.port, default 8080]
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,

    /// Model to serve: champion or challenger [params: serve.alias, default champion]
    #[arg(long, value_name = "ALIAS")]
    alias: Option<Arm>,

    /// Largest request body in bytes; larger is refused with 413 [params: serve.max_body_bytes, default 1048576]
    #[arg(long, value_name = "BYTES")]
    max_body_bytes: Option<usize>,

    /// How often to check params.yaml (and the registry) for a new model, in milliseconds
    /// [params: serve.poll_ms, default 2000]
    #[arg(long, value_name = "MS")]
    poll_ms: Option<u64>,

    /// Longest wait for requests in flight after SIGTERM [params: serve.drain_seconds, default 30]
    #[arg(long, value_name = "SECONDS")]
    drain_seconds: Option<u64>,

    /// The monitor report the metrics read [params: serve.monitor_report, default reports/monitor.json]
    #[arg(long, value_name = "PATH")]
    monitor_report: Option<PathBuf>,

    /// Longest time a client may take to send a request head (from connecting, or from the
    /// previous answer on a kept-alive connection); slower is disconnected
    /// [params: serve.header_timeout_seconds, default 10]
    #[arg(long, value_name = "SECONDS")]
    header_timeout_seconds: Option<u64>,

    /// Longest time from a request's head to its answer; slower is answered 504
    /// [params: serve.request_timeout_seconds, default 30]
    #[arg(long, value_name = "SECONDS")]
    request_timeout_seconds: Option<u64>,

    /// Longest time a client may take to send a body; slower is answered 408
    /// [params: serve.body_timeout_seconds, default 10]
    #[arg(long, value_name = "SECONDS")]
    body_timeout_seconds: Option<u64>,

    /// Requests scoring (or reading the picks history) at once; more wait for a slot
    /// [params: serve.max_concurrency, default 8]
    #[arg(long, value_name = "N")]
    max_concurrency: Option<usize>,
}

/// `explicit`: the user named the params file, so it must exist.
pub fn run(
    args: Args,
    settings: &Settings,
    (params, explicit): (&Path, bool),
) -> anyhow::Result<ExitCode> {
    let mut serve_settings = settings.serve.clone();
    let mut flags = Overrides::default();
    let s = &mut serve_settings;
    flags.set(&mut s.host, args.host, "serve.host", "--host");
    flags.set(&mut s.port, args.port, "serve.port", "--port");
    flags.set(&mut s.alias, args.alias, "serve.alias", "--alias");
    flags.set(
        &mut s.max_body_bytes,
        args.max_body_bytes,
        "serve.max_body_bytes",
        "--max-body-bytes",
    );
    flags.set(&mut s.poll_ms, args.poll_ms, "serve.poll_ms", "--poll-ms");
    flags.set(
        &mut s.drain_seconds,
        args.drain_seconds,
        "serve.drain_seconds",
        "--drain-seconds",
    );
    flags.set(
        &mut s.header_timeout_seconds,
        args.header_timeout_seconds,
        "serve.header_timeout_seconds",
        "--header-timeout-seconds",
    );
    flags.set(
        &mut s.request_timeout_seconds,
        args.request_timeout_seconds,
        "serve.request_timeout_seconds",
        "--request-timeout-seconds",
    );
    flags.set(
        &mut s.body_timeout_seconds,
        args.body_timeout_seconds,
        "serve.body_timeout_seconds",
        "--body-timeout-seconds",
    );
    flags.set(
        &mut s.max_concurrency,
        args.max_concurrency,
        "serve.max_concurrency",
        "--max-concurrency",
    );
    flags.set_path(
        &mut s.monitor_report,
        args.monitor_report,
        "serve.monitor_report",
        "--monitor-report",
    );
    serve_settings
        .validate()
        .map_err(|err| flags.explain(LifecycleError::Settings(err), params))?;
    let config = ServeConfig {
        params_file: params.to_path_buf(),
        params_required: explicit,
        serve: serve_settings,
    };
    serve(config, |addr| say!("listening on http://{addr}"))?;
    Ok(ExitCode::SUCCESS)
}
