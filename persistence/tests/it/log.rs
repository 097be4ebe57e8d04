//! The block log (`journal/blocks.log`): large commits recover and verify;
//! any flipped byte of an acknowledged frame is refused; a torn write after
//! the acknowledged mark is cut, before it is refused; a journal an earlier
//! version kept in sled is converted.

use std::path::Path;
use trove_engine::*;
use trove_persistence::testing as codec;
use trove_persistence::*;

fn hunt() -> HuntDef {
    HuntDef {
        id: "big".into(),
        name: "Big".into(),
        opens_at: None,
        closes_at: None,
        clues: (0..40)
            .map(|i| ClueDef {
                id: format!("c{i}"),
                points: i,
            })
            .collect(),
        products: vec![ProductDef {
            sku: "mug".into(),
            stock: 1_000,
            per_player_limit: 1,
            min_score: 0,
        }],
    }
}

fn build(dir: &Path) -> Digest {
    actix::System::new().block_on(async {
        let (engine, store, _) = open_engine(dir, StoreOptions::default(), EngineConfig::default()).unwrap();
        engine.define_hunt(hunt()).await.unwrap();
        for round in 0..4u32 {
            // 10,000 events of ~50 bytes: one commit of ~500 KiB, two 256 KiB blocks.
            let batch: Vec<GameEvent> = (0..10_000u32)
                .map(|i| GameEvent {
                    player: format!("player-{}", (i * 7 + round) % 3_000),
                    hunt: "big".into(),
                    kind: if i % 2 == 0 {
                        EventKind::ClueFound {
                            clue: format!("c{}", i % 40),
                        }
                    } else {
                        EventKind::Checkin {
                            location: format!("gate-{}", i % 17),
                        }
                    },
                })
                .collect();
            engine.ingest(batch).await.unwrap();
            let claim = ClaimRequest {
                claim_id: format!("k{round}"),
                player: format!("player-{round}"),
                hunt: "big".into(),
                sku: "mug".into(),
                customs: r#"{"country":"NL"}"#.into(),
            };
            engine.claim(claim).await.unwrap();
        }
        let digest = engine.dump().await.unwrap().digest();
        store.close().await.unwrap();
        engine.stop();
        digest
    })
}

/// The state a folder recovers to, or why it does not.
fn recover(dir: &Path) -> Result<Digest, String> {
    actix::System::new().block_on(async {
        match open_engine(dir, StoreOptions::default(), EngineConfig::default()) {
            Ok((engine, store, _)) => {
                let d = engine.dump().await.unwrap().digest();
                store.close().await.unwrap();
                engine.stop();
                Ok(d)
            }
            Err(e) => Err(e.to_string()),
        }
    })
}

fn log_file(dir: &Path) -> std::path::PathBuf {
    dir.join("journal").join(log::FILE)
}

/// (offset, block length) of every frame, read from the headers.
fn frames(dir: &Path) -> Vec<(usize, usize)> {
    let bytes = std::fs::read(log_file(dir)).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        out.push((at, len));
        at += log::FRAME_HEADER + len;
    }
    assert_eq!(at, bytes.len());
    out
}

fn append(dir: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(log_file(dir)).unwrap();
    f.write_all(bytes).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn large_commits_recover_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let digest = build(tmp.path());
    assert!(
        frames(tmp.path()).iter().any(|&(_, len)| len > 200 << 10),
        "large commits should make blocks near the 256 KiB target"
    );
    let report = verify(tmp.path()).unwrap();
    assert!(report.ok(), "{:#?}", report.checks);
    assert_eq!(report.replayed.unwrap().digest(), digest);
    assert_eq!(recover(tmp.path()), Ok(digest));
}

/// Every byte of an acknowledged frame is covered: its header by the frame
/// check, its block by the block's hashes. (The clean close left the mark at
/// the end, so the whole log was acknowledged.)
#[test]
fn a_flipped_byte_in_an_acknowledged_frame_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let frames = frames(tmp.path());
    let (offset, len) = frames[frames.len() / 2];
    let mut positions: Vec<usize> = (0..log::FRAME_HEADER).map(|i| offset + i).collect();
    positions.extend((0..12).map(|i| offset + log::FRAME_HEADER + i * (len / 12) + 7));
    for at in positions {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(tmp.path(), copy.path());
        let mut bytes = std::fs::read(log_file(copy.path())).unwrap();
        bytes[at] ^= 0x08;
        std::fs::write(log_file(copy.path()), &bytes).unwrap();
        let recovered = recover(copy.path());
        assert!(
            recovered.is_err(),
            "byte {at} (frame at {offset}) flipped: recovered {recovered:?}"
        );
        let v = verify(copy.path()).unwrap();
        assert!(!v.ok(), "byte {at} flipped: verify passed");
    }
}

/// What a crash or power cut leaves after the last acknowledged commit: the
/// start of a frame, a header without its whole block, a whole frame whose
/// block never reached the disk. Each is cut at the next open, and the log
/// goes on from there.
#[test]
fn a_torn_write_after_the_mark_is_cut_and_writing_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let digest = build(tmp.path());
    let len = std::fs::metadata(log_file(tmp.path())).unwrap().len();
    let last = verify(tmp.path()).unwrap().journal_last_seq;
    let mut garbage_block = Vec::new();
    log::frame(last + 1, 3, &vec![0u8; 5000], &mut garbage_block);
    let mut short_block = Vec::new();
    log::frame(last + 1, 3, &vec![7u8; 5000], &mut short_block);
    short_block.truncate(log::FRAME_HEADER + 100);
    let tails: [(&str, Vec<u8>); 4] = [
        ("a few bytes of a header", b"TRV".to_vec()),
        ("zeros", vec![0u8; 4096]),
        ("a header without its whole block", short_block),
        ("a whole frame whose block is zeros", garbage_block),
    ];
    for (what, tail) in tails {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(tmp.path(), copy.path());
        append(copy.path(), &tail);
        let v = verify(copy.path()).unwrap();
        assert!(v.ok(), "{what}: {:#?}", v.checks);
        assert!(
            v.checks[0].detail.contains("never acknowledged"),
            "{what}: verify names the cut: {}",
            v.checks[0].detail
        );
        assert_eq!(recover(copy.path()), Ok(digest), "{what}");
        assert_eq!(
            std::fs::metadata(log_file(copy.path())).unwrap().len(),
            len,
            "{what}: cut"
        );
        // Appends go on after the cut, and read back.
        let more = actix::System::new().block_on(async {
            let (engine, store, _) =
                open_engine(copy.path(), StoreOptions::default(), EngineConfig::default()).unwrap();
            engine.add_stock("big", "mug", 5).await.unwrap();
            let d = engine.dump().await.unwrap().digest();
            store.close().await.unwrap();
            engine.stop();
            d
        });
        let v = verify(copy.path()).unwrap();
        assert!(v.ok(), "{what}: {:#?}", v.checks);
        assert_eq!(v.journal_last_seq, last + 1);
        assert_eq!(v.replayed.unwrap().digest(), more);
    }
}

/// The same damage where the mark says it was acknowledged: refused, with
/// where the log stops being readable.
#[test]
fn a_torn_write_before_the_mark_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let frames = frames(tmp.path());
    let (offset, _) = *frames.last().unwrap();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(log_file(tmp.path()))
        .unwrap();
    file.set_len(offset as u64 + 40).unwrap();
    drop(file);
    let err = recover(tmp.path()).unwrap_err();
    assert!(err.contains("acknowledged"), "{err}");
    assert!(err.contains(&format!("from offset {offset}")), "{err}");
    let v = verify(tmp.path()).unwrap();
    let failed: Vec<_> = v.checks.iter().filter(|c| !c.ok).collect();
    assert!(
        failed.iter().any(|c| c.name == "acknowledged records present"),
        "{failed:#?}"
    );
}

/// A folder whose journal an earlier version kept in sled (tree `journal`,
/// key = first sequence big-endian, value = the block) is converted at its
/// first open, and nothing of it is lost.
#[test]
fn a_journal_in_sled_is_converted() {
    let tmp = tempfile::tempdir().unwrap();
    let digest = build(tmp.path());
    let mut blocks = std::collections::BTreeMap::new();
    log::rewrite(&tmp.path().join("journal"), |b| blocks = b.clone()).unwrap();
    std::fs::remove_dir_all(tmp.path().join("journal")).unwrap();
    std::fs::remove_dir_all(tmp.path().join("audit")).unwrap();
    {
        let db = sled::open(tmp.path().join("journal")).unwrap();
        let tree = db.open_tree("journal").unwrap();
        for (seq, bytes) in &blocks {
            tree.insert(codec::key_of(*seq), bytes.as_slice()).unwrap();
        }
        db.flush().unwrap();
    }
    assert_eq!(recover(tmp.path()), Ok(digest));
    assert!(log_file(tmp.path()).exists());
    assert!(
        !tmp.path().join("journal").join("db").exists(),
        "the sled files are gone"
    );
    assert!(!tmp.path().join("journal.old").exists());
    let v = verify(tmp.path()).unwrap();
    assert!(v.ok(), "{:#?}", v.checks);
    let mut converted = std::collections::BTreeMap::new();
    log::rewrite(&tmp.path().join("journal"), |b| converted = b.clone()).unwrap();
    assert_eq!(converted, blocks, "every block, byte for byte");
}
