# Sourced by the index-scale measurement scripts (memory-benchmark.sh, scale-benchmark.sh,
# shard-benchmark.sh) from the repository root: builds the synthetic universe generator
# (benches/src/synthetic.rs) and defines `synthetic_universe TICKERS DAYS`, which writes
# prices.csv (a wide CSV: 20 % of the tickers listed late, 10 % delisted, 0.2 % of days
# missing) and a params.yaml whose `data` block reads it, in the current directory, followed by
# whatever the caller appends; `synthetic_project TICKERS DAYS`, the same fetched and aligned in
# a scratch directory with the release binary ($bin); and `scale_grid`, the flags of the 10,000-combination grid the
# scale benchmarks run (10 lookbacks x 5 skips x 20 holding periods x 10 portfolio sizes).
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

# shellcheck disable=SC2034,SC2054 # used by the scripts that source this one; the commas are in the flags' values
scale_grid=(--grid-lookback 20,40,60,90,120,150,180,210,250,300 --grid-skip 0,5,10,15,20
  --grid-holding 1,2,3,4,5,6,7,8,9,10,12,14,16,18,20,25,30,40,50,60
  --grid-top-k 5,10,15,20,25,30,40,50,75,100)

# The release binary ($bin: MOMENTUM_BIN, or built) and a scratch directory, removed on exit,
# holding the synthetic universe of TICKERS x DAYS fetched and aligned: the working directory
# of the scale benchmarks.
synthetic_project() {
  cargo build --release --locked -q -p momentum
  local target=${CARGO_TARGET_DIR:-target}
  bin=$(cd "$(dirname "${MOMENTUM_BIN:-$target/release/momentum}")" && pwd)/$(basename "${MOMENTUM_BIN:-momentum}")
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cd "$work"
  synthetic_universe "$1" "$2"
  "$bin" -q fetch >/dev/null
  "$bin" -q features >/dev/null
}
