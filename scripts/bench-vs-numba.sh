#!/usr/bin/env bash
# The engine's grid kernel against a numba peer (issue #24: "kernel >= 10x numba on 2 threads"),
# measured in one run so that the ratio means something on a shared, noisy machine.
#
# A benchmark, not a test: CI does not run it. Run it by hand from the repository:
#   scripts/bench-vs-numba.sh [-t THREADS] [-r RUNS] [-n REPS]
#   -t THREADS  threads of both sides (rayon pool / numba.set_num_threads; default 2)
#   -r RUNS     alternating rounds (default 5): each round runs the numba peer, then the engine,
#               in reverse order every other round
#   -n REPS     timed calls per process, the best one reported (default 3)
#   MOMENTUM_VENV     the project's venv (default .venv; made by scripts/python-env.sh when
#                     absent); numba is installed into it, pinned, only when missing
#   CARGO_TARGET_DIR  where the bench-profile `grid_timing` is built (default target)
#
# (a) benches/peers/numba_grid.py: the grid kernel in numba (@njit(parallel=True), prange over
#     the (lookback, skip) groups). Its time is the best of REPS calls after a first call that
#     compiles (reported apart as "jit").
# (b) benches/examples/grid_timing.rs: run_grid on the same grid; its time is the best of REPS
#     run_grid calls as it reports it (no process start, no panel load).
# Both run the issue's 9,000-combination sample grid on the same panel: grid_timing writes the
# panel it times as CSV and the peer reads it. Both print the grid's mean final train value
# (mean of total_roi + 1); the script fails when they differ by more than 1e-9 relative.
# Prints every round (with its ratio), both medians and their ratio numba / engine (> 1: the
# engine is faster), and the median of the per-round ratios (each pairs runs seconds apart).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

threads=2 runs=5 reps=3
while getopts "t:r:n:h" opt; do
  case $opt in
    t) threads=$OPTARG ;;
    r) runs=$OPTARG ;;
    n) reps=$OPTARG ;;
    *) sed -n '5,12p' "$0" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/peer-python.sh
source scripts/peer-python.sh
peer_python "${numba_pins[@]}"

target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
echo "bench-vs-numba: building grid_timing (bench profile) in $target" >&2
CARGO_TARGET_DIR=$target cargo build --quiet --locked --profile bench -p momentum-benches \
  --example grid_timing
engine_bin=$target/release/examples/grid_timing

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
panel=$work/panel.csv

engine_out=$("$engine_bin" "$threads" 1 "$panel")
# "mean final value (train) 2.49...e1 over 9000 combinations; train 0..=4932, test 4933..=7047"
engine_mean=$(sed -nE 's/^mean final value \(train\) ([^ ]+) .*/\1/p' <<<"$engine_out")
train_end=$(sed -nE 's/.*; train [0-9]+\.\.=([0-9]+),.*/\1/p' <<<"$engine_out")
[[ -n $engine_mean && -n $train_end ]] || { echo "$engine_out" >&2; exit 1; }

declare -a numba_times engine_times jit_times ratios
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
  local out
  out=$("$engine_bin" "$threads" "$reps")
  # "... best of 3 0.200 s = 45000 combinations/s, median ..."
  engine_times+=("$(sed -nE 's/.*best of [0-9]+ ([0-9.]+) s = .*/\1/p' <<<"$out")")
}

for ((round = 1; round <= runs; round++)); do
  if ((round % 2)); then run_numba; run_engine; else run_engine; run_numba; fi
  ratios+=("$(awk -v n="${numba_times[-1]}" -v e="${engine_times[-1]}" 'BEGIN { printf "%.2f", n / e }')")
  printf 'round %d: numba %s s (jit %s s), engine %s s, ratio %s\n' "$round" "${numba_times[-1]}" \
    "${jit_times[-1]}" "${engine_times[-1]}" "${ratios[-1]}"
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

printf 'mean final value (train): engine %s, numba %s\n' "$engine_mean" "$numba_mean"
"$python" - "$engine_mean" "$numba_mean" <<'EOF'
import sys
engine, peer = float(sys.argv[1]), float(sys.argv[2])
rel = abs(peer - engine) / abs(engine)
print(f"relative difference {rel:.3g} (limit 1e-9)")
sys.exit(0 if rel <= 1e-9 else 1)
EOF
