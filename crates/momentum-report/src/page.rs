//! The HTML page: the sections in order, their tables and the plain-language readings, the
//! charts of [`crate::charts`] inline, and the style sheet. No script, no external reference.

use std::fmt::Write as _;

use momentum_engine::{ComboResult, EngineError, GridRows, Metrics, SearchMethod, WindowName};
use momentum_scanner::promotion::GateResult;

use crate::Report;
use crate::charts::{self, GridMaps};
use crate::colour::signed;
use crate::series::monthly_returns;
use crate::svg::escape;
use crate::{Live, MonitorStatus};

/// Every section's id, in page order: what a DOM check looks for.
pub const SECTIONS: [&str; 8] = [
    "summary",
    "equity",
    "monthly",
    "rolling",
    "distribution",
    "grid",
    "costs",
    "live",
];

const STYLE: &str = "\
:root{color-scheme:light}\
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#1a1a1a;\
background:#fff;margin:0 auto;max-width:1000px;padding:12px 16px 40px}\
h1{font-size:1.5em;margin:.4em 0 .1em}h2{font-size:1.2em;margin:1.6em 0 .4em;border-bottom:2px solid #0072b2}\
h3{font-size:1em;margin:1em 0 .3em}p{margin:.4em 0}.sub{color:#555}\
nav{font-size:.9em;margin:.6em 0}nav a{margin-right:.8em;color:#0060a0}\
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.4em 0;font-variant-numeric:tabular-nums}\
th,td{padding:3px 7px;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}\
th:first-child,td:first-child{text-align:left}thead th{border-bottom:2px solid #999}td[rowspan]{vertical-align:top;text-align:left;white-space:normal}tr.baseline td{color:#555}th.left{text-align:left}\
td.reading{text-align:left;white-space:normal;min-width:16em}\
.pass{color:#005a9c;font-weight:600}.fail{color:#b34700;font-weight:600}\
table.months td{min-width:2.6em}\
figure{margin:0;overflow-x:auto}svg.chart{width:100%;min-width:520px;height:auto;display:block;margin:.3em 0 1em}svg.chart.heatmap,svg.chart.legend-bar{min-width:330px}\
svg text{font-family:system-ui,'DejaVu Sans',sans-serif;fill:#1a1a1a}\
svg .ct{font-size:15px;font-weight:600}svg .tick{font-size:11px;fill:#444}svg .axis{font-size:12.5px}\
svg .legend,svg .note{font-size:11.5px}svg .cell{font-size:11px}svg .cell.light{fill:#fff}\
svg .grid{stroke:#e6e6e6;stroke-width:1}svg .frame{stroke:#888;stroke-width:1}\
svg .split{stroke:#333;stroke-width:1.2;stroke-dasharray:5 4}svg .zero{stroke:#777;stroke-width:1}\
svg .tickmark{stroke:#444}svg .dots{stroke-width:5;stroke-linecap:round;stroke-opacity:.35;fill:none}\
svg .selected-outer{stroke:#000;stroke-width:3.5}svg .selected-inner{stroke:#fff;stroke-width:1.5}\
svg.legend-bar{max-width:440px}.pair{display:flex;flex-wrap:wrap;gap:0 16px}.pair>svg.chart{flex:1 1 380px;width:auto;min-width:0;max-width:100%}\
.muted{color:#666;font-style:italic}";

/// The page of `report`.
pub(crate) fn render(report: &Report<'_>) -> String {
    let e = report.experiment;
    let p = e.params;
    let mut out = String::with_capacity(64 * 1024);
    let title = format!(
        "Momentum tear sheet: L={} S={} H={} K={}",
        p.lookback, p.skip, p.holding, p.top_k
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\
         <p class=\"sub\">{} tickers, {} to {}; {}.</p>\n<nav>",
        escape(&title),
        escape(&title),
        e.data.tickers,
        e.data.start,
        e.data.end,
        escape(&report.origin)
    );
    for (id, name) in SECTIONS.iter().zip([
        "Summary",
        "Equity",
        "Monthly returns",
        "Rolling",
        "Distribution",
        "Grid",
        "Costs",
        "Live",
    ]) {
        let _ = write!(out, "<a href=\"#{id}\">{name}</a>");
    }
    out.push_str("</nav>\n");
    summary(&mut out, report);
    curves(&mut out, report);
    grid(&mut out, report);
    costs(&mut out, report);
    live(&mut out, report.live.as_ref());
    out.push_str(
        "<p class=\"muted\">How to read each chart: docs/reports.md in the momentum \
         repository.</p>\n</body></html>\n",
    );
    out
}

/// A number with `decimals` decimals, `n/a` when it could not be computed.
pub(crate) fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "n/a".to_owned()
    }
}

/// A fraction as a percentage with one decimal (`0.1234` is `12.3 %`), `n/a` when it could
/// not be computed.
pub(crate) fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1} %", v * 100.0)
    } else {
        "n/a".to_owned()
    }
}

fn section(out: &mut String, id: &str, heading: &str) {
    let _ = writeln!(out, "<section id=\"{id}\"><h2>{heading}</h2>");
}

fn metric_cells(out: &mut String, m: &Metrics) {
    let _ = write!(
        out,
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
        pct(m.total_roi),
        pct(m.cagr),
        num(m.sharpe, 2),
        pct(m.max_drawdown),
        pct(m.volatility)
    );
}

fn summary(out: &mut String, report: &Report<'_>) {
    let e = report.experiment;
    let p = e.params;
    let s = &e.selection;
    section(out, "summary", "Summary");
    let _ = writeln!(
        out,
        "<h3>Selected parameters</h3><div class=\"scroll\"><table><thead><tr><th>lookback L\
         </th><th>skip S</th><th>holding H</th><th>top_k K</th><th>cost (bps)</th>\
         <th>objective</th><th>combinations tried</th></tr></thead><tbody><tr><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>train {}</td><td>{}{}</td></tr>\
         </tbody></table></div>",
        p.lookback,
        p.skip,
        p.holding,
        p.top_k,
        p.cost_bps,
        s.objective,
        s.trials,
        if s.dropped > 0 {
            format!(" ({} with skip &ge; lookback left out)", s.dropped)
        } else {
            String::new()
        }
    );
    out.push_str(
        "<h3>Strategy against buy and hold</h3><div class=\"scroll\"><table><thead><tr>\
         <th>window</th><th>period</th><th>series</th><th>total return</th><th>CAGR</th>\
         <th>Sharpe</th><th>max drawdown</th><th>volatility</th></tr></thead><tbody>",
    );
    let mut rows: Vec<(String, String, &Metrics, &Metrics)> = e
        .windows
        .iter()
        .map(|(name, w)| {
            let label = match name {
                WindowName::Train => "train (in sample)",
                WindowName::Test => "test (out of sample)",
                WindowName::Full => "full (no split)",
            };
            (
                label.to_owned(),
                format!("{} to {}", w.start, w.end),
                &w.strategy,
                &w.baseline,
            )
        })
        .collect();
    if let Some(wf) = &e.walk_forward
        && let (Some(first), Some(last)) = (wf.folds.first(), wf.folds.last())
    {
        rows.push((
            format!("walk-forward, {} folds (out of sample)", wf.folds.len()),
            format!("{} to {}", first.test_start, last.test_end),
            &wf.stitched,
            &wf.baseline,
        ));
    }
    for (label, period, strategy, baseline) in rows {
        let _ = write!(
            out,
            "<tr><td rowspan=\"2\">{label}</td><td rowspan=\"2\">{period}</td>\
             <td>strategy</td>"
        );
        metric_cells(out, strategy);
        out.push_str("</tr><tr class=\"baseline\"><td>buy and hold</td>");
        metric_cells(out, baseline);
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>\n");
    if let Some(cpcv) = &e.cpcv {
        let paths = &cpcv.paths;
        let _ = writeln!(
            out,
            "<p>Combinatorial purged cross-validation: {} out-of-sample paths ({} groups, {} \
             tested at a time): Sharpe ratio mean {} (std {}), 5&ndash;95 % range {} to {}, \
             {} of the paths below 0.</p>",
            cpcv.path_sharpes.len(),
            cpcv.spec.groups,
            cpcv.spec.test_groups,
            num(paths.mean, 2),
            num(paths.std, 2),
            num(paths.q05, 2),
            num(paths.q95, 2),
            pct(paths.below_zero)
        );
    }
    out.push_str(
        "<h3>Is the winner luck?</h3><div class=\"scroll\"><table><thead><tr><th>statistic\
         </th><th>value</th><th class=\"left\">what it says</th></tr></thead><tbody>",
    );
    for (name, value, reading) in readings(report) {
        let _ = write!(
            out,
            "<tr><td>{name}</td><td>{value}</td><td class=\"reading\">{}</td></tr>",
            escape(&reading)
        );
    }
    out.push_str("</tbody></table></div>\n<h3>Promotion gates</h3>");
    match &report.gates {
        None => out.push_str(
            "<p class=\"muted\">Not judged: the gates hold the candidate to its test window, \
             and this backtest has none (--no-split).</p>",
        ),
        Some(gates) => gate_table(out, gates),
    }
    out.push_str("</section>\n");
}

/// PSR, DSR and PBO with their values and a one-sentence reading each.
fn readings(report: &Report<'_>) -> Vec<(&'static str, String, String)> {
    let s = &report.experiment.selection;
    let psr = if !s.psr.is_finite() {
        "Could not be computed (too few returns or no spread).".to_owned()
    } else {
        format!(
            "The probability that the winner's true Sharpe ratio is above 0, given {} daily \
             train returns with their skew and fat tails: {}",
            s.n,
            if s.psr >= 0.95 {
                "strong evidence that the train result is not a fluke."
            } else if s.psr >= 0.5 {
                "some evidence, but the record is too short or noisy to be sure."
            } else {
                "no evidence of a positive Sharpe ratio."
            }
        )
    };
    let dsr = if !s.dsr.is_finite() {
        "Could not be computed (too few returns or no spread).".to_owned()
    } else {
        format!(
            "The same probability measured against the best Sharpe ratio that {} luck-only \
             combinations would reach: {}",
            s.trials,
            if s.dsr >= 0.95 {
                "the winner clearly beats what trying that many combinations produces by luck."
            } else if s.dsr >= 0.5 {
                "the winner is probably better than luck, but not clearly."
            } else {
                "the winner is no better than the best of that many lucky draws."
            }
        )
    };
    let (pbo_value, pbo) = match &s.pbo {
        Some(pbo) if pbo.pbo.is_finite() => (
            num(pbo.pbo, 3),
            format!(
                "The probability that the combination best on one half of the train days ranks \
                 below the median on the other half ({} splits of {} blocks): {}",
                pbo.splits,
                pbo.blocks,
                if pbo.pbo <= 0.1 {
                    "low, the selection holds up on data it did not see."
                } else if pbo.pbo <= 0.5 {
                    "moderate, look for a broad plateau in the heatmaps below."
                } else {
                    "high, the selection is more likely overfitted than not."
                }
            ),
        ),
        _ => (
            "n/a".to_owned(),
            "Not computed: it needs at least two combinations and enough train days for its \
             blocks."
                .to_owned(),
        ),
    };
    vec![
        ("PSR", num(s.psr, 3), psr),
        ("DSR", num(s.dsr, 3), dsr),
        ("PBO", pbo_value, pbo),
    ]
}

fn gate_table(out: &mut String, gates: &[GateResult]) {
    let passed = gates.iter().all(|g| g.passed);
    let _ = write!(
        out,
        "<p>The candidate {} <code>momentum promote</code>'s gates.</p>\
         <div class=\"scroll\"><table><thead><tr><th>gate</th><th>value</th><th>rule</th>\
         <th>result</th></tr></thead><tbody>",
        if passed {
            "<span class=\"pass\">passes</span>"
        } else {
            "<span class=\"fail\">fails</span>"
        }
    );
    for g in gates {
        let (class, word) = if g.passed {
            ("pass", "pass")
        } else {
            ("fail", "FAIL")
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td class=\"{class}\">{word}</td></tr>",
            escape(g.gate),
            num(g.value, 3),
            escape(g.rule),
            num(g.threshold, 3)
        );
    }
    out.push_str("</tbody></table></div>\n");
}

fn figure(out: &mut String, name: &str, svg: &str) {
    let _ = writeln!(out, "<figure data-chart=\"{name}\">{svg}</figure>");
}

fn curves(out: &mut String, report: &Report<'_>) {
    let curve = report.curve;
    let enough = curve.points.len() >= 2;
    let short = "<p class=\"muted\">n/a: the equity curve has fewer than two days.</p>\n";
    section(out, "equity", "Equity and drawdown");
    if enough {
        figure(out, "equity", &charts::equity(curve));
        figure(out, "underwater", &charts::underwater(curve));
    } else {
        out.push_str(short);
    }
    out.push_str("</section>\n");
    section(out, "monthly", "Monthly returns of the strategy (%)");
    if enough {
        monthly_table(out, report);
    } else {
        out.push_str(short);
    }
    out.push_str("</section>\n");
    section(
        out,
        "rolling",
        "Rolling one-year Sharpe ratio and volatility",
    );
    match charts::rolling_charts(curve).filter(|_| enough) {
        Some((sharpe, volatility)) => {
            figure(out, "rolling-sharpe", &sharpe);
            figure(out, "rolling-volatility", &volatility);
        }
        None => out.push_str(
            "<p class=\"muted\">n/a: the equity curve is shorter than one year (252 trading \
             days).</p>\n",
        ),
    }
    out.push_str("</section>\n");
    section(out, "distribution", "Distribution of daily returns");
    match charts::distribution(curve).filter(|_| enough) {
        Some(svg) => figure(out, "distribution", &svg),
        None => {
            out.push_str("<p class=\"muted\">n/a: fewer than two distinct daily returns.</p>\n")
        }
    }
    out.push_str("</section>\n");
}

fn monthly_table(out: &mut String, report: &Report<'_>) {
    let points = &report.curve.points;
    let dates: Vec<_> = points.iter().map(|p| p.date).collect();
    let values: Vec<f64> = points.iter().map(|p| p.strategy).collect();
    let months = monthly_returns(&dates, &values);
    out.push_str(
        "<div class=\"scroll\"><table class=\"months\" data-chart=\"monthly\"><thead><tr>\
         <th>year</th>",
    );
    for m in [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ] {
        let _ = write!(out, "<th>{m}</th>");
    }
    out.push_str("<th>year</th></tr></thead><tbody>");
    let mut k = 0;
    while k < months.len() {
        let year = months[k].year;
        let mut row = [None; 12];
        let mut compounded = 1.0;
        while k < months.len() && months[k].year == year {
            let m = months[k];
            row[m.month as usize - 1] = Some(m.value);
            compounded *= 1.0 + m.value;
            k += 1;
        }
        let _ = write!(out, "<tr><td>{year}</td>");
        for cell in row {
            match cell {
                Some(r) => {
                    let _ = write!(
                        out,
                        "<td style=\"background:{}\">{}</td>",
                        signed(r, 0.10),
                        num(r * 100.0, 1)
                    );
                }
                None => out.push_str("<td></td>"),
            }
        }
        let total = compounded - 1.0;
        let _ = write!(
            out,
            "<td style=\"background:{}\"><b>{}</b></td></tr>",
            signed(total, 0.40),
            num(total * 100.0, 1)
        );
    }
    out.push_str(
        "</tbody></table></div><p class=\"sub\">Blue: a gain, orange: a loss, deeper for \
         larger moves (full at 10 % a month, 40 % a year); the year compounds its months. \
         The curve runs through the train and then the test window.</p>\n",
    );
}

fn grid(out: &mut String, report: &Report<'_>) {
    let e = report.experiment;
    section(out, "grid", "The parameter grid");
    match e.grid.len() {
        0 => out.push_str(
            "<p class=\"muted\">No grid in this report: the run recorded no grid table.</p>\n",
        ),
        1 => out.push_str(
            "<p class=\"muted\">No grid: this backtest evaluated one combination (--no-grid), \
             so there is no plateau or spike to see and no decay to measure.</p>\n",
        ),
        n => {
            let drawn = match drawn_rows(&e.grid, e.grid_rank) {
                Ok(drawn) => drawn,
                Err(err) => {
                    let _ = writeln!(
                        out,
                        "<p class=\"muted\">The grid's rows could not be read: {}.</p>",
                        escape(&err.to_string())
                    );
                    out.push_str("</section>\n");
                    return;
                }
            };
            let maps = GridMaps::new(&drawn.rows, drawn.selected);
            if drawn.rows.len() == n {
                let _ = writeln!(
                    out,
                    "<p>Sharpe ratio of each of the {n} combinations, train on the left and \
                     test on the right, one pair per portfolio size and skip; the selected \
                     combination is outlined. A winner on a broad plateau of similar colours \
                     is robust; a lonely bright cell is the mark of overfitting.</p>"
                );
            } else if drawn.rows.is_empty() {
                let _ = writeln!(
                    out,
                    "<p class=\"muted\">The grid's {n} combinations are too many to draw \
                     (more than {MAX_DRAWN_ROWS}, even the selected portfolio size and skip \
                     alone): they are all in <code>grid.csv</code> and the tracked \
                     <code>grid.parquet</code> (<code>momentum runs grid</code>).</p>"
                );
                out.push_str("</section>\n");
                return;
            } else {
                let _ = writeln!(
                    out,
                    "<p>The grid's {n} combinations are too many for one page (more than \
                     {MAX_DRAWN_ROWS}): drawn are the {} of the selected portfolio size and \
                     skip, train on the left and test on the right, the selected combination \
                     outlined. All are in <code>grid.csv</code> and the tracked \
                     <code>grid.parquet</code> (<code>momentum runs grid</code>).</p>",
                    drawn.rows.len()
                );
            }
            if let (SearchMethod::Tpe, Some(seed), Some(batch)) =
                (e.search.method, e.search.seed, e.search.batch)
            {
                let _ = writeln!(
                    out,
                    "<p>These combinations are the trials of a TPE search (seed {seed}, batches \
                     of {batch}{}), scattered over the ranges: the heatmaps below show the \
                     selected trial's portfolio size and skip only, their cells the trials tried \
                     there (blank where none was). The search in the order it tried them, with \
                     the best train {} so far; a line still climbing at the right had too few \
                     trials. Every trial is in <code>search.csv</code>, and the DSR and PBO \
                     above count them all.</p>",
                    e.search
                        .space
                        .map(|space| format!(", of {space} valid combinations"))
                        .unwrap_or_default(),
                    e.selection.objective
                );
                figure(out, "search", &maps.convergence(e.selection.objective));
            }
            // A search's trials scatter over many (top_k, skip) panels: only the selected
            // trial's is drawn.
            let only = match (e.search.method, drawn.selected) {
                (SearchMethod::Tpe, Some(i)) => {
                    let p = drawn.rows[i].params;
                    Some((p.top_k, p.skip))
                }
                _ => None,
            };
            figure(out, "heatmap-legend", &maps.legend());
            for panel in maps
                .panels()
                .filter(|panel| only.is_none_or(|only| only == *panel))
            {
                let _ = write!(
                    out,
                    "<h3>top_k = {}, skip = {}</h3><div class=\"pair\" data-chart=\"heatmap\">",
                    panel.0, panel.1
                );
                out.push_str(&maps.heatmap(panel, false));
                if maps.has_test() {
                    out.push_str(&maps.heatmap(panel, true));
                }
                out.push_str("</div>\n");
            }
            if maps.has_test() {
                figure(out, "train-vs-test", &maps.train_vs_test());
            } else {
                out.push_str(
                    "<p class=\"muted\">No test window (--no-split): no test heatmaps and no \
                     train-against-test plot.</p>\n",
                );
            }
        }
    }
    out.push_str("</section>\n");
}

/// The most grid rows the heatmaps and the scatter draw: about 6 MB of page.
pub(crate) const MAX_DRAWN_ROWS: usize = 20_000;

/// The rows the grid section draws and the selected one's place among them.
struct Drawn {
    rows: Vec<ComboResult>,
    selected: Option<usize>,
}

/// The rows to draw, read a chunk at a time: every row of a grid of at most
/// [`MAX_DRAWN_ROWS`]; of a larger one, the rows of the selected combination's top_k and skip
/// (its own heatmaps), or none when those are too many as well or no row is selected.
fn drawn_rows(grid: &GridRows, selected: usize) -> Result<Drawn, EngineError> {
    let mut drawn = Drawn {
        rows: Vec::new(),
        selected: None,
    };
    let panel = if grid.len() <= MAX_DRAWN_ROWS {
        None
    } else if selected < grid.len() {
        let winner = grid.get(selected)?.params;
        Some((winner.top_k, winner.skip))
    } else {
        // No selected row (a table that marks none): no panel to choose.
        return Ok(drawn);
    };
    for chunk in grid.chunks() {
        let chunk = chunk?;
        for (r, c) in chunk.rows.iter().enumerate() {
            if panel.is_some_and(|panel| panel != (c.params.top_k, c.params.skip)) {
                continue;
            }
            if drawn.rows.len() == MAX_DRAWN_ROWS {
                return Ok(Drawn {
                    rows: Vec::new(),
                    selected: None,
                });
            }
            if chunk.first + r == selected {
                drawn.selected = Some(drawn.rows.len());
            }
            drawn.rows.push(*c);
        }
    }
    Ok(drawn)
}

fn costs(out: &mut String, report: &Report<'_>) {
    let e = report.experiment;
    let bps = e.params.cost_bps;
    section(out, "costs", "Turnover and cost drag");
    out.push_str(
        "<div class=\"scroll\"><table><thead><tr><th>window</th><th>trades</th>\
         <th>turnover (&times; value a year)</th><th>cost (bps per unit traded)</th>\
         <th>cost drag (% a year)</th><th>CAGR after costs</th></tr></thead><tbody>",
    );
    let mut rows: Vec<(String, Metrics)> = e
        .windows
        .iter()
        .map(|(name, w)| (name.to_string(), w.strategy))
        .collect();
    if let Some(wf) = &e.walk_forward {
        rows.push(("walk-forward".to_owned(), wf.stitched));
    }
    for (name, m) in rows {
        let _ = write!(
            out,
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{bps}</td><td>{}</td><td>{}</td></tr>",
            m.num_trades,
            num(m.turnover, 2),
            pct(m.turnover * bps / 1e4),
            pct(m.cagr)
        );
    }
    out.push_str(
        "</tbody></table></div><p class=\"sub\">Cost drag: the annual turnover times the cost \
         of trading one unit of value, about what the costs take off the return each year.\
         </p></section>\n",
    );
}

fn live(out: &mut String, live: Option<&Live>) {
    section(out, "live", "Latest picks and monitor");
    let Some(live) = live else {
        out.push_str(
            "<p class=\"muted\">Left out of this report (--report-no-live): the picks and the \
             monitor are other pipeline stages' outputs.</p></section>\n",
        );
        return;
    };
    match &live.picks {
        None => out.push_str(
            "<p class=\"muted\">No picks: <code>momentum scan</code> has not written its file.</p>\n",
        ),
        Some(picks) => {
            let p = picks.params;
            let _ = write!(
                out,
                "<h3>Picks as of {}</h3><p>Model version {}, L={} S={} H={} K={}.</p>\
                 <div class=\"scroll\"><table><thead><tr><th>rank</th><th>ticker</th>\
                 <th>score</th><th>target weight</th><th>last close</th></tr></thead><tbody>",
                picks.as_of,
                escape(if picks.model_version.is_empty() {
                    "(candidate)"
                } else {
                    &picks.model_version
                }),
                p.lookback,
                p.skip,
                p.holding,
                p.top_k
            );
            for pick in picks.picks.iter().filter(|p| p.selected) {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    pick.rank.map_or_else(|| "n/a".to_owned(), |r| r.to_string()),
                    escape(&pick.ticker),
                    pick.score.map_or_else(|| "n/a".to_owned(), pct),
                    pct(pick.target_weight),
                    pick.last_close.map_or_else(|| "n/a".to_owned(), |c| num(c, 2))
                );
            }
            out.push_str("</tbody></table></div>\n");
        }
    }
    match &live.monitor {
        None => out.push_str(
            "<p class=\"muted\">No monitor status: <code>momentum monitor</code> has not \
             written its file.</p>\n",
        ),
        Some(m) => monitor(out, m),
    }
    out.push_str("</section>\n");
}

fn monitor(out: &mut String, m: &MonitorStatus) {
    let _ = write!(
        out,
        "<h3>Monitor as of {}</h3><p>Model version {}: {}</p><div class=\"scroll\"><table>\
         <thead><tr><th>check</th><th>value</th><th>threshold</th><th>result</th>\
         <th class=\"left\">detail</th></tr></thead><tbody>",
        m.as_of,
        escape(&m.model_version),
        if m.retrain_recommended {
            "<span class=\"fail\">retraining recommended</span>."
        } else {
            "<span class=\"pass\">no drift found</span>."
        }
    );
    for c in &m.checks {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td>\
             <td class=\"reading\">{}</td></tr>",
            escape(&c.name),
            c.value.map_or_else(|| "n/a".to_owned(), |v| num(v, 3)),
            c.threshold.map_or_else(|| "n/a".to_owned(), |v| num(v, 3)),
            if c.breached { "fail" } else { "pass" },
            if c.breached { "breached" } else { "ok" },
            escape(&c.detail)
        );
    }
    out.push_str("</tbody></table></div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_that_could_not_be_computed_reads_n_a() {
        assert_eq!(num(f64::NAN, 2), "n/a");
        assert_eq!(num(f64::INFINITY, 2), "n/a");
        assert_eq!(num(1.23456, 2), "1.23");
        assert_eq!(pct(0.1234), "12.3 %");
        assert_eq!(pct(f64::NAN), "n/a");
    }
}
