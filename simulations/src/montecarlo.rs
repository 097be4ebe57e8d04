//! Monte Carlo: the same scenario with N seeds (`seed`, `seed + 1`, …), each
//! run in-process and checked, summarized per figure as mean, median, p5 and
//! p95 across runs.

use crate::charts::{self, Line};
use crate::html::{self, esc};
use crate::inprocess::{run_in_process, RunOptions};
use crate::observe::Check;
use crate::report::write_files;
use crate::report::{r4, Report, ScenarioSummary};
use crate::scenario::Scenario;
use crate::SimError;
use plotters::prelude::*;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use trove_engine::RejectReason;

/// One run's figures, by name, in a fixed order. `None` where a run has no
/// value (a product that did not sell out has no sell-out time).
pub fn figures(r: &Report) -> Vec<(String, Option<f64>)> {
    let mut f: Vec<(String, Option<f64>)> = vec![
        ("players.claimed_share".into(), Some(r.players.claimed_share)),
        ("players.eligible_share".into(), Some(r.players.eligible_share)),
        ("scores.mean".into(), Some(r.scores.mean)),
        ("scores.median".into(), Some(r.scores.median as f64)),
        ("scores.p95".into(), Some(r.scores.p95 as f64)),
        ("claims.requests".into(), Some(r.totals.claim_requests as f64)),
        ("claims.granted".into(), Some(r.totals.granted as f64)),
    ];
    for reason in RejectReason::ALL {
        let v = r.totals.rejected.get(reason.code()).copied().unwrap_or(0);
        f.push((format!("claims.rejected.{}", reason.code()), Some(v as f64)));
    }
    f.push(("rates.events_per_sec".into(), Some(r.totals.events_per_sec)));
    f.push(("rates.peak_events_per_sec".into(), Some(r.totals.peak_events_per_sec)));
    f.push(("rates.claims_per_sec".into(), Some(r.totals.claims_per_sec)));
    f.push(("rates.peak_claims_per_sec".into(), Some(r.totals.peak_claims_per_sec)));
    for p in &r.products {
        f.push((
            format!("product.{}.time_to_sell_out_secs", p.sku),
            p.time_to_sell_out_secs.map(f64::from),
        ));
        f.push((format!("product.{}.granted", p.sku), Some(p.granted as f64)));
        f.push((format!("product.{}.remaining", p.sku), Some(p.remaining as f64)));
    }
    f
}

#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub name: String,
    /// Runs that have a value for this figure.
    pub runs: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p5: Option<f64>,
    pub p95: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Percentile with linear interpolation between closest ranks.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

pub fn stats(name: &str, values: &[f64]) -> Stats {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Stats {
        name: name.to_owned(),
        runs: n,
        mean: (n > 0).then(|| r4(v.iter().sum::<f64>() / n as f64)),
        median: percentile(&v, 50.0).map(r4),
        p5: percentile(&v, 5.0).map(r4),
        p95: percentile(&v, 95.0).map(r4),
        min: v.first().copied().map(r4),
        max: v.last().copied().map(r4),
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RunFigures {
    pub seed: u64,
    pub invariants_ok: bool,
    pub failed_checks: Vec<Check>,
    pub figures: Vec<(String, Option<f64>)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct McReport {
    pub format: String,
    pub mode: String,
    pub scenario: ScenarioSummary,
    pub runs: usize,
    pub seeds: Vec<u64>,
    pub notes: Vec<String>,
    /// True if every run held every invariant.
    pub invariants_ok: bool,
    pub summary: Vec<Stats>,
    pub per_run: Vec<RunFigures>,
}

pub struct McOutput {
    pub report: McReport,
    pub wall_secs: f64,
    pub player_secs: u64,
}

/// Runs `runs` seeds from `seed` and summarizes them.
pub fn run_monte_carlo(
    sc: &Scenario,
    seed: u64,
    runs: usize,
    opts: &RunOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<McOutput, SimError> {
    let started = std::time::Instant::now();
    let mut per_run = Vec::with_capacity(runs);
    let mut first: Option<Report> = None;
    let mut player_secs = 0;
    let per = u64::from(sc.duration_secs);
    for i in 0..runs {
        let s = seed.wrapping_add(i as u64);
        let base = i as u64 * per;
        let out = run_in_process(sc, s, opts, &mut |done, _| {
            progress(base + u64::from(done), per * runs as u64)
        })?;
        player_secs += out.timing.simulated_player_secs;
        per_run.push(RunFigures {
            seed: s,
            invariants_ok: out.report.invariants.ok,
            failed_checks: out.report.invariants.failed().into_iter().cloned().collect(),
            figures: figures(&out.report),
        });
        first.get_or_insert(out.report);
    }
    let first = first.ok_or_else(|| SimError::Other("--runs must be at least 1".into()))?;
    let names: Vec<String> = per_run[0].figures.iter().map(|(n, _)| n.clone()).collect();
    let summary = names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let values: Vec<f64> = per_run.iter().filter_map(|r| r.figures[k].1).collect();
            stats(name, &values)
        })
        .collect();
    let mut scenario = first.scenario.clone();
    scenario.seed = seed;
    let mut notes = vec![format!(
        "{runs} in-process runs with seeds {seed} to {}; each figure is summarized over the runs that have a value (a product that never sold out in a run has no sell-out time there).",
        seed.wrapping_add(runs as u64 - 1)
    )];
    notes.extend(first.notes.iter().skip(1).cloned());
    Ok(McOutput {
        report: McReport {
            format: crate::report::FORMAT.to_owned(),
            mode: "monte-carlo".into(),
            scenario,
            runs,
            seeds: per_run.iter().map(|r| r.seed).collect(),
            notes,
            invariants_ok: per_run.iter().all(|r| r.invariants_ok),
            summary,
            per_run,
        },
        wall_secs: started.elapsed().as_secs_f64(),
        player_secs,
    })
}

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| x.to_string())
}

impl McReport {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a report always serializes");
        s.push('\n');
        s
    }

    pub fn summary_csv(&self) -> String {
        let mut out = String::from("figure,runs,mean,median,p5,p95,min,max\n");
        for s in &self.summary {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                crate::report::csv_field(&s.name),
                s.runs,
                opt(s.mean),
                opt(s.median),
                opt(s.p5),
                opt(s.p95),
                opt(s.min),
                opt(s.max)
            );
        }
        out
    }

    pub fn runs_csv(&self) -> String {
        let mut out = String::from("seed,invariants_ok");
        if let Some(r) = self.per_run.first() {
            for (n, _) in &r.figures {
                let _ = write!(out, ",{}", crate::report::csv_field(n));
            }
        }
        out.push('\n');
        for r in &self.per_run {
            let _ = write!(out, "{},{}", r.seed, r.invariants_ok);
            for (_, v) in &r.figures {
                let _ = write!(out, ",{}", opt(*v));
            }
            out.push('\n');
        }
        out
    }

    fn stat(&self, name: &str) -> Option<&Stats> {
        self.summary.iter().find(|s| s.name == name)
    }

    pub fn charts(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        // Sell-out time per product: p5..p95 bar with the median.
        let products: Vec<(String, &Stats)> = self
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
        let r: Result<(), Box<dyn std::error::Error>> = (|| {
            let root = SVGBackend::with_string(&mut svg, (860, 340)).into_drawing_area();
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
                        charts::color(i).mix(0.5).filled(),
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
        out.push(("sell-out".to_owned(), svg));
        // Share of players who claimed, run by run.
        let k = self
            .per_run
            .first()
            .and_then(|r| r.figures.iter().position(|(n, _)| n == "players.claimed_share"));
        if let Some(k) = k {
            let line = Line {
                name: "claimed share".into(),
                points: self
                    .per_run
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (i as f64 + 1.0, r.figures[k].1.unwrap_or(0.0) * 100.0))
                    .collect(),
            };
            out.push((
                "claimed-share-runs".to_owned(),
                charts::line_chart(
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

    pub fn html(&self, charts: &[(String, String)]) -> String {
        let sc = &self.scenario;
        let mut out = html::page_start(&format!("{} — trove-sim Monte Carlo", sc.name));
        let _ = writeln!(out, "<h1>{} — Monte Carlo</h1>", esc(&sc.name));
        let _ = writeln!(
            out,
            "<p class=\"muted\">{} runs, seeds {} to {} · {} players · {} s simulated each</p>",
            self.runs,
            self.seeds.first().copied().unwrap_or(0),
            self.seeds.last().copied().unwrap_or(0),
            sc.players,
            sc.duration_secs
        );
        let failed: Vec<&RunFigures> = self.per_run.iter().filter(|r| !r.invariants_ok).collect();
        if failed.is_empty() {
            out.push_str("<div class=\"ok\"><strong>Every invariant held in every run.</strong></div>\n");
        } else {
            out.push_str("<div class=\"bad\"><strong>INVARIANT VIOLATED in some runs:</strong><ul>");
            for r in failed {
                for c in &r.failed_checks {
                    let _ = write!(out, "<li>seed {}: {}: {}</li>", r.seed, esc(&c.name), esc(&c.detail));
                }
            }
            out.push_str("</ul></div>\n");
        }
        out.push_str("<ul class=\"muted\">\n");
        for n in &self.notes {
            let _ = writeln!(out, "<li>{}</li>", esc(n));
        }
        out.push_str("</ul>\n<h2>Key figures</h2>\n");
        let key = [
            ("players.claimed_share", "share of players holding a product"),
            ("players.eligible_share", "share eligible for the cheapest product"),
            ("scores.median", "median score"),
            ("scores.p95", "p95 score"),
            ("claims.granted", "units granted"),
            ("claims.rejected.out_of_stock", "claims rejected: out of stock"),
            ("rates.peak_events_per_sec", "peak events per second"),
            ("rates.peak_claims_per_sec", "peak claims per second"),
        ];
        let f = |v: Option<f64>| v.map_or("–".to_owned(), |x| format!("{x}"));
        let rows: Vec<Vec<String>> = key
            .iter()
            .filter_map(|(name, label)| {
                let s = self.stat(name)?;
                Some(vec![(*label).to_owned(), f(s.mean), f(s.median), f(s.p5), f(s.p95)])
            })
            .collect();
        html::table(&mut out, &["figure", "mean", "median", "p5", "p95"], &rows);
        out.push_str("<h2>Products</h2>\n");
        let mut rows = Vec::new();
        for s in &self.summary {
            if let Some(sku) = s
                .name
                .strip_prefix("product.")
                .and_then(|x| x.strip_suffix(".time_to_sell_out_secs"))
            {
                let granted = self.stat(&format!("product.{sku}.granted"));
                let m = |v: Option<f64>| v.map_or("–".to_owned(), |x| format!("{:.1}", x / 60.0));
                rows.push(vec![
                    sku.to_owned(),
                    format!("{} of {}", s.runs, self.runs),
                    m(s.median),
                    m(s.p5),
                    m(s.p95),
                    granted.map_or("–".into(), |g| f(g.median)),
                ]);
            }
        }
        html::table(
            &mut out,
            &[
                "product",
                "sold out in",
                "median min",
                "p5 min",
                "p95 min",
                "median granted",
            ],
            &rows,
        );
        for (_, svg) in charts {
            html::figure(&mut out, svg);
        }
        out.push_str("<h2>Every figure</h2>\n");
        let rows: Vec<Vec<String>> = self
            .summary
            .iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    s.runs.to_string(),
                    f(s.mean),
                    f(s.median),
                    f(s.p5),
                    f(s.p95),
                    f(s.min),
                    f(s.max),
                ]
            })
            .collect();
        html::table(
            &mut out,
            &["figure", "runs", "mean", "median", "p5", "p95", "min", "max"],
            &rows,
        );
        out.push_str("<p class=\"muted\">Data: report.json, summary.csv (this table), runs.csv (one row per run), charts as SVG.</p>\n</body>\n</html>\n");
        out
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        let charts = self.charts();
        let files = vec![
            ("report.json".to_owned(), self.to_json()),
            ("summary.csv".to_owned(), self.summary_csv()),
            ("runs.csv".to_owned(), self.runs_csv()),
            ("report.html".to_owned(), self.html(&charts)),
        ];
        write_files(dir, files, &charts)
    }

    pub fn summary_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} (Monte Carlo, {} runs from seed {})",
            self.scenario.name, self.runs, self.scenario.seed
        );
        let _ = writeln!(
            s,
            "  {:<44} {:>10} {:>10} {:>10} {:>10}",
            "figure", "mean", "median", "p5", "p95"
        );
        let f = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{x:.2}"));
        for st in &self.summary {
            let _ = writeln!(
                s,
                "  {:<44} {:>10} {:>10} {:>10} {:>10}",
                st.name,
                f(st.mean),
                f(st.median),
                f(st.p5),
                f(st.p95)
            );
        }
        let _ = writeln!(
            s,
            "  invariants: {}",
            if self.invariants_ok {
                "held in every run"
            } else {
                "VIOLATED"
            }
        );
        for r in self.per_run.iter().filter(|r| !r.invariants_ok) {
            for c in &r.failed_checks {
                let _ = writeln!(s, "    [FAIL] seed {}: {}: {}", r.seed, c.name, c.detail);
            }
        }
        s
    }
}
