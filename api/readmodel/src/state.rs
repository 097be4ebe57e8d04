//! The journal-derived state and how one journal entry changes it.
//!
//! Hunt definitions give clue points, `clue_found` events score once per
//! player and clue, claims and stock records keep per-product counts, and
//! removed telemetry is counted where retention left only its totals. The
//! state is a plain value: [`crate::projection::Projection`] feeds it from the
//! journal, [`crate::checkpoint`] stores it, [`crate::consistency`] compares it
//! with the engine.

use crate::error::ApplyError;
use crate::leaderboard::{Board, Ranking};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use trove_engine::{EventKind, HuntDef, Record, Seq};
use trove_persistence::Item;

/// One player in one hunt.
#[derive(Serialize, Deserialize)]
pub(crate) struct PlayerProj {
    pub(crate) score: u64,
    /// The sequence at which the player reached `score` (first seen, while 0).
    pub(crate) reached: Seq,
    /// One bit per clue of the hunt: found.
    clues: Vec<u64>,
}

/// One hunt. The field order is the checkpoint's payload format.
#[derive(Serialize, Deserialize)]
pub(crate) struct HuntProj {
    pub(crate) def: Arc<HuntDef>,
    clue_index: HashMap<String, usize>,
    sku_index: HashMap<String, usize>,
    pub(crate) players: HashMap<Arc<str>, PlayerProj>,
    /// Derived from `players`; rebuilt after loading a checkpoint.
    #[serde(skip)]
    ranking: Ranking,
    pub(crate) added: Vec<u64>,
    pub(crate) granted: Vec<u64>,
    events: u64,
    /// The ranking changed since the last board was published.
    #[serde(skip)]
    dirty: bool,
    /// The version of the last board published.
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
            ranking: Ranking::default(),
            events: 0,
            dirty: true,
            version: 0,
        }
    }

    /// The player's entry, created (unranked score 0, first seen at `seq`) if new.
    fn join(&mut self, player: &Arc<str>, seq: Seq) {
        let words = self.def.clues.len().div_ceil(64);
        self.players.entry(player.clone()).or_insert_with(|| {
            self.ranking.insert(player.clone(), 0, seq);
            self.dirty = true;
            PlayerProj {
                score: 0,
                reached: seq,
                clues: vec![0; words],
            }
        });
    }

    /// Scores `clue` for `player` (who has joined) at `seq`, once.
    fn found(&mut self, player: Arc<str>, clue: &str, seq: Seq) {
        let Some(&i) = self.clue_index.get(clue) else {
            return;
        };
        let p = self.players.get_mut(&player).expect("joined before scoring");
        let (w, b) = (i / 64, i % 64);
        if p.clues[w] & (1 << b) != 0 {
            return;
        }
        p.clues[w] |= 1 << b;
        let points = u64::from(self.def.clues[i].points);
        self.ranking.remove(&player, p.score, p.reached);
        p.score += points;
        if points > 0 {
            p.reached = seq;
        }
        self.ranking.insert(player, p.score, p.reached);
        self.dirty = true;
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
#[derive(Default, Serialize, Deserialize)]
pub struct ProjectionState {
    pub(crate) applied: Seq,
    pub(crate) hunts: BTreeMap<String, HuntProj>,
    pub(crate) players: HashSet<Arc<str>>,
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
    pub fn ranking(&self, hunt: &str) -> Option<Board> {
        self.hunts.get(hunt).map(|h| h.ranking.board(0))
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
                    let player = self.intern_player(&c.player);
                    let Some(h) = self.hunts.get_mut(&c.hunt) else {
                        return Err(ApplyError::UnknownHuntTelemetry {
                            seq,
                            hunt: c.hunt.clone(),
                        });
                    };
                    h.events += n;
                    h.join(&player, c.first_seq);
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
                    return Err(ApplyError::UnknownHuntEvent {
                        seq,
                        hunt: ev.hunt.clone(),
                    });
                };
                h.events += 1;
                h.join(&player, seq);
                if let EventKind::ClueFound { clue } = &ev.kind {
                    h.found(player, clue, seq);
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

    /// Rebuilds the rankings, which a checkpoint does not store, and marks
    /// every hunt for publishing.
    pub(crate) fn rerank(&mut self) {
        for h in self.hunts.values_mut() {
            h.ranking = h
                .players
                .iter()
                .map(|(p, pp)| (p.clone(), pp.score, pp.reached))
                .collect();
            h.dirty = true;
        }
    }

    /// New boards for the hunts whose ranking changed since the last call,
    /// each with the next version of its hunt: what
    /// [`Projection`](crate::projection::Projection) publishes after applying
    /// what the journal had (public for benchmarks and tests).
    pub fn take_changed_boards(&mut self) -> Vec<(String, Arc<Board>)> {
        let mut changed = Vec::new();
        for (id, h) in self.hunts.iter_mut().filter(|(_, h)| h.dirty) {
            h.dirty = false;
            h.version += 1;
            changed.push((id.clone(), Arc::new(h.ranking.board(h.version))));
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
