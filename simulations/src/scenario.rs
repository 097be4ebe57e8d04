//! Scenario files: a hunt, a population and its behaviour, in TOML.
//!
//! `toml` and serde parse the text into loosely typed "raw" structs first
//! (numbers as `i64`/`f64`, unknown keys refused), then one validator per
//! section (`[hunt]` with its clues, products and restocks, `[population]`,
//! `[behaviour]`) turns them into [`Scenario`], so that every mistake comes
//! back as one message naming the field:
//! `hunt.products[1] ("mug"): stock must be 0 or more, not -5`.
//! The format is documented in `docs/SIMULATIONS.md`.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use trove_engine::{limits, ClueDef, HuntDef, Millis, ProductDef, MAX_STOCK};

/// A scenario that failed to load.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The file, as given.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The text is not TOML, has an unknown key, or a value of the wrong type.
    #[error("scenario {path} is not valid TOML: {message}")]
    Toml {
        /// The file, as given.
        path: String,
        /// The TOML parser's message, with the line and column.
        message: String,
    },
    /// A value is out of range or inconsistent with another.
    #[error("scenario {path}: {message}")]
    Invalid {
        /// The file, as given.
        path: String,
        /// What is wrong, starting with the field, e.g.
        /// `hunt.products[1] ("mug"): stock must be 0 or more, not -5`.
        message: String,
    },
}

/// The three kinds of player.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Short stays, few events, rarely claims.
    Casual,
    /// Stays to the end, claims often.
    Active,
    /// Many events, finds most clues, claims everything it wants.
    Power,
}

impl Segment {
    /// The three segments, in the order of every per-segment array.
    pub const ALL: [Segment; 3] = [Segment::Casual, Segment::Active, Segment::Power];

    /// The segment's name in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Segment::Casual => "casual",
            Segment::Active => "active",
            Segment::Power => "power",
        }
    }
}

/// How checkins and interactions (telemetry that changes no game state) reach
/// the engine in the in-process mode. The live mode always sends them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TelemetryMode {
    /// Counted by the simulator, not sent to the engine (fast). Every clue
    /// find and every claim still goes through the engine.
    Aggregate,
    /// Every checkin and interaction is sent to the engine too.
    Engine,
}

/// A clue of the hunt.
#[derive(Clone, Debug, Serialize)]
pub struct Clue {
    /// The clue id, unique in the hunt.
    pub id: String,
    /// Points a player scores for finding it.
    pub points: u32,
    /// 0 (found by anyone who looks) to 1 (never found).
    pub difficulty: f64,
}

/// A product players can claim.
#[derive(Clone, Debug, Serialize)]
pub struct Product {
    /// The product id, unique in the hunt.
    pub sku: String,
    /// Units at the start.
    pub stock: u64,
    /// Most units one player may get.
    pub per_player_limit: u32,
    /// Score a player needs to claim it.
    pub min_score: u64,
}

/// Units added to a product at a moment of the run.
#[derive(Clone, Debug, Serialize)]
pub struct Restock {
    /// Second of the run.
    pub at_secs: u32,
    /// Index into [`Hunt::products`].
    pub product: usize,
    /// The product's sku.
    pub sku: String,
    /// Units added.
    pub add: u64,
}

/// The hunt, with times in seconds from the start of the run.
#[derive(Clone, Debug, Serialize)]
pub struct Hunt {
    /// The hunt id (the live mode adds a suffix on the server).
    pub id: String,
    /// The hunt's name (defaults to the id).
    pub name: String,
    /// Second of the run at which claims open.
    pub opens_at_secs: u32,
    /// Second of the run at which claims close (may be after the run ends).
    pub closes_at_secs: u32,
    /// The clues, in file order.
    pub clues: Vec<Clue>,
    /// The products, in file order.
    pub products: Vec<Product>,
    /// Sorted by time, then file order.
    pub restocks: Vec<Restock>,
}

/// Who plays and when they arrive.
#[derive(Clone, Debug, Serialize)]
pub struct Population {
    /// Players in the population.
    pub players: u32,
    /// The name of the arrival preset, or "custom".
    pub arrival: String,
    /// Cumulative share of players arrived at each point: (seconds, share),
    /// seconds increasing, share from 0 to 1. Linear in between.
    pub arrival_curve: Vec<(f64, f64)>,
    /// Shares of casual, active and power players; they sum to 1.
    pub segments: [f64; 3],
}

/// How the players of one segment behave.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentBehaviour {
    /// Checkins and interactions per second while playing (clue finds come on top).
    pub events_per_sec: f64,
    /// Chance of finding a clue of difficulty 0 during a stay.
    pub find_chance: f64,
    /// Multiplies each product's appeal.
    pub claim_propensity: f64,
    /// Mean stay in seconds (exponential); `None` = until the end of the run.
    pub session_secs: Option<f64>,
}

/// How much players want one product.
#[derive(Clone, Debug, Serialize)]
pub struct ProductBehaviour {
    /// Chance that a player (of propensity 1) wants this product.
    pub appeal: f64,
    /// Units a player who wants it tries to get.
    pub units: u32,
}

/// How players, their clients and the network behave.
#[derive(Clone, Debug, Serialize)]
pub struct Behaviour {
    /// Whether telemetry goes through the engine (in-process mode).
    pub telemetry: TelemetryMode,
    /// By [`Segment`] order.
    pub segments: [SegmentBehaviour; 3],
    /// By product index.
    pub products: Vec<ProductBehaviour>,
    /// Per clue: the chance factor that replaces `1 - difficulty`, if set.
    pub clue_chance: Vec<Option<f64>>,
    /// Mean seconds between becoming eligible (or arriving) and claiming.
    pub claim_delay_secs: f64,
    /// Share of wanted products a player tries once before reaching `min_score`.
    pub early_claim_share: f64,
    /// Share of `out_of_stock` answers after which the player tries again later.
    pub out_of_stock_retry_share: f64,
    /// Mean seconds before that new try.
    pub out_of_stock_retry_secs: f64,
    /// Client retries of a request that got no answer.
    pub retries: u32,
    /// Mean seconds before a client retries a request that got no answer.
    pub retry_after_secs: f64,
    /// Share of claims the client sends twice (same claim id).
    pub duplicate_share: f64,
    /// Share of requests lost on the network.
    pub lost_share: f64,
    /// Of the lost requests, the share lost on the way back (the server did
    /// the work, the client never heard); the rest never reach the server.
    pub lost_reply_share: f64,
}

/// A validated scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    /// Shown on the report (defaults to the hunt's name).
    pub name: String,
    /// The default seed (0 when the file gives none).
    pub seed: u64,
    /// Simulated seconds.
    pub duration_secs: u32,
    /// The hunt.
    pub hunt: Hunt,
    /// Who plays and when they arrive.
    pub population: Population,
    /// How they behave.
    pub behaviour: Behaviour,
}

// ------------------------------------------------------------------ raw

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    seed: Option<i64>,
    duration_secs: i64,
    hunt: RawHunt,
    population: RawPopulation,
    #[serde(default)]
    behaviour: RawBehaviour,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHunt {
    id: String,
    name: Option<String>,
    opens_at_secs: Option<i64>,
    closes_at_secs: Option<i64>,
    #[serde(default)]
    clues: Vec<RawClue>,
    #[serde(default)]
    products: Vec<RawProduct>,
    #[serde(default)]
    restocks: Vec<RawRestock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClue {
    id: String,
    points: i64,
    difficulty: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    sku: String,
    stock: i64,
    per_player_limit: Option<i64>,
    min_score: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRestock {
    at_secs: i64,
    sku: String,
    add: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPopulation {
    players: i64,
    arrival: Option<String>,
    arrival_curve: Option<Vec<(f64, f64)>>,
    segments: Option<RawSegments>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegments {
    casual: Option<f64>,
    active: Option<f64>,
    power: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBehaviour {
    telemetry: Option<String>,
    claim_delay_secs: Option<f64>,
    early_claim_share: Option<f64>,
    out_of_stock_retry_share: Option<f64>,
    out_of_stock_retry_secs: Option<f64>,
    retries: Option<i64>,
    retry_after_secs: Option<f64>,
    duplicate_share: Option<f64>,
    lost_share: Option<f64>,
    lost_reply_share: Option<f64>,
    casual: Option<RawSegmentBehaviour>,
    active: Option<RawSegmentBehaviour>,
    power: Option<RawSegmentBehaviour>,
    #[serde(default)]
    products: BTreeMap<String, RawProductBehaviour>,
    #[serde(default)]
    clues: BTreeMap<String, f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegmentBehaviour {
    events_per_sec: Option<f64>,
    find_chance: Option<f64>,
    claim_propensity: Option<f64>,
    session_secs: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProductBehaviour {
    appeal: f64,
    units: Option<i64>,
}

/// Longest run a scenario may ask for: one week.
pub(crate) const MAX_DURATION_SECS: i64 = 7 * 24 * 3600;
/// Most players in one scenario.
pub(crate) const MAX_PLAYERS: i64 = 10_000_000;

/// Defaults of each segment when the scenario leaves them out.
pub(crate) fn default_segment(s: Segment) -> SegmentBehaviour {
    match s {
        Segment::Casual => SegmentBehaviour {
            events_per_sec: 0.5,
            find_chance: 0.3,
            claim_propensity: 0.3,
            session_secs: Some(1200.0),
        },
        Segment::Active => SegmentBehaviour {
            events_per_sec: 1.5,
            find_chance: 0.6,
            claim_propensity: 0.7,
            session_secs: None,
        },
        Segment::Power => SegmentBehaviour {
            events_per_sec: 3.0,
            find_chance: 0.9,
            claim_propensity: 1.0,
            session_secs: None,
        },
    }
}

/// The arrival presets, as cumulative shares at fractions of the open window.
pub(crate) const ARRIVAL_PRESETS: [(&str, &[(f64, f64)]); 4] = [
    ("at_open", &[(0.0, 0.0), (0.02, 1.0)]),
    ("uniform", &[(0.0, 0.0), (1.0, 1.0)]),
    ("front_loaded", &[(0.0, 0.0), (0.1, 0.5), (0.3, 0.8), (1.0, 1.0)]),
    ("late_surge", &[(0.0, 0.0), (0.6, 0.3), (0.9, 0.9), (1.0, 1.0)]),
];

struct V<'a> {
    path: &'a str,
}

impl V<'_> {
    fn err(&self, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.path.to_owned(),
            message: message.into(),
        }
    }

    fn share(&self, field: &str, v: f64) -> Result<f64, ScenarioError> {
        if !(0.0..=1.0).contains(&v) || v.is_nan() {
            return Err(self.err(format!("{field} must be between 0 and 1, not {v}")));
        }
        Ok(v)
    }

    fn non_negative(&self, field: &str, v: f64) -> Result<f64, ScenarioError> {
        if v.is_nan() || v < 0.0 || !v.is_finite() {
            return Err(self.err(format!("{field} must be a number of 0 or more, not {v}")));
        }
        Ok(v)
    }

    fn positive(&self, field: &str, v: f64) -> Result<f64, ScenarioError> {
        if v.is_nan() || v <= 0.0 || !v.is_finite() {
            return Err(self.err(format!("{field} must be more than 0, not {v}")));
        }
        Ok(v)
    }

    fn int(&self, field: &str, v: i64, min: i64, max: i64) -> Result<i64, ScenarioError> {
        if v < min {
            return Err(self.err(format!("{field} must be {min} or more, not {v}")));
        }
        if v > max {
            return Err(self.err(format!("{field} must be at most {max}, not {v}")));
        }
        Ok(v)
    }

    fn id(&self, field: &str, v: &str) -> Result<(), ScenarioError> {
        if v.is_empty() {
            return Err(self.err(format!("{field} must not be empty")));
        }
        if v.len() > limits::MAX_ID_BYTES {
            return Err(self.err(format!("{field} is longer than {} bytes", limits::MAX_ID_BYTES)));
        }
        Ok(())
    }
}

impl V<'_> {
    /// The index of the product `sku`, or an error naming the known ones.
    fn product_index(&self, products: &[Product], what: &str, sku: &str) -> Result<usize, ScenarioError> {
        products.iter().position(|p| p.sku == sku).ok_or_else(|| {
            let known: Vec<&str> = products.iter().map(|p| p.sku.as_str()).collect();
            self.err(format!(
                "{what}: unknown product {sku:?} (the hunt's products are: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// `[hunt]`: its window, clues, products and restocks.
    fn hunt(&self, h: RawHunt, duration_secs: u32) -> Result<Hunt, ScenarioError> {
        self.id("hunt.id", &h.id)?;
        let opens_at_secs = self.int(
            "hunt.opens_at_secs",
            h.opens_at_secs.unwrap_or(0),
            0,
            duration_secs as i64 - 1,
        )? as u32;
        let closes_at_secs = self.int(
            "hunt.closes_at_secs",
            h.closes_at_secs.unwrap_or(duration_secs as i64),
            opens_at_secs as i64 + 1,
            MAX_DURATION_SECS,
        )? as u32;
        if h.clues.len() > limits::MAX_CLUES {
            return Err(self.err(format!("hunt.clues: more than {} clues", limits::MAX_CLUES)));
        }
        if h.products.len() > limits::MAX_PRODUCTS {
            return Err(self.err(format!("hunt.products: more than {} products", limits::MAX_PRODUCTS)));
        }
        let clues = self.clues(&h.clues)?;
        let products = self.products(&h.products)?;
        let restocks = self.restocks(&h.restocks, &products, duration_secs)?;
        let hunt = Hunt {
            name: h.name.clone().unwrap_or_else(|| h.id.clone()),
            id: h.id,
            opens_at_secs,
            closes_at_secs,
            clues,
            products,
            restocks,
        };
        if hunt.name.len() > limits::MAX_TEXT_BYTES {
            return Err(self.err(format!("hunt.name is longer than {} bytes", limits::MAX_TEXT_BYTES)));
        }
        Ok(hunt)
    }

    /// `hunt.clues`: ids unique, points and difficulty in range.
    fn clues(&self, raw: &[RawClue]) -> Result<Vec<Clue>, ScenarioError> {
        let mut seen = HashSet::new();
        let mut clues = Vec::with_capacity(raw.len());
        for (i, c) in raw.iter().enumerate() {
            let at = format!("hunt.clues[{i}]");
            self.id(&format!("{at}.id"), &c.id)?;
            if !seen.insert(c.id.clone()) {
                return Err(self.err(format!("{at}: duplicate clue id {:?}", c.id)));
            }
            let at = format!("{at} ({:?})", c.id);
            let points = self.int(&format!("{at}: points"), c.points, 0, u32::MAX as i64)? as u32;
            let difficulty = self.share(&format!("{at}: difficulty"), c.difficulty.unwrap_or(0.0))?;
            clues.push(Clue {
                id: c.id.clone(),
                points,
                difficulty,
            });
        }
        Ok(clues)
    }

    /// `hunt.products`: skus unique, stock, limit and minimum score in range.
    fn products(&self, raw: &[RawProduct]) -> Result<Vec<Product>, ScenarioError> {
        let mut seen = HashSet::new();
        let mut products = Vec::with_capacity(raw.len());
        for (i, p) in raw.iter().enumerate() {
            let at = format!("hunt.products[{i}]");
            self.id(&format!("{at}.sku"), &p.sku)?;
            if !seen.insert(p.sku.clone()) {
                return Err(self.err(format!("{at}: duplicate sku {:?}", p.sku)));
            }
            let at = format!("{at} ({:?})", p.sku);
            let stock = self.int(&format!("{at}: stock"), p.stock, 0, MAX_STOCK as i64)? as u64;
            let per_player_limit = self.int(
                &format!("{at}: per_player_limit"),
                p.per_player_limit.unwrap_or(1),
                1,
                u32::MAX as i64,
            )? as u32;
            let min_score = self.int(&format!("{at}: min_score"), p.min_score.unwrap_or(0), 0, i64::MAX)? as u64;
            products.push(Product {
                sku: p.sku.clone(),
                stock,
                per_player_limit,
                min_score,
            });
        }
        Ok(products)
    }

    /// `hunt.restocks`, sorted by time; no product may exceed `MAX_STOCK`
    /// with its restocks.
    fn restocks(
        &self,
        raw: &[RawRestock],
        products: &[Product],
        duration_secs: u32,
    ) -> Result<Vec<Restock>, ScenarioError> {
        let mut restocks = Vec::with_capacity(raw.len());
        for (i, r) in raw.iter().enumerate() {
            let at = format!("hunt.restocks[{i}]");
            let product = self.product_index(products, &at, &r.sku)?;
            let at_secs = self.int(&format!("{at}: at_secs"), r.at_secs, 0, duration_secs as i64 - 1)? as u32;
            let add = self.int(&format!("{at}: add"), r.add, 1, MAX_STOCK as i64)? as u64;
            restocks.push(Restock {
                at_secs,
                product,
                sku: r.sku.clone(),
                add,
            });
        }
        restocks.sort_by_key(|r| r.at_secs);
        for (p, prod) in products.iter().enumerate() {
            let total: u64 = prod.stock + restocks.iter().filter(|r| r.product == p).map(|r| r.add).sum::<u64>();
            if total > MAX_STOCK {
                return Err(self.err(format!(
                    "hunt.products ({:?}): stock plus restocks exceeds {MAX_STOCK}",
                    prod.sku
                )));
            }
        }
        Ok(restocks)
    }

    /// `[population]`: players, arrival and segment shares.
    fn population(&self, p: RawPopulation, hunt: &Hunt, duration_secs: u32) -> Result<Population, ScenarioError> {
        let players = self.int("population.players", p.players, 1, MAX_PLAYERS)? as u32;
        let (arrival, arrival_curve) = match (p.arrival, p.arrival_curve) {
            (Some(_), Some(_)) => {
                return Err(self.err("population: give either arrival (a preset) or arrival_curve, not both"));
            }
            (None, Some(curve)) => ("custom".to_owned(), self.arrival_curve(curve, duration_secs)?),
            (name, None) => self.arrival_preset(name, hunt, duration_secs)?,
        };
        let segments = match p.segments {
            None => [0.6, 0.3, 0.1],
            Some(s) => self.segment_shares(&s)?,
        };
        Ok(Population {
            players,
            arrival,
            arrival_curve,
            segments,
        })
    }

    /// `population.arrival_curve`: seconds increasing, shares from 0 to 1
    /// and never falling.
    fn arrival_curve(&self, curve: Vec<(f64, f64)>, duration_secs: u32) -> Result<Vec<(f64, f64)>, ScenarioError> {
        if curve.len() < 2 {
            return Err(self.err("population.arrival_curve needs at least two [seconds, share] points"));
        }
        for (i, &(t, s)) in curve.iter().enumerate() {
            let at = format!("population.arrival_curve[{i}]");
            self.non_negative(&format!("{at} seconds"), t)?;
            if t > duration_secs as f64 {
                return Err(self.err(format!("{at}: {t} s is after the end of the run ({duration_secs} s)")));
            }
            self.share(&format!("{at} share"), s)?;
            if i > 0 {
                let (pt, ps) = curve[i - 1];
                if t <= pt {
                    return Err(self.err(format!("{at}: seconds must increase ({t} after {pt})")));
                }
                if s < ps {
                    return Err(self.err(format!("{at}: the cumulative share must not fall ({s} after {ps})")));
                }
            }
        }
        if curve[0].1 != 0.0 || curve[curve.len() - 1].1 != 1.0 {
            return Err(self.err("population.arrival_curve must start at share 0 and end at share 1"));
        }
        Ok(curve)
    }

    /// `population.arrival`: a preset (default `front_loaded`), stretched
    /// over the hunt's open window within the run.
    fn arrival_preset(
        &self,
        name: Option<String>,
        hunt: &Hunt,
        duration_secs: u32,
    ) -> Result<(String, Vec<(f64, f64)>), ScenarioError> {
        let name = name.unwrap_or_else(|| "front_loaded".into());
        let Some((_, points)) = ARRIVAL_PRESETS.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = ARRIVAL_PRESETS.iter().map(|(n, _)| *n).collect();
            return Err(self.err(format!(
                "population.arrival: unknown preset {name:?} (expected one of {}, or give arrival_curve)",
                names.join(", ")
            )));
        };
        let window_end = hunt.closes_at_secs.min(duration_secs);
        let window = (window_end - hunt.opens_at_secs) as f64;
        let curve = points
            .iter()
            .map(|&(f, s)| (hunt.opens_at_secs as f64 + f * window, s))
            .collect();
        Ok((name, curve))
    }

    /// `population.segments`: three shares that add up to 1.
    fn segment_shares(&self, s: &RawSegments) -> Result<[f64; 3], ScenarioError> {
        let shares = [
            self.share("population.segments.casual", s.casual.unwrap_or(0.0))?,
            self.share("population.segments.active", s.active.unwrap_or(0.0))?,
            self.share("population.segments.power", s.power.unwrap_or(0.0))?,
        ];
        let sum: f64 = shares.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(self.err(format!(
                "population.segments: the shares of casual, active and power must add up to 1, not {sum}"
            )));
        }
        Ok(shares)
    }

    /// `[behaviour]`: telemetry, segments, products, clues, the client's
    /// habits and the network.
    fn behaviour(&self, b: RawBehaviour, hunt: &Hunt) -> Result<Behaviour, ScenarioError> {
        let telemetry = match b.telemetry.as_deref() {
            None | Some("aggregate") => TelemetryMode::Aggregate,
            Some("engine") => TelemetryMode::Engine,
            Some(other) => {
                return Err(self.err(format!(
                    "behaviour.telemetry: unknown mode {other:?} (expected aggregate or engine)"
                )))
            }
        };
        let segments = [
            self.segment_behaviour(Segment::Casual, b.casual)?,
            self.segment_behaviour(Segment::Active, b.active)?,
            self.segment_behaviour(Segment::Power, b.power)?,
        ];
        let products = self.product_behaviour(&b.products, hunt)?;
        let clue_chance = self.clue_chance(&b.clues, hunt)?;
        Ok(Behaviour {
            telemetry,
            segments,
            products,
            clue_chance,
            claim_delay_secs: self.non_negative("behaviour.claim_delay_secs", b.claim_delay_secs.unwrap_or(30.0))?,
            early_claim_share: self.share("behaviour.early_claim_share", b.early_claim_share.unwrap_or(0.05))?,
            out_of_stock_retry_share: self.share(
                "behaviour.out_of_stock_retry_share",
                b.out_of_stock_retry_share.unwrap_or(0.2),
            )?,
            out_of_stock_retry_secs: self.non_negative(
                "behaviour.out_of_stock_retry_secs",
                b.out_of_stock_retry_secs.unwrap_or(300.0),
            )?,
            retries: self.int("behaviour.retries", b.retries.unwrap_or(2), 0, 20)? as u32,
            retry_after_secs: self.non_negative("behaviour.retry_after_secs", b.retry_after_secs.unwrap_or(2.0))?,
            duplicate_share: self.share("behaviour.duplicate_share", b.duplicate_share.unwrap_or(0.01))?,
            lost_share: self.share("behaviour.lost_share", b.lost_share.unwrap_or(0.002))?,
            lost_reply_share: self.share("behaviour.lost_reply_share", b.lost_reply_share.unwrap_or(0.5))?,
        })
    }

    /// `behaviour.<segment>`: the segment's defaults with the given fields
    /// replaced.
    fn segment_behaviour(
        &self,
        seg: Segment,
        raw: Option<RawSegmentBehaviour>,
    ) -> Result<SegmentBehaviour, ScenarioError> {
        let mut s = default_segment(seg);
        let Some(r) = raw else { return Ok(s) };
        let at = format!("behaviour.{}", seg.name());
        if let Some(x) = r.events_per_sec {
            s.events_per_sec = self.non_negative(&format!("{at}.events_per_sec"), x)?;
            if x > 1000.0 {
                return Err(self.err(format!("{at}.events_per_sec must be at most 1000, not {x}")));
            }
        }
        if let Some(x) = r.find_chance {
            s.find_chance = self.share(&format!("{at}.find_chance"), x)?;
        }
        if let Some(x) = r.claim_propensity {
            s.claim_propensity = self.non_negative(&format!("{at}.claim_propensity"), x)?;
        }
        if let Some(x) = r.session_secs {
            s.session_secs = Some(self.positive(&format!("{at}.session_secs"), x)?);
        }
        Ok(s)
    }

    /// `behaviour.products`: appeal and units per product, by sku.
    fn product_behaviour(
        &self,
        raw: &BTreeMap<String, RawProductBehaviour>,
        hunt: &Hunt,
    ) -> Result<Vec<ProductBehaviour>, ScenarioError> {
        let mut product_b: Vec<ProductBehaviour> = hunt
            .products
            .iter()
            .map(|_| ProductBehaviour { appeal: 0.5, units: 1 })
            .collect();
        for (sku, pb) in raw {
            let i = self.product_index(&hunt.products, "behaviour.products", sku)?;
            let at = format!("behaviour.products.{sku}");
            product_b[i] = ProductBehaviour {
                appeal: self.share(&format!("{at}.appeal"), pb.appeal)?,
                units: self.int(&format!("{at}.units"), pb.units.unwrap_or(1), 1, 1000)? as u32,
            };
        }
        Ok(product_b)
    }

    /// `behaviour.clues`: a chance factor per clue, by id.
    fn clue_chance(&self, raw: &BTreeMap<String, f64>, hunt: &Hunt) -> Result<Vec<Option<f64>>, ScenarioError> {
        let mut clue_chance = vec![None; hunt.clues.len()];
        for (id, chance) in raw {
            let i = hunt.clues.iter().position(|c| c.id == *id).ok_or_else(|| {
                self.err(format!(
                    "behaviour.clues: unknown clue {id:?} (the hunt has {} clues; check the id)",
                    hunt.clues.len()
                ))
            })?;
            clue_chance[i] = Some(self.share(&format!("behaviour.clues.{id}"), *chance)?);
        }
        Ok(clue_chance)
    }
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: shown.clone(),
            source,
        })?;
        Scenario::parse(&text, &shown)
    }

    /// Parses and validates scenario text; `path` only names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| ScenarioError::Toml {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let v = V { path };
        let duration_secs = v.int("duration_secs", raw.duration_secs, 1, MAX_DURATION_SECS)? as u32;
        let seed = match raw.seed {
            Some(s) => v.int("seed", s, 0, i64::MAX)? as u64,
            None => 0,
        };
        let hunt = v.hunt(raw.hunt, duration_secs)?;
        let population = v.population(raw.population, &hunt, duration_secs)?;
        let behaviour = v.behaviour(raw.behaviour, &hunt)?;
        Ok(Scenario {
            name: raw.name.unwrap_or_else(|| hunt.name.clone()),
            seed,
            duration_secs,
            hunt,
            population,
            behaviour,
        })
    }

    /// Total points of all clues: the highest possible score.
    pub fn max_score(&self) -> u64 {
        self.hunt.clues.iter().map(|c| u64::from(c.points)).sum()
    }

    /// The chance that a player of `seg` finds clue `clue` during a stay.
    pub(crate) fn find_chance(&self, seg: usize, clue: usize) -> f64 {
        let factor = self.behaviour.clue_chance[clue].unwrap_or(1.0 - self.hunt.clues[clue].difficulty);
        (self.behaviour.segments[seg].find_chance * factor).clamp(0.0, 1.0)
    }

    /// The engine's hunt definition, with virtual time 0 at `epoch` and the
    /// given hunt id.
    pub(crate) fn hunt_def(&self, id: &str, epoch: Millis) -> HuntDef {
        let h = &self.hunt;
        HuntDef {
            id: id.to_owned(),
            name: h.name.clone(),
            opens_at: Some(epoch + i64::from(h.opens_at_secs) * 1000),
            closes_at: Some(epoch + i64::from(h.closes_at_secs) * 1000),
            clues: h
                .clues
                .iter()
                .map(|c| ClueDef {
                    id: c.id.clone(),
                    points: c.points,
                })
                .collect(),
            products: h
                .products
                .iter()
                .map(|p| ProductDef {
                    sku: p.sku.clone(),
                    stock: p.stock,
                    per_player_limit: p.per_player_limit,
                    min_score: p.min_score,
                })
                .collect(),
        }
    }
}
