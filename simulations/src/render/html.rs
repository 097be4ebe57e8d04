//! One self-contained HTML page per report: tables, and the SVG charts
//! inline. Built with `maud`, which escapes every piece of data it is given;
//! the only markup inserted as-is is the stylesheet below and the SVG charts
//! that [`super::charts`] drew with plotters.

use super::charts::Chart;
use super::text::{fmt_secs, pct, thousands};
use crate::montecarlo::{McReport, RunFigures, Stats};
use crate::observe::Check;
use crate::report::{LiveReport, Report};
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The page's stylesheet (trusted, inserted unescaped).
const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 960px; color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
.ok { background: #e7f6e7; border: 1px solid #8c8; padding: 0.6em 1em; }
.bad { background: #fbe9e9; border: 1px solid #d88; padding: 0.6em 1em; }
.muted { color: #666; font-size: 0.9em; }
figure { margin: 1em 0; } svg { max-width: 100%; height: auto; }
"#;

/// The whole page around `body`.
fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

/// A table; numbers right, text left (judged by the first row), the first
/// column always left.
fn table(head: &[&str], rows: &[Vec<String>]) -> Markup {
    let numeric = |c: &str| {
        c.starts_with(|ch: char| ch.is_ascii_digit() || ch == '-' || ch == '–') && c.split_whitespace().count() <= 3
    };
    let left: Vec<bool> = (0..head.len())
        .map(|i| i == 0 || rows.first().and_then(|r| r.get(i)).is_some_and(|c| !numeric(c)))
        .collect();
    let class = |i: usize| left.get(i).copied().unwrap_or(true).then_some("l");
    html! {
        table {
            tr { @for (i, h) in head.iter().enumerate() { th class=[class(i)] { (h) } } }
            @for r in rows {
                tr { @for (i, c) in r.iter().enumerate() { td class=[class(i)] { (c) } } }
            }
        }
    }
}

/// A chart inline; nothing when the chart could not be drawn. `svg` comes
/// from plotters only, never from scenario data unescaped.
fn figure(svg: &str) -> Markup {
    html! {
        @if !svg.is_empty() { figure { (PreEscaped(svg)) } }
    }
}

/// The SVG of the chart called `name`, or "" when there is none.
fn chart<'a>(charts: &'a [Chart], name: &str) -> &'a str {
    charts.iter().find(|(n, _)| n == name).map_or("", |(_, s)| s.as_str())
}

/// Table rows for a list of checks: name, "ok"/"FAILED", detail.
fn check_rows(checks: &[Check]) -> Vec<Vec<String>> {
    checks
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                if c.ok { "ok".into() } else { "FAILED".into() },
                c.detail.clone(),
            ]
        })
        .collect()
}

/// `key: value, ...` of a map.
fn pairs<'a>(map: impl IntoIterator<Item = (&'a String, &'a u64)>) -> String {
    map.into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ------------------------------------------------------------- one run

/// The page of one run (in-process or live).
pub(super) fn run_page(r: &Report, charts: &[Chart]) -> String {
    let body = html! {
        (run_header(r))
        (at_a_glance(r))
        (products(r, charts))
        (claims(r, charts))
        h2 { "Load" }
        (figure(chart(charts, "events")))
        (figure(chart(charts, "claim-rate")))
        (figure(chart(charts, "players")))
        @if let Some(l) = &r.live { (live(l)) }
        (scores(r, charts))
        (clients(r))
    };
    page(&format!("{} — trove-sim report", r.scenario.name), body)
}

/// Title, what ran, and the invariants first: a designer must not miss a
/// failure.
fn run_header(r: &Report) -> Markup {
    let sc = &r.scenario;
    let (class, verdict) = if r.invariants.ok {
        (
            "ok",
            "Every invariant held: no oversell, no claim granted twice, per-player limits held, and the journal replays to exactly the live state.",
        )
    } else {
        (
            "bad",
            "INVARIANT VIOLATED — see the checks below. This run is not trustworthy.",
        )
    };
    html! {
        h1 { (sc.name) }
        p.muted {
            "trove-sim, " (r.mode) " mode · hunt " code { (sc.hunt) } " · seed " (sc.seed) " · " (sc.players)
            " players · " (fmt_secs(sc.duration_secs)) " of simulated time · hunt open from "
            (fmt_secs(sc.opens_at_secs)) " to " (fmt_secs(sc.closes_at_secs))
        }
        div class=(class) { strong { (verdict) } }
        (table(&["check", "result", "detail"], &check_rows(&r.invariants.checks)))
        @if !r.notes.is_empty() {
            ul.muted { @for n in &r.notes { li { (n) } } }
        }
    }
}

/// The headline figures.
fn at_a_glance(r: &Report) -> Markup {
    let t = &r.totals;
    let p = &r.players;
    let n = thousands;
    let rejected: u64 = t.rejected.values().sum();
    let rows = vec![
        vec!["players arrived".into(), format!("{} of {}", n(p.arrived), n(p.total))],
        vec![
            "players holding a product".into(),
            format!("{} ({})", n(p.claimed), pct(p.claimed_share)),
        ],
        vec![
            "players eligible for the cheapest product".into(),
            format!("{} ({})", n(p.eligible_any), pct(p.eligible_share)),
        ],
        vec![
            "events".into(),
            format!(
                "{} ({}/s on average, peak {}/s)",
                n(t.events),
                n(t.events_per_sec.round() as u64),
                n(t.peak_events_per_sec as u64)
            ),
        ],
        vec![
            "claim requests".into(),
            format!(
                "{} ({:.1}/s on average, peak {}/s)",
                n(t.claim_requests),
                t.claims_per_sec,
                n(t.peak_claims_per_sec as u64)
            ),
        ],
        vec![
            "claims decided".into(),
            format!(
                "{} ({} granted, {} rejected)",
                n(t.claims_decided),
                n(t.granted),
                n(rejected)
            ),
        ],
        vec![
            "duplicate answers (retries and double sends)".into(),
            n(t.duplicate_answers),
        ],
        vec![
            "errors".into(),
            if t.errors.is_empty() {
                "none".into()
            } else {
                pairs(&t.errors)
            },
        ],
    ];
    html! {
        h2 { "At a glance" }
        (table(&["figure", "value"], &rows))
    }
}

/// The products table and the stock chart.
fn products(r: &Report, charts: &[Chart]) -> Markup {
    let rows: Vec<Vec<String>> = r
        .products
        .iter()
        .map(|p| {
            vec![
                p.sku.clone(),
                p.initial_stock.to_string(),
                p.restocked.to_string(),
                p.granted.to_string(),
                p.remaining.to_string(),
                p.min_score.to_string(),
                p.per_player_limit.to_string(),
                p.time_to_sell_out_secs.map_or("not sold out".into(), fmt_secs),
                pairs(&p.rejected),
            ]
        })
        .collect();
    let head = [
        "product",
        "stock",
        "restocked",
        "granted",
        "left",
        "min score",
        "limit",
        "time to sell out",
        "rejections",
    ];
    html! {
        h2 { "Products" }
        (table(&head, &rows))
        p.muted { "Time to sell out counts from the hunt's opening to the grant of the last unit (before any restock)." }
        (figure(chart(charts, "stock")))
    }
}

/// Claims by outcome over time, rejection reasons, the claimed share.
fn claims(r: &Report, charts: &[Chart]) -> Markup {
    let rows: Vec<Vec<String>> = r
        .totals
        .rejected
        .iter()
        .map(|(k, v)| vec![k.clone(), v.to_string()])
        .collect();
    html! {
        h2 { "Claims over time" }
        (figure(chart(charts, "claims")))
        (table(&["rejection reason", "claims"], &rows))
        (figure(chart(charts, "claimed-share")))
    }
}

/// Live mode: load offered and accepted, latencies, the server's checks.
fn live(l: &LiveReport) -> Markup {
    let rows: Vec<Vec<String>> = l
        .ops
        .iter()
        .map(|o| {
            vec![
                o.op.clone(),
                o.offered.to_string(),
                format!("{:.1}", o.offered_per_sec),
                format!("{:.1}", o.accepted_per_sec),
                o.answered_error.to_string(),
                o.no_answer.to_string(),
                format!("{:.2}", o.p50_ms),
                format!("{:.2}", o.p90_ms),
                format!("{:.2}", o.p99_ms),
                format!("{:.2}", o.p999_ms),
                format!("{:.2}", o.max_ms),
            ]
        })
        .collect();
    let head = [
        "op",
        "requests",
        "offered/s",
        "accepted/s",
        "errors",
        "no answer",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
    ];
    html! {
        h2 { "Live server: load and latency" }
        p {
            (l.url) " over " (l.connections) " connections (" (l.protocol) ") for " (format!("{:.1}", l.run_secs))
            " s. Latency is measured from each request's intended send time (open loop, no coordinated omission); the sender fell behind its schedule by at most "
            (format!("{:.1}", l.sender_max_lag_ms)) " ms."
        }
        (table(&head, &rows))
        p {
            "Events: " (l.events_offered) " offered (" (format!("{:.0}", l.events_offered_per_sec)) "/s), "
            (l.events_accepted) " accepted (" (format!("{:.0}", l.events_accepted_per_sec)) "/s)."
        }
        @if !l.server_checks.is_empty() {
            (table(&["server check", "result", "detail"], &check_rows(&l.server_checks)))
        }
    }
}

/// The score distribution, segments and the leaderboard.
fn scores(r: &Report, charts: &[Chart]) -> Markup {
    let s = &r.scores;
    let segments: Vec<Vec<String>> = r
        .segments
        .iter()
        .map(|g| {
            vec![
                g.segment.clone(),
                g.arrived.to_string(),
                format!("{:.1}", g.mean_score),
                g.median_score.to_string(),
                format!("{} ({})", g.claimed, pct(g.claimed_share)),
            ]
        })
        .collect();
    let leaders: Vec<Vec<String>> = r
        .leaderboard
        .iter()
        .map(|e| vec![e.rank.to_string(), e.player.clone(), e.score.to_string()])
        .collect();
    html! {
        h2 { "Scores" }
        p {
            (s.players) " players; mean " (format!("{:.1}", s.mean)) ", median " (s.median) ", p5 " (s.p5)
            ", p95 " (s.p95) ", max " (s.max) " (of " (r.scenario.max_score) " possible); "
            (pct(s.zero_share)) " scored nothing. Source: " (s.source) "."
        }
        (figure(chart(charts, "scores")))
        (table(&["segment", "players", "mean score", "median score", "holding a product"], &segments))
        h3 { "Leaderboard" }
        (table(&["rank", "player", "score"], &leaders))
    }
}

/// What the clients did, and where the data files are.
fn clients(r: &Report) -> Markup {
    let c = &r.totals.client;
    let rows: Vec<Vec<String>> = [
        ("clue finds", c.clue_finds),
        ("clue find sends (with retries)", c.clue_find_sends),
        ("clue finds given up", c.clue_finds_given_up),
        ("claim ids used", c.claims_started),
        ("claim sends (with retries and duplicates)", c.claim_sends),
        ("duplicate sends", c.duplicate_sends),
        ("retries", c.retries),
        ("requests lost before the server", c.lost_requests),
        ("answers lost on the way back", c.lost_replies),
        ("claims given up unanswered", c.claims_given_up),
    ]
    .iter()
    .map(|(k, v)| vec![(*k).to_owned(), v.to_string()])
    .collect();
    html! {
        h2 { "Clients and network" }
        (table(&["client figure", "count"], &rows))
        p.muted {
            "Data: report.json (everything on this page), series.csv, products.csv, scores.csv, leaderboard.csv, and the charts as SVG files."
        }
    }
}

// ------------------------------------------------------------- Monte Carlo

/// The page of a Monte Carlo.
pub(super) fn monte_carlo_page(m: &McReport, charts: &[Chart]) -> String {
    let sc = &m.scenario;
    let failed: Vec<&RunFigures> = m.per_run.iter().filter(|r| !r.invariants_ok).collect();
    let body = html! {
        h1 { (sc.name) " — Monte Carlo" }
        p.muted {
            (m.runs) " runs, seeds " (m.seeds.first().copied().unwrap_or(0)) " to "
            (m.seeds.last().copied().unwrap_or(0)) " · " (sc.players) " players · " (sc.duration_secs)
            " s simulated each"
        }
        @if failed.is_empty() {
            div.ok { strong { "Every invariant held in every run." } }
        } @else {
            div.bad {
                strong { "INVARIANT VIOLATED in some runs:" }
                ul { @for r in &failed { @for c in &r.failed_checks {
                    li { "seed " (r.seed) ": " (c.name) ": " (c.detail) }
                } } }
            }
        }
        ul.muted { @for n in &m.notes { li { (n) } } }
        h2 { "Key figures" }
        (table(&["figure", "mean", "median", "p5", "p95"], &key_rows(m)))
        h2 { "Products" }
        (table(
            &["product", "sold out in", "median min", "p5 min", "p95 min", "median granted"],
            &product_rows(m),
        ))
        @for (_, svg) in charts { (figure(svg)) }
        h2 { "Every figure" }
        (table(&["figure", "runs", "mean", "median", "p5", "p95", "min", "max"], &every_row(m)))
        p.muted { "Data: report.json, summary.csv (this table), runs.csv (one row per run), charts as SVG." }
    };
    page(&format!("{} — trove-sim Monte Carlo", sc.name), body)
}

/// A summarized value as shown; "–" when no run had one.
fn value(v: Option<f64>) -> String {
    v.map_or("–".to_owned(), |x| format!("{x}"))
}

/// The key figures: mean, median, p5, p95.
fn key_rows(m: &McReport) -> Vec<Vec<String>> {
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
    key.iter()
        .filter_map(|(name, label)| {
            let s = m.stat(name)?;
            Some(vec![
                (*label).to_owned(),
                value(s.mean),
                value(s.median),
                value(s.p5),
                value(s.p95),
            ])
        })
        .collect()
}

/// Per product: in how many runs it sold out, sell-out minutes, units granted.
fn product_rows(m: &McReport) -> Vec<Vec<String>> {
    let minutes = |v: Option<f64>| v.map_or("–".to_owned(), |x| format!("{:.1}", x / 60.0));
    m.summary
        .iter()
        .filter_map(|s| {
            let sku = s
                .name
                .strip_prefix("product.")
                .and_then(|x| x.strip_suffix(".time_to_sell_out_secs"))?;
            let granted = m.stat(&format!("product.{sku}.granted"));
            Some(vec![
                sku.to_owned(),
                format!("{} of {}", s.runs, m.runs),
                minutes(s.median),
                minutes(s.p5),
                minutes(s.p95),
                granted.map_or("–".into(), |g| value(g.median)),
            ])
        })
        .collect()
}

/// Every figure with all its statistics.
fn every_row(m: &McReport) -> Vec<Vec<String>> {
    m.summary
        .iter()
        .map(|s: &Stats| {
            vec![
                s.name.clone(),
                s.runs.to_string(),
                value(s.mean),
                value(s.median),
                value(s.p5),
                value(s.p95),
                value(s.min),
                value(s.max),
            ]
        })
        .collect()
}
