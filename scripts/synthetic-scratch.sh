# Sourced by the index-scale measurement scripts (memory-benchmark.sh, scale-benchmark.sh) from
# the repository root: builds the synthetic universe generator (benches/src/synthetic.rs) and
# defines `synthetic_universe TICKERS DAYS`, which writes prices.csv (a wide CSV: 20 % of the
# tickers listed late, 10 % delisted, 0.2 % of days missing) and a params.yaml whose `data`
# block reads it, in the current directory, followed by whatever the caller appends.
cargo build --profile bench --locked -q -p momentum-benches --example synthetic_universe
generator=$(realpath "${CARGO_TARGET_DIR:-target}/release/examples/synthetic_universe")

synthetic_universe() {
  "$generator" prices.csv "$1" "$2"
  cat >params.yaml <<'YAML'
data:
  source: csv
  path: prices.csv
  tickers: []
  start: "1990-01-01"
  end: "2099-12-31"
  out: data/raw/prices.parquet
tracking:
  uri: ""
  store: mlruns
YAML
}
