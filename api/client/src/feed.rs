//! Subscriptions that follow reconnects: [`ClaimsFeed`], the dispatch feed
//! (topic `claims`), which yields each granted claim in journal order and
//! resumes after the last cursor it yielded; and [`LeaderboardFeed`].

use crate::driver::{Answer, Command, Topic};
use crate::error::ClientError;
use crate::ws::{decode_answer, Client};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use trove_protocol::{ClaimPush, Codec, ErrorPush, LeaderboardPush, SubscribeReply, UnsubscribeReply};

/// The dispatch feed: every granted claim after a cursor, in journal order.
///
/// [`next`](ClaimsFeed::next) yields each claim once per feed even across
/// reconnects and server restarts: after a reconnect the feed subscribes
/// again from [`cursor`](ClaimsFeed::cursor), the cursor of the last claim
/// it yielded, and skips what it already yielded. Persist the cursor after
/// processing a claim and pass it to [`Client::subscribe_claims`] on the
/// next start: delivery across process restarts is then at least once.
///
/// The feed shares its client's connection: a consumer that stops reading
/// for long stalls that connection (and the server drops it as a slow
/// consumer after 5 s); give a feed its own [`Client`] when that matters.
#[derive(Debug)]
pub struct ClaimsFeed {
    client: Client,
    local: u64,
    cursor: Arc<AtomicU64>,
    pushes: mpsc::Receiver<Result<Vec<u8>, ClientError>>,
}

/// Leaderboard pushes of one hunt, re-subscribed after every reconnect.
#[derive(Debug)]
pub struct LeaderboardFeed {
    client: Client,
    local: u64,
    pushes: mpsc::Receiver<Result<Vec<u8>, ClientError>>,
}

/// A push frame in `codec` as `T`, or the error push that ended its subscription.
fn decode_push<T: serde::Deserialize<'static>>(
    codec: Codec,
    frame: Result<Vec<u8>, ClientError>,
) -> Result<T, ClientError> {
    let bytes = frame?;
    if let Ok(e) = codec.decode_owned::<ErrorPush<'static>>(&bytes) {
        if e.push == "error" {
            return Err(ClientError::server(e.error, None));
        }
    }
    Ok(codec.decode_owned(&bytes)?)
}

impl ClaimsFeed {
    /// The next granted claim, or `None` once the subscription has ended
    /// (unsubscribed, or the client closed). An `Err` is the server's error
    /// push (e.g. the journal could not be read); the subscription ends.
    pub async fn next(&mut self) -> Option<Result<ClaimPush<'static>, ClientError>> {
        loop {
            let push = match decode_push::<ClaimPush<'static>>(self.client.config.codec, self.pushes.recv().await?) {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            if push.cursor > self.cursor.load(Ordering::SeqCst) {
                self.cursor.store(push.cursor, Ordering::SeqCst);
                return Some(Ok(push));
            }
        }
    }

    /// The cursor of the last claim yielded (or the `from` it started at).
    pub fn cursor(&self) -> u64 {
        self.cursor.load(Ordering::SeqCst)
    }

    /// Ends the subscription on the server.
    pub async fn unsubscribe(self) -> Result<UnsubscribeReply, ClientError> {
        self.client.unsubscribe(self.local).await
    }
}

impl LeaderboardFeed {
    /// The next leaderboard push, or `None` once the subscription has ended.
    pub async fn next(&mut self) -> Option<Result<LeaderboardPush<'static>, ClientError>> {
        Some(decode_push(self.client.config.codec, self.pushes.recv().await?))
    }

    /// Ends the subscription on the server.
    pub async fn unsubscribe(self) -> Result<UnsubscribeReply, ClientError> {
        self.client.unsubscribe(self.local).await
    }
}

impl Client {
    async fn subscribe(
        &self,
        topic: Topic,
    ) -> Result<(u64, mpsc::Receiver<Result<Vec<u8>, ClientError>>), ClientError> {
        let local = self.next_sub.fetch_add(1, Ordering::Relaxed);
        let (pushes, rx) = mpsc::channel(self.config.push_buffer.max(1));
        let (reply, answer) = oneshot::channel();
        let cmd = Command::Subscribe {
            local,
            topic,
            pushes,
            reply,
        };
        self.cmds.send(cmd).await.map_err(|_| ClientError::Closed)?;
        let answer = self.answer(answer).await?;
        decode_answer::<SubscribeReply<'static>>(answer)?;
        Ok((local, rx))
    }

    async fn answer(&self, rx: oneshot::Receiver<Result<Answer, ClientError>>) -> Result<Answer, ClientError> {
        let limit = self.config.request_timeout;
        match tokio::time::timeout(limit, rx).await {
            Err(_) => Err(ClientError::Timeout(limit)),
            Ok(Err(_)) => Err(ClientError::Closed),
            Ok(Ok(a)) => a,
        }
    }

    /// Subscribes to the dispatch feed after cursor `from` (0: from the start).
    pub async fn subscribe_claims(&self, from: u64) -> Result<ClaimsFeed, ClientError> {
        let cursor = Arc::new(AtomicU64::new(from));
        let (local, pushes) = self
            .subscribe(Topic::Claims {
                cursor: Arc::clone(&cursor),
                partition: None,
                resume: true,
            })
            .await?;
        Ok(ClaimsFeed {
            client: self.clone(),
            local,
            cursor,
            pushes,
        })
    }

    /// Subscribes to the claims feed of cluster partition `partition` after
    /// cursor `from`. Unlike [`Client::subscribe_claims`] the feed does not
    /// survive a lost connection (the partition may have moved meanwhile):
    /// it ends with [`ClientError::Disconnected`], as it ends with the
    /// server's error push (`moved`, `partition_unavailable`) when the
    /// partition leaves the node.
    pub(crate) async fn subscribe_partition_claims(
        &self,
        partition: u32,
        from: u64,
    ) -> Result<ClaimsFeed, ClientError> {
        let cursor = Arc::new(AtomicU64::new(from));
        let topic = Topic::Claims {
            cursor: Arc::clone(&cursor),
            partition: Some(partition),
            resume: false,
        };
        let (local, pushes) = self.subscribe(topic).await?;
        Ok(ClaimsFeed {
            client: self.clone(),
            local,
            cursor,
            pushes,
        })
    }

    /// Subscribes to leaderboard pushes of `hunt` (top `limit`, default 10).
    pub async fn subscribe_leaderboard(&self, hunt: &str, limit: Option<u64>) -> Result<LeaderboardFeed, ClientError> {
        let topic = Topic::Leaderboard {
            hunt: hunt.to_owned(),
            limit,
        };
        let (local, pushes) = self.subscribe(topic).await?;
        Ok(LeaderboardFeed {
            client: self.clone(),
            local,
            pushes,
        })
    }

    /// Ends the client's subscription `local` (its pushes stop; at most one
    /// already being sent may still arrive).
    async fn unsubscribe(&self, local: u64) -> Result<UnsubscribeReply, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.cmds
            .send(Command::Unsubscribe { local, reply })
            .await
            .map_err(|_| ClientError::Closed)?;
        decode_answer(self.answer(rx).await?)
    }
}
