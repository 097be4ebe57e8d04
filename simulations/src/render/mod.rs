//! Every output of a report, in one place: `report.json`, the CSV files, the
//! SVG charts, `report.html` and the terminal summary.
//!
//! The entry points are methods on the report types, implemented here so that
//! [`crate::report`] and [`crate::montecarlo`] stay plain data and never
//! depend on their rendering: [`Report::write`], [`Report::summary_text`],
//! [`Report::to_json`] and the same three on [`McReport`].
//!
//! - `csv`: the CSV files.
//! - `charts`: the SVG charts (plotters).
//! - `html`: the page (maud; data escaped, charts inline).
//! - `text`: the terminal summary and shared number formats.
//!
//! Within this module the edges run `mod` → `csv`, `charts`, `html`, `text`;
//! `html` → `charts` (the `Chart` type) and `text` (number formats).

mod charts;
mod csv;
mod html;
mod text;

use crate::montecarlo::McReport;
use crate::report::Report;
use serde::Serialize;
use std::path::Path;

/// Pretty JSON with a final newline.
fn json(value: &impl Serialize) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("a report always serializes");
    s.push('\n');
    s
}

impl Report {
    /// `report.json`: the whole report, pretty-printed.
    pub fn to_json(&self) -> String {
        json(self)
    }

    /// Writes report.json, the CSV files, the charts and report.html into
    /// `dir` (created if missing); returns the file names written.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        let charts = charts::run_charts(self);
        let files = vec![
            ("report.json".to_owned(), self.to_json()),
            ("series.csv".to_owned(), csv::series(self)),
            ("products.csv".to_owned(), csv::products(self)),
            ("scores.csv".to_owned(), csv::scores(self)),
            ("leaderboard.csv".to_owned(), csv::leaderboard(self)),
            ("report.html".to_owned(), html::run_page(self, &charts)),
        ];
        write_files(dir, files, &charts)
    }

    /// A few lines for the terminal: totals, products, players, invariants.
    pub fn summary_text(&self) -> String {
        text::run_summary(self)
    }
}

impl McReport {
    /// `report.json` of a Monte Carlo: the summary and every run's figures.
    pub fn to_json(&self) -> String {
        json(self)
    }

    /// Writes report.json, summary.csv, runs.csv, the charts and report.html
    /// into `dir` (created if missing); returns the file names written.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        let charts = charts::monte_carlo_charts(self);
        let files = vec![
            ("report.json".to_owned(), self.to_json()),
            ("summary.csv".to_owned(), csv::mc_summary(self)),
            ("runs.csv".to_owned(), csv::mc_runs(self)),
            ("report.html".to_owned(), html::monte_carlo_page(self, &charts)),
        ];
        write_files(dir, files, &charts)
    }

    /// The figures' mean, median, p5 and p95 as a table for the terminal,
    /// then the invariants.
    pub fn summary_text(&self) -> String {
        text::monte_carlo_summary(self)
    }
}

/// Creates `dir` and writes `files` and the charts (`name.svg` each) into it;
/// returns the file names written.
fn write_files(dir: &Path, mut files: Vec<(String, String)>, charts: &[charts::Chart]) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    for (name, svg) in charts {
        files.push((format!("{name}.svg"), svg.clone()));
    }
    let mut written = Vec::new();
    for (name, text) in files {
        std::fs::write(dir.join(&name), text)?;
        written.push(name);
    }
    Ok(written)
}
