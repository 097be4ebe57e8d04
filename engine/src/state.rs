//! Game state and the pure functions that change it.
//!
//! The actors hold pieces of this state ([`PlayerState`] in a player actor,
//! [`HuntState`] in a hunt actor) and change it only through the functions
//! here, which are the same ones [`World::apply`] uses to replay the journal.
//! That sharing is what makes "replayed state == live state" a checkable
//! invariant instead of a hope.

use crate::model::*;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One player's progress in one hunt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerHunt {
    /// The hunt's id, shared with its [`HuntState::id`] (see [`World::intern`]).
    pub hunt: Arc<str>,
    /// Sum of the points of the clues found (each clue counts once).
    pub score: u64,
    /// Events of this player in this hunt: clue finds (repeats included),
    /// checkins and interactions, also those retention removed.
    pub events: u64,
    /// Bit i set = clue i of the hunt definition found. Inline up to 64 clues:
    /// one cache miss fewer per clue find.
    pub clues: SmallVec<[u64; 1]>,
}

impl PlayerHunt {
    /// Indices of the clues found, ascending.
    pub fn clue_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.clues
            .iter()
            .enumerate()
            .flat_map(|(w, bits)| (0..64).filter(move |b| bits & (1 << b) != 0).map(move |b| w * 64 + b))
    }
}

/// A decided claim as the player remembers it, forever (dedup never forgets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimEntry {
    /// The client's claim id; unique among this player's entries.
    pub claim_id: Box<str>,
    /// The hunt claimed in, as sent (interned to the hunt's id if defined).
    pub hunt: Arc<str>,
    /// The sku claimed, as sent (shared with the hunt's if it exists).
    pub sku: Arc<str>,
    /// The decision, as journaled; never changes.
    pub outcome: Outcome,
    /// Sequence of the journal record that decided it.
    pub seq: Seq,
    /// A hash of `claim_id`, so that dedup (every claim, live and in replay)
    /// compares strings only on a likely match. Not stored (0 after
    /// decoding until [`World::intern`]); fits in the struct's padding.
    #[serde(skip)]
    pub id_hash: IdHash,
}

/// A claim id's hash; 0 = not computed. Never part of equality: it is a
/// cache of `claim_id`, and a missing one only costs a string comparison.
#[derive(Clone, Copy, Debug, Default, Eq)]
pub struct IdHash(u32);

impl PartialEq for IdHash {
    fn eq(&self, _: &IdHash) -> bool {
        true
    }
}

impl IdHash {
    /// The hash of `claim_id` (never 0). Deterministic within a process.
    pub fn of(claim_id: &str) -> IdHash {
        use std::hash::BuildHasher;
        // Fixed seed: the same id hashes the same in every state of this process.
        let h = foldhash::fast::FixedState::with_seed(0x7c5f_1d2b).hash_one(claim_id);
        IdHash((h as u32) | 1)
    }

    /// Whether an entry with this hash may hold the id hashed as `other`.
    fn may_be(self, other: IdHash) -> bool {
        self.0 == 0 || self.0 == other.0
    }
}

/// Everything the engine knows about one player, across hunts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerState {
    /// Almost always one hunt, kept inline with the player.
    /// Sorted by hunt id, so that live state equals replayed state.
    pub hunts: SmallVec<[PlayerHunt; 1]>,
    /// Every claim decided for this player, granted or rejected, in decision
    /// order; never pruned (at most [`limits::MAX_CLAIMS_PER_PLAYER`]).
    pub claims: Vec<ClaimEntry>,
}

/// The effect of one validated game event on its player.
#[derive(Clone, Debug)]
pub(crate) struct EventEffect {
    /// The hunt's interned id.
    pub(crate) hunt: Arc<str>,
    /// Clues in the hunt: sizes a new [`PlayerHunt::clues`].
    pub(crate) clue_count: usize,
    /// (clue index, points) for `clue_found`.
    pub(crate) clue: Option<(usize, u32)>,
}

/// What the player-side checks decide about a claim before stock is touched.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ClaimCheck<'a> {
    /// Same claim id, same content: answer with the original outcome.
    Duplicate(&'a ClaimEntry),
    /// Same claim id, different hunt or sku.
    Conflict(&'a ClaimEntry),
    /// The player has used [`limits::MAX_CLAIMS_PER_PLAYER`] claim ids.
    TooManyClaims,
    /// Rejected without touching stock.
    Reject(RejectReason),
    /// Passed every player-side check; the hunt's stock owner decides.
    NeedsStock { product: usize },
}

impl PlayerState {
    /// This player's progress in `hunt`, if it has any event there.
    pub fn hunt(&self, hunt: &str) -> Option<&PlayerHunt> {
        self.hunts.iter().find(|h| &*h.hunt == hunt)
    }

    fn hunt_mut(&mut self, hunt: &Arc<str>, clue_count: usize) -> &mut PlayerHunt {
        match self.hunts.iter().position(|h| h.hunt == *hunt) {
            Some(i) => &mut self.hunts[i],
            None => {
                // Kept sorted by hunt id, not in first-touch order: batches of
                // different ingest calls can reach the shard in another order
                // than the journal's, and live state must equal replayed state.
                let at = self.hunts.partition_point(|h| h.hunt < *hunt);
                self.hunts.insert(
                    at,
                    PlayerHunt {
                        hunt: hunt.clone(),
                        score: 0,
                        events: 0,
                        clues: smallvec::smallvec![0u64; clue_count.div_ceil(64)],
                    },
                );
                &mut self.hunts[at]
            }
        }
    }

    /// The player's score in `hunt`; 0 if it has no event there.
    pub fn score(&self, hunt: &str) -> u64 {
        self.hunt(hunt).map_or(0, |h| h.score)
    }

    /// The decided claim with this id, if any (dedup lookup).
    pub fn find_claim(&self, claim_id: &str) -> Option<&ClaimEntry> {
        let h = IdHash::of(claim_id);
        self.claims
            .iter()
            .find(|c| c.id_hash.may_be(h) && &*c.claim_id == claim_id)
    }

    /// How many units of `sku` in `hunt` this player was granted: what
    /// [`ProductDef::per_player_limit`] bounds.
    pub fn granted_count(&self, hunt: &str, sku: &str) -> u32 {
        // Hunt ids are interned: the pointer test settles almost every entry.
        let same_hunt = |c: &ClaimEntry| std::ptr::eq(c.hunt.as_ptr(), hunt.as_ptr()) || &*c.hunt == hunt;
        self.claims
            .iter()
            .filter(|c| c.outcome.is_granted() && &*c.sku == sku && same_hunt(c))
            .count() as u32
    }

    /// Applies a validated event. A clue scores once per player and hunt, so a
    /// retried batch cannot double-count score.
    pub(crate) fn apply_event(&mut self, effect: &EventEffect) {
        let h = self.hunt_mut(&effect.hunt, effect.clue_count);
        h.events += 1;
        if let Some((index, points)) = effect.clue {
            let (w, b) = (index / 64, index % 64);
            debug_assert!(w < h.clues.len(), "clue index outside the hunt's clue set");
            if let Some(word) = h.clues.get_mut(w) {
                if *word & (1 << b) == 0 {
                    *word |= 1 << b;
                    h.score += u64::from(points);
                }
            }
        }
    }

    /// The player-side claim checks, in the contract's order: dedup first,
    /// then hunt, product, open window, eligibility, per-player limit.
    pub(crate) fn check_claim<'a>(&'a self, req: &ClaimRequest, hunt: Option<&HuntDef>, now: Millis) -> ClaimCheck<'a> {
        if let Some(entry) = self.find_claim(&req.claim_id) {
            return if *entry.hunt == *req.hunt && *entry.sku == *req.sku {
                ClaimCheck::Duplicate(entry)
            } else {
                ClaimCheck::Conflict(entry)
            };
        }
        if self.claims.len() >= limits::MAX_CLAIMS_PER_PLAYER {
            return ClaimCheck::TooManyClaims;
        }
        let Some(hunt) = hunt else {
            return ClaimCheck::Reject(RejectReason::UnknownHunt);
        };
        let Some(product) = hunt.product_index(&req.sku) else {
            return ClaimCheck::Reject(RejectReason::UnknownProduct);
        };
        if !hunt.is_open_at(now) {
            return ClaimCheck::Reject(RejectReason::HuntClosed);
        }
        let p = &hunt.products[product];
        if self.score(&req.hunt) < p.min_score {
            return ClaimCheck::Reject(RejectReason::NotEligible);
        }
        if self.granted_count(&req.hunt, &req.sku) >= p.per_player_limit {
            return ClaimCheck::Reject(RejectReason::LimitReached);
        }
        ClaimCheck::NeedsStock { product }
    }

    /// Remembers a decided claim. Callers have checked it is not a duplicate.
    pub(crate) fn record_claim(&mut self, mut entry: ClaimEntry) {
        debug_assert!(self.find_claim(&entry.claim_id).is_none(), "claim recorded twice");
        entry.id_hash = IdHash::of(&entry.claim_id);
        self.claims.push(entry);
    }
}

/// A hunt's definition and its stock ledger. Owned by one hunt actor, so stock
/// of one product is serialized by one owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HuntState {
    /// `def.id`, allocated once and shared by every player's entries.
    pub id: Arc<str>,
    /// The definition as journaled; never changes.
    pub def: Arc<HuntDef>,
    /// Sequence of the record that defined the hunt.
    pub defined_at: Seq,
    /// Units left, per product (indexed like `def.products`).
    pub stock: Vec<u64>,
    /// Units granted so far, per product.
    pub granted: Vec<u64>,
    /// Units added by [`Record::StockAdded`] so far, per product. The ledger
    /// identity: initial + added = stock + granted.
    pub added: Vec<u64>,
}

impl HuntState {
    /// A hunt as just defined by the record at `defined_at`: initial stock,
    /// nothing granted or added.
    pub fn new(def: Arc<HuntDef>, defined_at: Seq) -> Self {
        let n = def.products.len();
        HuntState {
            stock: def.products.iter().map(|p| p.stock).collect(),
            granted: vec![0; n],
            added: vec![0; n],
            id: Arc::from(def.id.as_str()),
            def,
            defined_at,
        }
    }

    /// Decides the stock step of a claim: grant if a unit is left.
    pub(crate) fn decide(&self, product: usize) -> Outcome {
        if self.stock[product] > 0 {
            Outcome::Granted
        } else {
            Outcome::Rejected(RejectReason::OutOfStock)
        }
    }

    /// Applies a decided claim's effect on stock. Errors if it would oversell.
    pub(crate) fn apply_outcome(&mut self, product: usize, outcome: Outcome) -> Result<(), String> {
        if outcome.is_granted() {
            if self.stock[product] == 0 {
                return Err(format!(
                    "oversell of {}/{}",
                    self.def.id, self.def.products[product].sku
                ));
            }
            self.stock[product] -= 1;
            self.granted[product] += 1;
        }
        Ok(())
    }

    /// Adds `n` units to product `product`. Errors (and changes nothing) if
    /// the stock would pass [`MAX_STOCK`].
    pub(crate) fn add_stock(&mut self, product: usize, n: u64) -> Result<(), String> {
        let new = self.stock[product].checked_add(n).filter(|s| *s <= MAX_STOCK);
        match new {
            Some(s) => {
                self.stock[product] = s;
                self.added[product] += n;
                Ok(())
            }
            None => Err(format!("stock would exceed {MAX_STOCK}")),
        }
    }

    /// The ledger identity every hunt must satisfy: for each product,
    /// initial stock + added = remaining stock + granted.
    pub fn ledger_balances(&self) -> bool {
        self.def
            .products
            .iter()
            .enumerate()
            .all(|(i, p)| p.stock + self.added[i] == self.stock[i] + self.granted[i])
    }
}

/// Why a journal could not be applied: a gap, or a record that contradicts the
/// state before it. Either means the journal is damaged or the engine has a bug;
/// recovery stops rather than serve wrong state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {seq}: {reason}")]
pub struct ReplayError {
    /// Sequence of the record that could not be applied.
    pub seq: Seq,
    /// What was wrong with it, for the operator.
    pub reason: String,
}

/// The whole game state as plain data: what snapshots hold and what replay
/// builds. The live engine can be dumped into one (see `Engine::dump`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct World {
    /// Last journal sequence this state includes.
    pub last_seq: Seq,
    /// Every defined hunt, by id.
    pub hunts: BTreeMap<String, HuntState>,
    /// Every player with at least one event or decided claim.
    pub players: PlayerMap,
}

/// Players by id. foldhash: several times faster than SipHash on short ids,
/// and still seeded per process, so ids chosen by clients cannot be aimed at
/// one bucket. hashbrown's map for `entry_ref`: one probe per event in replay, and the
/// key is allocated only for a new player.
pub type PlayerMap = hashbrown::HashMap<PlayerId, PlayerState, foldhash::fast::RandomState>;

/// A player id. Ids up to 23 bytes are stored inline, so comparing the key
/// of a hash probe does not chase a pointer: one cache miss fewer per event
/// in replay (it was a fifth of replay time), and no allocation per player.
pub type PlayerId = smol_str::SmolStr;

impl World {
    /// Applies one journal record. Records must come in sequence order with no gap.
    pub fn apply(&mut self, seq: Seq, record: &Record) -> Result<(), ReplayError> {
        self.apply_view(seq, &record.view())
    }

    /// [`World::apply`] on a borrowed record, as decoded from the journal.
    pub fn apply_view(&mut self, seq: Seq, record: &RecordView<'_>) -> Result<(), ReplayError> {
        let err = |reason: String| ReplayError { seq, reason };
        if seq != self.last_seq + 1 {
            return Err(err(format!("expected sequence {}", self.last_seq + 1)));
        }
        match record {
            RecordView::HuntDefined(def) => {
                if let Some(existing) = self.hunts.get(&def.id) {
                    if *existing.def != **def {
                        return Err(err(format!("hunt {:?} redefined differently", def.id)));
                    }
                } else {
                    def.validate().map_err(|e| err(e.to_string()))?;
                    let def: HuntDef = def.clone().into_owned();
                    self.hunts.insert(def.id.clone(), HuntState::new(Arc::new(def), seq));
                }
            }
            RecordView::StockAdded { hunt, sku, added } => {
                let h = self
                    .hunts
                    .get_mut(*hunt)
                    .ok_or_else(|| err(format!("stock for unknown hunt {hunt:?}")))?;
                let p = h
                    .def
                    .product_index(sku)
                    .ok_or_else(|| err(format!("stock for unknown sku {sku:?}")))?;
                h.add_stock(p, *added).map_err(&err)?;
            }
            RecordView::Event(ev) => {
                let effect = {
                    let h = self
                        .hunts
                        .get(ev.hunt)
                        .ok_or_else(|| err(format!("event for unknown hunt {:?}", ev.hunt)))?;
                    effect_of(&h.def, &h.id, ev.kind).map_err(&err)?
                };
                self.player_mut(ev.player).apply_event(&effect);
            }
            RecordView::Claim { request, outcome } => {
                let hunt_arc = self.intern_hunt(request.hunt);
                let player = self.players.get(request.player);
                if player.and_then(|p| p.find_claim(request.claim_id)).is_some() {
                    return Err(err(format!(
                        "claim {:?} of {:?} decided twice",
                        request.claim_id, request.player
                    )));
                }
                let mut sku: Option<Arc<str>> = None;
                if let Some(h) = self.hunts.get_mut(request.hunt) {
                    if let Some(p) = h.def.product_index(request.sku) {
                        if outcome.is_granted() {
                            let def = &h.def.products[p];
                            let (score, granted) = player.map_or((0, 0), |pl| {
                                (pl.score(request.hunt), pl.granted_count(&hunt_arc, request.sku))
                            });
                            if score < def.min_score {
                                return Err(err(format!("grant to {:?} below min_score", request.player)));
                            }
                            if granted >= def.per_player_limit {
                                return Err(err(format!("grant to {:?} beyond per-player limit", request.player)));
                            }
                        }
                        h.apply_outcome(p, *outcome).map_err(&err)?;
                        sku = Some(Arc::from(h.def.products[p].sku.as_str()));
                    } else if outcome.is_granted() {
                        return Err(err(format!("grant of unknown sku {:?}", request.sku)));
                    }
                } else if outcome.is_granted() {
                    return Err(err(format!("grant in unknown hunt {:?}", request.hunt)));
                }
                self.player_mut(request.player).record_claim(ClaimEntry {
                    claim_id: request.claim_id.into(),
                    hunt: hunt_arc,
                    sku: sku.unwrap_or_else(|| Arc::from(request.sku)),
                    outcome: *outcome,
                    seq,
                    id_hash: Default::default(),
                });
            }
        }
        self.last_seq = seq;
        Ok(())
    }

    /// Records `first..=last` were telemetry that retention removed from the
    /// journal: advances the sequence over them. Their effect comes back with
    /// [`World::apply_removed_telemetry`].
    pub fn skip_removed(&mut self, first: Seq, last: Seq) -> Result<(), ReplayError> {
        if first != self.last_seq + 1 || last < first {
            return Err(ReplayError {
                seq: first,
                reason: format!(
                    "removed records {first}..={last} do not follow sequence {}",
                    self.last_seq
                ),
            });
        }
        self.last_seq = last;
        Ok(())
    }

    /// Applies what a compacted block's removed telemetry did: each counted
    /// event adds one to its player's event count in its hunt, exactly as
    /// applying the records themselves did (telemetry changes no score and no
    /// clue). `seq` is for errors.
    pub fn apply_removed_telemetry(&mut self, seq: Seq, counts: &[TelemetryCount]) -> Result<(), ReplayError> {
        for c in counts {
            let (hunt, clue_count) = match self.hunts.get(c.hunt.as_str()) {
                Some(h) => (h.id.clone(), h.def.clues.len()),
                None => {
                    return Err(ReplayError {
                        seq,
                        reason: format!("removed telemetry for unknown hunt {:?}", c.hunt),
                    })
                }
            };
            let n = c.checkins + c.interactions;
            if n == 0 {
                continue;
            }
            self.player_mut(&c.player).hunt_mut(&hunt, clue_count).events += n;
        }
        Ok(())
    }

    /// Players share their hunt's id allocation instead of one copy each.
    fn intern_hunt(&self, hunt: &str) -> Arc<str> {
        self.hunts.get(hunt).map_or_else(|| Arc::from(hunt), |h| h.id.clone())
    }

    /// Makes players share their hunt's id and sku allocations again after
    /// decoding a snapshot (serde gives every `Arc` its own copy).
    pub fn intern(&mut self) {
        let hunts = &self.hunts;
        for p in self.players.values_mut() {
            for ph in &mut p.hunts {
                if let Some(h) = hunts.get(&*ph.hunt) {
                    ph.hunt = h.id.clone();
                }
            }
            for c in &mut p.claims {
                if let Some(h) = hunts.get(&*c.hunt) {
                    c.hunt = h.id.clone();
                }
                c.id_hash = IdHash::of(&c.claim_id);
            }
        }
    }

    fn player_mut(&mut self, player: &str) -> &mut PlayerState {
        self.players.entry_ref(player).or_default()
    }

    /// Counts that must agree between any two views of the same journal.
    pub fn summary(&self) -> Summary {
        let mut hunts = BTreeMap::new();
        for (id, h) in &self.hunts {
            let products = h
                .def
                .products
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    (
                        p.sku.clone(),
                        ProductSummary {
                            initial: p.stock,
                            added: h.added[i],
                            granted: h.granted[i],
                            remaining: h.stock[i],
                        },
                    )
                })
                .collect();
            hunts.insert(id.clone(), HuntSummary { players: 0, products });
        }
        let (mut events, mut claims, mut granted_by_players) = (0u64, 0u64, 0u64);
        for p in self.players.values() {
            for ph in &p.hunts {
                events += ph.events;
                if let Some(h) = hunts.get_mut(&*ph.hunt) {
                    h.players += 1;
                }
            }
            claims += p.claims.len() as u64;
            granted_by_players += p.claims.iter().filter(|c| c.outcome.is_granted()).count() as u64;
        }
        Summary {
            last_seq: self.last_seq,
            players: self.players.len() as u64,
            events,
            claims,
            granted_by_players,
            hunts,
        }
    }

    /// Internal invariants: every ledger balances, and the grants players
    /// remember equal the grants hunts counted.
    pub fn check_invariants(&self) -> Result<(), String> {
        for h in self.hunts.values() {
            if !h.ledger_balances() {
                return Err(format!("stock ledger of hunt {:?} does not balance", h.def.id));
            }
        }
        let s = self.summary();
        let granted_by_hunts: u64 = s
            .hunts
            .values()
            .flat_map(|h| h.products.values())
            .map(|p| p.granted)
            .sum();
        if granted_by_hunts != s.granted_by_players {
            return Err(format!(
                "hunts granted {granted_by_hunts} units but players hold {}",
                s.granted_by_players
            ));
        }
        for (id, p) in &self.players {
            for c in &p.claims {
                if let Some(h) = self.hunts.get(&*c.hunt) {
                    if let Some(i) = h.def.product_index(&c.sku) {
                        if p.granted_count(&c.hunt, &c.sku) > h.def.products[i].per_player_limit {
                            return Err(format!("player {id:?} over the limit of {}", c.sku));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A digest of the whole state, independent of map order and allocation.
    pub fn digest(&self) -> Digest {
        let mut h = blake3::Hasher::new();
        let mut put = |bytes: &[u8]| {
            h.update(&(bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        put(&self.last_seq.to_le_bytes());
        for (id, hs) in &self.hunts {
            put(id.as_bytes());
            put(&hs.defined_at.to_le_bytes());
            for v in hs.stock.iter().chain(&hs.granted).chain(&hs.added) {
                put(&v.to_le_bytes());
            }
        }
        let mut ids: Vec<&PlayerId> = self.players.keys().collect();
        ids.sort_unstable();
        for id in ids {
            let p = &self.players[id];
            put(id.as_bytes());
            let mut hunts: Vec<&PlayerHunt> = p.hunts.iter().collect();
            hunts.sort_by(|a, b| a.hunt.cmp(&b.hunt));
            for ph in hunts {
                put(ph.hunt.as_bytes());
                put(&ph.score.to_le_bytes());
                put(&ph.events.to_le_bytes());
                for w in ph.clues.iter() {
                    put(&w.to_le_bytes());
                }
            }
            let mut claims: Vec<&ClaimEntry> = p.claims.iter().collect();
            claims.sort_by(|a, b| a.claim_id.cmp(&b.claim_id));
            for c in claims {
                put(c.claim_id.as_bytes());
                put(c.hunt.as_bytes());
                put(c.sku.as_bytes());
                put(c.outcome.status().as_bytes());
                put(c.outcome.reason().map_or("", |r| r.code()).as_bytes());
                put(&c.seq.to_le_bytes());
            }
        }
        Digest(*h.finalize().as_bytes())
    }

    /// A precise list of what differs between two states (empty if equal).
    /// Counts come first; then up to `max_players` differing players.
    pub fn diff(&self, other: &World, max_players: usize) -> Vec<String> {
        let mut out = Vec::new();
        let (a, b) = (self.summary(), other.summary());
        if a.last_seq != b.last_seq {
            out.push(format!("last_seq: {} vs {}", a.last_seq, b.last_seq));
        }
        if a.players != b.players {
            out.push(format!("players: {} vs {}", a.players, b.players));
        }
        if a.events != b.events {
            out.push(format!("events: {} vs {}", a.events, b.events));
        }
        if a.claims != b.claims {
            out.push(format!("claims decided: {} vs {}", a.claims, b.claims));
        }
        for id in a
            .hunts
            .keys()
            .chain(b.hunts.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            match (a.hunts.get(id), b.hunts.get(id)) {
                (Some(x), Some(y)) => {
                    if x.players != y.players {
                        out.push(format!("hunt {id}: players {} vs {}", x.players, y.players));
                    }
                    for (sku, px) in &x.products {
                        if let Some(py) = y.products.get(sku) {
                            if px != py {
                                out.push(format!(
                                    "hunt {id} product {sku}: granted {} vs {}, remaining {} vs {}, added {} vs {}",
                                    px.granted, py.granted, px.remaining, py.remaining, px.added, py.added
                                ));
                            }
                        }
                    }
                }
                (x, y) => out.push(format!("hunt {id}: present {} vs {}", x.is_some(), y.is_some())),
            }
        }
        let mut shown = 0;
        let mut ids: Vec<&PlayerId> = self.players.keys().chain(other.players.keys()).collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            if shown >= max_players {
                out.push("... more players differ".into());
                break;
            }
            match (self.players.get(id), other.players.get(id)) {
                (Some(x), Some(y)) if x == y => {}
                (Some(x), Some(y)) => {
                    shown += 1;
                    out.push(format!("player {id}: {x:?} vs {y:?}"));
                }
                (x, y) => {
                    shown += 1;
                    out.push(format!("player {id}: present {} vs {}", x.is_some(), y.is_some()));
                }
            }
        }
        out
    }
}

/// Validates one event against its hunt and says what it does to the player.
pub(crate) fn effect_of(def: &HuntDef, hunt: &Arc<str>, kind: EventKindView<'_>) -> Result<EventEffect, String> {
    let clue = match kind {
        EventKindView::ClueFound { clue } => {
            let i = def
                .clue_index(clue)
                .ok_or_else(|| format!("unknown clue {clue:?} in hunt {:?}", def.id))?;
            Some((i, def.clues[i].points))
        }
        EventKindView::Checkin { location } => {
            check_text("location", location)?;
            None
        }
        EventKindView::Interaction { kind } => {
            check_text("kind", kind)?;
            None
        }
    };
    Ok(EventEffect {
        hunt: hunt.clone(),
        clue_count: def.clues.len(),
        clue,
    })
}

/// A 32-byte BLAKE3 digest of a [`World`] ([`World::digest`]). Displayed as
/// its first 16 bytes in hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Digest(
    /// The raw hash bytes.
    pub [u8; 32],
);

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in &self.0[..16] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Counts over a [`World`] ([`World::summary`]): what must agree between any
/// two views of the same journal (live dump, replay, snapshot, projection).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// [`World::last_seq`].
    pub last_seq: Seq,
    /// Players known.
    pub players: u64,
    /// Events over all players and hunts ([`PlayerHunt::events`] summed).
    pub events: u64,
    /// Claims decided, granted or rejected.
    pub claims: u64,
    /// Grants as the players' claim lists count them; must equal the sum of
    /// the products' `granted`.
    pub granted_by_players: u64,
    /// Per hunt, by id.
    pub hunts: BTreeMap<String, HuntSummary>,
}

/// One hunt's part of a [`Summary`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HuntSummary {
    /// Players with at least one event in the hunt (claims alone do not count).
    pub players: u64,
    /// The stock ledger per product, by sku.
    pub products: BTreeMap<String, ProductSummary>,
}

/// One product's stock ledger in a [`HuntSummary`]:
/// `initial + added = remaining + granted`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductSummary {
    /// Stock in the hunt definition.
    pub initial: u64,
    /// Units added since by [`Record::StockAdded`].
    pub added: u64,
    /// Units granted.
    pub granted: u64,
    /// Units left.
    pub remaining: u64,
}
