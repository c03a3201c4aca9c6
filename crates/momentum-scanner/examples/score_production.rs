//! Score a day with a production model: the `production` block of `params.yaml` as a value,
//! the embedded sample kept to the model's universe, and the model's ranked picks on the
//! sample's last day.
//!
//! ```text
//! cargo run -p momentum-scanner --example score_production
//! ```

use momentum_engine::PricePanel;
use momentum_scanner::model::ProductionBlock;
use momentum_scanner::scan::{keep_universe, scan};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = momentum_data::load_sample()?;
    // The block `momentum promote` writes; the universe is the sample's 20 tickers.
    let block = ProductionBlock {
        version: Some("1".into()),
        lookback: Some(250),
        skip: Some(10),
        holding: Some(60),
        top_k: Some(5),
        cost_bps: Some(10.0),
        tickers: table.tickers().to_vec(),
        promoted_at: Some("2026-12-01T00:00:00Z".into()),
        ..ProductionBlock::default()
    };
    let model = block.model()?.ok_or("the block has no version")?;

    // The panel's tickers must be the model's universe, in its order.
    let table = keep_universe(&table, &model.universe, momentum_data::SAMPLE_ORIGIN)?;
    let panel = PricePanel::from_table(&table)?;
    let picks = scan(&panel, panel.n_days() - 1, &model)?;

    let p = picks.params;
    println!(
        "model {} (L={} S={} H={} K={}) as of {}",
        picks.model_version, p.lookback, p.skip, p.holding, p.top_k, picks.as_of
    );
    println!("rank  ticker  score     weight  last close");
    for pick in &picks.picks {
        let rank = pick.rank.map_or("-".into(), |r| r.to_string());
        let score = pick.score.map_or("-".into(), |s| format!("{s:+.3}"));
        let close = pick.last_close.map_or("-".into(), |c| format!("{c:.2}"));
        let mark = if pick.selected { "*" } else { " " };
        println!(
            "{rank:>4}{mark} {:<6}  {score:>7}  {:>6.3}  {close:>10}",
            pick.ticker, pick.target_weight
        );
    }
    println!(
        "selected: {}",
        picks.selected().collect::<Vec<_>>().join(", ")
    );
    Ok(())
}
