//! [`HuntStock`]: a hunt's stock ledger, decided and journaled under one lock.
//!
//! The stock step of a claim used to be a message to a hunt actor on another
//! thread and an answer back: two thread crossings per claim, and under event
//! load a wait behind whatever that thread was applying. The decision itself
//! is a compare and a decrement. So the player's own thread now takes the
//! hunt's lock, decides, appends the record and changes the stock, all under
//! the lock, and releases it: the lock is held for one journal append (an
//! encode and a memcpy; [`crate::Journal::append`] must not block on I/O).
//!
//! What the hunt actor guaranteed, the lock guarantees the same way:
//!
//! - **Journal order is decision order.** The append happens under the lock
//!   that orders the decisions, so two claims on one hunt reach the journal in
//!   the order their stock steps were taken, and replay sees the same stock
//!   before each one.
//! - **Journal before state.** If the append fails, the stock is untouched.
//! - **No oversell.** A grant is decided only while a unit is left, and the
//!   unit is taken before the lock is released.
//!
//! Reads of the durable ledger ([`HuntStock::durable_state`]) take the live
//! state back by the stock changes whose records are not durable yet, kept
//! in `pending` in journal order.

use crate::error::EngineError;
use crate::journal::{Durability, Journal};
use crate::model::*;
use crate::state::HuntState;
use parking_lot::Mutex;
use std::collections::VecDeque;
use tokio::sync::watch;

/// A hunt's stock ledger and the changes not yet known durable.
pub(crate) struct HuntStock {
    inner: Mutex<Ledger>,
}

struct Ledger {
    state: HuntState,
    /// Stock changes journaled but not yet known durable, in journal order:
    /// what a read takes back out to answer the durable counts.
    pending: VecDeque<(Seq, usize, StockChange)>,
}

#[derive(Clone, Copy, Debug)]
enum StockChange {
    Granted,
    Added(u64),
}

impl HuntStock {
    pub(crate) fn new(state: HuntState) -> Self {
        HuntStock {
            inner: Mutex::new(Ledger {
                state,
                pending: VecDeque::new(),
            }),
        }
    }

    /// Decides the stock step of `request` for `product` and journals it
    /// (see the module docs for the ordering). Returns the request back, the
    /// outcome and the record's sequence.
    pub(crate) fn reserve(
        &self,
        journal: &dyn Journal,
        durable: &watch::Receiver<Durability>,
        request: ClaimRequest,
        product: usize,
    ) -> Result<(ClaimRequest, Outcome, Seq), EngineError> {
        let mut ledger = self.inner.lock();
        ledger.prune(durable);
        let outcome = ledger.state.decide(product);
        let record = [Record::Claim { request, outcome }];
        let seq = journal.append(&record)?;
        ledger
            .state
            .apply_outcome(product, outcome)
            .expect("decide() only grants when stock is left");
        if outcome.is_granted() {
            ledger.pending.push_back((seq, product, StockChange::Granted));
        }
        drop(ledger);
        let [Record::Claim { request, .. }] = record else {
            unreachable!("built above")
        };
        Ok((request, outcome, seq))
    }

    /// Adds `add` units of `sku`, journaled as [`Record::StockAdded`].
    /// Returns the record's sequence and the product's new stock.
    pub(crate) fn add_stock(
        &self,
        journal: &dyn Journal,
        durable: &watch::Receiver<Durability>,
        sku: &str,
        add: u64,
    ) -> Result<(Seq, u64), EngineError> {
        let mut ledger = self.inner.lock();
        ledger.prune(durable);
        let state = &mut ledger.state;
        let p = state
            .def
            .product_index(sku)
            .ok_or_else(|| EngineError::UnknownProduct {
                hunt: state.def.id.clone(),
                sku: sku.to_owned(),
            })?;
        let after = state.stock[p]
            .checked_add(add)
            .filter(|s| *s <= MAX_STOCK)
            .ok_or_else(|| EngineError::InvalidRequest(format!("stock would exceed {MAX_STOCK}")))?;
        let record = [Record::StockAdded {
            hunt: state.def.id.clone(),
            sku: sku.to_owned(),
            added: add,
        }];
        let seq = journal.append(&record)?;
        state.add_stock(p, add).expect("checked above");
        debug_assert_eq!(state.stock[p], after);
        ledger.pending.push_back((seq, p, StockChange::Added(add)));
        Ok((seq, after))
    }

    /// The live ledger: every decision taken, durable or not (for dumps,
    /// which wait for durability themselves).
    pub(crate) fn live_state(&self) -> HuntState {
        self.inner.lock().state.clone()
    }

    /// The ledger as the durable journal has it: the live state without the
    /// stock changes whose records are not durable yet.
    pub(crate) fn durable_state(&self, durable: &watch::Receiver<Durability>) -> HuntState {
        let mut ledger = self.inner.lock();
        ledger.prune(durable);
        let mut s = ledger.state.clone();
        for &(_, p, change) in &ledger.pending {
            match change {
                StockChange::Granted => {
                    s.stock[p] += 1;
                    s.granted[p] -= 1;
                }
                StockChange::Added(n) => {
                    s.stock[p] -= n;
                    s.added[p] -= n;
                }
            }
        }
        s
    }
}

impl Ledger {
    /// Forgets pending changes that have become durable.
    fn prune(&mut self, durable: &watch::Receiver<Durability>) {
        if self.pending.is_empty() {
            return;
        }
        let durable = durable.borrow().seq;
        while self.pending.front().is_some_and(|(seq, _, _)| *seq <= durable) {
            self.pending.pop_front();
        }
    }
}
