//! The audit projection: per-second rollups and the sparse time index agree
//! with a brute-force count over the journal, survive being deleted (rebuild),
//! and catch up after a crash between the writer's two batches.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use trove_engine::*;
use trove_persistence::audit::Rollup;
use trove_persistence::*;

const T0: Millis = 1_780_000_000_000;

fn hunt() -> HuntDef {
    HuntDef {
        id: "h1".into(),
        name: "Audit hunt".into(),
        opens_at: None,
        closes_at: None,
        clues: vec![
            ClueDef {
                id: "c1".into(),
                points: 5,
            },
            ClueDef {
                id: "c2".into(),
                points: 7,
            },
        ],
        products: vec![
            ProductDef {
                sku: "mug".into(),
                stock: 3,
                per_player_limit: 1,
                min_score: 0,
            },
            ProductDef {
                sku: "cap".into(),
                stock: 10,
                per_player_limit: 2,
                min_score: 5,
            },
        ],
    }
}

/// Builds a journal whose records are committed over ~12 virtual seconds.
fn build(dir: &Path) -> Arc<ManualClock> {
    let clock = Arc::new(ManualClock::new(T0));
    let options = StoreOptions {
        clock: clock.clone(),
        ..StoreOptions::default()
    };
    let config = EngineConfig {
        clock: clock.clone(),
        ..EngineConfig::default()
    };
    actix::System::new().block_on(async {
        let (engine, store, _) = open_engine(dir, options, config).unwrap();
        engine.define_hunt(hunt()).await.unwrap();
        for step in 0..24u32 {
            clock.advance(500);
            let p = format!("p{}", step % 5);
            let kind = match step % 3 {
                0 => EventKind::ClueFound { clue: "c1".into() },
                1 => EventKind::Checkin {
                    location: "dock".into(),
                },
                _ => EventKind::Interaction { kind: "tap".into() },
            };
            engine
                .ingest(vec![GameEvent {
                    player: p.clone(),
                    hunt: "h1".into(),
                    kind,
                }])
                .await
                .unwrap();
            let sku = if step % 2 == 0 { "mug" } else { "cap" };
            let req = ClaimRequest {
                claim_id: format!("k{step}"),
                player: p,
                hunt: "h1".into(),
                sku: sku.into(),
                customs: "{}".into(),
            };
            engine.claim(req).await.unwrap();
            if step == 12 {
                engine.add_stock("h1", "mug", 2).await.unwrap();
                store.snapshot(&engine).await.unwrap();
            }
        }
        store.close().await.unwrap();
        engine.stop();
    });
    clock
}

/// Counts records committed in whole seconds [a, b) by reading the journal.
fn brute_force(dir: &Path, a: i64, b: i64) -> Rollup {
    let mut r = Rollup::default();
    read_journal(dir, 0, |_, at, record| {
        let s = at.div_euclid(1000);
        if s >= a && s < b {
            r.add(&record.view());
        }
    })
    .unwrap();
    r
}

fn all_rollups(archive: &Archive) -> BTreeMap<i64, Rollup> {
    let mut out = BTreeMap::new();
    for s in (T0 / 1000 - 1)..(T0 / 1000 + 20) {
        out.insert(s, archive.report(s * 1000, s * 1000 + 1).unwrap());
    }
    out
}

#[test]
fn reports_match_a_full_count_for_every_window() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let s0 = T0 / 1000;
    let windows = [
        (s0, s0 + 1),
        (s0, s0 + 13),
        (s0 + 3, s0 + 7),
        (s0 + 11, s0 + 30),
        (s0 - 5, s0),
        (s0 + 2, s0 + 2),
    ];
    let archive = Archive::open(tmp.path()).unwrap();
    let whole = archive.report(0, i64::MAX / 2).unwrap();
    drop(archive);
    let total = brute_force(tmp.path(), i64::MIN / 2, i64::MAX / 2);
    assert_eq!(whole, total);
    assert_eq!(total.claims.values().sum::<u64>(), 24, "every claim counted once");
    assert_eq!(
        total.claims.get(&("h1".into(), "mug".into(), "granted".into())),
        Some(&5)
    );
    for (a, b) in windows {
        let expected = brute_force(tmp.path(), a, b);
        let archive = Archive::open(tmp.path()).unwrap();
        assert_eq!(
            archive.report(a * 1000, b * 1000).unwrap(),
            expected,
            "window [{a}, {b})"
        );
        // Milliseconds inside the edge seconds widen to whole seconds.
        if b > a {
            assert_eq!(
                archive.report(a * 1000 + 400, b * 1000 - 600).unwrap(),
                expected,
                "window [{a}, {b}) ms"
            );
        }
    }
}

#[test]
fn time_index_points_at_the_first_record_of_a_second() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let mut first_by_second: BTreeMap<i64, Seq> = BTreeMap::new();
    read_journal(tmp.path(), 0, |seq, at, _| {
        first_by_second.entry(at.div_euclid(1000)).or_insert(seq);
    })
    .unwrap();
    let archive = Archive::open(tmp.path()).unwrap();
    for (second, seq) in &first_by_second {
        assert_eq!(
            archive.first_seq_at(second * 1000 + 999).unwrap(),
            Some(*seq),
            "second {second}"
        );
    }
    let before = *first_by_second.keys().next().unwrap() - 10;
    assert_eq!(archive.first_seq_at(before * 1000).unwrap(), Some(1));
    let after = *first_by_second.keys().last().unwrap() + 1;
    assert_eq!(archive.first_seq_at(after * 1000).unwrap(), None);
}

#[test]
fn rebuild_recreates_snapshots_and_rollups_from_the_journal_alone() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let before = {
        let archive = Archive::open(tmp.path()).unwrap();
        all_rollups(&archive)
    };
    let replayed = verify(tmp.path()).unwrap().replayed.unwrap().digest();
    // The seed's accident: derived data deleted.
    std::fs::remove_dir_all(tmp.path().join("snapshots")).unwrap();
    let archive = Archive::open(tmp.path()).unwrap();
    let report = archive.rebuild(|_| {}).unwrap();
    assert_eq!(report.digest, replayed);
    assert_eq!(all_rollups(&archive), before, "rollups rebuilt identically");
    drop(archive);
    assert_eq!(snapshot::list(tmp.path()).unwrap().len(), 1);
    let v = verify(tmp.path()).unwrap();
    assert!(v.ok(), "{:#?}", v.checks);
}

/// Opens the folder again (the store, then the archive) and checks that the
/// projection equals `before` and the engine the full replay.
fn reopen_and_compare(dir: &Path, before: &BTreeMap<i64, Rollup>) {
    let (engine_digest, caught_up) = actix::System::new().block_on(async {
        let (engine, store, _) = open_engine(dir, StoreOptions::default(), EngineConfig::default()).unwrap();
        let rollup = store.report(0, i64::MAX / 2).unwrap();
        let digest = engine.dump().await.unwrap().digest();
        store.close().await.unwrap();
        engine.stop();
        (digest, rollup)
    });
    assert_eq!(caught_up.claims.values().sum::<u64>(), 24);
    let archive = Archive::open(dir).unwrap();
    assert_eq!(&all_rollups(&archive), before);
    drop(archive);
    assert_eq!(verify(dir).unwrap().replayed.unwrap().digest(), engine_digest);
}

fn rollups_of(dir: &Path) -> BTreeMap<i64, Rollup> {
    all_rollups(&Archive::open(dir).unwrap())
}

#[test]
fn projection_catches_up_when_it_lags_the_journal() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let before = rollups_of(tmp.path());
    // The projection lagging the journal, at the extreme: as after a crash
    // before any audit batch was written, or a projection deleted by hand.
    {
        let db = sled::open(tmp.path().join("audit")).unwrap();
        let audit = db.open_tree(audit::TREE).unwrap();
        audit.clear().unwrap();
        db.flush().unwrap();
    }
    reopen_and_compare(tmp.path(), &before);
}

/// sled could not open some power-cut images at all: the projection is
/// derived, so it is rebuilt from the journal.
#[test]
fn a_projection_sled_cannot_open_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let before = rollups_of(tmp.path());
    let conf = tmp.path().join("audit").join("conf");
    assert!(conf.exists(), "sled keeps its settings in {}", conf.display());
    std::fs::write(&conf, b"garbage that is not a sled config").unwrap();
    reopen_and_compare(tmp.path(), &before);
}

/// After a power cut the projection can describe records the journal lost
/// (never acknowledged): it is rebuilt, not trusted.
#[test]
fn a_projection_ahead_of_the_journal_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    // Drop the last block and the mark (as if neither reached the disk).
    let mut last = None;
    trove_persistence::log::rewrite(&tmp.path().join("journal"), |blocks| {
        last = blocks.pop_last();
    })
    .unwrap();
    let (last_first, _) = last.unwrap();
    std::fs::remove_file(tmp.path().join(hwm::FILE)).unwrap();
    // What the shorter journal alone gives.
    let expected = {
        let fresh = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(fresh.path().join("journal")).unwrap();
        std::fs::copy(
            tmp.path().join("journal").join(log::FILE),
            fresh.path().join("journal").join(log::FILE),
        )
        .unwrap();
        rollups_of(fresh.path())
    };
    let full = rollups_of(tmp.path());
    assert_eq!(
        full, expected,
        "the projection is rebuilt for the journal that is there"
    );
    let store_view = actix::System::new().block_on(async {
        let (engine, store, report) =
            open_engine(tmp.path(), StoreOptions::default(), EngineConfig::default()).unwrap();
        assert_eq!(report.last_seq, last_first - 1);
        let rollup = store.report(0, i64::MAX / 2).unwrap();
        store.close().await.unwrap();
        engine.stop();
        rollup
    });
    assert_eq!(store_view.records, last_first - 1);
}
