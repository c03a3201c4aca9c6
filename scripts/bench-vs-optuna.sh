#!/usr/bin/env bash
# The engine's TPE search against Optuna's (issue #25): the same objective (train Sharpe ratio
# on the sample's train window at 10 bps), the same spaces and budgets, several seeds each.
#
# A benchmark, not a test: CI does not run it. Run it by hand from the repository:
#   scripts/bench-vs-optuna.sh [-t THREADS] [-s SEEDS] [BUDGET...]
#   -t THREADS  the engine's threads (default 2); Optuna runs n_jobs=1, its only reproducible
#               setting, each trial's numba objective on one thread
#   -s SEEDS    seeds 0..SEEDS-1 per space, side and budget (default 10)
#   BUDGET      trial budgets (default 100 300 1000); each is read off one run of the largest
#   MOMENTUM_VENV     the project's venv (default .venv; made by scripts/python-env.sh when
#                     absent); optuna and numba are installed into it, pinned, when missing
#   CARGO_TARGET_DIR  where the bench-profile examples are built (default target)
#
# (a) benches/examples/search_quality.rs: `momentum_engine`'s TPE (batches of 16, multivariate)
#     on the `sample` space (the issue's 9,000-combination grid: lookback 5:250:5, skip 0,
#     holding 1:60, top_k 3:7:2) and the `wide` one (lookback 2:500, skip 0:60, holding 1:120,
#     top_k 1:20); also the grid's best on the sample space.
# (b) benches/peers/optuna_search.py: Optuna's TPESampler, default (independent) and
#     multivariate, on the same spaces, the objective computed by the numba peer of the engine's
#     kernel (benches/peers/numba_grid.py), JIT-compiled before timing.
# The two sides alternate (engine first, then Optuna); prints every line, then per space, side
# and budget the median best train Sharpe ratio, its range and the median seconds (proposals
# included: from the search's start to the end of the trial).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

threads=2 seeds=10
while getopts "t:s:h" opt; do
  case $opt in
    t) threads=$OPTARG ;;
    s) seeds=$OPTARG ;;
    *) sed -n '5,13p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
budgets=("$@")
((${#budgets[@]})) || budgets=(100 300 1000)

# shellcheck source=scripts/peer-python.sh
source scripts/peer-python.sh
peer_python "${numba_pins[@]}" "optuna==5.1.0"

target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
echo "bench-vs-optuna: building search_quality and grid_timing (bench profile) in $target" >&2
CARGO_TARGET_DIR=$target cargo build --quiet --locked --profile bench -p momentum-benches \
  --example search_quality --example grid_timing

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
panel=$work/panel.csv
# The sample panel both sides read, and its train window's last day.
timing=$("$target/release/examples/grid_timing" 1 1 "$panel")
train_end=$(sed -nE 's/.*; train [0-9]+\.\.=([0-9]+),.*/\1/p' <<<"$timing")
[[ -n $train_end ]] || { echo "$timing" >&2; exit 1; }

"$target/release/examples/search_quality" "$threads" "$seeds" 16 "${budgets[@]}" |
  tee "$work/engine.txt"
"$python" -W ignore benches/peers/optuna_search.py "$panel" "$train_end" --seeds "$seeds" \
  --budgets "${budgets[@]}" | tee "$work/optuna.txt"

echo
echo "space   side                 trials  best train sharpe: median [min, max]   seconds (median)"
cat "$work/engine.txt" "$work/optuna.txt" | "$python" -c '
import statistics, sys
rows = {}
for line in sys.stdin:
    parts = line.strip().split(",")
    if len(parts) != 6 or not parts[0].startswith(("engine", "optuna")):
        continue
    side, space, _seed, trials, best, seconds = parts
    rows.setdefault((space, side, int(trials)), []).append((float(best), float(seconds)))
for (space, side, trials), found in sorted(rows.items()):
    bests = [b for b, _ in found]
    seconds = statistics.median(s for _, s in found)
    print(f"{space:7} {side:20} {trials:6}  {statistics.median(bests):.4f} "
          f"[{min(bests):.4f}, {max(bests):.4f}] ({len(found)} seeds)   {seconds:8.3f}")
'
