//! Damaged data folders: recovery must stop with the damage and its position,
//! or return state that a prefix of the original journal produces, never
//! anything else; `verify` must report what recovery does not look at.
//!
//! Every case works on a copy of one real folder written by the engine (two
//! sessions, events, claims, two snapshots, a journal tail after the newest).
//! Journal blocks are edited through `log::rewrite`, as a buggy writer would
//! leave them (frame headers intact); the block log is also damaged raw.
//!
//! What recovery can and cannot see, as these tests pin it down:
//! - a damaged, missing or misplaced block at or after the block before the
//!   recovery start (newest snapshot + 1): `Damaged` with its sequence;
//! - a block lost from the end while a snapshot is later: `SnapshotAhead`;
//! - damage to blocks only the snapshot covers: recovery succeeds with correct
//!   state (it never reads them), `verify` reports the damage;
//! - blocks lost from the end with no later snapshot: indistinguishable from a
//!   shorter journal to the chain. Recovery returns that prefix's state and
//!   `verify` is ok only without the acknowledged mark (`journal.hwm`), which
//!   protects the end: see `docs/DURABILITY.md`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;
use trove_engine::*;
use trove_persistence::chain::HEADER_LEN;
use trove_persistence::testing as codec;
use trove_persistence::*;

/// A closed data folder and what is known about its journal.
struct Fixture {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    /// (first_seq, count) of every block, in order.
    blocks: Vec<(Seq, u32)>,
    /// Snapshot sequences, oldest first.
    snapshots: Vec<Seq>,
    /// `prefix[s]` = digest of the state after records `1..=s`.
    prefix: Vec<Digest>,
}

impl Fixture {
    fn last_seq(&self) -> Seq {
        self.prefix.len() as Seq - 1
    }

    fn digest(&self) -> Digest {
        self.prefix[self.prefix.len() - 1]
    }

    /// Blocks wholly after the newest snapshot: what recovery reads.
    fn tail(&self) -> Vec<(Seq, u32)> {
        let s = *self.snapshots.last().unwrap();
        self.blocks.iter().copied().filter(|b| b.0 > s).collect()
    }

    /// A fresh copy of the folder.
    fn copy(&self, name: &str) -> PathBuf {
        let to = self.tmp.path().join(name);
        copy_dir(&self.dir, &to);
        to
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn hunt() -> HuntDef {
    HuntDef {
        id: "h".into(),
        name: "Corruption hunt".into(),
        opens_at: None,
        closes_at: None,
        clues: (0..4)
            .map(|i| ClueDef {
                id: format!("c{i}"),
                points: 5,
            })
            .collect(),
        products: vec![
            ProductDef {
                sku: "mug".into(),
                stock: 30,
                per_player_limit: 1,
                min_score: 0,
            },
            ProductDef {
                sku: "gold".into(),
                stock: 10,
                per_player_limit: 2,
                min_score: 10,
            },
        ],
    }
}

/// Some claims (`clients` at a time) and event batches.
async fn load(engine: &Engine, tag: &str, clients: usize, per_client: usize) {
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (engine, tag) = (engine.clone(), tag.to_string());
        tasks.push(actix::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(client as u64);
            for n in 0..per_client {
                let player = format!("p{}", rng.gen_range(0..40));
                if n % 4 == 0 {
                    let events = (0..rng.gen_range(1..30))
                        .map(|i| GameEvent {
                            player: format!("p{}", rng.gen_range(0..40)),
                            hunt: "h".into(),
                            kind: if i % 3 == 0 {
                                EventKind::Checkin {
                                    location: "somewhere".into(),
                                }
                            } else {
                                EventKind::ClueFound {
                                    clue: format!("c{}", rng.gen_range(0..4)),
                                }
                            },
                        })
                        .collect();
                    engine.ingest(events).await.unwrap();
                }
                let sku = ["mug", "gold", "none"][rng.gen_range(0..3)];
                engine
                    .claim(ClaimRequest {
                        claim_id: format!("{tag}.{client}.{n}"),
                        player,
                        hunt: "h".into(),
                        sku: sku.into(),
                        customs: format!(r#"{{"n":{n}}}"#),
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Writes a folder with two sessions, two snapshots and a tail after the
/// newest. Small blocks, so one group commit often writes several.
fn build() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pristine");
    let options = || StoreOptions {
        block_target_bytes: 700,
        ..StoreOptions::default()
    };
    actix::System::new().block_on(async {
        let (engine, store, _) = open_engine(&dir, options(), EngineConfig::default()).unwrap();
        engine.define_hunt(hunt()).await.unwrap();
        load(&engine, "a", 1, 12).await;
        load(&engine, "b", 6, 8).await;
        store.snapshot(&engine).await.unwrap();
        load(&engine, "c", 3, 6).await;
        store.close().await.unwrap();
        engine.stop();
    });
    actix::System::new().block_on(async {
        let (engine, store, _) = open_engine(&dir, options(), EngineConfig::default()).unwrap();
        engine.add_stock("h", "gold", 5).await.unwrap();
        load(&engine, "d", 4, 8).await;
        store.snapshot(&engine).await.unwrap();
        load(&engine, "e", 1, 10).await;
        load(&engine, "f", 5, 6).await;
        store.close().await.unwrap();
        engine.stop();
    });
    let mut blocks = Vec::new();
    with_tree(&dir, |tree| {
        for (k, v) in tree.iter() {
            let b = codec::decode_block(v).unwrap();
            assert_eq!(*k, b.first_seq);
            blocks.push((b.first_seq, b.count));
        }
    });
    let mut world = World::default();
    let mut prefix = vec![world.digest()];
    read_journal(&dir, 0, |seq, _, r| {
        world.apply(seq, &r).unwrap();
        prefix.push(world.digest());
    })
    .unwrap();
    let mut snapshots: Vec<Seq> = snapshot::list(&dir).unwrap().into_iter().map(|(s, _)| s).collect();
    snapshots.reverse();
    let f = Fixture {
        tmp,
        dir,
        blocks,
        snapshots,
        prefix,
    };
    assert_eq!(f.snapshots.len(), 2, "{:?}", f.snapshots);
    assert!(f.tail().len() >= 6, "tail of {} blocks is too short", f.tail().len());
    assert!(f.blocks.len() > f.tail().len() + 6);
    let report = verify(&f.dir).unwrap();
    assert!(report.ok(), "pristine folder fails verify: {:#?}", report.checks);
    assert_eq!(report.journal_last_seq, f.last_seq());
    f
}

/// Edits the journal's blocks (first sequence -> stored bytes) as a buggy
/// writer would: the block log is rewritten with valid frame headers.
fn with_tree<T>(dir: &Path, f: impl FnOnce(&mut Blocks) -> T) -> T {
    let mut out = None;
    trove_persistence::log::rewrite(&dir.join("journal"), |blocks| out = Some(f(blocks))).unwrap();
    out.unwrap()
}

type Blocks = std::collections::BTreeMap<Seq, Vec<u8>>;

fn get_block(tree: &Blocks, first_seq: Seq) -> Vec<u8> {
    tree[&first_seq].clone()
}

fn put_block(tree: &mut Blocks, first_seq: Seq, value: Vec<u8>) {
    tree.insert(first_seq, value);
}

/// Recovery through the public entry point, and the state it serves.
fn recover(dir: &Path) -> Result<(World, RecoveryReport), StoreError> {
    actix::System::new().block_on(async {
        let (engine, store, report) = open_engine(dir, StoreOptions::default(), EngineConfig::default())?;
        let world = engine.dump().await;
        store.close().await?;
        engine.stop();
        Ok((world?, report))
    })
}

#[track_caller]
fn expect_damage(dir: &Path) -> JournalDamage {
    match recover(dir) {
        Err(StoreError::Damaged(d)) => d,
        Err(e) => panic!("expected journal damage, got another error: {e}"),
        Ok((w, _)) => panic!("recovery of a damaged journal succeeded, at seq {}", w.last_seq),
    }
}

/// `verify` must fail, with a failed "journal readable" check that names `position`.
#[track_caller]
fn expect_verify_names(dir: &Path, position: Seq) {
    let report = verify(dir).unwrap();
    assert!(!report.ok(), "verify passed a damaged journal");
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "journal readable")
        .unwrap_or_else(|| panic!("no journal check: {:#?}", report.checks));
    assert!(!check.ok, "{check:?}");
    assert!(
        check.detail.contains(&format!(" {position}")),
        "verify does not name position {position}: {}",
        check.detail
    );
}

/// Recovery succeeded: the state must equal the original journal's up to where it ended.
#[track_caller]
fn assert_prefix_state(f: &Fixture, world: &World, what: &str) {
    let s = world.last_seq;
    assert!(
        s <= f.last_seq(),
        "{what}: recovered seq {s} beyond the journal's {}",
        f.last_seq()
    );
    assert_eq!(
        world.digest(),
        f.prefix[s as usize],
        "{what}: recovered state at seq {s} is not the journal's state at {s}"
    );
    if let Err(e) = world.check_invariants() {
        panic!("{what}: {e}");
    }
}

// ------------------------------------------------------------------ (a)

#[test]
fn flipped_byte_in_a_block_stops_recovery_at_that_block() {
    let f = build();
    let tail = f.tail();
    let (target, _) = tail[tail.len() / 2];
    let len = with_tree(&f.dir, |t| get_block(t, target).len());
    // Payload (the case the hash exists for) and every header field.
    let offsets = [
        ("payload", HEADER_LEN + (len - HEADER_LEN) / 2),
        ("last payload byte", len - 1),
        ("first payload byte", HEADER_LEN),
        ("magic", 0),
        ("version", 4),
        ("first_seq", 8),
        ("count", 16),
        ("payload_len", 20),
        ("committed_at", 26),
        ("prev_hash", 40),
        ("leaf_root", 80),
        ("hash", HEADER_LEN - 10),
    ];
    for (i, (field, at)) in offsets.into_iter().enumerate() {
        let dir = f.copy(&format!("flip{i}"));
        with_tree(&dir, |t| {
            let mut v = get_block(t, target);
            v[at] ^= 0x10;
            put_block(t, target, v);
        });
        let damage = expect_damage(&dir);
        match &damage {
            JournalDamage::CorruptBlock { first_seq, .. } => {
                assert_eq!(*first_seq, target, "flip in {field}: {damage}")
            }
            other => panic!("flip in {field}: expected CorruptBlock at {target}, got {other:?}"),
        }
        assert_eq!(damage.position(), Some(target));
        if field == "payload" {
            assert!(damage.to_string().contains("checksum mismatch"), "{damage}");
        }
        expect_verify_names(&dir, target);
    }

    // A torn value (shorter than its header says).
    let dir = f.copy("torn");
    with_tree(&dir, |t| {
        let mut v = get_block(t, target);
        v.truncate(v.len() - 7);
        put_block(t, target, v);
    });
    match expect_damage(&dir) {
        JournalDamage::CorruptBlock { first_seq, reason } => {
            assert_eq!(first_seq, target);
            assert!(reason.contains("torn"), "{reason}");
        }
        other => panic!("torn block: got {other:?}"),
    }
    expect_verify_names(&dir, target);
}

#[test]
fn flipped_byte_before_the_snapshot_is_left_to_verify() {
    let f = build();
    // A block only the newest snapshot covers (not the one just before the tail,
    // whose hash recovery checks to link the tail).
    let (target, _) = f.blocks[2];
    assert!(target < f.snapshots[0]);
    let dir = f.copy("flip-old");
    with_tree(&dir, |t| {
        let mut v = get_block(t, target);
        let at = v.len() - 3;
        v[at] ^= 0x01;
        put_block(t, target, v);
    });
    let (world, report) = recover(&dir).expect("recovery reads only the tail after the newest snapshot");
    assert_eq!(report.snapshot_seq, f.snapshots.last().copied());
    assert_eq!(world.digest(), f.digest());
    expect_verify_names(&dir, target);

    // The block right before the tail is checked: recovery refuses.
    let tail_first = f.tail()[0].0;
    let (before, _) = *f.blocks.iter().rev().find(|b| b.0 < tail_first).unwrap();
    let dir = f.copy("flip-link");
    with_tree(&dir, |t| {
        let mut v = get_block(t, before);
        v[HEADER_LEN] ^= 0x01;
        put_block(t, before, v);
    });
    assert_eq!(expect_damage(&dir).position(), Some(before));
}

// ------------------------------------------------------------------ (b)

#[test]
fn missing_block_is_a_gap_at_its_position() {
    let f = build();
    let tail = f.tail();
    let (target, _) = tail[2];
    let (next, _) = tail[3];
    let dir = f.copy("gap");
    with_tree(&dir, |t| t.remove(&target).unwrap());
    let damage = expect_damage(&dir);
    assert_eq!(
        damage,
        JournalDamage::Gap {
            expected: target,
            found: next
        }
    );
    assert_eq!(damage.position(), Some(target));
    expect_verify_names(&dir, target);

    // The first block, with no snapshot to skip it: a full replay finds the gap at 1.
    let dir = f.copy("gap-first");
    with_tree(&dir, |t| t.remove(&1).unwrap());
    std::fs::remove_dir_all(snapshot::dir_of(&dir)).unwrap();
    assert_eq!(
        expect_damage(&dir),
        JournalDamage::Gap {
            expected: 1,
            found: f.blocks[1].0
        }
    );
    expect_verify_names(&dir, 1);
}

// ------------------------------------------------------------------ (c)

#[test]
fn truncated_tail_behind_a_snapshot_is_snapshot_ahead_and_otherwise_a_shorter_journal() {
    let f = build();
    let (s1, s2) = (f.snapshots[0], f.snapshots[1]);
    // Cut the journal at a block boundary between the two snapshots.
    let (cut, _) = *f.blocks.iter().find(|b| b.0 > s1 && b.0 <= s2).unwrap();
    let truncate = |dir: &Path, from: Seq| {
        with_tree(dir, |t| {
            for b in f.blocks.iter().filter(|b| b.0 >= from) {
                t.remove(&b.0).unwrap();
            }
        })
    };

    // Snapshot s2 records more than the journal now holds: refuse.
    let dir = f.copy("cut");
    truncate(&dir, cut);
    match recover(&dir) {
        Err(StoreError::SnapshotAhead {
            snapshot_seq,
            journal_last,
        }) => assert_eq!((snapshot_seq, journal_last), (s2, cut - 1)),
        Err(e) => panic!("expected SnapshotAhead, got {e}"),
        Ok((w, _)) => panic!(
            "recovered at {} from a journal cut at {cut} below snapshot {s2}",
            w.last_seq
        ),
    }
    expect_verify_fails(&dir, &format!("snapshot {s2} within journal"));

    // The same cut with no snapshot: the acknowledged high-water mark
    // (DATA/journal.hwm) still says records up to the end were acknowledged,
    // so recovery refuses the shorter journal and verify names the loss.
    let dir = f.copy("cut-nosnap");
    truncate(&dir, cut);
    std::fs::remove_dir_all(snapshot::dir_of(&dir)).unwrap();
    expect_acknowledged_lost(&dir, cut - 1);

    // Losing only blocks after the newest snapshot: caught the same way.
    let dir = f.copy("cut-tail");
    truncate(&dir, s2 + 1);
    expect_acknowledged_lost(&dir, s2);

    // If the mark is lost as well, nothing says records are missing: recovery
    // serves the shorter journal, which is a correct prefix, and verify is ok.
    let dir = f.copy("cut-nomark");
    truncate(&dir, s2 + 1);
    std::fs::remove_file(dir.join(hwm::FILE)).unwrap();
    let (world, report) = recover(&dir).unwrap();
    assert_eq!(
        (report.last_seq, report.snapshot_seq, report.tail_records),
        (s2, Some(s2), 0)
    );
    assert_prefix_state(&f, &world, "tail after the newest snapshot cut, mark lost");
    assert!(verify(&dir).unwrap().ok());
}

/// `verify` fails, and the named check is among the failures.
#[track_caller]
fn expect_verify_fails(dir: &Path, check: &str) {
    let report = verify(dir).unwrap();
    assert!(!report.ok());
    assert!(
        report.checks.iter().any(|c| c.name == check && !c.ok),
        "{check} should fail: {:#?}",
        report.checks
    );
}

fn expect_acknowledged_lost(dir: &Path, journal_last: Seq) {
    match recover(dir) {
        Err(StoreError::AcknowledgedLost(message)) => {
            assert!(
                message.contains(&format!("ends at sequence {journal_last},")),
                "{message}"
            )
        }
        Err(e) => panic!("expected AcknowledgedLost, got {e}"),
        Ok((w, _)) => panic!(
            "recovered at {} from a journal that lost acknowledged records",
            w.last_seq
        ),
    }
    expect_verify_fails(dir, "acknowledged records present");
}

// ------------------------------------------------------------------ (d)

#[test]
fn swapped_or_rewritten_blocks_break_sequence_or_chain() {
    let f = build();
    let tail = f.tail();
    let (a, _) = tail[1];
    let (b, _) = tail[3];
    let dir = f.copy("swap");
    with_tree(&dir, |t| {
        let (va, vb) = (get_block(t, a), get_block(t, b));
        put_block(t, a, vb);
        put_block(t, b, va);
    });
    match expect_damage(&dir) {
        JournalDamage::CorruptBlock { first_seq, reason } => {
            assert_eq!(first_seq, a);
            assert!(
                reason.contains(&format!("stored under sequence {a} but says {b}")),
                "{reason}"
            );
        }
        other => panic!("swapped blocks: expected a sequence error at {a}, got {other:?}"),
    }
    expect_verify_names(&dir, a);

    // A block rewritten whole, with a valid hash of its own (a buggy writer,
    // not bit rot): the next block's link to it breaks.
    let dir = f.copy("rewrite");
    let target = tail[2].0;
    with_tree(&dir, |t| {
        let v = get_block(t, target);
        let block = codec::decode_block(&v).unwrap();
        let mut payload = Vec::new();
        for r in block.records() {
            let (_, mut record) = r.unwrap();
            // Change what no replay check looks at.
            match &mut record {
                Record::Claim { request, .. } => request.customs = r#"{"forged":true}"#.into(),
                Record::Event(e) => e.kind = EventKind::Interaction { kind: "forged".into() },
                _ => {}
            }
            codec::encode_record(&record, &mut payload).unwrap();
        }
        let (forged, hash) = codec::encode_block(
            block.first_seq,
            block.count,
            block.committed_at,
            &block.prev_hash,
            &payload,
        );
        assert_ne!(hash, block.hash, "the rewrite changed nothing");
        put_block(t, target, forged);
    });
    let next = tail[3].0;
    assert_eq!(expect_damage(&dir), JournalDamage::BrokenChain { first_seq: next });
    expect_verify_names(&dir, next);
}

// ------------------------------------------------------------------ (e)

/// What one raw-damage case came to.
enum RawRecovery {
    Refused(String),
    Prefix(Seq),
}

/// Recovers `dir` on another thread: a panic or a hang is a failure of its own.
fn recover_guarded(f: &Fixture, dir: PathBuf, what: &str) -> Result<RawRecovery, String> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(recover(&dir));
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Err(e)) => Ok(RawRecovery::Refused(e.to_string())),
        Ok(Ok((world, _))) => {
            let s = world.last_seq;
            if s > f.last_seq() || world.digest() != f.prefix[s as usize] {
                return Err(format!("{what}: recovered WRONG state at seq {s}"));
            }
            Ok(RawRecovery::Prefix(s))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = thread.join().err().map(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            });
            Err(format!("{what}: recovery panicked: {panic:?}"))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("{what}: recovery hung")),
    }
}

/// One way to damage the block log: a description and the edit.
type RawDamage = (String, Box<dyn Fn(&Path)>);

/// Raw damage to `journal/blocks.log` (cuts, flipped bits), as a bad disk
/// would leave it. With the acknowledged mark in place every case must be
/// refused (the whole journal was acknowledged at the clean close); without
/// it, recovery may return a prefix of the history, never anything else.
#[test]
fn damaged_block_log_never_yields_wrong_state() {
    let f = build();
    let file = f.dir.join("journal").join(log::FILE);
    let len = std::fs::metadata(&file).unwrap().len();
    assert!(len > 16 << 10, "the log holds only {len} bytes");
    let mut rng = ChaCha8Rng::seed_from_u64(0xdb);
    let mut cases: Vec<RawDamage> = Vec::new();
    let mut cuts = vec![
        0,
        1,
        31,
        32,
        100,
        4096,
        len / 4,
        len / 2,
        3 * len / 4,
        len - 1000,
        len - 100,
        len - 1,
    ];
    cuts.extend((0..8).map(|_| rng.gen_range(0..len)));
    for cut in cuts {
        cases.push((
            format!("log cut to {cut} of {len} bytes"),
            Box::new(move |file: &Path| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(file)
                    .unwrap()
                    .set_len(cut)
                    .unwrap();
            }),
        ));
    }
    for _ in 0..30 {
        let (at, bit) = (rng.gen_range(0..len), 1u8 << rng.gen_range(0..8));
        cases.push((
            format!("log byte {at} of {len} flipped (bit {bit:#x})"),
            Box::new(move |file: &Path| {
                let mut bytes = std::fs::read(file).unwrap();
                bytes[at as usize] ^= bit;
                std::fs::write(file, bytes).unwrap();
            }),
        ));
    }
    let (mut refused, mut prefixes, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (what, damage)) in cases.iter().enumerate() {
        // Mix in the other files: without the mark, nothing says how far the
        // journal was acknowledged; without snapshots, recovery replays all
        // that the log holds.
        let drop_mark = i % 2 == 1;
        let drop_snapshots = i % 4 >= 2;
        let what = format!(
            "{what}{}{}",
            if drop_mark { ", no mark" } else { "" },
            if drop_snapshots { ", no snapshots" } else { "" }
        );
        let dir = f.copy(&format!("raw{i}"));
        damage(&dir.join("journal").join(log::FILE));
        if drop_mark {
            std::fs::remove_file(dir.join(hwm::FILE)).unwrap();
        }
        if drop_snapshots {
            std::fs::remove_dir_all(snapshot::dir_of(&dir)).unwrap();
        }
        match recover_guarded(&f, dir.clone(), &what) {
            Ok(RawRecovery::Refused(e)) => refused.push(format!("{what}: {e}")),
            Ok(RawRecovery::Prefix(s)) if drop_mark || s == f.last_seq() => {
                prefixes.push(format!("{what}: state at {s} of {}", f.last_seq()))
            }
            Ok(RawRecovery::Prefix(s)) => failures.push(format!(
                "{what}: recovered a prefix ending at {s} although the mark says {} was acknowledged",
                f.last_seq()
            )),
            Err(e) => failures.push(e),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    eprintln!(
        "raw log damage ({len} byte file): {} refused, {} recovered a prefix, {} failed\n  {}\n  {}",
        refused.len(),
        prefixes.len(),
        failures.len(),
        refused.join("\n  "),
        prefixes.join("\n  ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------------------------ (f)

#[test]
fn damaged_snapshots_are_skipped_and_reported() {
    let f = build();
    let (s1, s2) = (f.snapshots[0], f.snapshots[1]);
    type Damage = fn(&mut Vec<u8>);
    let damages: [(&str, Damage, &str); 5] = [
        (
            "byte flipped in the payload",
            |b| {
                let at = b.len() / 2;
                b[at] ^= 0x40
            },
            "checksum mismatch",
        ),
        ("truncated", |b| b.truncate(b.len() - 100), "header says"),
        ("cut inside its header", |b| b.truncate(20), "shorter than its header"),
        ("bad magic", |b| b[1] ^= 0x01, "bad magic"),
        ("empty", |b| b.clear(), "shorter than its header"),
    ];
    let path_in = |dir: &Path, seq: Seq| {
        snapshot::list(dir)
            .unwrap()
            .into_iter()
            .find(|(s, _)| *s == seq)
            .unwrap()
            .1
    };
    let damage_file = |path: &Path, damage: Damage| {
        let mut bytes = std::fs::read(path).unwrap();
        damage(&mut bytes);
        std::fs::write(path, bytes).unwrap();
    };
    for (i, (what, damage, reason)) in damages.into_iter().enumerate() {
        // The newest snapshot damaged: recovery falls back to the older one.
        let dir = f.copy(&format!("snap{i}"));
        let newest = path_in(&dir, s2);
        damage_file(&newest, damage);
        let (world, report) = recover(&dir).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(report.snapshot_seq, Some(s1), "{what}");
        assert_eq!(
            report.skipped_snapshots.len(),
            1,
            "{what}: {:?}",
            report.skipped_snapshots
        );
        assert_eq!(report.skipped_snapshots[0].0, newest, "{what}");
        assert!(
            report.skipped_snapshots[0].1.contains(reason),
            "{what}: {:?}",
            report.skipped_snapshots
        );
        assert_eq!(report.tail_records, f.last_seq() - s1, "{what}");
        assert_eq!(
            world.digest(),
            f.digest(),
            "{what}: fallback recovery gives another state"
        );
        let v = verify(&dir).unwrap();
        let failed: Vec<&str> = v.checks.iter().filter(|c| !c.ok).map(|c| c.name.as_str()).collect();
        assert_eq!(
            failed,
            vec![format!("snapshot {s2} readable")],
            "{what}: {:#?}",
            v.checks
        );

        // Every snapshot damaged: a full replay, same state.
        let dir = f.copy(&format!("snap-all{i}"));
        for s in [s1, s2] {
            damage_file(&path_in(&dir, s), damage);
        }
        let (world, report) = recover(&dir).unwrap_or_else(|e| panic!("{what}, all: {e}"));
        assert_eq!(report.snapshot_seq, None, "{what}, all");
        assert_eq!(report.skipped_snapshots.len(), 2, "{what}, all");
        assert_eq!(report.tail_records, f.last_seq(), "{what}, all");
        assert_eq!(
            world.digest(),
            f.digest(),
            "{what}, all: full replay gives another state"
        );
    }
}

/// A snapshot that passes its own checks but disagrees with the journal (a
/// bug, not bit rot) is trusted by recovery; `verify` is what catches it.
#[test]
fn verify_catches_a_well_formed_but_wrong_snapshot() {
    let f = build();
    let dir = f.copy("wrong-snap");
    let s2 = f.snapshots[1];
    let path = snapshot::list(&dir).unwrap()[0].1.clone();
    let snap = snapshot::read(&path).unwrap();
    let mut world = snap.world;
    assert_eq!(world.last_seq, s2);
    let h = world.hunts.get_mut("h").unwrap();
    h.stock[0] += 1;
    h.added[0] += 1;
    snapshot::write(&dir, &world, &snap.block_hash, 3).unwrap();
    let report = verify(&dir).unwrap();
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        failed,
        vec![
            format!("snapshot {s2} equals replay").as_str(),
            "snapshot+tail equals full replay"
        ],
        "{:#?}",
        report.checks
    );
}

/// A damaged `journal.hwm` stops recovery with the operator's way out, and
/// verify names it: ignoring it would switch off the check it exists for.
#[test]
fn damaged_mark_stops_recovery_with_the_operator_action() {
    let f = build();
    let dir = f.copy("bad-mark");
    let path = dir.join(hwm::FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 48);
    bytes[7] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    match recover(&dir) {
        Err(e @ StoreError::MarkDamaged { .. }) => {
            let text = e.to_string();
            assert!(text.contains("journal.hwm") && text.contains("trove verify"), "{text}");
        }
        Err(e) => panic!("expected MarkDamaged, got {e}"),
        Ok((w, _)) => panic!("recovered at {} past a damaged mark", w.last_seq),
    }
    expect_verify_fails(&dir, "acknowledged records present");
    // The documented action: once verify's other checks pass, remove the mark.
    std::fs::remove_file(&path).unwrap();
    let (world, report) = recover(&dir).unwrap();
    assert_eq!(report.last_seq, f.last_seq());
    assert_eq!(world.digest(), f.digest());
}

/// A snapshot taken after a different journal history (here: one whose
/// records were edited and re-chained) is refused, never mixed in.
#[test]
fn snapshot_from_another_journal_history_is_refused() {
    let f = build();
    let s2 = f.snapshots[1];
    let dir = f.copy("other-history");
    let path = snapshot::list(&dir).unwrap()[0].1.clone();
    let snap = snapshot::read(&path).unwrap();
    assert_eq!(snap.world.last_seq, s2);
    // The same state, tied to a block hash this journal does not have.
    let mut other = snap.block_hash;
    other[0] ^= 1;
    std::fs::remove_file(&path).unwrap();
    snapshot::write(&dir, &snap.world, &other, 3).unwrap();
    let (world, report) = recover(&dir).unwrap();
    assert_eq!(
        report.snapshot_seq,
        Some(f.snapshots[0]),
        "fell back to the older snapshot"
    );
    assert_eq!(report.skipped_snapshots.len(), 1);
    assert!(
        report.skipped_snapshots[0].1.contains("another journal history"),
        "{:?}",
        report.skipped_snapshots
    );
    assert_eq!(world.digest(), f.digest());
    expect_verify_fails(&dir, &format!("snapshot {s2} readable"));
}
