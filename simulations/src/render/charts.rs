//! SVG charts with plotters (SVG backend only, no font files: text is left
//! to the browser, so the charts build and render on a fresh machine).
//!
//! Every chart is a `(file stem, SVG document)` pair; a chart that cannot be
//! drawn is an empty document, which the page leaves out.

use crate::montecarlo::{McReport, Stats};
use crate::report::{Report, Series};
use plotters::prelude::*;

/// A chart: a file stem (`stock` for `stock.svg`) and an SVG document.
pub(super) type Chart = (String, String);

type Res = Result<(), Box<dyn std::error::Error>>;

const W: u32 = 860;
const H: u32 = 340;

/// The line colours, in order (matplotlib's tab10 and two more).
const COLORS: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(57, 59, 121),
    RGBColor(173, 73, 74),
];

/// The colour of the `i`-th line.
fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// An axis label: no decimals for whole numbers, two otherwise.
fn number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}").trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// One line of a chart.
struct Line {
    /// Shown in the legend.
    name: String,
    /// (x, y) points, x increasing.
    points: Vec<(f64, f64)>,
}

/// A line chart as an SVG document; the first `legend_max` lines get a
/// legend entry.
fn line_chart(title: &str, x_desc: &str, y_desc: &str, lines: &[Line], legend_max: usize) -> String {
    let mut svg = String::new();
    let r: Res = (|| {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let xmax = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.0))
            .fold(0.0f64, f64::max)
            .max(1.0);
        let ymax = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max);
        let ymax = if ymax <= 0.0 { 1.0 } else { ymax * 1.08 };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .y_label_formatter(&|v| number(*v))
            .x_label_formatter(&|v| number(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, l) in lines.iter().enumerate() {
            let c = color(i);
            let s = chart.draw_series(LineSeries::new(l.points.iter().copied(), c.stroke_width(2)))?;
            if i < legend_max {
                s.label(l.name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
            }
        }
        if legend_max > 0 && !lines.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .draw()?;
        }
        root.present()?;
        Ok(())
    })();
    if r.is_err() {
        svg.clear();
    }
    svg
}

/// A bar chart of (from, to, height) bins as an SVG document.
fn bar_chart(title: &str, x_desc: &str, y_desc: &str, bins: &[(f64, f64, f64)]) -> String {
    let mut svg = String::new();
    let r: Res = (|| {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let xmin = bins.iter().map(|b| b.0).fold(f64::INFINITY, f64::min);
        let xmin = if xmin.is_finite() { xmin } else { 0.0 };
        let xmax = bins.iter().map(|b| b.1).fold(xmin + 1.0, f64::max);
        let ymax = bins.iter().map(|b| b.2).fold(0.0f64, f64::max);
        let ymax = if ymax <= 0.0 { 1.0 } else { ymax * 1.08 };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(xmin..xmax, 0f64..ymax)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .y_label_formatter(&|v| number(*v))
            .x_label_formatter(&|v| number(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        chart.draw_series(
            bins.iter()
                .map(|&(a, b, h)| Rectangle::new([(a, 0.0), (b, h)], color(0).mix(0.8).filled())),
        )?;
        root.present()?;
        Ok(())
    })();
    if r.is_err() {
        svg.clear();
    }
    svg
}

/// The x axis of a run's charts: short runs in seconds, longer ones in
/// minutes. `end(i)` is the end of interval `i` in that unit.
struct TimeAxis<'a> {
    unit: &'static str,
    per: f64,
    series: &'a Series,
}

impl TimeAxis<'_> {
    fn of(series: &Series) -> TimeAxis<'_> {
        let (unit, per) = if series.t_secs.len() as u32 * series.interval_secs <= 600 {
            ("seconds since start", 1.0)
        } else {
            ("minutes since start", 60.0)
        };
        TimeAxis { unit, per, series }
    }

    fn end(&self, i: usize) -> f64 {
        f64::from(self.series.t_secs[i] + self.series.interval_secs) / self.per
    }

    /// One line with point `i` at the end of interval `i`.
    fn line(&self, name: String, values: impl Iterator<Item = f64>) -> Line {
        Line {
            name,
            points: values.enumerate().map(|(i, v)| (self.end(i), v)).collect(),
        }
    }
}

/// The charts of one run, in page order.
pub(super) fn run_charts(r: &Report) -> Vec<Chart> {
    let s = &r.series;
    let axis = TimeAxis::of(s);
    let unit = axis.unit;
    let mut out = vec![
        ("stock".to_owned(), stock_chart(r, &axis)),
        ("claims".to_owned(), claims_chart(s, &axis)),
    ];
    let single = [
        (
            "events",
            "Events per second",
            "events/s",
            axis.line("events/s".into(), s.events_per_sec.iter().copied()),
        ),
        (
            "claim-rate",
            "Claim requests per second",
            "claims/s",
            axis.line("claims/s".into(), s.claims_per_sec.iter().copied()),
        ),
        (
            "players",
            "Players in the hunt",
            "players",
            axis.line("active players".into(), s.active_players.iter().map(|v| *v as f64)),
        ),
        (
            "claimed-share",
            "Share of arrived players holding a product",
            "% of players",
            axis.line("claimed".into(), s.claimed_share.iter().map(|v| v * 100.0)),
        ),
    ];
    for (file, title, y, line) in single {
        out.push((file.to_owned(), line_chart(title, unit, y, &[line], 0)));
    }
    let bins: Vec<(f64, f64, f64)> = r
        .scores
        .histogram
        .iter()
        .map(|b| (b.from as f64, (b.to + 1) as f64, b.players as f64))
        .collect();
    out.push((
        "scores".to_owned(),
        bar_chart("Final score distribution", "score", "players", &bins),
    ));
    out
}

/// Stock per product over time, from the initial stock at 0.
fn stock_chart(r: &Report, axis: &TimeAxis<'_>) -> String {
    let stock: Vec<Line> = r
        .series
        .stock
        .iter()
        .map(|st| {
            let initial = r
                .products
                .iter()
                .find(|p| p.sku == st.name)
                .map_or(0, |p| p.initial_stock) as f64;
            let mut points = vec![(0.0, initial)];
            points.extend(st.values.iter().enumerate().map(|(i, v)| (axis.end(i), *v as f64)));
            Line {
                name: st.name.clone(),
                points,
            }
        })
        .collect();
    line_chart("Stock over time", axis.unit, "units left", &stock, 12)
}

/// Claims decided per interval: granted, and each rejection reason seen.
fn claims_chart(s: &Series, axis: &TimeAxis<'_>) -> String {
    let mut claims = vec![axis.line("granted".into(), s.granted.iter().map(|v| *v as f64))];
    for rj in &s.rejected {
        if rj.values.iter().any(|v| *v > 0) {
            claims.push(axis.line(format!("rejected: {}", rj.name), rj.values.iter().map(|v| *v as f64)));
        }
    }
    line_chart(
        &format!("Claims decided per {} s, by outcome", s.interval_secs),
        axis.unit,
        "claims",
        &claims,
        12,
    )
}

// ------------------------------------------------------------- Monte Carlo

/// The charts of a Monte Carlo, in page order.
pub(super) fn monte_carlo_charts(m: &McReport) -> Vec<Chart> {
    let mut out = vec![("sell-out".to_owned(), sell_out_chart(m))];
    // Share of players who claimed, run by run.
    let k = m
        .per_run
        .first()
        .and_then(|r| r.figures.iter().position(|(n, _)| n == "players.claimed_share"));
    if let Some(k) = k {
        let line = Line {
            name: "claimed share".into(),
            points: m
                .per_run
                .iter()
                .enumerate()
                .map(|(i, r)| (i as f64 + 1.0, r.figures[k].1.unwrap_or(0.0) * 100.0))
                .collect(),
        };
        out.push((
            "claimed-share-runs".to_owned(),
            line_chart(
                "Share of players holding a product, per run",
                "run",
                "% of players",
                &[line],
                0,
            ),
        ));
    }
    out
}

/// Sell-out time per product: a p5..p95 bar with the median.
fn sell_out_chart(m: &McReport) -> String {
    let products: Vec<(String, &Stats)> = m
        .summary
        .iter()
        .filter_map(|s| {
            let sku = s
                .name
                .strip_prefix("product.")?
                .strip_suffix(".time_to_sell_out_secs")?;
            Some((sku.to_owned(), s))
        })
        .collect();
    let mut svg = String::new();
    let r: Res = (|| {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let ymax = products.iter().filter_map(|(_, s)| s.max).fold(1.0f64, f64::max) / 60.0 * 1.1;
        let n = products.len().max(1);
        let labels: Vec<String> = products.iter().map(|(s, _)| s.clone()).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Time to sell out (minutes after opening): p5–p95 and median",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..ymax)?;
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("minutes")
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, (_, s)) in products.iter().enumerate() {
            let x = i as f64;
            if let (Some(a), Some(b), Some(m)) = (s.p5, s.p95, s.median) {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.3, a / 60.0), (x + 0.3, b / 60.0)],
                    color(i).mix(0.5).filled(),
                )))?;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x - 0.3, m / 60.0), (x + 0.3, m / 60.0)],
                    BLACK.stroke_width(2),
                )))?;
            }
        }
        root.present()?;
        Ok(())
    })();
    if r.is_err() {
        svg.clear();
    }
    svg
}
