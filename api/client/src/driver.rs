//! The connection task behind a [`Client`](crate::Client): one per client,
//! owning the socket. It numbers requests, routes replies by id and pushes
//! by subscription, and on a lost connection fails plain requests with
//! [`ClientError::Disconnected`], reconnects with [`Backoff`], re-subscribes
//! every subscription (claims from their last yielded cursor) and re-sends
//! every unanswered claim frame unchanged (same `claim_id`, same request id).
//! A cluster partition's claims feed is the exception: its partition may
//! have moved while the connection was down, so a lost connection ends it
//! with [`ClientError::Disconnected`] and the cluster client resubscribes it
//! wherever the partition lives now.
//!
//! It knows frames only as bytes in the connection's [`Codec`] (text frames
//! for JSON, binary frames for MessagePack; a frame of the other kind is
//! ignored) with a small head (`id`, `ok`, `push`, `subscription`); decoding
//! into protocol types is the caller's side.

use crate::error::ClientError;
use crate::reconnect::{open, Backoff, Socket};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use trove_protocol::{Codec, Frame, Op, RequestId, SubscribeRequest, UnsubscribeRequest};

/// A reply frame's bytes in `codec`, with whether it says `"ok": true`.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) ok: bool,
    pub(crate) codec: Codec,
    pub(crate) bytes: Vec<u8>,
}

pub(crate) type ReplyTx = oneshot::Sender<Result<Answer, ClientError>>;
/// Push frames of one subscription (bytes in the client's codec), or the
/// error that ended it.
pub(crate) type PushTx = mpsc::Sender<Result<Vec<u8>, ClientError>>;

/// What a subscription asks for; re-sent on every reconnect.
#[derive(Debug)]
pub(crate) enum Topic {
    /// The claims feed; resumes after the cursor its consumer last yielded.
    Claims {
        /// The cursor of the last claim the consumer yielded.
        cursor: Arc<AtomicU64>,
        /// Cluster mode: the partition whose feed to follow.
        partition: Option<u32>,
        /// Subscribe again after a reconnect (a single server's feed). When
        /// false (a cluster partition's feed, whose partition may have moved
        /// while the connection was down) a lost connection ends the
        /// subscription with [`ClientError::Disconnected`] instead.
        resume: bool,
    },
    /// Leaderboard pushes of a hunt.
    Leaderboard { hunt: String, limit: Option<u64> },
}

/// What a client handle asks of the connection task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send `op` (an encoded op map without `id`); `claim` ones survive reconnects.
    Request { op: Frame, claim: bool, reply: ReplyTx },
    /// Start subscription `local` (the client's own id for it).
    Subscribe {
        local: u64,
        topic: Topic,
        pushes: PushTx,
        reply: ReplyTx,
    },
    /// End subscription `local`.
    Unsubscribe { local: u64, reply: ReplyTx },
}

/// Reconnect settings the task needs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) url: String,
    pub(crate) key: String,
    pub(crate) codec: Codec,
    pub(crate) connect_timeout: Duration,
    pub(crate) backoff: (Duration, Duration, u64),
    pub(crate) max_reconnect_attempts: Option<u32>,
}

enum Kind {
    Plain,
    Claim(Frame),
    Subscribe(u64),
}

struct Pending {
    kind: Kind,
    reply: Option<ReplyTx>,
}

struct Sub {
    topic: Topic,
    server_id: Option<u64>,
    pushes: PushTx,
    first_reply: Option<ReplyTx>,
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    ok: Option<bool>,
    #[serde(borrow, default)]
    push: Option<Cow<'a, str>>,
    #[serde(default)]
    subscription: Option<u64>,
}

#[derive(PartialEq)]
enum End {
    Lost,
    Shutdown,
}

pub(crate) struct Driver {
    settings: Settings,
    cmds: mpsc::Receiver<Command>,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    subs: HashMap<u64, Sub>,
    by_server: HashMap<u64, u64>,
}

type Sink = futures_util::stream::SplitSink<Socket, Message>;

impl Driver {
    pub(crate) fn new(settings: Settings, cmds: mpsc::Receiver<Command>) -> Driver {
        Driver {
            settings,
            cmds,
            next_id: 1,
            pending: HashMap::new(),
            subs: HashMap::new(),
            by_server: HashMap::new(),
        }
    }

    /// Serves `socket`, then reconnects whenever the connection is lost,
    /// until every handle is dropped or reconnecting gives up.
    pub(crate) async fn run(mut self, socket: Socket) {
        let mut socket = Some(socket);
        loop {
            let s = match socket.take() {
                Some(s) => s,
                None => match self.reconnect().await {
                    Some(s) => s,
                    None => return,
                },
            };
            if self.serve(s).await == End::Shutdown {
                return;
            }
            self.on_disconnect();
        }
    }

    /// The next request id, and `op` (an encoded op map) with it.
    fn frame(&mut self, op: &Frame) -> Result<(u64, Frame), ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        Ok((id, self.settings.codec.with_id(&RequestId::from(id), op)?))
    }

    /// A frame of `op`, with the next request id.
    fn op_frame(&mut self, op: &Op<'_>) -> Result<(u64, Frame), ClientError> {
        let op = self.settings.codec.encode(op)?;
        self.frame(&op)
    }

    fn subscribe_frame(&mut self, local: u64) -> Option<(u64, Frame)> {
        let req = match &self.subs.get(&local)?.topic {
            Topic::Claims { cursor, partition, .. } => SubscribeRequest::Claims {
                from: cursor.load(Ordering::SeqCst),
                tail: None,
                partition: *partition,
            },
            Topic::Leaderboard { hunt, limit } => SubscribeRequest::Leaderboard {
                hunt: hunt.clone().into(),
                limit: *limit,
            },
        };
        self.op_frame(&Op::Subscribe(req)).ok()
    }

    /// After a connect: every subscription again, then every unanswered claim.
    async fn resume(&mut self, sink: &mut Sink) -> Result<(), ()> {
        self.subs.retain(|_, s| !s.pushes.is_closed());
        let locals: Vec<u64> = self.subs.keys().copied().collect();
        for local in locals {
            if let Some((id, frame)) = self.subscribe_frame(local) {
                self.pending.insert(
                    id,
                    Pending {
                        kind: Kind::Subscribe(local),
                        reply: None,
                    },
                );
                sink.send(message(frame)).await.map_err(drop)?;
            }
        }
        self.pending
            .retain(|_, p| p.reply.as_ref().is_some_and(|r| !r.is_closed()) || matches!(p.kind, Kind::Subscribe(_)));
        let mut claims: Vec<(u64, Frame)> = self
            .pending
            .iter()
            .filter_map(|(id, p)| match &p.kind {
                Kind::Claim(frame) => Some((*id, frame.clone())),
                _ => None,
            })
            .collect();
        claims.sort_unstable_by_key(|(id, _)| *id);
        for (_, frame) in claims {
            sink.send(message(frame)).await.map_err(drop)?;
        }
        Ok(())
    }

    async fn serve(&mut self, socket: Socket) -> End {
        let (mut sink, mut stream) = socket.split();
        if self.resume(&mut sink).await.is_err() {
            return End::Lost;
        }
        loop {
            tokio::select! {
                cmd = self.cmds.recv() => {
                    let Some(cmd) = cmd else {
                        let _ = sink.close().await;
                        return End::Shutdown;
                    };
                    if let Some(frame) = self.accept(cmd, true) {
                        if sink.send(message(frame)).await.is_err() {
                            return End::Lost;
                        }
                    }
                }
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(t))) if self.settings.codec == Codec::Json => self.route(t.as_bytes()).await,
                    Some(Ok(Message::Binary(b))) if self.settings.codec == Codec::MessagePack => self.route(&b).await,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return End::Lost,
                    Some(Ok(_)) => {}
                },
            }
        }
    }

    /// Registers a command; the frame to send now, if connected.
    fn accept(&mut self, cmd: Command, connected: bool) -> Option<Frame> {
        match cmd {
            Command::Request { op, claim, reply } => {
                if !connected && !claim {
                    let _ = reply.send(Err(ClientError::Disconnected));
                    return None;
                }
                let (id, frame) = match self.frame(&op) {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return None;
                    }
                };
                let kind = if claim { Kind::Claim(frame.clone()) } else { Kind::Plain };
                self.pending.insert(
                    id,
                    Pending {
                        kind,
                        reply: Some(reply),
                    },
                );
                connected.then_some(frame)
            }
            Command::Subscribe {
                local,
                topic,
                pushes,
                reply,
            } => {
                let sub = Sub {
                    topic,
                    server_id: None,
                    pushes,
                    first_reply: Some(reply),
                };
                self.subs.insert(local, sub);
                if !connected {
                    return None;
                }
                let (id, frame) = self.subscribe_frame(local)?;
                self.pending.insert(
                    id,
                    Pending {
                        kind: Kind::Subscribe(local),
                        reply: None,
                    },
                );
                Some(frame)
            }
            Command::Unsubscribe { local, reply } => self.unsubscribe(local, reply, connected),
        }
    }

    fn unsubscribe(&mut self, local: u64, reply: ReplyTx, connected: bool) -> Option<Frame> {
        let server_id = self.subs.remove(&local).and_then(|s| s.server_id);
        if let Some(sid) = server_id {
            self.by_server.remove(&sid);
        }
        match server_id {
            Some(sid) if connected => {
                let op = Op::Unsubscribe(UnsubscribeRequest { subscription: sid });
                let (id, frame) = match self.op_frame(&op) {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return None;
                    }
                };
                self.pending.insert(
                    id,
                    Pending {
                        kind: Kind::Plain,
                        reply: Some(reply),
                    },
                );
                Some(frame)
            }
            _ => {
                let _ = reply.send(Err(ClientError::Disconnected));
                None
            }
        }
    }

    async fn route(&mut self, bytes: &[u8]) {
        let Ok(head) = self.settings.codec.decode::<Head<'_>>(bytes) else {
            return;
        };
        if let Some(push) = head.push {
            let Some(local) = head.subscription.and_then(|sid| self.by_server.get(&sid).copied()) else {
                return;
            };
            let mut ended = push == "error";
            if let Some(sub) = self.subs.get(&local) {
                // A dropped consumer ends the subscription here too.
                ended |= sub.pushes.send(Ok(bytes.to_vec())).await.is_err();
            }
            if ended {
                self.subs.remove(&local);
                if let Some(sid) = head.subscription {
                    self.by_server.remove(&sid);
                }
            }
            return;
        }
        let Some(p) = head.id.and_then(|id| self.pending.remove(&id)) else {
            return;
        };
        let answer = Answer {
            ok: head.ok == Some(true),
            codec: self.settings.codec,
            bytes: bytes.to_vec(),
        };
        match p.kind {
            Kind::Subscribe(local) => self.subscribed(local, head.subscription, answer).await,
            Kind::Plain | Kind::Claim(_) => {
                if let Some(r) = p.reply {
                    let _ = r.send(Ok(answer));
                }
            }
        }
    }

    async fn subscribed(&mut self, local: u64, server_id: Option<u64>, answer: Answer) {
        let Some(sub) = self.subs.get_mut(&local) else {
            return;
        };
        match server_id.filter(|_| answer.ok) {
            Some(sid) => {
                sub.server_id = Some(sid);
                self.by_server.insert(sid, local);
                if let Some(r) = sub.first_reply.take() {
                    let _ = r.send(Ok(answer));
                }
            }
            None => {
                let Some(sub) = self.subs.remove(&local) else { return };
                match sub.first_reply {
                    Some(r) => {
                        let _ = r.send(Ok(answer));
                    }
                    None => {
                        let _ = sub.pushes.send(Ok(answer.bytes)).await;
                    }
                }
            }
        }
    }

    /// Fails what cannot survive the lost connection; keeps claims and
    /// subscriptions (but ends those that do not resume).
    fn on_disconnect(&mut self) {
        self.by_server.clear();
        self.subs.retain(|_, sub| {
            if matches!(sub.topic, Topic::Claims { resume: false, .. }) {
                match sub.first_reply.take() {
                    Some(r) => {
                        let _ = r.send(Err(ClientError::Disconnected));
                    }
                    None => {
                        let _ = sub.pushes.try_send(Err(ClientError::Disconnected));
                    }
                }
                return false;
            }
            sub.server_id = None;
            true
        });
        self.pending.retain(|_, p| match p.kind {
            Kind::Claim(_) => true,
            Kind::Subscribe(_) => false,
            Kind::Plain => {
                if let Some(r) = p.reply.take() {
                    let _ = r.send(Err(ClientError::Disconnected));
                }
                false
            }
        });
    }

    /// Waits and retries until connected; `None` when every handle is gone,
    /// the key is refused, or the attempts ran out.
    async fn reconnect(&mut self) -> Option<Socket> {
        let (base, cap, seed) = self.settings.backoff;
        let mut backoff = Backoff::new(base, cap, seed.wrapping_add(self.next_id));
        loop {
            if self
                .settings
                .max_reconnect_attempts
                .is_some_and(|m| backoff.attempts() >= m)
            {
                self.give_up(ClientError::Closed);
                return None;
            }
            let delay = backoff.next_delay();
            let (url, key, codec, limit) = (
                self.settings.url.clone(),
                self.settings.key.clone(),
                self.settings.codec,
                self.settings.connect_timeout,
            );
            let attempt = async move {
                tokio::time::sleep(delay).await;
                open(&url, &key, codec, limit).await
            };
            tokio::pin!(attempt);
            let result = loop {
                tokio::select! {
                    r = &mut attempt => break r,
                    cmd = self.cmds.recv() => match cmd {
                        Some(cmd) => { self.accept(cmd, false); }
                        None => return None,
                    },
                }
            };
            match result {
                Ok(socket) => return Some(socket),
                Err(ClientError::Unauthorized) => {
                    self.give_up(ClientError::Unauthorized);
                    return None;
                }
                Err(_) => continue,
            }
        }
    }

    fn give_up(&mut self, why: ClientError) {
        let code = why.code();
        for (_, p) in self.pending.drain() {
            if let Some(r) = p.reply {
                let _ = r.send(Err(if code.is_some() {
                    ClientError::Unauthorized
                } else {
                    ClientError::Closed
                }));
            }
        }
        for (_, s) in self.subs.drain() {
            let _ = s.pushes.try_send(Err(ClientError::Closed));
        }
    }
}

/// A frame as a WebSocket message: text (JSON) or binary (MessagePack).
fn message(frame: Frame) -> Message {
    match frame {
        Frame::Text(t) => Message::text(t),
        Frame::Binary(b) => Message::binary(b),
    }
}
