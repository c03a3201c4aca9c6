//! A small SVG writer and the plot frame every chart shares: axes with ticks, labels and a
//! title, mapping data to pixels on a linear or a log scale.
//!
//! Hand-written rather than through `plotters`' SVG backend: the report needs a few shapes,
//! inline in HTML, with text the browser renders (readable at any zoom, selectable, and found
//! by a DOM check), and coordinates rounded to keep a 9,000-cell grid small.

use std::fmt::Write as _;

/// `text` with the five XML special characters escaped, for element content and attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One SVG element tree being written, `width` x `height` user units (it scales to its
/// container: the viewBox keeps the proportions).
pub(crate) struct Svg {
    out: String,
}

impl Svg {
    /// An SVG with `title` as its accessible name (`<title>`) and as the heading drawn at its
    /// top, and `class` (the CSS class the page styles it by).
    pub(crate) fn new(width: f64, height: f64, title: &str, class: &str) -> Self {
        let title = escape(title);
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg class=\"{class}\" viewBox=\"0 0 {width} \
             {height}\" role=\"img\" aria-label=\"{title}\"><title>{title}</title>\
             <text class=\"ct\" x=\"{}\" y=\"20\" text-anchor=\"middle\">{title}</text>",
            width / 2.0
        );
        Self { out }
    }

    /// A line segment; `class` styles it.
    pub(crate) fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), class: &str) {
        let _ = write!(
            self.out,
            "<line class=\"{class}\" x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\"/>"
        );
    }

    /// A polyline through `points`, stroked in `colour`.
    pub(crate) fn polyline(&mut self, points: &[(f64, f64)], colour: &str, width: f64) {
        self.out.push_str("<polyline fill=\"none\" points=\"");
        push_points(&mut self.out, points);
        let _ = write!(
            self.out,
            "\" stroke=\"{colour}\" stroke-width=\"{width}\" stroke-linejoin=\"round\"/>"
        );
    }

    /// A closed, filled polygon through `points`.
    pub(crate) fn polygon(&mut self, points: &[(f64, f64)], fill: &str, opacity: f64) {
        self.out.push_str("<polygon points=\"");
        push_points(&mut self.out, points);
        let _ = write!(
            self.out,
            "\" fill=\"{fill}\" fill-opacity=\"{opacity}\" stroke=\"none\"/>"
        );
    }

    /// A filled rectangle (`extra` is written into the element as it is: a stroke, a class).
    pub(crate) fn rect(&mut self, (x, y): (f64, f64), (w, h): (f64, f64), fill: &str, extra: &str) {
        let _ = write!(
            self.out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{fill}\"{extra}/>"
        );
    }

    /// A circle of radius `r`.
    pub(crate) fn circle(&mut self, (x, y): (f64, f64), r: f64, fill: &str, extra: &str) {
        let _ = write!(
            self.out,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\" fill=\"{fill}\"{extra}/>"
        );
    }

    /// Text at `(x, y)`, anchored `start`, `middle` or `end`, styled by `class`.
    pub(crate) fn text(&mut self, (x, y): (f64, f64), anchor: &str, class: &str, text: &str) {
        let _ = write!(
            self.out,
            "<text class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{}</text>",
            escape(text)
        );
    }

    /// Text turned 90 degrees counter-clockwise about `(x, y)` (a y-axis label).
    pub(crate) fn vertical_text(&mut self, (x, y): (f64, f64), class: &str, text: &str) {
        let _ = write!(
            self.out,
            "<text class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" \
             transform=\"rotate(-90 {x:.1} {y:.1})\">{}</text>",
            escape(text)
        );
    }

    /// Markup written as it is (a `<defs>` block, a group).
    pub(crate) fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
    }

    /// The finished `<svg>` element.
    pub(crate) fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

fn push_points(out: &mut String, points: &[(f64, f64)]) {
    for (i, (x, y)) in points.iter().enumerate() {
        let sep = if i == 0 { "" } else { " " };
        let _ = write!(out, "{sep}{x:.1},{y:.1}");
    }
}

/// One axis of a plot: its data range, scale, ticks (value and label) and title with units.
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) log: bool,
    pub(crate) ticks: Vec<(f64, String)>,
    pub(crate) label: String,
}

impl Axis {
    /// A linear axis over `[lo, hi]` with about `count` round ticks.
    pub(crate) fn linear((lo, hi): (f64, f64), count: usize, label: &str) -> Self {
        let (lo, hi) = if lo < hi {
            (lo, hi)
        } else {
            (lo - 0.5, hi + 0.5)
        };
        let ticks = nice_ticks(lo, hi, count)
            .into_iter()
            .map(|v| (v, format_tick(v)))
            .collect();
        Self {
            lo,
            hi,
            log: false,
            ticks,
            label: label.to_owned(),
        }
    }

    /// A log axis over `[lo, hi]` (both positive), ticked at 1, 2 and 5 times the powers of
    /// ten inside it.
    pub(crate) fn log(lo: f64, hi: f64, label: &str) -> Self {
        let (lo, hi) = if lo > 0.0 && lo < hi {
            (lo, hi)
        } else {
            (0.5, 2.0)
        };
        Self {
            lo,
            hi,
            log: true,
            ticks: log_ticks(lo, hi)
                .into_iter()
                .map(|v| (v, format_tick(v)))
                .collect(),
            label: label.to_owned(),
        }
    }

    /// Where `value` falls on the axis, 0 at `lo` and 1 at `hi`.
    pub(crate) fn fraction(&self, value: f64) -> f64 {
        if self.log {
            (value.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (value - self.lo) / (self.hi - self.lo)
        }
    }
}

/// About `count` round values (1, 2, 2.5 or 5 times a power of ten apart) in `[lo, hi]`.
pub(crate) fn nice_ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || count == 0 {
        return Vec::new();
    }
    #[expect(clippy::cast_precision_loss, reason = "a handful of ticks")]
    let raw = (hi - lo) / count as f64;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let first = (lo / step).ceil();
    let last = (hi / step).floor();
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "last >= first, and at most a few dozen steps"
    )]
    let n = (last - first) as usize;
    // Multiplying a whole number of steps avoids accumulating 0.1 + 0.2 errors.
    (0..=n)
        .map(|k| {
            #[expect(clippy::cast_precision_loss, reason = "a handful of ticks")]
            let v = (first + k as f64) * step;
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect()
}

/// 1, 2 and 5 times the powers of ten in `[lo, hi]`; the powers alone when the range spans
/// more than three of them.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    let multiples: &[f64] = if last - first > 3 {
        &[1.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    (first..=last)
        .flat_map(|p| multiples.iter().map(move |m| m * 10f64.powi(p)))
        .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
        .collect()
}

/// A tick value to four decimals without trailing zeros: `0.5`, `2`, `1000` (and `0.6`
/// for the `0.6000000000000001` that adding steps gives).
pub(crate) fn format_tick(value: f64) -> String {
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// The plotting area inside an SVG: margins left for the axes, and the two axes.
pub(crate) struct Plot {
    pub(crate) svg: Svg,
    pub(crate) x: Axis,
    pub(crate) y: Axis,
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

/// Width of every line chart, in SVG user units (pixels at 100 %): narrow enough that its
/// text stays readable when a phone shows it at its smallest (520 px, scrolled sideways).
pub(crate) const WIDTH: f64 = 640.0;

impl Plot {
    /// A `height`-unit chart titled `title`, with its frame, grid lines, ticks and the axes'
    /// titles drawn.
    pub(crate) fn new(title: &str, height: f64, x: Axis, y: Axis) -> Self {
        let (left, top, right, bottom) = (72.0, 50.0, WIDTH - 16.0, height - 46.0);
        let mut plot = Self {
            svg: Svg::new(WIDTH, height, title, "chart"),
            x,
            y,
            left,
            top,
            right,
            bottom,
        };
        for (value, label) in plot.y.ticks.clone() {
            let py = plot.py(value);
            plot.svg.line((left, py), (right, py), "grid");
            plot.svg.text((left - 6.0, py + 4.0), "end", "tick", &label);
        }
        for (value, label) in plot.x.ticks.clone() {
            let px = plot.px(value);
            plot.svg.line((px, top), (px, bottom), "grid");
            plot.svg.text((px, bottom + 16.0), "middle", "tick", &label);
        }
        plot.svg.rect(
            (left, top),
            (right - left, bottom - top),
            "none",
            " class=\"frame\"",
        );
        let x_label = plot.x.label.clone();
        let y_label = plot.y.label.clone();
        plot.svg.text(
            ((left + right) / 2.0, height - 8.0),
            "middle",
            "axis",
            &x_label,
        );
        plot.svg
            .vertical_text((16.0, (top + bottom) / 2.0), "axis", &y_label);
        plot
    }

    /// The pixel column of `x`.
    pub(crate) fn px(&self, x: f64) -> f64 {
        self.left + self.x.fraction(x) * (self.right - self.left)
    }

    /// The pixel row of `y`.
    pub(crate) fn py(&self, y: f64) -> f64 {
        self.bottom - self.y.fraction(y) * (self.bottom - self.top)
    }

    /// The pixel bounds of the plotting area: left, top, right, bottom.
    pub(crate) fn area(&self) -> (f64, f64, f64, f64) {
        (self.left, self.top, self.right, self.bottom)
    }

    /// `points` (data coordinates) in pixels, thinned to at most four per pixel column (the
    /// first, lowest, highest and last), which draws the same line as all of them.
    pub(crate) fn path(&self, points: impl IntoIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
        thin(
            points
                .into_iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|(x, y)| (self.px(x), self.py(y))),
        )
    }

    /// A legend entry per `(colour, label)` in one row between the title and the plotting
    /// area, where it never hides a line.
    pub(crate) fn legend(&mut self, entries: &[(&str, &str)]) {
        let (mut x, y) = (self.left, self.top - 10.0);
        for (colour, label) in entries {
            self.svg.rect(
                (x, y - 9.0),
                (14.0, 10.0),
                colour,
                " stroke=\"#333\" stroke-width=\"0.5\"",
            );
            self.svg.text((x + 18.0, y), "start", "legend", label);
            // About 6.5 units a character at the legend's 11.5 px.
            #[expect(clippy::cast_precision_loss, reason = "a short label")]
            let width = 6.5 * label.chars().count() as f64;
            x += 18.0 + width + 18.0;
        }
    }

    /// The finished `<svg>`.
    pub(crate) fn finish(self) -> String {
        self.svg.finish()
    }
}

/// Pixel points thinned per pixel column (rounded x) to the first, lowest, highest and last of
/// the column, in their order: a line through them looks like the line through all of them.
pub(crate) fn thin(points: impl IntoIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut column: Vec<(f64, f64)> = Vec::new();
    let flush = |column: &mut Vec<(f64, f64)>, out: &mut Vec<(f64, f64)>| {
        if column.is_empty() {
            return;
        }
        let lowest = column
            .iter()
            .copied()
            .fold(column[0], |a, b| if b.1 > a.1 { b } else { a });
        let highest = column
            .iter()
            .copied()
            .fold(column[0], |a, b| if b.1 < a.1 { b } else { a });
        let (first, last) = (column[0], column[column.len() - 1]);
        let mut keep = vec![first];
        // Keep the extremes in the order they came.
        let (a, b) = if column.iter().position(|p| *p == lowest)
            < column.iter().position(|p| *p == highest)
        {
            (lowest, highest)
        } else {
            (highest, lowest)
        };
        for p in [a, b, last] {
            if keep.last() != Some(&p) {
                keep.push(p);
            }
        }
        out.extend(keep);
        column.clear();
    };
    for p in points {
        if column.first().is_some_and(|c| c.0.round() != p.0.round()) {
            flush(&mut column, &mut out);
        }
        column.push(p);
    }
    flush(&mut column, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_characters_are_escaped() {
        assert_eq!(
            escape("a<b & \"c\" > 'd'"),
            "a&lt;b &amp; &quot;c&quot; &gt; &#39;d&#39;"
        );
    }

    #[test]
    fn ticks_are_round_values_inside_the_range() {
        assert_eq!(
            nice_ticks(0.0, 1.0, 5),
            [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        // 11.1 / 5 = 2.22 rounds up to a step of 2.5; 11.1 / 4 = 2.775 to a step of 5.
        assert_eq!(nice_ticks(-3.2, 7.9, 5), [-2.5, 0.0, 2.5, 5.0, 7.5]);
        assert_eq!(nice_ticks(-3.2, 7.9, 4), [0.0, 5.0]);
        assert_eq!(nice_ticks(1.0, 1.0, 4), Vec::<f64>::new());
        assert_eq!(nice_ticks(f64::NAN, 1.0, 4), Vec::<f64>::new());
        assert_eq!(log_ticks(0.8, 30.0), [1.0, 2.0, 5.0, 10.0, 20.0]);
        assert_eq!(
            log_ticks(0.5, 20_000.0),
            [1.0, 10.0, 100.0, 1000.0, 10_000.0]
        );
        assert_eq!(format_tick(0.5), "0.5");
        assert_eq!(format_tick(1000.0), "1000");
        assert_eq!(format_tick(0.6000000000000001), "0.6");
        assert_eq!(format_tick(-0.00001), "0");
    }

    #[test]
    fn a_log_axis_puts_the_geometric_middle_in_the_middle() {
        let axis = Axis::log(1.0, 100.0, "x");
        assert!((axis.fraction(10.0) - 0.5).abs() < 1e-12);
        assert!((axis.fraction(100.0) - 1.0).abs() < 1e-12);
        let linear = Axis::linear((-1.0, 3.0), 4, "y");
        assert!((linear.fraction(0.0) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn thinning_keeps_first_extremes_and_last_of_each_column() {
        // Column 0 holds five points, column 5 one.
        let points = [
            (0.0, 5.0),
            (0.1, 9.0),
            (0.2, 1.0),
            (0.3, 4.0),
            (0.4, 6.0),
            (5.0, 2.0),
        ];
        assert_eq!(
            thin(points),
            [(0.0, 5.0), (0.1, 9.0), (0.2, 1.0), (0.4, 6.0), (5.0, 2.0)]
        );
    }
}
