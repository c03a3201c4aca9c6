//! `momentum features`: build the aligned date x ticker close panel and cache it as Parquet.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use momentum_data::PriceTable;
use momentum_features::{PricePanel, write_panel};

use crate::config::Config;

/// Build the aligned close panel (dates x tickers) from the cached prices.
///
/// Reads the price table (`data.out`, the Parquet `momentum fetch` writes, or any CSV/Parquet
/// file with `--prices`), aligns it on the union of its trading days with NaN where a ticker
/// has no price, keeps the universe order, and writes `features.panel` atomically. The panel
/// file is wide (`date`, then one nullable Float64 column per ticker) and carries the price
/// table's digest in its Parquet key-value metadata (`momentum.data.digest`) so
/// `momentum backtest` can report the data lineage.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Price file to read: `.parquet` (long layout) or `.csv`/`.csv.gz` (wide or long), the
    /// layouts `momentum fetch` accepts [default: data.out from params.yaml].
    #[arg(long, value_name = "PATH")]
    pub prices: Option<PathBuf>,

    /// Where to write the panel [default: features.panel from params.yaml].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let prices = args.prices.unwrap_or_else(|| config.data.out.clone());
    let out = args.out.unwrap_or_else(|| config.features.panel.clone());
    let table = read_prices(&prices)?;
    let digest = momentum_data::digest(&table);
    let panel = PricePanel::from_table(&table)
        .with_context(|| format!("cannot align the prices of {}", prices.display()))?;
    write_panel(&out, &panel, Some(&digest))
        .with_context(|| format!("cannot write the panel {}", out.display()))?;
    tracing::info!(
        "wrote {} ({} days x {} tickers, {} prices, digest {})",
        out.display(),
        panel.n_days(),
        panel.n_tickers(),
        panel.count_prices(),
        &digest[..digest.len().min(12)]
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads a price file by its extension: Parquet (long layout) or CSV (wide or long, gzip ok).
pub fn read_prices(path: &Path) -> anyhow::Result<PriceTable> {
    let is_parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    let table = if is_parquet {
        momentum_data::read_parquet(path)
    } else {
        momentum_data::read_csv(path)
    };
    table.with_context(|| format!("cannot read prices from {}", path.display()))
}
