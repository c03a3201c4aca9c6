//! `momentum fetch` end to end: the real binary in a temporary directory, on the embedded
//! sample, on bad CSV files, and against a loopback fake of the Financial Datasets API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use momentum_data::{Manifest, digest, read_parquet};

const KEY: &str = "fd-e2e-key-81b2d4";
const PAGE1: &str = include_str!(
    "../../../crates/momentum-data/tests/data/fd-fixtures/prices_paginated_page1.json"
);
const PAGE2: &str = include_str!(
    "../../../crates/momentum-data/tests/data/fd-fixtures/prices_paginated_page2.json"
);

fn momentum(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_momentum"))
        .current_dir(dir)
        .args(args)
        .env_remove("FINANCIAL_DATASETS_API_KEY")
        .env_remove("FINANCIAL_DATASETS_BASE_URL")
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn manifest(path: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn the_default_fetch_writes_the_sample_and_a_stable_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = momentum(dir.path(), &["fetch"]);
    assert!(out.status.success(), "{}", text(&out));
    let parquet = dir.path().join("data/raw/prices.parquet");
    let manifest_file = dir.path().join("data/raw/prices.manifest.json");
    let table = read_parquet(&parquet).unwrap();
    assert_eq!(table.tickers().len(), 20);
    assert_eq!(table.len(), 20 * 8313);
    assert!(table.rows_per_ticker().iter().all(|(_, n)| *n == 8313));

    let m = manifest(&manifest_file);
    assert_eq!(m.source, "sample");
    assert_eq!(m.rows, 166_260);
    assert_eq!(m.rows_per_ticker.len(), 20);
    assert!(m.rows_per_ticker.values().all(|n| *n == 8313));
    assert_eq!(
        (m.start.to_string(), m.end.to_string()),
        ("1990-01-02".into(), "2022-12-28".into())
    );
    assert_eq!(m.digest, digest(&table));
    assert_eq!(m.digest.len(), 64);
    assert_eq!(m.file, "prices.parquet");
    assert!(m.dropped.is_empty() && !m.updated);
    assert_eq!(
        entries(&dir.path().join("data/raw")),
        ["prices.manifest.json", "prices.parquet"]
    );

    // Same data, same manifest, byte for byte (no timestamps in it).
    let first = std::fs::read(&manifest_file).unwrap();
    let again = momentum(dir.path(), &["fetch"]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(std::fs::read(&manifest_file).unwrap(), first);
}

#[test]
fn flags_pick_tickers_window_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "fetch",
        "--tickers",
        "msft,AAPL",
        "--start",
        "2022-01-01",
        "--end",
        "2022-12-31",
        "--out",
        "two.parquet",
    ];
    let out = momentum(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    let table = read_parquet(&dir.path().join("two.parquet")).unwrap();
    assert_eq!(table.tickers(), ["MSFT", "AAPL"]);
    // `zcat sp500_prices.csv.gz | grep -c '^2022-'` = 249 days.
    assert_eq!(
        table.rows_per_ticker(),
        [("MSFT".to_string(), 249), ("AAPL".to_string(), 249)]
    );
    // 2022-01-03: MSFT 330.092, AAPL 180.434; 2022-12-28: MSFT 233.434.
    let rows: Vec<_> = table.rows().collect();
    assert_eq!(
        (rows[0].date.to_string(), rows[0].close),
        ("2022-01-03".into(), 330.092)
    );
    assert_eq!(rows[248].close, 233.434);
    assert_eq!(rows[249].close, 180.434);
    assert!(dir.path().join("two.manifest.json").exists());
}

#[test]
fn params_yaml_sets_defaults_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("params.yaml"),
        "data:\n  tickers:\n    - KO\n  start: \"2022-12-01\"\n  end: \"2022-12-31\"\n  out: ko.parquet\n",
    )
    .unwrap();
    let out = momentum(dir.path(), &["fetch"]);
    assert!(out.status.success(), "{}", text(&out));
    let table = read_parquet(&dir.path().join("ko.parquet")).unwrap();
    assert_eq!(table.tickers(), ["KO"]);
    let out = momentum(
        dir.path(),
        &["fetch", "--tickers", "PG", "--out", "pg.parquet"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        read_parquet(&dir.path().join("pg.parquet"))
            .unwrap()
            .tickers(),
        ["PG"]
    );
}

#[test]
fn a_missing_ticker_fails_and_leaves_the_previous_files_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["fetch", "--start", "2022-01-01", "--out", "p.parquet"];
    assert!(momentum(dir.path(), &base).status.success());
    let parquet = std::fs::read(dir.path().join("p.parquet")).unwrap();
    let manifest_bytes = std::fs::read(dir.path().join("p.manifest.json")).unwrap();

    let out = momentum(
        dir.path(),
        &[&base[..], &["--tickers", "AAPL,NOPE"]].concat(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no prices for NOPE between 2022-01-01 and 2022-12-31"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("p.parquet")).unwrap(),
        parquet
    );
    assert_eq!(
        std::fs::read(dir.path().join("p.manifest.json")).unwrap(),
        manifest_bytes
    );
    assert_eq!(entries(dir.path()), ["p.manifest.json", "p.parquet"]);

    let out = momentum(
        dir.path(),
        &[&base[..], &["--tickers", "AAPL,NOPE", "--allow-missing"]].concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NOPE"),
        "the dropped ticker is listed"
    );
    let m = manifest(&dir.path().join("p.manifest.json"));
    assert_eq!(
        (m.tickers, m.dropped),
        (vec!["AAPL".to_string()], vec!["NOPE".to_string()])
    );

    // A ticker named twice (case aside) is refused before anything is read or written.
    let written = std::fs::read(dir.path().join("p.parquet")).unwrap();
    let out = momentum(
        dir.path(),
        &[&base[..], &["--tickers", "AAPL,msft,aapl"]].concat(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid --tickers AAPL,msft,aapl: ticker AAPL is listed twice"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("p.parquet")).unwrap(),
        written
    );
}

#[test]
fn a_bad_csv_fails_with_its_line_and_leaves_the_previous_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("good.csv"),
        "Date,AAA,BBB\n2024-01-02,1.5,2\n2024-01-03,1.6,2.1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.csv"),
        "Date,AAA,BBB\n2024-01-02,1.5,2\n2024-01-03,1.6,-2.1\n",
    )
    .unwrap();
    let args = |file: &'static str| {
        [
            "fetch",
            "--source",
            "csv",
            "--path",
            file,
            "--start",
            "2024-01-01",
            "--end",
            "2024-12-31",
        ]
    };
    let out = momentum(dir.path(), &args("good.csv"));
    assert!(out.status.success(), "{}", text(&out));
    let parquet = dir.path().join("data/raw/prices.parquet");
    let before = std::fs::read(&parquet).unwrap();
    assert_eq!(read_parquet(&parquet).unwrap().len(), 4);

    let out = momentum(dir.path(), &args("bad.csv"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.csv: BBB on 2024-01-03: close is -2.1, prices must be > 0"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&parquet).unwrap(), before);
    assert_eq!(
        entries(&dir.path().join("data/raw")),
        ["prices.manifest.json", "prices.parquet"]
    );

    let out = momentum(dir.path(), &["fetch", "--source", "csv"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs an input file (--path or data.path)")
    );
}

#[test]
fn implausible_prices_are_named_by_ticker_and_date_and_refused_with_strict_prices() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("odd.csv"),
        "Date,AAA,BBB\n2024-01-02,10,2\n2024-01-03,60,2\n2024-01-04,61,1e308\n",
    )
    .unwrap();
    let fetch = |extra: &[&str]| {
        let mut args = vec![
            "fetch",
            "--source",
            "csv",
            "--path",
            "odd.csv",
            "--start",
            "2024-01-01",
            "--end",
            "2024-12-31",
        ];
        args.extend_from_slice(extra);
        momentum(dir.path(), &args)
    };
    // Kept, with a warning for each: a 6x move, a price above 1e9 (and its jump).
    let out = fetch(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for warning in [
        "odd.csv: implausible price: AAA 2024-01-03: close 60 rose 6.0x from 10 on 2024-01-02 \
         (more than 5x in one day)",
        "odd.csv: implausible price: BBB 2024-01-04: close 1e308 is above 1e9",
    ] {
        assert!(stderr.contains(warning), "{warning} in\n{stderr}");
    }
    assert_eq!(stderr.matches("implausible price:").count(), 3, "{stderr}");
    assert_eq!(
        read_parquet(&dir.path().join("data/raw/prices.parquet"))
            .unwrap()
            .len(),
        6
    );

    // Refused, naming the first, with nothing written.
    let out = fetch(&["--strict-prices", "--out", "strict.parquet"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(
            "odd.csv: implausible price: AAA 2024-01-03: close 60 rose 6.0x from 10 on \
             2024-01-02 (more than 5x in one day) (and 2 more); refused by --strict-prices"
        ),
        "{stderr}"
    );
    assert!(!dir.path().join("strict.parquet").exists());

    // The bounds come from params.yaml, checked before any work.
    std::fs::write(
        dir.path().join("params.yaml"),
        "data:\n  max_daily_jump: 7\n  strict_prices: true\n",
    )
    .unwrap();
    let out = fetch(&["--out", "strict.parquet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("implausible price: BBB 2024-01-04: close 1e308 is above 1e9 (and 1 more)"),
        "{stderr}"
    );
    std::fs::write(
        dir.path().join("params.yaml"),
        "data:\n  max_daily_jump: 0.5\n",
    )
    .unwrap();
    let out = fetch(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "invalid data.max_daily_jump = 0.5 in params.yaml: must be a finite factor above 1"
        ),
        "{stderr}"
    );

    // Every one of these settings has a flag, and a flag turns a setting of the file off too.
    std::fs::write(
        dir.path().join("params.yaml"),
        "data:\n  max_daily_jump: 7\n  strict_prices: true\n",
    )
    .unwrap();
    let out = fetch(&["--strict-prices=false", "--max-price", "1e308"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("implausible price:").count(), 1, "{stderr}");
    assert!(
        stderr.contains("BBB 2024-01-04: close 1e308 rose"),
        "{stderr}"
    );
    let out = fetch(&["--max-daily-jump", "1", "--out", "strict.parquet"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: invalid --max-daily-jump 1: must be a finite factor above 1"
    );
    assert!(!dir.path().join("strict.parquet").exists());
}

/// An update that revises cached days says so, and a revision is held to the plausibility
/// bounds like a new day (it used to pass because only days after the cache were checked).
#[test]
fn an_update_revising_cached_days_is_checked_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let first = ["fetch", "--tickers", "AAPL,MSFT", "--start", "2022-12-01"];
    assert!(momentum(dir.path(), &first).status.success());
    let cache = dir.path().join("data/raw/prices.parquet");
    let before = std::fs::read(&cache).unwrap();
    // The sample closes AAPL at 129.652 and MSFT at 235.852 on 2022-12-27 (and 131.477 and
    // 237.614 on 2022-12-23, the trading day before).
    std::fs::write(
        dir.path().join("revised.csv"),
        "Date,AAPL,MSFT\n2022-12-27,999,2\n2022-12-28,1000,3\n2022-12-29,1001,4\n",
    )
    .unwrap();
    let update = |extra: &[&str]| {
        let args = [
            &[
                "fetch",
                "--update",
                "--source",
                "csv",
                "--path",
                "revised.csv",
            ][..],
            &["--end", "2022-12-31"],
            extra,
        ]
        .concat();
        momentum(dir.path(), &args)
    };
    let out = update(&["--strict-prices"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let last = String::from_utf8_lossy(&out.stderr)
        .trim_end()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    assert!(
        last.starts_with(
            "error: revised.csv: implausible price: AAPL 2022-12-27: close 999 rose 7.6x from \
             131.477 on 2022-12-23 (more than 5x in one day) (and 1 more)"
        ),
        "{last}"
    );
    assert_eq!(
        std::fs::read(&cache).unwrap(),
        before,
        "the cache is left as it was"
    );

    let out = update(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "update: revised.csv revises 4 cached close(s), the cache takes the new ones \
             (first: AAPL 2022-12-27: 129.652 -> 999)"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.matches("implausible price:").count(), 2, "{stderr}");
    // The same file again revises nothing and reports nothing.
    let out = update(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("revises") && !stderr.contains("implausible"),
        "{stderr}"
    );
}

#[test]
fn update_on_a_local_source_reloads_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let first = [
        "fetch",
        "--tickers",
        "AAPL",
        "--start",
        "2022-12-01",
        "--end",
        "2022-12-15",
    ];
    assert!(momentum(dir.path(), &first).status.success());
    let out = momentum(
        dir.path(),
        &[
            "fetch",
            "--tickers",
            "AAPL,KO",
            "--start",
            "2022-12-01",
            "--update",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let m = manifest(&dir.path().join("data/raw/prices.manifest.json"));
    assert!(m.updated);
    assert_eq!(m.tickers, ["AAPL", "KO"]);
    // `zcat sp500_prices.csv.gz | grep -c '^2022-12-'` = 19 trading days up to the 28th.
    assert_eq!(
        m.rows_per_ticker.values().copied().collect::<Vec<_>>(),
        [19, 19]
    );

    // Without tickers, the update keeps the cached universe instead of the whole sample, and
    // says what it left out.
    let out = momentum(dir.path(), &["fetch", "--start", "2022-12-01", "--update"]);
    assert!(out.status.success(), "{}", text(&out));
    let m = manifest(&dir.path().join("data/raw/prices.manifest.json"));
    assert_eq!(m.tickers, ["AAPL", "KO"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("has 18 ticker(s) the cache has not, left out (--tickers adds them)"),
        "{stderr}"
    );

    // Tickers named in an update are added to the cached ones, never instead of them.
    let out = momentum(
        dir.path(),
        &[
            "fetch",
            "--tickers",
            "MSFT",
            "--start",
            "2022-12-01",
            "--update",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let m = manifest(&dir.path().join("data/raw/prices.manifest.json"));
    assert_eq!(m.tickers, ["AAPL", "KO", "MSFT"]);
    assert_eq!(
        m.rows_per_ticker.values().copied().collect::<Vec<_>>(),
        [19, 19, 19]
    );
}

/// Rows that params.yaml's default window (data.end 2022-12-31) leaves out of a longer file
/// are named in a warning, rows a flag leaves out are not, and `--update` keeps every cached
/// row even when the cache runs past data.end (as a cache fetched with `--end today` does).
#[test]
fn the_default_window_warns_what_it_leaves_out_and_an_update_never_shrinks_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("long.csv"),
        "Date,AAA\n2022-12-29,1.0\n2022-12-30,1.1\n2023-01-03,1.2\n2024-06-03,1.3\n",
    )
    .unwrap();
    let csv = ["fetch", "--source", "csv", "--path", "long.csv"];
    let rows = |dir: &Path| {
        read_parquet(&dir.join("data/raw/prices.parquet"))
            .unwrap()
            .len()
    };

    let out = momentum(dir.path(), &csv);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(rows(dir.path()), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "long.csv: 2 rows after 2022-12-31 left out by data.end (--end to keep them)"
        ),
        "{stderr}"
    );

    let out = momentum(dir.path(), &[&csv[..], &["--end", "2023-12-31"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(rows(dir.path()), 3);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("left out"),
        "{}",
        text(&out)
    );

    let out = momentum(dir.path(), &[&csv[..], &["--end", "2024-12-31"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(rows(dir.path()), 4);
    // The update reads data.end (2022-12-31) but keeps the cached rows after it.
    let out = momentum(dir.path(), &[&csv[..], &["--update"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(rows(dir.path()), 4);
    let m = manifest(&dir.path().join("data/raw/prices.manifest.json"));
    assert_eq!(m.end.to_string(), "2024-06-03");
}

#[test]
fn help_documents_flags_examples_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = momentum(dir.path(), &["fetch", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--source",
        "--path",
        "--tickers",
        "--start",
        "--end",
        "--out",
        "--update",
        "--allow-missing",
        "--requests-per-minute",
        "--concurrency",
        "FINANCIAL_DATASETS_API_KEY",
        "FINANCIAL_DATASETS_BASE_URL",
        "Examples:",
    ] {
        assert!(help.contains(needle), "missing {needle} in:\n{help}");
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 that records each request line (with its X-API-KEY)
/// and answers through `respond(path_and_query) -> (status, body)`.
struct FakeApi {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl FakeApi {
    fn start(respond: fn(&str, &str) -> (u16, String)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, own_base) = (seen.clone(), base.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut key = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("x-api-key")
                    {
                        key = value.trim().to_string();
                    }
                }
                let target = request_line.split(' ').nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(format!("{target} key={key}"));
                let (status, body) = respond(&target, &own_base);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes());
                let _ = stream.flush();
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest);
            }
        });
        Self { base, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn msft(target: &str, base: &str) -> (u16, String) {
    if target.starts_with("/prices?cursor=") {
        (200, PAGE2.to_string())
    } else if target.contains("start_date=2025-03-03") {
        (200, PAGE1.replace("https://api.financialdatasets.ai", base))
    } else {
        (
            404,
            r#"{"error":"Not Found","message":"no data"}"#.to_string(),
        )
    }
}

/// `momentum fetch --source financialdatasets --tickers MSFT ARGS` against the API at `base`,
/// with the key set and every log line shown.
fn api(dir: &Path, base: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_momentum"))
        .current_dir(dir)
        .arg("fetch")
        .args([
            "--source",
            "financialdatasets",
            "--tickers",
            "MSFT",
            "--requests-per-minute",
            "6000",
        ])
        .args(args)
        .env("FINANCIAL_DATASETS_API_KEY", KEY)
        .env("FINANCIAL_DATASETS_BASE_URL", base)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap()
}

#[test]
fn the_api_source_fetches_pages_then_updates_only_new_days() {
    let fake = FakeApi::start(msft);
    let dir = tempfile::tempdir().unwrap();
    let out = api(
        dir.path(),
        &fake.base,
        &["--start", "2025-03-03", "--end", "2025-03-14"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains(KEY),
        "the key never reaches the output, even at trace level"
    );
    let parquet: PathBuf = dir.path().join("data/raw/prices.parquet");
    let table = read_parquet(&parquet).unwrap();
    assert_eq!(table.len(), 10, "6 bars on page 1 + 4 on page 2");
    assert_eq!(table.rows().nth(9).unwrap().close, 388.56);
    let m = manifest(&dir.path().join("data/raw/prices.manifest.json"));
    assert_eq!(
        (m.source.as_str(), m.input.as_str()),
        ("financialdatasets", fake.base.as_str())
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].starts_with("/prices/?ticker=MSFT&interval=day&interval_multiplier=1&start_date=2025-03-03&end_date=2025-03-14"));
    assert!(seen.iter().all(|s| s.ends_with(&format!("key={KEY}"))));

    // The cache ends on 2025-03-14, so the update asks for 2025-03-15 onwards only; the 404
    // (no new bars) keeps the cache as it is.
    let out = api(
        dir.path(),
        &fake.base,
        &["--start", "2025-03-03", "--end", "2025-03-21", "--update"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let seen = fake.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen[2].contains("start_date=2025-03-15&end_date=2025-03-21"),
        "{}",
        seen[2]
    );
    assert_eq!(read_parquet(&parquet).unwrap(), table);
    assert!(manifest(&dir.path().join("data/raw/prices.manifest.json")).updated);

    // An update that adds a ticker (`api` passes MSFT, this call NVDA too) asks for it over the
    // cache's days even when --end is earlier (the window grows to the cache), and asks nothing
    // more for the cached ticker.
    let out = api(
        dir.path(),
        &fake.base,
        &[
            "--tickers",
            "NVDA",
            "--start",
            "2025-03-05",
            "--end",
            "2025-03-10",
            "--update",
            "--allow-missing",
        ],
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 4, "{}", text(&out));
    assert!(
        seen[3].contains("ticker=NVDA")
            && seen[3].contains("start_date=2025-03-03&end_date=2025-03-14"),
        "{}",
        seen[3]
    );
}

#[test]
fn the_api_source_needs_a_key_and_reports_api_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = momentum(
        dir.path(),
        &[
            "fetch",
            "--source",
            "financialdatasets",
            "--tickers",
            "MSFT",
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("FINANCIAL_DATASETS_API_KEY"),
        "{}",
        text(&out)
    );

    fn unknown(_: &str, _: &str) -> (u16, String) {
        (
            400,
            r#"{"error":"Invalid TICKER","message":"Please provide a valid TICKER."}"#.into(),
        )
    }
    let fake = FakeApi::start(unknown);
    let out = api(
        dir.path(),
        &fake.base,
        &["--start", "2025-03-03", "--end", "2025-03-14"],
    );
    assert!(!out.status.success());
    let shown = text(&out);
    assert!(
        shown.contains("MSFT: HTTP 400: Invalid TICKER: Please provide a valid TICKER."),
        "{shown}"
    );
    assert!(!shown.contains(KEY));
    assert!(!dir.path().join("data").exists(), "nothing written");
}

/// A setting the data crate refuses is named by the flag that set it, or by its `data.` key
/// and the params file, before any request: these used to read `invalid setting
/// `concurrency``.
#[test]
fn a_refused_fetch_setting_is_named_by_its_flag_or_key() {
    let fake = FakeApi::start(msft);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        "data:\n  requests_per_minute: 0\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("csv.yaml"), "data:\n  out: raw/prices\n").unwrap();
    let api = [
        "fetch",
        "--source",
        "financialdatasets",
        "--tickers",
        "MSFT",
    ];
    for (args, expected) in [
        (
            &[&api[..], &["--concurrency", "0"]].concat(),
            "error: invalid --concurrency 0: must be > 0",
        ),
        (
            &[&["--params", "p.yaml"][..], &api].concat(),
            "error: invalid data.requests_per_minute = 0 in p.yaml: must be > 0",
        ),
        (
            &["fetch", "--source", "csv"][..].to_vec(),
            "error: invalid data.path in params.yaml: the csv source needs an input file \
             (--path or data.path)",
        ),
        // A Parquet cache under another name would be read back as CSV by `features`.
        (
            &["fetch", "--out", "prices.csv"][..].to_vec(),
            "error: invalid --out prices.csv: the price cache is written as Parquet, so its \
             name must end in .parquet (a price file of any other name is read as CSV)",
        ),
        (
            &["fetch", "--params", "csv.yaml"][..].to_vec(),
            "error: invalid data.out = raw/prices in csv.yaml: the price cache is written as \
             Parquet, so its name must end in .parquet (a price file of any other name is read \
             as CSV)",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_momentum"))
            .current_dir(dir.path())
            .args(args)
            .env("FINANCIAL_DATASETS_API_KEY", KEY)
            .env("FINANCIAL_DATASETS_BASE_URL", &fake.base)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end(), expected);
    }
    assert!(fake.seen().is_empty(), "no request");
    assert_eq!(
        entries(dir.path()),
        ["csv.yaml", "p.yaml"],
        "nothing written"
    );
}

/// An API (or a proxy in front of it) that echoes the request headers in its error pages gets
/// no key printed, at any log level; the status and the rest of the page are, on one line.
#[test]
fn an_api_key_echoed_by_the_server_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let request = "rejected, you sent: GET /prices/?ticker=MSFT&interval=day";
    for (status, error) in [
        (401, format!("MSFT: HTTP 401: {request}")),
        (
            500,
            format!("MSFT: gave up after 5 attempts, last error: HTTP 500: {request}"),
        ),
    ] {
        let base = common::echo_server(status);
        let out = api(
            dir.path(),
            &base,
            &["--start", "2025-03-03", "--end", "2025-03-14"],
        );
        let shown = text(&out);
        assert_eq!(out.status.code(), Some(1), "{shown}");
        assert!(!shown.contains(KEY), "{shown}");
        // The page held the request line and each header on a line of its own.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.trim_end().lines().last().unwrap_or_default();
        assert!(
            last.contains(&error)
                && last.contains("x-api-key: <redacted> ")
                && last.contains(&format!("host: {}", &base["http://".len()..])),
            "{shown}"
        );
    }
    assert!(!dir.path().join("data").exists(), "nothing written");
}

/// pyarrow is in the project's Python venv (MLflow pulls it in; `scripts/python-env.sh` makes it).
#[test]
fn pyarrow_reads_the_output_as_the_long_layout() {
    let venv = std::env::var_os("MOMENTUM_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let python = venv.join("bin/python");
    let has_pyarrow = Command::new(&python)
        .args(["-c", "import pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_pyarrow,
        "no pyarrow in {}: run scripts/python-env.sh (or set MOMENTUM_VENV)",
        venv.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let out = momentum(
        dir.path(),
        &["fetch", "--tickers", "KO,AAPL", "--start", "2022-01-01"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let script = "import pyarrow.parquet as pq, sys
t = pq.read_table(sys.argv[1])
print(t.schema.to_string(show_schema_metadata=False))
print(t.num_rows, t.column('ticker')[0], t.column('ticker')[t.num_rows - 1], t.column('date')[0])";
    let py = Command::new(&python)
        .args(["-c", script, "data/raw/prices.parquet"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(py.status.success(), "{}", text(&py));
    let shown = String::from_utf8_lossy(&py.stdout);
    // And the other way: a file pyarrow writes (large strings, int64 volume, no open/high/low)
    // is a valid `parquet` source.
    let script = "import pyarrow as pa, pyarrow.parquet as pq, datetime as dt
d = [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 2)]
t = pa.table({'date': pa.array(d, pa.date32()), 'ticker': pa.array(['ZZ', 'ZZ', 'AA'], pa.large_string()),
              'close': [10.5, 11.0, 3.25], 'volume': pa.array([100, 200, 300], pa.int64())})
pq.write_table(t, 'py.parquet')";
    let py_write = Command::new(&python)
        .args(["-c", script])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(py_write.status.success(), "{}", text(&py_write));
    let args = [
        "fetch",
        "--source",
        "parquet",
        "--path",
        "py.parquet",
        "--start",
        "2024-01-01",
        "--end",
        "2024-12-31",
        "--out",
        "back.parquet",
    ];
    let out = momentum(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    let back = read_parquet(&dir.path().join("back.parquet")).unwrap();
    assert_eq!(
        back.tickers(),
        ["ZZ", "AA"],
        "first-appearance order without our metadata"
    );
    let summary: Vec<(String, String, f64, Option<f64>)> = back
        .rows()
        .map(|r| (r.ticker, r.date.to_string(), r.close, r.volume))
        .collect();
    assert_eq!(
        summary,
        [
            ("ZZ".into(), "2024-01-02".into(), 10.5, Some(100.0)),
            ("ZZ".into(), "2024-01-03".into(), 11.0, Some(200.0)),
            ("AA".into(), "2024-01-02".into(), 3.25, Some(300.0)),
        ]
    );
    for line in [
        "ticker: string not null",
        "date: date32[day] not null",
        "open: double",
        "close: double not null",
        "volume: double",
        "498 KO AAPL 2022-01-03",
    ] {
        assert!(shown.contains(line), "{line} not in {shown}");
    }
}

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

/// A price API whose answer never ends: the body is cut at the client's limit, the fetch fails
/// with one line naming the ticker, the URL and the limit, and nothing is written.
#[test]
fn an_endless_api_body_is_cut_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let base = common::endless_server();
    let out = Command::new(env!("CARGO_BIN_EXE_momentum"))
        .current_dir(dir.path())
        .args([
            "fetch",
            "--source",
            "financialdatasets",
            "--tickers",
            "MSFT",
        ])
        .args(["--start", "2025-03-03", "--end", "2025-03-14"])
        .env("FINANCIAL_DATASETS_API_KEY", KEY)
        .env("FINANCIAL_DATASETS_BASE_URL", &base)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("MSFT: ")
            && stderr.contains(&base)
            && stderr.contains("larger than the limit of 64 MiB"),
        "{stderr}"
    );
    assert!(!stderr.contains(KEY));
    assert!(!dir.path().join("data").exists(), "nothing written");
}
