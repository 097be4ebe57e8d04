use crate::common::*;
use trove_sim::montecarlo::run_monte_carlo;
use trove_sim::RunOptions;

#[test]
fn same_seed_same_bytes_different_seed_different_report() {
    let sc = small();
    let a = run(&sc, 11, &RunOptions::default());
    let b = run(&sc, 11, &RunOptions::default());
    let (ja, jb) = (a.report.to_json(), b.report.to_json());
    assert!(a.report.invariants.ok, "{}", a.report.summary_text());
    assert_eq!(ja, jb, "two runs with the same seed must give identical reports");

    // Every file written, not just the JSON.
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let files = a.report.write(da.path()).unwrap();
    b.report.write(db.path()).unwrap();
    assert!(files.iter().any(|f| f == "report.html"));
    assert!(files.iter().any(|f| f == "series.csv"));
    assert!(files.iter().any(|f| f.ends_with(".svg")));
    for f in &files {
        let x = std::fs::read(da.path().join(f)).unwrap();
        let y = std::fs::read(db.path().join(f)).unwrap();
        assert!(x == y, "{f} differs between two runs with the same seed");
        assert!(!x.is_empty(), "{f} is empty");
    }
    let html = std::fs::read_to_string(da.path().join("report.html")).unwrap();
    assert!(html.contains("<svg"), "charts are inline in the page");
    assert!(!html.contains("/tmp/"), "no temporary paths in the report");

    // The run exercised what it is meant to.
    let r = &a.report;
    assert!(r.totals.granted > 0);
    assert!(r.products.iter().any(|p| p.sold_out), "something sells out");
    assert!(r.totals.rejected["out_of_stock"] > 0);
    assert!(
        r.totals.rejected["hunt_closed"] > 0,
        "claims after closing are rejected"
    );
    assert!(r.totals.duplicate_answers > 0, "duplicate sends get duplicate answers");
    assert!(r.totals.client.lost_requests > 0 && r.totals.client.retries > 0);
    assert_eq!(r.products[1].restocked, 10);
    assert!(r.players.claimed_share > 0.0 && r.players.claimed_share <= 1.0);
    assert!(!r.leaderboard.is_empty());

    let c = run(&sc, 12, &RunOptions::default());
    assert!(c.report.invariants.ok);
    assert_ne!(ja, c.report.to_json(), "a different seed gives a different report");
}

#[test]
fn monte_carlo_summarizes_runs_deterministically() {
    let sc = small();
    let a = run_monte_carlo(&sc, 100, 3, &RunOptions::default(), &mut |_, _| {}).unwrap();
    assert!(a.report.invariants_ok);
    assert_eq!(a.report.seeds, vec![100, 101, 102]);
    let share = a
        .report
        .summary
        .iter()
        .find(|s| s.name == "players.claimed_share")
        .unwrap();
    assert_eq!(share.runs, 3);
    let (p5, med, p95) = (share.p5.unwrap(), share.median.unwrap(), share.p95.unwrap());
    assert!(p5 <= med && med <= p95, "{p5} {med} {p95}");
    assert!(a
        .report
        .summary
        .iter()
        .any(|s| s.name == "product.hoodie.time_to_sell_out_secs"));
    let b = run_monte_carlo(&sc, 100, 3, &RunOptions::default(), &mut |_, _| {}).unwrap();
    assert_eq!(a.report.to_json(), b.report.to_json());
    let dir = tempfile::tempdir().unwrap();
    let files = a.report.write(dir.path()).unwrap();
    for f in ["report.json", "summary.csv", "runs.csv", "report.html"] {
        assert!(files.iter().any(|x| x == f), "{f} written");
    }
    let runs = std::fs::read_to_string(dir.path().join("runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 4, "header and one row per run");
}
