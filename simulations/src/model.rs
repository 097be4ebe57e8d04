//! The population model: who arrives when, what they find, what they want,
//! and how their game clients talk to the server (delays, retries, duplicate
//! sends, lost requests).
//!
//! The model is a discrete-event simulation in 1-second ticks. For each tick,
//! [`Model::plan`] says what the clients send (in a fixed order, from seeded
//! random streams), the driver sends it (to the in-process engine or to a live
//! server), and hands every answer back through [`Model::deliver_event`] and
//! [`Model::deliver_claim`]. The model never sees the engine's state, only the
//! answers a client would see, minus the ones the network loses.

use crate::rng::{self, Stream};
use crate::scenario::{Scenario, Segment};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use trove_engine::{Outcome, RejectReason};

/// Seconds since the start of the run.
pub(crate) type Tick = u32;

/// Never, or not within the run.
const NEVER: Tick = Tick::MAX;

/// Checkin locations and interaction kinds the telemetry uses.
pub(crate) const LOCATIONS: u16 = 40;
pub(crate) const INTERACTIONS: [&str; 6] = ["tap", "scan", "photo", "hint", "share", "chat"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventPlan {
    Clue { clue: u16, attempt: u8 },
    Checkin(u16),
    Interaction(u16),
}

/// One event a client sends.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PlannedEvent {
    pub(crate) player: u32,
    pub(crate) kind: EventPlan,
    /// The server will get it, but its answer will be lost.
    pub(crate) reply_lost: bool,
}

/// One claim request a client sends. A duplicate send is a second copy with
/// the same claim id; a retry is a later attempt with the same claim id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PlannedClaim {
    pub(crate) player: u32,
    pub(crate) product: u16,
    pub(crate) want: u16,
    /// The player's n-th claim id (from 1).
    pub(crate) claim_no: u32,
    pub(crate) attempt: u8,
    pub(crate) reply_lost: bool,
}

/// What the server answered to a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ClaimAnswer {
    Decided {
        outcome: Outcome,
        duplicate: bool,
    },
    /// An error reply (its code), or no reply at all ("no_reply").
    Error(String),
}

/// What the clients send during one tick.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// (product index, units) added by the designers at this tick.
    pub(crate) restocks: Vec<(usize, u64)>,
    pub(crate) events: Vec<PlannedEvent>,
    /// Checkins and interactions counted but not sent (aggregate telemetry).
    pub(crate) telemetry_aggregated: u64,
    pub(crate) claims: Vec<PlannedClaim>,
}

/// What the clients did, as the clients saw it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClientStats {
    /// Players who arrived during the run.
    pub players_arrived: u64,
    /// Clue finds the players made (each is sent until acknowledged or given up).
    pub clue_finds: u64,
    /// Clue find requests sent, retries included.
    pub clue_find_sends: u64,
    /// Clue finds the client stopped retrying without an answer.
    pub clue_finds_given_up: u64,
    /// Checkins and interactions (sent or aggregated).
    pub telemetry_events: u64,
    /// Claim ids used (one per attempt to get a unit).
    pub claims_started: u64,
    /// Claim requests sent, with retries and duplicate sends.
    pub claim_sends: u64,
    /// Claims sent a second time on purpose (same claim id).
    pub duplicate_sends: u64,
    /// Requests sent again after no answer (events and claims).
    pub retries: u64,
    /// Requests lost before reaching the server.
    pub lost_requests: u64,
    /// Answers lost on the way back to the client.
    pub lost_replies: u64,
    /// Claims the client stopped retrying without ever hearing an answer.
    pub claims_given_up: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WantState {
    Idle,
    Scheduled,
    InFlight,
    Done,
}

#[derive(Clone, Debug)]
struct Want {
    product: u16,
    units_left: u32,
    state: WantState,
}

#[derive(Clone, Debug)]
struct PlayerSim {
    seg: u8,
    arrive: Tick,
    leave: Tick,
    known_score: u64,
    found: Box<[u64]>,
    claims: u32,
    wants: Vec<Want>,
    /// Position in `active` while active.
    slot: u32,
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Leave(u32),
    Find {
        player: u32,
        clue: u16,
        attempt: u8,
    },
    Claim {
        player: u32,
        want: u16,
    },
    Resend {
        player: u32,
        want: u16,
        claim_no: u32,
        attempt: u8,
    },
}

struct Inflight {
    expected: u8,
    received: u8,
    handled: bool,
}

pub(crate) struct Model {
    sc: Arc<Scenario>,
    send_telemetry: bool,
    duration: Tick,
    close: Tick,
    behaviour_rng: ChaCha8Rng,
    network_rng: ChaCha8Rng,
    telemetry_rng: ChaCha8Rng,
    players: Vec<PlayerSim>,
    arrivals: Vec<Vec<u32>>,
    calendar: Vec<Vec<Action>>,
    active: Vec<u32>,
    active_by_segment: [u64; 3],
    inflight: HashMap<(u32, u32, u8), Inflight>,
    restocks: Vec<Vec<(usize, u64)>>,
    retry_ticks: Tick,
    words: usize,
    stats: ClientStats,
}

fn ticks(secs: f64) -> Tick {
    (secs.ceil() as u64).clamp(1, u64::from(u32::MAX / 2)) as Tick
}

impl Model {
    /// Builds the population. `send_telemetry` makes checkins and
    /// interactions real events in the plan instead of a count.
    pub(crate) fn new(sc: Arc<Scenario>, seed: u64, send_telemetry: bool) -> Model {
        let duration = sc.duration_secs;
        let close = sc.hunt.closes_at_secs.min(duration);
        let mut pop = rng::stream(seed, Stream::Population);
        let n = sc.population.players as usize;
        let shares = sc.population.segments;
        let mut players = Vec::with_capacity(n);
        let mut arrivals = vec![Vec::new(); duration as usize];
        for i in 0..n {
            let u = rng::unit(&mut pop);
            let seg = if u < shares[0] {
                0
            } else if u < shares[0] + shares[1] {
                1
            } else {
                2
            };
            let at = rng::invert_curve(&sc.population.arrival_curve, rng::unit(&mut pop));
            let arrive = (at.floor() as i64).clamp(0, i64::from(duration) - 1) as Tick;
            let session = sc.behaviour.segments[seg].session_secs;
            let stay = session.map(|mean| rng::exponential(&mut pop, mean));
            let leave = match stay {
                Some(s) => arrive.saturating_add(ticks(s)),
                None => NEVER,
            };
            arrivals[arrive as usize].push(i as u32);
            players.push(PlayerSim {
                seg: seg as u8,
                arrive,
                leave: if leave >= duration { NEVER } else { leave },
                known_score: 0,
                found: Box::new([]),
                claims: 0,
                wants: Vec::new(),
                slot: u32::MAX,
            });
        }
        let mut restocks = vec![Vec::new(); duration as usize];
        for r in &sc.hunt.restocks {
            restocks[r.at_secs as usize].push((r.product, r.add));
        }
        Model {
            retry_ticks: ticks(sc.behaviour.retry_after_secs),
            words: sc.hunt.clues.len().div_ceil(64),
            behaviour_rng: rng::stream(seed, Stream::Behaviour),
            network_rng: rng::stream(seed, Stream::Network),
            telemetry_rng: rng::stream(seed, Stream::Telemetry),
            calendar: (0..duration).map(|_| Vec::new()).collect(),
            sc,
            send_telemetry,
            duration,
            close,
            players,
            arrivals,
            active: Vec::new(),
            active_by_segment: [0; 3],
            inflight: HashMap::new(),
            restocks,
            stats: ClientStats::default(),
        }
    }

    pub(crate) fn stats(&self) -> &ClientStats {
        &self.stats
    }

    pub(crate) fn active_players(&self) -> u64 {
        self.active.len() as u64
    }

    pub(crate) fn segment(&self, player: u32) -> Segment {
        Segment::ALL[self.players[player as usize].seg as usize]
    }

    /// The score a player's client knows of: the points of its acknowledged finds.
    pub(crate) fn known_score(&self, player: u32) -> u64 {
        self.players[player as usize].known_score
    }

    /// Whether the player arrived at or before `t`.
    pub(crate) fn arrived_by(&self, player: u32, t: Tick) -> bool {
        self.players[player as usize].arrive <= t
    }

    fn schedule(&mut self, at: Tick, action: Action) -> bool {
        if at < self.duration {
            self.calendar[at as usize].push(action);
            true
        } else {
            false
        }
    }

    fn delay(&mut self, mean: f64) -> Tick {
        ticks(rng::exponential(&mut self.behaviour_rng, mean))
    }

    /// What the clients send during tick `t`. Ticks must be planned in order.
    pub(crate) fn plan(&mut self, t: Tick) -> Plan {
        let mut plan = Plan {
            restocks: std::mem::take(&mut self.restocks[t as usize]),
            ..Plan::default()
        };
        for player in std::mem::take(&mut self.arrivals[t as usize]) {
            self.arrive(t, player);
        }
        for action in std::mem::take(&mut self.calendar[t as usize]) {
            match action {
                Action::Leave(p) => self.leave(p),
                Action::Find { player, clue, attempt } => self.send_find(t, &mut plan, player, clue, attempt),
                Action::Claim { player, want } => {
                    let ps = &mut self.players[player as usize];
                    if t >= ps.leave {
                        ps.wants[want as usize].state = WantState::Done;
                        continue;
                    }
                    ps.claims += 1;
                    let claim_no = ps.claims;
                    self.stats.claims_started += 1;
                    self.send_claim(t, &mut plan, player, want, claim_no, 0);
                }
                Action::Resend {
                    player,
                    want,
                    claim_no,
                    attempt,
                } => {
                    if t >= self.players[player as usize].leave {
                        self.players[player as usize].wants[want as usize].state = WantState::Done;
                        self.stats.claims_given_up += 1;
                        continue;
                    }
                    self.stats.retries += 1;
                    self.send_claim(t, &mut plan, player, want, claim_no, attempt);
                }
            }
        }
        self.telemetry(&mut plan);
        plan
    }

    fn arrive(&mut self, t: Tick, player: u32) {
        self.stats.players_arrived += 1;
        let sc = self.sc.clone();
        let seg = self.players[player as usize].seg as usize;
        {
            let ps = &mut self.players[player as usize];
            ps.found = vec![0u64; self.words].into_boxed_slice();
            ps.slot = self.active.len() as u32;
        }
        self.active.push(player);
        self.active_by_segment[seg] += 1;
        let leave = self.players[player as usize].leave;
        if leave != NEVER {
            self.schedule(leave, Action::Leave(player));
        }
        // The clues this player will find, and when.
        let from = t.max(sc.hunt.opens_at_secs);
        let until = leave.min(self.close);
        for c in 0..sc.hunt.clues.len() {
            let p = sc.find_chance(seg, c);
            if rng::chance(&mut self.behaviour_rng, p) && from < until {
                let span = f64::from(until - from);
                let at = from + (rng::unit(&mut self.behaviour_rng) * span).floor() as Tick;
                self.stats.clue_finds += 1;
                self.schedule(
                    at,
                    Action::Find {
                        player,
                        clue: c as u16,
                        attempt: 0,
                    },
                );
            }
        }
        // The products this player wants.
        let propensity = sc.behaviour.segments[seg].claim_propensity;
        for (i, pb) in sc.behaviour.products.iter().enumerate() {
            if !rng::chance(&mut self.behaviour_rng, (pb.appeal * propensity).min(1.0)) {
                continue;
            }
            let want = self.players[player as usize].wants.len() as u16;
            self.players[player as usize].wants.push(Want {
                product: i as u16,
                units_left: pb.units,
                state: WantState::Idle,
            });
            let min = sc.hunt.products[i].min_score;
            if min == 0 || rng::chance(&mut self.behaviour_rng, sc.behaviour.early_claim_share) {
                let at = t + self.delay(sc.behaviour.claim_delay_secs);
                if self.schedule(at, Action::Claim { player, want }) {
                    self.players[player as usize].wants[want as usize].state = WantState::Scheduled;
                }
            }
        }
    }

    fn leave(&mut self, player: u32) {
        let ps = &mut self.players[player as usize];
        let slot = ps.slot as usize;
        ps.slot = u32::MAX;
        let seg = ps.seg as usize;
        self.active.swap_remove(slot);
        if let Some(&moved) = self.active.get(slot) {
            self.players[moved as usize].slot = slot as u32;
        }
        self.active_by_segment[seg] -= 1;
    }

    /// Whether a request is lost: `None` = delivered, `Some(true)` = the
    /// server gets it but the answer is lost, `Some(false)` = never arrives.
    fn lose(&mut self) -> Option<bool> {
        let b = &self.sc.behaviour;
        if !rng::chance(&mut self.network_rng, b.lost_share) {
            return None;
        }
        let reply = rng::chance(&mut self.network_rng, b.lost_reply_share);
        Some(reply)
    }

    fn send_find(&mut self, t: Tick, plan: &mut Plan, player: u32, clue: u16, attempt: u8) {
        if t >= self.players[player as usize].leave || t >= self.close {
            self.stats.clue_finds_given_up += 1;
            return;
        }
        if attempt > 0 {
            self.stats.retries += 1;
        }
        self.stats.clue_find_sends += 1;
        match self.lose() {
            Some(false) => {
                self.stats.lost_requests += 1;
                self.find_unanswered(t, player, clue, attempt);
            }
            lost => plan.events.push(PlannedEvent {
                player,
                kind: EventPlan::Clue { clue, attempt },
                reply_lost: lost == Some(true),
            }),
        }
    }

    fn find_unanswered(&mut self, t: Tick, player: u32, clue: u16, attempt: u8) {
        if u32::from(attempt) < self.sc.behaviour.retries {
            let at = t + self.retry_ticks;
            if self.schedule(
                at,
                Action::Find {
                    player,
                    clue,
                    attempt: attempt + 1,
                },
            ) {
                return;
            }
        }
        self.stats.clue_finds_given_up += 1;
    }

    fn send_claim(&mut self, t: Tick, plan: &mut Plan, player: u32, want: u16, claim_no: u32, attempt: u8) {
        let copies = if rng::chance(&mut self.network_rng, self.sc.behaviour.duplicate_share) {
            self.stats.duplicate_sends += 1;
            2
        } else {
            1
        };
        let product = self.players[player as usize].wants[want as usize].product;
        let mut sent = 0u8;
        for _ in 0..copies {
            self.stats.claim_sends += 1;
            match self.lose() {
                Some(false) => self.stats.lost_requests += 1,
                lost => {
                    sent += 1;
                    plan.claims.push(PlannedClaim {
                        player,
                        product,
                        want,
                        claim_no,
                        attempt,
                        reply_lost: lost == Some(true),
                    });
                }
            }
        }
        self.players[player as usize].wants[want as usize].state = WantState::InFlight;
        if sent == 0 {
            self.claim_unanswered(t, player, want, claim_no, attempt);
        } else {
            self.inflight.insert(
                (player, claim_no, attempt),
                Inflight {
                    expected: sent,
                    received: 0,
                    handled: false,
                },
            );
        }
    }

    fn claim_unanswered(&mut self, t: Tick, player: u32, want: u16, claim_no: u32, attempt: u8) {
        if u32::from(attempt) < self.sc.behaviour.retries {
            let at = t + self.retry_ticks;
            if self.schedule(
                at,
                Action::Resend {
                    player,
                    want,
                    claim_no,
                    attempt: attempt + 1,
                },
            ) {
                return;
            }
        }
        self.stats.claims_given_up += 1;
        self.players[player as usize].wants[want as usize].state = WantState::Done;
    }

    fn telemetry(&mut self, plan: &mut Plan) {
        let segs = &self.sc.behaviour.segments;
        if !self.send_telemetry {
            let mut n = 0;
            for (s, seg) in segs.iter().enumerate() {
                let lambda = self.active_by_segment[s] as f64 * seg.events_per_sec;
                n += rng::poisson(&mut self.telemetry_rng, lambda);
            }
            plan.telemetry_aggregated = n;
            self.stats.telemetry_events += n;
            return;
        }
        for &player in &self.active {
            let seg = self.players[player as usize].seg as usize;
            let n = rng::poisson(&mut self.telemetry_rng, segs[seg].events_per_sec);
            for _ in 0..n {
                let r = rng::unit(&mut self.telemetry_rng);
                let kind = if r < 0.5 {
                    EventPlan::Checkin((r * 2.0 * f64::from(LOCATIONS)) as u16 % LOCATIONS)
                } else {
                    EventPlan::Interaction(
                        ((r - 0.5) * 2.0 * INTERACTIONS.len() as f64) as u16 % INTERACTIONS.len() as u16,
                    )
                };
                plan.events.push(PlannedEvent {
                    player,
                    kind,
                    reply_lost: false,
                });
            }
            self.stats.telemetry_events += n;
        }
    }

    /// The answer to an event: accepted or not (an error or no answer).
    pub(crate) fn deliver_event(&mut self, t: Tick, ev: &PlannedEvent, accepted: bool) {
        let EventPlan::Clue { clue, attempt } = ev.kind else {
            return;
        };
        if ev.reply_lost {
            self.stats.lost_replies += 1;
        }
        if !accepted || ev.reply_lost {
            self.find_unanswered(t, ev.player, clue, attempt);
            return;
        }
        let sc = self.sc.clone();
        let ps = &mut self.players[ev.player as usize];
        let (w, b) = (clue as usize / 64, clue as usize % 64);
        if ps.found[w] & (1 << b) != 0 {
            return;
        }
        ps.found[w] |= 1 << b;
        ps.known_score += u64::from(sc.hunt.clues[clue as usize].points);
        // Newly eligible products: claim after a reaction delay.
        let score = ps.known_score;
        for i in 0..ps.wants.len() {
            let ps = &self.players[ev.player as usize];
            let want = &ps.wants[i];
            if want.state == WantState::Idle && sc.hunt.products[want.product as usize].min_score <= score {
                let at = t + self.delay(sc.behaviour.claim_delay_secs);
                if self.schedule(
                    at,
                    Action::Claim {
                        player: ev.player,
                        want: i as u16,
                    },
                ) {
                    self.players[ev.player as usize].wants[i].state = WantState::Scheduled;
                }
            }
        }
    }

    /// The answer to one claim request (one copy of it).
    pub(crate) fn deliver_claim(&mut self, t: Tick, c: &PlannedClaim, answer: &ClaimAnswer) {
        if c.reply_lost {
            self.stats.lost_replies += 1;
        }
        let key = (c.player, c.claim_no, c.attempt);
        let Some(fl) = self.inflight.get_mut(&key) else {
            return;
        };
        fl.received += 1;
        let decided = match answer {
            ClaimAnswer::Decided { outcome, .. } if !c.reply_lost && !fl.handled => Some(*outcome),
            _ => None,
        };
        if decided.is_some() {
            fl.handled = true;
        }
        let (done, handled) = (fl.received >= fl.expected, fl.handled);
        if done {
            self.inflight.remove(&key);
        }
        if let Some(outcome) = decided {
            self.claim_decided(t, c.player, c.want, outcome);
        } else if done && !handled {
            self.claim_unanswered(t, c.player, c.want, c.claim_no, c.attempt);
        }
    }

    fn claim_decided(&mut self, t: Tick, player: u32, want: u16, outcome: Outcome) {
        let b = &self.sc.behaviour;
        let (delay, oos_share, oos_secs) = (
            b.claim_delay_secs,
            b.out_of_stock_retry_share,
            b.out_of_stock_retry_secs,
        );
        let next = match outcome {
            Outcome::Granted => {
                let w = &mut self.players[player as usize].wants[want as usize];
                w.units_left = w.units_left.saturating_sub(1);
                if w.units_left > 0 {
                    Some(self.delay(delay))
                } else {
                    None
                }
            }
            Outcome::Rejected(RejectReason::OutOfStock) => {
                if rng::chance(&mut self.behaviour_rng, oos_share) {
                    Some(self.delay(oos_secs))
                } else {
                    None
                }
            }
            Outcome::Rejected(RejectReason::NotEligible) => {
                self.players[player as usize].wants[want as usize].state = WantState::Idle;
                return;
            }
            Outcome::Rejected(_) => None,
        };
        let state = match next {
            Some(d) if self.schedule(t + d, Action::Claim { player, want }) => WantState::Scheduled,
            _ => WantState::Done,
        };
        self.players[player as usize].wants[want as usize].state = state;
    }
}

/// Names on the wire: player ids, clue ids, skus, telemetry texts.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    width: usize,
    pub(crate) hunt: String,
    pub(crate) clues: Vec<String>,
    pub(crate) skus: Vec<String>,
    pub(crate) locations: Vec<String>,
    /// Put before every claim id. Claim ids are scoped to the player across
    /// hunts, so live runs against a server that already saw these player
    /// ids use a fresh prefix; in-process runs use none.
    pub(crate) claim_prefix: String,
}

impl Names {
    pub(crate) fn new(sc: &Scenario, hunt: &str) -> Names {
        let n = sc.population.players.max(1) - 1;
        Names {
            width: n.to_string().len().max(4),
            hunt: hunt.to_owned(),
            clues: sc.hunt.clues.iter().map(|c| c.id.clone()).collect(),
            skus: sc.hunt.products.iter().map(|p| p.sku.clone()).collect(),
            locations: (0..LOCATIONS).map(|i| format!("spot-{i:02}")).collect(),
            claim_prefix: String::new(),
        }
    }

    pub(crate) fn player(&self, i: u32) -> String {
        format!("p{:0w$}", i, w = self.width)
    }

    /// Parses a player id made by [`Names::player`].
    pub(crate) fn player_index(&self, id: &str) -> Option<u32> {
        id.strip_prefix('p')?.parse().ok()
    }

    pub(crate) fn claim_id(&self, claim_no: u32) -> String {
        format!("{}c{claim_no}", self.claim_prefix)
    }

    /// A small customs document, as game servers attach to claims.
    pub(crate) fn customs(player: u32) -> String {
        const COUNTRIES: [&str; 8] = ["NL", "FR", "DE", "GB", "US", "JP", "BR", "ES"];
        format!(
            r#"{{"country":"{}","via":"trove-sim"}}"#,
            COUNTRIES[player as usize % COUNTRIES.len()]
        )
    }
}
