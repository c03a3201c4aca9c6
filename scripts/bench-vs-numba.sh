#!/usr/bin/env bash
# The engine against a numba peer of its grid kernel (issue #24), measured in one run so that the
# ratios mean something on a shared, noisy machine: the grid kernel (">= 10x numba on 2
# threads"), PBO beside the grid that feeds it ("PBO <= grid time") and, with -w, the whole
# `momentum backtest --no-track` process on the sample grid ("<= 0.5x the numba kernel").
#
# A benchmark, not a test: CI does not run it. Run it by hand from the repository:
#   scripts/bench-vs-numba.sh [-t THREADS] [-r RUNS] [-n REPS] [-w]
#   -t THREADS  threads of every side (rayon pool / numba.set_num_threads; default 2)
#   -r RUNS     alternating rounds (default 5): each round runs the numba peer, then the engine
#               (grid_timing, pbo_timing, the whole process), in reverse order every other round
#   -n REPS     timed calls per process, the best one reported (default 3; the whole process:
#               the best of REPS processes)
#   -w          also time the whole process (builds the release binary; a scratch directory
#               with the embedded sample's prices and panel, as scripts/sample-scratch.sh)
#   MOMENTUM_VENV     the project's venv (default .venv; made by scripts/python-env.sh when
#                     absent); numba is installed into it, pinned, only when missing
#   CARGO_TARGET_DIR  where the bench-profile `grid_timing` is built (default target)
#
# (a) benches/peers/numba_grid.py: the grid kernel in numba (@njit(parallel=True), prange over
#     the (lookback, skip) groups). Its time is the best of REPS calls after a first call that
#     compiles (reported apart as "jit").
# (b) benches/examples/grid_timing.rs: run_grid on the same grid; its time is the best of REPS
#     run_grid calls as it reports it (no process start, no panel load).
# (c) benches/examples/pbo_timing.rs: run_grid and PBO on its block sums, alternately, REPS times
#     each; the medians of both (same process, same moment) and their ratio.
# (d) with -w: `momentum backtest --no-track --reproducible` on the sample grid, wall time of the
#     whole process (start, panel, grid, selection statistics, every report), the best of REPS.
# Both run the issue's 9,000-combination sample grid on the same panel: grid_timing writes the
# panel it times as CSV and the peer reads it. Both print the grid's mean final train value
# (mean of total_roi + 1); the script fails when they differ by more than 1e-9 relative.
# Prints every round (with its ratio), both medians and their ratio numba / engine (> 1: the
# engine is faster), and the median of the per-round ratios (each pairs runs seconds apart).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

threads=2 runs=5 reps=3 whole=
while getopts "t:r:n:wh" opt; do
  case $opt in
    t) threads=$OPTARG ;;
    r) runs=$OPTARG ;;
    n) reps=$OPTARG ;;
    w) whole=1 ;;
    *) sed -n '7,17p' "$0" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/peer-python.sh
source scripts/peer-python.sh
peer_python "${numba_pins[@]}"

target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
echo "bench-vs-numba: building grid_timing and pbo_timing (bench profile) in $target" >&2
CARGO_TARGET_DIR=$target cargo build --quiet --locked --profile bench -p momentum-benches \
  --example grid_timing --example pbo_timing
engine_bin=$target/release/examples/grid_timing
pbo_bin=$target/release/examples/pbo_timing

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
panel=$work/panel.csv
if [[ -n $whole ]]; then
  echo "bench-vs-numba: building momentum (release) in $target" >&2
  CARGO_TARGET_DIR=$target cargo build --quiet --locked --release -p momentum
  momentum_bin=$target/release/momentum
  mkdir "$work/project"
  (cd "$work/project" && "$momentum_bin" -q fetch >/dev/null && "$momentum_bin" -q features >/dev/null)
  # shellcheck disable=SC2054 # the commas are in a flag's value
  sample_grid=(--grid-lookback "$(seq -s, 5 5 250)" --grid-skip 0
    --grid-holding "$(seq -s, 1 60)" --grid-top-k 3,5,7)
fi

engine_out=$("$engine_bin" "$threads" 1 "$panel")
# "mean final value (train) 2.49...e1 over 9000 combinations; train 0..=4932, test 4933..=7047"
engine_mean=$(sed -nE 's/^mean final value \(train\) ([^ ]+) .*/\1/p' <<<"$engine_out")
train_end=$(sed -nE 's/.*; train [0-9]+\.\.=([0-9]+),.*/\1/p' <<<"$engine_out")
[[ -n $engine_mean && -n $train_end ]] || { echo "$engine_out" >&2; exit 1; }

declare -a numba_times engine_times jit_times ratios grid_times pbo_times whole_times
numba_mean=
run_numba() {
  local out
  out=$("$python" benches/peers/numba_grid.py "$panel" "$train_end" --threads "$threads" \
    --reps "$reps")
  # "... first call (JIT compile + one run) 3.2 s, best of 3 0.5 s, median ..."
  jit_times+=("$(sed -nE 's/.*first call \(JIT compile \+ one run\) ([0-9.]+) s.*/\1/p' <<<"$out")")
  numba_times+=("$(sed -nE 's/.*best of [0-9]+ ([0-9.]+) s.*/\1/p' <<<"$out")")
  numba_mean=$(sed -nE 's/^mean final value \(train\) ([^ ]+) .*/\1/p' <<<"$out")
  [[ -n $numba_mean ]] || { echo "$out" >&2; exit 1; }
}
run_engine() {
  local out best start end seconds
  out=$("$engine_bin" "$threads" "$reps")
  # "... best of 3 0.200 s = 45000 combinations/s, median ..."
  engine_times+=("$(sed -nE 's/.*best of [0-9]+ ([0-9.]+) s = .*/\1/p' <<<"$out")")
  out=$("$pbo_bin" "$threads" "$reps")
  # "2 threads, 3 runs: grid best 0.12 s median 0.121 s; PBO best 0.107 s median 0.108 s; ..."
  grid_times+=("$(sed -nE 's/.*grid best [0-9.]+ s median ([0-9.]+) s;.*/\1/p' <<<"$out")")
  pbo_times+=("$(sed -nE 's/.*PBO best [0-9.]+ s median ([0-9.]+) s;.*/\1/p' <<<"$out")")
  [[ -n $whole ]] || return 0
  best=
  for ((rep = 0; rep < reps; rep++)); do
    start=$(date +%s.%N)
    (cd "$work/project" && "$momentum_bin" -q backtest --no-track --reproducible \
      --threads "$threads" "${sample_grid[@]}" >/dev/null 2>"$work/backtest.err") ||
      { cat "$work/backtest.err" >&2; exit 1; }
    end=$(date +%s.%N)
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
    best=$(awk -v a="$seconds" -v b="${best:-$seconds}" 'BEGIN { print (a < b) ? a : b }')
  done
  whole_times+=("$best")
}

for ((round = 1; round <= runs; round++)); do
  if ((round % 2)); then run_numba; run_engine; else run_engine; run_numba; fi
  ratios+=("$(awk -v n="${numba_times[-1]}" -v e="${engine_times[-1]}" 'BEGIN { printf "%.2f", n / e }')")
  printf 'round %d: numba %s s (jit %s s), engine %s s, ratio %s; grid %s s, PBO %s s%s\n' \
    "$round" "${numba_times[-1]}" "${jit_times[-1]}" "${engine_times[-1]}" "${ratios[-1]}" \
    "${grid_times[-1]}" "${pbo_times[-1]}" "${whole:+; whole process ${whole_times[-1]} s}"
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int(NR / 2) + 1] }'; }
numba_median=$(median "${numba_times[@]}")
engine_median=$(median "${engine_times[@]}")
jit_median=$(median "${jit_times[@]}")
printf 'numba  (%s threads, best of %s per round): %s s\n' "$threads" "$reps" "${numba_times[*]}"
printf 'engine (%s threads, best of %s per round): %s s\n' "$threads" "$reps" "${engine_times[*]}"
printf 'median numba %s s (jit compile + first run: median %s s), median engine %s s\n' \
  "$numba_median" "$jit_median" "$engine_median"
awk -v n="$numba_median" -v e="$engine_median" \
  'BEGIN { printf "ratio numba / engine: %.2fx of the medians (issue #24 asks >= 10x)\n", n / e }'
printf 'ratio per round: %s (median %s)\n' "${ratios[*]}" "$(median "${ratios[@]}")"
grid_median=$(median "${grid_times[@]}")
pbo_median=$(median "${pbo_times[@]}")
awk -v p="$pbo_median" -v g="$grid_median" \
  'BEGIN { printf "PBO %s s / grid %s s (medians of the rounds): %.2f (issue #24 asks <= 1)\n", p, g, p / g }'
if [[ -n $whole ]]; then
  whole_median=$(median "${whole_times[@]}")
  printf 'whole process (%s threads, best of %s per round): %s s\n' "$threads" "$reps" "${whole_times[*]}"
  awk -v w="$whole_median" -v n="$numba_median" \
    'BEGIN { printf "whole process %s s / numba kernel %s s (medians): %.2f (issue #24 asks <= 0.5)\n", w, n, w / n }'
fi

printf 'mean final value (train): engine %s, numba %s\n' "$engine_mean" "$numba_mean"
"$python" - "$engine_mean" "$numba_mean" <<'EOF'
import sys
engine, peer = float(sys.argv[1]), float(sys.argv[2])
rel = abs(peer - engine) / abs(engine)
print(f"relative difference {rel:.3g} (limit 1e-9)")
sys.exit(0 if rel <= 1e-9 else 1)
EOF
