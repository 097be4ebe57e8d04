//! A scripted WebSocket server: each accepted connection is handed to the test.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub struct Fake {
    listener: TcpListener,
}

pub struct Conn {
    ws: WebSocketStream<TcpStream>,
}

impl Fake {
    pub async fn bind() -> Fake {
        Fake {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/v1/ws", self.listener.local_addr().unwrap())
    }

    /// The next connection; its `Authorization` header must be `Bearer good-key`
    /// or the upgrade is refused with 401 (and `None` is returned).
    #[allow(clippy::result_large_err, reason = "the callback's type is tungstenite's")]
    pub async fn accept(&self) -> Option<Conn> {
        let (tcp, _) = self.listener.accept().await.unwrap();
        let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
            if req
                .headers()
                .get("Authorization")
                .is_some_and(|v| v == "Bearer good-key")
            {
                Ok(resp)
            } else {
                let mut refusal = ErrorResponse::new(None);
                *refusal.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::UNAUTHORIZED;
                Err(refusal)
            }
        };
        let ws = tokio_tungstenite::accept_hdr_async(tcp, check).await.ok()?;
        Some(Conn { ws })
    }
}

impl Conn {
    /// The next text frame as JSON.
    pub async fn recv(&mut self) -> Value {
        loop {
            match self.ws.next().await.expect("open").expect("frame") {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                _ => continue,
            }
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }
}
