//! Writes a synthetic index-sized universe as a wide CSV (`momentum_benches::synthetic`).
//!
//! `cargo run --profile bench -p momentum-benches --example synthetic_universe -- OUT [TICKERS DAYS SEED]`
//! writes `OUT` (default shape: 500 tickers x 6,300 trading days, the S&P 500 scale).

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use momentum_benches::synthetic::Universe;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        eprintln!("usage: synthetic_universe OUT [TICKERS DAYS SEED]");
        return ExitCode::from(2);
    };
    let mut universe = Universe::sp500();
    let numbers: Result<Vec<u64>, _> = args[1..].iter().map(|a| a.parse::<u64>()).collect();
    let Ok(numbers) = numbers else {
        eprintln!("synthetic_universe: TICKERS, DAYS and SEED are whole numbers");
        return ExitCode::from(2);
    };
    let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    if let [tickers, rest @ ..] = numbers.as_slice() {
        universe.tickers = count(*tickers);
        if let [days, rest @ ..] = rest {
            universe.days = count(*days);
            if let [seed, ..] = rest {
                universe.seed = *seed;
            }
        }
    }
    if universe.tickers == 0 || universe.days < 2 {
        eprintln!("synthetic_universe: TICKERS must be at least 1 and DAYS at least 2");
        return ExitCode::from(2);
    }
    let written = std::fs::File::create(out).and_then(|file| {
        let mut csv = BufWriter::new(file);
        universe.write_wide_csv(&mut csv)?;
        csv.flush()
    });
    if let Err(err) = written {
        eprintln!("synthetic_universe: cannot write {out}: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
