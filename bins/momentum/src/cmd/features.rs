//! `momentum features`: build the aligned date x ticker close panel and cache it as Parquet.

use std::path::PathBuf;
use std::process::ExitCode;

use momentum_lifecycle::{Settings, build_features};

use crate::terminal::say;

/// Build the aligned close panel (dates x tickers) from the cached prices.
///
/// Reads the price table (`data.out`, the Parquet `momentum fetch` writes, or any CSV/Parquet
/// file with `--prices`), aligns it on the union of its trading days with NaN where a ticker
/// has no price, keeps the universe order, and writes `features.panel` atomically. The panel
/// file is wide (`date`, then one nullable Float64 column per ticker) and carries the price
/// table's digest in its Parquet key-value metadata (`momentum.data.digest`) so
/// `momentum backtest` can report the data lineage.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    momentum features                        # data.out -> features.panel\n  \
    momentum features --prices prices.csv --out /tmp/panel.parquet\n  \
    momentum backtest --panel /tmp/panel.parquet\n\n\
The panel is never written over the price file it reads.")]
pub struct Args {
    /// Price file to read: `.parquet` (long layout) or `.csv`/`.csv.gz` (wide or long), the
    /// layouts `momentum fetch` accepts [default: data.out from params.yaml].
    #[arg(long, value_name = "PATH")]
    pub prices: Option<PathBuf>,

    /// Where to write the panel [default: features.panel from params.yaml].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let prices = args.prices.unwrap_or_else(|| settings.data.out.clone());
    let out = args.out.unwrap_or_else(|| settings.features.panel.clone());
    let (panel, digest) = build_features(&prices, &out, &settings.data)?;
    say!(
        "wrote {} ({} days x {} tickers, {} prices, digest {})",
        out.display(),
        panel.n_days(),
        panel.n_tickers(),
        panel.count_prices(),
        &digest[..digest.len().min(12)]
    );
    Ok(ExitCode::SUCCESS)
}
