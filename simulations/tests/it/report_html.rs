//! The HTML pages escape every piece of scenario and run data: hostile
//! names, ids and SKUs show up as text, never as markup.

use crate::common::*;
use trove_sim::montecarlo::run_monte_carlo;
use trove_sim::{RunOptions, Scenario};

const IMG: &str = "<img src=x onerror=alert(1)>";
const SCRIPT: &str = "\"><script>alert(1)</script>";
const AMP: &str = "&amp;";

const IMG_ESCAPED: &str = "&lt;img src=x onerror=alert(1)&gt;";
const SCRIPT_ESCAPED: &str = "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;";
const AMP_ESCAPED: &str = "&amp;amp;";

/// A scenario whose name, hunt id, SKUs and clue ids are all hostile (TOML
/// literal strings, so the quotes and ampersands arrive as written).
fn hostile() -> Scenario {
    let text = format!(
        r#"
name = '{IMG}'
seed = 2
duration_secs = 30

[hunt]
id = '{SCRIPT}'
clues = [ {{ id = '{IMG}', points = 10 }}, {{ id = '{SCRIPT}', points = 5 }}, {{ id = '{AMP}', points = 1 }} ]
products = [
  {{ sku = '{IMG}', stock = 5 }},
  {{ sku = '{SCRIPT}', stock = 3, min_score = 5 }},
  {{ sku = '{AMP}', stock = 2 }},
]

[population]
players = 40
arrival = "at_open"

[behaviour]
claim_delay_secs = 1
"#
    );
    Scenario::parse(&text, "hostile.toml").expect("hostile text is still a valid scenario")
}

fn assert_escaped(html: &str) {
    assert!(!html.contains("<img"), "an <img> tag from the data reached the page");
    assert!(
        !html.contains("<script"),
        "a <script> tag from the data reached the page"
    );
    assert!(!html.contains("onerror=alert(1)>"), "unescaped hostile text");
    for escaped in [IMG_ESCAPED, SCRIPT_ESCAPED, AMP_ESCAPED] {
        assert!(html.contains(escaped), "{escaped} missing from the page");
    }
}

#[test]
fn hostile_names_ids_and_skus_are_escaped_in_the_run_page() {
    let sc = hostile();
    let mut report = run(&sc, 2, &RunOptions::default()).report;
    assert!(report.invariants.ok, "{}", report.summary_text());
    // Player ids are the simulator's own; make them hostile too.
    assert!(report.leaderboard.len() >= 3, "players scored");
    for (e, id) in report.leaderboard.iter_mut().zip([IMG, SCRIPT, AMP]) {
        e.player = id.to_owned();
    }
    let dir = tempfile::tempdir().unwrap();
    report.write(dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_escaped(&html);
    assert!(html.contains(&format!("<title>{IMG_ESCAPED} — trove-sim report</title>")));
    assert!(html.contains(&format!("<h1>{IMG_ESCAPED}</h1>")));
    assert!(html.contains(&format!("<code>{SCRIPT_ESCAPED}</code>")), "the hunt id");
    assert!(html.contains("<svg"), "the charts are still inline");
}

#[test]
fn hostile_names_and_skus_are_escaped_in_the_monte_carlo_page() {
    let out = run_monte_carlo(&hostile(), 2, 1, &RunOptions::default(), &mut |_, _| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    out.report.write(dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_escaped(&html);
    assert!(html.contains(&format!("<h1>{IMG_ESCAPED} — Monte Carlo</h1>")));
}
