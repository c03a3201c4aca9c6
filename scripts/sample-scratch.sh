# Sourced by the measurement scripts (tracking-overhead.sh, grid-memory.sh,
# walk-forward-timing.sh) and report-browser-test.sh from the repository root: builds the
# binary ($bin; release, or the debug build with SAMPLE_PROFILE=debug), makes a
# scratch directory with the embedded sample's prices and panel, changes into it and removes it
# on exit. Also defines the 9,000-combination sample grid's flags ($sample_grid: lookback 5..250
# step 5, skip 0, holding 1..60, top_k 3,5,7), `seconds CMD...` (a command's wall time, its
# output discarded) and `median` (of the numbers on stdin).
unset MLFLOW_TRACKING_URI
profile=${SAMPLE_PROFILE:-release}
if [[ $profile == release ]]; then
  cargo build --release --locked -q -p momentum
else
  cargo build --locked -q -p momentum
fi
bin="$(realpath "${CARGO_TARGET_DIR:-target}/$profile/momentum")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$bin" -q fetch >/dev/null
"$bin" -q features >/dev/null
# shellcheck disable=SC2034 # used by the scripts that source this one
sample_grid=(--grid-lookback "$(seq -s, 5 5 250)" --grid-skip 0 --grid-holding "$(seq -s, 1 60)"
  --grid-top-k 3,5,7)

seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
