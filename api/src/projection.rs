//! The leaderboard projection: a read model built only from the durable
//! journal, never from the engine's actors.
//!
//! A background task tails the journal (`Store::read_after`) every
//! [`REFRESH_INTERVAL`] and applies each record: hunt definitions give clue
//! points, `clue_found` events score once per player and clue, claims and
//! stock records keep per-product counts. Rankings are then published as
//! immutable [`Board`]s that queries read without locking the projection.
//!
//! Because it is derived from the journal alone, it is rebuildable and it is
//! an independent witness for the consistency check, which compares it with
//! the live engine state at the same journal sequence
//! ([`Projection::compare_with_engine`]).
//!
//! Rebuilding it from sequence 0 costs a full journal read (80 s for 50M
//! records), and readiness waits for it. So with every engine snapshot the
//! server also writes a checkpoint of the projection, `DATA/leaderboard.proj`
//! ([`Projection::save`]): its state at a sequence, and the hash of the
//! journal block holding that sequence. At start the checkpoint is used only
//! if that block still has that hash (same history), then the journal tail is
//! applied; otherwise, or if the file fails its checks, the projection is
//! rebuilt from sequence 0.
//!
//! Ranking: higher score first; ties go to the player who reached that score
//! first (lower journal sequence); then by player id. Ranks are 1, 2, 3, ...
//! with no shared ranks, so every query answers the same order.

use crate::error::ApiError;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use trove_engine::{EventKind, HuntDef, Record, Seq, World};
use trove_persistence::{Check, Item, Store};

/// How often the projection catches up with the durable journal. Together with
/// the journal's group commit this keeps it well under 500 ms behind.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(200);
/// Records read per journal read.
pub const READ_CHUNK: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct RankKey {
    score: Reverse<u64>,
    reached: Seq,
    player: Arc<str>,
}

#[derive(Serialize, Deserialize)]
struct PlayerProj {
    score: u64,
    reached: Seq,
    clues: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
struct HuntProj {
    def: Arc<HuntDef>,
    clue_index: HashMap<String, usize>,
    sku_index: HashMap<String, usize>,
    players: HashMap<Arc<str>, PlayerProj>,
    /// Derived from `players`; rebuilt after loading a checkpoint.
    #[serde(skip)]
    ranking: BTreeSet<RankKey>,
    added: Vec<u64>,
    granted: Vec<u64>,
    events: u64,
    #[serde(skip)]
    dirty: bool,
    #[serde(skip)]
    version: u64,
}

impl HuntProj {
    fn new(def: HuntDef) -> Self {
        HuntProj {
            clue_index: def.clues.iter().enumerate().map(|(i, c)| (c.id.clone(), i)).collect(),
            sku_index: def
                .products
                .iter()
                .enumerate()
                .map(|(i, p)| (p.sku.clone(), i))
                .collect(),
            added: vec![0; def.products.len()],
            granted: vec![0; def.products.len()],
            def: Arc::new(def),
            players: HashMap::new(),
            ranking: BTreeSet::new(),
            events: 0,
            dirty: true,
            version: 0,
        }
    }
}

impl HuntProj {
    /// The player's entry, created (unranked score 0, first seen at `seq`) if new.
    fn join(&mut self, player: &Arc<str>, seq: Seq) {
        let words = self.def.clues.len().div_ceil(64);
        self.players.entry(player.clone()).or_insert_with(|| {
            self.ranking.insert(RankKey {
                score: Reverse(0),
                reached: seq,
                player: player.clone(),
            });
            self.dirty = true;
            PlayerProj {
                score: 0,
                reached: seq,
                clues: vec![0; words],
            }
        });
    }
}

#[derive(Default, Serialize, Deserialize)]
struct ProjState {
    applied: Seq,
    hunts: BTreeMap<String, HuntProj>,
    players: HashSet<Arc<str>>,
    events: u64,
    claims: u64,
    granted: u64,
}

impl ProjState {
    fn apply_item(&mut self, seq: Seq, item: &Item) -> Result<(), String> {
        match item {
            Item::Record(r) => self.apply(seq, r),
            Item::Removed { first } => {
                if *first != self.applied + 1 {
                    return Err(format!("projection expected record {}, got {first}", self.applied + 1));
                }
                self.applied = seq;
                Ok(())
            }
            // Telemetry retention removed: counted, and its players joined
            // their hunts where they first appeared.
            Item::RemovedTelemetry { players: counts, .. } => {
                for c in counts {
                    let n = c.checkins + c.interactions;
                    self.events += n;
                    let player = self.intern_player(&c.player);
                    let Some(h) = self.hunts.get_mut(&c.hunt) else {
                        return Err(format!("record {seq}: removed telemetry for unknown hunt {:?}", c.hunt));
                    };
                    h.events += n;
                    h.join(&player, c.first_seq);
                }
                Ok(())
            }
        }
    }

    fn apply(&mut self, seq: Seq, record: &Record) -> Result<(), String> {
        if seq != self.applied + 1 {
            return Err(format!("projection expected record {}, got {seq}", self.applied + 1));
        }
        self.applied = seq;
        match record {
            Record::HuntDefined(def) => {
                self.hunts
                    .entry(def.id.clone())
                    .or_insert_with(|| HuntProj::new(def.clone()));
            }
            Record::StockAdded { hunt, sku, added } => {
                if let Some(h) = self.hunts.get_mut(hunt) {
                    if let Some(&i) = h.sku_index.get(sku) {
                        h.added[i] += added;
                    }
                }
            }
            Record::Event(ev) => {
                self.events += 1;
                let player = self.intern_player(&ev.player);
                let Some(h) = self.hunts.get_mut(&ev.hunt) else {
                    return Err(format!("record {seq}: event for unknown hunt {:?}", ev.hunt));
                };
                h.events += 1;
                h.join(&player, seq);
                let p = h.players.get_mut(&player).expect("joined above");
                if let EventKind::ClueFound { clue } = &ev.kind {
                    if let Some(&i) = h.clue_index.get(clue) {
                        let (w, b) = (i / 64, i % 64);
                        if p.clues[w] & (1 << b) == 0 {
                            p.clues[w] |= 1 << b;
                            let points = u64::from(h.def.clues[i].points);
                            h.ranking.remove(&RankKey {
                                score: Reverse(p.score),
                                reached: p.reached,
                                player: player.clone(),
                            });
                            p.score += points;
                            if points > 0 {
                                p.reached = seq;
                            }
                            h.ranking.insert(RankKey {
                                score: Reverse(p.score),
                                reached: p.reached,
                                player,
                            });
                            h.dirty = true;
                        }
                    }
                }
            }
            Record::Claim { request, outcome } => {
                self.claims += 1;
                self.intern_player(&request.player);
                if outcome.is_granted() {
                    self.granted += 1;
                    if let Some(h) = self.hunts.get_mut(&request.hunt) {
                        if let Some(&i) = h.sku_index.get(&request.sku) {
                            h.granted[i] += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn intern_player(&mut self, id: &str) -> Arc<str> {
        if let Some(p) = self.players.get(id) {
            return p.clone();
        }
        let p: Arc<str> = Arc::from(id);
        self.players.insert(p.clone());
        p
    }
}

/// One published ranking of a hunt.
pub struct Board {
    /// Grows each time the ranking changes.
    pub version: u64,
    /// Players in rank order (rank = index + 1) with their scores.
    pub entries: Vec<(Arc<str>, u64)>,
    index: OnceLock<HashMap<Arc<str>, usize>>,
}

impl Board {
    /// 0-based position of `player`, if ranked.
    pub fn position(&self, player: &str) -> Option<usize> {
        self.index
            .get_or_init(|| {
                self.entries
                    .iter()
                    .enumerate()
                    .map(|(i, (p, _))| (p.clone(), i))
                    .collect()
            })
            .get(player)
            .copied()
    }

    /// `limit` entries from the top, or a window of `limit` entries around
    /// `around` (empty if that player is not ranked). Each as (rank, player, score).
    pub fn query(&self, limit: usize, around: Option<&str>) -> Vec<(usize, Arc<str>, u64)> {
        let start = match around {
            None => 0,
            Some(p) => match self.position(p) {
                None => return Vec::new(),
                Some(pos) => {
                    let before = limit / 2;
                    let start = pos.saturating_sub(before);
                    // Keep the window full near the bottom.
                    start.min(self.entries.len().saturating_sub(limit))
                }
            },
        };
        self.entries
            .iter()
            .enumerate()
            .skip(start)
            .take(limit)
            .map(|(i, (p, s))| (i + 1, p.clone(), *s))
            .collect()
    }
}

pub struct Projection {
    store: Arc<Store>,
    state: tokio::sync::Mutex<ProjState>,
    boards: RwLock<HashMap<String, Arc<Board>>>,
    published_seq: AtomicU64,
    /// Set when the journal could not be applied (a bug or damage); reported
    /// by the consistency check and readiness.
    failure: RwLock<Option<String>>,
}

impl Projection {
    pub fn new(store: Arc<Store>) -> Arc<Projection> {
        Arc::new(Projection {
            store,
            state: tokio::sync::Mutex::new(ProjState::default()),
            boards: RwLock::new(HashMap::new()),
            published_seq: AtomicU64::new(0),
            failure: RwLock::new(None),
        })
    }

    /// The journal sequence the published boards include.
    pub fn as_of_seq(&self) -> Seq {
        self.published_seq.load(Ordering::Acquire)
    }

    pub fn failure(&self) -> Option<String> {
        self.failure.read().clone()
    }

    pub fn board(&self, hunt: &str) -> Option<Arc<Board>> {
        self.boards.read().get(hunt).cloned()
    }

    /// Loads the checkpoint in `dir` if it matches this journal's history,
    /// then applies the journal after it. Returns the sequence it started
    /// from (0 = rebuilt from the start) and why a checkpoint was not used.
    pub async fn start_from_checkpoint(&self, dir: &Path) -> (Seq, Option<String>) {
        let path = dir.join(CHECKPOINT_FILE);
        let store = self.store.clone();
        let loaded = tokio::task::spawn_blocking(move || load_checkpoint(&path, &store))
            .await
            .unwrap_or_else(|e| Err(format!("checkpoint reader panicked: {e}")));
        match loaded {
            Ok(Some(mut st)) => {
                for h in st.hunts.values_mut() {
                    h.ranking = h
                        .players
                        .iter()
                        .map(|(p, pp)| RankKey {
                            score: Reverse(pp.score),
                            reached: pp.reached,
                            player: p.clone(),
                        })
                        .collect();
                    h.dirty = true;
                }
                let from = st.applied;
                *self.state.lock().await = st;
                (from, None)
            }
            Ok(None) => (0, None),
            Err(why) => (0, Some(why)),
        }
    }

    /// Writes a checkpoint of the projection (temporary file, fsync, rename).
    pub async fn save(&self, dir: &Path) -> Result<Seq, String> {
        let st = self.state.lock().await;
        let seq = st.applied;
        let hash = block_hash_holding(&self.store, seq)?;
        let payload = trove_persistence::snapshot::encode_value(&*st).map_err(|e| e.to_string())?;
        drop(st);
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || write_checkpoint(&dir, seq, &hash, &payload))
            .await
            .map_err(|e| e.to_string())??;
        Ok(seq)
    }

    /// Applies every durable record not yet applied, then publishes.
    pub async fn refresh(&self) -> Result<(), ApiError> {
        let mut st = self.state.lock().await;
        self.advance(&mut st, None).await
    }

    async fn advance(&self, st: &mut ProjState, upto: Option<Seq>) -> Result<(), ApiError> {
        if let Some(f) = self.failure() {
            return Err(ApiError::internal(format!("leaderboard projection stopped: {f}")));
        }
        let result = self.advance_inner(st, upto).await;
        if let Err(e) = &result {
            if e.code == "internal" {
                tracing::error!(error = %e.message, "leaderboard projection stopped");
                *self.failure.write() = Some(e.message.clone());
            }
        }
        self.publish(st);
        result
    }

    async fn advance_inner(&self, st: &mut ProjState, upto: Option<Seq>) -> Result<(), ApiError> {
        loop {
            if upto.is_some_and(|u| st.applied >= u) {
                return Ok(());
            }
            let after = st.applied;
            let store = self.store.clone();
            let records = tokio::task::spawn_blocking(move || store.read_after(after, READ_CHUNK))
                .await
                .map_err(|e| ApiError::internal(format!("journal reader panicked: {e}")))?
                .map_err(|e| ApiError::internal(format!("journal read failed: {e}")))?;
            let n = records.len();
            for (seq, _, record) in records {
                if upto.is_some_and(|u| seq > u) {
                    return Ok(());
                }
                st.apply_item(seq, &record).map_err(ApiError::internal)?;
            }
            if n < READ_CHUNK {
                return Ok(());
            }
        }
    }

    fn publish(&self, st: &mut ProjState) {
        let mut changed = Vec::new();
        for (id, h) in st.hunts.iter_mut().filter(|(_, h)| h.dirty) {
            h.dirty = false;
            h.version += 1;
            let entries = h.ranking.iter().map(|k| (k.player.clone(), k.score.0)).collect();
            changed.push((
                id.clone(),
                Arc::new(Board {
                    version: h.version,
                    entries,
                    index: OnceLock::new(),
                }),
            ));
        }
        if !changed.is_empty() {
            let mut boards = self.boards.write();
            for (id, b) in changed {
                boards.insert(id, b);
            }
        }
        self.published_seq.store(st.applied, Ordering::Release);
        metrics::gauge!("trove_projection_seq").set(st.applied as f64);
    }

    /// Takes a consistent dump of the engine, brings the projection to exactly
    /// the dump's sequence, and compares the two. Returns the dump for further
    /// checks.
    pub async fn compare_with_engine(&self, engine: &trove_engine::Engine) -> Result<(World, Vec<Check>), ApiError> {
        // Holding the projection lock keeps it from moving past the dump.
        let mut st = self.state.lock().await;
        let world = engine.dump().await?;
        self.advance(&mut st, Some(world.last_seq)).await?;
        let checks = compare(&st, &world);
        Ok((world, checks))
    }
}

fn check(name: &str, ok: bool, detail: String) -> Check {
    Check {
        name: name.into(),
        ok,
        detail,
    }
}

/// Compares the projection (journal-derived) with the engine's live state.
fn compare(st: &ProjState, world: &World) -> Vec<Check> {
    let s = world.summary();
    let mut out = Vec::new();
    out.push(check(
        "projection_seq",
        st.applied == world.last_seq,
        format!("projection at {}, engine at {}", st.applied, world.last_seq),
    ));
    out.push(check(
        "players",
        st.players.len() as u64 == s.players,
        format!("journal: {}, engine: {}", st.players.len(), s.players),
    ));
    out.push(check(
        "events",
        st.events == s.events,
        format!("journal: {}, engine: {}", st.events, s.events),
    ));
    out.push(check(
        "claims",
        st.claims == s.claims && st.granted == s.granted_by_players,
        format!(
            "decided: journal {} engine {}; granted: journal {} engine {}",
            st.claims, s.claims, st.granted, s.granted_by_players
        ),
    ));
    let mut hunt_diffs = Vec::new();
    let mut product_diffs = Vec::new();
    let mut stock_diffs = Vec::new();
    let (mut products, mut units_left) = (0usize, 0u64);
    let ids: BTreeSet<&String> = st.hunts.keys().chain(s.hunts.keys()).collect();
    for id in ids {
        match (st.hunts.get(id), s.hunts.get(id)) {
            (Some(h), Some(e)) => {
                if h.players.len() as u64 != e.players {
                    hunt_diffs.push(format!("{id}: journal {} engine {}", h.players.len(), e.players));
                }
                for (i, p) in h.def.products.iter().enumerate() {
                    products += 1;
                    let Some(ep) = e.products.get(&p.sku) else {
                        product_diffs.push(format!("{id}/{}: missing in engine", p.sku));
                        continue;
                    };
                    if h.granted[i] != ep.granted {
                        product_diffs.push(format!(
                            "{id}/{}: granted journal {} engine {}",
                            p.sku, h.granted[i], ep.granted
                        ));
                    }
                    let remaining = (p.stock + h.added[i]).checked_sub(h.granted[i]);
                    units_left += ep.remaining;
                    if remaining != Some(ep.remaining) || h.added[i] != ep.added {
                        stock_diffs.push(format!(
                            "{id}/{}: remaining journal {:?} engine {}, added journal {} engine {}",
                            p.sku, remaining, ep.remaining, h.added[i], ep.added
                        ));
                    }
                }
            }
            (a, b) => hunt_diffs.push(format!("{id}: in journal {}, in engine {}", a.is_some(), b.is_some())),
        }
    }
    let summarize = |diffs: &Vec<String>, ok_text: String| {
        if diffs.is_empty() {
            ok_text
        } else {
            let mut d: Vec<String> = diffs.iter().take(10).cloned().collect();
            if diffs.len() > 10 {
                d.push(format!("... {} more", diffs.len() - 10));
            }
            d.join("; ")
        }
    };
    out.push(check(
        "players_per_hunt",
        hunt_diffs.is_empty(),
        summarize(&hunt_diffs, format!("{} hunts agree", st.hunts.len())),
    ));
    out.push(check(
        "claims_per_product",
        product_diffs.is_empty(),
        summarize(&product_diffs, format!("{products} products agree")),
    ));
    out.push(check(
        "stock",
        stock_diffs.is_empty(),
        summarize(
            &stock_diffs,
            format!("{units_left} units left; initial + added - granted = remaining everywhere"),
        ),
    ));
    // Every score on the leaderboard against the engine's player state.
    let mut score_diffs = Vec::new();
    let mut compared = 0u64;
    for (hid, h) in &st.hunts {
        for (pid, p) in &h.players {
            compared += 1;
            let engine_score = world.players.get(&**pid).and_then(|ps| ps.hunt(hid)).map(|ph| ph.score);
            if engine_score != Some(p.score) {
                score_diffs.push(format!(
                    "{hid}/{pid}: leaderboard {} engine {:?}",
                    p.score, engine_score
                ));
            }
        }
    }
    out.push(check(
        "leaderboard_scores",
        score_diffs.is_empty(),
        summarize(&score_diffs, format!("{compared} player scores agree")),
    ));
    out
}

/// The projection checkpoint in the data folder.
pub const CHECKPOINT_FILE: &str = "leaderboard.proj";
const CHECKPOINT_MAGIC: &[u8; 4] = b"TRVL";

/// The sequence a data folder's leaderboard checkpoint resumes from, if it
/// has one that looks usable: the projection will read the journal after it,
/// so retention must not compact past it.
pub fn checkpoint_seq(dir: &Path) -> Option<Seq> {
    checkpoint_header_seq(&std::fs::read(dir.join(CHECKPOINT_FILE)).ok()?).ok()
}

/// The sequence in a checkpoint's header, if the header is one.
fn checkpoint_header_seq(bytes: &[u8]) -> Result<Seq, String> {
    if bytes.len() < 76 || &bytes[..4] != CHECKPOINT_MAGIC {
        return Err("leaderboard checkpoint is damaged".into());
    }
    Ok(u64::from_le_bytes(bytes[4..12].try_into().expect("8 bytes")))
}

/// The hash of the journal block holding `seq` (zeros for 0).
fn block_hash_holding(store: &Store, seq: Seq) -> Result<[u8; 32], String> {
    store.block_hash_at(seq).map_err(|e| e.to_string())
}

/// Format: magic "TRVL", seq u64 LE, hash of the journal block holding seq
/// (32), blake3 of the payload (32), payload = bincode of the state.
fn write_checkpoint(dir: &Path, seq: Seq, block_hash: &[u8; 32], payload: &[u8]) -> Result<(), String> {
    let mut bytes = Vec::with_capacity(76 + payload.len());
    bytes.extend_from_slice(CHECKPOINT_MAGIC);
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.extend_from_slice(block_hash);
    bytes.extend_from_slice(blake3::hash(payload).as_bytes());
    bytes.extend_from_slice(payload);
    // A temporary name of its own: periodic, admin and shutdown checkpoints may overlap.
    trove_persistence::snapshot::write_atomic(dir, CHECKPOINT_FILE, &bytes)?;
    Ok(())
}

fn load_checkpoint(path: &Path, store: &Store) -> Result<Option<ProjState>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("read {}: {e}", path.display())),
    };
    let seq = checkpoint_header_seq(&bytes)?;
    let payload = &bytes[76..];
    if blake3::hash(payload).as_bytes() != &bytes[44..76] {
        return Err("leaderboard checkpoint fails its checksum".into());
    }
    if seq > store.durable_seq() {
        return Err(format!("leaderboard checkpoint at {seq} is ahead of the journal"));
    }
    if block_hash_holding(store, seq)?[..] != bytes[12..44] {
        return Err("leaderboard checkpoint was made from a different journal history".into());
    }
    let st: ProjState = trove_persistence::snapshot::decode_value(payload).map_err(|e| e.to_string())?;
    if st.applied != seq {
        return Err("leaderboard checkpoint header and state disagree".into());
    }
    Ok(Some(st))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trove_engine::{ClueDef, GameEvent};

    fn ev(p: &str, clue: &str) -> Record {
        Record::Event(GameEvent {
            player: p.into(),
            hunt: "h".into(),
            kind: EventKind::ClueFound { clue: clue.into() },
        })
    }

    #[test]
    fn ranks_by_score_then_first_to_reach() {
        let mut st = ProjState::default();
        let def = HuntDef {
            id: "h".into(),
            name: "h".into(),
            opens_at: None,
            closes_at: None,
            clues: vec![
                ClueDef {
                    id: "a".into(),
                    points: 10,
                },
                ClueDef {
                    id: "b".into(),
                    points: 5,
                },
            ],
            products: vec![],
        };
        let recs = [
            Record::HuntDefined(def),
            ev("p1", "a"),
            ev("p2", "a"),
            ev("p2", "a"),
            ev("p3", "b"),
        ];
        for (i, r) in recs.iter().enumerate() {
            st.apply(i as Seq + 1, r).unwrap();
        }
        let h = &st.hunts["h"];
        let order: Vec<(&str, u64)> = h.ranking.iter().map(|k| (&*k.player, k.score.0)).collect();
        assert_eq!(order, vec![("p1", 10), ("p2", 10), ("p3", 5)]);
        let board = Board {
            version: 1,
            entries: h.ranking.iter().map(|k| (k.player.clone(), k.score.0)).collect(),
            index: OnceLock::new(),
        };
        let around: Vec<usize> = board.query(2, Some("p3")).iter().map(|e| e.0).collect();
        assert_eq!(around, vec![2, 3]);
        assert!(board.query(2, Some("nobody")).is_empty());
        assert!(st.apply(9, &ev("p1", "b")).is_err());
    }
}
