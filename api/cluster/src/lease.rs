//! The node's lease as its own clock sees it: [`Fence`], and the
//! [`keep_alive`] task that extends it.
//!
//! etcd expires a lease TTL after the *last keep-alive it received*. A
//! keep-alive is received after it was sent, so `sent + TTL` is never later
//! than etcd's expiry (etcd only ever extends a lease, e.g. on a leader
//! change). The fence closes at `sent + TTL - margin`: the margin covers
//! the two clocks running at different rates and the time between the
//! fence check and the write it guards. After that instant the node writes
//! nothing under this lease, whether or not it ever hears from etcd again.

use crate::ClusterError;
use etcd_client::Client;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `until` of a closed fence that only [`Fence::reset`] reopens (a
/// deadline 1 ns after the fence's creation: in the past at any check).
const SEALED: u64 = 1;

/// Open while the node may still hold its lease by its own clock. Shared by
/// clones; checked before every partition write.
#[derive(Clone, Debug)]
pub struct Fence {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    origin: Instant,
    margin: Duration,
    /// Nanoseconds after `origin` until which writes may happen; 0: closed.
    until: AtomicU64,
}

impl Fence {
    /// A closed fence with `margin`.
    pub fn new(margin: Duration) -> Fence {
        Fence {
            inner: Arc::new(Inner {
                origin: Instant::now(),
                margin,
                until: AtomicU64::new(0),
            }),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.inner.origin).as_nanos() as u64
    }

    /// Whether the node may write now.
    pub fn is_open(&self) -> bool {
        self.nanos(Instant::now()) < self.inner.until.load(Ordering::Acquire)
    }

    /// How long the fence stays open from now (zero when closed).
    pub fn remaining(&self) -> Duration {
        let until = self.inner.until.load(Ordering::Acquire);
        Duration::from_nanos(until.saturating_sub(self.nanos(Instant::now())))
    }

    /// Records a keep-alive (or grant) `sent` at that instant and answered
    /// with `ttl`: open until `sent + ttl - margin`. Never moves the
    /// deadline back (an older answer arriving late changes nothing).
    ///
    /// A fence [closed](Fence::close) stays closed whatever answers arrive
    /// late: only [`Fence::reset`] (a new lease) opens it again.
    pub fn extend(&self, sent: Instant, ttl: Duration) {
        let until = self.nanos(sent + ttl.saturating_sub(self.inner.margin)).max(SEALED + 1);
        let mut cur = self.inner.until.load(Ordering::Acquire);
        while cur != SEALED && cur < until {
            match self
                .inner
                .until
                .compare_exchange_weak(cur, until, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// Closes the fence now and for good (lease lost, revoked, or shutting
    /// down): a keep-alive answer still in flight cannot reopen it.
    pub fn close(&self) {
        self.inner.until.store(SEALED, Ordering::Release);
    }

    /// Opens the fence for a new lease granted at `sent` with `ttl`.
    pub fn reset(&self, sent: Instant, ttl: Duration) {
        self.inner.until.store(0, Ordering::Release);
        self.extend(sent, ttl);
    }
}

/// Keeps the lease `lease` alive, sending a keep-alive every third of
/// `ttl` and extending `fence` on every answer. Returns
/// [`ClusterError::LeaseLost`] as soon as etcd says the lease is gone (the
/// fence is closed first). Errors reaching etcd are retried: the fence then
/// simply runs out.
pub async fn keep_alive(mut client: Client, lease: i64, ttl: Duration, fence: Fence) -> ClusterError {
    let every = ttl / 3;
    loop {
        let (mut keeper, mut stream) = match client.lease_keep_alive(lease).await {
            Ok(x) => x,
            Err(e) => {
                // etcd-client opens the stream with a first keep-alive and
                // reports a lease etcd no longer has as an error of the open
                // (not as a TTL 0 answer): ask etcd which error this was
                // (TTL -1: no such lease).
                if let Ok(r) = client.lease_time_to_live(lease, None).await {
                    if r.ttl() < 0 {
                        fence.close();
                        tracing::error!(lease, "etcd says the node's lease is gone; writes fenced");
                        return ClusterError::LeaseLost;
                    }
                }
                tracing::warn!(error = %e, "lease keep-alive stream could not open; retrying");
                tokio::time::sleep(every / 3).await;
                continue;
            }
        };
        loop {
            let sent = Instant::now();
            let answer = async {
                keeper.keep_alive().await?;
                stream.message().await
            };
            match tokio::time::timeout(every, answer).await {
                Ok(Ok(Some(r))) if r.ttl() > 0 => fence.extend(sent, Duration::from_secs(r.ttl() as u64)),
                Ok(Ok(Some(_))) => {
                    fence.close();
                    tracing::error!(lease, "etcd says the node's lease is gone; writes fenced");
                    return ClusterError::LeaseLost;
                }
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => {
                    tracing::warn!(
                        lease,
                        remaining_ms = fence.remaining().as_millis() as u64,
                        "lease keep-alive failed; retrying"
                    );
                    break;
                }
            }
            let next = sent + every;
            tokio::time::sleep_until(next.into()).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_closes_a_margin_before_the_lease_can_expire() {
        let f = Fence::new(Duration::from_millis(500));
        assert!(!f.is_open(), "closed until a grant");
        let sent = Instant::now();
        f.extend(sent, Duration::from_secs(5));
        assert!(f.is_open());
        let r = f.remaining();
        assert!(
            r <= Duration::from_millis(4500) && r > Duration::from_millis(4000),
            "{r:?}"
        );
        // An older answer never shortens it.
        f.extend(sent - Duration::from_secs(3), Duration::from_secs(5));
        assert!(f.remaining() > Duration::from_millis(4000));
        f.close();
        assert!(!f.is_open());
        // A late answer cannot reopen a closed fence; a new lease can.
        f.extend(Instant::now(), Duration::from_secs(5));
        assert!(!f.is_open());
        f.reset(Instant::now(), Duration::from_secs(5));
        assert!(f.is_open());
        // A deadline already in the past leaves it closed.
        f.reset(sent - Duration::from_secs(10), Duration::from_secs(5));
        assert!(!f.is_open());
    }
}
