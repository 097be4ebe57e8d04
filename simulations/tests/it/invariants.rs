use crate::common::*;
use trove_sim::{PlantedFault, RunOptions};

fn planted(fault: PlantedFault) -> trove_sim::Report {
    let opts = RunOptions {
        fault: Some(fault),
        ..RunOptions::default()
    };
    run(&small(), 5, &opts).report
}

fn failed(r: &trove_sim::Report) -> Vec<String> {
    r.invariants.failed().iter().map(|c| c.name.clone()).collect()
}

#[test]
fn planted_violations_are_caught_and_named() {
    let r = planted(PlantedFault::DoubleGrant);
    assert!(!r.invariants.ok);
    assert!(
        failed(&r).contains(&"no_claim_granted_twice".to_owned()),
        "{:?}",
        failed(&r)
    );
    let c = r
        .invariants
        .checks
        .iter()
        .find(|c| c.name == "no_claim_granted_twice")
        .unwrap();
    assert!(c.detail.contains("decided more than once"), "{}", c.detail);

    let r = planted(PlantedFault::Oversell);
    assert!(failed(&r).contains(&"no_oversell".to_owned()), "{:?}", failed(&r));
    let c = r.invariants.checks.iter().find(|c| c.name == "no_oversell").unwrap();
    assert!(c.detail.contains("\"sticker\""), "{}", c.detail);

    let r = planted(PlantedFault::LimitBreach);
    assert!(
        failed(&r).contains(&"per_player_limits_held".to_owned()),
        "{:?}",
        failed(&r)
    );

    let r = planted(PlantedFault::ReplayMismatch);
    assert_eq!(failed(&r), vec!["journal_replay_equals_live_state".to_owned()]);
    let html_dir = tempfile::tempdir().unwrap();
    r.write(html_dir.path()).unwrap();
    let html = std::fs::read_to_string(html_dir.path().join("report.html")).unwrap();
    assert!(html.contains("INVARIANT VIOLATED"));
}

#[test]
fn the_binary_fails_a_violated_run_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let sc = write_scenario(dir.path(), "small.toml", SMALL);
    let out = dir.path().join("out");
    let o = sim(&[
        "run",
        sc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--plant-fault",
        "double-grant",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("INVARIANT VIOLATED: no_claim_granted_twice"),
        "{}",
        text(&o)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["invariants"]["ok"], false);

    // A clean run exits 0 and writes the whole report.
    let o = sim(&[
        "run",
        sc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("invariants: all held"),
        "{}",
        text(&o)
    );
    for f in [
        "report.json",
        "report.html",
        "series.csv",
        "products.csv",
        "stock.svg",
        "timing.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
}
