//! Player ids as dense numbers, and where each player sits in each hunt.
//!
//! [`Players`] interns a player's id the first time the journal names it
//! (the only allocation a player ever costs: one `Arc<str>`) and numbers it
//! 0, 1, 2, ... in order of first appearance. After that, finding a player
//! is one foldhash probe with the borrowed `&str` of the record. Its seat in
//! a hunt (the hunt's slot for it, see [`crate::leaderboard::Ranking`]) is
//! one array read for the first hunt it joined, and one probe of a small
//! map for every further hunt, so per-hunt data never needs an array as long
//! as all players.

use foldhash::fast::RandomState;
use hashbrown::HashMap;
use std::sync::Arc;

/// No hunt yet.
const NOWHERE: u32 = u32::MAX;
/// Most players (and hunts) the dense numbering holds; one less than
/// `u32::MAX`, which marks "none".
pub(crate) const MAX_IDS: usize = u32::MAX as usize - 1;

/// A player's slot in one hunt.
#[derive(Clone, Copy, Debug)]
struct Seat {
    hunt: u32,
    slot: u32,
}

/// Every player the journal named, numbered by first appearance.
#[derive(Default)]
pub(crate) struct Players {
    /// Number to id.
    names: Vec<Arc<str>>,
    /// Id to number.
    ids: HashMap<Arc<str>, u32, RandomState>,
    /// Per player: the first hunt it joined and its slot there.
    home: Vec<Seat>,
    /// Slots in the hunts a player joined after its first one.
    away: HashMap<(u32, u32), u32, RandomState>,
}

impl Players {
    /// How many players the journal named.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// The ids, by number.
    pub(crate) fn names(&self) -> &[Arc<str>] {
        &self.names
    }

    /// The number of `id`, given a new one if the id is new; `None` when
    /// [`MAX_IDS`] players already have one.
    #[inline]
    pub(crate) fn intern(&mut self, id: &str) -> Option<u32> {
        if let Some(&n) = self.ids.get(id) {
            return Some(n);
        }
        if self.names.len() >= MAX_IDS {
            return None;
        }
        let n = self.names.len() as u32;
        let name: Arc<str> = Arc::from(id);
        self.names.push(name.clone());
        self.ids.insert(name, n);
        self.home.push(Seat { hunt: NOWHERE, slot: 0 });
        Some(n)
    }

    /// The slot of player `player` in hunt `hunt`, if it joined it.
    #[inline]
    pub(crate) fn seat(&self, player: u32, hunt: u32) -> Option<u32> {
        let home = self.home[player as usize];
        if home.hunt == hunt {
            Some(home.slot)
        } else if home.hunt == NOWHERE {
            None
        } else {
            self.away.get(&(player, hunt)).copied()
        }
    }

    /// Records that player `player` joined hunt `hunt` at `slot`.
    pub(crate) fn sit(&mut self, player: u32, hunt: u32, slot: u32) {
        let home = &mut self.home[player as usize];
        if home.hunt == NOWHERE {
            *home = Seat { hunt, slot };
        } else {
            self.away.insert((player, hunt), slot);
        }
    }
}
