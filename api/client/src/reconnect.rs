//! Opening the WebSocket and waiting between attempts: [`Backoff`] is
//! exponential with full jitter and a cap; [`open`] is one attempt, with the
//! key in the `Authorization` header and, for MessagePack, the subprotocol
//! `trove.v1.msgpack` in `Sec-WebSocket-Protocol`; it turns a `401` into
//! [`ClientError::Unauthorized`].

use crate::error::ClientError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use trove_protocol::Codec;

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Delays between reconnect attempts: attempt `n` waits a uniformly random
/// time in `[0, min(cap, base * 2^n)]` ("full jitter"), so many clients cut
/// off together do not come back together.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    rng: ChaCha8Rng,
}

impl Backoff {
    /// A backoff starting at `base`, never above `cap`, with jitter drawn
    /// from `seed` (the same seed gives the same delays).
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Backoff {
        Backoff {
            base,
            cap,
            attempt: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.rng.gen_range(0..=nanos))
    }

    /// Attempts since the last [`reset`](Backoff::reset).
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts over after a successful connect.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// One attempt to open `url` with `key` in `codec`, within `limit`. JSON
/// asks for no subprotocol (the server's default, and what a server from
/// before subprotocols speaks); MessagePack asks for `trove.v1.msgpack`, and
/// the handshake fails unless the server answers with it.
pub(crate) async fn open(url: &str, key: &str, codec: Codec, limit: Duration) -> Result<Socket, ClientError> {
    let mut req = url.into_client_request().map_err(|e| ClientError::Url(e.to_string()))?;
    let auth = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|e| ClientError::Url(e.to_string()))?;
    req.headers_mut().insert("Authorization", auth);
    if codec != Codec::Json {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(codec.subprotocol()));
    }
    match tokio::time::timeout(limit, tokio_tungstenite::connect_async(req)).await {
        Err(_) => Err(ClientError::Timeout(limit)),
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp))) if resp.status() == 401 => {
            Err(ClientError::Unauthorized)
        }
        Ok(Err(e)) => Err(ClientError::WebSocket(Box::new(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_stay_under_it() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(500), 7);
        let delays: Vec<Duration> = (0..20).map(|_| b.next_delay()).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(500)));
        assert!(delays[0] <= Duration::from_millis(10));
        assert!(
            delays[10..].iter().any(|d| *d > Duration::from_millis(80)),
            "{delays:?}"
        );
        let mut again = Backoff::new(Duration::from_millis(10), Duration::from_millis(500), 7);
        assert_eq!(again.next_delay(), delays[0], "seeded");
        b.reset();
        assert_eq!(b.attempts(), 0);
    }
}
