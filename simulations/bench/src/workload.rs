//! The benchmark hunt and its load: [`hunt_def`] (clues, products with large
//! stock plus one sold out), [`Names`] (pre-built ids, so an event costs a few
//! clones) and [`Gen`], a seeded generator of events, batches and claims.

use crate::cli::Common;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::rc::Rc;
use trove_engine::{ClaimRequest, ClueDef, EventKind, GameEvent, HuntDef, ProductDef};

const HUNT_ID: &str = "hunt-bench";
const SOLDOUT_SKU: &str = "sku-soldout";

/// The benchmark hunt: `--clues` clues, `--products` products with large
/// stock, and one sold-out product.
pub(crate) fn hunt_def(o: &Common) -> HuntDef {
    let mut products: Vec<ProductDef> = (0..o.products)
        .map(|i| ProductDef {
            sku: format!("sku-{i:04}"),
            stock: 1 << 40,
            per_player_limit: 1_000_000,
            min_score: 0,
        })
        .collect();
    products.push(ProductDef {
        sku: SOLDOUT_SKU.into(),
        stock: 0,
        per_player_limit: 1,
        min_score: 0,
    });
    HuntDef {
        id: HUNT_ID.into(),
        name: "Benchmark hunt".into(),
        opens_at: None,
        closes_at: None,
        clues: (0..o.clues)
            .map(|i| ClueDef {
                id: format!("clue-{i:03}"),
                points: 1 + (i as u32 % 10),
            })
            .collect(),
        products,
    }
}

/// Pre-built strings, so generating an event is a few clones.
pub(crate) struct Names {
    hunt: String,
    pub(crate) players: Vec<String>,
    clues: Vec<String>,
    skus: Vec<String>,
    pub(crate) locations: Vec<String>,
    interactions: Vec<String>,
    customs: String,
}

impl Names {
    /// The names of the benchmark hunt's players, clues and products.
    pub(crate) fn new(o: &Common) -> Rc<Names> {
        Rc::new(Names {
            hunt: HUNT_ID.into(),
            players: (0..o.players).map(player_id).collect(),
            clues: (0..o.clues).map(|i| format!("clue-{i:03}")).collect(),
            skus: (0..o.products).map(|i| format!("sku-{i:04}")).collect(),
            locations: (0..200).map(|i| format!("zone-{:02}/gate-{}", i / 8, i % 8)).collect(),
            interactions: ["npc_talk", "chest_open", "photo", "trade", "puzzle_attempt", "map_open"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            customs: r#"{"country":"DE","hs_code":"9503.00","value_eur":12.5}"#.into(),
        })
    }
}

/// The id of player number `i`.
pub(crate) fn player_id(i: usize) -> String {
    format!("player-{i:07}")
}

/// A seeded generator of events and claims (one rng stream per task).
pub(crate) struct Gen {
    pub(crate) rng: ChaCha8Rng,
    names: Rc<Names>,
}

impl Gen {
    /// A generator on stream `stream` of the rng seeded with `seed`.
    pub(crate) fn new(names: &Rc<Names>, seed: u64, stream: u64) -> Gen {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Gen {
            rng,
            names: names.clone(),
        }
    }

    /// ~1/3 clue_found, 1/3 checkin, 1/3 interaction.
    pub(crate) fn event(&mut self, player: usize) -> GameEvent {
        let n = &self.names;
        let kind = match self.rng.gen_range(0..3u32) {
            0 => EventKind::ClueFound {
                clue: n.clues[self.rng.gen_range(0..n.clues.len())].clone(),
            },
            1 => EventKind::Checkin {
                location: n.locations[self.rng.gen_range(0..n.locations.len())].clone(),
            },
            _ => EventKind::Interaction {
                kind: n.interactions[self.rng.gen_range(0..n.interactions.len())].clone(),
            },
        };
        GameEvent {
            player: n.players[player].clone(),
            hunt: n.hunt.clone(),
            kind,
        }
    }

    /// `size` events of random players.
    pub(crate) fn batch(&mut self, size: usize) -> Vec<GameEvent> {
        let players = self.names.players.len();
        (0..size)
            .map(|_| {
                let p = self.rng.gen_range(0..players);
                self.event(p)
            })
            .collect()
    }

    /// A claim by `player` (random if `None`) of a random product, the
    /// sold-out one with probability `soldout_share`.
    pub(crate) fn claim(&mut self, claim_id: String, player: Option<usize>, soldout_share: f64) -> ClaimRequest {
        let n = &self.names;
        let player = player.unwrap_or_else(|| self.rng.gen_range(0..n.players.len()));
        let sku = if self.rng.gen::<f64>() < soldout_share {
            SOLDOUT_SKU.to_owned()
        } else {
            n.skus[self.rng.gen_range(0..n.skus.len())].clone()
        };
        ClaimRequest {
            claim_id,
            player: n.players[player].clone(),
            hunt: n.hunt.clone(),
            sku,
            customs: n.customs.clone(),
        }
    }
}
