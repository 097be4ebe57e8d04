//! The actors that hold authoritative state.
//!
//! - A [`ShardActor`] per arbiter (thread) owns the players that live on that
//!   thread: their [`PlayerState`]s and their actors. Crossing threads costs a
//!   wake-up, so the engine sends one message per shard per batch.
//! - A [`PlayerActor`] per player serializes that player's claims through its
//!   mailbox: each claim is decided within one handler, stock step included
//!   (under the hunt's lock, [`crate::hunt`]), so the next claim sees this
//!   one's outcome. A claim crosses threads twice: from the caller to the
//!   player's shard, and back.
//!
//! Events are applied by the shard directly to the player's state, on the
//! player's own thread, in the order the shard received them. They used to
//! be one actor message each; at a million events a second that message
//! (envelope, mailbox, wake-up) was half the CPU, and an event needs no
//! serialization beyond the shard's own mailbox order: it only adds to a
//! score, which a claim in flight has already read. The state is shared
//! between the shard and the player actor through `Rc<RefCell<_>>`: both run
//! on the same thread, and no borrow is held across an await.
//!
//! Replies travel on oneshot channels, so no actor awaits another's mailbox.

use crate::clock::Clock;
use crate::error::EngineError;
use crate::hunt::HuntStock;
use crate::journal::{Durability, Journal};
use crate::model::*;
use crate::state::*;
use actix::prelude::*;
use dashmap::DashMap;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

/// What every actor shares: the journal (and its durable sequence), the hunt
/// catalog and the clock.
pub(crate) struct Core {
    pub journal: Arc<dyn Journal>,
    pub durable: watch::Receiver<Durability>,
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
    pub stock: Arc<HuntStock>,
}

/// A claim's answer before durability: the outcome and the deciding record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decided {
    pub(crate) outcome: Outcome,
    pub(crate) duplicate: bool,
    pub(crate) seq: Seq,
}

type Reply<T> = oneshot::Sender<Result<T, EngineError>>;

/// Admission units held by a request. They travel *with* the request's
/// messages and are released only once its state change is applied, so a
/// caller that gives up (a client that disconnects) cannot make
/// `Engine::dump` believe the engine is quiet while a change is in flight.
pub(crate) type Permit = tokio::sync::OwnedSemaphorePermit;

// ---------------------------------------------------------------- player

pub(crate) struct PlayerActor {
    state: Rc<RefCell<PlayerState>>,
    core: Arc<Core>,
}

impl Actor for PlayerActor {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Claim {
    pub request: ClaimRequest,
    pub reply: Reply<Decided>,
    pub permit: Permit,
}

/// What to do with a claim once the player-side checks ran.
enum Next {
    Answer(Result<Decided, EngineError>),
    Reject(RejectReason),
    Stock(usize),
}

impl Handler<Claim> for PlayerActor {
    type Result = ();
    fn handle(&mut self, msg: Claim, _: &mut Context<Self>) {
        let Claim { request, reply, permit } = msg;
        let hunt = self.core.catalog.get(request.hunt.as_str()).map(|e| e.clone());
        let now = self.core.clock.now_ms();
        let next = match self
            .state
            .borrow()
            .check_claim(&request, hunt.as_ref().map(|h| &*h.def), now)
        {
            ClaimCheck::Duplicate(e) => Next::Answer(Ok(Decided {
                outcome: e.outcome,
                duplicate: true,
                seq: e.seq,
            })),
            ClaimCheck::Conflict(e) => Next::Answer(Err(EngineError::ClaimIdConflict {
                claim_id: request.claim_id.clone(),
                hunt: e.hunt.to_string(),
                sku: e.sku.to_string(),
            })),
            ClaimCheck::TooManyClaims => Next::Answer(Err(EngineError::TooManyClaims {
                player: request.player.clone(),
            })),
            ClaimCheck::Reject(reason) => Next::Reject(reason),
            ClaimCheck::NeedsStock { product } => Next::Stock(product),
        };
        match next {
            Next::Answer(answer) => {
                let _ = reply.send(answer);
            }
            Next::Reject(reason) => {
                let outcome = Outcome::Rejected(reason);
                let (hunt_id, sku) = interned(hunt.as_ref(), &request);
                let claim_id: Box<str> = request.claim_id.as_str().into();
                let record = [Record::Claim { request, outcome }];
                let result =
                    (self.core.journal.append(&record)).map(|seq| self.remember(claim_id, hunt_id, sku, outcome, seq));
                let _ = reply.send(result.map_err(EngineError::from));
            }
            Next::Stock(product) => {
                let hunt = hunt.expect("NeedsStock implies a known hunt");
                // Decided and journaled here, on the player's thread, under
                // the hunt's lock (crate::hunt): the next claim of this
                // player, next in this mailbox, sees this one's outcome.
                let core = &self.core;
                let res = (hunt.stock.reserve(&*core.journal, &core.durable, request, product)).map(
                    |(request, outcome, seq)| {
                        let sku = hunt.skus[product].clone();
                        self.remember(request.claim_id.into_boxed_str(), hunt.id.clone(), sku, outcome, seq)
                    },
                );
                drop(permit);
                let _ = reply.send(res);
            }
        }
    }
}

impl PlayerActor {
    /// Records a claim this actor just journaled (dedup state, forever) and
    /// returns its answer.
    fn remember(&self, claim_id: Box<str>, hunt: Arc<str>, sku: Arc<str>, outcome: Outcome, seq: Seq) -> Decided {
        self.state.borrow_mut().record_claim(ClaimEntry {
            claim_id,
            hunt,
            sku,
            outcome,
            seq,
            id_hash: Default::default(),
        });
        Decided {
            outcome,
            duplicate: false,
            seq,
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

// ---------------------------------------------------------------- shard

/// A player as its shard holds it.
struct PlayerSlot {
    state: Rc<RefCell<PlayerState>>,
    actor: Addr<PlayerActor>,
    /// Highest journal sequence of an event applied to this player since it
    /// became resident (0 if none): a read of its score waits until this is
    /// durable.
    events_seq: Seq,
    /// Claims routed to the player actor and not yet answered.
    claims_in_flight: u32,
}

pub(crate) struct ShardActor {
    pub core: Arc<Core>,
    players: HashMap<PlayerId, PlayerSlot, foldhash::fast::RandomState>,
}

impl ShardActor {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        ShardActor {
            core,
            players: HashMap::default(),
        }
    }

    fn spawn(&mut self, id: PlayerId, state: PlayerState) {
        let state = Rc::new(RefCell::new(state));
        let actor = PlayerActor {
            state: state.clone(),
            core: self.core.clone(),
        }
        .start();
        self.players.insert(
            id,
            PlayerSlot {
                state,
                actor,
                events_seq: 0,
                claims_in_flight: 0,
            },
        );
    }

    /// A claim of `id` was answered. A player whose claims were all refused
    /// (answered with an error, nothing journaled) and who has no other state
    /// does not stay resident: replay would not know it either, and a flood
    /// of refused claims must not grow the player table.
    fn claim_done(&mut self, id: &str) {
        if let Some(slot) = self.players.get_mut(id) {
            slot.claims_in_flight -= 1;
            if slot.claims_in_flight == 0 && *slot.state.borrow() == PlayerState::default() {
                self.players.remove(id);
            }
        }
    }
}

impl Actor for ShardActor {
    type Context = Context<Self>;
}

/// Validated events for players of one shard, in journal order. The batch's
/// admission permit is released once every shard has applied its part, so a
/// shard that falls behind throttles ingest instead of growing its mailbox.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct RouteEvents {
    /// (player, effect, journal sequence of the event).
    pub events: Vec<(String, EventEffect, Seq)>,
    pub permit: Arc<Permit>,
}

impl Handler<RouteEvents> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: RouteEvents, _: &mut Context<Self>) {
        for (player, effect, seq) in msg.events {
            match self.players.get_mut(player.as_str()) {
                Some(slot) => {
                    slot.state.borrow_mut().apply_event(&effect);
                    slot.events_seq = slot.events_seq.max(seq);
                }
                None => {
                    let mut state = PlayerState::default();
                    state.apply_event(&effect);
                    let id = PlayerId::from(player);
                    self.spawn(id.clone(), state);
                    if let Some(slot) = self.players.get_mut(&id) {
                        slot.events_seq = seq;
                    }
                }
            }
        }
        drop(msg.permit);
    }
}

/// Claims for players of one shard, gathered by one thread during one turn
/// of its scheduler (`Engine::claim`): one message, one wake-up of the shard
/// thread, however many claims.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct RouteClaims(pub Vec<Claim>);

impl Handler<RouteClaims> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: RouteClaims, ctx: &mut Context<Self>) {
        for claim in msg.0 {
            self.route_claim(claim, ctx);
        }
    }
}

impl ShardActor {
    /// Passes one claim to its player's actor, in arrival order.
    fn route_claim(&mut self, claim: Claim, ctx: &mut Context<Self>) {
        let Claim { request, reply, permit } = claim;
        let player = PlayerId::from(request.player.as_str());
        if !self.players.contains_key(&player) {
            self.spawn(player.clone(), PlayerState::default());
        }
        let slot = self.players.get_mut(&player).expect("resident: spawned above");
        slot.claims_in_flight += 1;
        // The answer passes back through the shard, so that the slot of a
        // player whose claim was refused can be dropped again.
        let (tx, rx) = oneshot::channel();
        slot.actor.do_send(Claim {
            request,
            reply: tx,
            permit,
        });
        ctx.spawn(rx.into_actor(self).map(move |res, act, _| {
            let _ = reply.send(res.unwrap_or(Err(EngineError::Stopped)));
            act.claim_done(&player);
        }));
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct RouteQuery {
    pub player: String,
    /// The state and the player's `events_seq`.
    pub reply: oneshot::Sender<Option<(PlayerState, Seq)>>,
}

impl Handler<RouteQuery> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: RouteQuery, _: &mut Context<Self>) {
        let state = self
            .players
            .get(msg.player.as_str())
            .map(|slot| (slot.state.borrow().clone(), slot.events_seq));
        let _ = msg.reply.send(state.filter(|(s, _)| *s != PlayerState::default()));
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct LoadPlayers(pub Vec<(PlayerId, PlayerState)>);

impl Handler<LoadPlayers> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: LoadPlayers, _: &mut Context<Self>) {
        self.players.reserve(msg.0.len());
        for (id, state) in msg.0 {
            self.spawn(id, state);
        }
    }
}

/// Copies every player's state. It travels the same shard mailbox as events,
/// so it sees every event routed before it; claims in flight are excluded by
/// the engine holding all admission permits.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct DumpPlayers(pub oneshot::Sender<Vec<(PlayerId, PlayerState)>>);

impl Handler<DumpPlayers> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: DumpPlayers, _: &mut Context<Self>) {
        // A player whose only request is a claim still in flight has a slot
        // but no journaled state yet (a refused one drops its slot again,
        // see `claim_done`); replay never creates such a player, so neither
        // may a dump.
        let players = self
            .players
            .iter()
            .map(|(id, slot)| (id, slot.state.borrow()))
            .filter(|(_, state)| **state != PlayerState::default())
            .map(|(id, state)| (id.clone(), state.clone()))
            .collect();
        let _ = msg.0.send(players);
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
