//! [`ClusterClient`]: the client of a Trove cluster (`trove serve
//! --cluster ...`), where each player belongs to one of the cluster's
//! partitions and each partition is served by one node at a time.
//!
//! **The map.** Every node answers `GET /v1/cluster` with the partition map
//! ([`ClusterMap`]: the partition count, the live nodes, each partition's
//! owner with its URL and ownership epoch). [`ClusterClient::connect`] reads
//! it from the first seed URL that answers; the client keeps it and reads it
//! again ([`ClusterClient::refresh`], or by itself when an op meets a
//! routing answer) from any node it knows, live nodes first, then the seeds.
//! A map read from one node can be a little older than what another node
//! told: each partition's entry remembers the etcd revision it is known as
//! of (the map's revision, or the epoch a `moved` answer named), and an
//! older answer never overwrites a newer one. So a `moved` hint followed by
//! a refresh from a node that has not seen the move yet does not send the
//! client back to the old owner.
//!
//! **Routing.** A player's partition is
//! [`partition_of`]`(player, partitions)`, the hash every node uses. Claims
//! and player reads go over the WebSocket of the partition's owner: one
//! [`Client`] per owner URL (`http://host:port` becomes
//! `ws://host:port/v1/ws`, `https` becomes `wss`), opened when first needed
//! and shared by every op to that owner. Leaderboards go to any node (the
//! server merges the partitions). An events batch is split by partition,
//! each sub-batch going to its owner concurrently; the reply adds up what
//! each applied ([`ClusterEventsReply`]).
//!
//! **Retries.** Ownership moves (rebalancing, a node failing, a rolling
//! restart), and an op can meet a node that no longer serves its partition:
//! - `moved`: the answer names the new owner; the client writes it in its
//!   map, re-reads the whole map in the background, and sends again at
//!   once (with a backoff if it is moved again);
//! - `partition_unavailable`, `cluster_unavailable`, `shutting_down`, a lost
//!   or refused connection: it waits (exponential backoff with full jitter,
//!   from [`ClusterConfig::retry_base`] to [`ClusterConfig::retry_cap`]),
//!   re-reads the map and sends again.
//!
//! An op gives up after [`ClusterConfig::retry_deadline`] (all its attempts
//! included) with the last error. Claims and reads are retried on all of
//! these: a claim is idempotent by its `claim_id`, whichever node decides it.
//! An events sub-batch is retried only on answers that mean nothing was
//! applied (`moved`, `partition_unavailable`, `partition_span`) or when it
//! was never sent; after a lost connection its fate is unknown and it fails
//! ([`ClientError::Events`] names each failed partition with the positions
//! of its events in the caller's batch; the others were applied). An owner
//! connection that cannot reconnect within
//! [`ClusterConfig::reconnect_attempts`] closes (its claims fail over to the
//! map's next answer instead of waiting for a dead node); the next op to
//! that owner opens a new one.
//!
//! **The claims feed.** Each partition has its own journal, so its own
//! cursors: [`ClusterClient::subscribe_claims`] follows every partition's
//! feed at its owner and merges them into one [`ClusterFeed`] (claims of one
//! partition in journal order; partitions interleaved as they come), with a
//! [`VectorCursor`] (a cursor per partition) that advances only as items are
//! yielded: persist it after processing and pass it back on the next start
//! for at-least-once delivery. When a partition's feed ends (the server's
//! `moved` or `partition_unavailable` push when the partition leaves the
//! node, or a lost connection), the feed resubscribes that partition at its
//! owner, from its last cursor, with backoff. The feed uses connections of
//! its own (at most 16 partitions per connection, the server's subscription
//! limit), so a slow consumer never stalls claims.
//!
//! ```no_run
//! use trove_client::{ClusterClient, ClusterConfig, VectorCursor};
//! use trove_protocol::{ClaimRequest, EventKind, EventsRequest, GameEvent, PlayerRequest};
//!
//! # async fn run() -> Result<(), trove_client::ClientError> {
//! let seeds = vec!["http://10.0.0.1:8080".to_owned(), "http://10.0.0.2:8080".to_owned()];
//! let cluster = ClusterClient::connect(&seeds, "game-key", ClusterConfig::default()).await?;
//! println!("{} partitions", cluster.map().partitions);
//!
//! // Routed to the owner of p1's partition; retried across moves.
//! let claim = ClaimRequest {
//!     claim_id: "p1-mug-1".into(),
//!     player: "p1".into(),
//!     hunt: "h1".into(),
//!     sku: "mug".into(),
//!     customs: None,
//! };
//! let reply = cluster.claim(&claim).await?;
//! let view = cluster.player(&PlayerRequest { player: "p1".into(), hunt: "h1".into() }).await?;
//!
//! // Split by partition, sent concurrently.
//! let batch = EventsRequest {
//!     events: ["p1", "p2", "p3"]
//!         .into_iter()
//!         .map(|p| GameEvent {
//!             player: p.into(),
//!             hunt: "h1".into(),
//!             kind: EventKind::ClueFound { clue: "c1".into() },
//!         })
//!         .collect(),
//! };
//! let applied = cluster.events(&batch).await?;
//! assert_eq!(applied.accepted, 3);
//!
//! // Every partition's dispatch feed, merged; resume from a saved cursor.
//! let mut feed = cluster.subscribe_claims(VectorCursor::new());
//! while let Some(item) = feed.next().await {
//!     let (partition, push) = item?;
//!     println!("partition {partition}: dispatch {} to {}", push.sku, push.player);
//!     let _save = serde_json::to_string(feed.cursor()).unwrap();
//! }
//! # let _ = (reply, view);
//! # Ok(())
//! # }
//! ```

pub use crate::error::ClusterEventsReply;
use crate::error::{ClientError, PartitionError};
use crate::http::HttpClient;
use crate::reconnect::Backoff;
use crate::ws::{Client, Config};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, OnceCell};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use trove_protocol::cluster::MAX_PARTITIONS;
use trove_protocol::{
    partition_of, ClaimPush, ClaimReply, ClaimRequest, ClusterMap, ErrorBody, ErrorCode, EventsReply, EventsRequest,
    LeaderboardReply, LeaderboardRequest, Op, PartitionOwner, PlayerReply, PlayerRequest,
};

/// Partitions whose feeds share one feed connection at most (the server's
/// limit of subscriptions per connection).
const FEED_SUBS_PER_CONNECTION: u32 = 16;

/// Settings of a [`ClusterClient`]; [`ClusterConfig::default`] suits most
/// callers, and a [`Config`] converts into one (with the other defaults).
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Settings of each owner connection (a [`Client`]). Its
    /// `max_reconnect_attempts` is replaced by
    /// [`reconnect_attempts`](ClusterConfig::reconnect_attempts).
    pub client: Config,
    /// How long an op may take in all, retries included, before it fails
    /// with the last error (default 15 s). It also bounds each attempt: an
    /// op never waits longer, whatever [`Config::request_timeout`] says.
    pub retry_deadline: Duration,
    /// The first wait before a retry (default 50 ms); doubles per retry.
    pub retry_base: Duration,
    /// The longest wait before a retry (default 1 s).
    pub retry_cap: Duration,
    /// Failed reconnects in a row after which an owner connection closes
    /// (default 3): the partition has likely moved, and the next op reads
    /// the map and connects where it lives now.
    pub reconnect_attempts: u32,
    /// Limit of one `GET /v1/cluster` (default 2 s), so that a dead node
    /// does not hold a map refresh for long.
    pub map_timeout: Duration,
}

impl Default for ClusterConfig {
    fn default() -> ClusterConfig {
        ClusterConfig::from(Config::default())
    }
}

impl From<Config> for ClusterConfig {
    fn from(client: Config) -> ClusterConfig {
        ClusterConfig {
            client,
            retry_deadline: Duration::from_secs(15),
            retry_base: Duration::from_millis(50),
            retry_cap: Duration::from_secs(1),
            reconnect_attempts: 3,
            map_timeout: Duration::from_secs(2),
        }
    }
}

/// A position in every partition's claims feed: partition -> the cursor of
/// the last claim yielded from it (a partition absent is at 0, the start).
/// Serializes as a map, e.g. `{"0": 17, "5": 3}` in JSON, so that a consumer
/// can persist it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VectorCursor(pub BTreeMap<u32, u64>);

impl VectorCursor {
    /// Every partition from the start.
    pub fn new() -> VectorCursor {
        VectorCursor::default()
    }

    /// The cursor of `partition` (0 if absent).
    pub fn get(&self, partition: u32) -> u64 {
        self.0.get(&partition).copied().unwrap_or(0)
    }

    /// Moves `partition` to `cursor`, never backwards.
    fn advance(&mut self, partition: u32, cursor: u64) {
        let c = self.0.entry(partition).or_insert(0);
        *c = (*c).max(cursor);
    }
}

/// A client of a Trove cluster: ops routed to their partition's owner and
/// retried across ownership moves. Cheap to clone (clones share the map and
/// the connections).
#[derive(Clone)]
pub struct ClusterClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for ClusterClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes = read(&self.inner.routes);
        f.debug_struct("ClusterClient")
            .field("seeds", &self.inner.seeds)
            .field("partitions", &routes.map.partitions)
            .field("revision", &routes.map.revision)
            .finish_non_exhaustive()
    }
}

/// What a [`ClusterClient`] shares between its clones and its feeds.
#[derive(Debug)]
struct Inner {
    key: String,
    config: ClusterConfig,
    seeds: Vec<String>,
    http: reqwest::Client,
    routes: RwLock<Routes>,
    /// Held while the map is read, so that many ops meeting a routing
    /// answer at once read it once.
    refreshing: tokio::sync::Mutex<()>,
    /// Map reads done (successful or not).
    generation: AtomicU64,
    /// Rotates the node asked for a map or a leaderboard.
    next_node: AtomicUsize,
    /// Op connections, one per owner.
    conns: Pool,
}

/// The map as the client knows it, with how recent each partition's entry is.
#[derive(Debug)]
struct Routes {
    /// One owner entry per partition, in partition order.
    map: ClusterMap,
    /// By partition: the etcd revision its entry is known as of.
    known: Vec<i64>,
}

/// Owner connections, by WebSocket URL and group (ops use group 0; a feed
/// puts partitions `16g..16g+15` of an owner in group `g`), opened on first
/// use; a closed one is replaced.
#[derive(Debug)]
struct Pool {
    key: String,
    config: Config,
    conns: Mutex<HashMap<(String, u32), Slot>>,
}

/// A connection of a [`Pool`], opened once by whoever needs it first.
type Slot = Arc<OnceCell<Client>>;

/// What a [`Follow`] task hands to its [`ClusterFeed`].
type FeedItem = Result<(u32, ClaimPush<'static>), ClientError>;

/// Which answers an op may be sent again after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Safety {
    /// Claims and reads: any routing or connection failure.
    Idempotent,
    /// Events: only failures that mean nothing was applied.
    Events,
}

/// Where an op goes.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// The owner of this partition.
    Partition(u32),
    /// Any node.
    AnyNode,
}

impl ClusterClient {
    /// Reads the map from the first of `seeds` (base HTTP URLs of any nodes,
    /// `http://host:port`) that answers `GET /v1/cluster` with `key`; the
    /// error of the last seed if none does. Owner connections are opened
    /// when first needed. `config` is a [`ClusterConfig`] or a [`Config`].
    pub async fn connect(
        seeds: &[impl AsRef<str>],
        key: &str,
        config: impl Into<ClusterConfig>,
    ) -> Result<ClusterClient, ClientError> {
        let config = config.into();
        let seeds: Vec<String> = seeds.iter().map(|s| s.as_ref().to_owned()).collect();
        let http = reqwest::Client::builder()
            .timeout(config.map_timeout)
            .connect_timeout(config.map_timeout)
            .build()?;
        let mut last = ClientError::Url("no seed URL given".into());
        let mut map = None;
        for seed in &seeds {
            match fetch_map(&http, seed, key).await {
                Ok(m) => {
                    map = Some(m);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let map = map.ok_or(last)?;
        let conns = Pool::new(key, &config);
        let inner = Inner {
            key: key.to_owned(),
            seeds,
            http,
            routes: RwLock::new(Routes::new(map)),
            refreshing: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            next_node: AtomicUsize::new(0),
            conns,
            config,
        };
        Ok(ClusterClient { inner: Arc::new(inner) })
    }

    /// The map as the client knows it now (a `moved` answer may have
    /// updated an entry since the last read).
    pub fn map(&self) -> ClusterMap {
        read(&self.inner.routes).map.clone()
    }

    /// Reads the map again from any node (live nodes first, then the seeds)
    /// and returns it as the client now knows it.
    pub async fn refresh(&self) -> Result<ClusterMap, ClientError> {
        let _one = self.inner.refreshing.lock().await;
        let result = self.inner.read_map().await;
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        result?;
        Ok(self.map())
    }

    /// The partition of `player` in this cluster.
    pub fn partition_of(&self, player: &str) -> u32 {
        partition_of(player, read(&self.inner.routes).map.partitions)
    }

    /// Claims a product at the owner of the player's partition; the
    /// decision (granted or rejected), the original one for a `claim_id`
    /// already decided (also when a retry reaches another owner).
    pub async fn claim(&self, req: &ClaimRequest<'_>) -> Result<ClaimReply<'static>, ClientError> {
        let target = Target::Partition(self.partition_of(&req.player));
        self.inner
            .call(target, &Op::Claim(req.clone()), Safety::Idempotent)
            .await
    }

    /// A player's durable view of a hunt, from the owner of its partition.
    pub async fn player(&self, req: &PlayerRequest<'_>) -> Result<PlayerReply<'static>, ClientError> {
        let target = Target::Partition(self.partition_of(&req.player));
        self.inner
            .call(target, &Op::Player(req.clone()), Safety::Idempotent)
            .await
    }

    /// A hunt's leaderboard (top or around a player), from any node: the
    /// server merges every partition's.
    pub async fn leaderboard(&self, req: &LeaderboardRequest<'_>) -> Result<LeaderboardReply<'static>, ClientError> {
        self.inner
            .call(Target::AnyNode, &Op::Leaderboard(req.clone()), Safety::Idempotent)
            .await
    }

    /// Ingests an events batch: one sub-batch per partition (each applied
    /// atomically at its owner), sent concurrently. If any fails, the error
    /// is [`ClientError::Events`]: each failed partition with the positions
    /// of its events in `req`, and what the others applied. An empty batch
    /// is sent nowhere.
    pub async fn events(&self, req: &EventsRequest<'_>) -> Result<ClusterEventsReply, ClientError> {
        let groups = split_by_partition(req.events.iter().map(|e| e.player.as_ref()), self.map().partitions);
        let sends = groups.into_iter().map(|(partition, indexes)| {
            let sub = EventsRequest {
                events: indexes.iter().map(|&i| req.events[i].clone()).collect(),
            };
            async move {
                let op = Op::Events(sub);
                let result = self
                    .inner
                    .call::<EventsReply>(Target::Partition(partition), &op, Safety::Events)
                    .await;
                (partition, indexes, result)
            }
        });
        let mut applied = ClusterEventsReply::default();
        let mut failed = Vec::new();
        for (partition, indexes, result) in futures_util::future::join_all(sends).await {
            match result {
                Ok(r) => {
                    applied.accepted += r.accepted;
                    applied.seqs.insert(partition, r.seq);
                }
                Err(e) => failed.push(PartitionError {
                    partition,
                    error: with_original_index(e, &indexes),
                    indexes,
                }),
            }
        }
        if failed.is_empty() {
            Ok(applied)
        } else {
            Err(ClientError::Events { applied, failed })
        }
    }

    /// Follows every partition's dispatch feed after `cursor`, merged (see
    /// [`ClusterFeed`]). The subscriptions are made in the background (on
    /// connections of the feed's own); a partition that cannot be reached
    /// yet is retried until it can.
    pub fn subscribe_claims(&self, cursor: VectorCursor) -> ClusterFeed {
        let partitions = self.map().partitions;
        let (out, rx) = mpsc::channel(self.inner.config.client.push_buffer.max(1));
        let pool = Arc::new(Pool::new(&self.inner.key, &self.inner.config));
        let tasks = (0..partitions)
            .map(|p| {
                let follow = Follow {
                    inner: Arc::clone(&self.inner),
                    pool: Arc::clone(&pool),
                    partition: p,
                    from: cursor.get(p),
                    out: out.clone(),
                };
                tokio::spawn(follow.run())
            })
            .collect();
        ClusterFeed { rx, cursor, tasks }
    }
}

impl Inner {
    /// Sends `op` to `target` until it succeeds, fails for good, or the
    /// retry deadline passes (then the last error).
    async fn call<T>(self: &Arc<Self>, target: Target, op: &Op<'_>, safety: Safety) -> Result<T, ClientError>
    where
        T: serde::Deserialize<'static> + Send + 'static,
    {
        let deadline = Instant::now() + self.config.retry_deadline;
        let mut last = None;
        let result = tokio::time::timeout_at(deadline, self.attempts(target, op, safety, &mut last)).await;
        match result {
            Ok(r) => r,
            Err(_) => Err(last.unwrap_or(ClientError::Timeout(self.config.retry_deadline))),
        }
    }

    /// The attempts of [`Inner::call`], each failure kept in `last`.
    async fn attempts<T>(
        self: &Arc<Self>,
        target: Target,
        op: &Op<'_>,
        safety: Safety,
        last: &mut Option<ClientError>,
    ) -> Result<T, ClientError>
    where
        T: serde::Deserialize<'static> + Send + 'static,
    {
        let mut backoff = self.backoff(0);
        let mut moved_in_a_row = 0u32;
        loop {
            let seen = self.generation.load(Ordering::SeqCst);
            let (e, sent) = match self.attempt(target, op).await {
                Ok(v) => return Ok(v),
                Err(failure) => failure,
            };
            if !retryable(&e, sent, safety) {
                return Err(e);
            }
            let hint = moved_hint(&e);
            *last = Some(e);
            match hint {
                Some((partition, url, epoch)) => {
                    write(&self.routes).hint(partition, &url, epoch);
                    let me = Arc::clone(self);
                    tokio::spawn(async move { me.refresh_since(seen).await });
                    moved_in_a_row += 1;
                    if moved_in_a_row > 1 {
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                }
                None => {
                    moved_in_a_row = 0;
                    tokio::time::sleep(backoff.next_delay()).await;
                    self.refresh_since(seen).await;
                }
            }
        }
    }

    /// One attempt: the error, and whether the op may have reached a server.
    async fn attempt<T>(&self, target: Target, op: &Op<'_>) -> Result<T, (ClientError, bool)>
    where
        T: serde::Deserialize<'static> + Send + 'static,
    {
        let url = match target {
            Target::Partition(p) => self.owner_url(p),
            Target::AnyNode => self.any_node(),
        };
        let ws = ws_url(&url.map_err(|e| (e, false))?).map_err(|e| (e, false))?;
        let client = self.conns.get(&ws, 0).await.map_err(|e| (e, false))?;
        let reply = match client.send::<T>(op).await {
            Ok(r) => r,
            Err(e) => {
                self.conns.evict_if_closed(&ws, 0, &client, &e);
                return Err((e, false));
            }
        };
        reply.await.map_err(|e| {
            self.conns.evict_if_closed(&ws, 0, &client, &e);
            (e, true)
        })
    }

    /// The owner URL of `partition`, or `partition_unavailable` if the map
    /// has none.
    fn owner_url(&self, partition: u32) -> Result<String, ClientError> {
        let routes = read(&self.routes);
        match routes.map.owner(partition).and_then(|o| o.url.clone()) {
            Some(url) => Ok(url),
            None => {
                let mut body = ErrorBody::new(
                    ErrorCode::PartitionUnavailable,
                    format!("partition {partition} has no owner in the cluster map"),
                );
                body.partition = Some(partition);
                Err(ClientError::server(body, None))
            }
        }
    }

    /// A node for an op any node serves: the live nodes in turn.
    fn any_node(&self) -> Result<String, ClientError> {
        let nodes = self.nodes();
        let i = self.next_node.fetch_add(1, Ordering::Relaxed);
        nodes
            .get(i % nodes.len().max(1))
            .cloned()
            .ok_or_else(|| ClientError::Url("the cluster map names no node".into()))
    }

    /// Every node URL known: the map's live nodes, then the seeds, once each.
    fn nodes(&self) -> Vec<String> {
        let routes = read(&self.routes);
        let live = routes.map.nodes.iter().map(|n| n.url.clone());
        let mut urls: Vec<String> = Vec::new();
        for url in live.chain(self.seeds.iter().cloned()) {
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        urls
    }

    /// Reads the map again unless another task did since `seen` (a
    /// generation); failures are left to the next attempt.
    async fn refresh_since(&self, seen: u64) {
        let _one = self.refreshing.lock().await;
        if self.generation.load(Ordering::SeqCst) != seen {
            return;
        }
        let _ = self.read_map().await;
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Reads the map from the first node that answers, starting at the
    /// next one in turn, and merges it in.
    async fn read_map(&self) -> Result<(), ClientError> {
        let nodes = self.nodes();
        let start = self.next_node.fetch_add(1, Ordering::Relaxed);
        let mut last = ClientError::Url("no node to ask for the map".into());
        for i in 0..nodes.len() {
            let url = &nodes[(start + i) % nodes.len()];
            match fetch_map(&self.http, url, &self.key).await {
                Ok(map) => {
                    write(&self.routes).adopt(map);
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Retry delays, their jitter seeded from the config and `salt`.
    fn backoff(&self, salt: u64) -> Backoff {
        let seed = self.config.client.jitter_seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Backoff::new(self.config.retry_base, self.config.retry_cap, seed)
    }
}

/// `GET /v1/cluster` at `url`, checked to be a usable map.
async fn fetch_map(http: &reqwest::Client, url: &str, key: &str) -> Result<ClusterMap, ClientError> {
    let map = HttpClient::with_client(http.clone(), url, Some(key))?.cluster().await?;
    if map.partitions == 0 || map.partitions > MAX_PARTITIONS {
        let message = format!("{url} answered a map of {} partitions", map.partitions);
        return Err(ClientError::server(
            ErrorBody::new(ErrorCode::ClusterUnavailable, message),
            None,
        ));
    }
    Ok(map)
}

/// Whether an op that failed with `e` may be sent again: `sent` says whether
/// it may have reached a server.
fn retryable(e: &ClientError, sent: bool, safety: Safety) -> bool {
    if !sent || safety == Safety::Idempotent {
        return transient(e);
    }
    matches!(
        e.code(),
        Some(ErrorCode::Moved | ErrorCode::PartitionUnavailable | ErrorCode::PartitionSpan)
    )
}

/// A failure that another attempt, after a map refresh, may not meet: a
/// routing answer, a node stopping, a lost or refused connection.
fn transient(e: &ClientError) -> bool {
    match e {
        ClientError::Disconnected
        | ClientError::Closed
        | ClientError::Timeout(_)
        | ClientError::WebSocket(_)
        | ClientError::Http(_) => true,
        _ => matches!(
            e.code(),
            Some(
                ErrorCode::Moved
                    | ErrorCode::PartitionUnavailable
                    | ErrorCode::PartitionSpan
                    | ErrorCode::ClusterUnavailable
                    | ErrorCode::ShuttingDown
                    | ErrorCode::NotReady
                    | ErrorCode::TooManySubscriptions
            )
        ),
    }
}

/// A `moved` answer's partition, owner URL and epoch.
fn moved_hint(e: &ClientError) -> Option<(u32, String, Option<i64>)> {
    let body = e.routing().filter(|b| b.code == ErrorCode::Moved)?;
    Some((body.partition?, body.url.clone()?, body.epoch))
}

/// The positions of `players`' items grouped by partition, each group in
/// the original order.
fn split_by_partition<'a>(players: impl Iterator<Item = &'a str>, partitions: u32) -> BTreeMap<u32, Vec<usize>> {
    let mut groups: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, player) in players.enumerate() {
        groups.entry(partition_of(player, partitions)).or_default().push(i);
    }
    groups
}

/// `e` of a sub-batch with its `invalid_event` index made a position in the
/// caller's batch (`indexes` maps the sub-batch's positions to those).
fn with_original_index(e: ClientError, indexes: &[usize]) -> ClientError {
    let original = |i: usize| indexes.get(i).copied().unwrap_or(i);
    match e {
        ClientError::Server {
            code,
            message,
            index,
            status,
        } => ClientError::Server {
            code,
            message,
            index: index.map(original),
            status,
        },
        ClientError::Routing { mut body, status } => {
            body.index = body.index.map(original);
            ClientError::Routing { body, status }
        }
        e => e,
    }
}

/// The WebSocket URL of a node's base HTTP URL: `http://h:p` becomes
/// `ws://h:p/v1/ws`, `https` becomes `wss` (a `ws`/`wss` base keeps its
/// scheme).
fn ws_url(http: &str) -> Result<String, ClientError> {
    let bad = |why: &str| ClientError::Url(format!("{http}: {why}"));
    let mut url = Url::parse(http).map_err(|e| bad(&e.to_string()))?;
    let scheme = match url.scheme() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return Err(bad("not an http(s) URL")),
    };
    url.set_scheme(scheme)
        .map_err(|()| bad("cannot become a WebSocket URL"))?;
    let path = format!("{}/v1/ws", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    Ok(url.into())
}

impl Routes {
    fn new(map: ClusterMap) -> Routes {
        let map = normalized(map);
        let known = vec![map.revision; map.owners.len()];
        Routes { map, known }
    }

    /// Merges a map just read: each partition's entry is replaced unless
    /// the client knows it as of a later revision than the map's.
    fn adopt(&mut self, fresh: ClusterMap) {
        if fresh.partitions != self.map.partitions {
            *self = Routes::new(fresh);
            return;
        }
        let mut fresh = normalized(fresh);
        let revision = fresh.revision;
        for (p, owner) in fresh.owners.iter_mut().enumerate() {
            if self.known[p] > revision {
                *owner = self.map.owners[p].clone();
            } else {
                self.known[p] = revision;
            }
        }
        if revision < self.map.revision {
            fresh.nodes = std::mem::take(&mut self.map.nodes);
            fresh.revision = self.map.revision;
        }
        self.map = fresh;
    }

    /// A `moved` answer: `partition` is served at `url` since `epoch`.
    /// Ignored if the client knows a later ownership already.
    fn hint(&mut self, partition: u32, url: &str, epoch: Option<i64>) {
        let p = partition as usize;
        let node = self.map.nodes.iter().find(|n| n.url == url).map(|n| n.id.clone());
        let Some(owner) = self.map.owners.get_mut(p) else {
            return;
        };
        if let (Some(new), Some(old)) = (epoch, owner.epoch) {
            if new < old {
                return;
            }
        }
        owner.url = Some(url.to_owned());
        owner.node = node;
        owner.epoch = epoch;
        if let Some(e) = epoch {
            self.known[p] = self.known[p].max(e);
        }
    }
}

/// `map` with exactly one owner entry per partition, in partition order.
fn normalized(mut map: ClusterMap) -> ClusterMap {
    let mut owners: Vec<PartitionOwner> = (0..map.partitions)
        .map(|partition| PartitionOwner {
            partition,
            node: None,
            url: None,
            epoch: None,
        })
        .collect();
    for o in map.owners.drain(..) {
        if let Some(slot) = owners.get_mut(o.partition as usize) {
            *slot = o;
        }
    }
    map.owners = owners;
    map
}

impl Pool {
    fn new(key: &str, config: &ClusterConfig) -> Pool {
        Pool {
            key: key.to_owned(),
            config: Config {
                max_reconnect_attempts: Some(config.reconnect_attempts),
                ..config.client.clone()
            },
            conns: Mutex::new(HashMap::new()),
        }
    }

    /// The connection of (`ws`, `group`), opened if there is none or it closed.
    async fn get(&self, ws: &str, group: u32) -> Result<Client, ClientError> {
        let cell = {
            let mut conns = self.conns.lock().unwrap_or_else(PoisonError::into_inner);
            let cell = conns.entry((ws.to_owned(), group)).or_default();
            if cell.get().is_some_and(Client::is_closed) {
                *cell = Arc::default();
            }
            Arc::clone(cell)
        };
        let client = cell
            .get_or_try_init(|| Client::connect_with(ws, &self.key, self.config.clone()))
            .await?;
        Ok(client.clone())
    }

    /// Forgets `client` after it failed with `e` if `e` says it is closed
    /// (gave up reconnecting), so the next op opens a new connection.
    fn evict_if_closed(&self, ws: &str, group: u32, client: &Client, e: &ClientError) {
        if !matches!(e, ClientError::Closed) {
            return;
        }
        let mut conns = self.conns.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (ws.to_owned(), group);
        if conns
            .get(&key)
            .and_then(|cell| cell.get())
            .is_some_and(|c| c.same_connection(client))
        {
            conns.remove(&key);
        }
    }
}

/// Every partition's dispatch feed, merged: from
/// [`ClusterClient::subscribe_claims`].
///
/// [`next`](ClusterFeed::next) yields each granted claim with its partition;
/// a partition's claims come in its journal order, each once per feed even
/// when the partition moves between nodes (the feed resubscribes it at its
/// new owner after the last cursor it took). [`cursor`](ClusterFeed::cursor)
/// advances only as items are yielded. Dropping the feed ends every
/// subscription.
///
/// Items wait in a bounded buffer ([`Config::push_buffer`] of
/// [`ClusterConfig::client`]); a consumer that stops reading stalls only the
/// feed's own connections (a server drops a stalled one after 5 s, and the
/// feed then resubscribes from its cursors).
#[derive(Debug)]
pub struct ClusterFeed {
    rx: mpsc::Receiver<FeedItem>,
    cursor: VectorCursor,
    tasks: Vec<JoinHandle<()>>,
}

impl ClusterFeed {
    /// The next granted claim of any partition, with the partition. An
    /// `Err` is a [`ClientError::Partition`]: that partition's feed failed
    /// for a reason a retry would not cure (e.g. the key was refused, or the
    /// server could not read its journal) and has stopped; the others go on.
    /// `None` once every partition's feed has stopped.
    pub async fn next(&mut self) -> Option<Result<(u32, ClaimPush<'static>), ClientError>> {
        let item = self.rx.recv().await?;
        if let Ok((partition, push)) = &item {
            self.cursor.advance(*partition, push.cursor);
        }
        Some(item)
    }

    /// Where the feed stands: by partition, the cursor of the last claim
    /// yielded (or the one it started from).
    pub fn cursor(&self) -> &VectorCursor {
        &self.cursor
    }
}

impl Drop for ClusterFeed {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The task that follows one partition's feed for a [`ClusterFeed`].
struct Follow {
    inner: Arc<Inner>,
    pool: Arc<Pool>,
    partition: u32,
    /// The cursor of the last claim handed to the merged channel.
    from: u64,
    out: mpsc::Sender<FeedItem>,
}

impl Follow {
    /// Subscribes, forwards, and subscribes again wherever the partition
    /// went, until the feed is dropped or a failure is not transient.
    async fn run(mut self) {
        let mut backoff = self.inner.backoff(u64::from(self.partition) + 1);
        loop {
            let seen = self.inner.generation.load(Ordering::SeqCst);
            let Some(e) = self.pump(&mut backoff).await else {
                return;
            };
            if !transient(&e) {
                let e = PartitionError {
                    partition: self.partition,
                    indexes: Vec::new(),
                    error: e,
                };
                let _ = self.out.send(Err(ClientError::Partition(Box::new(e)))).await;
                return;
            }
            if let Some((partition, url, epoch)) = moved_hint(&e) {
                write(&self.inner.routes).hint(partition, &url, epoch);
            }
            tokio::time::sleep(backoff.next_delay()).await;
            self.inner.refresh_since(seen).await;
        }
    }

    /// One subscription at the partition's owner, forwarded until it ends:
    /// why it ended, or `None` when the feed was dropped.
    async fn pump(&mut self, backoff: &mut Backoff) -> Option<ClientError> {
        let ws = match self.inner.owner_url(self.partition).and_then(|u| ws_url(&u)) {
            Ok(ws) => ws,
            Err(e) => return Some(e),
        };
        let group = self.partition / FEED_SUBS_PER_CONNECTION;
        let client = match self.pool.get(&ws, group).await {
            Ok(c) => c,
            Err(e) => return Some(e),
        };
        let mut feed = match client.subscribe_partition_claims(self.partition, self.from).await {
            Ok(f) => f,
            Err(e) => {
                self.pool.evict_if_closed(&ws, group, &client, &e);
                return Some(e);
            }
        };
        backoff.reset();
        loop {
            match feed.next().await {
                Some(Ok(push)) => {
                    self.from = push.cursor;
                    if self.out.send(Ok((self.partition, push))).await.is_err() {
                        return None;
                    }
                }
                Some(Err(e)) => {
                    self.pool.evict_if_closed(&ws, group, &client, &e);
                    return Some(e);
                }
                None => return Some(ClientError::Disconnected),
            }
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trove_protocol::NodeInfo;

    fn map(revision: i64, owners: &[(u32, &str, i64)]) -> ClusterMap {
        ClusterMap {
            ok: true,
            partitions: 4,
            node: "n1".into(),
            revision,
            nodes: vec![NodeInfo {
                id: "n1".into(),
                url: "http://a:1".into(),
            }],
            owners: owners
                .iter()
                .map(|&(partition, url, epoch)| PartitionOwner {
                    partition,
                    node: None,
                    url: Some(url.into()),
                    epoch: Some(epoch),
                })
                .collect(),
        }
    }

    #[test]
    fn a_batch_splits_by_partition_keeping_original_positions() {
        let players = ["p1", "p2", "p3", "p1", "p4", "p2", "p5", "p6"];
        let groups = split_by_partition(players.iter().copied(), 3);
        let mut seen: Vec<usize> = groups.values().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..players.len()).collect::<Vec<_>>(), "each event once");
        for (partition, indexes) in &groups {
            assert!(indexes.windows(2).all(|w| w[0] < w[1]), "original order");
            assert!(indexes.iter().all(|&i| partition_of(players[i], 3) == *partition));
        }
        assert!(split_by_partition(std::iter::empty(), 3).is_empty());
    }

    #[test]
    fn an_invalid_event_index_becomes_a_position_in_the_callers_batch() {
        let e = ClientError::server(
            ErrorBody {
                index: Some(1),
                ..ErrorBody::new(ErrorCode::InvalidEvent, "bad")
            },
            None,
        );
        let e = with_original_index(e, &[2, 5, 7]);
        assert!(matches!(e, ClientError::Server { index: Some(5), .. }), "{e:?}");
    }

    #[test]
    fn websocket_urls_of_node_urls() {
        assert_eq!(ws_url("http://10.0.0.1:8080").unwrap(), "ws://10.0.0.1:8080/v1/ws");
        assert_eq!(ws_url("http://h:8080/").unwrap(), "ws://h:8080/v1/ws");
        assert_eq!(
            ws_url("https://h.example/trove").unwrap(),
            "wss://h.example/trove/v1/ws"
        );
        assert!(matches!(ws_url("ftp://h"), Err(ClientError::Url(_))));
        assert!(matches!(ws_url("not a url"), Err(ClientError::Url(_))));
    }

    #[test]
    fn a_vector_cursor_persists_as_a_map_and_only_advances() {
        let mut c = VectorCursor::new();
        c.advance(3, 17);
        c.advance(0, 2);
        c.advance(3, 9);
        assert_eq!((c.get(3), c.get(0), c.get(1)), (17, 2, 0));
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"0":2,"3":17}"#);
        assert_eq!(serde_json::from_str::<VectorCursor>(&json).unwrap(), c);
    }

    #[test]
    fn moved_hints_and_older_maps_never_overwrite_newer_knowledge() {
        let mut r = Routes::new(map(100, &[(0, "http://a:1", 50), (2, "http://a:1", 60)]));
        assert_eq!(r.map.owners.len(), 4, "one entry per partition");
        assert_eq!(r.map.owner(1).unwrap().url, None);
        r.hint(0, "http://b:2", Some(120));
        assert_eq!(r.map.owner(0).unwrap().url.as_deref(), Some("http://b:2"));
        r.hint(0, "http://a:1", Some(50));
        assert_eq!(r.map.owner(0).unwrap().url.as_deref(), Some("http://b:2"), "older hint");
        // A map read before the move keeps the hint, takes the rest.
        r.adopt(map(110, &[(0, "http://a:1", 50), (1, "http://c:3", 105)]));
        assert_eq!(r.map.owner(0).unwrap().url.as_deref(), Some("http://b:2"));
        assert_eq!(r.map.owner(1).unwrap().url.as_deref(), Some("http://c:3"));
        assert_eq!(r.map.owner(2).unwrap().url, None, "ownerless as of 110");
        // A map read after it wins.
        r.adopt(map(130, &[(0, "http://c:3", 125)]));
        assert_eq!(r.map.owner(0).unwrap().url.as_deref(), Some("http://c:3"));
        assert_eq!(r.map.revision, 130);
    }

    #[test]
    fn events_are_retried_only_when_nothing_was_applied() {
        let code = |c: ErrorCode| ClientError::server(ErrorBody::new(c, "x"), None);
        let moved = code(ErrorCode::Moved);
        let busy = code(ErrorCode::ClusterUnavailable);
        assert!(retryable(&moved, true, Safety::Events));
        assert!(retryable(&code(ErrorCode::PartitionSpan), true, Safety::Events));
        assert!(!retryable(&busy, true, Safety::Events));
        assert!(!retryable(&ClientError::Disconnected, true, Safety::Events));
        assert!(retryable(&ClientError::Closed, false, Safety::Events), "never sent");
        assert!(retryable(&busy, true, Safety::Idempotent));
        assert!(retryable(&ClientError::Disconnected, true, Safety::Idempotent));
        assert!(!retryable(&ClientError::Unauthorized, false, Safety::Idempotent));
        assert!(!retryable(&code(ErrorCode::UnknownHunt), true, Safety::Idempotent));
    }

    #[test]
    fn a_moved_answer_keeps_its_routing_fields() {
        let body = ErrorBody {
            partition: Some(7),
            url: Some("http://b:2".into()),
            epoch: Some(42),
            ..ErrorBody::new(ErrorCode::Moved, "elsewhere")
        };
        let e = ClientError::server(body, Some(421));
        assert_eq!(e.code(), Some(ErrorCode::Moved));
        assert_eq!(moved_hint(&e), Some((7, "http://b:2".to_owned(), Some(42))));
        let plain = ClientError::server(ErrorBody::new(ErrorCode::UnknownHunt, "no"), Some(404));
        assert!(
            matches!(plain, ClientError::Server { .. }),
            "single-node errors unchanged"
        );
        assert!(plain.routing().is_none());
    }
}
