//! The boards: how players are ranked, the live `Ranking` of a hunt, and
//! the immutable [`Board`] that queries read.
//!
//! Ranking: higher score first; ties go to the player who reached that score
//! first (lower journal sequence); then by player id. Ranks are 1, 2, 3, ...
//! with no shared ranks, so every query answers the same order.
//!
//! A `Ranking` does no ranking work while records are applied: a score
//! change writes the player's `Standing` in place and marks its slot
//! changed (O(1), no allocation). `Ranking::settle` runs when a board is
//! published: it sorts the k changed standings, drops them from the order
//! of the last publication and merges them back in, in place:
//! O(n + k log k) for n players, then O(n) to build the board, which the
//! board's own size already costs. Player ids are compared only to break a
//! tie of score and sequence.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use trove_engine::Seq;

/// One player's standing in one hunt: its ranking key, and where it is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Standing {
    /// The score.
    pub(crate) score: u64,
    /// The sequence at which the player reached `score` (first seen, while 0).
    pub(crate) reached: Seq,
    /// The player's number ([`crate::players::Players`]).
    pub(crate) player: u32,
    /// The player's slot in the hunt's [`Ranking`].
    slot: u32,
}

/// Board order of two standings; `names` gives the player ids, compared only
/// when score and sequence tie.
#[inline]
fn rank_cmp(a: &Standing, b: &Standing, names: &[Arc<str>]) -> Ordering {
    b.score
        .cmp(&a.score)
        .then(a.reached.cmp(&b.reached))
        .then_with(|| names[a.player as usize].cmp(&names[b.player as usize]))
}

/// The live ranking of one hunt: each player's standing by slot (slots are
/// given in order of joining), the board order as of the last
/// [`settle`](Ranking::settle), and the slots changed since.
#[derive(Debug, Default)]
pub(crate) struct Ranking {
    /// By slot.
    standings: Vec<Standing>,
    /// Settled standings in board order; a changed slot's entry here is stale.
    order: Vec<Standing>,
    /// Slots changed (or new) since the last settle, each once.
    changed: Vec<u32>,
    /// One bit per slot: in `changed`.
    changed_bits: Vec<u64>,
}

impl Ranking {
    /// Players on the ranking.
    pub(crate) fn len(&self) -> usize {
        self.standings.len()
    }

    /// Every standing, by slot (not in board order).
    pub(crate) fn standings(&self) -> &[Standing] {
        &self.standings
    }

    /// Puts player `player` on the ranking with `score`, reached at
    /// `reached`, and returns its slot. The caller knows it was not on it.
    pub(crate) fn join(&mut self, player: u32, score: u64, reached: Seq) -> u32 {
        let slot = self.standings.len() as u32;
        self.standings.push(Standing {
            score,
            reached,
            player,
            slot,
        });
        if self.changed_bits.len() * 64 < self.standings.len() {
            self.changed_bits.push(0);
        }
        self.touch(slot);
        slot
    }

    /// Adds `points` to the score of `slot` at `seq` (which becomes its
    /// reached sequence if it gains anything). O(1).
    #[inline]
    pub(crate) fn gain(&mut self, slot: u32, points: u64, seq: Seq) {
        if points == 0 {
            return;
        }
        let s = &mut self.standings[slot as usize];
        s.score += points;
        s.reached = seq;
        self.touch(slot);
    }

    /// Marks `slot` changed, once.
    #[inline]
    fn touch(&mut self, slot: u32) {
        let (w, b) = (slot as usize / 64, slot % 64);
        if self.changed_bits[w] & (1 << b) == 0 {
            self.changed_bits[w] |= 1 << b;
            self.changed.push(slot);
        }
    }

    /// Brings the board order up to date: O(n + k log k) for k changed slots.
    pub(crate) fn settle(&mut self, names: &[Arc<str>]) {
        if self.changed.is_empty() {
            return;
        }
        let fresh = self.changed.iter().map(|&s| self.standings[s as usize]).collect();
        let bits = &self.changed_bits;
        merge(
            &mut self.order,
            fresh,
            self.standings.len(),
            |slot| is_set(bits, slot),
            names,
        );
        for slot in self.changed.drain(..) {
            self.changed_bits[slot as usize / 64] &= !(1 << (slot % 64));
        }
    }

    /// The ranking as a board at `version`: settled first. O(n + k log k).
    pub(crate) fn board(&mut self, version: u64, names: &[Arc<str>]) -> Board {
        self.settle(names);
        board_of(version, &self.order, names)
    }

    /// The current ranking as a board at `version`, without settling this
    /// ranking (a settled copy of the order if anything changed).
    pub(crate) fn snapshot(&self, version: u64, names: &[Arc<str>]) -> Board {
        if self.changed.is_empty() {
            return board_of(version, &self.order, names);
        }
        let mut order = self.order.clone();
        let fresh = self.changed.iter().map(|&s| self.standings[s as usize]).collect();
        merge(
            &mut order,
            fresh,
            self.standings.len(),
            |slot| is_set(&self.changed_bits, slot),
            names,
        );
        board_of(version, &order, names)
    }
}

/// Whether bit `slot` is set.
#[inline]
fn is_set(bits: &[u64], slot: u32) -> bool {
    bits[slot as usize / 64] & (1 << (slot % 64)) != 0
}

/// Merges the `fresh` standings of the changed slots (`changed(slot)`) into
/// `order`, the settled order without them, so that `order` holds all `n`
/// standings in board order. In place: stale entries are dropped while the
/// rest moves to the back, then the sorted `fresh` ones are merged in from
/// the front.
fn merge(
    order: &mut Vec<Standing>,
    mut fresh: Vec<Standing>,
    n: usize,
    changed: impl Fn(u32) -> bool,
    names: &[Arc<str>],
) {
    fresh.sort_unstable_by(|a, b| rank_cmp(a, b, names));
    let old = order.len();
    order.resize(n, Standing::default());
    // Keep the unchanged, from the back: the write index never passes the read index.
    let mut w = n;
    for r in (0..old).rev() {
        let e = order[r];
        if !changed(e.slot) {
            w -= 1;
            order[w] = e;
        }
    }
    // `w` free places at the front, as many as fresh standings. Merge from
    // the front: the write index `o` stays at or below the read index `j`.
    debug_assert_eq!(w, fresh.len());
    let (mut j, mut o) = (w, 0);
    for f in fresh {
        while j < n && rank_cmp(&order[j], &f, names).is_lt() {
            order[o] = order[j];
            o += 1;
            j += 1;
        }
        order[o] = f;
        o += 1;
    }
}

/// A board of `order`, which is in board order.
fn board_of(version: u64, order: &[Standing], names: &[Arc<str>]) -> Board {
    Board::new(
        version,
        order
            .iter()
            .map(|s| (names[s.player as usize].clone(), s.score))
            .collect(),
    )
}

/// One published ranking of a hunt: immutable, shared by every reader.
///
/// ```
/// use std::sync::Arc;
/// use trove_readmodel::leaderboard::Board;
///
/// let entries: Vec<(Arc<str>, u64)> = ["ann", "bob", "cid", "dee"]
///     .into_iter()
///     .zip([40, 30, 20, 10])
///     .map(|(p, s)| (Arc::from(p), s))
///     .collect();
/// let board = Board::new(1, entries);
/// assert_eq!(board.position("cid"), Some(2));
/// // Two entries around "dee": the window stays full at the bottom.
/// let ranks: Vec<usize> = board.query(2, Some("dee")).iter().map(|e| e.0).collect();
/// assert_eq!(ranks, [3, 4]);
/// ```
#[derive(Debug)]
pub struct Board {
    /// Grows each time the ranking changes.
    pub version: u64,
    /// Players in rank order (rank = index + 1) with their scores.
    pub entries: Vec<(Arc<str>, u64)>,
    index: OnceLock<HashMap<Arc<str>, usize>>,
}

impl Board {
    /// A board of `entries`, already in rank order.
    pub fn new(version: u64, entries: Vec<(Arc<str>, u64)>) -> Board {
        Board {
            version,
            entries,
            index: OnceLock::new(),
        }
    }

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
