//! [`Book`]: the requests in flight and what their answers did. Each request
//! sent is entered with its intended send time; each [`Answer`] is matched to
//! it, timed into [`OpStats`], counted by the [`Recorder`] and delivered to
//! the player model (which schedules retries and follow-ups from it). The
//! book knows nothing of the schedule or the transport.

use super::conn::{Answer, Reply};
use super::fail::error_code;
use super::stats::OpStats;
use crate::model::{ClaimAnswer, Model, PlannedClaim, PlannedEvent, Tick};
use crate::observe::Recorder;
use std::collections::HashMap;
use tokio::time::Instant;
use trove_client::ClientError;
use trove_engine::{Outcome, RejectReason};
use trove_protocol::{ClaimReply, ClaimStatus, RejectReason as WireReason};

/// What a request in flight carried.
pub(crate) enum Payload {
    /// An `events` request: its clue finds (the model learns which were
    /// accepted) and how many events it held.
    Events { finds: Vec<PlannedEvent>, count: u64 },
    /// A `claim` request.
    Claim(PlannedClaim),
}

struct Pending {
    intended: Instant,
    payload: Payload,
}

/// The requests in flight, the counts of answers, the model and the recorder.
pub(crate) struct Book {
    pub(crate) model: Model,
    pub(crate) rec: Recorder,
    pending: HashMap<u64, Pending>,
    next_key: u64,
    pub(crate) events: OpStats,
    pub(crate) claims: OpStats,
    /// Events sent.
    pub(crate) events_offered: u64,
    /// Events the server accepted.
    pub(crate) events_accepted: u64,
    /// When the last answer arrived.
    pub(crate) last_answer: Instant,
}

fn engine_reason(r: WireReason) -> RejectReason {
    match r {
        WireReason::OutOfStock => RejectReason::OutOfStock,
        WireReason::NotEligible => RejectReason::NotEligible,
        WireReason::LimitReached => RejectReason::LimitReached,
        WireReason::HuntClosed => RejectReason::HuntClosed,
        WireReason::UnknownHunt => RejectReason::UnknownHunt,
        WireReason::UnknownProduct => RejectReason::UnknownProduct,
    }
}

/// A claim's answer as the model and the recorder take it.
fn claim_answer(r: Result<ClaimReply<'static>, ClientError>) -> ClaimAnswer {
    let decided = |outcome| ClaimAnswer::Decided {
        outcome,
        duplicate: r.as_ref().is_ok_and(|c| c.duplicate),
    };
    match &r {
        Ok(c) => match (c.status, c.reason) {
            (ClaimStatus::Granted, _) => decided(Outcome::Granted),
            (ClaimStatus::Rejected, Some(reason)) => decided(Outcome::Rejected(engine_reason(reason))),
            (ClaimStatus::Rejected, None) => ClaimAnswer::Error("malformed_answer".into()),
        },
        Err(e) => ClaimAnswer::Error(error_code(e).into()),
    }
}

impl Book {
    pub(crate) fn new(model: Model, rec: Recorder) -> Book {
        Book {
            model,
            rec,
            pending: HashMap::new(),
            next_key: 1,
            events: OpStats::new(),
            claims: OpStats::new(),
            events_offered: 0,
            events_accepted: 0,
            last_answer: Instant::now(),
        }
    }

    /// Enters a request sent at tick `t`, meant for `intended`; the key its
    /// answer will carry.
    pub(crate) fn offer(&mut self, t: Tick, intended: Instant, payload: Payload) -> u64 {
        match &payload {
            Payload::Events { finds, count } => {
                self.events.offered += 1;
                self.events_offered += count;
                self.rec.events(t, *count, finds.len() as u64, 0);
            }
            Payload::Claim(_) => {
                self.claims.offered += 1;
                self.rec.claim_sent(t);
            }
        }
        let key = self.next_key;
        self.next_key += 1;
        self.pending.insert(key, Pending { intended, payload });
        key
    }

    /// Whether answers are still outstanding.
    pub(crate) fn waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Unanswered (`events`, `claim`) requests.
    pub(crate) fn unanswered(&self) -> (u64, u64) {
        self.pending.values().fold((0, 0), |(e, c), p| match p.payload {
            Payload::Events { .. } => (e + 1, c),
            Payload::Claim(_) => (e, c + 1),
        })
    }

    /// Takes an answer, counted at tick `t`.
    pub(crate) fn answer(&mut self, t: Tick, a: Answer) {
        let Some(p) = self.pending.remove(&a.key) else { return };
        self.last_answer = self.last_answer.max(a.at);
        match (p.payload, a.reply) {
            (Payload::Events { finds, .. }, Reply::Events(r)) => {
                self.events.latency(p.intended, a.at);
                let ok = match r {
                    Ok(reply) => {
                        self.events.ok += 1;
                        self.events_accepted += reply.accepted;
                        self.rec.events(t, 0, 0, reply.accepted);
                        true
                    }
                    Err(e) => {
                        self.events.error += 1;
                        self.rec.error(t, error_code(&e));
                        false
                    }
                };
                for e in &finds {
                    self.model.deliver_event(t, e, ok);
                }
            }
            (Payload::Claim(c), Reply::Claim(r)) => {
                self.claims.latency(p.intended, a.at);
                let answer = claim_answer(r);
                match answer {
                    ClaimAnswer::Decided { .. } => self.claims.ok += 1,
                    ClaimAnswer::Error(_) => self.claims.error += 1,
                }
                self.rec.claim_answer(t, c.player, c.claim_no, c.product, &answer);
                self.model.deliver_claim(t, &c, &answer);
            }
            // A key's reply is typed by its request's op.
            (Payload::Events { .. } | Payload::Claim(_), _) => {}
        }
    }
}
