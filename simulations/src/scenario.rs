//! Scenario files: a hunt, a population and its behaviour, in TOML.
//!
//! A scenario is parsed into loosely typed "raw" structs first (numbers as
//! `i64`/`f64`, unknown keys refused), then validated field by field into
//! [`Scenario`], so that every mistake comes back as one message naming the
//! field: `hunt.products[1] ("mug"): stock must be 0 or more, not -5`.
//! The format is documented in `docs/SIMULATIONS.md`.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use trove_engine::{limits, ClueDef, HuntDef, Millis, ProductDef, MAX_STOCK};

/// A scenario that failed to load.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("scenario {path} is not valid TOML: {message}")]
    Toml { path: String, message: String },
    #[error("scenario {path}: {message}")]
    Invalid { path: String, message: String },
}

/// The three kinds of player.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    Casual,
    Active,
    Power,
}

impl Segment {
    pub const ALL: [Segment; 3] = [Segment::Casual, Segment::Active, Segment::Power];

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

#[derive(Clone, Debug, Serialize)]
pub struct Clue {
    pub id: String,
    pub points: u32,
    /// 0 (found by anyone who looks) to 1 (never found).
    pub difficulty: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Product {
    pub sku: String,
    pub stock: u64,
    pub per_player_limit: u32,
    pub min_score: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Restock {
    pub at_secs: u32,
    /// Index into [`Hunt::products`].
    pub product: usize,
    pub sku: String,
    pub add: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Hunt {
    pub id: String,
    pub name: String,
    pub opens_at_secs: u32,
    pub closes_at_secs: u32,
    pub clues: Vec<Clue>,
    pub products: Vec<Product>,
    /// Sorted by time, then file order.
    pub restocks: Vec<Restock>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Population {
    pub players: u32,
    /// The name of the arrival preset, or "custom".
    pub arrival: String,
    /// Cumulative share of players arrived at each point: (seconds, share),
    /// seconds increasing, share from 0 to 1. Linear in between.
    pub arrival_curve: Vec<(f64, f64)>,
    /// Shares of casual, active and power players; they sum to 1.
    pub segments: [f64; 3],
}

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

#[derive(Clone, Debug, Serialize)]
pub struct ProductBehaviour {
    /// Chance that a player (of propensity 1) wants this product.
    pub appeal: f64,
    /// Units a player who wants it tries to get.
    pub units: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct Behaviour {
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
    pub name: String,
    pub seed: u64,
    pub duration_secs: u32,
    pub hunt: Hunt,
    pub population: Population,
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
pub const MAX_DURATION_SECS: i64 = 7 * 24 * 3600;
/// Most players in one scenario.
pub const MAX_PLAYERS: i64 = 10_000_000;

/// Defaults of each segment when the scenario leaves them out.
pub fn default_segment(s: Segment) -> SegmentBehaviour {
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
pub const ARRIVAL_PRESETS: [(&str, &[(f64, f64)]); 4] = [
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

        // Hunt.
        let h = raw.hunt;
        v.id("hunt.id", &h.id)?;
        let opens_at_secs = v.int(
            "hunt.opens_at_secs",
            h.opens_at_secs.unwrap_or(0),
            0,
            duration_secs as i64 - 1,
        )? as u32;
        let closes_at_secs = v.int(
            "hunt.closes_at_secs",
            h.closes_at_secs.unwrap_or(duration_secs as i64),
            opens_at_secs as i64 + 1,
            MAX_DURATION_SECS,
        )? as u32;
        if h.clues.len() > limits::MAX_CLUES {
            return Err(v.err(format!("hunt.clues: more than {} clues", limits::MAX_CLUES)));
        }
        if h.products.len() > limits::MAX_PRODUCTS {
            return Err(v.err(format!("hunt.products: more than {} products", limits::MAX_PRODUCTS)));
        }
        let mut seen = HashSet::new();
        let mut clues = Vec::with_capacity(h.clues.len());
        for (i, c) in h.clues.iter().enumerate() {
            let at = format!("hunt.clues[{i}]");
            v.id(&format!("{at}.id"), &c.id)?;
            if !seen.insert(c.id.clone()) {
                return Err(v.err(format!("{at}: duplicate clue id {:?}", c.id)));
            }
            let at = format!("{at} ({:?})", c.id);
            let points = v.int(&format!("{at}: points"), c.points, 0, u32::MAX as i64)? as u32;
            let difficulty = v.share(&format!("{at}: difficulty"), c.difficulty.unwrap_or(0.0))?;
            clues.push(Clue {
                id: c.id.clone(),
                points,
                difficulty,
            });
        }
        seen.clear();
        let mut products = Vec::with_capacity(h.products.len());
        for (i, p) in h.products.iter().enumerate() {
            let at = format!("hunt.products[{i}]");
            v.id(&format!("{at}.sku"), &p.sku)?;
            if !seen.insert(p.sku.clone()) {
                return Err(v.err(format!("{at}: duplicate sku {:?}", p.sku)));
            }
            let at = format!("{at} ({:?})", p.sku);
            let stock = v.int(&format!("{at}: stock"), p.stock, 0, MAX_STOCK as i64)? as u64;
            let per_player_limit = v.int(
                &format!("{at}: per_player_limit"),
                p.per_player_limit.unwrap_or(1),
                1,
                u32::MAX as i64,
            )? as u32;
            let min_score = v.int(&format!("{at}: min_score"), p.min_score.unwrap_or(0), 0, i64::MAX)? as u64;
            products.push(Product {
                sku: p.sku.clone(),
                stock,
                per_player_limit,
                min_score,
            });
        }
        let product_index = |products: &[Product], what: &str, sku: &str| -> Result<usize, ScenarioError> {
            products.iter().position(|p| p.sku == sku).ok_or_else(|| {
                let known: Vec<&str> = products.iter().map(|p| p.sku.as_str()).collect();
                v.err(format!(
                    "{what}: unknown product {sku:?} (the hunt's products are: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
            })
        };
        let mut restocks = Vec::with_capacity(h.restocks.len());
        for (i, r) in h.restocks.iter().enumerate() {
            let at = format!("hunt.restocks[{i}]");
            let product = product_index(&products, &at, &r.sku)?;
            let at_secs = v.int(&format!("{at}: at_secs"), r.at_secs, 0, duration_secs as i64 - 1)? as u32;
            let add = v.int(&format!("{at}: add"), r.add, 1, MAX_STOCK as i64)? as u64;
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
                return Err(v.err(format!(
                    "hunt.products ({:?}): stock plus restocks exceeds {MAX_STOCK}",
                    prod.sku
                )));
            }
        }
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
            return Err(v.err(format!("hunt.name is longer than {} bytes", limits::MAX_TEXT_BYTES)));
        }

        // Population.
        let p = raw.population;
        let players = v.int("population.players", p.players, 1, MAX_PLAYERS)? as u32;
        let window_end = closes_at_secs.min(duration_secs);
        let window = (window_end - opens_at_secs) as f64;
        let (arrival, arrival_curve) = match (&p.arrival, &p.arrival_curve) {
            (Some(_), Some(_)) => {
                return Err(v.err("population: give either arrival (a preset) or arrival_curve, not both"));
            }
            (None, Some(curve)) => {
                if curve.len() < 2 {
                    return Err(v.err("population.arrival_curve needs at least two [seconds, share] points"));
                }
                for (i, &(t, s)) in curve.iter().enumerate() {
                    let at = format!("population.arrival_curve[{i}]");
                    v.non_negative(&format!("{at} seconds"), t)?;
                    if t > duration_secs as f64 {
                        return Err(v.err(format!("{at}: {t} s is after the end of the run ({duration_secs} s)")));
                    }
                    v.share(&format!("{at} share"), s)?;
                    if i > 0 {
                        let (pt, ps) = curve[i - 1];
                        if t <= pt {
                            return Err(v.err(format!("{at}: seconds must increase ({t} after {pt})")));
                        }
                        if s < ps {
                            return Err(v.err(format!("{at}: the cumulative share must not fall ({s} after {ps})")));
                        }
                    }
                }
                if curve[0].1 != 0.0 || curve[curve.len() - 1].1 != 1.0 {
                    return Err(v.err("population.arrival_curve must start at share 0 and end at share 1"));
                }
                ("custom".to_owned(), curve.clone())
            }
            (name, None) => {
                let name = name.clone().unwrap_or_else(|| "front_loaded".into());
                let Some((_, points)) = ARRIVAL_PRESETS.iter().find(|(n, _)| *n == name) else {
                    let names: Vec<&str> = ARRIVAL_PRESETS.iter().map(|(n, _)| *n).collect();
                    return Err(v.err(format!(
                        "population.arrival: unknown preset {name:?} (expected one of {}, or give arrival_curve)",
                        names.join(", ")
                    )));
                };
                let curve = points
                    .iter()
                    .map(|&(f, s)| (opens_at_secs as f64 + f * window, s))
                    .collect();
                (name, curve)
            }
        };
        let segments = match p.segments {
            None => [0.6, 0.3, 0.1],
            Some(s) => {
                let shares = [
                    v.share("population.segments.casual", s.casual.unwrap_or(0.0))?,
                    v.share("population.segments.active", s.active.unwrap_or(0.0))?,
                    v.share("population.segments.power", s.power.unwrap_or(0.0))?,
                ];
                let sum: f64 = shares.iter().sum();
                if (sum - 1.0).abs() > 1e-6 {
                    return Err(v.err(format!(
                        "population.segments: the shares of casual, active and power must add up to 1, not {sum}"
                    )));
                }
                shares
            }
        };
        let population = Population {
            players,
            arrival,
            arrival_curve,
            segments,
        };

        // Behaviour.
        let b = raw.behaviour;
        let telemetry = match b.telemetry.as_deref() {
            None | Some("aggregate") => TelemetryMode::Aggregate,
            Some("engine") => TelemetryMode::Engine,
            Some(other) => {
                return Err(v.err(format!(
                    "behaviour.telemetry: unknown mode {other:?} (expected aggregate or engine)"
                )))
            }
        };
        let mut segs = Vec::with_capacity(3);
        for (seg, raw_seg) in Segment::ALL.iter().zip([b.casual, b.active, b.power]) {
            let mut s = default_segment(*seg);
            if let Some(r) = raw_seg {
                let at = format!("behaviour.{}", seg.name());
                if let Some(x) = r.events_per_sec {
                    s.events_per_sec = v.non_negative(&format!("{at}.events_per_sec"), x)?;
                    if x > 1000.0 {
                        return Err(v.err(format!("{at}.events_per_sec must be at most 1000, not {x}")));
                    }
                }
                if let Some(x) = r.find_chance {
                    s.find_chance = v.share(&format!("{at}.find_chance"), x)?;
                }
                if let Some(x) = r.claim_propensity {
                    s.claim_propensity = v.non_negative(&format!("{at}.claim_propensity"), x)?;
                }
                if let Some(x) = r.session_secs {
                    s.session_secs = Some(v.positive(&format!("{at}.session_secs"), x)?);
                }
            }
            segs.push(s);
        }
        let segments_b: [SegmentBehaviour; 3] = segs.try_into().expect("three segments");
        let mut product_b: Vec<ProductBehaviour> = hunt
            .products
            .iter()
            .map(|_| ProductBehaviour { appeal: 0.5, units: 1 })
            .collect();
        for (sku, pb) in &b.products {
            let i = product_index(&hunt.products, "behaviour.products", sku)?;
            let at = format!("behaviour.products.{sku}");
            product_b[i] = ProductBehaviour {
                appeal: v.share(&format!("{at}.appeal"), pb.appeal)?,
                units: v.int(&format!("{at}.units"), pb.units.unwrap_or(1), 1, 1000)? as u32,
            };
        }
        let mut clue_chance = vec![None; hunt.clues.len()];
        for (id, chance) in &b.clues {
            let i = hunt.clues.iter().position(|c| c.id == *id).ok_or_else(|| {
                v.err(format!(
                    "behaviour.clues: unknown clue {id:?} (the hunt has {} clues; check the id)",
                    hunt.clues.len()
                ))
            })?;
            clue_chance[i] = Some(v.share(&format!("behaviour.clues.{id}"), *chance)?);
        }
        let behaviour = Behaviour {
            telemetry,
            segments: segments_b,
            products: product_b,
            clue_chance,
            claim_delay_secs: v.non_negative("behaviour.claim_delay_secs", b.claim_delay_secs.unwrap_or(30.0))?,
            early_claim_share: v.share("behaviour.early_claim_share", b.early_claim_share.unwrap_or(0.05))?,
            out_of_stock_retry_share: v.share(
                "behaviour.out_of_stock_retry_share",
                b.out_of_stock_retry_share.unwrap_or(0.2),
            )?,
            out_of_stock_retry_secs: v.non_negative(
                "behaviour.out_of_stock_retry_secs",
                b.out_of_stock_retry_secs.unwrap_or(300.0),
            )?,
            retries: v.int("behaviour.retries", b.retries.unwrap_or(2), 0, 20)? as u32,
            retry_after_secs: v.non_negative("behaviour.retry_after_secs", b.retry_after_secs.unwrap_or(2.0))?,
            duplicate_share: v.share("behaviour.duplicate_share", b.duplicate_share.unwrap_or(0.01))?,
            lost_share: v.share("behaviour.lost_share", b.lost_share.unwrap_or(0.002))?,
            lost_reply_share: v.share("behaviour.lost_reply_share", b.lost_reply_share.unwrap_or(0.5))?,
        };
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
    pub fn find_chance(&self, seg: usize, clue: usize) -> f64 {
        let factor = self.behaviour.clue_chance[clue].unwrap_or(1.0 - self.hunt.clues[clue].difficulty);
        (self.behaviour.segments[seg].find_chance * factor).clamp(0.0, 1.0)
    }

    /// The engine's hunt definition, with virtual time 0 at `epoch` and the
    /// given hunt id.
    pub fn hunt_def(&self, id: &str, epoch: Millis) -> HuntDef {
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
