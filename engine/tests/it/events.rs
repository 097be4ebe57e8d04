//! Event ingestion: batches are atomic, a clue scores once per player, and
//! batches have a size limit.

use crate::common::*;
use trove_engine::*;

fn windowed() -> HuntDef {
    hunt(
        "w",
        (Some(1_000), Some(2_000)),
        &[("c1", 10), ("c2", 20)],
        vec![product("tee", 1, 1, 0)],
    )
}

#[test]
fn one_invalid_event_rejects_the_whole_batch() {
    run(async {
        let h = Harness::new(1_500);
        h.define(open_hunt("h", vec![product("tee", 1, 1, 15)])).await;
        h.define(windowed()).await;
        h.clues("p0", "h", &["c3"]).await; // p0 exists with score 5 beforehand
        let long_id = "x".repeat(limits::MAX_ID_BYTES + 1);
        let long_text = "x".repeat(limits::MAX_TEXT_BYTES + 1);
        let valid = || {
            vec![
                clue("p0", "h", "c1"),
                clue("p1", "h", "c2"),
                checkin("p2", "h", "gate"),
                clue("p1", "w", "c1"),
            ]
        };
        // (what, bad event, whether the clock must be outside w's window)
        let cases: Vec<(&str, GameEvent, bool)> = vec![
            ("unknown hunt", clue("p1", "nope", "c1"), false),
            ("unknown clue", clue("p1", "h", "c9"), false),
            ("clue of another hunt", clue("p1", "w", "c3"), false),
            ("player id too long", clue(&long_id, "h", "c1"), false),
            ("empty player id", checkin("", "h", "gate"), false),
            ("location too long", checkin("p1", "h", &long_text), false),
            (
                "interaction kind too long",
                GameEvent {
                    player: "p1".into(),
                    hunt: "h".into(),
                    kind: EventKind::Interaction {
                        kind: long_text.clone(),
                    },
                },
                false,
            ),
            ("clue_found on a closed hunt", clue("p3", "w", "c2"), true),
        ];
        let before = h.check().await;
        for (what, bad, closed) in cases {
            for index in [0, 2, 4] {
                h.clock.set(if closed { 2_000 } else { 1_500 });
                let mut batch = valid();
                if closed {
                    // The valid events must not touch the closed hunt.
                    batch.retain(|e| e.hunt != "w");
                }
                let index = index.min(batch.len());
                batch.insert(index, bad.clone());
                let err = h.engine.ingest(batch).await.expect_err(what);
                match &err {
                    EngineError::InvalidEvent { index: i, .. } => assert_eq!(*i, index, "{what}"),
                    e => panic!("{what}: {e:?}"),
                }
                assert_eq!(err.code(), "invalid_event");
                assert_eq!(h.last_seq(), before.last_seq, "{what}: nothing journaled");
            }
        }
        let after = h.check().await;
        assert_eq!(after.digest(), before.digest(), "nothing applied");
        assert_eq!(h.engine.player("p1").await.unwrap(), None, "p1 was never materialized");

        // The same batch without the bad event goes through, whole.
        h.clock.set(1_500);
        let r = h.engine.ingest(valid()).await.unwrap();
        assert_eq!(
            r,
            IngestResult {
                accepted: 4,
                seq: before.last_seq + 4
            }
        );
        let world = h.check().await;
        assert_eq!(player_in(&world, "p0").score("h"), 15);
        assert_eq!(player_in(&world, "p1").score("h"), 20);
        assert_eq!(player_in(&world, "p1").score("w"), 10);
        assert_eq!(player_in(&world, "p2").score("h"), 0);
        assert_eq!(player_in(&world, "p2").hunt("h").unwrap().events, 1);
    });
}

#[test]
fn telemetry_on_a_closed_hunt_is_accepted_but_clues_are_not() {
    run(async {
        let h = Harness::new(5_000);
        h.define(windowed()).await;
        let r = h.engine.ingest(vec![checkin("p", "w", "gate")]).await.unwrap();
        assert_eq!(r.accepted, 1);
        let e = h
            .engine
            .ingest(vec![checkin("p", "w", "gate"), clue("p", "w", "c1")])
            .await;
        assert!(matches!(e, Err(EngineError::InvalidEvent { index: 1, .. })), "{e:?}");
        h.clock.set(1_000);
        h.engine.ingest(vec![clue("p", "w", "c1")]).await.unwrap();
        assert_eq!(h.score("p", "w").await, 10);
        h.check().await;
    });
}

#[test]
fn a_clue_scores_once_per_player_and_hunt() {
    run(async {
        let mut h = Harness::new(0);
        h.define(open_hunt("h", vec![product("gold", 1, 1, 30)])).await;
        h.define(open_hunt("h2", vec![])).await;
        let batch = vec![
            clue("p", "h", "c1"),
            clue("p", "h", "c1"),
            clue("p", "h", "c2"),
            clue("q", "h", "c1"),
            clue("p", "h2", "c1"),
        ];
        for attempt in 0..3 {
            let r = h.engine.ingest(batch.clone()).await.unwrap();
            assert_eq!(r.accepted, 5, "retries are accepted (and journaled) ...");
            assert_eq!(h.score("p", "h").await, 30, "... but score once (attempt {attempt})");
            assert_eq!(h.score("q", "h").await, 10);
            assert_eq!(h.score("p", "h2").await, 10, "clues are per hunt");
        }
        let world = h.check().await;
        assert_eq!(player_in(&world, "p").hunt("h").unwrap().events, 9);
        // After a restart, the retry still does not double score.
        h.restart().await;
        h.engine.ingest(batch.clone()).await.unwrap();
        assert_eq!(h.score("p", "h").await, 30);
        // Score gates claims: 30 is exactly enough for gold.
        assert!(h.claim("p", "c", "h", "gold").await.unwrap().outcome.is_granted());
        assert_eq!(
            h.claim("q", "c", "h", "gold").await.unwrap().outcome,
            rejected(RejectReason::NotEligible)
        );
        h.check().await;
    });
}

#[test]
fn batch_size_limit() {
    run(async {
        let h = Harness::new(0);
        h.define(open_hunt("h", vec![])).await;
        let max = limits::MAX_BATCH_EVENTS;
        let batch: Vec<GameEvent> = (0..=max).map(|i| checkin(&format!("p{}", i % 50), "h", "x")).collect();
        let e = h.engine.ingest(batch.clone()).await.unwrap_err();
        assert_eq!(e, EngineError::BatchTooLarge { len: max + 1, max });
        assert_eq!(e.code(), "batch_too_large");
        assert_eq!(h.last_seq(), 1);
        // Exactly the maximum is fine.
        let r = h.engine.ingest(batch[..max].to_vec()).await.unwrap();
        assert_eq!(
            r,
            IngestResult {
                accepted: max,
                seq: 1 + max as Seq
            }
        );
        // An empty batch is a no-op.
        let r = h.engine.ingest(Vec::new()).await.unwrap();
        assert_eq!(
            r,
            IngestResult {
                accepted: 0,
                seq: 1 + max as Seq
            }
        );
        assert_eq!(h.last_seq(), 1 + max as Seq);
        h.check().await;
    });
}
