//! The data stage end to end: load the embedded sample, select a universe and window, digest
//! it, cache it as Parquet with its lineage manifest, read both back and check the round trip.
//!
//! ```text
//! cargo run -p momentum-data --example load_and_digest
//! ```

use chrono::NaiveDate;
use momentum_data::{
    Manifest, UniverseWindow, digest, load_sample, manifest_path, read_manifest, read_parquet,
    select, write_manifest, write_parquet,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sample = load_sample()?;
    let (first, last) = sample.date_range().ok_or("the sample is empty")?;
    println!(
        "sample: {} tickers, {} rows, {first} to {last}",
        sample.tickers().len(),
        sample.len()
    );

    let requested = (
        NaiveDate::from_ymd_opt(2020, 1, 1).ok_or("bad date")?,
        NaiveDate::from_ymd_opt(2022, 12, 31).ok_or("bad date")?,
    );
    let window = UniverseWindow {
        tickers: ["MSFT", "AAPL", "XOM", "JPM"].map(String::from).to_vec(),
        start: requested.0,
        end: requested.1,
        allow_missing: false,
    };
    let selected = select(&sample, &window, "sample")?;
    let table = selected.table;
    println!("selected: {:?}, {} rows", table.tickers(), table.len());
    println!("digest:   {}", digest(&table));

    let dir = tempfile::tempdir()?;
    let parquet = dir.path().join("prices.parquet");
    write_parquet(&parquet, &table)?;
    let manifest = Manifest::describe(
        "sample",
        momentum_data::SAMPLE_ORIGIN,
        &parquet,
        &table,
        &selected.dropped,
        requested,
        false,
    );
    let manifest_file = manifest_path(&parquet);
    write_manifest(&manifest_file, &manifest)?;
    println!(
        "wrote {} ({} bytes) and {}",
        parquet.display(),
        std::fs::metadata(&parquet)?.len(),
        manifest_file.display()
    );

    // The data survives the round trip, so its digest does too, whatever the file's bytes.
    let back = read_parquet(&parquet)?;
    let recorded = read_manifest(&manifest_file)?;
    if back != table || digest(&back) != recorded.digest {
        return Err("the Parquet round trip changed the data".into());
    }
    println!(
        "read back: {} rows, {} to {}, digest matches the manifest ({})",
        back.len(),
        recorded.start,
        recorded.end,
        recorded.digest_algorithm
    );
    for (ticker, rows) in &recorded.rows_per_ticker {
        println!("  {ticker:<5} {rows} rows");
    }
    Ok(())
}
