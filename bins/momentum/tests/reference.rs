//! The engine against a second, independent implementation on the real sample.
//!
//! `tests/data/spec_reference.py` is the spec written again as a plain Python day loop
//! (standard library only, no code shared with the engine). For several parameter sets the
//! binary's whole-window metrics must equal the script's to 1e-9 (relative).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The spec's metrics, in the order the Python script prints them (the engine's own order).
const METRICS: [&str; 9] = momentum_engine::Metrics::NAMES;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/sp500_prices.csv.gz")
}

/// Lookback, skip, holding, top_k, cost in bps, and the evaluation window's start and end
/// dates ("" for the panel's first or last day).
type Case = [&'static str; 7];

fn python_metrics(params: Case) -> Vec<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/spec_reference.py");
    let out = Command::new("python3")
        .arg(script)
        .args(&params[..5])
        .arg(sample())
        .args(&params[5..])
        .output()
        .expect("python3 runs (it is on every machine this project builds on)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

fn engine_metrics(params: Case) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample();
    let out = Command::new(env!("CARGO_BIN_EXE_momentum"))
        .current_dir(dir.path())
        .args([
            "backtest",
            "--no-grid",
            "--no-split",
            "--no-track",
            "--prices",
        ])
        .arg(&sample)
        .args([
            "--lookback",
            params[0],
            "--skip",
            params[1],
            "--holding",
            params[2],
        ])
        .args(["--top-k", params[3], "--cost-bps", params[4]])
        .args(
            [("--start", params[5]), ("--end", params[6])]
                .iter()
                .filter(|(_, date)| !date.is_empty())
                .flat_map(|(flag, date)| [*flag, *date]),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("reports/metrics.json")).unwrap())
            .unwrap();
    let full = &metrics["windows"]["full"]["strategy"];
    METRICS
        .iter()
        .map(|name| {
            full[name]
                .as_f64()
                .unwrap_or_else(|| panic!("{name} in {full}"))
        })
        .collect()
}

#[test]
fn the_engine_equals_an_independent_python_implementation_on_the_sample() {
    for params in [
        ["250", "20", "60", "5", "10", "", ""],
        ["20", "0", "1", "3", "0", "", ""],
        ["120", "5", "21", "7", "25", "", ""],
        // An evaluation window: June 2003 (a Sunday: the window opens on Monday the 2nd) to
        // 2009, the scores of its first days from May's prices.
        ["20", "0", "7", "5", "10", "2003-06-01", "2009-12-31"],
        ["250", "20", "60", "5", "10", "2000-01-01", ""],
    ] {
        let expected = python_metrics(params);
        let got = engine_metrics(params);
        assert_eq!(got.len(), expected.len());
        for (name, (g, e)) in METRICS.iter().zip(got.iter().zip(&expected)) {
            assert!(
                (g - e).abs() <= 1e-9 * e.abs().max(1.0),
                "{params:?} {name}: engine {g} vs reference {e}"
            );
        }
    }
}
