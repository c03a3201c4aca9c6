//! `momentum`: the command-line front of the momentum workspace.
//!
//! A thin binary in the manner of ripgrep: it parses flags, reads `params.yaml` into
//! `momentum_lifecycle::Settings`, lets flags override them, calls the library and prints, and
//! decides exit codes in one place. The lifecycle lives in `momentum-lifecycle`, on top of
//! `momentum-data`, `momentum-features`, `momentum-engine`, `momentum-scanner` and
//! `momentum-tracking`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod overrides;
mod progress;
mod terminal;

use momentum_lifecycle::{LifecycleError, Settings};

const AFTER_HELP: &str = "\
Environment:
  FINANCIAL_DATASETS_API_KEY   key of the price API (fetch --source financialdatasets); never logged
  FINANCIAL_DATASETS_BASE_URL  another base URL for the price API
  MLFLOW_TRACKING_URI          http(s)://host:port of an MLflow server (default: local store mlruns/)
  MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD, MLFLOW_TRACKING_TOKEN   server credentials
  RUST_LOG                     log filter (e.g. debug); logs go to stderr
  MOMENTUM_SIMD                vector instructions of the grid and PBO: auto (default: the widest
                               this CPU has), portable, avx2 or avx512; the same results whichever

Exit codes: 0 success, 1 error (one line on stderr naming the file, field or ticker), 2 usage;
promote: 3 rejected by a gate; monitor --fail-on-drift: 4 retraining recommended;
ab --fail-on-promote: 5 the challenger should replace the champion.

`momentum <command> --help` describes each command, its files and its params.yaml keys.";

/// Cross-sectional momentum trading, from prices to production picks.
///
/// Typical pipeline: `momentum fetch && momentum features && momentum backtest &&
/// momentum promote && momentum scan && momentum monitor`, and `momentum serve` answers over
/// HTTP. Each command reads its defaults from `params.yaml` in the working directory; flags
/// override them.
#[derive(Debug, Parser)]
#[command(
    name = "momentum",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_long_help = AFTER_HELP
)]
struct Cli {
    /// Parameters file (defaults apply when the default file does not exist).
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "params.yaml"
    )]
    params: PathBuf,

    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Only warnings and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

// Each command's help (summary and long text) is the doc comment of its `Args`.
#[derive(Debug, Subcommand)]
enum Command {
    Fetch(cmd::fetch::Args),
    Features(cmd::features::Args),
    // Boxed: its many flags make it several times the size of the other commands' arguments.
    Backtest(Box<cmd::backtest::Args>),
    Runs(cmd::runs::Args),
    Promote(cmd::promote::Args),
    Scan(cmd::scan::Args),
    Monitor(cmd::monitor::Args),
    Ab(cmd::ab::Args),
    Report(cmd::report::Args),
    Serve(cmd::serve::Args),
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let params = cli.params.clone();
    match run(cli).map_err(|err| overrides::in_params_file(err, &params)) {
        Ok(code) => code,
        // The reader of stdout went away (`| head`): nothing left to say.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", terminal::one_line(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // A refused MOMENTUM_SIMD is an error here, not a panic in the middle of a backtest.
    let simd = momentum_engine::simd_instruction_set()?;
    tracing::debug!(simd, "the grid's and PBO's instruction set");
    let explicit = cli.params != std::path::Path::new("params.yaml");
    let params = cli.params.as_path();
    let settings = Settings::load(params, explicit).map_err(LifecycleError::from)?;
    match cli.command {
        Command::Fetch(args) => cmd::fetch::run(args, &settings, params),
        Command::Features(args) => cmd::features::run(args, &settings),
        Command::Backtest(args) => cmd::backtest::run(*args, &settings, params),
        Command::Runs(args) => cmd::runs::run(args, &settings),
        Command::Promote(args) => cmd::promote::run(args, &settings, params),
        Command::Scan(args) => cmd::scan::run(args, &settings, params),
        Command::Monitor(args) => cmd::monitor::run(args, &settings, params),
        Command::Ab(args) => cmd::ab::run(args, &settings, params),
        Command::Report(args) => cmd::report::run(args, &settings),
        Command::Serve(args) => cmd::serve::run(args, &settings, (params, explicit)),
    }
}

/// The current time, RFC 3339 in UTC to the second: when a candidate was written or promoted.
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A failed write to stdout: the error itself is the I/O error (a broken pipe further down a
/// cause chain, such as a connection to a server reset, is an error like any other).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// `momentum runs list | head -1`: when the reader of stdout goes away, printing panics with a
/// broken pipe (Rust ignores SIGPIPE); end quietly with exit 0 instead, as ripgrep does. The
/// same for stderr (`2>&1 | head`: a note or the count after a table). Every other panic is
/// reported as usual.
fn quiet_on_broken_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        let printing = ["failed printing to stdout", "failed printing to stderr"];
        if printing.iter().any(|p| message.starts_with(p)) && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        report(info);
    }));
}

/// Logs go to stderr so stdout stays clean for tables and JSON.
fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default_level = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        // Catches clashing flag names (a subcommand flag shadowing a global one) at test time
        // instead of as a runtime panic.
        super::Cli::command().debug_assert();
    }
}
