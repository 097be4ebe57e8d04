//! `trove compact` against the real binary: a journal built through a running
//! server, compacted offline with `--older-than 0s`, then
//!
//! - `trove verify`: intact, same digest and chain head as before;
//! - `trove export` + `trove audit verify`: every kept record, intact and
//!   complete, with the removed telemetry reported; filtered exports too;
//!   tampering with a compacted block line or its records fails;
//! - a restarted server (also without its leaderboard checkpoint): the same
//!   leaderboard, a clean consistency check, and claim retries answered with
//!   their original decision;
//! - bad input: an unparsable age, a folder in use.

use crate::harness::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn export(data: &str, out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["export", "--data", data, "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = trove(&args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    std::fs::read_to_string(out).unwrap()
}

fn audit_verify(path: &Path) -> Run {
    trove(&["audit", "verify", path.to_str().unwrap()])
}

fn digest_of(r: &Run) -> String {
    r.stdout
        .lines()
        .find_map(|l| l.strip_prefix("digest: "))
        .expect("verify prints the digest")
        .to_owned()
}

async fn leaderboard(s: &Server) -> Value {
    // The projection refreshes every 200 ms.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (st, body) = s
        .http("GET", "/v1/hunts/rt/leaderboard?limit=100", Some(ADMIN), None)
        .await;
    assert_eq!(st, 200, "{body}");
    body["entries"].clone()
}

#[tokio::test]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario with its assertions in order; splitting it would hide which step each check belongs to"
)]
async fn compaction_keeps_exports_verifiable_state_and_dedup() {
    let root = tempfile::tempdir().unwrap();
    let s = Server::start_on(root.path()).await;
    let data = s.data.clone();
    let data_s = data.to_str().unwrap().to_owned();
    s.define_example_hunt("rt", 4, 1).await;
    // Players seen only through telemetry (t*) rank by when they were first seen.
    let mut claims = Vec::new();
    for round in 0..6u32 {
        let mut events = Vec::new();
        for p in 0..8u32 {
            let player = format!("p{p}");
            events
                .push(json!({"player": player, "hunt": "rt", "type": "checkin", "location": format!("spot {round}")}));
            events.push(json!({"player": player, "hunt": "rt", "type": "interaction", "kind": "tap"}));
            if (p + round) % 3 == 0 {
                events.push(json!({"player": player, "hunt": "rt", "type": "clue_found", "clue": format!("c{}", 1 + round % 3)}));
            }
        }
        events.push(json!({"player": format!("t{round}"), "hunt": "rt", "type": "checkin", "location": "gate"}));
        let (st, body) = s
            .http("POST", "/v1/events", Some(GAME), Some(&json!({ "events": events })))
            .await;
        assert_eq!(st, 200, "{body}");
        let body = json!({"claim_id": format!("k{round}"), "player": format!("p{round}"), "hunt": "rt", "sku": if round % 2 == 0 { "mug" } else { "hoodie" }, "customs": {"round": round}});
        let (st, r) = s.http("POST", "/v1/claims", Some(GAME), Some(&body)).await;
        assert_eq!(st, 200, "{r}");
        claims.push((body, r));
    }
    let board_before = leaderboard(&s).await;
    assert_eq!(board_before.as_array().unwrap().len(), 14, "{board_before}");
    assert_eq!(s.terminate().code(), Some(0));

    let v = trove(&["verify", "--data", &data_s]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let digest = digest_of(&v);
    let head = v
        .stdout
        .lines()
        .find(|l| l.starts_with("chain head:"))
        .unwrap()
        .to_owned();
    let before = export(&data_s, &root.path().join("before.jsonl"), &[]);
    let before_records: Vec<Value> = lines(&before).into_iter().filter(|l| l["type"] == "record").collect();
    let telemetry = before_records
        .iter()
        .filter(|r| r["record_type"] == "checkin" || r["record_type"] == "interaction")
        .count();
    assert!(telemetry > 90, "{telemetry}");

    // Bad input first: nothing changes.
    let r = trove(&["compact", "--data", &data_s, "--older-than", "a week"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("--older-than"), "{}", r.stderr);
    // The default age (7 days) compacts nothing here.
    let r = trove(&["compact", "--data", &data_s]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("nothing to compact"), "{}", r.stdout);
    assert!(!data.join("journal.next").exists());

    let r = trove(&["compact", "--data", &data_s, "--older-than", "0s"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("removed {telemetry} telemetry records")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("compact: ok"), "{}", r.stdout);

    // Same chain head and state.
    let v = trove(&["verify", "--data", &data_s]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert_eq!(digest_of(&v), digest);
    assert!(v.stdout.contains(&head), "{}", v.stdout);
    assert!(
        v.stdout.contains(&format!("{telemetry} telemetry records removed")),
        "{}",
        v.stdout
    );

    // The export: every kept record, byte for byte as before, complete.
    let all_path = root.path().join("after.jsonl");
    let after = export(&data_s, &all_path, &[]);
    let after_lines = lines(&after);
    let after_records: Vec<&Value> = after_lines.iter().filter(|l| l["type"] == "record").collect();
    let kept: Vec<&Value> = before_records
        .iter()
        .filter(|r| r["record_type"] != "checkin" && r["record_type"] != "interaction")
        .collect();
    assert_eq!(after_records, kept);
    let compacted_blocks: Vec<&Value> = after_lines
        .iter()
        .filter(|l| l["type"] == "block" && l.get("removed").is_some())
        .collect();
    assert!(!compacted_blocks.is_empty());
    assert_eq!(
        compacted_blocks
            .iter()
            .map(|b| b["removed"].as_u64().unwrap())
            .sum::<u64>(),
        telemetry as u64
    );
    let ok = audit_verify(&all_path);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(
        ok.stdout
            .contains(&format!("retention: {telemetry} telemetry records were removed")),
        "{}",
        ok.stdout
    );
    assert!(ok.stdout.contains("complete:"), "{}", ok.stdout);

    // Filtered exports of a compacted journal verify too.
    for filter in [
        vec!["--player", "p1"],
        vec!["--type", "claims"],
        vec!["--type", "events"],
    ] {
        let path = root.path().join(format!("f-{}.jsonl", filter[1]));
        export(&data_s, &path, &filter);
        let r = audit_verify(&path);
        assert_eq!(r.code, 0, "{filter:?}: {}{}", r.stdout, r.stderr);
    }

    // Tampering with a compacted block line or its records.
    let block_line = after.lines().find(|l| l.contains("\"removed\":")).unwrap();
    let block: Value = serde_json::from_str(block_line).unwrap();
    let removed = block["removed"].as_u64().unwrap();
    let root_hex = block["telemetry_root"].as_str().unwrap();
    let mut flipped_root = root_hex.to_owned();
    flipped_root.replace_range(0..1, if &root_hex[0..1] == "0" { "1" } else { "0" });
    let tampered = [
        (
            "removed count",
            after.replacen(
                &format!("\"removed\":{removed},"),
                &format!("\"removed\":{},", removed + 1),
                1,
            ),
            "removed",
        ),
        (
            "telemetry root",
            after.replacen(root_hex, &flipped_root, 1),
            "leaf_root",
        ),
        (
            "a claim of a compacted block dropped",
            after
                .lines()
                .filter(|l| !l.contains("\"claim_id\":\"k0\""))
                .map(|l| format!("{l}\n"))
                .collect(),
            "missing",
        ),
    ];
    for (what, text, needle) in tampered {
        assert_ne!(text, after, "{what}: the edit applies");
        let path = root.path().join("t.jsonl");
        std::fs::write(&path, text).unwrap();
        let r = audit_verify(&path);
        assert_eq!(r.code, 1, "{what}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains(needle), "{what}: {}", r.stdout);
    }

    // A restarted server: same leaderboard, consistent, retries deduplicated.
    let s = Server::start_on(root.path()).await;
    assert_eq!(leaderboard(&s).await, board_before);
    for (body, first) in &claims {
        let (st, r) = s.http("POST", "/v1/claims", Some(GAME), Some(body)).await;
        assert_eq!(st, 200, "{r}");
        assert_eq!(r["duplicate"], true, "{r}");
        assert_eq!(
            (&r["status"], &r["seq"], &r["reason"]),
            (&first["status"], &first["seq"], &first["reason"])
        );
    }
    let (st, r) = s.http("GET", "/v1/admin/consistency", Some(ADMIN), None).await;
    assert_eq!((st, &r["ok"]), (200, &json!(true)), "{r}");
    assert_eq!(s.terminate().code(), Some(0));

    // Without the leaderboard checkpoint the projection is rebuilt from the
    // compacted journal: still the same.
    std::fs::remove_file(data.join("leaderboard.proj")).unwrap();
    let s = Server::start_on(root.path()).await;
    assert_eq!(leaderboard(&s).await, board_before);
    let (st, r) = s.http("GET", "/v1/admin/consistency", Some(ADMIN), None).await;
    assert_eq!((st, &r["ok"]), (200, &json!(true)), "{r}");

    // The folder is in use: compact refuses.
    let r = trove(&["compact", "--data", &data_s, "--older-than", "0s"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("in use"), "{}", r.stderr);
    assert_eq!(s.terminate().code(), Some(0));
}
