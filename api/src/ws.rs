//! The WebSocket endpoint, `GET /v1/ws`.
//!
//! One connection = one reader loop, one writer task, one task per request
//! in flight and one task per subscription. Everything the server sends goes
//! through the connection's bounded outbound queue to the writer, which alone
//! owns the socket. Nothing shared ever awaits one client: a request or
//! subscription task waits at most [`OUTBOUND_STALL_TIMEOUT`] for queue space
//! and then disconnects that client (close code 1008).
//!
//! Each connection has one [`Codec`], chosen in the handshake
//! (`Sec-WebSocket-Protocol`: `trove.v1.json`, the default, or
//! `trove.v1.msgpack`): requests are read and replies, errors and pushes are
//! written with it, as text frames (JSON) or binary frames (MessagePack). A
//! frame of the other kind is answered `unsupported_frame`.
//!
//! Limits (see `docs/PROTOCOL.md`): [`MAX_MESSAGE_BYTES`] per message,
//! [`MAX_IN_FLIGHT`] requests in flight (the reader stops reading until one
//! finishes), [`OUTBOUND_QUEUE_FRAMES`] queued frames, [`MAX_SUBSCRIPTIONS`]
//! subscriptions, and a ping every [`PING_INTERVAL`].

use crate::auth::{Action, Role};
use crate::error::ApiError;
use crate::ops;
use crate::route::Target;
use crate::state::{AppState, Core};
use crate::wire;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError, Session};
use serde::Serialize;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};
use trove_engine::Journal as _;
use trove_engine::{Outcome, Record, Seq};
use trove_persistence::Item;
use trove_protocol::parse::OpName;
use trove_protocol::{self as p, Codec, CodecError, ErrorCode, Fields, Frame, RequestId};

/// Largest message (text or binary frame, or continuation frames together) the server
/// answers; larger ones get a `message_too_large` error reply.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// A single frame larger than this is abuse: the server replies
/// `message_too_large` and closes with 1009.
pub(crate) const MAX_FRAME_BYTES: usize = 4 << 20;
/// Requests one connection may have in flight; beyond, the server stops
/// reading from that connection until one completes.
pub(crate) const MAX_IN_FLIGHT: usize = 64;
/// Frames (replies and pushes) queued for one connection.
pub(crate) const OUTBOUND_QUEUE_FRAMES: usize = 1024;
/// How long a reply or push waits for space in a full outbound queue before
/// the client is disconnected as too slow (close code 1008).
pub(crate) const OUTBOUND_STALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Server ping interval.
pub(crate) const PING_INTERVAL: Duration = Duration::from_secs(15);
/// A connection that sends nothing (not even a pong) for this long is closed (1001).
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// Subscriptions one connection may hold.
pub(crate) const MAX_SUBSCRIPTIONS: usize = 16;
/// Dispatch feed: journal records read per step.
pub(crate) const FEED_READ_CHUNK: usize = 1024;
/// Leaderboard pushes: at most one per this interval per subscription.
pub(crate) const LEADERBOARD_PUSH_INTERVAL: Duration = Duration::from_millis(500);

enum Out {
    Frame(Frame),
    Ping,
    Pong(web::Bytes),
    Close(CloseReason),
}

struct Conn {
    id: u64,
    role: Role,
    /// How this connection's frames are encoded.
    codec: Codec,
    /// Where its ops go (one core, or the cluster node's partitions).
    target: Target,
    state: web::Data<AppState>,
    out: mpsc::Sender<Out>,
    /// Set once to tear the connection down (with the close reason to send).
    kill: watch::Sender<Option<CloseReason>>,
    in_flight: Arc<Semaphore>,
    /// Live subscriptions by id, each with the sender its task watches: the
    /// entry is the subscription's slot of [`MAX_SUBSCRIPTIONS`]. Removing it
    /// (unsubscribe, or the task ending) releases the slot and stops the task.
    subscriptions: parking_lot::Mutex<std::collections::HashMap<u64, watch::Sender<()>>>,
    next_subscription: AtomicU64,
}

/// Releases a subscription's slot when its task ends, whatever the reason.
struct SubscriptionSlot {
    conn: Arc<Conn>,
    id: u64,
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.conn.release_subscription(self.id);
    }
}

impl Conn {
    /// Queues a frame; false if the connection is gone. A client whose queue
    /// stays full for [`OUTBOUND_STALL_TIMEOUT`] is disconnected.
    async fn send(&self, frame: Frame) -> bool {
        match self.out.send_timeout(Out::Frame(frame), OUTBOUND_STALL_TIMEOUT).await {
            Ok(()) => {
                metrics::histogram!("trove_ws_outbound_queue_depth")
                    .record((OUTBOUND_QUEUE_FRAMES - self.out.capacity()) as f64);
                true
            }
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                tracing::warn!(conn = self.id, "client does not read its frames; disconnecting");
                metrics::counter!("trove_ws_slow_disconnects_total").increment(1);
                self.abort(CloseCode::Policy, "slow consumer: outbound queue full");
                false
            }
            Err(mpsc::error::SendTimeoutError::Closed(_)) => false,
        }
    }

    /// A frame the server sends (a push), in the connection's codec.
    fn frame<T: Serialize>(&self, v: &T) -> Frame {
        encoded(self.codec, self.codec.encode(v))
    }

    /// A success reply: the request's id and the op's reply fields.
    fn reply<T: Serialize>(&self, id: &RequestId, body: &T) -> Frame {
        encoded(self.codec, self.codec.reply(id, body))
    }

    /// An error reply; `id` is `None` when the request could not be read far
    /// enough to know it.
    fn err_reply(&self, id: Option<&RequestId>, e: &ApiError) -> Frame {
        self.frame(&p::WsErrorReply {
            id: id.cloned(),
            ok: false,
            error: e.body(),
        })
    }

    fn abort(&self, code: CloseCode, why: &str) {
        let reason = CloseReason {
            code,
            description: Some(why.to_owned()),
        };
        self.kill.send_if_modified(|k| {
            if k.is_none() {
                *k = Some(reason);
                true
            } else {
                false
            }
        });
    }

    fn killed(&self) -> watch::Receiver<Option<CloseReason>> {
        self.kill.subscribe()
    }

    /// Takes a subscription slot: its id and the receiver that sees it end.
    fn add_subscription(&self) -> Result<(u64, watch::Receiver<()>), ApiError> {
        let mut subs = self.subscriptions.lock();
        if subs.len() >= MAX_SUBSCRIPTIONS {
            return Err(ApiError::new(
                ErrorCode::TooManySubscriptions,
                format!("at most {MAX_SUBSCRIPTIONS} subscriptions per connection; unsubscribe one first"),
            ));
        }
        let id = self.next_subscription.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(());
        subs.insert(id, tx);
        Ok((id, rx))
    }

    /// Frees a subscription's slot (once); its task sees the sender dropped
    /// and stops. False if there was no such subscription.
    fn release_subscription(&self, id: u64) -> bool {
        self.subscriptions.lock().remove(&id).is_some()
    }
}

/// Resolves when the subscription was released (unsubscribed).
async fn unsubscribed(rx: &mut watch::Receiver<()>) {
    while rx.changed().await.is_ok() {}
}

/// An encoded frame, or (a bug: every answer type encodes) an `internal`
/// error reply in its place.
fn encoded(codec: Codec, frame: Result<Frame, CodecError>) -> Frame {
    frame.unwrap_or_else(|e| {
        let body = p::WsErrorReply {
            id: None,
            ok: false,
            error: ApiError::internal(format!("the answer could not be encoded: {e}")).body(),
        };
        codec.encode(&body).unwrap_or_else(|_| {
            Frame::Text(r#"{"id":null,"ok":false,"error":{"code":"internal","message":"encoding failed"}}"#.into())
        })
    })
}

/// The codec the client asked for in `Sec-WebSocket-Protocol` (`None`:
/// nothing offered, JSON). Offering only protocols the server does not
/// speak is refused (`400 invalid_request`) rather than answered in JSON:
/// such a client would not understand the answers, and browsers and
/// tungstenite fail a handshake that offered protocols and got none back.
fn negotiate(req: &HttpRequest) -> Result<Option<Codec>, ApiError> {
    let offered = req
        .headers()
        .get_all(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL)
        .map(|v| v.to_str().unwrap_or("(not ASCII)"));
    Codec::negotiate(offered).map_err(|e| ApiError::invalid_request(e.to_string()))
}

/// The role of an upgrade request: from its one-use `?ticket=` if it has
/// one (browsers), else from its key (`Authorization` or `?token=`).
fn authenticate(state: &AppState, req: &HttpRequest) -> Result<Role, ApiError> {
    let ticket = web::Query::<p::WsParams>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().ticket);
    match ticket {
        Some(t) => state.tickets.redeem(&t),
        None => state.keys.authenticate(req, true),
    }
}

/// `GET /v1/ws`: authenticates before the upgrade (401 without a valid key).
pub(crate) async fn upgrade(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let role = authenticate(&state, &req)?;
    let chosen = negotiate(&req)?;
    let target = state.target()?;
    let protocols = chosen.map(Codec::subprotocol);
    let (response, session, stream) = actix_ws::handle_with_protocols(&req, body, protocols.as_slice())
        .map_err(|e| ApiError::invalid_request(format!("WebSocket handshake failed: {e}")))?;
    let codec = chosen.unwrap_or_default();
    let stream = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_MESSAGE_BYTES);
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let (out, out_rx) = mpsc::channel(OUTBOUND_QUEUE_FRAMES);
    let conn = Arc::new(Conn {
        id,
        role,
        codec,
        target,
        state,
        out,
        kill: watch::channel(None).0,
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        subscriptions: Default::default(),
        next_subscription: AtomicU64::new(1),
    });
    tracing::debug!(conn = id, role = %role, protocol = codec.subprotocol(), "websocket connected");
    actix_web::rt::spawn(writer(session, out_rx, conn.killed()));
    actix_web::rt::spawn(reader(conn, stream));
    Ok(response)
}

/// Owns the socket: sends queued frames until the queue closes or the
/// connection is killed. Every send also watches for the kill signal, so a
/// client that stopped reading cannot pin this task.
async fn writer(mut session: Session, mut rx: mpsc::Receiver<Out>, mut kill: watch::Receiver<Option<CloseReason>>) {
    async fn close(session: Session, reason: Option<CloseReason>) {
        let _ = tokio::time::timeout(Duration::from_secs(1), session.close(reason)).await;
    }
    loop {
        let msg = tokio::select! {
            biased;
            _ = kill.changed() => {
                let reason = kill.borrow().clone();
                return close(session, reason).await;
            }
            m = rx.recv() => m,
        };
        let send = async {
            match msg {
                None => Err(None),
                Some(Out::Close(reason)) => Err(Some(reason)),
                Some(Out::Frame(Frame::Text(t))) => Ok(session.text(t).await.is_ok()),
                Some(Out::Frame(Frame::Binary(b))) => Ok(session.binary(b).await.is_ok()),
                Some(Out::Ping) => Ok(session.ping(b"trove").await.is_ok()),
                Some(Out::Pong(b)) => Ok(session.pong(&b).await.is_ok()),
            }
        };
        let result = tokio::select! {
            r = send => r,
            _ = kill.changed() => {
                let reason = kill.borrow().clone();
                return close(session, reason).await;
            }
        };
        match result {
            Ok(true) => {}
            Ok(false) => return,
            Err(reason) => return close(session, reason).await,
        }
    }
}

async fn reader(conn: Arc<Conn>, mut stream: actix_ws::AggregatedMessageStream) {
    metrics::gauge!("trove_ws_connections").increment(1.0);
    let mut kill = conn.killed();
    let mut shutdown = conn.state.shutdown_signal();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
    let mut last_seen = Instant::now();
    loop {
        let msg = tokio::select! {
            biased;
            _ = kill.changed() => break,
            _ = shutdown.wait_for(|s| *s) => {
                drain_and_close(&conn).await;
                break;
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > IDLE_TIMEOUT {
                    conn.abort(CloseCode::Away, "keep-alive timeout");
                    break;
                }
                let _ = conn.out.try_send(Out::Ping);
                continue;
            }
            m = stream.recv() => m,
        };
        let Some(msg) = msg else { break };
        last_seen = Instant::now();
        if !on_message(&conn, &mut kill, msg).await {
            break;
        }
    }
    // The writer sends what is queued, then closes.
    let _ = conn.out.try_send(Out::Close(CloseReason {
        code: CloseCode::Normal,
        description: None,
    }));
    // Give the writer a moment to flush, then make sure every task stops.
    let conn2 = conn.clone();
    actix_web::rt::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        conn2.abort(CloseCode::Normal, "closed");
    });
    metrics::gauge!("trove_ws_connections").decrement(1.0);
    tracing::debug!(conn = conn.id, "websocket reader done");
}

/// Answers one message of the client; false when the connection is done.
async fn on_message(
    conn: &Arc<Conn>,
    kill: &mut watch::Receiver<Option<CloseReason>>,
    msg: Result<AggregatedMessage, ProtocolError>,
) -> bool {
    match msg {
        Ok(AggregatedMessage::Text(text)) => return on_data(conn, kill, Codec::Json, text.into_bytes()).await,
        Ok(AggregatedMessage::Binary(bytes)) => return on_data(conn, kill, Codec::MessagePack, bytes).await,
        Ok(AggregatedMessage::Ping(b)) => {
            let _ = conn.out.try_send(Out::Pong(b));
        }
        Ok(AggregatedMessage::Pong(_)) => {}
        Ok(AggregatedMessage::Close(_)) => {
            // Answer the client's close once replies in flight are sent.
            wait_in_flight(conn, Duration::from_secs(5)).await;
            let _ = conn.out.try_send(Out::Close(CloseReason {
                code: CloseCode::Normal,
                description: None,
            }));
            return false;
        }
        Err(ProtocolError::Io(e)) if e.to_string().contains("continuation size") => {
            let e = ApiError::new(
                ErrorCode::MessageTooLarge,
                format!("message exceeds the maximum of {MAX_MESSAGE_BYTES} bytes"),
            );
            if !conn.send(conn.err_reply(None, &e)).await {
                return false;
            }
        }
        Err(ProtocolError::Overflow) => {
            let e = ApiError::new(
                ErrorCode::MessageTooLarge,
                format!("frame exceeds {MAX_FRAME_BYTES} bytes; closing"),
            );
            let _ = conn.out.try_send(Out::Frame(conn.err_reply(None, &e)));
            let _ = conn.out.try_send(Out::Close(CloseReason {
                code: CloseCode::Size,
                description: Some("frame too large".into()),
            }));
            return false;
        }
        Err(ProtocolError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
            conn.abort(CloseCode::Invalid, "text frame is not valid UTF-8");
            return false;
        }
        Err(e) => {
            tracing::debug!(conn = conn.id, error = %e, "websocket protocol error");
            conn.abort(CloseCode::Protocol, "protocol error");
            return false;
        }
    }
    true
}

/// A text (`kind` JSON) or binary (`kind` MessagePack) message: a request
/// if it is the connection's kind of frame and not too large, else an error
/// reply. False when the connection is done.
async fn on_data(
    conn: &Arc<Conn>,
    kill: &mut watch::Receiver<Option<CloseReason>>,
    kind: Codec,
    bytes: web::Bytes,
) -> bool {
    if kind != conn.codec {
        let (code, message) = conn.codec.wrong_frame();
        return conn.send(conn.err_reply(None, &ApiError::new(code, message))).await;
    }
    if bytes.len() > MAX_MESSAGE_BYTES {
        let e = ApiError::message_too_large(bytes.len(), MAX_MESSAGE_BYTES);
        return conn.send(conn.err_reply(None, &e)).await;
    }
    handle_request(conn, kill, bytes).await
}

async fn wait_in_flight(conn: &Conn, limit: Duration) {
    let _ = tokio::time::timeout(limit, conn.in_flight.acquire_many(MAX_IN_FLIGHT as u32)).await;
}

/// Shutdown: finish requests in flight, then close with 1001.
async fn drain_and_close(conn: &Conn) {
    wait_in_flight(conn, conn.state.shutdown_timeout).await;
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        conn.out.send(Out::Close(CloseReason {
            code: CloseCode::Away,
            description: Some("server shutting down".into()),
        })),
    )
    .await;
}

/// Starts one request: its task reads the envelope (an error reply if it
/// cannot), then runs the op. False if the connection should end.
async fn handle_request(conn: &Arc<Conn>, kill: &mut watch::Receiver<Option<CloseReason>>, bytes: web::Bytes) -> bool {
    // Bound the requests in flight: stop reading until a slot frees up.
    let permit = tokio::select! {
        p = conn.in_flight.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return false },
        _ = kill.changed() => return false,
    };
    let conn = conn.clone();
    actix_web::rt::spawn(async move {
        let started = Instant::now();
        // The frame is checked once, here; its fields are read from it later.
        let (reply, sub) = match conn.codec.read(&bytes) {
            Err(e) => (conn.err_reply(e.id.as_ref(), &e.error.into()), None),
            Ok((env, fields)) => match dispatch(&conn, &env.id, env.op, fields).await {
                Ok(r) => r,
                Err(e) => (conn.err_reply(Some(&env.id), &e), None),
            },
        };
        metrics::histogram!("trove_ws_request_seconds").record(started.elapsed().as_secs_f64());
        // From here the slot is released however the subscription ends.
        let slot = sub.as_ref().map(|s| SubscriptionSlot {
            conn: conn.clone(),
            id: s.id,
        });
        let sent = conn.send(reply).await;
        drop(permit);
        if let (true, Some(sub)) = (sent, sub) {
            let Sub { id, released, topic } = sub;
            match topic {
                Subscription::Claims { from, feed } => claims_feed(conn, id, released, from, feed).await,
                Subscription::Leaderboard { hunt, limit } => leaderboard_feed(conn, id, released, hunt, limit).await,
                Subscription::Hunts => {
                    let rx = conn.state.live.hunts.subscribe();
                    live_feed(conn, id, released, rx, |h, id| p::HuntsPush {
                        subscription: id,
                        ..h.clone()
                    })
                    .await
                }
                Subscription::Stats => {
                    let rx = conn.state.live.stats.subscribe();
                    live_feed(conn, id, released, rx, |s, id| p::StatsPush {
                        subscription: id,
                        ..s.clone()
                    })
                    .await
                }
            }
        }
        drop(slot);
    });
    true
}

/// The journal a claims feed reads: the single core's, or one partition's
/// (the feed ends when the partition leaves this node).
struct ClaimsFeed {
    core: Arc<Core>,
    partition: Option<u32>,
    closed: Option<watch::Receiver<bool>>,
}

impl ClaimsFeed {
    fn of(target: &Target, partition: Option<u32>) -> Result<ClaimsFeed, ApiError> {
        match target {
            Target::Single(core) => {
                if partition.is_some() {
                    return Err(ApiError::invalid_request(
                        "`partition` is only for a server in cluster mode",
                    ));
                }
                Ok(ClaimsFeed {
                    core: core.clone(),
                    partition: None,
                    closed: None,
                })
            }
            #[cfg(feature = "cluster")]
            Target::Cluster(node) => {
                let p = partition.ok_or_else(|| {
                    ApiError::invalid_request("in cluster mode a claims feed is per partition: add `partition`")
                })?;
                let slot = node.slot(p)?;
                Ok(ClaimsFeed {
                    core: slot.core.clone(),
                    partition: Some(p),
                    closed: Some(slot.closed()),
                })
            }
        }
    }
}

enum Subscription {
    Claims { from: Seq, feed: ClaimsFeed },
    Leaderboard { hunt: String, limit: usize },
    Hunts,
    Stats,
}

/// A subscription the reply has just been given for.
struct Sub {
    id: u64,
    released: watch::Receiver<()>,
    topic: Subscription,
}

/// Runs one request: checks the role, parses the op's fields from the
/// frame's `fields`, and answers the reply's frame.
async fn dispatch(
    conn: &Conn,
    id: &RequestId,
    op: Result<OpName, Cow<'_, str>>,
    fields: Fields<'_>,
) -> Result<(Frame, Option<Sub>), ApiError> {
    let target = &conn.target;
    if conn.state.is_shutting_down() {
        return Err(ApiError::shutting_down());
    }
    let op = op.map_err(|other| {
        ApiError::new(
            ErrorCode::UnknownOp,
            format!("unknown op {other:?} (expected events, claim, player, leaderboard, subscribe or unsubscribe)"),
        )
    })?;
    match op {
        OpName::Events => {
            Action::Events.check(conn.role)?;
            Ok((conn.reply(id, &ops::events(target, fields).await?), None))
        }
        OpName::Claim => {
            Action::Claim.check(conn.role)?;
            Ok((conn.reply(id, &ops::claim(target, fields).await?), None))
        }
        OpName::Player => {
            Action::Read.check(conn.role)?;
            let req: p::PlayerRequest = fields.body()?;
            Ok((
                ops::player(target, &req.hunt, &req.player, |r| conn.reply(id, r)).await?,
                None,
            ))
        }
        OpName::Leaderboard => {
            Action::Read.check(conn.role)?;
            let req: p::LeaderboardRequest = fields.body()?;
            let limit = ops::leaderboard_limit(req.limit)?;
            let board = ops::leaderboard(target, &req.hunt, limit, req.around.as_deref()).await?;
            Ok((conn.reply(id, &board), None))
        }
        OpName::Subscribe => subscribe(conn, id, fields.body()?).await,
        OpName::Unsubscribe => {
            let req: p::UnsubscribeRequest = fields.body()?;
            if !conn.release_subscription(req.subscription) {
                return Err(ApiError::new(
                    ErrorCode::UnknownSubscription,
                    format!("no subscription {} on this connection", req.subscription),
                ));
            }
            let r = p::UnsubscribeReply {
                ok: true,
                subscription: req.subscription,
            };
            Ok((conn.reply(id, &r), None))
        }
    }
}

/// Who may subscribe to a topic: the dispatch feed and leaderboard pushes
/// as before (game, admin), the hunts to anyone who may read, the stats to
/// admins.
fn topic_action(req: &p::SubscribeRequest<'_>) -> Action {
    match req {
        p::SubscribeRequest::Claims { .. } | p::SubscribeRequest::Leaderboard { .. } => Action::Subscribe,
        p::SubscribeRequest::Hunts => Action::Read,
        p::SubscribeRequest::Stats => Action::Admin,
    }
}

/// Most journal records a `tail` may reach back.
pub(crate) const MAX_FEED_TAIL: u64 = 1_000_000;

/// Where a dispatch feed starts: after `from`, or `tail` records before
/// the durable head.
fn claims_start(core: &Core, from: Seq, tail: Option<u64>) -> Result<Seq, ApiError> {
    match tail {
        None => Ok(from),
        Some(t) if t > MAX_FEED_TAIL => Err(ApiError::invalid_request(format!(
            "tail must be at most {MAX_FEED_TAIL} journal records"
        ))),
        Some(_) if from != 0 => Err(ApiError::invalid_request("give `from` or `tail`, not both")),
        Some(t) => Ok(core.store.durable_seq().saturating_sub(t)),
    }
}

/// The `subscribe` op: takes a slot, answers, and returns the subscription to run.
async fn subscribe(
    conn: &Conn,
    id: &RequestId,
    req: p::SubscribeRequest<'_>,
) -> Result<(Frame, Option<Sub>), ApiError> {
    topic_action(&req).check(conn.role)?;
    let sub = match req {
        p::SubscribeRequest::Claims { from, tail, partition } => {
            let feed = ClaimsFeed::of(&conn.target, partition)?;
            Subscription::Claims {
                from: claims_start(&feed.core, from, tail)?,
                feed,
            }
        }
        p::SubscribeRequest::Hunts | p::SubscribeRequest::Stats if !matches!(conn.target, Target::Single(_)) => {
            return Err(ApiError::invalid_request(
                "the hunts and stats topics are served by single nodes only (docs/CLUSTER.md)",
            ))
        }
        p::SubscribeRequest::Hunts => Subscription::Hunts,
        p::SubscribeRequest::Stats => Subscription::Stats,
        p::SubscribeRequest::Leaderboard { hunt, limit } => {
            let limit = ops::leaderboard_limit(limit)?;
            ops::leaderboard(&conn.target, &hunt, 1, None).await?;
            Subscription::Leaderboard {
                hunt: hunt.into_owned(),
                limit,
            }
        }
    };
    let (subscription, released) = conn.add_subscription()?;
    let frame = match &sub {
        Subscription::Hunts => conn.reply(id, &p::SubscribeReply::Hunts { ok: true, subscription }),
        Subscription::Stats => conn.reply(
            id,
            &p::SubscribeReply::Stats {
                ok: true,
                subscription,
                interval_ms: crate::live::LIVE_INTERVAL.as_millis() as u64,
            },
        ),
        Subscription::Claims { from, feed } => conn.reply(
            id,
            &p::SubscribeReply::Claims {
                ok: true,
                from: *from,
                subscription,
                partition: feed.partition,
            },
        ),
        Subscription::Leaderboard { hunt, limit } => conn.reply(
            id,
            &p::SubscribeReply::Leaderboard {
                ok: true,
                hunt: hunt.into(),
                limit: *limit as u64,
                subscription,
            },
        ),
    };
    let sub = Sub {
        id: subscription,
        released,
        topic: sub,
    };
    Ok((frame, Some(sub)))
}

/// The dispatch feed: every granted claim after `from`, in journal order,
/// read from the durable journal only.
async fn claims_feed(conn: Arc<Conn>, id: u64, mut released: watch::Receiver<()>, from: Seq, feed: ClaimsFeed) {
    metrics::gauge!("trove_feed_subscribers").increment(1.0);
    let store = feed.core.store.clone();
    let partition = feed.partition;
    let mut closed = feed.closed.unwrap_or_else(|| watch::channel(false).1);
    drop(feed.core);
    let mut durable = store.journal().durability();
    let mut kill = conn.killed();
    let mut shutdown = conn.state.shutdown_signal();
    let mut cursor = from;
    loop {
        if kill.borrow().is_some() || *shutdown.borrow() || released.has_changed().is_err() {
            break;
        }
        if *closed.borrow() {
            moved_push(&conn, id, partition).await;
            break;
        }
        durable.borrow_and_update();
        let s = store.clone();
        let after = cursor;
        let records = match tokio::task::spawn_blocking(move || s.read_after(after, FEED_READ_CHUNK)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::error!(conn = conn.id, error = %e, "dispatch feed cannot read the journal");
                let e = ApiError::internal(format!("the dispatch feed cannot read the journal: {e}"));
                feed_ended(&conn, id, &e).await;
                break;
            }
            Err(_) => break,
        };
        if records.is_empty() {
            tokio::select! {
                _ = kill.changed() => break,
                _ = shutdown.changed() => break,
                _ = unsubscribed(&mut released) => break,
                _ = closed.changed() => {}
                r = durable.changed() => if r.is_err() { break },
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        for (seq, at, record) in records {
            // A block's removed-telemetry counts sit at its first sequence,
            // before that sequence's own entry: not a position to resume after.
            if !matches!(record, Item::RemovedTelemetry { .. }) {
                cursor = seq;
            }
            if let Item::Record(Record::Claim {
                request,
                outcome: Outcome::Granted,
            }) = record
            {
                if released.has_changed().is_err() {
                    break;
                }
                let push = p::ClaimPush {
                    push: "claim".into(),
                    subscription: id,
                    cursor: seq,
                    partition,
                    customs: wire::customs_raw(&request.customs),
                    claim_id: request.claim_id.into(),
                    player: request.player.into(),
                    hunt: request.hunt.into(),
                    sku: request.sku.into(),
                    at,
                };
                if !conn.send(conn.frame(&push)).await {
                    metrics::gauge!("trove_feed_subscribers").decrement(1.0);
                    return;
                }
                metrics::counter!("trove_feed_pushes_total").increment(1);
            }
        }
    }
    metrics::gauge!("trove_feed_subscribers").decrement(1.0);
}

/// Why a partition's feed ended here: the node's routing answer for it
/// (`moved` to its new owner, or `partition_unavailable`).
fn ended_feed_error(target: &Target, partition: Option<u32>) -> ApiError {
    #[cfg(feature = "cluster")]
    if let (Target::Cluster(node), Some(p)) = (target, partition) {
        if let Err(e) = node.slot(p) {
            return e;
        }
    }
    let _ = target;
    ApiError::new(
        ErrorCode::PartitionUnavailable,
        format!("partition {partition:?} left this node; resubscribe at its owner"),
    )
}

/// The end of a partition's claims feed on this node: `moved` (or
/// `partition_unavailable`) with where to resubscribe.
async fn moved_push(conn: &Conn, id: u64, partition: Option<u32>) {
    feed_ended(conn, id, &ended_feed_error(&conn.target, partition)).await;
}

/// The error push that ends claims feed `id`.
async fn feed_ended(conn: &Conn, id: u64, e: &ApiError) {
    let push = p::ErrorPush {
        push: "error".into(),
        topic: "claims".into(),
        subscription: Some(id),
        error: e.body(),
    };
    conn.send(conn.frame(&push)).await;
}

/// Leaderboard pushes: the top entries whenever they change, checked every
/// [`LEADERBOARD_PUSH_INTERVAL`] (the first push is immediate).
async fn leaderboard_feed(conn: Arc<Conn>, id: u64, mut released: watch::Receiver<()>, hunt: String, limit: usize) {
    let mut kill = conn.killed();
    let mut shutdown = conn.state.shutdown_signal();
    let mut tick = tokio::time::interval(LEADERBOARD_PUSH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<(u64, Vec<p::LeaderboardEntry<'static>>)> = None;
    loop {
        if kill.borrow().is_some() || *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = kill.changed() => break,
            _ = shutdown.changed() => break,
            _ = unsubscribed(&mut released) => break,
            _ = tick.tick() => {}
        }
        let (version, board) = match &conn.target {
            Target::Single(core) => {
                let version = core.projection.board(&hunt).map_or(0, |b| b.version);
                if last.as_ref().is_some_and(|(v, _)| *v == version) {
                    continue;
                }
                (version, ops::leaderboard_now(core, &hunt, limit, None))
            }
            #[cfg(feature = "cluster")]
            Target::Cluster(_) => match ops::leaderboard(&conn.target, &hunt, limit, None).await {
                Ok(b) => (0, b),
                Err(_) => continue,
            },
        };
        if last.as_ref().is_some_and(|(_, e)| *e == board.entries) {
            last = Some((version, board.entries));
            continue;
        }
        let push = p::LeaderboardPush {
            push: "leaderboard".into(),
            subscription: id,
            hunt: board.hunt,
            entries: board.entries,
            as_of_seq: board.as_of_seq,
        };
        if !conn.send(conn.frame(&push)).await {
            break;
        }
        last = Some((version, push.entries));
    }
}

/// A `hunts` or `stats` subscription: sends the sampler's latest value
/// (module `live`) each time it changes, stamped with this subscription's
/// id. A client that reads slowly gets the newest value, never a backlog.
async fn live_feed<T, P>(
    conn: Arc<Conn>,
    id: u64,
    mut released: watch::Receiver<()>,
    mut rx: watch::Receiver<Option<Arc<T>>>,
    stamp: impl Fn(&T, u64) -> P,
) where
    P: Serialize,
{
    let mut kill = conn.killed();
    let mut shutdown = conn.state.shutdown_signal();
    // The latest value at once (if the sampler has one), then each new one.
    rx.mark_changed();
    loop {
        tokio::select! {
            _ = kill.changed() => break,
            _ = shutdown.changed() => break,
            _ = unsubscribed(&mut released) => break,
            r = rx.changed() => if r.is_err() { break },
        }
        let Some(value) = rx.borrow_and_update().clone() else {
            continue;
        };
        if !conn.send(conn.frame(&stamp(&value, id))).await {
            break;
        }
    }
}
