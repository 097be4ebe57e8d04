//! [`Conns`]: the game-server connections, each a `trove_client::Client`.
//! Requests are pipelined: [`Conns::send`] returns once the request is
//! queued, round-robin over the connections, and a small task per request
//! awaits its reply and hands it to the driver as an [`Answer`] stamped with
//! its arrival time. The open-loop schedule never waits for answers.
//!
//! Against a cluster (the server answers `GET /v1/cluster`), requests go
//! through a `trove_client::ClusterClient` instead: each claim to the owner
//! of its player's partition, each events batch split by partition (one
//! answer per batch, `accepted` summed), `moved` answers followed.

use crate::error::SimError;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;
use trove_client::{Admission, Client, ClientError, ClusterClient, ClusterConfig, Config, HttpClient};
use trove_protocol::{ClaimReply, Codec, EventsReply, Op};

/// A reply, typed by its request's op.
pub(crate) enum Reply {
    /// Answer to an `events` request.
    Events(Result<EventsReply, ClientError>),
    /// Answer to a `claim` request.
    Claim(Result<ClaimReply<'static>, ClientError>),
}

/// A reply with the driver's key for its request and when it arrived.
pub(crate) struct Answer {
    pub(crate) key: u64,
    pub(crate) at: Instant,
    pub(crate) reply: Reply,
}

/// The connections and where their answers go.
pub(crate) struct Conns {
    clients: Vec<Client>,
    /// Set against a cluster: every request is routed by partition.
    cluster: Option<ClusterClient>,
    next: usize,
    answers: mpsc::UnboundedSender<Answer>,
}

fn refused(url: &str, e: ClientError) -> SimError {
    let status = |s: u16| {
        let hint = if s == 401 { " (check --key)" } else { "" };
        SimError::Live(format!("WebSocket connection to {url} refused with HTTP {s}{hint}"))
    };
    match e {
        ClientError::Unauthorized => status(401),
        ClientError::WebSocket(w) => match *w {
            tungstenite::Error::Http(r) => status(r.status().as_u16()),
            w => SimError::Live(format!("WebSocket connection to {url} failed: {w}")),
        },
        e => SimError::Live(format!("WebSocket connection to {url} failed: {e}")),
    }
}

impl Conns {
    /// Opens `n` connections (at least one) to `url` with `key` in `codec`.
    /// Replies may take up to `patience`; the driver stops waiting earlier
    /// (its drain).
    pub(crate) async fn open(
        url: &str,
        http_base: &str,
        key: &str,
        n: usize,
        codec: Codec,
        patience: Duration,
    ) -> Result<(Conns, mpsc::UnboundedReceiver<Answer>), SimError> {
        let config = Config {
            request_timeout: patience,
            // Open loop: never wait for a slot; the server's own limit
            // (TCP backpressure) shows up as latency.
            max_in_flight: 1 << 20,
            admission: Admission::Wait,
            max_reconnect_attempts: Some(20),
            codec,
            ..Config::default()
        };
        let (answers, rx) = mpsc::unbounded_channel();
        // A cluster answers its map; a single node answers 404.
        let map = HttpClient::new(http_base, Some(key)).ok();
        if let Some(Ok(map)) = match &map {
            Some(h) => Some(h.cluster().await),
            None => None,
        } {
            let cc = ClusterClient::connect(&[http_base], key, ClusterConfig::from(config))
                .await
                .map_err(|e| refused(url, e))?;
            eprintln!(
                "trove-sim: a cluster of {} partitions on {} nodes: routing requests by partition",
                map.partitions,
                map.nodes.len()
            );
            let conns = Conns {
                clients: Vec::new(),
                cluster: Some(cc),
                next: 0,
                answers,
            };
            return Ok((conns, rx));
        }
        let mut clients = Vec::with_capacity(n.max(1));
        for _ in 0..n.max(1) {
            let c = Client::connect_with(url, key, config.clone())
                .await
                .map_err(|e| refused(url, e))?;
            clients.push(c);
        }
        Ok((
            Conns {
                clients,
                cluster: None,
                next: 0,
                answers,
            },
            rx,
        ))
    }

    /// Queues `op` on the next connection; its [`Answer`] comes with `key`.
    pub(crate) async fn send(&mut self, key: u64, op: &Op<'_>) -> Result<(), SimError> {
        if let Some(cc) = &self.cluster {
            self.send_routed(cc.clone(), key, op);
            return Ok(());
        }
        let client = &self.clients[self.next % self.clients.len()];
        self.next = self.next.wrapping_add(1);
        let closed = |e: ClientError| SimError::Live(format!("a WebSocket connection failed during the run: {e}"));
        let tx = self.answers.clone();
        if let Op::Claim(_) = op {
            let reply = client.send::<ClaimReply<'static>>(op).await.map_err(closed)?;
            tokio::spawn(async move {
                let r = reply.await;
                let _ = tx.send(Answer {
                    key,
                    at: Instant::now(),
                    reply: Reply::Claim(r),
                });
            });
        } else {
            let reply = client.send::<EventsReply>(op).await.map_err(closed)?;
            tokio::spawn(async move {
                let r = reply.await;
                let _ = tx.send(Answer {
                    key,
                    at: Instant::now(),
                    reply: Reply::Events(r),
                });
            });
        }
        Ok(())
    }

    /// [`Conns::send`] against a cluster: the request (owned as its JSON
    /// text, so that its task can outlive `op`) goes to its partition's
    /// owner through the cluster client.
    fn send_routed(&self, cc: ClusterClient, key: u64, op: &Op<'_>) {
        let tx = self.answers.clone();
        let text = match op {
            Op::Claim(c) => serde_json::to_string(c),
            Op::Events(e) => serde_json::to_string(e),
            _ => return,
        };
        let Ok(text) = text else { return };
        let claim = matches!(op, Op::Claim(_));
        tokio::spawn(async move {
            let reply = if claim {
                let req: trove_protocol::ClaimRequest<'_> = match serde_json::from_str(&text) {
                    Ok(r) => r,
                    Err(_) => return,
                };
                Reply::Claim(cc.claim(&req).await)
            } else {
                let req: trove_protocol::EventsRequest<'_> = match serde_json::from_str(&text) {
                    Ok(r) => r,
                    Err(_) => return,
                };
                Reply::Events(cc.events(&req).await.map(|r| EventsReply {
                    ok: true,
                    accepted: r.accepted,
                    seq: r.seqs.values().copied().max().unwrap_or(0),
                }))
            };
            let _ = tx.send(Answer {
                key,
                at: Instant::now(),
                reply,
            });
        });
    }
}
