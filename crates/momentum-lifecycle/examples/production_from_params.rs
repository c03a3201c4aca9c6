//! Load the production model from the repository's `params.yaml` and score the embedded
//! sample's last day with it, as `momentum scan` does (without writing the picks files).
//!
//! ```text
//! cargo run -p momentum-lifecycle --example production_from_params
//! ```

use std::path::Path;

use momentum_engine::Arm;
use momentum_engine::PricePanel;
use momentum_lifecycle::track::open_tracker;
use momentum_lifecycle::{ProductionSource, Settings, load_model};
use momentum_scanner::scan::{keep_universe, scan};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let params = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../params.yaml");
    let settings = Settings::load(&params, true)?;
    // The production block, checked against the registry's `champion` as `momentum scan`
    // does; `ProductionSource::Registry` would read the champion instead.
    let model = load_model(
        &settings,
        &params,
        (Arm::Champion, ProductionSource::Params),
        || open_tracker(&settings, "example", None),
    )?;
    let p = model.params;
    println!(
        "production model {} from {}: L={} S={} H={} K={}, {} tickers",
        model.version().unwrap_or("?"),
        params.display(),
        p.lookback,
        p.skip,
        p.holding,
        p.top_k,
        model.universe.len()
    );

    let table = momentum_data::load_sample()?;
    if model.data_digest.as_deref() == Some(momentum_data::digest(&table).as_str()) {
        println!("it was selected on the embedded sample (same data digest)");
    }
    let table = keep_universe(&table, &model.universe, momentum_data::SAMPLE_ORIGIN)?;
    let panel = PricePanel::from_table(&table)?;
    let picks = scan(&panel, panel.n_days() - 1, &model)?;
    println!("picks as of {}:", picks.as_of);
    for pick in picks.picks.iter().filter(|pick| pick.selected) {
        println!(
            "  {} {:<5} score {:+.3}  weight {:.2}",
            pick.rank.unwrap_or_default(),
            pick.ticker,
            pick.score.unwrap_or(f64::NAN),
            pick.target_weight
        );
    }
    Ok(())
}
