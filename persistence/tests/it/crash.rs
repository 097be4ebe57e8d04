//! Crash tests: SIGKILL a real process under a claim-heavy load, recover in
//! this process, and check that nothing acknowledged was lost or changed.
//!
//! The test binary re-executes itself: `crash_child` (ignored, and a no-op
//! unless `TROVE_CRASH_CHILD_DIR` is set) is the server. It opens the data
//! folder, runs 8 concurrent clients that claim, retry and ingest, snapshots
//! every ~100 ms, and prints one `ACK` line per claim answer it received. The
//! parent kills it after a random 50-400 ms (seeded), then recovers the folder
//! itself and checks every `ACK` of every cycle so far against the recovered
//! state, the journal and `verify`.
//!
//! `TROVE_CRASH_CYCLES` overrides the number of cycles, `TROVE_CRASH_SEED` the
//! seed. On failure the data folder is kept and its path printed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use trove_engine::*;
use trove_persistence::*;

const CRASH_CYCLES: u32 = 30;
const DEFAULT_SEED: u64 = 0x7120_7e5e_ed00_0001;
const CHILD_DIR_ENV: &str = "TROVE_CRASH_CHILD_DIR";
const CHILD_CYCLE_ENV: &str = "TROVE_CRASH_CHILD_CYCLE";
/// The libtest path of [`crash_child`] inside this test binary.
const CHILD_TEST: &str = "crash::crash_child";
const CLIENTS: u32 = 8;
const PLAYERS: u32 = 120;
const HUNT: &str = "crash-hunt";
/// (sku, initial stock, per-player limit, min score).
const PRODUCTS: [(&str, u64, u32, u64); 4] = [
    ("mug", 40, 1, 0),
    ("tee", 25, 2, 0),
    ("pin", 50, 2, 0),
    ("gold", 20, 1, 30),
];
/// Stock each child adds on start (to product `cycle % 4`), so grants go on across cycles.
const ADDED_PER_CYCLE: u64 = 3;

fn hunt_def() -> HuntDef {
    HuntDef {
        id: HUNT.into(),
        name: "Crash hunt".into(),
        opens_at: None,
        closes_at: None,
        clues: (0..6)
            .map(|i| ClueDef {
                id: format!("c{i}"),
                points: 10,
            })
            .collect(),
        products: PRODUCTS
            .iter()
            .map(|&(sku, stock, per_player_limit, min_score)| ProductDef {
                sku: sku.into(),
                stock,
                per_player_limit,
                min_score,
            })
            .collect(),
    }
}

/// The claim client `client` sends as its `n`th claim in `cycle`. Pure, so the
/// parent can rebuild (and retry) any claim the child sent.
fn claim_request(cycle: u32, client: u32, n: u32) -> ClaimRequest {
    let mut rng = ChaCha8Rng::seed_from_u64((u64::from(cycle) << 40) ^ (u64::from(client) << 32) ^ u64::from(n));
    let player = format!("p{}", rng.gen_range(0..PLAYERS));
    // One claim in 20 names a product the hunt does not have (rejected, still journaled).
    let sku = if rng.gen_ratio(1, 20) {
        "ghost"
    } else {
        PRODUCTS[rng.gen_range(0..PRODUCTS.len())].0
    };
    ClaimRequest {
        claim_id: format!("k{cycle}.{client}.{n}"),
        player,
        hunt: HUNT.into(),
        sku: sku.into(),
        customs: format!(r#"{{"cycle":{cycle},"client":{client},"n":{n}}}"#),
    }
}

/// `(cycle, client, n)` of a claim id made by [`claim_request`].
fn parse_claim_id(id: &str) -> Option<(u32, u32, u32)> {
    let mut it = id.strip_prefix('k')?.split('.').map(|s| s.parse::<u32>().ok());
    let t = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(t)
}

fn outcome_label(o: Outcome) -> String {
    match o {
        Outcome::Granted => "granted".into(),
        Outcome::Rejected(r) => format!("rejected:{}", r.code()),
    }
}

// ------------------------------------------------------------------ child

/// The server side of the crash test. Runs only as a child process started by
/// [`sigkill_under_load_loses_no_acknowledged_claim`].
#[test]
#[ignore = "child process of the crash test; does nothing unless TROVE_CRASH_CHILD_DIR is set"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        return;
    };
    let cycle: u32 = std::env::var(CHILD_CYCLE_ENV)
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| die(format!("{CHILD_CYCLE_ENV} not set")));
    actix::System::new().block_on(child_main(PathBuf::from(dir), cycle));
}

/// Ends the child at once with a message for the parent (which then fails).
fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("crash child: {msg}");
    std::process::exit(3)
}

/// One line to the parent, flushed before anything else happens.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
        die("stdout closed");
    }
}

async fn child_main(dir: PathBuf, cycle: u32) {
    let (engine, store, _) = open_engine(&dir, StoreOptions::default(), EngineConfig::default())
        .unwrap_or_else(|e| die(format!("open {}: {e}", dir.display())));
    // Idempotent: every cycle posts the same definition.
    engine
        .define_hunt(hunt_def())
        .await
        .unwrap_or_else(|e| die(format!("define: {e}")));
    engine
        .add_stock(HUNT, PRODUCTS[cycle as usize % PRODUCTS.len()].0, ADDED_PER_CYCLE)
        .await
        .unwrap_or_else(|e| die(format!("add_stock: {e}")));
    say("READY");
    for client in 0..CLIENTS {
        actix::spawn(client_loop(engine.clone(), cycle, client));
    }
    let snapshots = async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Err(e) = store.snapshot(&engine).await {
                die(format!("snapshot: {e}"));
            }
        }
    };
    // The parent kills us long before this; it is only a safety net.
    let _ = tokio::time::timeout(Duration::from_secs(30), snapshots).await;
    die("not killed within 30 s")
}

async fn client_loop(engine: Engine, cycle: u32, client: u32) {
    let mut rng = ChaCha8Rng::seed_from_u64(u64::from(cycle) << 32 | u64::from(client) | 1 << 63);
    // A client that restarts retries what it sent before the crash: the first
    // claims of the previous cycle come back as duplicates if they were decided.
    if cycle > 0 {
        for n in 0..2 {
            answer(&engine, &claim_request(cycle - 1, client, n)).await;
        }
    }
    for n in 0.. {
        if n % 3 == 0 {
            ingest_some(&engine, &mut rng).await;
        }
        let req = claim_request(cycle, client, n);
        answer(&engine, &req).await;
        // A client that lost the answer sends the same claim id again.
        if rng.gen_ratio(1, 8) {
            answer(&engine, &req).await;
        }
    }
}

/// Sends a claim until it is answered, then prints its `ACK`.
async fn answer(engine: &Engine, req: &ClaimRequest) {
    let r = loop {
        match engine.claim(req.clone()).await {
            Ok(r) => break r,
            Err(EngineError::Overloaded) => tokio::time::sleep(Duration::from_millis(2)).await,
            Err(e) => die(format!("claim {}: {e}", req.claim_id)),
        }
    };
    say(&format!(
        "ACK {} {} {} {} {} {} {}",
        req.player,
        req.claim_id,
        req.hunt,
        req.sku,
        outcome_label(r.outcome),
        r.seq,
        u8::from(r.duplicate)
    ));
}

async fn ingest_some(engine: &Engine, rng: &mut ChaCha8Rng) {
    let events: Vec<GameEvent> = (0..rng.gen_range(1..=4))
        .map(|_| GameEvent {
            player: format!("p{}", rng.gen_range(0..PLAYERS)),
            hunt: HUNT.into(),
            kind: match rng.gen_range(0..10) {
                0..=5 => EventKind::ClueFound {
                    clue: format!("c{}", rng.gen_range(0..6)),
                },
                6 | 7 => EventKind::Checkin {
                    location: format!("loc{}", rng.gen_range(0..50)),
                },
                _ => EventKind::Interaction { kind: "tap".into() },
            },
        })
        .collect();
    loop {
        match engine.ingest(events.clone()).await {
            Ok(_) => return,
            Err(EngineError::Overloaded) => tokio::time::sleep(Duration::from_millis(2)).await,
            Err(e) => die(format!("ingest: {e}")),
        }
    }
}

// ------------------------------------------------------------------ parent

/// One acknowledged claim, as the client saw it.
#[derive(Clone, Debug)]
struct Ack {
    player: String,
    claim_id: String,
    hunt: String,
    sku: String,
    outcome: String,
    seq: Seq,
    /// Cycle whose process (child, or the parent after it) gave the answer.
    cycle: u32,
    by_parent: bool,
}

impl Ack {
    fn parse(line: &str, cycle: u32) -> Result<Ack, String> {
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() != 8 || t[0] != "ACK" {
            return Err(format!("malformed ACK line {line:?}"));
        }
        Ok(Ack {
            player: t[1].into(),
            claim_id: t[2].into(),
            hunt: t[3].into(),
            sku: t[4].into(),
            outcome: t[5].into(),
            seq: t[6].parse().map_err(|_| format!("bad seq in {line:?}"))?,
            cycle,
            by_parent: false,
        })
    }

    fn from_result(req: &ClaimRequest, r: &ClaimResult, cycle: u32) -> Ack {
        Ack {
            player: req.player.clone(),
            claim_id: req.claim_id.clone(),
            hunt: req.hunt.clone(),
            sku: req.sku.clone(),
            outcome: outcome_label(r.outcome),
            seq: r.seq,
            cycle,
            by_parent: true,
        }
    }

    fn key(&self) -> (String, String) {
        (self.player.clone(), self.claim_id.clone())
    }
}

/// Every answer given so far, keyed by (player, claim id). Answers to the same
/// claim id must all agree.
#[derive(Default)]
struct Acks {
    all: BTreeMap<(String, String), Ack>,
}

impl Acks {
    fn add(&mut self, ack: Ack) -> Result<(), String> {
        match self.all.get(&ack.key()) {
            Some(old) if (&old.outcome, old.seq, &old.sku) != (&ack.outcome, ack.seq, &ack.sku) => Err(format!(
                "claim {} of {} answered twice differently: {} at seq {} (cycle {}) and {} at seq {} (cycle {})",
                ack.claim_id, ack.player, old.outcome, old.seq, old.cycle, ack.outcome, ack.seq, ack.cycle
            )),
            Some(_) => Ok(()),
            None => {
                self.all.insert(ack.key(), ack);
                Ok(())
            }
        }
    }
}

#[derive(Default, Debug)]
struct Stats {
    child_acks: usize,
    parent_acks: usize,
    killed_before_ready: u32,
    /// In-flight claims (sent, never acknowledged) that turned out durable.
    inflight_durable: u32,
    inflight_fresh: u32,
    recovered_from_snapshot: u32,
    max_tail: u64,
    last_seq: Seq,
    slowest_cycle: Duration,
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_claim() {
    let cycles: u32 = std::env::var("TROVE_CRASH_CYCLES")
        .ok()
        .map(|c| c.parse().expect("TROVE_CRASH_CYCLES must be a number"))
        .unwrap_or(CRASH_CYCLES);
    let seed: u64 = std::env::var("TROVE_CRASH_SEED")
        .ok()
        .map(|s| s.parse().expect("TROVE_CRASH_SEED must be a number"))
        .unwrap_or(DEFAULT_SEED);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut acks = Acks::default();
    let mut stats = Stats::default();
    let started = Instant::now();
    for cycle in 0..cycles {
        let cycle_started = Instant::now();
        let kill_after = Duration::from_millis(rng.gen_range(50..=400));
        let result = run_child(tmp.path(), &dir, cycle, kill_after, &mut acks, &mut stats)
            .and_then(|()| check_recovery(&dir, cycle, &mut acks, &mut stats, &mut rng));
        if let Err(msg) = result {
            let kept = tmp.keep();
            panic!(
                "crash cycle {cycle} of {cycles} (seed {seed}, SIGKILL after {kill_after:?}): {msg}\n\
                 data folder kept at {}",
                kept.join("data").display()
            );
        }
        stats.slowest_cycle = stats.slowest_cycle.max(cycle_started.elapsed());
    }
    eprintln!(
        "crash test: {cycles} cycles in {:.1?}, {} claims acknowledged by children, {} by the parent; {stats:?}",
        started.elapsed(),
        stats.child_acks,
        stats.parent_acks
    );
    assert!(stats.child_acks > 0, "no child ever acknowledged a claim: {stats:?}");
}

/// Runs one child, kills it with SIGKILL after `kill_after`, and records its ACKs.
fn run_child(
    tmp: &Path,
    dir: &Path,
    cycle: u32,
    kill_after: Duration,
    acks: &mut Acks,
    stats: &mut Stats,
) -> Result<(), String> {
    wait_until_unlocked(dir)?;
    let stderr_path = tmp.join(format!("child-{cycle}.stderr"));
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = Command::new(this_test_binary())
        .args(["--exact", CHILD_TEST, "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_CYCLE_ENV, cycle.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("spawn child: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut r = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                // A line cut by the kill has no newline; its claim was durable
                // anyway, but the client never saw it whole, so it is no ACK.
                Ok(n) if n > 0 && line.ends_with('\n') => lines.push(line),
                _ => return lines,
            }
        }
    });
    std::thread::sleep(kill_after.saturating_sub(started.elapsed()));
    // On unix `Child::kill` is SIGKILL: no destructor, no flush, no unlock.
    let _ = child.kill();
    let status = child.wait().map_err(|e| format!("wait for child: {e}"))?;
    let lines = reader.join().map_err(|_| "stdout reader panicked".to_string())?;
    let child_stderr = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    if status.signal() != Some(libc::SIGKILL) {
        return Err(format!(
            "child was not killed but exited by itself ({status}); its stderr:\n{}",
            child_stderr()
        ));
    }
    if !lines.iter().any(|l| l.trim_end().ends_with("READY")) {
        stats.killed_before_ready += 1;
    }
    for line in lines.iter().filter(|l| l.starts_with("ACK ")) {
        acks.add(Ack::parse(line, cycle)?)?;
        stats.child_acks += 1;
    }
    Ok(())
}

/// The parent's recovery check stops its engine, but the arbiter threads may
/// still be dropping the last handle on the store (and so on `DIR/LOCK`) when
/// it returns. Under a loaded machine the next child then found the folder
/// locked by the parent and exited by itself, so the test waits for the lock.
fn wait_until_unlocked(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match DirLock::acquire(dir) {
            Ok(lock) => {
                drop(lock);
                return Ok(());
            }
            Err(StoreError::Locked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => return Err(format!("data folder not released after recovery: {e}")),
        }
    }
}

/// Recovers the folder in this process and checks it against every ACK so far.
fn check_recovery(
    dir: &Path,
    cycle: u32,
    acks: &mut Acks,
    stats: &mut Stats,
    rng: &mut ChaCha8Rng,
) -> Result<(), String> {
    let hunt = actix::System::new().block_on(async {
        let (engine, store, report) = open_engine(dir, StoreOptions::default(), EngineConfig::default())
            .map_err(|e| format!("recovery failed: {e}"))?;
        let result = check_live(&engine, cycle, acks, stats, rng, &report).await;
        let closed = store.close().await;
        engine.stop();
        drop(store);
        let hunt = result?;
        closed.map_err(|e| format!("close after recovery: {e}"))?;
        Ok::<_, String>(hunt)
    })?;
    check_journal(dir, acks, hunt.as_ref(), stats)?;
    let report = verify(dir).map_err(|e| format!("verify could not run: {e}"))?;
    if !report.ok() {
        let failed: Vec<String> = report
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        return Err(format!("verify failed: {}", failed.join("; ")));
    }
    Ok(())
}

/// Checks on the recovered, running engine. Returns the hunt's stock ledger.
async fn check_live(
    engine: &Engine,
    cycle: u32,
    acks: &mut Acks,
    stats: &mut Stats,
    rng: &mut ChaCha8Rng,
    report: &RecoveryReport,
) -> Result<Option<HuntState>, String> {
    if !report.skipped_snapshots.is_empty() {
        return Err(format!(
            "recovery skipped damaged snapshots (writes should be atomic): {:?}",
            report.skipped_snapshots
        ));
    }
    if report.snapshot_seq.is_some() {
        stats.recovered_from_snapshot += 1;
    }
    stats.max_tail = stats.max_tail.max(report.tail_records);

    // 1. Every claim acknowledged in any cycle so far is there, unchanged.
    let mut by_player: BTreeMap<&str, Vec<&Ack>> = BTreeMap::new();
    for a in acks.all.values() {
        by_player.entry(&a.player).or_default().push(a);
    }
    for (player, list) in by_player {
        let state = engine.player(player).await.map_err(|e| e.to_string())?;
        let Some(state) = state else {
            return Err(format!(
                "player {player} with {} acknowledged claims (first: {} in cycle {}) is missing after recovery to seq {}",
                list.len(),
                list[0].claim_id,
                list[0].cycle,
                report.last_seq
            ));
        };
        for a in list {
            let Some(c) = state.find_claim(&a.claim_id) else {
                return Err(format!(
                    "acknowledged claim {} of {} ({} at seq {}, cycle {}) is missing after recovery to seq {}",
                    a.claim_id, a.player, a.outcome, a.seq, a.cycle, report.last_seq
                ));
            };
            let got = (outcome_label(c.outcome), c.seq, &*c.hunt, &*c.sku);
            if got != (a.outcome.clone(), a.seq, a.hunt.as_str(), a.sku.as_str()) {
                return Err(format!(
                    "acknowledged claim {} of {} was {} {}/{} at seq {} (cycle {}), recovered as {got:?}",
                    a.claim_id, a.player, a.outcome, a.hunt, a.sku, a.seq, a.cycle
                ));
            }
        }
    }

    // 2. A few acknowledged claims sent again: duplicates with the original answer.
    let all: Vec<Ack> = acks.all.values().cloned().collect();
    for _ in 0..all.len().min(4) {
        let a = &all[rng.gen_range(0..all.len())];
        let (c, client, n) = parse_claim_id(&a.claim_id).ok_or_else(|| format!("odd claim id {}", a.claim_id))?;
        let req = claim_request(c, client, n);
        if (req.player.as_str(), req.sku.as_str()) != (a.player.as_str(), a.sku.as_str()) {
            return Err(format!(
                "claim {} does not rebuild to what was acknowledged",
                a.claim_id
            ));
        }
        let r = engine
            .claim(req)
            .await
            .map_err(|e| format!("resending {}: {e}", a.claim_id))?;
        if !r.duplicate || outcome_label(r.outcome) != a.outcome || r.seq != a.seq {
            return Err(format!(
                "resent acknowledged claim {} of {} ({} at seq {}) answered {:?}",
                a.claim_id, a.player, a.outcome, a.seq, r
            ));
        }
    }

    // 3. Each client's claim that was in flight at the kill (the one after its
    //    last ACK) is retried, as the real client would: decided if it was
    //    durable, decided now if not. Either answer must then stick.
    let mut next = [0u32; CLIENTS as usize];
    for a in acks.all.values().filter(|a| a.cycle == cycle && !a.by_parent) {
        if let Some((c, client, n)) = parse_claim_id(&a.claim_id) {
            if c == cycle {
                next[client as usize] = next[client as usize].max(n + 1);
            }
        }
    }
    for (client, &n) in next.iter().enumerate() {
        let req = claim_request(cycle, client as u32, n);
        let r = engine
            .claim(req.clone())
            .await
            .map_err(|e| format!("retrying in-flight claim {}: {e}", req.claim_id))?;
        if r.duplicate {
            stats.inflight_durable += 1;
        } else {
            stats.inflight_fresh += 1;
        }
        acks.add(Ack::from_result(&req, &r, cycle))?;
        stats.parent_acks += 1;
    }
    stats.last_seq = engine.last_seq();
    engine.hunt(HUNT).await.map(Some).or_else(|e| match e {
        EngineError::UnknownHunt(_) => Ok(None),
        e => Err(e.to_string()),
    })
}

/// Offline checks on the whole journal after the parent closed the folder.
fn check_journal(dir: &Path, acks: &Acks, hunt: Option<&HuntState>, stats: &Stats) -> Result<(), String> {
    let mut decided: HashMap<(String, String), (Seq, Outcome, String)> = HashMap::new();
    let mut errors = Vec::new();
    let mut granted: HashMap<String, u64> = HashMap::new();
    let mut added: HashMap<String, u64> = HashMap::new();
    let mut per_player: HashMap<(String, String), u32> = HashMap::new();
    let end = read_journal(dir, 0, |seq, _, record| match record {
        Record::Claim { request, outcome } => {
            if outcome.is_granted() {
                *granted.entry(request.sku.clone()).or_default() += 1;
                *per_player
                    .entry((request.player.clone(), request.sku.clone()))
                    .or_default() += 1;
            }
            let key = (request.player, request.claim_id);
            if let Some((first, _, _)) = decided.insert(key.clone(), (seq, outcome, request.sku)) {
                errors.push(format!(
                    "claim {} of {} decided twice, at seq {first} and {seq}",
                    key.1, key.0
                ));
            }
        }
        Record::StockAdded { sku, added: n, .. } => *added.entry(sku).or_default() += n,
        _ => {}
    })
    .map_err(|e| format!("reading the journal: {e}"))?;
    if end.last_seq != stats.last_seq {
        errors.push(format!(
            "journal ends at {} but the engine had handed out {}",
            end.last_seq, stats.last_seq
        ));
    }
    for a in acks.all.values() {
        match decided.get(&a.key()) {
            Some((seq, outcome, sku)) if *seq == a.seq && outcome_label(*outcome) == a.outcome && *sku == a.sku => {}
            other => errors.push(format!(
                "acknowledged claim {} of {} ({} {} at seq {}, cycle {}) is in the journal as {other:?}",
                a.claim_id, a.player, a.sku, a.outcome, a.seq, a.cycle
            )),
        }
    }
    for (i, &(sku, initial, limit, _)) in PRODUCTS.iter().enumerate() {
        let (g, add) = (
            granted.get(sku).copied().unwrap_or(0),
            added.get(sku).copied().unwrap_or(0),
        );
        if g > initial + add {
            errors.push(format!("{sku}: {g} granted but only {initial} + {add} stocked"));
        }
        if let Some(h) = hunt {
            if (h.granted[i], h.added[i], h.stock[i]) != (g, add, initial + add - g.min(initial + add)) {
                errors.push(format!(
                    "{sku}: engine says granted {} added {} remaining {}; journal says granted {g} added {add} \
                     so remaining {}",
                    h.granted[i],
                    h.added[i],
                    h.stock[i],
                    (initial + add).saturating_sub(g)
                ));
            }
        }
        for ((player, s), n) in &per_player {
            if s == sku && *n > limit {
                errors.push(format!("{player} was granted {n} {sku} (limit {limit})"));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        let mut msg = format!("{} journal problems:", errors.len());
        for e in errors.iter().take(20) {
            let _ = write!(msg, "\n  {e}");
        }
        Err(msg)
    }
}

/// The running test binary, to start a child from. `/proc/self/exe` stays the
/// binary this process runs even when a rebuild replaces the file meanwhile
/// (cargo's target folder is shared).
fn this_test_binary() -> std::path::PathBuf {
    let proc_exe = std::path::Path::new("/proc/self/exe");
    if proc_exe.exists() {
        proc_exe.to_path_buf()
    } else {
        std::env::current_exe().unwrap()
    }
}
