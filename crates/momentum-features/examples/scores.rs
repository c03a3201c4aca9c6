//! Features of the embedded sample: align it into a panel, rank the tickers by 12-1 month
//! momentum on the last day with their trailing volatility, and round-trip the panel through
//! its Parquet file.
//!
//! ```text
//! cargo run -p momentum-features --example scores
//! ```

use momentum_features::{
    PricePanel, momentum_scores, read_panel, trailing_volatility, write_panel,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = momentum_data::load_sample()?;
    let panel = PricePanel::from_table(&table)?;
    let t = panel.n_days() - 1;
    println!(
        "panel: {} days x {} tickers, {} prices, scored on {}",
        panel.n_days(),
        panel.n_tickers(),
        panel.count_prices(),
        panel.dates()[t]
    );

    // 12-1 momentum: the return from 252 to 21 trading days ago; 63-day daily volatility.
    let (lookback, skip, window) = (252, 21, 63);
    let mut scores = vec![0.0; panel.n_tickers()];
    momentum_scores(&panel, t, lookback, skip, &mut scores)?;
    let mut volatility = vec![0.0; panel.n_tickers()];
    trailing_volatility(&panel, t, window, &mut volatility)?;

    // Highest score first; NaN (an ineligible ticker) last.
    let mut order: Vec<usize> = (0..panel.n_tickers()).collect();
    order.sort_by(|&a, &b| {
        let nan_last = scores[a].is_nan().cmp(&scores[b].is_nan());
        nan_last.then(scores[b].total_cmp(&scores[a]))
    });
    println!("rank  ticker  momentum  vol (daily)");
    for (rank, &i) in order.iter().enumerate() {
        println!(
            "{:>4}  {:<6}  {:>+7.1} %  {:>8.2} %",
            rank + 1,
            panel.tickers()[i],
            100.0 * scores[i],
            100.0 * volatility[i]
        );
    }

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("features/panel.parquet");
    let digest = momentum_data::digest(&table);
    write_panel(&path, &panel, Some(&digest))?;
    let stored = read_panel(&path)?;
    // Compared price by price: a missing price is NaN, and NaN != NaN.
    let same = |a: &f64, b: &f64| a == b || (a.is_nan() && b.is_nan());
    let prices_equal = stored.panel.dates() == panel.dates()
        && stored.panel.tickers() == panel.tickers()
        && stored
            .panel
            .close_flat()
            .iter()
            .zip(panel.close_flat())
            .all(|(a, b)| same(a, b));
    if !prices_equal || stored.data_digest.as_deref() != Some(digest.as_str()) {
        return Err("the panel changed on its round trip".into());
    }
    println!(
        "wrote and read back {} ({} bytes), data digest {}...",
        path.display(),
        std::fs::metadata(&path)?.len(),
        &digest[..12]
    );
    Ok(())
}
