//! Power-cut test: the data folder lives on an ext4 filesystem whose disk is
//! an image file on a btrfs filesystem, so `cp --reflink=always` of the image
//! is exactly what the disk held at that instant. Mounting such a copy replays
//! ext4's journal as after a power cut. While a real `trove serve` takes
//! claims, hunt definitions, stock changes and large event batches, copies
//! are taken at random instants; then each copy must:
//!
//! 1. pass `trove verify`;
//! 2. let `trove serve` become ready;
//! 3. answer every claim acknowledged before the copy with the same answer
//!    and `duplicate: true`;
//! 4. hold every hunt and stock change acknowledged before the copy;
//! 5. hold every event batch acknowledged more than the documented bound
//!    (1 s in the default mode, nothing in strict mode) before the copy.
//!
//! Claims, hunts and stock changes stop half way through, so the copies of
//! the second half see events alone (the default mode's loss window). Copies
//! are also taken while `trove compact` runs and right after it.
//!
//! Needs root, loop devices, `mkfs.btrfs` and `mkfs.ext4`. Without them the
//! test says so and passes, unless `TROVE_REQUIRE_POWERCUT=1`, when it fails.
//!
//! On `b87cd18` (the journal in sled, nothing fsynced) it failed at the first
//! copy in both modes. With the journal in sled and every commit synced it
//! still failed about one run in four: sled 0.34 itself could not open some
//! copies (`cannot find pid 5 in view_for_key`, spacejam/sled#1443). Since
//! the journal is its own block log (`trove_persistence::log`) and sled holds
//! only the derived audit projection, it is part of the default test run.
//! `TROVE_POWERCUT_KEEP=DIR` keeps a failing copy for inspection.

use crate::harness::*;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Default mode: acknowledged events older than this survive a power cut
/// (`docs/DURABILITY.md`).
const EVENT_LOSS_BOUND: Duration = Duration::from_secs(1);
const COPIES: usize = 20;
const RUN: Duration = Duration::from_secs(12);

fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// An ext4 filesystem on an image file on a btrfs filesystem.
struct Rig {
    dir: tempfile::TempDir,
    /// The btrfs mount point; holds the ext4 image and its copies.
    btrfs: PathBuf,
    image: PathBuf,
    /// Where the ext4 image is mounted: the server's root folder.
    live: PathBuf,
    mounted: Vec<PathBuf>,
}

impl Rig {
    /// None when this machine cannot run the test (and it is not required).
    fn new() -> Option<Rig> {
        let required = std::env::var("TROVE_REQUIRE_POWERCUT").is_ok_and(|v| v == "1");
        let missing = if unsafe { libc::geteuid() } != 0 {
            Some("not root".to_string())
        } else {
            ["mkfs.btrfs", "mkfs.ext4", "losetup"]
                .iter()
                .find(|t| run("sh", &["-c", &format!("command -v {t}")]).is_err())
                .map(|t| format!("{t} not found"))
        };
        if let Some(why) = missing {
            assert!(!required, "power-cut test required but cannot run: {why}");
            eprintln!("power-cut test skipped: {why} (TROVE_REQUIRE_POWERCUT=1 makes this a failure)");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let outer = dir.path().join("btrfs.img");
        let btrfs = dir.path().join("btrfs");
        std::fs::create_dir_all(&btrfs).unwrap();
        run("truncate", &["-s", "6G", path(&outer)]).unwrap();
        run("mkfs.btrfs", &["-q", path(&outer)]).unwrap();
        run("mount", &["-o", "loop", path(&outer), path(&btrfs)]).unwrap();
        let mut rig = Rig {
            dir,
            btrfs: btrfs.clone(),
            image: btrfs.join("ext4.img"),
            live: PathBuf::new(),
            mounted: vec![btrfs],
        };
        run("truncate", &["-s", "2G", path(&rig.image)]).unwrap();
        run("mkfs.ext4", &["-q", "-F", path(&rig.image)]).unwrap();
        rig.live = rig.mount(&rig.image.clone(), "live");
        Some(rig)
    }

    fn mount(&mut self, image: &Path, name: &str) -> PathBuf {
        let at = self.dir.path().join(name);
        std::fs::create_dir_all(&at).unwrap();
        run("mount", &["-o", "loop", path(image), path(&at)]).unwrap_or_else(|e| panic!("mount {name}: {e}"));
        self.mounted.push(at.clone());
        at
    }

    fn unmount(&mut self, at: &Path) {
        let _ = run("umount", &[path(at)]);
        self.mounted.retain(|m| m != at);
    }

    /// The disk as it is now, as a power cut would leave it.
    fn copy(&self, n: usize) -> PathBuf {
        let to = self.btrfs.join(format!("copy-{n}.img"));
        run("cp", &["--reflink=always", path(&self.image), path(&to)]).expect("reflink copy");
        to
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for at in self.mounted.drain(..).rev() {
            if run("umount", &[path(&at)]).is_err() {
                let _ = run("umount", &["-l", path(&at)]);
            }
        }
    }
}

/// What the workload was told, with when it was told.
#[derive(Default)]
struct Acks {
    /// (when, claim id, player, status, reason, seq)
    claims: Vec<(Instant, String, String, String, Option<String>, u64)>,
    /// (when, hunt id)
    hunts: Vec<(Instant, String)>,
    /// (when, units added to "x"/"hoodie")
    stock: Vec<(Instant, u64)>,
    /// (when, batch number, events per player)
    batches: Vec<(Instant, u64, u64)>,
}

const PLAYERS_PER_BATCH: u64 = 25;

fn batch(n: u64, per_player: u64) -> Value {
    let mut events = Vec::new();
    for j in 0..PLAYERS_PER_BATCH {
        let player = format!("e{n}-{j}");
        for i in 0..per_player {
            events.push(if i % 2 == 0 {
                json!({"player": player, "hunt": "x", "type": "checkin", "location": format!("gate-{i}")})
            } else {
                json!({"player": player, "hunt": "x", "type": "interaction", "kind": "photo"})
            });
        }
    }
    json!({"op": "events", "events": events})
}

/// Claims stop half way through the run: from then on only events flow, and
/// in the default mode only the background sync makes them durable, so the
/// copies of the second half measure its loss window.
async fn claimer(k: usize, addr: String, stop: Arc<AtomicBool>, acks: Arc<Mutex<Acks>>) {
    let Ok(mut ws) = Ws::connect(&addr, GAME).await else {
        return;
    };
    let mut n = 0u64;
    let until = Instant::now() + RUN / 2;
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        let (id, player) = (format!("k{k}-{n}"), format!("k{k}-p{}", n % 20));
        let mut req = claim(&id, &player, "x", "mug");
        let Some(r) = ws.try_call(&mut req, Duration::from_secs(10)).await else {
            return;
        };
        assert_eq!(r["ok"], true, "{r}");
        acks.lock().unwrap().claims.push((
            Instant::now(),
            id,
            player,
            r["status"].as_str().unwrap().to_owned(),
            r["reason"].as_str().map(str::to_owned),
            r["seq"].as_u64().unwrap(),
        ));
        n += 1;
    }
}

async fn eventer(addr: String, stop: Arc<AtomicBool>, acks: Arc<Mutex<Acks>>) {
    let Ok(mut ws) = Ws::connect(&addr, GAME2).await else {
        return;
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        // 2,000 to 5,000 events: blocks well over sled's blob threshold.
        let per_player = rng.gen_range(80..=200);
        let mut req = batch(n, per_player);
        let Some(r) = ws.try_call(&mut req, Duration::from_secs(20)).await else {
            return;
        };
        assert_eq!(r["ok"], true, "{r}");
        acks.lock().unwrap().batches.push((Instant::now(), n, per_player));
        n += 1;
    }
}

async fn designer(addr: String, stop: Arc<AtomicBool>, acks: Arc<Mutex<Acks>>) {
    let mut n = 0u64;
    let until = Instant::now() + RUN / 2;
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        let id = format!("h{n}");
        let Ok((st, _)) = try_http(
            &addr,
            "POST",
            "/v1/hunts",
            Some(DESIGNER),
            Some(hunt_def(&id, 5, 1).to_string().as_bytes()),
        )
        .await
        else {
            return;
        };
        assert_eq!(st, 201);
        acks.lock().unwrap().hunts.push((Instant::now(), id));
        let body = json!({"add": 3}).to_string();
        let Ok((st, _)) = try_http(
            &addr,
            "POST",
            "/v1/hunts/x/products/hoodie/stock",
            Some(DESIGNER),
            Some(body.as_bytes()),
        )
        .await
        else {
            return;
        };
        assert_eq!(st, 200);
        acks.lock().unwrap().stock.push((Instant::now(), 3));
        n += 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// The outcome of checking one copy.
struct Checked {
    claims: usize,
    batches: usize,
    /// Age at the copy instant of the oldest acknowledged batch it lacks.
    lost_window: Option<Duration>,
}

/// With `TROVE_POWERCUT_KEEP=DIR`, a copy that fails is kept there (sparse)
/// for inspection: `mount -o loop DIR/NAME.img /mnt`.
fn keep_for_inspection(image: &Path, name: &str) {
    if let Ok(dir) = std::env::var("TROVE_POWERCUT_KEEP") {
        let to = Path::new(&dir).join(format!("{name}.img"));
        match run("cp", &["--sparse=always", path(image), path(&to)]) {
            Ok(_) => eprintln!("kept the failing copy as {}", to.display()),
            Err(e) => eprintln!("could not keep the failing copy: {e}"),
        }
    }
}

/// Checks one power-cut copy against what was acknowledged before `taken`.
async fn check_copy(rig: &mut Rig, image: &Path, name: &str, taken: Instant, acks: &Acks, bound: Duration) -> Checked {
    let root = rig.mount(image, name);
    let data = root.join("data");
    let v = trove(&["verify", "--data", path(&data)]);
    if v.code != 0 {
        keep_for_inspection(image, name);
    }
    assert_eq!(v.code, 0, "{name}: trove verify failed:\n{}{}", v.stdout, v.stderr);
    let server = match Server::spawn(&root, &[("TROVE_KEYS", &keys_env())]) {
        Ok(s) => s,
        Err(log) => panic!("{name}: trove serve did not start:\n{log}"),
    };
    server.wait_ready(Duration::from_secs(60)).await;

    let mut ws = server.ws(GAME).await;
    let mut claims = 0;
    for (at, id, player, status, reason, seq) in &acks.claims {
        if *at >= taken {
            continue;
        }
        claims += 1;
        let r = ws.call(claim(id, player, "x", "mug")).await;
        assert_eq!(r["duplicate"], true, "{name}: acknowledged claim {id} was lost: {r}");
        assert_eq!(
            r["status"].as_str(),
            Some(status.as_str()),
            "{name}: claim {id} changed: {r}"
        );
        assert_eq!(
            r["reason"].as_str(),
            reason.as_deref(),
            "{name}: claim {id} changed: {r}"
        );
        assert_eq!(r["seq"].as_u64(), Some(*seq), "{name}: claim {id} changed: {r}");
    }
    for (at, hunt) in &acks.hunts {
        if *at < taken {
            let (st, h) = server
                .http("GET", &format!("/v1/hunts/{hunt}"), Some(ADMIN), None)
                .await;
            assert_eq!(st, 200, "{name}: acknowledged hunt {hunt} was lost: {h}");
        }
    }
    let added: u64 = acks.stock.iter().filter(|(at, _)| *at < taken).map(|(_, n)| n).sum();
    let (_, h) = server.http("GET", "/v1/hunts/x", Some(ADMIN), None).await;
    let hoodie = h["products"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["sku"] == "hoodie"))
        .unwrap_or_else(|| panic!("{name}: no hoodie in {h}"));
    let present = hoodie["added"].as_u64().unwrap_or(0);
    assert!(
        present >= added,
        "{name}: {added} units of acknowledged stock changes, {present} present"
    );

    let (mut batches, mut lost_window) = (0, None::<Duration>);
    for (at, n, per_player) in &acks.batches {
        if *at >= taken {
            continue;
        }
        let age = taken - *at;
        let r = ws
            .call(json!({"op": "player", "player": format!("e{n}-0"), "hunt": "x"}))
            .await;
        let events = r["events"].as_u64().unwrap_or(0);
        if events == *per_player {
            batches += 1;
            continue;
        }
        assert_eq!(events, 0, "{name}: batch {n} is torn: {r}");
        assert!(
            age <= bound,
            "{name}: event batch {n}, acknowledged {age:?} before the power cut, was lost (bound {bound:?})"
        );
        lost_window = Some(lost_window.map_or(age, |w| w.max(age)));
    }
    server.kill();
    rig.unmount(&root);
    Checked {
        claims,
        batches,
        lost_window,
    }
}

/// One rig at a time: each run loads both cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn power_cuts(mode: &str, bound: Duration) {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut rig) = Rig::new() else { return };
    let live = rig.live.clone();
    let server = Server::spawn(
        &live,
        &[
            ("TROVE_KEYS", &keys_env()),
            ("TROVE_DURABILITY", mode),
            ("TROVE_SNAPSHOT_INTERVAL_SECS", "4"),
        ],
    )
    .expect("server starts");
    server.wait_ready(Duration::from_secs(60)).await;
    let mut x = hunt_def("x", 400, 1000);
    x["products"][1]["stock"] = json!(0);
    let (st, r) = server.http("POST", "/v1/hunts", Some(DESIGNER), Some(&x)).await;
    assert_eq!(st, 201, "{r}");

    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(Mutex::new(Acks::default()));
    let mut tasks = Vec::new();
    for k in 0..2 {
        tasks.push(tokio::spawn(claimer(
            k,
            server.addr.clone(),
            stop.clone(),
            acks.clone(),
        )));
    }
    tasks.push(tokio::spawn(eventer(server.addr.clone(), stop.clone(), acks.clone())));
    tasks.push(tokio::spawn(designer(server.addr.clone(), stop.clone(), acks.clone())));

    // Copies at random instants 1-12 s into the run.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(if mode == "strict" { 2 } else { 1 });
    let mut at: Vec<Duration> = (0..COPIES)
        .map(|_| Duration::from_millis(rng.gen_range(1_000..RUN.as_millis() as u64)))
        .collect();
    at.sort();
    let mut copies = Vec::new();
    for (n, when) in at.into_iter().enumerate() {
        tokio::time::sleep_until((started + when).into()).await;
        let taken = Instant::now();
        let image = tokio::task::block_in_place(|| rig.copy(n));
        copies.push((image, taken));
    }
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        let _ = t.await;
    }
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    server.kill();
    eprintln!(
        "{mode}: {} claims, {} hunts, {} stock changes, {} event batches acknowledged",
        acks.claims.len(),
        acks.hunts.len(),
        acks.stock.len(),
        acks.batches.len()
    );
    assert!(acks.batches.len() > 10 && acks.claims.len() > 50, "the workload ran");

    let mut window = Duration::ZERO;
    for (n, (image, taken)) in copies.iter().enumerate() {
        let c = check_copy(&mut rig, image, &format!("{mode}-copy-{n}"), *taken, &acks, bound).await;
        let _ = std::fs::remove_file(image);
        eprintln!(
            "{mode} copy {n} at {:?}: {} claims and {} event batches present{}",
            *taken - started,
            c.claims,
            c.batches,
            c.lost_window.map_or(String::new(), |w| format!(
                ", events acknowledged up to {w:?} before the cut lost"
            ))
        );
        window = window.max(c.lost_window.unwrap_or_default());
    }
    eprintln!("{mode}: measured event loss window {window:?} (bound {bound:?})");

    if mode == "flush" {
        compaction_cuts(&mut rig, &acks).await;
    }
}

/// Copies taken while `trove compact` runs and right after it.
async fn compaction_cuts(rig: &mut Rig, acks: &Acks) {
    let live = rig.live.clone();
    // A clean stop writes the snapshot that retention needs.
    let server = Server::spawn(&live, &[("TROVE_KEYS", &keys_env())]).expect("server starts");
    server.wait_ready(Duration::from_secs(60)).await;
    assert!(server.terminate().success());
    let data = live.join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_trove"))
        .args(["compact", "--data", path(&data), "--older-than", "0s"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("trove compact");
    // Copies while it runs (at most 12, 100 ms apart), then one after it.
    let mut copies = Vec::new();
    let mut n = 100;
    loop {
        let done = child.try_wait().expect("wait").is_some();
        if done || copies.len() < 12 {
            copies.push((rig.copy(n), Instant::now()));
            n += 1;
        }
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("compact ran");
    assert!(out.status.success(), "compact failed");
    eprintln!("compact: {}", String::from_utf8_lossy(&out.stdout).trim());
    for (i, (image, taken)) in copies.iter().enumerate() {
        let c = check_copy(rig, image, &format!("compact-copy-{i}"), *taken, acks, Duration::ZERO).await;
        let _ = std::fs::remove_file(image);
        eprintln!(
            "compaction copy {i}: {} claims and {} batches present",
            c.claims, c.batches
        );
    }
    assert!(copies.len() >= 2, "copies during and after compaction");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_cut_default_mode_keeps_decisions_and_bounds_event_loss() {
    power_cuts("flush", EVENT_LOSS_BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_cut_strict_mode_loses_nothing_acknowledged() {
    power_cuts("strict", Duration::ZERO).await;
}
