//! Player ids as dense numbers, and where each player sits in each hunt.
//!
//! [`Players`] interns a player's id the first time the journal names it
//! (the only allocation a player ever costs: one `Arc<str>`) and numbers it
//! 0, 1, 2, ... in order of first appearance. After that, finding a player
//! is one foldhash probe with the borrowed `&str` of the record, which
//! compares ids of up to 23 bytes in the table itself. The same table entry
//! holds the player's seat in the first hunt it joined (that hunt's slot for
//! it, see [`crate::leaderboard::Ranking`]); a seat in a further hunt is one
//! probe of a small map by numbers, so no per-hunt array is as long as all
//! players.

use foldhash::fast::RandomState;
use hashbrown::HashMap;
use smol_str::SmolStr;
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

/// A player as [`Players::intern`] finds it: its number and its first hunt.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Player {
    /// The player's number.
    pub(crate) n: u32,
    home: Seat,
}

/// Every player the journal named, numbered by first appearance.
#[derive(Default)]
pub(crate) struct Players {
    /// Number to id.
    names: Vec<Arc<str>>,
    /// Id to the player. Ids of up to 23 bytes are stored in the table
    /// itself, so a probe compares them without following a pointer; longer
    /// ones share the `Arc` of `names`.
    ids: HashMap<SmolStr, Player, RandomState>,
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

    /// Player `id`, given the next number if the id is new; `None` when
    /// [`MAX_IDS`] players already have one.
    #[inline]
    pub(crate) fn intern(&mut self, id: &str) -> Option<Player> {
        if let Some(&p) = self.ids.get(id) {
            return Some(p);
        }
        if self.names.len() >= MAX_IDS {
            return None;
        }
        let p = Player {
            n: self.names.len() as u32,
            home: Seat { hunt: NOWHERE, slot: 0 },
        };
        let name: Arc<str> = Arc::from(id);
        self.ids.insert(SmolStr::from(name.clone()), p);
        self.names.push(name);
        Some(p)
    }

    /// The slot of `player` in hunt `hunt`, if it joined it.
    #[inline]
    pub(crate) fn seat(&self, player: Player, hunt: u32) -> Option<u32> {
        if player.home.hunt == hunt {
            Some(player.home.slot)
        } else if player.home.hunt == NOWHERE {
            None
        } else {
            self.away.get(&(player.n, hunt)).copied()
        }
    }

    /// Records that `player` joined hunt `hunt` at `slot`.
    pub(crate) fn sit(&mut self, player: Player, hunt: u32, slot: u32) {
        if player.home.hunt == NOWHERE {
            let name = &self.names[player.n as usize];
            if let Some(p) = self.ids.get_mut(&**name) {
                p.home = Seat { hunt, slot };
            }
        } else {
            self.away.insert((player.n, hunt), slot);
        }
    }
}
