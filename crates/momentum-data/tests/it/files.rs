//! CSV -> Parquet -> read back, the digest, the sample, and every bad-file error leaving no
//! output behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use momentum_data::{
    DataError, Manifest, PriceRow, PriceTable, digest, load_sample, manifest_path, read_csv,
    read_manifest, read_parquet, write_manifest, write_parquet,
};

fn d(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The conversion `momentum fetch --source csv` does: read and validate, then write.
fn convert(csv: &Path, out: &Path) -> Result<PriceTable, DataError> {
    let table = read_csv(csv)?;
    write_parquet(out, &table)?;
    Ok(table)
}

const LONG: &str = "\
date,ticker,open,high,low,close,volume
2024-01-03,MSFT,370.5,373.0,369.1,370.6,25000000
2024-01-02,MSFT,373.9,375.9,366.8,370.87,25258600
2024-01-02,AAPL,187.15,188.44,183.89,185.64,82488700
2024-01-03,AAPL,184.22,185.88,183.43,184.25,58414500
";

#[test]
fn long_csv_round_trips_through_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "long.csv", LONG);
    let out = dir.path().join("prices.parquet");
    let table = convert(&csv, &out).unwrap();
    assert_eq!(table.tickers(), ["MSFT", "AAPL"]);
    let back = read_parquet(&out).unwrap();
    assert_eq!(back, table);
    assert_eq!(digest(&back), digest(&table));
    // Sorted by ticker (universe order) then date, whatever the file's row order.
    let rows: Vec<PriceRow> = back.rows().collect();
    assert_eq!(
        rows[0],
        PriceRow {
            ticker: "MSFT".into(),
            date: d("2024-01-02"),
            open: Some(373.9),
            high: Some(375.9),
            low: Some(366.8),
            close: 370.87,
            volume: Some(25_258_600.0),
        }
    );
    assert_eq!(rows[3].close, 184.25);
}

#[test]
fn gzipped_wide_csv_round_trips_and_an_empty_column_survives() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.csv.gz");
    let file = std::fs::File::create(&path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    gz.write_all(b"Date,AAA,BBB,CCC\n2024-01-02,1.5,2,\n2024-01-03,,2.5,\n")
        .unwrap();
    gz.finish().unwrap();
    let out = dir.path().join("wide.parquet");
    let table = convert(&path, &out).unwrap();
    assert_eq!(table.tickers(), ["AAA", "BBB", "CCC"]);
    assert_eq!(table.len(), 3);
    let back = read_parquet(&out).unwrap();
    assert_eq!(
        back, table,
        "the ticker order and the empty CCC column come back via metadata"
    );
}

#[test]
fn the_digest_is_stable_and_changes_with_one_price() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "long.csv", LONG);
    let first = read_csv(&csv).unwrap();
    let again = read_csv(&csv).unwrap();
    assert_eq!(digest(&first), digest(&again));
    // Same data through Parquet (different bytes entirely) keeps the digest.
    let out = dir.path().join("p.parquet");
    write_parquet(&out, &first).unwrap();
    assert_eq!(digest(&read_parquet(&out).unwrap()), digest(&first));
    let changed = write(dir.path(), "changed.csv", &LONG.replace("184.25", "184.26"));
    assert_ne!(digest(&read_csv(&changed).unwrap()), digest(&first));
}

#[test]
fn the_sample_is_20_tickers_by_8313_days_and_round_trips() {
    let sample = load_sample().unwrap();
    let expected = [
        "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT",
        "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
    ];
    assert_eq!(sample.tickers(), expected);
    assert_eq!(sample.len(), 20 * 8313);
    assert!(sample.rows_per_ticker().iter().all(|(_, n)| *n == 8313));
    // `zcat sp500_prices.csv.gz | head -2` and `| tail -1`.
    let first = sample.rows().next().unwrap();
    assert_eq!(
        (first.ticker.as_str(), first.date, first.close),
        ("AAPL", d("1990-01-02"), 0.264)
    );
    let last = sample.rows().last().unwrap();
    assert_eq!(
        (last.ticker.as_str(), last.date, last.close),
        ("XOM", d("2022-12-28"), 106.627)
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample.parquet");
    write_parquet(&out, &sample).unwrap();
    let back = read_parquet(&out).unwrap();
    assert_eq!(digest(&back), digest(&sample));
    assert_eq!(back, sample);
}

#[test]
fn the_manifest_round_trips_and_sits_beside_the_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "long.csv", LONG);
    let table = read_csv(&csv).unwrap();
    let out = dir.path().join("prices.parquet");
    let manifest = Manifest::describe(
        "csv",
        "long.csv",
        &out,
        &table,
        &[],
        (d("2024-01-01"), d("2024-12-31")),
        false,
    );
    assert_eq!(manifest.rows, 4);
    assert_eq!(
        (manifest.start, manifest.end),
        (d("2024-01-02"), d("2024-01-03"))
    );
    assert_eq!(manifest.rows_per_ticker.get("AAPL"), Some(&2));
    assert_eq!(manifest.file, "prices.parquet");
    let path = manifest_path(&out);
    write_manifest(&path, &manifest).unwrap();
    assert_eq!(read_manifest(&path).unwrap(), manifest);
    assert_eq!(path, dir.path().join("prices.manifest.json"));
}

#[test]
fn each_bad_file_gives_its_error_and_no_output() {
    let cases: [(&str, &str, &str); 9] = [
        (
            "no-date.csv",
            "day,AAA\n2024-01-02,1\n",
            "missing column `date`",
        ),
        (
            "no-close.csv",
            "date,ticker,open\n2024-01-02,AAA,1\n",
            "missing column `close`",
        ),
        (
            "bad-number.csv",
            "Date,AAA\n2024-01-02,1\n2024-01-03,1,5\n",
            "line 3, column `AAA`: cannot parse \"1,5\"",
        ),
        (
            "bad-date.csv",
            "Date,AAA\n02/01/2024,1\n",
            "line 2: cannot parse \"02/01/2024\" as a YYYY-MM-DD date",
        ),
        (
            "dup.csv",
            "Date,AAA\n2024-01-02,1\n2024-01-02,2\n",
            "date 2024-01-02 is on two lines (2 and 3)",
        ),
        (
            "zero.csv",
            "Date,AAA\n2024-01-02,1\n2024-01-03,0\n",
            "AAA on 2024-01-03: close is 0, prices must be > 0",
        ),
        (
            "negative.csv",
            "date,ticker,close,low\n2024-01-02,AAA,1,-2\n",
            "AAA on 2024-01-02: low is -2, prices must be > 0",
        ),
        (
            "nan.csv",
            "Date,AAA\n2024-01-02,NaN\n",
            "AAA on 2024-01-02: close is NaN",
        ),
        ("empty.csv", "Date,AAA\n2024-01-02,\n", "empty universe"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, text, expected) in cases {
        // The bad quoted-comma cell needs quoting to stay one cell.
        let text = text.replace("1,5\n", "\"1,5\"\n");
        let csv = write(dir.path(), name, &text);
        let out = dir.path().join(format!("{name}.parquet"));
        let err = convert(&csv, &out).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with(&csv.display().to_string()),
            "{name}: names the file: {shown}"
        );
        assert!(shown.contains(expected), "{name}: {shown}");
        assert!(!out.exists(), "{name}: no output");
    }
    let only_temp_debris: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(only_temp_debris.is_empty(), "{only_temp_debris:?}");
}

#[test]
fn an_invalid_table_never_replaces_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "long.csv", LONG);
    let out = dir.path().join("prices.parquet");
    convert(&csv, &out).unwrap();
    let before = std::fs::read(&out).unwrap();
    let table = read_csv(&csv).unwrap();
    let mut rows: Vec<PriceRow> = table.rows().collect();
    rows[1].close = f64::NAN;
    let bad = PriceTable::from_rows(table.tickers().to_vec(), rows);
    assert!(matches!(
        write_parquet(&out, &bad),
        Err(DataError::InvalidValue { field: "close", .. })
    ));
    let bad = PriceTable::from_rows(table.tickers().to_vec(), []);
    assert!(matches!(
        write_parquet(&out, &bad),
        Err(DataError::EmptyUniverse { .. })
    ));
    assert_eq!(std::fs::read(&out).unwrap(), before);
}

#[test]
fn a_parquet_without_the_long_layout_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let not_parquet = write(dir.path(), "x.parquet", "not parquet at all");
    assert!(matches!(
        read_parquet(&not_parquet),
        Err(DataError::Parquet { .. })
    ));
    let missing = dir.path().join("missing.parquet");
    assert!(matches!(read_parquet(&missing), Err(DataError::Io { .. })));
}

/// A gzip bomb (64 KiB on disk, 64 MiB of valid rows inside) and a line without end are
/// refused at their limit, naming the file and the limit, without inflating the rest.
#[test]
fn a_gzip_bomb_and_an_endless_line_stop_at_their_limits() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&bomb).unwrap(),
        flate2::Compression::best(),
    );
    gz.write_all(b"date,A\n").unwrap();
    let row = b"2024-01-02,1\n".repeat(1 << 16);
    for _ in 0..80 {
        gz.write_all(&row).unwrap();
    }
    gz.finish().unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 256 << 10);
    let limits = momentum_data::InputLimits {
        max_bytes: 4 << 20,
        max_line: 1 << 10,
    };
    let err = momentum_data::read_csv_with_limits(&bomb, &limits)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "{}: more than 4194304 bytes of text (InputLimits::max_bytes)",
            bomb.display()
        )
    );
    let long = write(
        dir.path(),
        "long.csv",
        &format!("date,A\n2024-01-02,{}\n", "1".repeat(4096)),
    );
    let err = momentum_data::read_csv_with_limits(&long, &limits)
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("long.csv: line 2 is longer than 1024 bytes (InputLimits::max_line)"),
        "{err}"
    );
}
