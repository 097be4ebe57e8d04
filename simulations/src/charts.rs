//! SVG charts with plotters (SVG backend only, no font files: text is left
//! to the browser, so the charts build and render on a fresh machine).

use crate::report::Report;
use plotters::prelude::*;

type Res = Result<(), Box<dyn std::error::Error>>;

const W: u32 = 860;
const H: u32 = 340;

pub const COLORS: [RGBColor; 12] = [
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

pub fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// An axis label: no decimals for whole numbers, two otherwise.
pub fn number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}").trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// One line of a chart.
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A line chart as an SVG document.
pub fn line_chart(title: &str, x_desc: &str, y_desc: &str, lines: &[Line], legend_max: usize) -> String {
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

/// A bar chart of (label position, height) bins as an SVG document.
pub fn bar_chart(title: &str, x_desc: &str, y_desc: &str, bins: &[(f64, f64, f64)]) -> String {
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

/// The charts of one run, in page order: (file stem, SVG).
pub fn run_charts(r: &Report) -> Vec<(String, String)> {
    let s = &r.series;
    // Short runs in seconds, longer ones in minutes.
    let (unit, per) = if s.t_secs.len() as u32 * s.interval_secs <= 600 {
        ("seconds since start", 1.0)
    } else {
        ("minutes since start", 60.0)
    };
    let end = |i: usize| f64::from(s.t_secs[i] + s.interval_secs) / per;
    let mut out = Vec::new();

    let stock: Vec<Line> = s
        .stock
        .iter()
        .map(|st| {
            let initial = r
                .products
                .iter()
                .find(|p| p.sku == st.name)
                .map_or(0, |p| p.initial_stock) as f64;
            let mut points = vec![(0.0, initial)];
            points.extend(st.values.iter().enumerate().map(|(i, v)| (end(i), *v as f64)));
            Line {
                name: st.name.clone(),
                points,
            }
        })
        .collect();
    out.push((
        "stock".to_owned(),
        line_chart("Stock over time", unit, "units left", &stock, 12),
    ));

    // One line per interval: point i at the end of interval i.
    let series = |name: String, values: &mut dyn Iterator<Item = f64>| Line {
        name,
        points: values.enumerate().map(|(i, v)| (end(i), v)).collect(),
    };

    let mut claims = vec![series("granted".into(), &mut s.granted.iter().map(|v| *v as f64))];
    for rj in &s.rejected {
        if rj.values.iter().any(|v| *v > 0) {
            claims.push(series(
                format!("rejected: {}", rj.name),
                &mut rj.values.iter().map(|v| *v as f64),
            ));
        }
    }
    out.push((
        "claims".to_owned(),
        line_chart(
            &format!("Claims decided per {} s, by outcome", s.interval_secs),
            unit,
            "claims",
            &claims,
            12,
        ),
    ));

    let single = [
        (
            "events",
            "Events per second",
            "events/s",
            series("events/s".into(), &mut s.events_per_sec.iter().copied()),
        ),
        (
            "claim-rate",
            "Claim requests per second",
            "claims/s",
            series("claims/s".into(), &mut s.claims_per_sec.iter().copied()),
        ),
        (
            "players",
            "Players in the hunt",
            "players",
            series("active players".into(), &mut s.active_players.iter().map(|v| *v as f64)),
        ),
        (
            "claimed-share",
            "Share of arrived players holding a product",
            "% of players",
            series("claimed".into(), &mut s.claimed_share.iter().map(|v| v * 100.0)),
        ),
    ];
    for (file, title, axis, line) in single {
        out.push((file.to_owned(), line_chart(title, unit, axis, &[line], 0)));
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
