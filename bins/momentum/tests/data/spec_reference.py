"""An independent, plain-Python implementation of strategy-spec.md (standard library only), the
second implementation the engine is checked against on the real sample (tests/reference.rs).
Written from the spec alone, as a plain day loop.
Usage: spec_reference.py L S H K COST_BPS WIDE_CSV_GZ [START END]
START and END (YYYY-MM-DD, either may be "") give the evaluation window: the first trading day on
or after START to the last on or before END; the days before START still feed the scores.
Prints the window's metrics in the spec's order: total_roi cagr volatility sharpe sortino
max_drawdown calmar num_trades turnover."""
import csv, gzip, math, sys

L, S, H, K, C = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
path = sys.argv[6]
first_date, last_date = (sys.argv[7:9] + ["", ""])[:2]
with gzip.open(path, "rt") as f:
    rows = list(csv.reader(f))
tickers = rows[0][1:]
P = [[float(x) if x not in ("", "nan") else math.nan for x in r[1:]] for r in rows[1:]]
T, N = len(P), len(tickers)
ok = lambda p: math.isfinite(p) and p > 0
dates = [r[0] for r in rows[1:]]  # ISO dates compare as strings
start = next(t for t in range(T) if not first_date or dates[t] >= first_date)
end = max(t for t in range(T) if not last_date or dates[t] <= last_date)
t0 = max(start, L)
# carried prices
carried = [row[:] for row in P]
for t in range(1, T):
    for i in range(N):
        if not math.isfinite(carried[t][i]):
            carried[t][i] = carried[t - 1][i]
V = 1.0
units = [0.0] * N
curve = []
trades = 0
turnover_sum = 0.0
for t in range(t0, end + 1):
    held = any(u != 0 for u in units)
    value = sum(units[i] * carried[t][i] for i in range(N) if units[i] != 0) if held else V
    if t > t0:
        V = value
    if (t - t0) % H == 0 and t < end:
        w_pre = [units[i] * carried[t][i] / V if units[i] != 0 else 0.0 for i in range(N)]
        scores = []
        for i in range(N):
            if ok(P[t - S][i]) and ok(P[t - L][i]) and ok(P[t][i]):
                scores.append((-(P[t - S][i] / P[t - L][i] - 1), i))
        scores.sort()
        sel = [i for _, i in scores[:K]]
        w_t = [0.0] * N
        for i in sel:
            w_t[i] = 1.0 / len(sel)
        turnover = sum(abs(w_t[i] - w_pre[i]) for i in range(N))
        trades += sum(1 for i in range(N) if (w_pre[i] == 0) != (w_t[i] == 0))
        turnover_sum += turnover
        V = V * (1 - C / 1e4 * turnover)
        units = [w_t[i] * V / P[t][i] if w_t[i] > 0 else 0.0 for i in range(N)]
    curve.append(V)
r = [curve[j] / curve[j - 1] - 1 for j in range(1, len(curve))]
n = len(r)
mean = sum(r) / n
sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (n - 1))
down = math.sqrt(sum(min(x, 0) ** 2 for x in r) / n)
peak, mdd = -math.inf, 0.0
for v in curve:
    peak = max(peak, v)
    mdd = max(mdd, 1 - v / peak)
cagr = curve[-1] ** (252 / n) - 1
print(repr(curve[-1] - 1), repr(cagr), repr(sd * math.sqrt(252)), repr(mean / sd * math.sqrt(252)),
      repr(mean / down * math.sqrt(252)), repr(mdd), repr(cagr / mdd), trades, repr(turnover_sum / (n / 252)))
