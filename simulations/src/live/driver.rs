//! [`Driver`]: the open-loop send schedule. Every second of the scenario, the
//! model's plan becomes requests ([`schedule`]) with intended send times
//! spread evenly over that second; each is sent at its time whether or not
//! earlier answers came back, and answers are taken into the [`Book`] while
//! waiting. If the sender falls behind, its lag is recorded (latencies are
//! measured from the intended time, so lag counts as latency).

use super::book::{Book, Payload};
use super::conn::{Answer, Conns};
use super::setup::{self, Restocked};
use super::wire::Wire;
use crate::error::SimError;
use crate::model::{EventPlan, Plan, Tick};
use std::ops::Range;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use trove_client::HttpClient;

/// One request of a second's plan.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Item {
    /// An `events` request of these events of the plan.
    Events(Range<usize>),
    /// A `claim` request of this claim of the plan.
    Claim(usize),
}

/// A second's requests in send order, each with its offset into the second:
/// the events in batches of at most `batch`, batches spread evenly, claims
/// spread evenly, interleaved by time (events first at equal times).
pub(crate) fn schedule(plan: &Plan, batch: usize) -> Vec<(f64, Item)> {
    let batch = batch.max(1);
    let nb = plan.events.len().div_ceil(batch);
    let nc = plan.claims.len();
    let mut items = Vec::with_capacity(nb + nc);
    for i in 0..nb {
        let end = ((i + 1) * batch).min(plan.events.len());
        items.push(((i as f64 + 0.5) / nb as f64, Item::Events(i * batch..end)));
    }
    for i in 0..nc {
        items.push(((i as f64 + 0.5) / nc as f64, Item::Claim(i)));
    }
    items.sort_by(|a, b| a.0.total_cmp(&b.0));
    items
}

/// What the driver talks to: the connections and their answers, and the
/// HTTP client for restocks with the channel their outcomes come back on.
pub(crate) struct Io {
    pub(crate) conns: Conns,
    pub(crate) answers: mpsc::UnboundedReceiver<Answer>,
    pub(crate) design: HttpClient,
    pub(crate) restocked_tx: mpsc::UnboundedSender<Restocked>,
    pub(crate) restocked: mpsc::UnboundedReceiver<Restocked>,
}

/// The schedule's clock and the book it fills.
pub(crate) struct Driver<'w> {
    pub(crate) wire: &'w Wire,
    pub(crate) book: Book,
    /// When second 0 starts.
    pub(crate) t0: Instant,
    /// Seconds to play.
    pub(crate) ticks: Tick,
    /// Most events per `events` request.
    pub(crate) batch: usize,
    /// How far the sender fell behind its schedule at worst.
    pub(crate) max_lag: Duration,
}

impl Driver<'_> {
    fn tick_now(&self) -> Tick {
        let t = Tick::try_from(self.t0.elapsed().as_secs()).unwrap_or(Tick::MAX);
        t.min(self.ticks.saturating_sub(1))
    }

    /// Takes answers until `deadline`.
    async fn answers_until(&mut self, deadline: Instant, answers: &mut mpsc::UnboundedReceiver<Answer>) {
        while Instant::now() < deadline {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                Some(a) = answers.recv() => self.book.answer(self.tick_now(), a),
            }
        }
    }

    /// Plays every second, then waits up to `drain` for the answers still out.
    pub(crate) async fn play(
        &mut self,
        io: &mut Io,
        drain: Duration,
        progress: &mut dyn FnMut(u32, u32),
    ) -> Result<(), SimError> {
        tokio::time::sleep_until(self.t0).await;
        for t in 0..self.ticks {
            self.tick(t, io).await?;
            progress(t + 1, self.ticks);
        }
        let deadline = Instant::now() + drain;
        while self.book.waiting() {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                a = io.answers.recv() => match a {
                    Some(a) => self.book.answer(self.tick_now(), a),
                    None => break,
                },
            }
        }
        Ok(())
    }

    /// Second `t`: restocks, the requests at their times, answers until the
    /// second ends.
    async fn tick(&mut self, t: Tick, io: &mut Io) -> Result<(), SimError> {
        let start = self.t0 + Duration::from_secs(u64::from(t));
        let plan = self.book.model.plan(t);
        for &(p, add) in &plan.restocks {
            setup::restock(&io.design, &self.wire.names, t, p, add, io.restocked_tx.clone());
        }
        self.send_all(t, start, &plan, io).await?;
        self.book.rec.telemetry_aggregated(t, plan.telemetry_aggregated);
        while let Ok(r) = io.restocked.try_recv() {
            self.restocked(r);
        }
        self.answers_until(start + Duration::from_secs(1), &mut io.answers)
            .await;
        self.book.rec.end_tick(t, self.book.model.active_players());
        Ok(())
    }

    /// The second's requests, each at its intended time.
    async fn send_all(&mut self, t: Tick, start: Instant, plan: &Plan, io: &mut Io) -> Result<(), SimError> {
        let wire = self.wire;
        let mut reuse = Vec::with_capacity(self.batch.min(plan.events.len()));
        for (frac, item) in schedule(plan, self.batch) {
            let intended = start + Duration::from_secs_f64(frac);
            self.answers_until(intended, &mut io.answers).await;
            self.max_lag = self.max_lag.max(Instant::now().saturating_duration_since(intended));
            match item {
                Item::Events(range) => {
                    let chunk = &plan.events[range];
                    let finds = chunk
                        .iter()
                        .filter(|e| matches!(e.kind, EventPlan::Clue { .. }))
                        .copied()
                        .collect();
                    let count = chunk.len() as u64;
                    let key = self.book.offer(t, intended, Payload::Events { finds, count });
                    let op = wire.events(chunk, reuse);
                    io.conns.send(key, &op).await?;
                    reuse = Wire::recycle(op);
                }
                Item::Claim(i) => {
                    let c = plan.claims[i];
                    let key = self.book.offer(t, intended, Payload::Claim(c));
                    let (claim_id, customs) = (wire.names.claim_id(c.claim_no), Wire::customs(c.player));
                    io.conns.send(key, &wire.claim(&c, &claim_id, &customs)).await?;
                }
            }
        }
        Ok(())
    }

    /// A restock's outcome into the recorder.
    pub(crate) fn restocked(&mut self, (t, p, add, r): Restocked) {
        match r {
            Ok(()) => self.book.rec.restock(t, p, &self.wire.names.skus[p], add),
            Err(code) => self.book.rec.error(t, &code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PlannedClaim, PlannedEvent};

    #[test]
    fn a_second_is_spread_evenly_and_interleaved() {
        let ev = PlannedEvent {
            player: 0,
            kind: EventPlan::Checkin(0),
            reply_lost: false,
        };
        let cl = PlannedClaim {
            player: 0,
            product: 0,
            want: 0,
            claim_no: 1,
            attempt: 0,
            reply_lost: false,
        };
        let plan = Plan {
            events: vec![ev; 5],
            claims: vec![cl; 2],
            ..Plan::default()
        };
        let s = schedule(&plan, 2);
        let items: Vec<Item> = s.iter().map(|(_, i)| i.clone()).collect();
        assert_eq!(
            items,
            [
                Item::Events(0..2),
                Item::Claim(0),
                Item::Events(2..4),
                Item::Claim(1),
                Item::Events(4..5),
            ]
        );
        assert_eq!(s[0].0, 0.5 / 3.0);
        assert_eq!(s[1].0, 0.25);
    }
}
