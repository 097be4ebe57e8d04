//! The actors that hold authoritative state.
//!
//! - A [`PlayerActor`] per player holds its [`PlayerState`]. Every event and
//!   claim of that player passes through its mailbox, one at a time; while a
//!   claim waits for stock the actor processes nothing else (`ctx.wait`), so a
//!   player's claims are strictly serialized.
//! - A [`HuntActor`] per hunt owns the stock of the hunt's products. It decides
//!   the stock step of a claim and journals the decision in the same handler,
//!   so journal order is its decision order.
//! - A [`ShardActor`] per arbiter (thread) routes messages to the player actors
//!   living on that thread. Crossing threads costs a wake-up, so the engine
//!   sends one message per shard per batch and the shard fans out locally.
//!
//! Replies travel on oneshot channels, so no actor awaits another's mailbox
//! except the player's short wait for the hunt's stock decision.

use crate::clock::Clock;
use crate::error::EngineError;
use crate::journal::Journal;
use crate::model::*;
use crate::state::*;
use actix::prelude::*;
use dashmap::DashMap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::oneshot;

/// What every actor shares: the journal, the hunt catalog and the clock.
pub(crate) struct Core {
    pub journal: Arc<dyn Journal>,
    pub catalog: DashMap<String, HuntEntry>,
    pub clock: Arc<dyn Clock>,
}

/// A defined hunt as the rest of the engine finds it.
#[derive(Clone)]
pub(crate) struct HuntEntry {
    pub id: Arc<str>,
    pub def: Arc<HuntDef>,
    pub skus: Arc<[Arc<str>]>,
    pub defined_at: Seq,
    pub addr: Addr<HuntActor>,
}

/// A claim's answer before durability: the outcome and the deciding record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub outcome: Outcome,
    pub duplicate: bool,
    pub seq: Seq,
}

type Reply<T> = oneshot::Sender<Result<T, EngineError>>;

// ---------------------------------------------------------------- player

pub(crate) struct PlayerActor {
    id: Arc<str>,
    state: PlayerState,
    core: Arc<Core>,
}

impl Actor for PlayerActor {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ApplyEvent(pub EventEffect);

impl Handler<ApplyEvent> for PlayerActor {
    type Result = ();
    fn handle(&mut self, msg: ApplyEvent, _: &mut Context<Self>) {
        self.state.apply_event(&msg.0);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Claim {
    pub request: ClaimRequest,
    pub reply: Reply<Decided>,
}

impl Handler<Claim> for PlayerActor {
    type Result = ();
    fn handle(&mut self, msg: Claim, ctx: &mut Context<Self>) {
        let Claim { request, reply } = msg;
        let hunt = self.core.catalog.get(request.hunt.as_str()).map(|e| e.clone());
        let now = self.core.clock.now_ms();
        let check = self.state.check_claim(&request, hunt.as_ref().map(|h| &*h.def), now);
        match check {
            ClaimCheck::Duplicate(e) => {
                let _ = reply.send(Ok(Decided {
                    outcome: e.outcome,
                    duplicate: true,
                    seq: e.seq,
                }));
            }
            ClaimCheck::Conflict(e) => {
                let _ = reply.send(Err(EngineError::ClaimIdConflict {
                    claim_id: request.claim_id.clone(),
                    hunt: e.hunt.to_string(),
                    sku: e.sku.to_string(),
                }));
            }
            ClaimCheck::TooManyClaims => {
                let _ = reply.send(Err(EngineError::TooManyClaims { player: request.player }));
            }
            ClaimCheck::Reject(reason) => {
                let outcome = Outcome::Rejected(reason);
                let (hunt_id, sku) = interned(hunt.as_ref(), &request);
                let claim_id: Box<str> = request.claim_id.as_str().into();
                let record = [Record::Claim { request, outcome }];
                let result = self.core.journal.append(&record).map(|seq| {
                    self.state.record_claim(ClaimEntry {
                        claim_id,
                        hunt: hunt_id,
                        sku,
                        outcome,
                        seq,
                    });
                    Decided {
                        outcome,
                        duplicate: false,
                        seq,
                    }
                });
                let _ = reply.send(result.map_err(EngineError::from));
            }
            ClaimCheck::NeedsStock { product } => {
                let hunt = hunt.expect("NeedsStock implies a known hunt");
                let (tx, rx) = oneshot::channel();
                hunt.addr.do_send(Reserve {
                    request,
                    product,
                    reply: tx,
                });
                // Serialize this player's mailbox until the hunt has decided:
                // the next claim must see this one's outcome.
                ctx.wait(async move { rx.await }.into_actor(self).map(move |res, act, _| {
                    let res = match res {
                        Ok(Ok((request, outcome, seq))) => {
                            act.state.record_claim(ClaimEntry {
                                claim_id: request.claim_id.into_boxed_str(),
                                hunt: hunt.id.clone(),
                                sku: hunt.skus[product].clone(),
                                outcome,
                                seq,
                            });
                            Ok(Decided {
                                outcome,
                                duplicate: false,
                                seq,
                            })
                        }
                        Ok(Err(e)) => Err(e),
                        Err(_) => Err(EngineError::Stopped),
                    };
                    debug_assert!(act.id.len() <= limits::MAX_ID_BYTES);
                    let _ = reply.send(res);
                }));
            }
        }
    }
}

fn interned(hunt: Option<&HuntEntry>, request: &ClaimRequest) -> (Arc<str>, Arc<str>) {
    match hunt {
        Some(h) => {
            let sku = h
                .def
                .product_index(&request.sku)
                .map_or_else(|| Arc::from(request.sku.as_str()), |i| h.skus[i].clone());
            (h.id.clone(), sku)
        }
        None => (Arc::from(request.hunt.as_str()), Arc::from(request.sku.as_str())),
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct QueryPlayer(pub oneshot::Sender<Option<PlayerState>>);

impl Handler<QueryPlayer> for PlayerActor {
    type Result = ();
    fn handle(&mut self, msg: QueryPlayer, _: &mut Context<Self>) {
        let _ = msg.0.send(Some(self.state.clone()));
    }
}

/// Gathers the states of many player actors into one reply.
pub(crate) struct Collector {
    items: Mutex<Vec<(Arc<str>, PlayerState)>>,
    remaining: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<Vec<(Arc<str>, PlayerState)>>>>,
}

impl Collector {
    fn put(&self, id: Arc<str>, state: PlayerState) {
        self.items.lock().push((id, state));
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let items = std::mem::take(&mut *self.items.lock());
            if let Some(tx) = self.done.lock().take() {
                let _ = tx.send(items);
            }
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct DumpPlayer(Arc<Collector>);

impl Handler<DumpPlayer> for PlayerActor {
    type Result = ();
    fn handle(&mut self, msg: DumpPlayer, _: &mut Context<Self>) {
        msg.0.put(self.id.clone(), self.state.clone());
    }
}

// ---------------------------------------------------------------- hunt

pub(crate) struct HuntActor {
    pub core: Arc<Core>,
    pub state: HuntState,
}

impl Actor for HuntActor {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Reserve {
    request: ClaimRequest,
    product: usize,
    reply: Reply<(ClaimRequest, Outcome, Seq)>,
}

impl Handler<Reserve> for HuntActor {
    type Result = ();
    fn handle(&mut self, msg: Reserve, _: &mut Context<Self>) {
        let outcome = self.state.decide(msg.product);
        let record = [Record::Claim {
            request: msg.request,
            outcome,
        }];
        // Journal first, then change stock: if the journal refuses, nothing changed.
        let result = self.core.journal.append(&record).map_err(EngineError::from).map(|seq| {
            self.state
                .apply_outcome(msg.product, outcome)
                .expect("decide() only grants when stock is left");
            let [Record::Claim { request, .. }] = record else {
                unreachable!()
            };
            (request, outcome, seq)
        });
        let _ = msg.reply.send(result);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AddStock {
    pub sku: String,
    pub add: u64,
    pub reply: Reply<(Seq, u64)>,
}

impl Handler<AddStock> for HuntActor {
    type Result = ();
    fn handle(&mut self, msg: AddStock, _: &mut Context<Self>) {
        let result = (|| {
            let p = self
                .state
                .def
                .product_index(&msg.sku)
                .ok_or_else(|| EngineError::UnknownProduct {
                    hunt: self.state.def.id.clone(),
                    sku: msg.sku.clone(),
                })?;
            let mut probe = self.state.stock[p];
            probe = probe
                .checked_add(msg.add)
                .filter(|s| *s <= MAX_STOCK)
                .ok_or_else(|| EngineError::InvalidRequest(format!("stock would exceed {MAX_STOCK}")))?;
            let record = [Record::StockAdded {
                hunt: self.state.def.id.clone(),
                sku: msg.sku,
                added: msg.add,
            }];
            let seq = self.core.journal.append(&record)?;
            self.state.add_stock(p, msg.add).expect("checked above");
            debug_assert_eq!(self.state.stock[p], probe);
            Ok((seq, probe))
        })();
        let _ = msg.reply.send(result);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct QueryHunt(pub oneshot::Sender<HuntState>);

impl Handler<QueryHunt> for HuntActor {
    type Result = ();
    fn handle(&mut self, msg: QueryHunt, _: &mut Context<Self>) {
        let _ = msg.0.send(self.state.clone());
    }
}

// ---------------------------------------------------------------- shard

pub(crate) struct ShardActor {
    pub core: Arc<Core>,
    pub players: HashMap<Arc<str>, Addr<PlayerActor>>,
}

impl Actor for ShardActor {
    type Context = Context<Self>;
}

impl ShardActor {
    fn player(&mut self, id: &str) -> &Addr<PlayerActor> {
        if !self.players.contains_key(id) {
            let id: Arc<str> = Arc::from(id);
            self.spawn(id, PlayerState::default());
        }
        &self.players[id]
    }

    fn spawn(&mut self, id: Arc<str>, state: PlayerState) {
        let core = self.core.clone();
        let addr = PlayerActor {
            id: id.clone(),
            state,
            core,
        }
        .start();
        self.players.insert(id, addr);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct RouteEvents(pub Vec<(String, EventEffect)>);

impl Handler<RouteEvents> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: RouteEvents, _: &mut Context<Self>) {
        for (player, effect) in msg.0 {
            self.player(&player).do_send(ApplyEvent(effect));
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct RouteClaim(pub Claim);

impl Handler<RouteClaim> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: RouteClaim, _: &mut Context<Self>) {
        let player = msg.0.request.player.clone();
        self.player(&player).do_send(msg.0);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct RouteQuery {
    pub player: String,
    pub reply: oneshot::Sender<Option<PlayerState>>,
}

impl Handler<RouteQuery> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: RouteQuery, _: &mut Context<Self>) {
        match self.players.get(msg.player.as_str()) {
            Some(addr) => addr.do_send(QueryPlayer(msg.reply)),
            None => {
                let _ = msg.reply.send(None);
            }
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct LoadPlayers(pub Vec<(Arc<str>, PlayerState)>);

impl Handler<LoadPlayers> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: LoadPlayers, _: &mut Context<Self>) {
        self.players.reserve(msg.0.len());
        for (id, state) in msg.0 {
            self.spawn(id, state);
        }
    }
}

/// Asks every player of the shard for its state. Sent through the same
/// mailboxes as events and claims, so it sees everything sent before it.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct DumpPlayers(pub oneshot::Sender<Vec<(Arc<str>, PlayerState)>>);

impl Handler<DumpPlayers> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: DumpPlayers, _: &mut Context<Self>) {
        if self.players.is_empty() {
            let _ = msg.0.send(Vec::new());
            return;
        }
        let collector = Arc::new(Collector {
            items: Mutex::new(Vec::with_capacity(self.players.len())),
            remaining: AtomicUsize::new(self.players.len()),
            done: Mutex::new(Some(msg.0)),
        });
        for addr in self.players.values() {
            addr.do_send(DumpPlayer(collector.clone()));
        }
    }
}

#[derive(Message)]
#[rtype(result = "usize")]
pub(crate) struct CountPlayers;

impl Handler<CountPlayers> for ShardActor {
    type Result = usize;
    fn handle(&mut self, _: CountPlayers, _: &mut Context<Self>) -> usize {
        self.players.len()
    }
}
