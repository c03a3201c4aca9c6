//! `momentum backtest --search tpe` end to end: the same files for a seed on any thread count,
//! the search's history written and tracked, and bad ranges or budgets refused in one line
//! naming the flag or the key.

// Each test binary uses part of what the tests share.
#[allow(dead_code)]
mod common;

use std::path::{Path, PathBuf};

use common::{fails, momentum, ok};
use serde_json::Value;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/sp500_prices.csv.gz")
}

/// A 40-trial search on the sample in `dir` on `threads` threads, the split alone.
fn search(dir: &Path, threads: &str, extra: &[&str]) -> String {
    let prices = sample();
    let args = [
        &[
            "backtest",
            "--prices",
            prices.to_str().unwrap(),
            "--search",
            "tpe",
            "--trials",
            "40",
            "--seed",
            "5",
            "--search-batch",
            "8",
            "--validation",
            "split",
            "--threads",
            threads,
        ][..],
        extra,
    ]
    .concat();
    ok(momentum(dir, None, &args))
}

#[test]
fn a_seed_writes_the_same_files_on_any_thread_count() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    search(one.path(), "1", &["--reproducible", "--no-track"]);
    search(two.path(), "2", &["--reproducible", "--no-track"]);
    for file in [
        "reports/metrics.json",
        "reports/grid.csv",
        "reports/search.csv",
        "reports/trades.csv",
        "models/candidate.json",
    ] {
        let read = |dir: &Path| std::fs::read(dir.join(file)).unwrap();
        assert!(read(one.path()) == read(two.path()), "{file} differs");
    }

    // The history: 40 trials in order, batches of 8, the running best of the objective, no
    // wall-clock seconds in a reproducible file.
    let history = std::fs::read_to_string(one.path().join("reports/search.csv")).unwrap();
    let mut lines = history.lines();
    assert_eq!(
        lines.next(),
        Some("trial,batch,lookback,skip,holding,top_k,train_sharpe,best_so_far,seconds")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 40);
    let (mut best, mut best_trial) = (f64::NEG_INFINITY, 0);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], i.to_string());
        assert_eq!(row[1], (i / 8).to_string());
        let (lookback, skip): (usize, usize) = (row[2].parse().unwrap(), row[3].parse().unwrap());
        assert!(skip < lookback && (2..=500).contains(&lookback) && skip <= 60);
        let value: f64 = row[6].parse().unwrap();
        if value > best {
            (best, best_trial) = (value, i);
        }
        assert_eq!(row[7].parse::<f64>().unwrap(), best);
        assert_eq!(row[8], "");
    }
    let metrics: Value =
        serde_json::from_slice(&std::fs::read(one.path().join("reports/metrics.json")).unwrap())
            .unwrap();
    let recorded = &metrics["search"];
    assert_eq!(recorded["method"], "tpe");
    assert_eq!(recorded["seed"], 5);
    assert_eq!(recorded["trials"], 40);
    assert_eq!(recorded["best_trial"], best_trial);
    assert_eq!(metrics["selection"]["trials"], 40);
    let winner = &rows[best_trial];
    assert_eq!(
        metrics["params"]["lookback"],
        winner[2].parse::<u64>().unwrap()
    );
    assert_eq!(
        metrics["params"]["holding"],
        winner[4].parse::<u64>().unwrap()
    );
}

#[test]
fn a_tracked_search_records_its_history_and_seed() {
    let dir = tempfile::tempdir().unwrap();
    search(dir.path(), "2", &[]);
    let history = std::fs::read_to_string(dir.path().join("reports/search.csv")).unwrap();
    // Without --reproducible every trial has its seconds, non-decreasing.
    let seconds: Vec<f64> = history
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seconds.len(), 40);
    assert!(seconds.windows(2).all(|w| w[0] <= w[1]), "{seconds:?}");
    // The run holds search.csv and the search's parameters.
    let runs = dir.path().join("mlruns/runs");
    let parent = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|run| run.join("artifacts/search.csv").exists())
        .expect("a run with search.csv");
    assert_eq!(
        std::fs::read(parent.join("artifacts/search.csv")).unwrap(),
        history.as_bytes()
    );
    let params = std::fs::read_to_string(parent.join("params.json")).unwrap();
    for (key, value) in [
        ("search_method", "tpe"),
        ("search_seed", "5"),
        ("search_batch", "8"),
        ("trials", "40"),
    ] {
        assert!(
            params.contains(&format!("\"{key}\": \"{value}\""))
                || params.contains(&format!("\"{key}\":\"{value}\"")),
            "{key} in {params}"
        );
    }
}

#[test]
fn bad_ranges_and_budgets_are_one_line_naming_the_flag_or_key() {
    let dir = tempfile::tempdir().unwrap();
    let prices = sample();
    let prices = prices.to_str().unwrap();
    let run = |args: &[&str]| {
        let args = [&["backtest", "--prices", prices, "--no-track"][..], args].concat();
        momentum(dir.path(), None, &args)
    };
    fails(
        run(&["--search", "tpe", "--trials", "0"]),
        "invalid --trials 0: must be at least 1",
    );
    fails(
        run(&["--search", "tpe", "--search-lookback", "50:5"]),
        "invalid --search-lookback 50:5:1: is empty: min is above max",
    );
    fails(
        run(&["--search", "tpe", "--search-holding", "1:10:4"]),
        "invalid --search-holding 1:10:4: step does not divide max - min",
    );
    fails(
        run(&[
            "--search",
            "tpe",
            "--search-lookback",
            "5:50",
            "--search-skip",
            "100:120",
        ]),
        "invalid --search-skip 100:120:1: every skip of the range is at least every lookback",
    );
    fails(
        run(&[
            "--search",
            "tpe",
            "--search-lookback",
            "5:10",
            "--search-skip",
            "0:0",
            "--search-holding",
            "1:2",
            "--search-top-k",
            "1:3",
            "--trials",
            "37",
        ]),
        "invalid --trials 37: is more than the ranges' valid combinations",
    );
    let tpe_shard = [
        "backtest",
        "--prices",
        prices,
        "--search",
        "tpe",
        "--shard",
        "0/2",
        "--shard-out",
        "shards",
    ];
    fails(
        momentum(dir.path(), None, &tpe_shard),
        "invalid --search tpe: proposes each batch from the results before it",
    );
    // A flag of the other method, or of what --no-grid / --no-split replace, is refused, not
    // ignored.
    fails(
        run(&["--search", "grid", "--trials", "5"]),
        "--trials does not apply to a grid search (backtest.search.method, --search): add \
         --search tpe or leave --trials out",
    );
    fails(
        run(&["--search", "tpe", "--validation", "cpcv"]),
        "a CPCV does not run with a TPE search",
    );
    fails(
        run(&["--search", "tpe", "--grid-lookback", "20,60"]),
        "--grid-lookback does not apply to a tpe search (backtest.search.method, --search): add \
         --search grid or leave --grid-lookback out",
    );
    for (args, flag) in [
        (
            &[
                "--no-grid",
                "--lookback",
                "60",
                "--holding",
                "20",
                "--top-k",
                "3",
                "--grid-lookback",
                "20",
            ][..],
            "'--grid-lookback <LIST>...'",
        ),
        (
            &["--no-split", "--train-fraction", "0.5"][..],
            "'--train-fraction <F>'",
        ),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("cannot be used with") && stderr.contains(flag),
            "{stderr}"
        );
    }
    // A shard writes its shard file only: the outputs of the merge are refused with it.
    for (flags, flag) in [
        (&["--reports", "r2"][..], "'--reports <DIR>'"),
        (&["--no-track"][..], "'--no-track'"),
        (&["--model", "m.json"][..], "'--model <PATH>'"),
    ] {
        let shard = [
            "backtest",
            "--prices",
            prices,
            "--shard",
            "0/2",
            "--shard-out",
            "s",
        ];
        let out = momentum(dir.path(), None, &[&shard[..], flags].concat());
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("cannot be used with") && stderr.contains(flag),
            "{stderr}"
        );
    }
    // A thread count no machine has, refused before anything starts; an output given twice.
    fails(
        run(&["--threads", "100000"]),
        "invalid --threads 100000: must be from 1 to 1024",
    );
    fails(
        run(&["--model", "reports/metrics.json"]),
        "two of the files written together are this one",
    );
    // Parsed by the command line: the flag is named.
    let out = run(&["--search-lookback", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--search-lookback"));
    // From params.yaml: the key and the file.
    std::fs::write(
        dir.path().join("params.yaml"),
        "backtest:\n  search:\n    method: tpe\n    top_k:\n      min: 0\n      max: 5\n",
    )
    .unwrap();
    fails(
        run(&[]),
        "invalid backtest.search.top_k = 0:5:1 in params.yaml: must start at 1 or more",
    );
    std::fs::write(
        dir.path().join("params.yaml"),
        "backtest:\n  search:\n    trails: 10\n",
    )
    .unwrap();
    let out = run(&[]);
    // The parser's message once, not again as the error's cause.
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.matches("unknown field").count(), 1, "{stderr}");
    fails(out, "backtest.search.trails: unknown field `trails`");
    assert!(!dir.path().join("reports").exists());
}
