//! From prices to a judged candidate: write a price CSV, align it into a panel, run a small
//! grid that writes the reports and `candidate.json` together, then hold the candidate to the
//! promotion gates of `params.yaml` (nothing is registered).
//!
//! ```text
//! cargo run -p momentum-lifecycle --example backtest_to_candidate
//! ```

use chrono::NaiveDate;
use momentum_data::{UniverseWindow, select};
use momentum_engine::{ExperimentSpec, GridSpec};
use momentum_lifecycle::{
    BacktestFiles, PanelSource, ReportContext, Settings, Silent, backtest, judge, load_panel,
};
use momentum_scanner::model::CodeVersion;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;

    // A long price CSV: eight of the sample's tickers, 2015 to 2022.
    let sample = momentum_data::load_sample()?;
    let window = UniverseWindow {
        tickers: ["AAPL", "CVX", "JNJ", "JPM", "KO", "MSFT", "WMT", "XOM"]
            .map(String::from)
            .to_vec(),
        start: NaiveDate::from_ymd_opt(2015, 1, 1).ok_or("bad date")?,
        end: NaiveDate::from_ymd_opt(2022, 12, 31).ok_or("bad date")?,
        allow_missing: false,
    };
    let table = select(&sample, &window, "sample")?.table;
    let mut csv = String::from("date,ticker,close\n");
    for row in table.rows() {
        csv.push_str(&format!("{},{},{}\n", row.date, row.ticker, row.close));
    }
    let prices = dir.path().join("prices.csv");
    std::fs::write(&prices, csv)?;

    let settings = Settings::default();
    let (panel, digest) = load_panel(&PanelSource::Prices(prices), &settings)?;
    let spec = ExperimentSpec {
        pbo_blocks: 8,
        grid: GridSpec {
            lookback: vec![60, 120, 250],
            skip: vec![0, 10],
            holding: vec![20, 60],
            top_k: vec![2, 4],
        },
        ..settings.backtest.clone()
    };
    let files = BacktestFiles {
        reports: dir.path().join("reports"),
        model: dir.path().join("models/candidate.json"),
    };
    let code = CodeVersion {
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit: None,
    };
    let report = ReportContext::default();
    let run = backtest(
        &panel,
        digest,
        &spec,
        (code, None),
        &files,
        &report,
        &Silent,
    )?;
    println!(
        "{} days x {} tickers, {} combinations: selected {:?}",
        panel.n_days(),
        panel.n_tickers(),
        run.experiment.grid.len(),
        run.experiment.params
    );
    for path in &run.files {
        let bytes = std::fs::metadata(path)?.len();
        println!(
            "  wrote {:<20} {bytes:>8} bytes",
            path.file_name().unwrap_or_default().display()
        );
    }

    let verdict = judge(&files.model, &settings.promotion)?;
    for gate in &verdict.gates {
        println!(
            "  gate {:<19} {:>6.3} {:<2} {:<6.3} {}",
            gate.gate,
            gate.value,
            gate.rule,
            gate.threshold,
            if gate.passed { "pass" } else { "FAIL" }
        );
    }
    let outcome = if verdict.passed() {
        "promotable"
    } else {
        "not promotable"
    };
    println!("candidate sha256 {}: {outcome}", &verdict.sha256[..12]);
    Ok(())
}
