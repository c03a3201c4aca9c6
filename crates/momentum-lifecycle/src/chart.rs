//! The charts: strategy vs buy and hold on a log scale with a drawdown panel below, and the
//! champion against the challenger with their rolling Sharpe difference below.
//!
//! Drawn with `plotters` into a PNG; text uses the DejaVu Sans font embedded in the binary
//! (registered once with `plotters::style::register_font`), so no system font is needed.

use std::path::Path;
use std::sync::Once;

use chrono::NaiveDate;
use momentum_engine::{ChainedCurve, CurvePoint, DAYS_PER_YEAR};
use momentum_scanner::ab::Paired;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

const WIDTH: u32 = 1200;

const HEIGHT: u32 = 800;

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The registry keeps the bytes for the life of the process.
        let regular = dejavu::sans::regular();
        let bold = dejavu::sans::bold();
        let _ = register_font("sans-serif", FontStyle::Normal, regular);
        let _ = register_font("sans-serif", FontStyle::Bold, bold);
    });
}

/// Vertical lines on a chart: their legend and their days (the split, or the walk-forward's
/// parameter switches).
pub(crate) struct Marks<'a> {
    pub(crate) label: &'a str,
    pub(crate) days: &'a [NaiveDate],
}

impl<'a> Marks<'a> {
    /// The split of a chained curve, where the test window starts (none without a split).
    pub(crate) fn split(curve: &'a ChainedCurve) -> Self {
        Self {
            label: "train | test",
            days: curve.split.as_slice(),
        }
    }
}

/// Draws the curves into a PNG at `path`, `marks` as vertical lines. The image is rendered to
/// a temporary file in the same directory and renamed over `path`, so readers never see a
/// partial chart.
pub(crate) fn write_equity_chart(
    path: &Path,
    title: &str,
    points: &[CurvePoint],
    marks: &Marks<'_>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if points.len() < 2 {
        return Err("an equity chart needs at least two days".into());
    }
    render(path, |file| draw(file, title, points, marks))
}

/// Renders a PNG with `draw` into a temporary file beside `path` (its directory created when
/// missing), then renames it over `path` ([`momentum_files::write_atomic_by_path`]: the
/// temporary file of a killed render is removed by the next).
fn render(
    path: &Path,
    draw: impl FnOnce(&Path) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    register_fonts();
    // The plotting library's errors are not `Send`: their message is kept.
    momentum_files::write_atomic_by_path(path, "png", |temp| {
        draw(temp).map_err(|e| e.to_string().into())
    })
}

/// Trading days in the rolling window of the A/B chart's Sharpe difference: a quarter.
const ROLLING_DAYS: usize = 63;

/// The A/B chart (`reports/ab.png`): both books' growth of 1 on a log scale, and below it the
/// annualised Sharpe ratio of the challenger minus the champion's over the last 63 days.
/// Rendered as [`write_equity_chart`] is (a temporary file renamed over `path`).
pub(crate) fn write_ab_chart(
    path: &Path,
    paired: &Paired,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if paired.dates.len() < 2 {
        return Err("an A/B chart needs at least two days".into());
    }
    render(path, |file| draw_ab(file, paired))
}

/// The first series' colour; with [`ORANGE`], told apart by people with the common
/// colour-vision deficiencies.
const BLUE: RGBColor = RGBColor(31, 119, 180);

/// The second series' colour.
const ORANGE: RGBColor = RGBColor(255, 127, 14);

/// The most decades a log axis spans: a book that lost all but a billionth of its value (the
/// costs of a daily rebalance at thousands of basis points take it to 1e-300 and below) is
/// drawn along the bottom edge instead of stretching the axis over hundreds of decades, whose
/// mesh plotters could not finish drawing.
const LOG_AXIS_DECADES: f64 = 9.0;

/// `lo..hi` as a log axis can show it: `hi` finite and `lo` at most [`LOG_AXIS_DECADES`] below.
fn log_axis((lo, hi): (f64, f64)) -> (f64, f64) {
    let hi = hi.min(f64::MAX / 10.0);
    (lo.max(hi * 10f64.powf(-LOG_AXIS_DECADES)), hi)
}

/// The upper panel of a chart: days from `first` to `last` across, `lo..hi` on a log scale
/// up, with a mesh labelled by month and `y_desc`.
#[expect(
    clippy::type_complexity,
    reason = "plotters' chart type, spelt out once"
)]
fn log_panel<'a, 'b>(
    area: &'a DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
    (first, last): (i32, i32),
    (lo, hi): (f64, f64),
    y_desc: &str,
) -> Result<
    ChartContext<
        'a,
        BitMapBackend<'b>,
        Cartesian2d<plotters::coord::types::RangedCoordi32, LogCoord<f64>>,
    >,
    Box<dyn std::error::Error>,
> {
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(first..last, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .y_desc(y_desc)
        .x_labels(10)
        .x_label_formatter(&day_label)
        // Two decimals read best down to 0.01; below, they would all read 0.00.
        .y_label_formatter(&|v| {
            if *v >= 0.01 {
                format!("{v:.2}")
            } else {
                format!("{v:.0e}")
            }
        })
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    Ok(chart)
}

/// The legend of a [`log_panel`]'s labelled series, in its upper left corner.
fn draw_legend<'a, 'b: 'a>(
    chart: &mut ChartContext<
        'a,
        BitMapBackend<'b>,
        Cartesian2d<plotters::coord::types::RangedCoordi32, LogCoord<f64>>,
    >,
) -> Result<(), Box<dyn std::error::Error>> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}

fn draw_ab(file: &Path, paired: &Paired) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(file, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "champion vs challenger: daily returns on common days",
        ("sans-serif", 26).into_font(),
    )?;
    let (top, bottom) = root.split_vertically(HEIGHT * 62 / 100);
    let days: Vec<i32> = paired.dates.iter().map(|d| day_number(*d)).collect();
    let (first, last) = (days[0], days[days.len() - 1]);
    let growth = |returns: &[f64]| {
        let mut value = 1.0;
        returns
            .iter()
            .map(|r| {
                value *= 1.0 + r;
                value
            })
            .collect::<Vec<f64>>()
    };
    let (champion, challenger) = (growth(&paired.champion), growth(&paired.challenger));
    let (lo, hi) = champion
        .iter()
        .chain(&challenger)
        .filter(|v| **v > 0.0)
        .fold((1.0f64, 1.0f64), |(a, b), &v| (a.min(v), b.max(v)));
    let mut chart = log_panel(
        &top,
        (first, last),
        log_axis((lo * 0.95, hi * 1.05)),
        "growth of 1 (log scale)",
    )?;
    let (blue, orange) = (BLUE, ORANGE);
    for (values, colour, label) in [
        (&champion, blue, "champion"),
        (&challenger, orange, "challenger"),
    ] {
        chart
            .draw_series(LineSeries::new(
                days.iter().copied().zip(values.iter().copied()),
                colour.stroke_width(2),
            ))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    draw_legend(&mut chart)?;

    let sharpe = |returns: &[f64]| {
        #[expect(clippy::cast_precision_loss, reason = "a window of 63 days")]
        let n = returns.len() as f64;
        let mean = returns.iter().sum::<f64>() / n;
        let sd = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
        mean / sd * DAYS_PER_YEAR.sqrt()
    };
    let rolling: Vec<(i32, f64)> = (ROLLING_DAYS..=paired.dates.len())
        .map(|end| {
            let span = end - ROLLING_DAYS..end;
            let difference =
                sharpe(&paired.challenger[span.clone()]) - sharpe(&paired.champion[span]);
            (days[end - 1], difference)
        })
        .filter(|(_, d)| d.is_finite())
        .collect();
    let bound = rolling.iter().map(|(_, d)| d.abs()).fold(1.0f64, f64::max);
    let mut diff = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(first..last, -bound * 1.05..bound * 1.05)?;
    diff.configure_mesh()
        .y_desc("63-day Sharpe, challenger - champion (annualised)")
        .x_desc("date")
        .x_labels(10)
        .x_label_formatter(&day_label)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 14))
        .draw()?;
    diff.draw_series(LineSeries::new(
        vec![(first, 0.0), (last, 0.0)],
        BLACK.mix(0.5),
    ))?;
    diff.draw_series(LineSeries::new(rolling, blue.stroke_width(1)))?;
    root.present()?;
    Ok(())
}

fn day_number(d: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&d)
}

fn day_label(x: &i32) -> String {
    NaiveDate::from_num_days_from_ce_opt(*x)
        .map(|d| d.format("%Y-%m").to_string())
        .unwrap_or_default()
}

fn draw(
    file: &Path,
    title: &str,
    points: &[CurvePoint],
    marks: &Marks<'_>,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(file, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 26).into_font())?;
    let (top, bottom) = root.split_vertically(HEIGHT * 62 / 100);
    let (first, last) = (
        day_number(points[0].date),
        day_number(points[points.len() - 1].date),
    );
    let values = points
        .iter()
        .flat_map(|p| [p.strategy, p.baseline])
        .filter(|v| *v > 0.0);
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = log_axis(if lo < hi {
        (lo * 0.9, hi * 1.1)
    } else {
        (0.5, 2.0)
    });

    let mut chart = log_panel(
        &top,
        (first, last),
        (lo, hi),
        "equity (log scale, start = 1)",
    )?;
    let (blue, orange) = (BLUE, ORANGE);
    chart
        .draw_series(LineSeries::new(
            points.iter().map(|p| (day_number(p.date), p.strategy)),
            blue.stroke_width(2),
        ))?
        .label("momentum strategy")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            points.iter().map(|p| (day_number(p.date), p.baseline)),
            orange.stroke_width(2),
        ))?
        .label("buy and hold (equal weight)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], orange.stroke_width(2)));
    for (i, &d) in marks.days.iter().enumerate() {
        let line = chart.draw_series(LineSeries::new(
            vec![(day_number(d), lo), (day_number(d), hi)],
            BLACK.mix(0.5),
        ))?;
        // One legend entry for all the lines.
        if i == 0 {
            line.label(marks.label)
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.5)));
        }
    }
    draw_legend(&mut chart)?;

    let drawdown = |sel: fn(&CurvePoint) -> f64| {
        let mut peak = f64::MIN;
        points
            .iter()
            .map(|p| {
                let v = sel(p);
                peak = peak.max(v);
                (day_number(p.date), -(1.0 - v / peak) * 100.0)
            })
            .collect::<Vec<_>>()
    };
    let dd_s = drawdown(|p| p.strategy);
    let dd_b = drawdown(|p| p.baseline);
    let worst = dd_s
        .iter()
        .chain(&dd_b)
        .map(|p| p.1)
        .fold(0.0f64, f64::min)
        .min(-1.0);
    let mut dd = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(first..last, worst * 1.05..0.0)?;
    dd.configure_mesh()
        .y_desc("drawdown (%)")
        .x_desc("date")
        .x_labels(10)
        .x_label_formatter(&day_label)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    dd.draw_series(LineSeries::new(dd_s, blue.stroke_width(1)))?;
    dd.draw_series(LineSeries::new(dd_b, orange.stroke_width(1)))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use momentum_engine::WindowName;

    #[test]
    fn a_log_axis_spans_at_most_nine_decades_below_a_finite_top() {
        assert_eq!(log_axis((0.5, 2.0)), (0.5, 2.0));
        let (lo, hi) = log_axis((1e-320, 1.1));
        assert_eq!(hi, 1.1);
        assert!((lo / 1.1e-9 - 1.0).abs() < 1e-12, "{lo}");
        let (lo, hi) = log_axis((1.0, f64::INFINITY));
        assert!(hi.is_finite() && lo < hi);
    }

    /// A book that costs took to subnormal values (a daily rebalance at 2,000 basis points):
    /// the chart is drawn (plotters spun forever on a mesh over 320 decades).
    #[test]
    fn an_equity_chart_of_a_ruined_book_is_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("equity_curve.png");
        let start = NaiveDate::from_ymd_opt(2000, 1, 3).unwrap();
        let points: Vec<CurvePoint> = (0..400)
            .map(|d| CurvePoint {
                date: start + chrono::Days::new(d),
                // 1e-320 is subnormal; the last days are 0, which a log axis leaves out.
                strategy: if d < 398 {
                    0.15f64.powi(d as i32).max(1e-320)
                } else {
                    0.0
                },
                baseline: 1.0 + d as f64 / 400.0,
                window: WindowName::Full,
            })
            .collect();
        let marks = Marks {
            label: "train | test",
            days: &[start + chrono::Days::new(200)],
        };
        write_equity_chart(&path, "ruined", &points, &marks).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 1000);
    }
}
