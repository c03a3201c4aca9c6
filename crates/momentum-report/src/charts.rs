//! The report's charts, each an inline `<svg>` with a title, axis titles with units and a
//! legend where there is more than one series: the equity curves, the underwater drawdown,
//! rolling one-year Sharpe and volatility, the distribution of daily returns, the grid's
//! heatmaps and the train-against-test scatter.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};
use momentum_engine::{ChainedCurve, ComboResult, Metrics, Objective};

use crate::colour::{BASELINE, MISSING, STRATEGY, scale_position, viridis};
use crate::series::{Histogram, daily_returns, drawdown, rolling};
use crate::svg::{Axis, Plot, Svg, format_tick, nice_ticks};

/// Trading days in the rolling window: one year.
pub(crate) const ROLLING_DAYS: usize = 252;

fn day_number(d: NaiveDate) -> f64 {
    f64::from(d.num_days_from_ce())
}

/// A time axis from `first` to `last`, ticked on the first of January every 1, 2, 5, 10 or 20
/// years (at most about eight ticks).
fn date_axis(first: NaiveDate, last: NaiveDate) -> Axis {
    let years = last.year() - first.year();
    let step = [1, 2, 5, 10, 20]
        .into_iter()
        .find(|s| years / s <= 8)
        .unwrap_or(50);
    let ticks = (first.year()..=last.year())
        .filter(|y| y % step == 0)
        .filter_map(|y| NaiveDate::from_ymd_opt(y, 1, 1))
        .filter(|d| *d >= first && *d <= last)
        .map(|d| (day_number(d), d.year().to_string()))
        .collect();
    let (lo, hi) = (day_number(first), day_number(last));
    Axis {
        lo,
        hi: if hi > lo { hi } else { lo + 1.0 },
        log: false,
        ticks,
        label: "date (year)".to_owned(),
    }
}

/// The range of the finite values, padded by `pad` of its width on both sides.
fn padded_range(values: impl IntoIterator<Item = f64>, pad: f64) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        return None;
    }
    let width = if hi > lo { hi - lo } else { 1.0 };
    Some((lo - pad * width, hi + pad * width))
}

/// A vertical dashed line at the split between the train and the test windows, labelled.
fn mark_split(plot: &mut Plot, curve: &ChainedCurve) {
    if let Some(split) = curve.split {
        let x = plot.px(day_number(split));
        let (_, top, _, bottom) = plot.area();
        plot.svg.line((x, top), (x, bottom), "split");
        // At the foot of the line: the top is where equity ends and drawdowns start.
        plot.svg
            .text((x + 4.0, bottom - 6.0), "start", "note", "test \u{2192}");
        plot.svg
            .text((x - 4.0, bottom - 6.0), "end", "note", "\u{2190} train");
    }
}

/// The legend of the two curves every time chart draws.
const CURVES: [(&str, &str); 2] = [
    (STRATEGY, "momentum strategy"),
    (BASELINE, "buy and hold (equal weight)"),
];

/// A time chart finished: the train/test split marked, the two curves' legend, the closed
/// `<svg>`.
fn finish_curves(mut plot: Plot, curve: &ChainedCurve) -> String {
    mark_split(&mut plot, curve);
    plot.legend(&CURVES);
    plot.finish()
}

/// Strategy and buy and hold from 1, on a log scale, with the train/test split.
pub(crate) fn equity(curve: &ChainedCurve) -> String {
    let points = &curve.points;
    let (first, last) = (points[0].date, points[points.len() - 1].date);
    let positive = points
        .iter()
        .flat_map(|p| [p.strategy, p.baseline])
        .filter(|v| *v > 0.0 && v.is_finite());
    let (lo, hi) = positive.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let mut plot = Plot::new(
        "Equity: strategy vs buy and hold (log scale)",
        380.0,
        date_axis(first, last),
        Axis::log(lo * 0.9, hi * 1.1, "value of 1 invested (log scale)"),
    );
    let log_safe = |v: f64| if v > 0.0 { v } else { f64::NAN };
    let strategy = plot.path(
        points
            .iter()
            .map(|p| (day_number(p.date), log_safe(p.strategy))),
    );
    let baseline = plot.path(
        points
            .iter()
            .map(|p| (day_number(p.date), log_safe(p.baseline))),
    );
    plot.svg.polyline(&baseline, BASELINE, 1.5);
    plot.svg.polyline(&strategy, STRATEGY, 1.8);
    finish_curves(plot, curve)
}

/// How far each curve is below its running peak, in percent.
pub(crate) fn underwater(curve: &ChainedCurve) -> String {
    let points = &curve.points;
    let dates: Vec<f64> = points.iter().map(|p| day_number(p.date)).collect();
    let strategy = drawdown(&points.iter().map(|p| p.strategy).collect::<Vec<_>>());
    let baseline = drawdown(&points.iter().map(|p| p.baseline).collect::<Vec<_>>());
    let worst = strategy
        .iter()
        .chain(&baseline)
        .copied()
        .filter(|v| v.is_finite())
        .fold(-0.01f64, f64::min);
    let mut plot = Plot::new(
        "Underwater: drawdown from the running peak",
        280.0,
        date_axis(points[0].date, points[points.len() - 1].date),
        Axis::linear((worst * 1.05 * 100.0, 0.0), 5, "drawdown (%)"),
    );
    let mut area = plot.path(
        dates
            .iter()
            .copied()
            .zip(strategy.iter().map(|d| d * 100.0)),
    );
    let line = area.clone();
    let (left, _, right, _) = plot.area();
    let zero = plot.py(0.0);
    area.push((area.last().map_or(right, |p| p.0), zero));
    area.insert(0, (area.first().map_or(left, |p| p.0), zero));
    plot.svg.polygon(&area, STRATEGY, 0.3);
    plot.svg.polyline(&line, STRATEGY, 1.2);
    let baseline = plot.path(
        dates
            .iter()
            .copied()
            .zip(baseline.iter().map(|d| d * 100.0)),
    );
    plot.svg.polyline(&baseline, BASELINE, 1.2);
    finish_curves(plot, curve)
}

/// Rolling one-year Sharpe ratio and volatility of both curves; `None` when the curve is
/// shorter than a year.
pub(crate) fn rolling_charts(curve: &ChainedCurve) -> Option<(String, String)> {
    let points = &curve.points;
    let strategy = daily_returns(&points.iter().map(|p| p.strategy).collect::<Vec<_>>());
    let baseline = daily_returns(&points.iter().map(|p| p.baseline).collect::<Vec<_>>());
    let s = rolling(&strategy, ROLLING_DAYS);
    let b = rolling(&baseline, ROLLING_DAYS);
    if s.is_empty() {
        return None;
    }
    // Window j ends with return j + 251, the move into day j + 252.
    let dates: Vec<f64> = points[ROLLING_DAYS..]
        .iter()
        .map(|p| day_number(p.date))
        .collect();
    let axis = date_axis(points[ROLLING_DAYS].date, points[points.len() - 1].date);
    let chart = |title: &str, label: &str, pick: fn(&(f64, f64)) -> f64, scale: f64| {
        let values = s.iter().chain(&b).map(|v| pick(v) * scale);
        let range = padded_range(values, 0.05).unwrap_or((0.0, 1.0));
        let mut plot = Plot::new(title, 280.0, axis.clone(), Axis::linear(range, 5, label));
        if range.0 < 0.0 && range.1 > 0.0 {
            let (left, _, right, _) = plot.area();
            let zero = plot.py(0.0);
            plot.svg.line((left, zero), (right, zero), "zero");
        }
        let line_of = |series: &[(f64, f64)]| {
            plot.path(
                dates
                    .iter()
                    .copied()
                    .zip(series.iter().map(|v| pick(v) * scale)),
            )
        };
        let (ls, lb) = (line_of(&s), line_of(&b));
        plot.svg.polyline(&lb, BASELINE, 1.2);
        plot.svg.polyline(&ls, STRATEGY, 1.5);
        finish_curves(plot, curve)
    };
    Some((
        chart(
            "Rolling one-year Sharpe ratio (252 trading days)",
            "Sharpe ratio (annualised)",
            |v| v.0,
            1.0,
        ),
        chart(
            "Rolling one-year volatility (252 trading days)",
            "volatility (% a year)",
            |v| v.1,
            100.0,
        ),
    ))
}

/// The strategy's daily returns in 60 bins against a normal of the same mean and standard
/// deviation; `None` with fewer than two distinct returns.
pub(crate) fn distribution(curve: &ChainedCurve) -> Option<String> {
    let returns = daily_returns(&curve.points.iter().map(|p| p.strategy).collect::<Vec<_>>());
    let h = Histogram::of(&returns, 60)?;
    #[expect(clippy::cast_precision_loss, reason = "counts of days")]
    let top = h.counts.iter().copied().max().unwrap_or(1) as f64;
    let peak = h.normal_count(h.mean).max(top) * 1.08;
    #[expect(clippy::cast_precision_loss, reason = "a few dozen bins")]
    let hi = h.lo + h.width * h.counts.len() as f64;
    let mut plot = Plot::new(
        "Daily returns of the strategy against a normal distribution",
        300.0,
        Axis::linear((h.lo * 100.0, hi * 100.0), 8, "daily return (%)"),
        Axis::linear((0.0, peak), 5, "trading days per bin"),
    );
    let bottom = plot.py(0.0);
    for (i, &count) in h.counts.iter().enumerate() {
        #[expect(clippy::cast_precision_loss, reason = "a few dozen bins")]
        let x0 = h.lo + h.width * i as f64;
        #[expect(clippy::cast_precision_loss, reason = "counts of days")]
        let y = plot.py(count as f64);
        let (a, b) = (plot.px(x0 * 100.0), plot.px((x0 + h.width) * 100.0));
        plot.svg.rect(
            (a, y),
            (b - a, bottom - y),
            STRATEGY,
            " fill-opacity=\"0.55\"",
        );
    }
    let normal: Vec<(f64, f64)> = (0..=240)
        .map(|k| {
            let x = h.lo + h.width * h.counts.len() as f64 * f64::from(k) / 240.0;
            (x * 100.0, h.normal_count(x))
        })
        .collect();
    let normal = plot.path(normal);
    plot.svg.polyline(&normal, "#000000", 1.5);
    plot.legend(&[
        (STRATEGY, "strategy's daily returns"),
        ("#000000", "normal, same mean and std"),
    ]);
    let (_, top_px, right, _) = plot.area();
    plot.svg.text(
        (right - 8.0, top_px + 14.0),
        "end",
        "note",
        &format!(
            "{} of {} days beyond 4 std (a normal: about {:.2})",
            h.outside,
            h.n,
            // P(|Z| > 4) = 6.334e-5.
            6.334e-5 * h.n as f64
        ),
    );
    Some(plot.finish())
}

/// The grid's combinations indexed for the heatmaps.
pub(crate) struct GridMaps<'a> {
    grid: &'a [ComboResult],
    selected: Option<usize>,
    lookbacks: Vec<usize>,
    holdings: Vec<usize>,
    /// (top_k, skip) -> (lookback, holding) -> index in `grid`.
    panels: BTreeMap<(usize, usize), BTreeMap<(usize, usize), usize>>,
    /// The colour scale's range: every finite train and test Sharpe ratio.
    range: (f64, f64),
    has_test: bool,
}

/// Colour levels of the heatmaps: cells are drawn one path per level.
const LEVELS: usize = 64;

impl<'a> GridMaps<'a> {
    /// The maps of `grid`, `selected` marked.
    pub(crate) fn new(grid: &'a [ComboResult], selected: Option<usize>) -> Self {
        let mut lookbacks = BTreeSet::new();
        let mut holdings = BTreeSet::new();
        let mut panels: BTreeMap<_, BTreeMap<_, _>> = BTreeMap::new();
        for (i, c) in grid.iter().enumerate() {
            let p = c.params;
            lookbacks.insert(p.lookback);
            holdings.insert(p.holding);
            panels
                .entry((p.top_k, p.skip))
                .or_default()
                .insert((p.lookback, p.holding), i);
        }
        let sharpes = grid
            .iter()
            .flat_map(|c| [Some(c.train.sharpe), c.test.map(|m| m.sharpe)])
            .flatten();
        Self {
            grid,
            selected,
            lookbacks: lookbacks.into_iter().collect(),
            holdings: holdings.into_iter().collect(),
            panels,
            range: padded_range(sharpes, 0.0).unwrap_or((0.0, 1.0)),
            has_test: grid.iter().any(|c| c.test.is_some()),
        }
    }

    /// `(top_k, skip)` of each pair of maps, in order.
    pub(crate) fn panels(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.panels.keys().copied()
    }

    /// Whether the grid has a test window.
    pub(crate) fn has_test(&self) -> bool {
        self.has_test
    }

    /// The heatmap of `window`'s Sharpe ratio (`train`, or `test` when `test`) for `top_k`
    /// and `skip`: lookback across, holding down, the selected cell outlined.
    pub(crate) fn heatmap(&self, (top_k, skip): (usize, usize), test: bool) -> String {
        const W: f64 = 440.0;
        let (left, top, right) = (64.0, 34.0, W - 10.0);
        let (nl, nh) = (self.lookbacks.len(), self.holdings.len());
        #[expect(clippy::cast_precision_loss, reason = "grid axes are short")]
        let (nlf, nhf) = (nl as f64, nh as f64);
        let cw = (right - left) / nlf;
        let ch = (300.0 / nhf).clamp(4.0, 28.0);
        let bottom = top + ch * nhf;
        let height = bottom + 44.0;
        let window = if test { "Test" } else { "Train" };
        let title = format!("{window} Sharpe, top_k {top_k}, skip {skip}");
        let mut svg = Svg::new(W, height, &title, "chart heatmap");
        let cells = &self.panels[&(top_k, skip)];
        let mut by_level: Vec<String> = vec![String::new(); LEVELS + 1];
        let mut labels = String::new();
        let show_values = cw >= 34.0 && ch >= 16.0;
        // Half a unit over the next cells: neighbours overlap instead of leaving an
        // anti-aliased seam between them. A cell's numbers depend on its column or its row
        // alone: written once each (the grid's heatmaps have 9,000 cells and more).
        let (w, h) = (cw + 0.5, ch + 0.5);
        let size = format!("h{w:.1}v{h:.1}h-{w:.1}z");
        #[expect(clippy::cast_precision_loss, reason = "grid axes are short")]
        let columns: Vec<(String, String)> = (0..nl)
            .map(|li| {
                let x = left + cw * li as f64;
                (format!("{x:.1}"), format!("{:.1}", x + cw / 2.0))
            })
            .collect();
        #[expect(clippy::cast_precision_loss, reason = "grid axes are short")]
        let rows: Vec<(String, String)> = (0..nh)
            .map(|hi| {
                let y = top + ch * hi as f64;
                (format!("{y:.1}"), format!("{:.1}", y + ch / 2.0 + 4.0))
            })
            .collect();
        for (li, &lookback) in self.lookbacks.iter().enumerate() {
            for (hi, &holding) in self.holdings.iter().enumerate() {
                let Some(&i) = cells.get(&(lookback, holding)) else {
                    continue;
                };
                let metrics: Option<&Metrics> = if test {
                    self.grid[i].test.as_ref()
                } else {
                    Some(&self.grid[i].train)
                };
                let sharpe = metrics.map_or(f64::NAN, |m| m.sharpe);
                let position = scale_position(sharpe, self.range);
                let ((x, label_x), (y, label_y)) = (&columns[li], &rows[hi]);
                // NaN goes to the last path, drawn grey.
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "position is in [0, 1]"
                )]
                let level = if position.is_nan() {
                    LEVELS
                } else {
                    (position.clamp(0.0, 1.0) * (LEVELS - 1) as f64).round() as usize
                };
                let _ = write!(by_level[level], "M{x} {y}{size}");
                if show_values {
                    let text = if sharpe.is_finite() {
                        format!("{sharpe:.2}")
                    } else {
                        "n/a".to_owned()
                    };
                    let class = if position.is_finite() && position < 0.6 {
                        "cell light"
                    } else {
                        "cell"
                    };
                    let _ = write!(
                        labels,
                        "<text class=\"{class}\" x=\"{label_x}\" y=\"{label_y}\" text-anchor=\"middle\">{text}</text>",
                    );
                }
            }
        }
        for (level, d) in by_level.iter().enumerate() {
            if d.is_empty() {
                continue;
            }
            let fill = if level == LEVELS {
                MISSING.to_owned()
            } else {
                #[expect(clippy::cast_precision_loss, reason = "64 levels")]
                let t = level as f64 / (LEVELS - 1) as f64;
                viridis(t).unwrap_or_else(|| MISSING.to_owned())
            };
            svg.raw(&format!("<path fill=\"{fill}\" d=\"{d}\"/>"));
        }
        svg.raw(&labels);
        if let Some(best) = self.selected
            && let Some(c) = self.grid.get(best)
            && c.params.top_k == top_k
            && c.params.skip == skip
        {
            let li = self.lookbacks.iter().position(|&l| l == c.params.lookback);
            let hi = self.holdings.iter().position(|&h| h == c.params.holding);
            if let (Some(li), Some(hi)) = (li, hi) {
                #[expect(clippy::cast_precision_loss, reason = "grid axes are short")]
                let (x, y) = (left + cw * li as f64, top + ch * hi as f64);
                // At least 12 units square around the cell, so a mark on a tiny cell of a
                // large grid is seen.
                let (w, h) = (cw.max(12.0), ch.max(12.0));
                let corner = (x + (cw - w) / 2.0, y + (ch - h) / 2.0);
                svg.rect(corner, (w, h), "none", " class=\"selected-outer\"");
                svg.rect(corner, (w, h), "none", " class=\"selected-inner\"");
            }
        }
        let every = |n: usize, most: usize| n.div_ceil(most).max(1);
        for (li, &lookback) in self.lookbacks.iter().enumerate() {
            if li % every(nl, 9) == 0 {
                #[expect(clippy::cast_precision_loss, reason = "grid axes are short")]
                let x = left + cw * (li as f64 + 0.5);
                svg.text((x, bottom + 15.0), "middle", "tick", &lookback.to_string());
            }
        }
        for (hi, &holding) in self.holdings.iter().enumerate() {
            if hi % every(nh, 15) == 0 {
                #[expect(clippy::cast_precision_loss, reason = "grid axes are short")]
                let y = top + ch * (hi as f64 + 0.5) + 4.0;
                svg.text((left - 6.0, y), "end", "tick", &holding.to_string());
            }
        }
        svg.text(
            ((left + right) / 2.0, height - 8.0),
            "middle",
            "axis",
            "lookback L (trading days)",
        );
        svg.vertical_text(
            (14.0, (top + bottom) / 2.0),
            "axis",
            "holding H (trading days)",
        );
        svg.finish()
    }

    /// The colour scale shared by every heatmap: viridis from the lowest to the highest
    /// Sharpe ratio, the grey of "n/a" and the selected cell's outline.
    pub(crate) fn legend(&self) -> String {
        let (lo, hi) = self.range;
        let mut svg = Svg::new(
            440.0,
            70.0,
            "Colour scale: Sharpe ratio (annualised)",
            "chart legend-bar",
        );
        let (x0, x1, y) = (20.0, 300.0, 30.0);
        for k in 0..LEVELS {
            #[expect(clippy::cast_precision_loss, reason = "64 levels")]
            let t = k as f64 / (LEVELS - 1) as f64;
            #[expect(clippy::cast_precision_loss, reason = "64 levels")]
            let x = x0 + (x1 - x0) * k as f64 / LEVELS as f64;
            let fill = viridis(t).unwrap_or_else(|| MISSING.to_owned());
            #[expect(clippy::cast_precision_loss, reason = "64 levels")]
            svg.rect((x, y), ((x1 - x0) / LEVELS as f64 + 0.3, 14.0), &fill, "");
        }
        for v in nice_ticks(lo, hi, 4) {
            let x = x0 + (x1 - x0) * scale_position(v, self.range);
            svg.line((x, y + 14.0), (x, y + 18.0), "tickmark");
            svg.text((x, y + 30.0), "middle", "tick", &format_tick(v));
        }
        svg.rect((318.0, y), (14.0, 14.0), MISSING, "");
        svg.text((336.0, y + 11.0), "start", "legend", "n/a");
        svg.rect(
            (370.0, y),
            (14.0, 14.0),
            "none",
            " class=\"selected-outer\"",
        );
        svg.rect(
            (370.0, y),
            (14.0, 14.0),
            "none",
            " class=\"selected-inner\"",
        );
        svg.text((388.0, y + 11.0), "start", "legend", "selected");
        svg.finish()
    }

    /// A search's trials in the order tried: each one's train `objective` as a dot, the best
    /// so far as a line, the selected trial marked. A line still climbing at the right had too
    /// few trials; a flat one found its region early.
    pub(crate) fn convergence(&self, objective: Objective) -> String {
        let values: Vec<f64> = self
            .grid
            .iter()
            .map(|c| objective.value(&c.train))
            .collect();
        let range = padded_range(values.iter().copied(), 0.05).unwrap_or((0.0, 1.0));
        #[expect(clippy::cast_precision_loss, reason = "trial counts are small")]
        let last = values.len().max(2) as f64 - 1.0;
        let mut plot = Plot::new(
            "The search: each trial's train objective, and the best so far",
            300.0,
            Axis::linear((0.0, last), 8, "trial (in the order tried)"),
            Axis::linear(range, 6, &format!("train {objective}")),
        );
        let mut dots = String::new();
        let mut best = f64::NEG_INFINITY;
        let mut steps = Vec::with_capacity(values.len());
        for (i, &v) in values.iter().enumerate() {
            #[expect(clippy::cast_precision_loss, reason = "trial counts are small")]
            let x = i as f64;
            if v.is_finite() {
                let _ = write!(dots, "M{:.1} {:.1}h0", plot.px(x), plot.py(v));
                best = best.max(v);
            }
            if best.is_finite() {
                steps.push((x, best));
            }
        }
        plot.svg.raw(&format!(
            "<path class=\"dots\" stroke=\"{BASELINE}\" d=\"{dots}\"/>"
        ));
        let line = plot.path(steps);
        plot.svg.polyline(&line, STRATEGY, 2.0);
        if let Some(i) = self.selected
            && let Some(&v) = values.get(i)
            && v.is_finite()
        {
            #[expect(clippy::cast_precision_loss, reason = "trial counts are small")]
            let p = (plot.px(i as f64), plot.py(v));
            plot.svg
                .circle(p, 6.0, "#d55e00", " stroke=\"#000\" stroke-width=\"1.5\"");
        }
        plot.legend(&[
            (BASELINE, "a trial"),
            (STRATEGY, "the best so far"),
            ("#d55e00", "the selected trial"),
        ]);
        plot.finish()
    }

    /// Every combination's test Sharpe ratio against its train Sharpe ratio, the selected one
    /// marked, with the line where they are equal: how much the selection decays out of
    /// sample.
    pub(crate) fn train_vs_test(&self) -> String {
        let pairs: Vec<(f64, f64)> = self
            .grid
            .iter()
            .map(|c| (c.train.sharpe, c.test.map_or(f64::NAN, |m| m.sharpe)))
            .collect();
        let both = pairs.iter().flat_map(|&(a, b)| [a, b]);
        let range = padded_range(both, 0.05).unwrap_or((0.0, 1.0));
        let mut plot = Plot::new(
            "Train against test Sharpe ratio, every combination",
            440.0,
            Axis::linear(range, 6, "train Sharpe ratio (annualised)"),
            Axis::linear(range, 6, "test Sharpe ratio (annualised)"),
        );
        let (a, b) = (plot.px(range.0), plot.px(range.1));
        let (ya, yb) = (plot.py(range.0), plot.py(range.1));
        plot.svg.line((a, ya), (b, yb), "split");
        let mut d = String::new();
        let mut missing = 0;
        for &(x, y) in &pairs {
            if x.is_finite() && y.is_finite() {
                let _ = write!(d, "M{:.1} {:.1}h0", plot.px(x), plot.py(y));
            } else {
                missing += 1;
            }
        }
        plot.svg.raw(&format!(
            "<path class=\"dots\" stroke=\"{STRATEGY}\" d=\"{d}\"/>"
        ));
        if let Some(&(x, y)) = self.selected.and_then(|i| pairs.get(i))
            && x.is_finite()
            && y.is_finite()
        {
            let p = (plot.px(x), plot.py(y));
            plot.svg
                .circle(p, 6.0, "#d55e00", " stroke=\"#000\" stroke-width=\"1.5\"");
            plot.svg
                .text((p.0 + 9.0, p.1 - 6.0), "start", "note", "selected");
        }
        plot.legend(&[
            (STRATEGY, "a combination"),
            ("#d55e00", "the selected combination"),
        ]);
        let (_, _, right, bottom) = plot.area();
        plot.svg.text(
            (right - 8.0, bottom - 8.0),
            "end",
            "note",
            &format!(
                "dashed: test = train{}",
                if missing > 0 {
                    format!("; {missing} n/a not drawn")
                } else {
                    String::new()
                }
            ),
        );
        plot.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_ticks_fall_on_new_year_every_few_years() {
        let axis = date_axis(
            NaiveDate::from_ymd_opt(1990, 12, 27).unwrap(),
            NaiveDate::from_ymd_opt(2022, 12, 28).unwrap(),
        );
        let labels: Vec<&str> = axis.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["1995", "2000", "2005", "2010", "2015", "2020"]);
    }
}
