//! The observer: every answer the server gave, exactly as it gave it
//! (including the ones the simulated network then "lost" on the way to the
//! client), counted per tick, per product and per claim id. The report's
//! figures and the observation half of the invariant check come from here.

use crate::model::{ClaimAnswer, Tick};
use crate::scenario::Scenario;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use trove_engine::{Outcome, RejectReason};

/// A fault planted on purpose, to prove the invariant check catches it. Only
/// for tests (the binary's hidden `--plant-fault` flag); never the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedFault {
    /// The observer counts one granted claim a second time, as if the
    /// engine had granted the same claim id twice.
    DoubleGrant,
    /// The observer records grants beyond a product's stock.
    Oversell,
    /// The observer records one player getting more units than the limit.
    LimitBreach,
    /// The live state is altered before it is compared with the replay.
    ReplayMismatch,
}

impl std::str::FromStr for PlantedFault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "double-grant" => Ok(PlantedFault::DoubleGrant),
            "oversell" => Ok(PlantedFault::Oversell),
            "limit" => Ok(PlantedFault::LimitBreach),
            "replay" => Ok(PlantedFault::ReplayMismatch),
            _ => Err(format!(
                "unknown fault {s:?} (expected double-grant, oversell, limit or replay)"
            )),
        }
    }
}

/// One named check of the invariants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What is checked, in snake case, e.g. `no_oversell`.
    pub name: String,
    /// True when the invariant held.
    pub ok: bool,
    /// What was compared, or what went wrong, in a sentence.
    pub detail: String,
}

impl Check {
    pub(crate) fn new(name: &str, ok: bool, detail: impl Into<String>) -> Check {
        Check {
            name: name.to_owned(),
            ok,
            detail: detail.into(),
        }
    }
}

pub(crate) fn reason_index(r: RejectReason) -> usize {
    RejectReason::ALL
        .iter()
        .position(|x| *x == r)
        .expect("every reason is listed")
}

/// Counters of one tick.
#[derive(Clone, Debug, Default)]
pub(crate) struct TickObs {
    /// Events sent to the server (clue finds, and telemetry when sent).
    pub(crate) events_sent: u64,
    pub(crate) events_accepted: u64,
    pub(crate) clue_finds_sent: u64,
    /// Checkins and interactions counted but not sent.
    pub(crate) telemetry_aggregated: u64,
    pub(crate) claim_requests: u64,
    pub(crate) granted: u64,
    pub(crate) rejected: [u64; 6],
    /// Answers to a claim id already decided (`duplicate: true`).
    pub(crate) duplicate_answers: u64,
    pub(crate) errors: u64,
    pub(crate) active_players: u64,
    /// Players whose first grant came in this tick.
    pub(crate) new_claimers: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct ProductObs {
    pub(crate) initial: u64,
    pub(crate) added: u64,
    pub(crate) granted: u64,
    pub(crate) rejected: [u64; 6],
    /// Ticks at which a grant took the last unit.
    pub(crate) sellouts: Vec<Tick>,
    pub(crate) first_grant: Option<Tick>,
    /// Stock at the end of every series interval.
    pub(crate) stock_samples: Vec<i64>,
}

impl ProductObs {
    pub(crate) fn remaining(&self) -> i64 {
        self.initial as i64 + self.added as i64 - self.granted as i64
    }
}

#[derive(Clone, Debug)]
struct ClaimObs {
    product: u16,
    /// Answers that decided the claim (`duplicate: false`). More than one is a bug.
    decisions: u32,
    outcome: Option<Outcome>,
    /// Two answers for this claim id disagreed.
    disagree: bool,
}

pub(crate) struct Recorder {
    pub(crate) interval: u32,
    pub(crate) ticks: Vec<TickObs>,
    pub(crate) products: Vec<ProductObs>,
    limits: Vec<u32>,
    claims: HashMap<(u32, u32), ClaimObs>,
    grants: HashMap<(u32, u16), u32>,
    claimed: Vec<bool>,
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) restocks_applied: Vec<(Tick, String, u64)>,
    /// Planted faults applied (tests only).
    pub(crate) planted: Vec<String>,
}

/// Series interval: at most about 240 points over the run.
pub(crate) fn series_interval(duration: u32) -> u32 {
    duration.div_ceil(240).max(1)
}

impl Recorder {
    pub(crate) fn new(sc: &Scenario) -> Recorder {
        Recorder {
            interval: series_interval(sc.duration_secs),
            ticks: vec![TickObs::default(); sc.duration_secs as usize],
            products: sc
                .hunt
                .products
                .iter()
                .map(|p| ProductObs {
                    initial: p.stock,
                    added: 0,
                    granted: 0,
                    rejected: [0; 6],
                    sellouts: Vec::new(),
                    first_grant: None,
                    stock_samples: Vec::new(),
                })
                .collect(),
            limits: sc.hunt.products.iter().map(|p| p.per_player_limit).collect(),
            claims: HashMap::new(),
            grants: HashMap::new(),
            claimed: vec![false; sc.population.players as usize],
            errors: BTreeMap::new(),
            restocks_applied: Vec::new(),
            planted: Vec::new(),
        }
    }

    fn tick(&mut self, t: Tick) -> &mut TickObs {
        let last = self.ticks.len() - 1;
        &mut self.ticks[(t as usize).min(last)]
    }

    pub(crate) fn restock(&mut self, t: Tick, product: usize, sku: &str, add: u64) {
        self.products[product].added += add;
        self.restocks_applied.push((t, sku.to_owned(), add));
    }

    pub(crate) fn error(&mut self, t: Tick, code: &str) {
        self.tick(t).errors += 1;
        *self.errors.entry(code.to_owned()).or_default() += 1;
    }

    pub(crate) fn events(&mut self, t: Tick, sent: u64, clue_finds: u64, accepted: u64) {
        let o = self.tick(t);
        o.events_sent += sent;
        o.clue_finds_sent += clue_finds;
        o.events_accepted += accepted;
    }

    pub(crate) fn telemetry_aggregated(&mut self, t: Tick, n: u64) {
        self.tick(t).telemetry_aggregated += n;
    }

    pub(crate) fn claim_sent(&mut self, t: Tick) {
        self.tick(t).claim_requests += 1;
    }

    /// An answer to a claim (player index, the player's claim number).
    pub(crate) fn claim_answer(&mut self, t: Tick, player: u32, claim_no: u32, product: u16, answer: &ClaimAnswer) {
        let (outcome, duplicate) = match answer {
            ClaimAnswer::Decided { outcome, duplicate } => (*outcome, *duplicate),
            ClaimAnswer::Error(code) => {
                self.error(t, code);
                return;
            }
        };
        let e = self.claims.entry((player, claim_no)).or_insert(ClaimObs {
            product,
            decisions: 0,
            outcome: None,
            disagree: false,
        });
        match e.outcome {
            Some(o) if o != outcome || e.product != product => e.disagree = true,
            Some(_) => {}
            None => e.outcome = Some(outcome),
        }
        if duplicate {
            self.tick(t).duplicate_answers += 1;
            return;
        }
        e.decisions += 1;
        match outcome {
            Outcome::Granted => self.grant(t, player, product),
            Outcome::Rejected(r) => {
                let i = reason_index(r);
                self.tick(t).rejected[i] += 1;
                self.products[product as usize].rejected[i] += 1;
            }
        }
    }

    fn grant(&mut self, t: Tick, player: u32, product: u16) {
        self.tick(t).granted += 1;
        let p = &mut self.products[product as usize];
        p.granted += 1;
        p.first_grant.get_or_insert(t);
        if p.remaining() == 0 {
            p.sellouts.push(t);
        }
        *self.grants.entry((player, product)).or_default() += 1;
        let first = self
            .claimed
            .get_mut(player as usize)
            .is_some_and(|c| !std::mem::replace(c, true));
        if first {
            self.tick(t).new_claimers += 1;
        }
    }

    /// Ends a tick: records active players and, at interval ends, stock.
    pub(crate) fn end_tick(&mut self, t: Tick, active_players: u64) {
        self.tick(t).active_players = active_players;
        let last = self.ticks.len() as u32 - 1;
        if (t + 1).is_multiple_of(self.interval) || t == last {
            for p in &mut self.products {
                let r = p.remaining();
                p.stock_samples.push(r);
            }
        }
    }

    /// Stock left of a product, as observed.
    pub(crate) fn remaining(&self, product: usize) -> i64 {
        self.products[product].remaining()
    }

    pub(crate) fn claimed(&self, player: u32) -> bool {
        self.claimed.get(player as usize).copied().unwrap_or(false)
    }

    /// Claim ids decided at least once.
    pub(crate) fn claims_decided(&self) -> u64 {
        self.claims.values().filter(|c| c.decisions > 0).count() as u64
    }

    /// Applies a planted fault to the observations (tests only).
    pub(crate) fn plant(&mut self, fault: PlantedFault) {
        match fault {
            PlantedFault::DoubleGrant => {
                let mut granted: Vec<(u32, u32)> = self
                    .claims
                    .iter()
                    .filter(|(_, c)| c.outcome == Some(Outcome::Granted) && c.decisions > 0)
                    .map(|(k, _)| *k)
                    .collect();
                granted.sort_unstable();
                if let Some(key) = granted.first() {
                    let c = self.claims.get_mut(key).expect("listed above");
                    c.decisions += 1;
                    let product = c.product as usize;
                    self.products[product].granted += 1;
                    self.planted.push(format!(
                        "double-grant: claim c{} of player #{} counted as granted twice",
                        key.1, key.0
                    ));
                }
            }
            PlantedFault::Oversell => {
                if let Some(p) = (0..self.products.len()).next() {
                    let extra = self.remaining(p).max(0) as u64 + 1;
                    for k in 0..extra {
                        let fake = u32::MAX - k as u32;
                        self.claims.insert(
                            (fake, 1),
                            ClaimObs {
                                product: p as u16,
                                decisions: 1,
                                outcome: Some(Outcome::Granted),
                                disagree: false,
                            },
                        );
                        self.products[p].granted += 1;
                        *self.grants.entry((fake, p as u16)).or_default() += 1;
                    }
                    self.planted
                        .push(format!("oversell: {extra} fabricated grants of product #{p}"));
                }
            }
            PlantedFault::LimitBreach => {
                let mut held: Vec<((u32, u16), u32)> = self.grants.iter().map(|(k, v)| (*k, *v)).collect();
                held.sort_unstable();
                if let Some(&((player, product), n)) = held.first() {
                    let extra = self.limits[product as usize].saturating_sub(n) + 1;
                    for k in 0..extra {
                        self.claims.insert(
                            (player, 4_000_000_000 + k),
                            ClaimObs {
                                product,
                                decisions: 1,
                                outcome: Some(Outcome::Granted),
                                disagree: false,
                            },
                        );
                    }
                    *self.grants.entry((player, product)).or_default() += extra;
                    self.planted.push(format!(
                        "limit: {extra} fabricated grants of product #{product} to player #{player}"
                    ));
                }
            }
            PlantedFault::ReplayMismatch => {}
        }
    }

    /// The invariants as far as the answers show them.
    pub(crate) fn checks(&self, sc: &Scenario, player_name: &dyn Fn(u32) -> String) -> Vec<Check> {
        vec![
            self.check_granted_once(player_name),
            self.check_no_oversell(sc),
            self.check_limits(sc, player_name),
        ]
    }

    /// No claim granted twice, and every answer for a claim id agrees.
    fn check_granted_once(&self, player_name: &dyn Fn(u32) -> String) -> Check {
        let mut twice: Vec<(u32, u32)> = Vec::new();
        let mut disagree: Vec<(u32, u32)> = Vec::new();
        for (k, c) in &self.claims {
            if c.decisions > 1 {
                twice.push(*k);
            }
            if c.disagree {
                disagree.push(*k);
            }
        }
        twice.sort_unstable();
        disagree.sort_unstable();
        let show = |v: &[(u32, u32)]| -> String {
            v.iter()
                .take(5)
                .map(|(p, c)| format!("{}/c{}", player_name(*p), c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let decided = self.claims_decided();
        if twice.is_empty() && disagree.is_empty() {
            return Check::new(
                "no_claim_granted_twice",
                true,
                format!("{decided} claim ids decided once each; every duplicate answer repeated the original"),
            );
        }
        let mut d = Vec::new();
        if !twice.is_empty() {
            d.push(format!(
                "{} claim ids were decided more than once: {}",
                twice.len(),
                show(&twice)
            ));
        }
        if !disagree.is_empty() {
            d.push(format!(
                "{} claim ids got answers that disagree: {}",
                disagree.len(),
                show(&disagree)
            ));
        }
        Check::new("no_claim_granted_twice", false, d.join("; "))
    }

    /// No product granted beyond its stock plus restocks.
    fn check_no_oversell(&self, sc: &Scenario) -> Check {
        let mut over = Vec::new();
        for (i, p) in self.products.iter().enumerate() {
            if p.granted > p.initial + p.added {
                over.push(format!(
                    "{:?}: {} units granted, but the stock was {} + {} restocked",
                    sc.hunt.products[i].sku, p.granted, p.initial, p.added
                ));
            }
        }
        let total: u64 = self.products.iter().map(|p| p.granted).sum();
        if over.is_empty() {
            Check::new(
                "no_oversell",
                true,
                format!(
                    "{total} units granted over {} products, none beyond its stock plus restocks",
                    self.products.len()
                ),
            )
        } else {
            Check::new("no_oversell", false, over.join("; "))
        }
    }

    /// No player holds more of a product than its per-player limit.
    fn check_limits(&self, sc: &Scenario, player_name: &dyn Fn(u32) -> String) -> Check {
        let mut breaches: Vec<(u32, u16, u32)> = self
            .grants
            .iter()
            .filter(|((_, p), n)| **n > self.limits[*p as usize])
            .map(|((pl, p), n)| (*pl, *p, *n))
            .collect();
        breaches.sort_unstable();
        if breaches.is_empty() {
            return Check::new(
                "per_player_limits_held",
                true,
                format!(
                    "{} (player, product) pairs hold grants, none above the product's limit",
                    self.grants.len()
                ),
            );
        }
        let shown: Vec<String> = breaches
            .iter()
            .take(5)
            .map(|(pl, p, n)| {
                format!(
                    "{} holds {} of {:?} (limit {})",
                    player_name(*pl),
                    n,
                    sc.hunt.products[*p as usize].sku,
                    self.limits[*p as usize]
                )
            })
            .collect();
        Check::new(
            "per_player_limits_held",
            false,
            format!("{} players above a limit: {}", breaches.len(), shown.join("; ")),
        )
    }
}
