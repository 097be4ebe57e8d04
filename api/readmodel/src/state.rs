//! The journal-derived state and how one journal entry changes it.
//!
//! Hunt definitions give clue points, `clue_found` events score once per
//! player and clue, claims and stock records keep per-product counts, and
//! removed telemetry is counted where retention left only its totals. The
//! state is a plain value: [`crate::projection::Projection`] feeds it from the
//! journal, [`crate::checkpoint`] stores it, [`crate::consistency`] compares it
//! with the engine.
//!
//! Applying an event costs a constant: one foldhash probe with the record's
//! borrowed id finds the player's number and its slot in its first hunt
//! (module `players`; an `Arc<str>` is made only the first time a player
//! appears), one finds the hunt and one the clue; then array reads and
//! writes by slot: the clue bit, the score, the reached sequence, a changed
//! mark. No allocation except amortized growth when a player joins a hunt,
//! no tree, no string comparison. Ranking waits for
//! [`ProjectionState::take_changed_boards`] (`leaderboard::Ranking`).

use crate::error::ApplyError;
use crate::leaderboard::{Board, Ranking, Standing};
use crate::players::{Player, Players, MAX_IDS};
use foldhash::fast::RandomState;
use hashbrown::HashMap;
use std::sync::Arc;
use trove_engine::{EventKind, HuntDef, Outcome, Record, RejectReason, Seq};
use trove_persistence::Item;

/// Reasons a claim of a known product is rejected for, counted per
/// product: `out_of_stock`, `not_eligible`, `limit_reached`, `hunt_closed`.
pub const REJECT_REASONS: usize = 4;

/// The counter of `reason` among [`REJECT_REASONS`] (`None`: a reason that
/// names no product of the hunt).
pub fn reject_index(reason: RejectReason) -> Option<usize> {
    match reason {
        RejectReason::OutOfStock => Some(0),
        RejectReason::NotEligible => Some(1),
        RejectReason::LimitReached => Some(2),
        RejectReason::HuntClosed => Some(3),
        RejectReason::UnknownHunt | RejectReason::UnknownProduct => None,
    }
}

/// A map keyed by ids that the journal's records name.
type IdMap = HashMap<String, u32, RandomState>;

/// One hunt: its definition, per-product counts, and its players' clues and
/// standings by slot.
pub(crate) struct HuntProj {
    pub(crate) def: Arc<HuntDef>,
    /// Clue id to (index, points).
    clue_index: HashMap<String, (u32, u32), RandomState>,
    sku_index: IdMap,
    /// Words of found-clue bits per player.
    words: usize,
    /// Found clues: `words` words per slot, one bit per clue.
    clues: Vec<u64>,
    pub(crate) ranking: Ranking,
    pub(crate) added: Vec<u64>,
    pub(crate) granted: Vec<u64>,
    /// Rejected claims per product, by [`REJECT_REASONS`].
    pub(crate) rejected: Vec<[u64; REJECT_REASONS]>,
    /// Claims rejected as `unknown_product`.
    pub(crate) unknown_product: u64,
    pub(crate) events: u64,
    /// The ranking changed since the last board was published.
    dirty: bool,
    /// The version of the last board published.
    version: u64,
}

impl HuntProj {
    pub(crate) fn new(def: HuntDef) -> Self {
        HuntProj {
            clue_index: def
                .clues
                .iter()
                .enumerate()
                .map(|(i, c)| (c.id.clone(), (i as u32, c.points)))
                .collect(),
            sku_index: def
                .products
                .iter()
                .enumerate()
                .map(|(i, p)| (p.sku.clone(), i as u32))
                .collect(),
            words: def.clues.len().div_ceil(64),
            clues: Vec::new(),
            ranking: Ranking::default(),
            added: vec![0; def.products.len()],
            granted: vec![0; def.products.len()],
            rejected: vec![[0; REJECT_REASONS]; def.products.len()],
            unknown_product: 0,
            def: Arc::new(def),
            events: 0,
            dirty: true,
            version: 0,
        }
    }

    /// Players with at least one event in the hunt.
    pub(crate) fn player_count(&self) -> usize {
        self.ranking.len()
    }

    /// The found-clue words of `slot`.
    pub(crate) fn clue_words(&self, slot: u32) -> &[u64] {
        let at = slot as usize * self.words;
        &self.clues[at..at + self.words]
    }

    /// Words of found-clue bits per player.
    pub(crate) fn words(&self) -> usize {
        self.words
    }

    /// Puts player `player` on the hunt with `score`, reached at `reached`,
    /// and no clue found; returns its slot.
    pub(crate) fn add(&mut self, player: u32, score: u64, reached: Seq) -> u32 {
        self.dirty = true;
        self.clues.resize(self.clues.len() + self.words, 0);
        self.ranking.join(player, score, reached)
    }

    /// The found-clue words of `slot`, to restore them.
    pub(crate) fn clue_words_mut(&mut self, slot: u32) -> &mut [u64] {
        let at = slot as usize * self.words;
        &mut self.clues[at..at + self.words]
    }

    /// Scores `clue` for the player at `slot` at `seq`, once.
    #[inline]
    fn found(&mut self, slot: u32, clue: &str, seq: Seq) {
        let Some(&(i, points)) = self.clue_index.get(clue) else {
            return;
        };
        let w = slot as usize * self.words + i as usize / 64;
        let bit = 1 << (i % 64);
        if self.clues[w] & bit != 0 {
            return;
        }
        self.clues[w] |= bit;
        self.ranking.gain(slot, u64::from(points), seq);
        self.dirty = true;
    }

    /// Counts a decided claim of product `sku` in this hunt.
    fn count_claim(&mut self, sku: &str, outcome: Outcome) {
        let Some(i) = self.sku(sku) else {
            self.unknown_product += 1;
            return;
        };
        match outcome {
            Outcome::Granted => self.granted[i] += 1,
            Outcome::Rejected(reason) => {
                if let Some(r) = reject_index(reason) {
                    self.rejected[i][r] += 1;
                }
            }
        }
    }

    /// The index of product `sku`.
    fn sku(&self, sku: &str) -> Option<usize> {
        self.sku_index.get(sku).map(|&i| i as usize)
    }
}

/// The leaderboard projection's state: everything derived from the journal
/// up to [`applied`](ProjectionState::applied).
///
/// ```
/// use trove_engine::{ClueDef, EventKind, GameEvent, HuntDef, Record};
/// use trove_readmodel::state::ProjectionState;
///
/// let mut st = ProjectionState::default();
/// let hunt = HuntDef {
///     id: "h".into(),
///     name: "h".into(),
///     opens_at: None,
///     closes_at: None,
///     clues: vec![ClueDef { id: "c".into(), points: 10 }],
///     products: vec![],
/// };
/// st.apply(1, &Record::HuntDefined(hunt)).unwrap();
/// let found = GameEvent { player: "ann".into(), hunt: "h".into(), kind: EventKind::ClueFound { clue: "c".into() } };
/// st.apply(2, &Record::Event(found)).unwrap();
/// assert_eq!(st.applied(), 2);
/// assert_eq!(st.ranking("h").unwrap().entries[0].1, 10);
/// ```
#[derive(Default)]
pub struct ProjectionState {
    pub(crate) applied: Seq,
    /// In order of definition.
    hunts: Vec<HuntProj>,
    /// Hunt id to its index in `hunts`.
    hunt_index: IdMap,
    pub(crate) players: Players,
    pub(crate) events: u64,
    pub(crate) claims: u64,
    pub(crate) granted: u64,
}

impl ProjectionState {
    /// The journal sequence this state includes.
    pub fn applied(&self) -> Seq {
        self.applied
    }

    /// The current ranking of `hunt` as an unpublished board (version 0).
    /// O(n + k log k) for n players of which k changed since the last
    /// publication.
    pub fn ranking(&self, hunt: &str) -> Option<Board> {
        let h = &self.hunts[self.hunt_at(hunt)?];
        Some(h.ranking.snapshot(0, self.players.names()))
    }

    /// The index of hunt `id`.
    #[inline]
    fn hunt_at(&self, id: &str) -> Option<usize> {
        self.hunt_index.get(id).map(|&i| i as usize)
    }

    /// Hunt `id`.
    pub(crate) fn hunt(&self, id: &str) -> Option<&HuntProj> {
        self.hunt_at(id).map(|i| &self.hunts[i])
    }

    /// Every hunt with its id, in id order.
    pub(crate) fn hunts_by_id(&self) -> Vec<(&str, &HuntProj)> {
        let mut v: Vec<(&str, &HuntProj)> = self
            .hunt_index
            .iter()
            .map(|(id, &i)| (id.as_str(), &self.hunts[i as usize]))
            .collect();
        v.sort_unstable_by_key(|(id, _)| *id);
        v
    }

    /// Adds hunt `def` under `id` unless a hunt has that id; returns its
    /// index, `None` if there are too many hunts.
    pub(crate) fn define(&mut self, id: &str, def: &HuntDef) -> Option<usize> {
        if let Some(i) = self.hunt_at(id) {
            return Some(i);
        }
        if self.hunts.len() >= MAX_IDS {
            return None;
        }
        self.hunt_index.insert(id.to_owned(), self.hunts.len() as u32);
        self.hunts.push(HuntProj::new(def.clone()));
        Some(self.hunts.len() - 1)
    }

    /// Hunt `h`, to restore a checkpoint's players into it.
    pub(crate) fn hunt_mut(&mut self, h: usize) -> (&mut HuntProj, &mut Players) {
        (&mut self.hunts[h], &mut self.players)
    }

    /// Applies the journal entry at `seq`, which must be the next one.
    pub fn apply_item(&mut self, seq: Seq, item: &Item) -> Result<(), ApplyError> {
        match item {
            Item::Record(r) => self.apply(seq, r),
            Item::Removed { first } => {
                if *first != self.applied + 1 {
                    return Err(ApplyError::Gap {
                        expected: self.applied + 1,
                        got: *first,
                    });
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
                    let player = self.intern(seq, &c.player)?;
                    let Some(h) = self.hunt_at(&c.hunt) else {
                        return Err(ApplyError::UnknownHuntTelemetry {
                            seq,
                            hunt: c.hunt.clone(),
                        });
                    };
                    self.hunts[h].events += n;
                    self.join(h, player, c.first_seq);
                }
                Ok(())
            }
        }
    }

    /// Applies the record at `seq`, which must be the next one.
    pub fn apply(&mut self, seq: Seq, record: &Record) -> Result<(), ApplyError> {
        if seq != self.applied + 1 {
            return Err(ApplyError::Gap {
                expected: self.applied + 1,
                got: seq,
            });
        }
        self.applied = seq;
        match record {
            Record::HuntDefined(def) => {
                if self.define(&def.id, def).is_none() {
                    return Err(ApplyError::TooMany { seq, what: "hunts" });
                }
            }
            Record::StockAdded { hunt, sku, added } => {
                if let Some(h) = self.hunt_at(hunt) {
                    let h = &mut self.hunts[h];
                    if let Some(i) = h.sku(sku) {
                        h.added[i] += added;
                    }
                }
            }
            Record::Event(ev) => {
                self.events += 1;
                let player = self.intern(seq, &ev.player)?;
                let Some(h) = self.hunt_at(&ev.hunt) else {
                    return Err(ApplyError::UnknownHuntEvent {
                        seq,
                        hunt: ev.hunt.clone(),
                    });
                };
                self.hunts[h].events += 1;
                let slot = self.join(h, player, seq);
                if let EventKind::ClueFound { clue } = &ev.kind {
                    self.hunts[h].found(slot, clue, seq);
                }
            }
            Record::Claim { request, outcome } => {
                self.claims += 1;
                self.intern(seq, &request.player)?;
                if outcome.is_granted() {
                    self.granted += 1;
                }
                if let Some(h) = self.hunt_at(&request.hunt) {
                    self.hunts[h].count_claim(&request.sku, *outcome);
                }
            }
        }
        Ok(())
    }

    /// The number of player `id` (the record at `seq` names it).
    #[inline]
    fn intern(&mut self, seq: Seq, id: &str) -> Result<Player, ApplyError> {
        self.players
            .intern(id)
            .ok_or(ApplyError::TooMany { seq, what: "players" })
    }

    /// The slot of `player` in hunt `h`, which it joins (unranked score 0,
    /// first seen at `seq`) if it is new there.
    #[inline]
    fn join(&mut self, h: usize, player: Player, seq: Seq) -> u32 {
        if let Some(slot) = self.players.seat(player, h as u32) {
            return slot;
        }
        let slot = self.hunts[h].add(player.n, 0, seq);
        self.players.sit(player, h as u32, slot);
        slot
    }

    /// Every player's standing in hunt `h`'s ranking, with its id.
    pub(crate) fn standings<'a>(&'a self, h: &'a HuntProj) -> impl Iterator<Item = (&'a str, &'a Standing)> + 'a {
        let names = self.players.names();
        h.ranking
            .standings()
            .iter()
            .map(move |s| (&*names[s.player as usize], s))
    }

    /// New boards for the hunts whose ranking changed since the last call,
    /// each with the next version of its hunt: what
    /// [`Projection`](crate::projection::Projection) publishes after applying
    /// what the journal had (public for benchmarks and tests). Each costs
    /// O(n + k log k) for n players of which k changed.
    pub fn take_changed_boards(&mut self) -> Vec<(String, Arc<Board>)> {
        let names = self.players.names();
        let mut changed = Vec::new();
        for (id, &i) in &self.hunt_index {
            let h = &mut self.hunts[i as usize];
            if h.dirty {
                h.dirty = false;
                h.version += 1;
                changed.push((id.clone(), Arc::new(h.ranking.board(h.version, names))));
            }
        }
        changed
    }
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
        let mut st = ProjectionState::default();
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
        let board = st.ranking("h").unwrap();
        let order: Vec<(&str, u64)> = board.entries.iter().map(|(p, s)| (&**p, *s)).collect();
        assert_eq!(order, vec![("p1", 10), ("p2", 10), ("p3", 5)]);
        let around: Vec<usize> = board.query(2, Some("p3")).iter().map(|e| e.0).collect();
        assert_eq!(around, vec![2, 3]);
        assert!(board.query(2, Some("nobody")).is_empty());
        assert!(st.apply(9, &ev("p1", "b")).is_err());
    }
}
