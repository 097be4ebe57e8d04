//! The boards: how players are ranked, and the immutable [`Board`] that
//! queries read.
//!
//! Ranking: higher score first; ties go to the player who reached that score
//! first (lower journal sequence); then by player id. Ranks are 1, 2, 3, ...
//! with no shared ranks, so every query answers the same order.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};
use trove_engine::Seq;

/// A player's place in a [`Ranking`]: ordering the keys orders the board.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RankKey {
    score: Reverse<u64>,
    reached: Seq,
    player: Arc<str>,
}

/// The live ranking of one hunt, kept sorted as scores change.
#[derive(Debug, Default)]
pub(crate) struct Ranking {
    keys: BTreeSet<RankKey>,
}

impl Ranking {
    /// Puts `player` on the ranking with `score`, reached at `reached`.
    pub(crate) fn insert(&mut self, player: Arc<str>, score: u64, reached: Seq) {
        self.keys.insert(RankKey {
            score: Reverse(score),
            reached,
            player,
        });
    }

    /// Takes `player` off the ranking; `score` and `reached` must be the
    /// ones it was inserted with.
    pub(crate) fn remove(&mut self, player: &Arc<str>, score: u64, reached: Seq) {
        self.keys.remove(&RankKey {
            score: Reverse(score),
            reached,
            player: player.clone(),
        });
    }

    /// A snapshot of the ranking as a board at `version`.
    pub(crate) fn board(&self, version: u64) -> Board {
        Board::new(
            version,
            self.keys.iter().map(|k| (k.player.clone(), k.score.0)).collect(),
        )
    }
}

impl FromIterator<(Arc<str>, u64, Seq)> for Ranking {
    /// The ranking of `(player, score, reached)` triples.
    fn from_iter<I: IntoIterator<Item = (Arc<str>, u64, Seq)>>(iter: I) -> Self {
        Ranking {
            keys: iter
                .into_iter()
                .map(|(player, score, reached)| RankKey {
                    score: Reverse(score),
                    reached,
                    player,
                })
                .collect(),
        }
    }
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
