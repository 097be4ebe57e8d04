//! [`Client`]: the WebSocket client. Typed ops over `trove_protocol`'s
//! types, request ids, a per-request timeout, a bounded number of requests
//! in flight ([`Admission`]), and [`Reply`] handles so that a caller can
//! pipeline many requests on one connection without awaiting each.

use crate::driver::{Answer, Command, Driver, Settings};
use crate::error::ClientError;
use crate::reconnect::open;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use trove_protocol::{
    ClaimReply, ClaimRequest, Codec, EventsReply, EventsRequest, LeaderboardReply, LeaderboardRequest, Op, PlayerReply,
    PlayerRequest, WsErrorReply,
};

/// What [`Client::send`] does when [`Config::max_in_flight`] requests are
/// already unanswered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Wait for a slot; the wait counts against the request timeout
    /// ([`ClientError::Timeout`] when it runs out first).
    Wait,
    /// Fail at once with [`ClientError::Overloaded`] (for open-loop load
    /// generators, which must not slow down to the server's pace).
    FailFast,
}

/// Settings of a [`Client`]; [`Config::default`] suits most callers.
#[derive(Clone, Debug)]
pub struct Config {
    /// How long a request may wait for its reply (admission and reconnects included).
    pub request_timeout: Duration,
    /// Requests in flight at most (the server's own limit is 64 per connection).
    pub max_in_flight: usize,
    /// What a request does when no slot is free.
    pub admission: Admission,
    /// Limit of one connect attempt (TCP and upgrade).
    pub connect_timeout: Duration,
    /// First reconnect delay ceiling; doubles per attempt.
    pub backoff_base: Duration,
    /// Reconnect delay ceiling.
    pub backoff_cap: Duration,
    /// Seed of the reconnect jitter.
    pub jitter_seed: u64,
    /// Give up (and fail everything with [`ClientError::Closed`]) after this
    /// many failed reconnect attempts in a row; `None` = never.
    pub max_reconnect_attempts: Option<u32>,
    /// Pushes buffered per subscription before the connection waits for the consumer.
    pub push_buffer: usize,
    /// The connection's encoding: JSON text frames (the default; no
    /// subprotocol asked for) or MessagePack binary frames (subprotocol
    /// `trove.v1.msgpack`). Reconnects, re-sent claims and feeds work the
    /// same with both.
    pub codec: Codec,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            request_timeout: Duration::from_secs(30),
            max_in_flight: 64,
            admission: Admission::Wait,
            connect_timeout: Duration::from_secs(10),
            backoff_base: Duration::from_millis(50),
            backoff_cap: Duration::from_secs(5),
            jitter_seed: 0x7c0e,
            max_reconnect_attempts: None,
            push_buffer: 1024,
            codec: Codec::Json,
        }
    }
}

/// A WebSocket connection to `trove serve` that reconnects by itself. Cheap
/// to clone: clones share the connection, its ids and its in-flight limit.
/// The connection closes when the last clone (and subscription) is dropped.
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) cmds: mpsc::Sender<Command>,
    slots: Arc<Semaphore>,
    pub(crate) config: Arc<Config>,
    pub(crate) next_sub: Arc<AtomicU64>,
}

/// The pending answer to one request, from [`Client::send_claim`] and its
/// siblings: `.await` it (it resolves once, within the request timeout). It
/// holds the request's in-flight slot until it resolves or is dropped.
#[must_use = "a reply holds an in-flight slot until awaited or dropped"]
pub struct Reply<T> {
    rx: oneshot::Receiver<Result<Answer, ClientError>>,
    deadline: Instant,
    timeout: Duration,
    slot: Option<OwnedSemaphorePermit>,
    _t: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply").field("deadline", &self.deadline).finish()
    }
}

impl<T: serde::Deserialize<'static> + Send + 'static> IntoFuture for Reply<T> {
    type Output = Result<T, ClientError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T, ClientError>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let result = tokio::time::timeout_at(self.deadline, self.rx).await;
            drop(self.slot);
            match result {
                Err(_) => Err(ClientError::Timeout(self.timeout)),
                Ok(Err(_)) => Err(ClientError::Closed),
                Ok(Ok(answer)) => decode_answer(answer?),
            }
        })
    }
}

/// A reply's fields as `T`, or its error as [`ClientError::Server`].
pub(crate) fn decode_answer<T: serde::Deserialize<'static>>(answer: Answer) -> Result<T, ClientError> {
    if answer.ok {
        Ok(answer.codec.decode_owned(&answer.bytes)?)
    } else {
        let e: WsErrorReply = answer.codec.decode_owned(&answer.bytes)?;
        Err(ClientError::server(e.error, None))
    }
}

impl Client {
    /// Connects to `url` (`ws://HOST:PORT/v1/ws`) with `key` in the
    /// `Authorization` header, with [`Config::default`]. A refused key is
    /// [`ClientError::Unauthorized`] at once, never retried.
    pub async fn connect(url: &str, key: &str) -> Result<Client, ClientError> {
        Client::connect_with(url, key, Config::default()).await
    }

    /// [`Client::connect`] with settings. The first connect is tried once:
    /// reconnecting starts only after a connection has been up.
    pub async fn connect_with(url: &str, key: &str, config: Config) -> Result<Client, ClientError> {
        let socket = open(url, key, config.codec, config.connect_timeout).await?;
        let (cmds, rx) = mpsc::channel(config.max_in_flight.max(1) * 2);
        let settings = Settings {
            url: url.to_owned(),
            key: key.to_owned(),
            codec: config.codec,
            connect_timeout: config.connect_timeout,
            backoff: (config.backoff_base, config.backoff_cap, config.jitter_seed),
            max_reconnect_attempts: config.max_reconnect_attempts,
        };
        tokio::spawn(Driver::new(settings, rx).run(socket));
        Ok(Client {
            cmds,
            slots: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            config: Arc::new(config),
            next_sub: Arc::new(AtomicU64::new(1)),
        })
    }

    /// Whether the connection task has ended (every reconnect attempt
    /// failed, or the key was refused): every request now fails with
    /// [`ClientError::Closed`].
    pub(crate) fn is_closed(&self) -> bool {
        self.cmds.is_closed()
    }

    /// Whether `other` is a handle of the same connection.
    pub(crate) fn same_connection(&self, other: &Client) -> bool {
        self.cmds.same_channel(&other.cmds)
    }

    /// Sends `op` and returns its pending reply without waiting for it. Claims
    /// ([`Op::Claim`]) survive reconnects: they are re-sent unchanged, so the
    /// reply is the server's one decision for that `claim_id`. Every other op
    /// fails with [`ClientError::Disconnected`] if the connection drops first.
    /// Subscriptions go through [`Client::subscribe_claims`] and
    /// [`Client::subscribe_leaderboard`] instead, which follow reconnects.
    pub async fn send<T>(&self, op: &Op<'_>) -> Result<Reply<T>, ClientError> {
        let timeout = self.config.request_timeout;
        let deadline = Instant::now() + timeout;
        let slot = match self.config.admission {
            Admission::FailFast => Arc::clone(&self.slots)
                .try_acquire_owned()
                .map_err(|_| ClientError::Overloaded(self.config.max_in_flight))?,
            Admission::Wait => tokio::time::timeout_at(deadline, Arc::clone(&self.slots).acquire_owned())
                .await
                .map_err(|_| ClientError::Timeout(timeout))?
                .map_err(|_| ClientError::Closed)?,
        };
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Request {
            op: self.config.codec.encode(op)?,
            claim: matches!(op, Op::Claim(_)),
            reply,
        };
        self.cmds.send(cmd).await.map_err(|_| ClientError::Closed)?;
        Ok(Reply {
            rx,
            deadline,
            timeout,
            slot: Some(slot),
            _t: PhantomData,
        })
    }

    /// Sends a claim; see [`Client::send`] for pipelining.
    pub async fn send_claim(&self, req: &ClaimRequest<'_>) -> Result<Reply<ClaimReply<'static>>, ClientError> {
        self.send(&Op::Claim(req.clone())).await
    }

    /// Sends an events batch; see [`Client::send`] for pipelining.
    pub async fn send_events(&self, req: &EventsRequest<'_>) -> Result<Reply<EventsReply>, ClientError> {
        self.send(&Op::Events(req.clone())).await
    }

    /// Claims a product: the decision (granted or rejected; a rejection is
    /// not an error), the original one for a `claim_id` already decided.
    pub async fn claim(&self, req: &ClaimRequest<'_>) -> Result<ClaimReply<'static>, ClientError> {
        self.send_claim(req).await?.await
    }

    /// Ingests an events batch, atomically.
    pub async fn events(&self, req: &EventsRequest<'_>) -> Result<EventsReply, ClientError> {
        self.send_events(req).await?.await
    }

    /// A player's durable view of a hunt.
    pub async fn player(&self, req: &PlayerRequest<'_>) -> Result<PlayerReply<'static>, ClientError> {
        self.send(&Op::Player(req.clone())).await?.await
    }

    /// A hunt's leaderboard (top or around a player).
    pub async fn leaderboard(&self, req: &LeaderboardRequest<'_>) -> Result<LeaderboardReply<'static>, ClientError> {
        self.send(&Op::Leaderboard(req.clone())).await?.await
    }
}
