//! The leaderboard checkpoint: written with every snapshot and at shutdown,
//! used at the next start only if the journal still has the same history,
//! and ignored (rebuilt from the journal) when damaged. Either way the
//! leaderboard after a restart equals the one before it.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn play(s: &Server, players: u32) {
    let mut events = Vec::new();
    for p in 0..players {
        events.push(json!({"player": format!("p{p}"), "hunt": "cp", "type": "clue_found", "clue": "c1"}));
        if p % 2 == 0 {
            events.push(json!({"player": format!("p{p}"), "hunt": "cp", "type": "clue_found", "clue": "c2"}));
        }
        if p % 3 == 0 {
            events.push(json!({"player": format!("p{p}"), "hunt": "cp", "type": "clue_found", "clue": "c3"}));
        }
    }
    let (st, body) = s
        .http("POST", "/v1/events", Some(GAME), Some(&json!({ "events": events })))
        .await;
    assert_eq!(st, 200, "{body}");
}

/// The leaderboard once the projection has caught up with `players` entries
/// (it refreshes every 200 ms).
async fn board(s: &Server, players: usize) -> Value {
    for _ in 0..50 {
        let (st, body) = s
            .http("GET", "/v1/hunts/cp/leaderboard?limit=50", Some(ADMIN), None)
            .await;
        assert_eq!(st, 200, "{body}");
        if body["entries"].as_array().map(|a| a.len()) == Some(players) {
            return body["entries"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("leaderboard never reached {players} entries");
}

#[tokio::test]
async fn restart_uses_a_matching_checkpoint_and_ignores_a_damaged_one() {
    let root = tempfile::tempdir().unwrap();
    let s = Server::start_on(root.path()).await;
    s.define_example_hunt("cp", 10, 1).await;
    play(&s, 40).await;
    let before = board(&s, 40).await;
    assert!(s.terminate().success());
    let checkpoint = root.path().join("data").join("leaderboard.proj");
    assert!(checkpoint.exists(), "shutdown writes the leaderboard checkpoint");

    // Restart from the checkpoint, then more events on top of it.
    let s = Server::start_on(root.path()).await;
    assert!(
        s.log_text().contains("leaderboard projection built from_checkpoint="),
        "{}",
        s.log_text()
    );
    assert!(
        !s.log_text().contains("from_checkpoint=0 "),
        "the checkpoint was used: {}",
        s.log_text()
    );
    assert_eq!(board(&s, 40).await, before);
    play(&s, 45).await;
    let after = board(&s, 45).await;
    assert!(s.terminate().success());

    // A damaged checkpoint is reported and the projection rebuilt from the journal.
    let mut bytes = std::fs::read(&checkpoint).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x40;
    std::fs::write(&checkpoint, &bytes).unwrap();
    let s = Server::start_on(root.path()).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        s.log_text().contains("leaderboard checkpoint not used"),
        "{}",
        s.log_text()
    );
    assert_eq!(board(&s, 45).await, after, "rebuilt from the journal: same leaderboard");
    let (st, body) = s.http("GET", "/v1/admin/consistency", Some(ADMIN), None).await;
    assert_eq!((st, body["ok"].as_bool()), (200, Some(true)), "{body}");
}
