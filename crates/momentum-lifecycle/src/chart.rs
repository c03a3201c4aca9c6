//! The equity chart: strategy vs buy and hold on a log scale, with a drawdown panel below.
//!
//! Drawn with `plotters` into a PNG; text uses the DejaVu Sans font embedded in the binary
//! (registered once with `plotters::style::register_font`), so no system font is needed.

use std::path::Path;
use std::sync::Once;

use chrono::NaiveDate;
use momentum_engine::{ChainedCurve, CurvePoint};
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
    register_fonts();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp.png", std::process::id()));
    let drawn = draw(&tmp, title, points, marks)
        .map_err(|e| e.to_string().into())
        .and_then(|()| std::fs::rename(&tmp, path).map_err(Into::into));
    if drawn.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    drawn
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
    let (lo, hi) = if lo < hi {
        (lo * 0.9, hi * 1.1)
    } else {
        (0.5, 2.0)
    };

    let mut chart = ChartBuilder::on(&top)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(first..last, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .y_desc("equity (log scale, start = 1)")
        .x_labels(10)
        .x_label_formatter(&day_label)
        .y_label_formatter(&|v| format!("{v:.2}"))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    let blue = RGBColor(31, 119, 180);
    let orange = RGBColor(255, 127, 14);
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
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;

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
