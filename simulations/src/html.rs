//! One self-contained HTML page per report: tables, and the SVG charts inline.

use crate::report::{fmt_secs, Report};
use std::fmt::Write as _;

pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

pub const STYLE: &str = r#"
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

pub fn page_start(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n",
        esc(title),
        STYLE
    )
}

pub fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    // Numbers right, text left (judged by the first row).
    let numeric = |c: &str| {
        c.starts_with(|ch: char| ch.is_ascii_digit() || ch == '-' || ch == '–') && c.split_whitespace().count() <= 3
    };
    let left: Vec<bool> = (0..head.len())
        .map(|i| i == 0 || rows.first().and_then(|r| r.get(i)).is_some_and(|c| !numeric(c)))
        .collect();
    let class = |i: usize| {
        if left.get(i).copied().unwrap_or(true) {
            " class=\"l\""
        } else {
            ""
        }
    };
    out.push_str("<table>\n<tr>");
    for (i, h) in head.iter().enumerate() {
        let _ = write!(out, "<th{}>{}</th>", class(i), esc(h));
    }
    out.push_str("</tr>\n");
    for r in rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let _ = write!(out, "<td{}>{}</td>", class(i), esc(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

pub fn figure(out: &mut String, svg: &str) {
    if !svg.is_empty() {
        let _ = writeln!(out, "<figure>{svg}</figure>");
    }
}

pub fn run_page(r: &Report, charts: &[(String, String)]) -> String {
    let sc = &r.scenario;
    let mut out = page_start(&format!("{} — trove-sim report", sc.name));
    let chart = |name: &str| charts.iter().find(|(n, _)| n == name).map_or("", |(_, s)| s.as_str());
    let _ = writeln!(out, "<h1>{}</h1>", esc(&sc.name));
    let _ = writeln!(
        out,
        "<p class=\"muted\">trove-sim, {} mode · hunt <code>{}</code> · seed {} · {} players · {} of simulated time · hunt open from {} to {}</p>",
        esc(&r.mode),
        esc(&sc.hunt),
        sc.seed,
        sc.players,
        fmt_secs(sc.duration_secs),
        fmt_secs(sc.opens_at_secs),
        fmt_secs(sc.closes_at_secs)
    );

    // Invariants first: a designer must not miss a failure.
    let _ = writeln!(
        out,
        "<div class=\"{}\"><strong>{}</strong></div>",
        if r.invariants.ok { "ok" } else { "bad" },
        if r.invariants.ok {
            "Every invariant held: no oversell, no claim granted twice, per-player limits held, and the journal replays to exactly the live state."
        } else {
            "INVARIANT VIOLATED — see the checks below. This run is not trustworthy."
        }
    );
    table(
        &mut out,
        &["check", "result", "detail"],
        &check_rows(&r.invariants.checks),
    );
    if !r.notes.is_empty() {
        out.push_str("<ul class=\"muted\">\n");
        for n in &r.notes {
            let _ = writeln!(out, "<li>{}</li>", esc(n));
        }
        out.push_str("</ul>\n");
    }

    out.push_str("<h2>At a glance</h2>\n");
    let t = &r.totals;
    let rejected: u64 = t.rejected.values().sum();
    let n = thousands;
    let rows = vec![
        vec![
            "players arrived".into(),
            format!("{} of {}", n(r.players.arrived), n(r.players.total)),
        ],
        vec![
            "players holding a product".into(),
            format!("{} ({})", n(r.players.claimed), pct(r.players.claimed_share)),
        ],
        vec![
            "players eligible for the cheapest product".into(),
            format!("{} ({})", n(r.players.eligible_any), pct(r.players.eligible_share)),
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
                t.errors
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ],
    ];
    table(&mut out, &["figure", "value"], &rows);

    out.push_str("<h2>Products</h2>\n");
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
                p.rejected
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "product",
            "stock",
            "restocked",
            "granted",
            "left",
            "min score",
            "limit",
            "time to sell out",
            "rejections",
        ],
        &rows,
    );
    out.push_str("<p class=\"muted\">Time to sell out counts from the hunt's opening to the grant of the last unit (before any restock).</p>\n");
    figure(&mut out, chart("stock"));

    out.push_str("<h2>Claims over time</h2>\n");
    figure(&mut out, chart("claims"));
    let rows: Vec<Vec<String>> = t.rejected.iter().map(|(k, v)| vec![k.clone(), v.to_string()]).collect();
    table(&mut out, &["rejection reason", "claims"], &rows);
    figure(&mut out, chart("claimed-share"));

    out.push_str("<h2>Load</h2>\n");
    figure(&mut out, chart("events"));
    figure(&mut out, chart("claim-rate"));
    figure(&mut out, chart("players"));
    if let Some(l) = &r.live {
        out.push_str("<h2>Live server: load and latency</h2>\n");
        let _ = writeln!(
            out,
            "<p>{} over {} connections for {:.1} s. Latency is measured from each request's intended send time (open loop, no coordinated omission); the sender fell behind its schedule by at most {:.1} ms.</p>",
            esc(&l.url),
            l.connections,
            l.run_secs,
            l.sender_max_lag_ms
        );
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
        table(
            &mut out,
            &[
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
            ],
            &rows,
        );
        let _ = writeln!(
            out,
            "<p>Events: {} offered ({:.0}/s), {} accepted ({:.0}/s).</p>",
            l.events_offered, l.events_offered_per_sec, l.events_accepted, l.events_accepted_per_sec
        );
        if !l.server_checks.is_empty() {
            table(
                &mut out,
                &["server check", "result", "detail"],
                &check_rows(&l.server_checks),
            );
        }
    }

    out.push_str("<h2>Scores</h2>\n");
    let s = &r.scores;
    let _ = writeln!(
        out,
        "<p>{} players; mean {:.1}, median {}, p5 {}, p95 {}, max {} (of {} possible); {} scored nothing. Source: {}.</p>",
        s.players,
        s.mean,
        s.median,
        s.p5,
        s.p95,
        s.max,
        sc.max_score,
        pct(s.zero_share),
        esc(&s.source)
    );
    figure(&mut out, chart("scores"));
    let rows: Vec<Vec<String>> = r
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
    table(
        &mut out,
        &["segment", "players", "mean score", "median score", "holding a product"],
        &rows,
    );
    out.push_str("<h3>Leaderboard</h3>\n");
    let rows: Vec<Vec<String>> = r
        .leaderboard
        .iter()
        .map(|e| vec![e.rank.to_string(), e.player.clone(), e.score.to_string()])
        .collect();
    table(&mut out, &["rank", "player", "score"], &rows);

    out.push_str("<h2>Clients and network</h2>\n");
    let c = &t.client;
    let rows = vec![
        vec!["clue finds".into(), c.clue_finds.to_string()],
        vec!["clue find sends (with retries)".into(), c.clue_find_sends.to_string()],
        vec!["clue finds given up".into(), c.clue_finds_given_up.to_string()],
        vec!["claim ids used".into(), c.claims_started.to_string()],
        vec![
            "claim sends (with retries and duplicates)".into(),
            c.claim_sends.to_string(),
        ],
        vec!["duplicate sends".into(), c.duplicate_sends.to_string()],
        vec!["retries".into(), c.retries.to_string()],
        vec!["requests lost before the server".into(), c.lost_requests.to_string()],
        vec!["answers lost on the way back".into(), c.lost_replies.to_string()],
        vec!["claims given up unanswered".into(), c.claims_given_up.to_string()],
    ];
    table(&mut out, &["client figure", "count"], &rows);
    out.push_str(
        "<p class=\"muted\">Data: report.json (everything on this page), series.csv, products.csv, scores.csv, leaderboard.csv, and the charts as SVG files.</p>\n",
    );
    out.push_str("</body>\n</html>\n");
    out
}

/// Table rows for a list of checks: name, "ok"/"FAILED", detail.
fn check_rows(checks: &[crate::observe::Check]) -> Vec<Vec<String>> {
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
