//! The checkpoint's payload: how a [`ProjectionState`] is serialized, in the
//! layout the first (`TRVL`) format fixed when the state was a tree of maps,
//! with the rejections per product that the second (`TRV2`) added.
//! The state is now dense (players numbered, standings and clue bits in
//! arrays by slot), so this module writes and reads that layout by hand:
//!
//! ```text
//! ProjectionState { applied: u64, hunts: map<hunt id, HuntProj>,
//!                   players: seq<player id>, events: u64, claims: u64, granted: u64 }
//! HuntProj        { def: HuntDef, clue_index: map<clue id, usize>,
//!                   sku_index: map<sku, usize>, players: map<player id, PlayerProj>,
//!                   added: seq<u64>, granted: seq<u64>, events: u64,
//!                   rejected: seq<[u64; 4]>, unknown_product: u64 }
//! PlayerProj      { score: u64, reached: u64, clues: seq<u64> }
//! ```
//!
//! Hunts are written in id order; the other maps in slot or definition order
//! (the layout does not fix their order). Reading rebuilds the clue and sku
//! indexes from the definition, and refuses a payload whose counts do not
//! fit its definitions (a decode error: the checkpoint is not used).

use crate::leaderboard::Standing;
use crate::players::Players;
use crate::state::{HuntProj, ProjectionState, REJECT_REASONS};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use trove_engine::{HuntDef, Seq};

impl Serialize for ProjectionState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ProjectionState", 6)?;
        st.serialize_field("applied", &self.applied)?;
        st.serialize_field("hunts", &HuntsOut(self))?;
        st.serialize_field("players", &PlayersOut(&self.players))?;
        st.serialize_field("events", &self.events)?;
        st.serialize_field("claims", &self.claims)?;
        st.serialize_field("granted", &self.granted)?;
        st.end()
    }
}

/// The hunts, as a map in id order.
struct HuntsOut<'a>(&'a ProjectionState);

impl Serialize for HuntsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let st = self.0;
        s.collect_map(st.hunts_by_id().into_iter().map(|(id, h)| (id, HuntOut(st, h))))
    }
}

/// Every player id, as a set.
struct PlayersOut<'a>(&'a Players);

impl Serialize for PlayersOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.names().iter().map(|n| &**n))
    }
}

/// One hunt.
struct HuntOut<'a>(&'a ProjectionState, &'a HuntProj);

impl Serialize for HuntOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let HuntOut(st, h) = *self;
        let def = &*h.def;
        let mut out = s.serialize_struct("HuntProj", 9)?;
        out.serialize_field("def", def)?;
        out.serialize_field("clue_index", &IndexOut(def.clues.iter().map(|c| c.id.as_str())))?;
        out.serialize_field("sku_index", &IndexOut(def.products.iter().map(|p| p.sku.as_str())))?;
        out.serialize_field("players", &PlayersOfHunt(st, h))?;
        out.serialize_field("added", &h.added)?;
        out.serialize_field("granted", &h.granted)?;
        out.serialize_field("events", &h.events)?;
        out.serialize_field("rejected", &h.rejected)?;
        out.serialize_field("unknown_product", &h.unknown_product)?;
        out.end()
    }
}

/// Ids to their index in definition order, as a map.
struct IndexOut<I>(I);

impl<'a, I: Iterator<Item = &'a str> + ExactSizeIterator + Clone> Serialize for IndexOut<I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.clone().enumerate().map(|(i, id)| (id, i)))
    }
}

/// A hunt's players, as a map from id to `PlayerProj`.
struct PlayersOfHunt<'a>(&'a ProjectionState, &'a HuntProj);

impl Serialize for PlayersOfHunt<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let PlayersOfHunt(st, h) = *self;
        s.collect_map(
            st.standings(h)
                .zip(0u32..)
                .map(|((id, standing), slot)| (id, PlayerOut(standing, h.clue_words(slot)))),
        )
    }
}

/// One player in one hunt.
struct PlayerOut<'a>(&'a Standing, &'a [u64]);

impl Serialize for PlayerOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_struct("PlayerProj", 3)?;
        out.serialize_field("score", &self.0.score)?;
        out.serialize_field("reached", &self.0.reached)?;
        out.serialize_field("clues", self.1)?;
        out.end()
    }
}

/// The layout, read.
#[derive(Deserialize)]
struct StateIn {
    applied: Seq,
    hunts: BTreeMap<String, HuntIn>,
    players: Vec<String>,
    events: u64,
    claims: u64,
    granted: u64,
}

/// One hunt, read.
#[derive(Deserialize)]
struct HuntIn {
    def: HuntDef,
    /// Rebuilt from `def`.
    #[allow(dead_code, reason = "in the layout; rebuilt from `def`")]
    clue_index: HashMap<String, u64>,
    /// Rebuilt from `def`.
    #[allow(dead_code, reason = "in the layout; rebuilt from `def`")]
    sku_index: HashMap<String, u64>,
    players: Pairs<String, PlayerIn>,
    added: Vec<u64>,
    granted: Vec<u64>,
    events: u64,
    rejected: Vec<[u64; REJECT_REASONS]>,
    unknown_product: u64,
}

/// One player in one hunt, read.
#[derive(Deserialize)]
struct PlayerIn {
    score: u64,
    reached: Seq,
    clues: Vec<u64>,
}

/// A map read as its pairs, in order.
struct Pairs<K, V>(Vec<(K, V)>);

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Pairs<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PairsVisitor<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for PairsVisitor<K, V> {
            type Value = Pairs<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // Bounded: the length comes from the file.
                let mut v = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(pair) = map.next_entry()? {
                    v.push(pair);
                }
                Ok(Pairs(v))
            }
        }
        d.deserialize_map(PairsVisitor(PhantomData))
    }
}

impl<'de> Deserialize<'de> for ProjectionState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let layout = StateIn::deserialize(d)?;
        restore(layout).map_err(de::Error::custom)
    }
}

/// The state a payload describes, every hunt to be ranked and published.
fn restore(layout: StateIn) -> Result<ProjectionState, String> {
    let mut st = ProjectionState::default();
    st.applied = layout.applied;
    st.events = layout.events;
    st.claims = layout.claims;
    st.granted = layout.granted;
    for name in &layout.players {
        st.players.intern(name).ok_or("too many players")?;
    }
    for (id, hunt) in layout.hunts {
        let products = hunt.def.products.len();
        if hunt.added.len() != products || hunt.granted.len() != products || hunt.rejected.len() != products {
            return Err(format!("hunt {id:?}: product counts do not match its products"));
        }
        let h = st.define(&id, &hunt.def).ok_or("too many hunts")?;
        let (proj, players) = st.hunt_mut(h);
        proj.added = hunt.added;
        proj.granted = hunt.granted;
        proj.rejected = hunt.rejected;
        proj.unknown_product = hunt.unknown_product;
        proj.events = hunt.events;
        for (name, p) in hunt.players.0 {
            if p.clues.len() != proj.words() {
                return Err(format!(
                    "hunt {id:?}, player {name:?}: clue bits do not match the hunt's clues"
                ));
            }
            let player = players.intern(&name).ok_or("too many players")?;
            if players.seat(player, h as u32).is_some() {
                return Err(format!("hunt {id:?}: player {name:?} twice"));
            }
            let slot = proj.add(player.n, p.score, p.reached);
            proj.clue_words_mut(slot).copy_from_slice(&p.clues);
            players.sit(player, h as u32, slot);
        }
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trove_engine::{ClueDef, ProductDef};
    use trove_persistence::snapshot::{decode_value, encode_value};

    /// A map written from its pairs, duplicates allowed.
    struct MapOf<K, V>(Vec<(K, V)>);

    impl<K: Serialize, V: Serialize> Serialize for MapOf<K, V> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }

    /// The layout as derived structs would write it.
    #[derive(Serialize)]
    struct OldPlayer {
        score: u64,
        reached: u64,
        clues: Vec<u64>,
    }

    #[derive(Serialize)]
    struct OldHunt {
        def: HuntDef,
        clue_index: MapOf<String, usize>,
        sku_index: MapOf<String, usize>,
        players: MapOf<String, OldPlayer>,
        added: Vec<u64>,
        granted: Vec<u64>,
        events: u64,
        rejected: Vec<[u64; 4]>,
        unknown_product: u64,
    }

    #[derive(Serialize)]
    struct OldState {
        applied: u64,
        hunts: MapOf<String, OldHunt>,
        players: Vec<String>,
        events: u64,
        claims: u64,
        granted: u64,
    }

    /// A hunt of 70 clues (two words of bits) and one product, and its
    /// players' (id, score, reached, clue words).
    fn old(players: Vec<(&str, u64, u64, Vec<u64>)>, added: Vec<u64>) -> OldState {
        let def = HuntDef {
            id: "h".into(),
            name: "h".into(),
            opens_at: None,
            closes_at: None,
            clues: (0..70)
                .map(|i| ClueDef {
                    id: format!("c{i}"),
                    points: 1,
                })
                .collect(),
            products: vec![ProductDef {
                sku: "mug".into(),
                stock: 1,
                per_player_limit: 1,
                min_score: 0,
            }],
        };
        OldState {
            applied: 9,
            hunts: MapOf(vec![(
                "h".into(),
                OldHunt {
                    clue_index: MapOf(def.clues.iter().enumerate().map(|(i, c)| (c.id.clone(), i)).collect()),
                    sku_index: MapOf(vec![("mug".into(), 0)]),
                    def,
                    players: MapOf(
                        players
                            .iter()
                            .map(|(id, score, reached, clues)| {
                                let p = OldPlayer {
                                    score: *score,
                                    reached: *reached,
                                    clues: clues.clone(),
                                };
                                (id.to_string(), p)
                            })
                            .collect(),
                    ),
                    added,
                    granted: vec![0],
                    events: 3,
                    rejected: vec![[1, 0, 2, 0]],
                    unknown_product: 4,
                },
            )]),
            players: players.iter().map(|p| p.0.to_string()).collect(),
            events: 3,
            claims: 0,
            granted: 0,
        }
    }

    #[test]
    fn the_layout_reads_and_writes_back_the_same_bytes() {
        let bytes = encode_value(&old(
            vec![("ann", 2, 5, vec![1, 1 << 5]), ("bob", 2, 4, vec![3, 0])],
            vec![0],
        ))
        .unwrap();
        let st: ProjectionState = decode_value(&bytes).unwrap();
        assert_eq!(encode_value(&st).unwrap(), bytes);
        let board = st.ranking("h").unwrap();
        assert_eq!(board.query(2, None)[0].1.as_ref(), "bob");
    }

    #[test]
    fn payloads_that_do_not_fit_their_definitions_are_refused() {
        let cases = [
            old(vec![("ann", 1, 2, vec![1])], vec![0]),
            old(vec![("ann", 1, 2, vec![1, 0, 0])], vec![0]),
            old(vec![("ann", 1, 2, vec![1, 0])], vec![]),
            old(vec![("ann", 1, 2, vec![1, 0]), ("ann", 1, 3, vec![1, 0])], vec![0]),
        ];
        for case in cases {
            let bytes = encode_value(&case).unwrap();
            assert!(decode_value::<ProjectionState>(&bytes).is_err());
        }
        let good = encode_value(&old(vec![("ann", 1, 2, vec![1, 0])], vec![0])).unwrap();
        for cut in 0..good.len() {
            assert!(decode_value::<ProjectionState>(&good[..cut]).is_err());
        }
    }
}
